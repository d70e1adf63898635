// What a run will cost before it runs: the bytes it must hold (parameters, gradients, momentum,
// caches of the probe set, the test set) and the floating-point operations it will do. The memory
// estimate lets a sweep refuse a run that cannot fit (exit 2, before anything is written) instead
// of being killed by the kernel; the operation count bounds the config fuzz test.
#pragma once

namespace gl {

struct Config;  // harness/core/config.h

struct RunCost {
  double bytes = 0;  // peak working set, estimated from above (not counting the ~20 MB binary)
  double flops = 0;  // multiply-adds × 2 over the whole run (probes and training)
};

RunCost run_cost(const Config& c);
// Physical memory this process may use: MemAvailable from /proc/meminfo (bytes), or 0 if unknown.
double memory_available();

}  // namespace gl
