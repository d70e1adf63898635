// A weight-shared chain (docs/reference.md §3 RNN): one hidden state of width H carried over t
// = 1..T,
//   z_t = W h_{t-1} + U x_t + b,  h_t = φ(z_t),  h_0 = 0,  ŷ_t = V h_t + c
// inputs every_step: x_t at every step (a vanilla RNN); first_step: x_1 only, x_t = 0 after (a
// weight-tied deep net of depth T). loss_at last: ℓ_i = ℓ(ŷ_T); every_step: ℓ_i = Σ_t ℓ(ŷ_t).
//
// Sequence layout (time-major blocks): a sequence batch of B examples is one (rows, T·B) matrix
// whose columns [(t-1)·B, t·B) hold step t of the B examples; x has T such blocks (first_step:
// one). So U x_t for every t is one GEMM, and so are ∂L/∂W = Σ_t δ_t h_{t-1}ᵀ and ∂L/∂U.
// Caches keep room for the longest batch seen (lengths vary per minibatch for the tasks) and use
// the leading columns: nothing is allocated per step once the sizes have been seen.
//
// Threads (OpenMP, the run's `threads`): forward, backward and predict split the batch's sequences
// between the threads, each running its own through all T steps without waiting for the others;
// the products over all T split their output columns, the probe rows their steps. The bits do not
// depend on the thread count (rrelu's training-time slopes, drawn in order, keep one thread).
//
// As in mlp.h: parameters, cache and gradients are plain values; forward and backward never
// change the parameters; backward keeps every per-example ∂ℓ_i/∂h_t and δ_t = ∂ℓ_i/∂z_t.
// maxout is not supported for chains (rnn_init throws UsageError).
#pragma once

#include <optional>
#include <vector>

#include "harness/core/rng.h"
#include "harness/core/types.h"
#include "harness/measure/metrics.h"
#include "harness/nn/activations.h"
#include "harness/nn/blas.h"
#include "harness/nn/init.h"

