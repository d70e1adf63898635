// A gated chain with its output layer (model.type "lstm" and "gru", docs/reference.md §3): the
// cell of gated.h carried over t = 1..T, then ŷ_t = V h_t + c as the RNN's (rnn.h): at T only
// (loss_at last) or at every t. inputs and loss_at, the loss and the batch-mean conventions are
// the RNN's; gradient_ratio reads ∂ℓ/∂h_t (docs/reference.md §4.4).
#pragma once

#include <vector>

#include "harness/core/rng.h"
#include "harness/core/types.h"
#include "harness/measure/metrics.h"
#include "harness/nn/gated.h"
#include "harness/nn/rnn.h"

namespace gl {

struct ModelConfig;  // harness/core/config.h

template <class T>
struct GatedNet {
  Gated<T> cell;
  Mat<T> V;  // (outputs, H)
  Vec<T> c;  // (outputs)
  LossAt loss_at = LossAt::last;
  Index width() const { return cell.width(); }
};

template <class T>
struct GatedNetCache {
  GatedCache<T> cell;
  Mat<T> yhat;  // (outputs, B) for loss_at last; (outputs, T·B) for every_step
};

template <class T>
struct GatedNetGrads {
  GatedGrads<T> cell;
  Mat<T> dV;    // ∂L/∂V, L = mean_i ℓ_i
  Vec<T> dc;    // ∂L/∂c
  Mat<T> seed;  // (H, T·B): block t-1 = Vᵀ ∂ℓ_i/∂ŷ_t (0 where no loss is taken)
};

// Every parameter tensor of a gated net, in one fixed order (optimizer, clipping, checkpoints):
// f(name, tensor) with tensor a Mat<T>& or Vec<T>&. The gradients in the same order.
template <class T, class F>
void gated_net_tensors(GatedNet<T>& n, F&& f) {
  f("W_ih", n.cell.W_ih), f("W_hh", n.cell.W_hh), f("b_ih", n.cell.b_ih), f("b_hh", n.cell.b_hh);
  f("V", n.V), f("c", n.c);
}
template <class T, class F>
void gated_grads_tensors(GatedNetGrads<T>& g, F&& f) {
  f("dW_ih", g.cell.dW_ih), f("dW_hh", g.cell.dW_hh), f("db_ih", g.cell.db_ih);
  f("db_hh", g.cell.db_hh), f("dV", g.dV), f("dc", g.dc);
}

// Draws W_ih (gate by gate), W_hh (gate by gate), b_ih, b_hh, then V, c. Each gate's block takes
// model.input_init / recurrent_init unless the *_init_gates object names it; forget_bias is added
// to the LSTM's b_ih slice of f.
template <class T>
GatedNet<T> gated_net_init(const RnnShape& shape, const ModelConfig& model, Rng& rng);

// x: (inputs, ≥ n·B) time-major, n = steps (every_step) or 1 (first_step) → cache (ŷ in yhat).
template <class T>
void gated_net_forward(const GatedNet<T>& net, const Mat<T>& x, Index steps, Index batch,
                       GatedNetCache<T>& cache);
// dyhat: per-example ∂ℓ_i/∂ŷ shaped as cache.yhat → grads (BPTT: gated.h).
//   ∂L/∂V = (1/B) Σ_t dŷ_t h_tᵀ, ∂L/∂c = (1/B) Σ_t dŷ_t; the seed of step t is Vᵀ dŷ_t.
template <class T>
void gated_net_backward(const GatedNet<T>& net, const Mat<T>& x, const GatedNetCache<T>& cache,
                        const Mat<T>& dyhat, GatedNetGrads<T>& grads);

// Global L2 norm of every parameter gradient (what clipping scales); g ← s·g for each of them.
template <class T>
double gated_grads_norm(GatedNetGrads<T>& g);
template <class T>
void gated_grads_scale(GatedNetGrads<T>& g, double s);
// The optimizer steps every tensor of gated_net_tensors through its parameter list
// (harness/nn/optim.h, gated_params).

// Rows t = 1..T of timesteps.csv for one probe (docs/reference.md §4.2): h_norm, dh_norm, dz_norm
// (of every gate's pre-activation a_t), grad_w_contrib_norm (of W_hh), dc_norm and the gate
// columns of the cell's slots; saturated_frac and dead_frac empty. last: the grads of a backward
// seeded at t = T only (loss_at every_step: gives dh_last_norm), or nullptr.
template <class T>
void gated_timestep_rows(const GatedNet<T>& net, const GatedNetCache<T>& cache,
                         const GatedNetGrads<T>& grads, const GatedNetGrads<T>* last,
                         double saturation_tau, int64_t step, std::vector<TimestepRow>& rows,
                         std::vector<GatedStepRow>& scratch_rows, ProbeScratch<T>& scratch);

}  // namespace gl
