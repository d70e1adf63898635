// Matrix products: large ones through OpenBLAS, the rest through Eigen.
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
