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

#include <cmath>
#include <vector>

#include "harness/core/rng.h"
#include "harness/core/types.h"
#include "harness/nn/activations.h"
#include "harness/nn/init.h"
#include "harness/nn/norm.h"

namespace gl {

// ---- residual blocks and normalization layers (docs/reference.md §3.2, mlp_blocks.cpp) ----
// A residual net keeps the plain net's L + 1 weight layers: layer 1 is the input projection
// h_1 = W_1 x + b_1 (no φ), layers 2..L form (L−1)/k blocks of k branch layers in the "full
// residual" pre-activation form, F(h) = W φ([norm] h) + b (k = 2: two in a row), and
// h_{next} = h + α·F(h); the output layer reads the last stream value. A norm layer sits in each
// hidden layer's activation: plain net Linear → Norm → φ ("before") or Linear → φ → Norm
// ("after"); residual branch Norm → φ → Linear or φ → Norm → Linear. None on the input projection
// nor on the output layer.
enum class AlphaKind { number, inv_sqrt_blocks, rezero, count };
inline constexpr std::string_view alpha_kind_names[] = {"number", "1/sqrt(L)", "rezero"};
static_assert(std::size(alpha_kind_names) == count_of<AlphaKind>);
enum class NormPlacement { before, after, count };  // of the activation
inline constexpr std::string_view norm_placement_names[] = {"before", "after"};
static_assert(std::size(norm_placement_names) == count_of<NormPlacement>);

struct ResidualSpec {
  int block = 0;  // k weight layers per block; 0: a plain net
  AlphaKind alpha_kind = AlphaKind::number;
  double alpha = 1.0;  // number: the branch scale
};
// α of every block of a residual net with `blocks` blocks (rezero: 0, its value at init).
inline double residual_alpha(const ResidualSpec& s, int blocks) {
  if (s.alpha_kind == AlphaKind::number) return s.alpha;
  if (s.alpha_kind == AlphaKind::rezero) return 0.0;
  return 1.0 / std::sqrt(static_cast<double>(blocks));
}
struct BlocksSpec {
  ResidualSpec residual;
  NormSpec norm;  // kind none: no norm layers
  NormPlacement placement = NormPlacement::before;
};

template <class T>
struct Layer {
  Mat<T> W;             // (pieces·fan_out, fan_in); pieces = 1 except for maxout hidden layers
  Vec<T> b;             // (pieces·fan_out)
  double slope = 0;     // prelu: this layer's learned negative slope (one per layer, as PyTorch's
                        // default nn.PReLU()); starts at the activation's slope
  double alpha = 0;     // residual: the branch scale α of the block this layer ends (0 elsewhere)
  NormParams<T> norm;   // γ, β of the norm layer in this layer's activation (empty without)
  NormRunning running;  // BatchNorm's running statistics of that layer (empty otherwise)
};

template <class T>
struct Mlp {
  std::vector<Layer<T>> layers;  // l = 1..L+1 at index l-1
  ActivationSpec act;            // hidden layers; the output layer is affine
  BlocksSpec blocks;             // residual blocks and norm layers (none: a plain net)
  bool has_blocks() const {
    return blocks.residual.block > 0 || blocks.norm.kind != NormKind::none;
  }
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
  // Residual / norm nets (mlp_blocks.cpp). Residual: a[l] is the input of W_l, so for a branch
  // layer a[l] = φ([norm] s) of the value s it reads, and dphi[l] (index l, not l-1) is that φ';
  // a[L] = the last stream value.
  std::vector<Mat<T>> h;  // h[b] = stream value read by block b+1; h[0] = h_1 = z_1
  std::vector<Mat<T>> y;  // y[l]: the norm's input ("after": φ(s)) or output ("before")
  std::vector<std::vector<NormCache<T>>> norm;  // norm[l][g]: one per normalization group
  Index norm_batch = 0;  // the group size the last forward normalized over (0: the whole batch)
  Mat<T> gin, gout;      // scratch: one group's columns
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
  // Residual / norm nets: dh[b] = ∂(Σ_k ℓ_k)/∂h[b] per example (as δ); dnorm[l]: ∂L/∂γ, ∂L/∂β
  // of layer l's norm; dalpha[l]: ∂L/∂α of the block layer l ends (0 elsewhere, and unless
  // α is learned).
  std::vector<Mat<T>> dh;
  std::vector<NormGrads<T>> dnorm;
  std::vector<double> dalpha;
  Mat<T> gy, gg, go, gd;  // scratch
  NormGrads<T> dgroup;    // scratch: one normalization group's ∂L/∂γ, ∂L/∂β
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

// Sets net's residual blocks and norm layers (α, γ = 1, β = 0, running statistics); draws
// nothing. Throws std::invalid_argument where the shape does not fit (config.cpp reports these
// as config errors first): residual with unequal hidden widths or k not dividing L − 1, maxout.
template <class T>
void mlp_blocks_init(Mlp<T>& net, const BlocksSpec& spec);
// Residual net: the number of blocks (L − 1)/k (0 for a plain net).
template <class T>
int mlp_block_count(const Mlp<T>& net);

// How norm layers normalize in a forward: on the batch's statistics, in groups of `group`
// consecutive examples (0 or ≥ B: one group; the remainder joins the last group), or (eval) on
// BatchNorm's running statistics. A training step (mlp_forward_train) also updates them.
struct NormUse {
  bool eval = false;
  Index group = 0;
};

// x: (inputs, B) → cache (ŷ = cache.a.back()). With train_rng (training steps), rrelu draws a
// random negative slope per (unit, example) — U(lower, upper), or 1/U(1/upper, 1/lower) in the
// paper's convention — instead of the fixed probe-time slope.
template <class T>
void mlp_forward(const Mlp<T>& net, const Mat<T>& x, MlpCache<T>& cache, Rng* train_rng = nullptr,
                 NormUse use = {});
// A training step's forward: mlp_forward with train_rng on the whole batch, and BatchNorm's
// running statistics updated.
template <class T>
void mlp_forward_train(Mlp<T>& net, const Mat<T>& x, MlpCache<T>& cache, Rng& rng);
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
