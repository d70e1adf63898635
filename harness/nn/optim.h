// One training step's update of a model's parameters (docs/reference.md §3, train): the model
// lists its parameter tensors (a span of values, its gradient, its layer index and whether it is
// a weight matrix), and the rules of train.* act on that list in this order:
//   1. gradient noise   g ← g + N(0, σ_t²), σ_t² = η/(1 + t)^γ, t = step − 1 (Neelakantan 2015);
//                        tensor j's draws at step s come from a stream seeded by (seed, s, j),
//                        so results depend on nothing but the seed (not threads, not a resume)
//   2. value clipping   g ← clamp(g, −c, c)
//   3. norm clipping    g ← s·g, s = min(1, c/‖g‖) over every parameter (the model computes ‖g‖)
//   4. the optimizer    optimizer_step (optim_rules.h: L2 weight decay inside, decoupled for
//                        adamw) at the tensor's rate lr·f(step)·m_l·τ_l: f the schedule times the
//                        warm-up (lr_factor), m_l the layer's multiplier (lr_layers), τ_l the LARS
//                        trust ratio of its layer
//   5. max-norm         each row of a weight matrix (a unit's incoming weights) scaled to ‖w‖ ≤ c
// Nothing allocates once the first step has sized the lists.
#pragma once

#include <vector>

#include "harness/core/config.h"
#include "harness/nn/gated_net.h"
#include "harness/nn/mlp.h"
#include "harness/nn/optim_rules.h"
#include "harness/nn/rnn.h"

namespace gl {

// One parameter tensor: rows × cols values at p (column-major), its gradient at g.
template <class T>
struct ParamTensor {
  T* p = nullptr;
  T* g = nullptr;
  Index rows = 0, cols = 0;
  int layer = 0;        // index for per-layer rules (lr_layers, lars) and rows
  bool weight = false;  // a weight matrix, one row per unit: max_norm, lars, update ratios
};

// A double scalar parameter (the prelu slope) and its gradient.
struct ParamScalar {
  double* p = nullptr;
  double* g = nullptr;
  int layer = 0;
};

template <class T>
struct Optim {
  std::vector<ParamTensor<T>> tensors;  // this step's list (the model fills it: *_params)
  std::vector<ParamScalar> scalars;
  std::vector<OptimizerState<T>> state;  // per tensor (optim_make)
  std::vector<OptimizerState<double>> scalar_state;
  std::vector<double> lr;         // per tensor: the rate of its last step
  std::vector<double> ratio;      // per tensor: ‖Δθ‖/‖θ‖ of its last step
  std::vector<double> ratio_sum;  // per tensor: Σ of ratio since the last probe
  int64_t ratio_n = 0;            // steps in ratio_sum
  std::vector<double> trust;      // per layer: the LARS trust ratio of this step
  uint64_t noise_key = 0;         // the gradient-noise stream (from the run's seed)
  std::vector<double> scratch;    // max-norm row norms, effective_lr_median
  std::vector<int> owner;         // per tensor: the team thread that steps it (params_update)
  int owner_team = 0, owner_threads = 1;  // the team size owner was made for; threads used
};

// The lists of a model: W_l, b_l (layer l − 1) for l = 1..L+1 and, for prelu, each layer's
// slope. grads may still be empty (g null) before the first backward.
template <class T>
void mlp_params(Mlp<T>& net, MlpGrads<T>& grads, Optim<T>& o);
// A chain: U (layer 0), W and b (layer 1), V and c (layer 2), the prelu slope (layer 1).
template <class T>
void rnn_params(Rnn<T>& net, RnnGrads<T>& grads, Optim<T>& o);
// A gated chain, as the RNN's layers: W_ih (layer 0), W_hh, b_ih and b_hh (layer 1), V and c
// (layer 2).
template <class T>
void gated_params(GatedNet<T>& net, GatedNetGrads<T>& grads, Optim<T>& o);

// The state for o's lists (filled first), every buffer zero; noise_key from the run's seed.
template <class T>
void optim_make(const TrainConfig& tc, Optim<T>& o, uint64_t seed);

// The schedule times the warm-up at step t = 1..steps: constant 1; step γ^⌊(t−1)/step_size⌋;
// cosine η_min/lr + (1 − η_min/lr)(1 + cos(π(t−1)/steps))/2; warm-up min(1, t/K).
double lr_factor(const TrainConfig& tc, int64_t t);
// Layer index l's multiplier: lr_layers[l], or ramp^(n − 1 − l) of n layers (1 without either).
double lr_multiplier(const TrainConfig& tc, size_t l, size_t n);

// Whether a step is plain SGD (no momentum, decay, noise, clipping or per-layer rule), which the
// MLP takes fused into its backward (mlp_backward_sgd); the schedule and warm-up may be on.
bool fused_sgd(const TrainConfig& tc);

// Steps 1–2 on every gradient of o's lists (before the model takes the gradient norm).
template <class T>
void grads_perturb(const TrainConfig& tc, Optim<T>& o, int64_t step);
// Steps 3–5: scale (the norm clipping factor, 1 without), the optimizer, max-norm; records each
// tensor's rate and update ratio. Returns the base rate lr·f(step).
template <class T>
double params_update(const TrainConfig& tc, Optim<T>& o, int64_t step, double scale);

// Layer l's weight tensor in o's list, or −1.
template <class T>
int optim_weight_of(const Optim<T>& o, int layer);
// The per-probe values of tensor k (docs/reference.md §4.1): the last step's update ratio, the
// mean since the previous probe (optim_probe_reset starts the next interval), the effective rate
// (median of lr/(√v̂ + ε) for adaptive kinds; the rate itself for sgd).
struct UpdateStats {
  std::optional<double> ratio, ratio_mean, effective_lr;
};
template <class T>
UpdateStats optim_stats(const TrainConfig& tc, Optim<T>& o, int k);
template <class T>
void optim_probe_reset(Optim<T>& o);

// Global L2 norm of all parameter gradients: sqrt(Σ_l ‖∂L/∂W_l‖²_F + ‖∂L/∂b_l‖² + (∂L/∂slope_l)²),
// each term a stable (scaled) norm accumulated in double.
template <class T>
double mlp_grads_norm(const MlpGrads<T>& g);
// Residual / norm nets: Σ_l ‖∂L/∂γ_l‖² + ‖∂L/∂β_l‖² + (∂L/∂α_l)² (0 for grads without them), a
// term of mlp_grads_norm.
template <class T>
double mlp_blocks_grads_sumsq(const MlpGrads<T>& g);

}  // namespace gl
