// Gated recurrent cells (model.type "lstm" and "gru": harness/nn/gated_net.h adds the output), with
// PyTorch's equations and gate order (nn.LSTM, nn.GRU). G gates of width H; every weight matrix
// stacks the gates' blocks in order, rows [k·H, (k+1)·H) for gate k.
//
// LSTM (Hochreiter & Schmidhuber 1997, forget gate Gers et al. 2000), gates (i, f, g, o), G = 4:
//   a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh                     (4H)
//   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
//   c_t = f ⊙ c_{t-1} + i ⊙ g,  h_t = o ⊙ tanh(c_t),  h_0 = c_0 = 0
// GRU (Cho et al. 2014), gates (r, z, n), G = 3; z multiplies the old state (PyTorch; Cho's paper
// writes z for 1 − z):
//   r = σ(W_ir x + b_ir + W_hr h + b_hr),  z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)),  h_t = (1 − z) ⊙ n + z ⊙ h_{t-1},  h_0 = 0
//
// Sequence layout as rnn.h (time-major blocks): a batch of B sequences is one (rows, T·B) matrix
// whose columns [(t-1)·B, t·B) hold step t; x has T blocks (inputs every_step) or one (first_step:
// x_t = 0 for t > 1). The input projections W_ih x_t of every step are one product; so are ∂L/∂W_ih
// and ∂L/∂W_hh. Caches keep room for the longest batch seen and use the leading columns: nothing
// is allocated per step once the sizes have been seen.
//
// The outputs and the loss stay the caller's: the backward takes the per-example seed ∂ℓ_i/∂h_t
// coming from step t's output for every t (zero blocks where no loss is taken: all but t = T for
// loss_at last). Conventions as rnn.h: parameter gradients are of the batch-MEAN loss
// L = mean_i ℓ_i; ∂ℓ_i/∂h_t, ∂ℓ_i/∂c_t and ∂ℓ_i/∂x_t are per example and unscaled. ∂ℓ_i/∂h_t and
// ∂ℓ_i/∂c_t are total derivatives (every later step included; ∂ℓ/∂c_t includes the path through
// h_t = o ⊙ tanh(c_t)). Parameters, cache and gradients are plain values; forward and backward
// never change the parameters.
//
// Threads: forward and backward split the batch's sequences between the threads (chain_team.h),
// each running its own through all T steps; the products over all T split their output columns.
// The bits do not depend on the thread count.
#pragma once

#include <array>
#include <string_view>
#include <vector>

#include "harness/core/rng.h"
#include "harness/core/types.h"
#include "harness/measure/metrics.h"
#include "harness/nn/init.h"
#include "harness/nn/rnn.h"

