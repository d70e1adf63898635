// A deep MLP: L hidden layers with one activation φ, then the affine output layer L+1.
//   z_l = W_l a_{l-1} + b_l,  a_l = φ(z_l),  a_0 = x,  ŷ = z_{L+1}
// The network is a sequence of layer ops (mlp_op): dense 1, activation 1, …, dense L+1, output;
// mlp_forward runs them in order and mlp_backward in reverse. Parameters, caches and gradients are
// three plain values; forward and backward never change the parameters (except mlp_backward_sgd,
// the fused SGD step). Backward keeps every per-example δ_l = ∂ℓ_i/∂z_l, which the metrics read.
// With several OpenMP threads the team splits every op by units or by examples (mlp.cpp,
// "threads").
//
// maxout (k pieces): W_l is (k·fan_out, fan_in); rows p·fan_out + j hold piece p of unit j. z_l is
// the winning piece and φ is the identity on it (φ' = 1).
#pragma once

#include <vector>

#include "harness/core/rng.h"
#include "harness/core/types.h"
#include "harness/nn/activations.h"
#include "harness/nn/init.h"

namespace gl {

template <class T>
struct Layer {
  Mat<T> W;          // (pieces·fan_out, fan_in); pieces = 1 except for maxout hidden layers
  Vec<T> b;          // (pieces·fan_out)
  double slope = 0;  // prelu: this layer's learned negative slope (one per layer, as PyTorch's
                     // default nn.PReLU()); starts at the activation's slope
};

template <class T>
struct Mlp {
  std::vector<Layer<T>> layers;   // l = 1..L+1 at index l-1
  ActivationSpec act;             // hidden layers; the output layer is affine
  Index fan_out(size_t l) const;  // units of layer index l (W rows / pieces)
  Index depth() const { return static_cast<Index>(layers.size()) - 1; }  // L
  int pieces(size_t l) const;  // maxout pieces of layer index l (1 for the output)
};

template <class T>
struct MlpCache {
  std::vector<Mat<T>> a;     // a[0] = x (fan_in, B); a[l] = φ(z_l) (fan_out_l, B); a[L+1] = ŷ
  std::vector<Mat<T>> z;     // z[l-1] = z_l (fan_out_l, B)
  std::vector<Mat<T>> dphi;  // dphi[l-1] = φ'(z_l) (fan_out_l, B), hidden layers only
  std::vector<MatI> win;     // maxout: win[l-1](j, i) = winning piece of unit j for example i
  Mat<T> zk;                 // maxout scratch (pieces·fan_out, B)
};

template <class T>
struct MlpGrads {
  std::vector<Mat<T>> dW;      // dW[l-1] = ∂L/∂W_l, L = mean_i ℓ_i
  std::vector<Vec<T>> db;      // db[l-1] = ∂L/∂b_l
  std::vector<Mat<T>> delta;   // delta[l-1] = δ_l = ∂ℓ_i/∂z_l per example (fan_out_l, B)
  bool has_dw = false;         // dW holds the last backward's ∂L/∂W (it may store none)
  std::vector<double> dslope;  // prelu: ∂L/∂slope_l per layer (0 for other activations)
  Mat<T> dk;                   // maxout scratch: δ scattered to the winning pieces
  Mat<T> back;                 // scratch: W_lᵀ δ_l (fan_in_l, B)
};

// The kinds of layer op. Each has its forward directly above its backward in mlp.cpp and one case
// in the switch of forward_share and backward_share; it reads and writes its layer's tensors.
enum class LayerKind {
  dense,  // z_l = W_l a_{l-1} + b_l;  back: W_lᵀ δ_l, ∂L/∂W_l, ∂L/∂b_l
  activation,  // a_l = φ(z_l), φ'(z_l) kept (prelu: layer l's slope);  back: δ_l = φ' ⊙ ∂ℓ/∂a_l
  maxout,  // z_l = a_l = each unit's winning piece (the dense layer's k pieces);  φ' = 1
  output,  // ŷ = a_{L+1} = z_{L+1} (affine);  back: δ_{L+1} = ∂ℓ/∂ŷ
};
struct LayerOp {
  LayerKind kind = LayerKind::dense;
  size_t l = 0;  // index into Mlp::layers and the per-layer tensors (layer l+1 of the math)
};
// The ops of net in order: op 2l is dense l, op 2l+1 its activation (maxout, or output for the
// last layer).
template <class T>
size_t mlp_op_count(const Mlp<T>& net);
template <class T>
LayerOp mlp_op(const Mlp<T>& net, size_t i);

struct MlpShape {
  Index inputs = 0;
  std::vector<int> hidden;  // widths of layers 1..L
  Index outputs = 0;
};

// Draws W_l then b_l for l = 1..L+1 from rng, in that order.
template <class T>
Mlp<T> mlp_init(const MlpShape& shape, const ActivationSpec& act, const InitSpec& init,
                const InitSpec& output_init, const BiasSpec& bias, Rng& rng);

// x: (inputs, B) → cache (ŷ = cache.a.back()). With train_rng (training steps), rrelu draws a
// random negative slope per (unit, example) — U(lower, upper), or 1/U(1/upper, 1/lower) in the
// paper's convention — instead of the fixed probe-time slope.
template <class T>
void mlp_forward(const Mlp<T>& net, const Mat<T>& x, MlpCache<T>& cache, Rng* train_rng = nullptr);
// dyhat: (outputs, B) per-example ∂ℓ_i/∂ŷ_i → grads (dW, db of the batch-mean loss; δ_l).
// store_dw false: no ∂L/∂W (a probe that needs only its norm: metrics.h outer_norm); maxout
// always stores it.
template <class T>
void mlp_backward(const Mlp<T>& net, const MlpCache<T>& cache, const Mat<T>& dyhat,
                  MlpGrads<T>& grads, bool store_dw = true);

// One plain-SGD step's backward (momentum 0, no clipping): as mlp_backward, and each W_l is
// updated as soon as W_lᵀ δ_l has been taken from it, W_l ← W_l − (lr/B) δ_l a_{l-1}ᵀ in one
// product accumulating into W_l (∂L/∂W_l is never stored: grads.dW is left alone); b_l ← b_l −
// lr·∂L/∂b_l and the prelu slopes likewise. grads gets δ_l, ∂L/∂b_l and ∂L/∂slope_l.
template <class T>
void mlp_backward_sgd(Mlp<T>& net, const MlpCache<T>& cache, const Mat<T>& dyhat,
                      MlpGrads<T>& grads, double lr);
// The layer Jacobian ∂a_l/∂a_{l-1} = diag(φ'(z_l)) W_l for example i (maxout: the winning
// pieces' rows), in double: J is (fan_out_l, fan_in_l). l is the layer index (0-based).
template <class T>
void mlp_layer_jacobian(const Mlp<T>& net, const MlpCache<T>& cache, size_t l, Index i,
                        Mat<double>& J);
// The input–output Jacobian ∂a_L/∂x = D_L W_L ⋯ D_1 W_1 of the hidden stack for example i.
template <class T>
void mlp_io_jacobian(const Mlp<T>& net, const MlpCache<T>& cache, Index i, Mat<double>& J);

}  // namespace gl