namespace gl {

struct ModelConfig;  // harness/core/config.h

// Where the chain reads its input, and where its loss is taken (docs/reference.md §3).
enum class RnnInputs { every_step, first_step, count };
inline constexpr std::string_view rnn_inputs_names[] = {"every_step", "first_step"};
static_assert(std::size(rnn_inputs_names) == count_of<RnnInputs>);
enum class LossAt { last, every_step, count };
inline constexpr std::string_view loss_at_names[] = {"last", "every_step"};
static_assert(std::size(loss_at_names) == count_of<LossAt>);

template <class T>
struct Rnn {
  Mat<T> W;          // (H, H) recurrent, shared by every step
  Mat<T> U;          // (H, inputs)
  Vec<T> b;          // (H)
  Mat<T> V;          // (outputs, H) output layer
  Vec<T> c;          // (outputs)
  double slope = 0;  // prelu: the learned negative slope (one, shared by every step)
  ActivationSpec act;
  RnnInputs inputs = RnnInputs::every_step;
  LossAt loss_at = LossAt::last;
  Index width() const { return W.rows(); }
};

template <class T>
struct RnnCache {
  Index steps = 0, batch = 0;  // T and B of the last forward
  Mat<T> h;                    // (H, ≥ (T+1)·B): block 0 = h_0 = 0, block t = h_t
  Mat<T> z;                    // (H, ≥ T·B): block t-1 = z_t
  Mat<T> dphi;                 // (H, ≥ T·B): φ'(z_t)
  Mat<T> yhat;                 // (outputs, B) for loss_at last; (outputs, T·B) for every_step
  PackedGemm<T> pack;          // W packed for the steps W h_{t-1} (blas.h)
};

template <class T>
struct RnnGrads {
  Mat<T> dW, dU, dV;  // ∂L/∂W, ∂L/∂U, ∂L/∂V, L = mean_i ℓ_i
  Vec<T> db, dc;
  double dslope = 0;   // prelu: ∂L/∂slope (0 for other activations)
  Mat<T> dh;           // (H, ≥ T·B): block t-1 = ∂ℓ_i/∂h_t per example
  Mat<T> dz;           // (H, ≥ T·B): block t-1 = δ_t = ∂ℓ_i/∂z_t per example
  PackedGemm<T> pack;  // Wᵀ packed for the steps Wᵀ δ_{t+1} (blas.h)
};

struct RnnShape {
  Index inputs = 0, width = 0, outputs = 0;
};

// Draws W, U, b, V, c from rng, in that order. Throws UsageError for maxout (and, from
// init_weights, for spectral rescaling of a non-square U).
template <class T>
Rnn<T> rnn_init(const RnnShape& shape, const ModelConfig& model, Rng& rng);

// x: (inputs, ≥ n·B), n = steps (every_step) or 1 (first_step), time-major → cache (ŷ in
// cache.yhat). With train_rng (training steps), rrelu draws a random negative slope per
// (unit, example, step), as mlp_forward does.
template <class T>
void rnn_forward(const Rnn<T>& net, const Mat<T>& x, Index steps, Index batch, RnnCache<T>& cache,
                 Rng* train_rng = nullptr);
// dyhat: per-example ∂ℓ_i/∂ŷ, shaped as cache.yhat → grads (parameter gradients of the
// batch-mean loss; dh and δ for every step). Backprop through time:
//   ∂ℓ/∂h_T = Vᵀ ∂ℓ/∂ŷ_T;  ∂ℓ/∂h_t = Vᵀ ∂ℓ/∂ŷ_t [every_step] + Wᵀ δ_{t+1};  δ_t = φ'(z_t) ⊙ ∂ℓ/∂h_t
//   ∂L/∂W = (1/B) Σ_t δ_t h_{t-1}ᵀ,  ∂L/∂U = (1/B) Σ_t δ_t x_tᵀ,  ∂L/∂b = (1/B) Σ_t δ_t
template <class T>
void rnn_backward(const Rnn<T>& net, const Mat<T>& x, const RnnCache<T>& cache, const Mat<T>& dyhat,
                  RnnGrads<T>& grads);

// ŷ only (no history kept: O(H·B) memory whatever T), for the held-out test set. yhat as in
// RnnCache; h, hn are (H, B) scratch.
template <class T>
void rnn_predict(const Rnn<T>& net, const Mat<T>& x, Index steps, Index batch, Mat<T>& yhat,
                 Mat<T>& h, Mat<T>& hn);

// Global L2 norm of every parameter gradient (dW, dU, db, dV, dc, prelu's dslope): the norm that
// Pascanu's Algorithm 1 clips. Scaled sums: finite for finite entries.
template <class T>
double rnn_grads_norm(const RnnGrads<T>& g);
// g ← s·g for every parameter gradient (dh and δ are left alone).
template <class T>
void rnn_grads_scale(RnnGrads<T>& g, double s);

// Largest |eigenvalue| and largest singular value of W (NaN when W has a non-finite entry).
template <class T>
double rnn_spectral_radius(const Mat<T>& W);
template <class T>
double rnn_sigma_max(const Mat<T>& W);

// Scratch of rnn_timestep_rows (one part per thread), reused from probe to probe.
template <class T>
struct RnnRowScratch {
  struct Part {
    StatScratch<T> outer;  // outer_norm (metrics.h): step t's share of ∂L/∂W
  };
  std::vector<Part> parts;
};

// Rows t = 1..T of timesteps.csv (docs/reference.md §4.2) for one probe, appended to rows in order
// (the steps are spread over the OpenMP threads): norms are per-example RMS over the cache's B
// examples. last: the grads of a backward seeded at t = T only (loss_at every_step: gives
// dh_last_norm), or nullptr.
template <class T>
void rnn_timestep_rows(const Rnn<T>& net, const RnnCache<T>& cache, const RnnGrads<T>& grads,
                       const RnnGrads<T>* last, double saturation_tau, int64_t step,
                       std::vector<TimestepRow>& rows, RnnRowScratch<T>& scratch);

}  // namespace gl