namespace gl {

enum class CellKind { lstm, gru, count };
inline constexpr std::string_view cell_kind_names[] = {"lstm", "gru"};
static_assert(std::size(cell_kind_names) == count_of<CellKind>);

inline constexpr int max_gates = 4;
// Gate names in the order of the stacked blocks (PyTorch's).
inline constexpr std::string_view lstm_gate_names[] = {"i", "f", "g", "o"};
inline constexpr std::string_view gru_gate_names[] = {"r", "z", "n"};
constexpr int cell_gates(CellKind k) { return k == CellKind::lstm ? 4 : 3; }
// Whether gate k is a tanh (LSTM g, GRU n: both third); the others are σ.
constexpr bool gate_is_tanh(int gate) { return gate == 2; }
constexpr int lstm_forget_gate = 1;

template <class T>
struct Gated {
  CellKind kind = CellKind::lstm;
  Mat<T> W_ih;  // (G·H, inputs)
  Mat<T> W_hh;  // (G·H, H)
  Vec<T> b_ih;  // (G·H)
  Vec<T> b_hh;  // (G·H)
  RnnInputs inputs = RnnInputs::every_step;
  Index width() const { return W_hh.cols(); }
  int gates() const { return cell_gates(kind); }
};

template <class T>
struct GatedCache {
  Index steps = 0, batch = 0;  // T and B of the last forward
  Mat<T> gate;                 // (G·H, ≥ T·B): block t-1 = every gate's activation at step t
  Mat<T> h;                    // (H, ≥ (T+1)·B): block 0 = h_0 = 0, block t = h_t
  Mat<T> c;                    // LSTM (H, ≥ (T+1)·B): block 0 = c_0 = 0, block t = c_t
  Mat<T> tc;                   // LSTM (H, ≥ T·B): block t-1 = tanh(c_t)
  Mat<T> hn;                   // GRU (H, ≥ T·B): block t-1 = W_hn h_{t-1} + b_hn
  Mat<T> rec;                  // (G·H, B) scratch: W_hh h_{t-1} + b_hh
};

template <class T>
struct GatedGrads {
  Mat<T> dW_ih, dW_hh;  // ∂L/∂W_ih, ∂L/∂W_hh, L = mean_i ℓ_i
  Vec<T> db_ih, db_hh;
  Mat<T> dh;  // (H, ≥ T·B): block t-1 = ∂ℓ_i/∂h_t per example
  Mat<T> dc;  // LSTM (H, ≥ T·B): block t-1 = ∂ℓ_i/∂c_t per example
  Mat<T> da;  // (G·H, ≥ T·B): ∂ℓ_i/∂(W_ih x_t + b_ih), per example
  Mat<T> dr;  // GRU (G·H, ≥ T·B): ∂ℓ_i/∂(W_hh h_{t-1} + b_hh) (LSTM: equal to da, not stored)
  Mat<T> dx;  // (inputs, n·B), n as x's blocks: ∂ℓ_i/∂x_t per example
};

struct GatedShape {
  Index inputs = 0, width = 0;
};

// How to draw the parameters: each gate's block of W_ih (H, inputs) and of W_hh (H, H) from its
// own InitSpec (gate_inits_shared: one spec for every gate), both biases from `bias`, then
// forget_bias added to the forget gate's slice of b_ih (LSTM only; a GRU needs 0).
struct GatedInit {
  std::array<InitSpec, max_gates> input, recurrent;  // by gate, in the cell's order
  BiasSpec bias;
  double forget_bias = 0;
};
GatedInit gate_inits_shared(const InitSpec& input, const InitSpec& recurrent, const BiasSpec& bias,
                            double forget_bias);

// Draws W_ih gate by gate, then W_hh gate by gate, then b_ih, b_hh. Throws UsageError for a
// non-zero forget_bias on a GRU.
template <class T>
Gated<T> gated_init(CellKind kind, const GatedShape& shape, const GatedInit& init, RnnInputs inputs,
                    Rng& rng);

// x: (inputs, ≥ n·B), n = steps (every_step) or 1 (first_step), time-major → cache.
template <class T>
void gated_forward(const Gated<T>& net, const Mat<T>& x, Index steps, Index batch,
                   GatedCache<T>& cache);
// dh_seed: (H, ≥ T·B), block t-1 = the per-example ∂ℓ_i/∂h_t from step t's output → grads.
// BPTT, per step from t = T down (a = gate pre-activations, r_{t+1} = ∂ℓ/∂(W_hh h_t + b_hh)):
//   ∂ℓ/∂h_t = seed_t + W_hhᵀ r_{t+1} [+ z_{t+1} ⊙ ∂ℓ/∂h_{t+1}, GRU]
//   LSTM: ∂ℓ/∂c_t = ∂ℓ/∂h_t ⊙ o ⊙ (1 − tanh²c_t) + f_{t+1} ⊙ ∂ℓ/∂c_{t+1}
//         ∂a_i = ∂c ⊙ g ⊙ i(1−i), ∂a_f = ∂c ⊙ c_{t-1} ⊙ f(1−f), ∂a_g = ∂c ⊙ i ⊙ (1−g²),
//         ∂a_o = ∂h ⊙ tanh(c_t) ⊙ o(1−o);  r = ∂a
//   GRU:  ∂a_n = ∂h ⊙ (1−z) ⊙ (1−n²), ∂a_z = ∂h ⊙ (h_{t-1} − n) ⊙ z(1−z),
//         ∂a_r = ∂a_n ⊙ (W_hn h_{t-1} + b_hn) ⊙ r(1−r);  r = ∂a except r_n = r ⊙ ∂a_n
//   ∂L/∂W_ih = (1/B) Σ_t ∂a_t x_tᵀ, ∂L/∂b_ih = (1/B) Σ_t ∂a_t,
//   ∂L/∂W_hh = (1/B) Σ_{t≥2} r_t h_{t-1}ᵀ, ∂L/∂b_hh = (1/B) Σ_t r_t
template <class T>
void gated_backward(const Gated<T>& net, const Mat<T>& x, const GatedCache<T>& cache,
                    const Mat<T>& dh_seed, GatedGrads<T>& grads);

// One step's diagnostics (the gated chains' future timesteps.csv columns). Norms are per-example
// RMS over the batch, sqrt(mean_i ‖v_i‖²). Saturated: σ' = s(1−s) < τ/4 for a σ gate, 1 − g² < τ
// for a tanh gate; mean and saturated share are over the H·B entries (NaN where one is not finite).
struct GateStepStats {
  double mean = nan_v, saturated_frac = nan_v;
};
struct GatedStepRow {
  int t = 0;
  std::array<GateStepStats, max_gates> gate;  // in the cell's gate order (the last unused: GRU)
  double dh_norm = nan_v;                     // RMS ‖∂ℓ/∂h_t‖
  double dc_norm = nan_v;                     // LSTM: RMS ‖∂ℓ/∂c_t‖ (GRU: NaN)
  double da_norm = nan_v;                // RMS ‖∂ℓ/∂a_t‖, a_t every gate's pre-activation
  double grad_whh_contrib_norm = nan_v;  // ‖(1/B) Σ_i r_t,i h_{t-1,i}ᵀ‖_F (0 at t = 1)
  // the same for each gate's block of rows of W_hh (their squares sum to the whole's square)
  std::array<double, max_gates> grad_whh_gate_contrib_norm{nan_v, nan_v, nan_v, nan_v};
};
// Rows t = 1..T appended to rows (the steps spread over the OpenMP threads). scratch: outer_norm's
// (metrics.h), one per thread, reused.
template <class T>
void gated_step_rows(const Gated<T>& net, const GatedCache<T>& cache, const GatedGrads<T>& grads,
                     double saturation_tau, std::vector<GatedStepRow>& rows,
                     ProbeScratch<T>& scratch);

}  // namespace gl
