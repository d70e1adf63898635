// Normalization layers: BatchNorm (Ioffe & Szegedy 2015) and LayerNorm (Ba et al. 2016) on a
// layer's values z (units, B), one column per example, with PyTorch's conventions: ε = 1e-5, γ = 1
// and β = 0 at init, and for BatchNorm running statistics with momentum 0.1 from mean 0 and
// variance 1, the running variance taking the batch's unbiased variance. A library piece: the MLP
// and the configs do not call it yet.
//
//   batch: per unit j over the B examples:   μ_j = mean_i z_ji,  σ²_j = mean_i (z_ji − μ_j)²
//   layer: per example i over the n units:   μ_i = mean_j z_ji,  σ²_i = mean_j (z_ji − μ_i)²
//   x̂ = (z − μ) s,  s = 1/√(σ² + ε);   y_ji = γ_j x̂_ji + β_j   (γ, β per unit in both)
// σ² is the population variance. BatchNorm in eval mode takes the running μ and σ² instead.
//
// Gradients, in the MLP's convention (mlp.h, MlpGrads): the loss is the batch mean
// L = (1/B) Σ_k ℓ_k; parameter gradients are of L; a per-example matrix holds in column i
// B·∂L/∂(column i) = ∂(Σ_k ℓ_k)/∂(column i), unscaled. So
//   g  (units, B), the input:  g_i  = ∂(Σ_k ℓ_k)/∂y_i   (= ∂ℓ_i/∂y_i, the MLP's δ, when the
//                                                          layers above treat each example alone)
//   dz (units, B), the output: dz_i = ∂(Σ_k ℓ_k)/∂z_i   (everything the batch's loss owes to
//                                                          example i's z, through every y_k)
// and ∂L/∂z = dz/B exactly: the dense layer below forms ∂L/∂W = (1/B) Σ_i dz_i a_iᵀ as before.
// Training-mode BatchNorm couples the examples (dz_i depends on every g_k and x̂_k of the batch),
// so a per-example ‖dz_i‖ is defined only with the batch it was normalized in; LayerNorm and eval
// mode do not couple them (dz_i from g_i alone, = ∂ℓ_i/∂z_i when g_i = ∂ℓ_i/∂y_i).
//   dβ = ∂L/∂β = (1/B) Σ_i g_i,   dγ = ∂L/∂γ = (1/B) Σ_i g_i ⊙ x̂_i
//   batch, training: dz_i = γ ⊙ s ⊙ (g_i − dβ − x̂_i ⊙ dγ)     (dβ, dγ: the batch means of g, g ⊙ x̂)
//   batch, eval:     dz_i = γ ⊙ s ⊙ g_i
//   layer:           dz_i = s_i (h_i − mean_j h_ji − x̂_i · mean_j h_ji x̂_ji),  h_i = γ ⊙ g_i
// Statistics (μ, σ², s, the sums of the backward) are taken in double for float and double runs.
// Forward and backward allocate nothing once the cache, output and grads have their sizes.
#pragma once

#include <string_view>

#include "harness/core/closed_set.h"
#include "harness/core/threads.h"
#include "harness/core/types.h"

namespace gl {

enum class NormKind { none, batch, layer, count };
inline constexpr std::string_view norm_kind_names[] = {"none", "batch", "layer"};
static_assert(std::size(norm_kind_names) == count_of<NormKind>);

struct NormSpec {
  NormKind kind = NormKind::none;
  double eps = 1e-5;      // added to σ² (PyTorch's default)
  double momentum = 0.1;  // batch: running ← (1 − momentum)·running + momentum·batch statistic
};

template <class T>
struct NormParams {
  Vec<T> gamma;  // γ (units), 1 at init
  Vec<T> beta;   // β (units), 0 at init
};

// BatchNorm's running statistics (units), for eval mode: mean from 0, var from 1 at init; each
// training step blends in the batch's μ and its unbiased variance σ²·B/(B − 1).
struct NormRunning {
  Vec<double> mean;
  Vec<double> var;
};

template <class T>
struct NormCache {
  NormKind kind = NormKind::none;
  bool coupled = false;   // BatchNorm on its batch's statistics: the backward couples the examples
  Mat<T> xhat;            // x̂ (units, B)
  Vec<double> mean, var;  // the μ and σ² normalized with: per unit (batch; eval: the running
                          // ones) or per example (layer)
  Vec<double> inv_std;    // s = 1/√(σ² + ε), as mean
};

template <class T>
struct NormGrads {
  Vec<T> dgamma, dbeta;       // ∂L/∂γ, ∂L/∂β (units), L = mean_i ℓ_i
  Vec<double> sum_g, sum_gx;  // scratch (units): Σ_i g_i, Σ_i g_i ⊙ x̂_i
};

template <class T>
NormParams<T> norm_params_init(Index units);  // γ = 1, β = 0
NormRunning norm_running_init(Index units);   // mean 0, var 1

// Training mode: z (units, B) → y (units, B) and the cache; y may be z. BatchNorm normalizes with
// the batch's statistics and, given running, blends them into it (needs B ≥ 2 for the unbiased
// variance: std::invalid_argument otherwise). none: y = z.
template <class T>
void norm_forward(const NormSpec& spec, const NormParams<T>& p, const Mat<T>& z, NormCache<T>& c,
                  Mat<T>& y, NormRunning* running = nullptr);
// Eval mode: BatchNorm normalizes with the running statistics; layer and none as in training.
template <class T>
void norm_forward_eval(const NormSpec& spec, const NormParams<T>& p, const NormRunning& running,
                       const Mat<T>& z, NormCache<T>& c, Mat<T>& y);
// g (units, B) → dz (units, B) and grads (dγ, dβ written, not added), for the forward that filled
// c (training or eval); dz may be g. none: dz = g, dγ = dβ = 0.
template <class T>
void norm_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g, Mat<T>& dz,
                   NormGrads<T>& grads);

// A thread's share of a BatchNorm layer (mlp_blocks.cpp's team): BatchNorm is per unit, so each
// thread may take units [r.begin, r.begin + r.size) of the same layer. norm_size and
// norm_grads_size first give c, y and grads their sizes for z (units, B), on one thread; the calls
// on a range then
// compute exactly what norm_forward, norm_forward_eval (eval: the running statistics, read) and
// norm_backward compute for those units, the same operations in the same order: the same bits.
template <class T>
void norm_size(NormKind kind, Index units, Index B, NormCache<T>& c, Mat<T>& y);
template <class T>
void norm_grads_size(Index units, NormGrads<T>& grads);
template <class T>
void batch_norm_forward_units(const NormSpec& spec, const NormParams<T>& p, const Mat<T>& z,
                              Range units, NormCache<T>& c, Mat<T>& y, NormRunning* running,
                              const NormRunning* eval);
template <class T>
void batch_norm_backward_units(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g,
                               Range units, Mat<T>& dz, NormGrads<T>& grads);

// The mean and population standard deviation of all of z's (unit, example) entries, accumulated
// in double with a second pass for the std (no cancellation): the pre-normalization statistics of
// a layer's z. NaN for an empty z.
struct Moments {
  double mean = 0, std = 0;
};
template <class T>
Moments moments_of(const Mat<T>& z);

}  // namespace gl
