// Batch-split threading of a recurrence (rnn.cpp, gated.cpp): the B sequences of a batch are
// independent, so each thread runs every step on its own columns of each block, start to end with
// no barrier. Products inside a team run single-threaded (Eigen does not nest). Threads take whole
// panels of gemm_panel columns (blas.h), so every column goes the same way through the kernel as
// in the product over the whole block: the bits do not depend on the thread count.
#pragma once

#include <algorithm>

#include "harness/core/threads.h"
#include "harness/nn/blas.h"

namespace gl {

// Threads for B columns: one per panel at most.
inline int chain_threads(Index B) {
  return static_cast<int>(
      std::min<Index>(team_threads(), std::max<Index>((B + gemm_panel - 1) / gemm_panel, 1)));
}

// Thread t of nt's columns of a block of B.
inline Range chain_cols(Index B, int t, int nt) { return split_range(B, t, nt, gemm_panel); }

// dst = a·b with dst's columns split over the threads, each running Eigen's product on its own
// columns single-threaded. Eigen's own threaded product spin-waits for its threads at every depth
// block: on a busy machine that costs a scheduler slice per block (dW: T·B/kc blocks). One
// thread: Eigen's product as is.
template <class A, class Bm, class D>
void split_product(const A& a, const Bm& b, D dst) {
  const int nt =
      static_cast<int>(std::min<Index>(team_threads(), std::max<Index>(dst.cols() / 8, 1)));
  if (nt == 1) {
    dst.noalias() = a * b;
    return;
  }
  team_run(nt, [&](int t, int n) {
    const Range c = chain_cols(dst.cols(), t, n);
    dst.middleCols(c.begin, c.size).noalias() = a * b.middleCols(c.begin, c.size);
  });
}

// Whether Eigen's products of an (m, k) matrix by each of nt threads' columns of a (k, B) block
// take the kernel path of the product by the whole block, column for column.
template <class T>
bool splits_alike(Index m, Index k, Index B, int nt) {
  const GemmBlocking whole = gemm_blocking<T>(m, B, k);
  if (whole.kc == 0) return false;
  for (int t = 0; t < nt; ++t)
    if (gemm_blocking<T>(m, chain_cols(B, t, nt).size, k) != whole) return false;
  return true;
}

}  // namespace gl
