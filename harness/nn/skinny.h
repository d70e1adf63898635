// Products with a thin side: a batch of at most skinny_batch examples against a whole weight
// matrix — the training step of Glorot's Table 1 (5×1000 nets, batch 10).
//
// At such a batch Eigen's GEMM spends as long copying (packing) W into its kernel's layout as
// multiplying, on every product, and its Wᵀδ is a matrix-vector product per column of W. These
// kernels read W once, in storage order, straight into registers, where each element of W meets
// all B examples: a tile of rows (z) or of columns (Wᵀδ) holds its B sums in registers.
//
// Each result is one sum in a fixed order, whatever the tile or the thread's share:
//   skinny_product:    z(i, b) = Σ_j W(i, j) x(j, b), fused multiply-adds in the order of j,
//                      from 0;
//   skinny_product_tn: y(j, b) = Σ_i W(i, j) d(i, b): lane r of the SIMD packet (skinny_lanes<T>
//                      lanes) takes the rows i ≡ r (mod lanes) in order by fused multiply-adds
//                      from 0 (the last packet zero-padded), then Eigen's predux (a fixed tree)
//                      adds the lanes.
// So a split by rows (z) or by columns (y) gives one thread's bits; the lanes, and so y's last
// bits, are the build's (its -march), as every product's are. The kernels need FMA
// (skinny_enabled); without it the callers keep Eigen's products.
#pragma once

#include "harness/nn/blas.h"

namespace gl {

inline constexpr Index skinny_batch = 16;  // the widest x or d the kernels take

// Whether this build has the kernels (a vector FMA); false: the callers use Eigen's products.
bool skinny_enabled();
// Lanes of the SIMD packet of T (the grouping of skinny_product_tn's sums).
template <class T>
int skinny_lanes();

// z (m, B) = W (m, k) · x (k, B), B ≤ skinny_batch; z's old values are ignored.
template <class T>
void skinny_product(const MatCRef<T>& W, const MatCRef<T>& x, MatRef<T> z);

// y (n, B) = Wᵀ · d, W (m, n), d (m, B), B ≤ skinny_batch; y's old values are ignored.
template <class T>
void skinny_product_tn(const MatCRef<T>& W, const MatCRef<T>& d, MatRef<T> y);

// The plain SGD step of a dense layer fused into its backward, for the columns of W given
// (a thread's share): y = Wᵀ d as skinny_product_tn, from the old W (none when y has no rows),
// then W(i, j) ← W(i, j) + α·u(i, j), u(i, j) = Σ_b d(i, b) a(j, b) by fused multiply-adds in the
// order of b from 0, the step one fused multiply-add (α = −lr/B). Each column of W is read from
// memory once for both. W (m, n), d (m, B), a (n, B): the layer's input, y (n or 0, B).
template <class T>
void skinny_backward_sgd(MatRef<T> W, const MatCRef<T>& d, const MatCRef<T>& a, T alpha,
                         MatRef<T> y);

}  // namespace gl
