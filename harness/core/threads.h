// The threads of a run (OpenMP): each thread of a team must compute in the caller's floating-point
// mode. A float32 run flushes subnormals on its own thread (experiments/run.cpp, SubnormalGuard);
// OpenMP's pooled threads keep whatever mode they last had, so a team would mix flushed and
// unflushed rows — different values on 2 threads than on 1, and 3–5x slower subnormal arithmetic.
//
// Every parallel region of gradlab is a team_run: the team applies the caller's mode once per
// thread, and each thread takes its panel of the work with split_range.
#pragma once

#include <omp.h>

#include <algorithm>

#include "harness/core/types.h"

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

// f(t, nt) on a team of `threads` threads (thread t of nt), each in the caller's FP mode. One
// thread: f(0, 1) on the caller, no region (Eigen's products inside keep their own threads).
// Inside the team, products run single-threaded (Eigen does not nest). f must not throw.
template <class F>
void team_run(int threads, F&& f) {
  if (threads <= 1) {
    f(0, 1);
    return;
  }
  const FpMode fp;
#pragma omp parallel num_threads(threads)
  {
    fp.apply();
    f(omp_get_thread_num(), omp_get_num_threads());
  }
}

// A team of every thread of the pool (omp_get_max_threads()).
inline int team_threads() { return omp_get_max_threads(); }

// Gives the caller's mode to every thread of its pool (the threads that Eigen's own parallel
// products will use too): once per run, after its mode and thread count are set.
inline void fp_mode_share() {
  team_run(team_threads(), [](int, int) {});
}

// Thread t of nt's panel [begin, begin + size) of n items, in whole groups of `align` items (the
// last group may be short): group boundaries at ⌊g·t/nt⌋ of the g = ⌈n/align⌉ groups. align = 1:
// [n·t/nt, n·(t+1)/nt).
struct Range {
  Index begin = 0, size = 0;
};
inline Range split_range(Index n, Index t, Index nt, Index align = 1) {
  const Index g = (n + align - 1) / align;
  const Index b = std::min(n, align * (g * t / nt)), e = std::min(n, align * (g * (t + 1) / nt));
  return {b, e - b};
}

}  // namespace gl
