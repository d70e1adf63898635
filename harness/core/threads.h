// The threads of a run (OpenMP): each thread of a team must compute in the caller's floating-point
// mode. A float32 run flushes subnormals on its own thread (experiments/run.cpp, SubnormalGuard);
// OpenMP's pooled threads keep whatever mode they last had, so a team would mix flushed and
// unflushed rows — different values on 2 threads than on 1, and 3–5x slower subnormal arithmetic.
#pragma once

#include <omp.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace gl {

// The calling thread's mode (x86 MXCSR, whose FTZ and DAZ bits flush subnormals); apply() sets it
// on the thread that calls it, e.g. at the start of every parallel region.
struct FpMode {
#if defined(__x86_64__) || defined(__i386__)
  unsigned csr = _mm_getcsr();
  void apply() const { _mm_setcsr(csr); }
#else
  void apply() const {}
#endif
};

// Gives the caller's mode to every thread of its pool (the threads that Eigen's own parallel
// products will use too): once per run, after its mode and thread count are set.
inline void fp_mode_share() {
  const FpMode m;
#pragma omp parallel
  m.apply();
}

}  // namespace gl
