// One pass over a buffer, for the probe's statistics (metrics.cpp) and the public norms and
// percentiles of metrics.h (scan.cpp).
//
// Sums run in `lanes` = 16 independent accumulators (element i goes to lane i mod 16), combined in
// a fixed order at the end: the compiler vectorizes the lanes, and the result does not depend on
// anything but the data (not on threads or alignment), though its last bits differ from a
// left-to-right sum.
#pragma once

#include <cstdint>

#include "harness/core/types.h"

namespace gl {

struct Scan {
  double sum = 0, sumsq = 0;  // Σx, Σx² (sumsq is NaN iff some x is NaN, +inf if some x is ±inf)
  double amax = 0;            // max |x| over the non-NaN entries
  int64_t nonfinite = 0;      // NaN or ±inf entries
};

// Σx, Σx² and max |x| for any x (layers.csv's act_absmax reads the last); the non-finite count
// too for double data, and for float data only when some entry is not finite (else 0).
template <class T>
Scan scan(const T* x, Index n);
// ‖x‖ from its scan: NaN if some x is NaN, inf if some is ±inf; scaled by max |x| where Σx² could
// overflow or lose the small entries (double data only).
template <class T>
double norm_of(const Scan& sc, const T* x, Index n);
// Population std of x around its mean (a second pass: no cancellation), in lanes as scan.
template <class T>
double std_around(const T* x, Index n, double mean);

}  // namespace gl
