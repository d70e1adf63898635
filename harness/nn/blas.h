// Matrix products: large ones through OpenBLAS, the rest through Eigen; and one left operand
// packed once for many products (the RNN's per-step W h_{t-1}).
//
// Eigen's float kernel here (AVX-512, 48×4 register tile) runs at ≈ 140 GFLOP/s per core;
// OpenBLAS's SkylakeX kernels at ≈ 150, and 20 % faster on the fused SGD update's shape (m × 2048 ×
// 256). Below ≈ 3·10⁷ multiply-adds, or with a side under 32, Eigen is as fast or faster (measured
// in docs/performance.md), so only products at least that large go to OpenBLAS.
//
// OpenBLAS is Debian's libopenblas0-pthread, loaded at first use with dlopen and held to one thread
// per call: gradlab's OpenMP teams split the work and call it from each thread. Its threaded build
// is safe to call from several threads at once; the serial build is not (concurrent calls gave
// wrong values, seen in MlpSgd.FusedStepThroughOpenBlas). Without the library, or with
// GRADLAB_BLAS=eigen in the environment, every product is Eigen's. OpenBLAS 0.3.21 does not
// recognise every newer CPU and then falls back to SSE3 kernels (5x slower), so unless
// OPENBLAS_CORETYPE is set the core type is pinned from the ISA before loading: SkylakeX with
// AVX-512 (F, CD, BW, DQ, VL), Haswell with AVX2 and FMA. provenance.blas says which library
// computed what.
#pragma once

#include <string>

#include "harness/core/types.h"

namespace gl {

template <class T>
using MatRef = Eigen::Ref<Mat<T>, 0, Eigen::OuterStride<>>;
template <class T>
using MatCRef = Eigen::Ref<const Mat<T>, 0, Eigen::OuterStride<>>;

enum class Op { none, trans };

// C = α op(A) op(B) + β C, β ∈ {0, 1}; C: (m, n), op(A): (m, k), op(B): (k, n). Through OpenBLAS
// when the product is large (BlasRoute), else Eigen's product (the same bits as writing the product
// out in Eigen). β = 0 ignores C's old values, NaN included.
template <class T>
void gemm(T alpha, const MatCRef<T>& A, Op opa, const MatCRef<T>& B, Op opb, T beta, MatRef<T> C);

// ---- one packed left operand, many products ----
//
// Eigen's product repacks its left operand on every call: for the RNN's per-step products W h_{t-1}
// ((H, H)·(H, B/2)) that copy of W costs a third of the product. So W (or Wᵀ) is packed once per
// pass with Eigen's own packing routine and blocking, and each product packs only its right-hand
// slice and calls Eigen's kernel (gebp) on the same blocks as Eigen's product: the same
// arithmetic, the same bits, column for column. Where Eigen would not use that kernel (tiny sizes,
// matrix-vector), gemm_pack says so and the caller uses Eigen's product.

// The column panel (nr) of Eigen's GEMM kernel, for float and double (static_assert in blas.cpp):
// products over whole panels of a right-hand side take each column the same way through the
// kernel as the product over all of it.
inline constexpr Index gemm_panel = 4;

// Eigen's blocking of the product of an (m, k) by a (k, n) matrix: depth kc, rows per packed
// block mc; {0, 0} if Eigen would not use its GEMM kernel in one column block (coefficient-wise
// when m + n + k < 20, matrix-vector).
struct GemmBlocking {
  Index kc = 0, mc = 0;
  bool operator==(const GemmBlocking&) const = default;
};
template <class T>
GemmBlocking gemm_blocking(Index m, Index n, Index k);

// A = op(W) (m, k) packed in the layout of Eigen's GEMM kernel, and each thread's room for one
// packed (k, ≤ n) right-hand slice. Scratch: sized on first use, then reused.
template <class T>
struct PackedGemm {
  Vec<T> a;               // packed A, block (i2, k2) after block
  Mat<T> b;               // (room, threads): column t is thread t's packed slice
  Index m = 0, k = 0;     // A's shape
  GemmBlocking blocking;  // kc = 0: not packed (Eigen's product would not use its kernel)
};

// p ← op(W) packed for products by (k, ≤ n) right-hand sides on up to `threads` threads. False
// (and p.blocking.kc = 0) where Eigen's product would not use its GEMM kernel.
template <class T>
bool gemm_pack(const Mat<T>& W, Op op, Index n, int threads, PackedGemm<T>& p);
// C (m, n) += A·B, A packed in p, B (k, n); B and C with column stride ld; thread: this thread's
// room in p.b (threads may call it at once with distinct rooms).
template <class T>
void gemm_packed_add(PackedGemm<T>& p, const T* B, T* C, Index ld, Index n, int thread);

// What computes the products, for provenance.blas: "OpenBLAS 0.3.21 (SkylakeX kernels, 1 thread per
// call) for products of >= 33554432 multiply-adds with every side >= 32; Eigen 3.4.0 otherwise", or
// "Eigen 3.4.0 (OpenBLAS not used: <why>)".
std::string blas_name();
// Whether OpenBLAS was loaded (and GRADLAB_BLAS is not "eigen"); the file it is loaded from.
bool blas_openblas();
const char* blas_openblas_path();

// Which products go to OpenBLAS: m·n·k ≥ min_madds and min(m, n, k) ≥ min_side. Tests lower both
// to reach the OpenBLAS path with small shapes. Not thread-safe: set it outside parallel regions.
struct BlasRoute {
  double min_madds = 33554432.0;  // 2^25
  Index min_side = 32;
};
void blas_route_set(const BlasRoute& route);
BlasRoute blas_route();

}  // namespace gl
