// Per-layer statistics of a probe (docs/reference.md §4.1), computed from a forward/backward on the
// probe set. Everything accumulates in double; norms are scaled where needed so that a float64 run
// reads neither 0 nor inf where every entry is finite.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "harness/core/closed_set.h"
#include "harness/core/types.h"
#include "harness/nn/mlp.h"

namespace gl {

struct ProbeConfig;  // harness/core/config.h

// The bins of the histograms: linear in the value, or in log10 |value|.
enum class HistScale { linear, log10abs, count };
inline constexpr std::string_view hist_scale_names[] = {"linear", "log10abs"};
static_assert(std::size(hist_scale_names) == count_of<HistScale>);

// ---- output rows (docs/reference.md §4) ----
// Each row type is described once by its field list, row_fields(row, f), which calls
// f(column name, member, cell) for every member in column order. The CSV header and writer
// (experiments/tables.h) and the checkpoint (experiments/checkpoint.cpp) are generated from it:
// a column is added by a struct member and one line at the END of its list (columns only
// append). Visitors declare `Cell cell = Cell::value`: most lines omit it.

// How a field appears in its table.
enum class Cell {
  value,      // its value (integers as integers, doubles by num_text, an empty optional empty)
  blank,      // an empty cell (the value is kept in checkpoints only)
  nonfinite,  // the word "nonfinite"
  none,       // not a column (checkpoints only)
};

template <class Row, class Want>
concept RowOf = std::is_same_v<std::remove_const_t<Row>, Want>;

// One row of layers.csv (without the leading run columns). Empty cells are nullopt.
struct LayerRow {
  int64_t step = 0;
  int layer = 0;
  Index fan_in = 0, fan_out = 0;
  double preact_mean = 0, preact_std = 0, preact_ms = 0;
  double act_mean = 0, act_std = 0, act_p98 = 0;
  double dphi_mean = 0;
  // Empty for the output layer (affine: they do not apply) and where z_l or φ'(z_l) is not finite
  // (NaN is neither saturated nor dead); zero_grad_frac is empty where δ_l is not finite.
  std::optional<double> saturated_frac, dead_frac, stuck_frac, zero_grad_frac;
  double delta_norm = 0;
  std::optional<double> delta_factor;
  double grad_w_norm = 0, grad_b_norm = 0, w_norm = 0, grad_w_ratio = 0;
  int64_t nonfinite = 0;
  std::optional<double> jac_sv_mean, theory_q, theory_delta_factor;
  double act_absmax = 0;
  // Residual / norm nets (empty elsewhere): the stream's gradient at the stream value the row
  // reads, and the row's norm layer.
  std::optional<double> stream_grad_norm, prenorm_mean, prenorm_std, grad_gamma_norm,
      grad_beta_norm;
  // Training (harness/nn/optim.h), of W_l; empty at step 0 and where not measured.
  std::optional<double> update_ratio, update_ratio_mean, effective_lr;
  // Where non-finite values are (not written as columns; they locate first_nonfinite).
  int64_t nonfinite_z = 0, nonfinite_a = 0, nonfinite_delta = 0, nonfinite_dw = 0;
};

template <RowOf<LayerRow> Row, class F>
void row_fields(Row& r, F&& f) {
  f("step", r.step);
  f("layer", r.layer);
  f("fan_in", r.fan_in);
  f("fan_out", r.fan_out);
  f("preact_mean", r.preact_mean);
  f("preact_std", r.preact_std);
  f("preact_ms", r.preact_ms);
  f("act_mean", r.act_mean);
  f("act_std", r.act_std);
  f("act_p98", r.act_p98);
  f("dphi_mean", r.dphi_mean);
  f("saturated_frac", r.saturated_frac);
  f("dead_frac", r.dead_frac);
  f("stuck_frac", r.stuck_frac);
  f("zero_grad_frac", r.zero_grad_frac);
  f("delta_norm", r.delta_norm);
  f("delta_factor", r.delta_factor);
  f("grad_w_norm", r.grad_w_norm);
  f("grad_b_norm", r.grad_b_norm);
  f("w_norm", r.w_norm);
  f("grad_w_ratio", r.grad_w_ratio);
  f("nonfinite", r.nonfinite);
  f("jac_sv_mean", r.jac_sv_mean);
  f("theory_q", r.theory_q);
  f("theory_delta_factor", r.theory_delta_factor);
  // max over units and probe examples of |a_l|: NaN if some a is NaN (as act_p98), else inf if
  // some a is ±inf.
  f("act_absmax", r.act_absmax);
  // residual: RMS over examples of ‖∂ℓ/∂h‖ for the stream value h the row reads (the input
  // projection: its output h_1; a block's first layer: the block's input; the output layer: the
  // last h)
  f("stream_grad_norm", r.stream_grad_norm);
  // norm: mean and std over units and examples of the values entering the row's norm layer
  f("prenorm_mean", r.prenorm_mean);
  f("prenorm_std", r.prenorm_std);
  f("grad_gamma_norm", r.grad_gamma_norm);  // ‖∂L/∂γ‖ of the row's norm layer
  f("grad_beta_norm", r.grad_beta_norm);    // ‖∂L/∂β‖
  // ‖ΔW_l‖/‖W_l‖ of the probe step's update (‖W_l‖ after it); its mean over the steps since the
  // previous probe (empty for plain SGD's fused step); the rate of W_l's last step (sgd) or the
  // median over W_l's weights of lr/(√v̂ + ε) (adaptive optimizers).
  f("update_ratio", r.update_ratio);
  f("update_ratio_mean", r.update_ratio_mean);
  f("effective_lr", r.effective_lr);
  f("nonfinite_z", r.nonfinite_z, Cell::none);
  f("nonfinite_a", r.nonfinite_a, Cell::none);
  f("nonfinite_delta", r.nonfinite_delta, Cell::none);
  f("nonfinite_dw", r.nonfinite_dw, Cell::none);
}

// One row of timesteps.csv (RNN, docs/reference.md §4.2), without the leading run columns.
struct TimestepRow {
  int64_t step = 0;
  int t = 0;                           // 1..T
  double h_norm = 0;                   // per-example RMS of ‖h_t‖
  double dh_norm = 0;                  // per-example RMS of ‖∂ℓ/∂h_t‖
  double dz_norm = 0;                  // the same for z_t (comparable with an MLP's delta_norm)
  std::optional<double> dh_last_norm;  // loss_at every_step: the part from the last step's loss
  std::optional<double> saturated_frac, dead_frac;  // empty where z_t or φ'(z_t) is not finite
  double grad_w_contrib_norm = 0;                   // ‖Σ_i δ_t,i h_{t-1,i}ᵀ‖_F / N
  // Gated chains (lstm, gru; empty for an rnn): the LSTM's RMS ‖∂ℓ/∂c_t‖, and per gate (slots
  // chain_gate_names) its mean value, saturated share and share of ∂L/∂W_hh's gate block.
  std::optional<double> dc_norm;
  std::array<std::optional<double>, 7> gate_mean, gate_saturated_frac, gate_whh_contrib_norm;
};

// The gate slots of TimestepRow: the LSTM's i, f, g, o, then the GRU's r, z, n, and their columns.
inline constexpr std::string_view chain_gate_names[] = {"i", "f", "g", "o", "r", "z", "n"};
inline constexpr std::string_view gate_mean_columns[] = {
    "gate_i_mean", "gate_f_mean", "gate_g_mean", "gate_o_mean",
    "gate_r_mean", "gate_z_mean", "gate_n_mean"};
inline constexpr std::string_view gate_saturated_columns[] = {
    "gate_i_saturated_frac", "gate_f_saturated_frac", "gate_g_saturated_frac",
    "gate_o_saturated_frac", "gate_r_saturated_frac", "gate_z_saturated_frac",
    "gate_n_saturated_frac"};
inline constexpr std::string_view gate_whh_columns[] = {
    "grad_whh_i_contrib_norm", "grad_whh_f_contrib_norm", "grad_whh_g_contrib_norm",
    "grad_whh_o_contrib_norm", "grad_whh_r_contrib_norm", "grad_whh_z_contrib_norm",
    "grad_whh_n_contrib_norm"};

template <RowOf<TimestepRow> Row, class F>
void row_fields(Row& r, F&& f) {
  f("step", r.step);
  f("t", r.t);
  f("h_norm", r.h_norm);
  f("dh_norm", r.dh_norm);
  f("dz_norm", r.dz_norm);
  f("dh_last_norm", r.dh_last_norm);
  f("saturated_frac", r.saturated_frac);
  f("dead_frac", r.dead_frac);
  f("grad_w_contrib_norm", r.grad_w_contrib_norm);
  f("dc_norm", r.dc_norm);
  for (size_t k = 0; k < std::size(chain_gate_names); ++k) {
    f(gate_mean_columns[k], r.gate_mean[k]);
    f(gate_saturated_columns[k], r.gate_saturated_frac[k]);
    f(gate_whh_columns[k], r.gate_whh_contrib_norm[k]);
  }
}

// ---- building blocks (tested on hand-built cases) ----

// sqrt(Σ x²), scaled so that it does not overflow or underflow for finite entries; NaN if any
// entry is NaN, inf if any is ±inf (and none is NaN).
template <class T>
double stable_norm(const T* x, Index n);
// The q-th percentile (q in [0, 100]) of |x| with linear interpolation, as numpy.percentile;
// NaN if any entry is NaN. scratch is reused (no allocation once large enough).
template <class T>
double abs_percentile(const T* x, Index n, double q, std::vector<double>& scratch);
template <class T>
int64_t count_nonfinite(const T* x, Index n);

struct SaturationCounts {
  double saturated_frac = 0, dead_frac = 0, stuck_frac = 0, dphi_mean = 0;
};
// dphi: (units, examples) of φ'(z). Saturated: |φ'| < tau·sup (sup == 0: φ' ≡ 0, all saturated);
// dead unit: φ' exactly 0 for every example; stuck unit: saturated for every example.
template <class T>
SaturationCounts saturation_counts(const Eigen::Ref<const Mat<T>>& dphi, double tau, double sup);

// Fraction of columns (examples) that are exactly zero.
template <class T>
double zero_column_frac(const Mat<T>& m);

// Mean singular value of J (over its min(rows, cols) singular values), from the eigenvalues of
// the smaller Gram matrix (Glorot 2010 eq. 17 uses it on diag(φ'(z_l)) W_l).
double singular_value_mean(const Mat<double>& J);
// Moments of the squared singular values of J (the eigenvalues of J Jᵀ, J: (n_out, n_in)):
// m1 = tr(JJᵀ)/n_out, m2 = tr((JJᵀ)²)/n_out.
void squared_sv_moments(const Mat<double>& J, double& m1, double& m2);

// ---- ∂L/∂W without storing it ----

// Scratch of outer_norm and of a probe's statistics, reused from probe to probe.
template <class T>
struct StatScratch {
  std::vector<double> sorted;  // abs_percentile
  Mat<double> d, a, gd, ga;    // outer_norm: scaled copies and their B×B Gram matrices
  Mat<T> product;              // outer_norm: the (m, n) product, where it is formed
};
template <class T>
using ProbeScratch = std::vector<StatScratch<T>>;  // one per OpenMP thread

struct OuterNorm {
  double norm = 0;
  int64_t nonfinite = 0;  // non-finite entries of the product
};
// ‖(1/B) Σ_i d_i a_iᵀ‖_F for d (m, B), a (n, B): the norm of ∂L/∂W_l from δ_l and a_{l-1}. Where
// B·(m + n) < m·n/2 it uses the identity ‖Σ_i d_i a_iᵀ‖²_F = Σ_{i,j} (d_i·d_j)(a_i·a_j): two B×B
// Gram matrices in double, each factor scaled by its largest |entry|, instead of the (m, n)
// product (W1: 10×10 instead of 1000×1000). It forms the product in T, as mlp_backward does, and
// scans it when that is cheaper, when an entry of d or a is not finite (the product's non-finite
// entries are then counted), or when the Gram sum cancels (below half of Σ|terms|).
template <class T>
OuterNorm outer_norm(const Eigen::Ref<const Mat<T>>& d, const Eigen::Ref<const Mat<T>>& a,
                     StatScratch<T>& s);

// Global L2 norm of all parameter gradients as mlp_grads_norm (optim.h), with each ∂L/∂W_l taken
// by outer_norm from the cache's a_{l-1} and grads' δ_l: for a backward that stored no ∂L/∂W.
template <class T>
double mlp_grads_norm_outer(const MlpCache<T>& cache, const MlpGrads<T>& grads, StatScratch<T>& s);

// ---- the probe ----

// Rows for layers 1..L+1 of one probe step; jac/theory columns are left empty. grad_w_norm from
// grads.dW when the backward stored it (grads.has_dw), else by outer_norm. With several OpenMP
// threads the layers are shared among them (each row is computed by one thread, the same way).
template <class T>
void mlp_layer_rows(const Mlp<T>& net, const MlpCache<T>& cache, const MlpGrads<T>& grads,
                    const ProbeConfig& probe, int64_t step, std::vector<LayerRow>& rows,
                    ProbeScratch<T>& scratch);

// ---- histograms (docs/reference.md §4.2) ----

enum class HistQuantity { act, preact, delta, grad_w };
inline constexpr std::array<std::string_view, 4> hist_quantity_names = {"act", "preact", "delta",
                                                                        "grad_w"};

struct HistEdges {
  double lo = 0, hi = 1;  // in the binned variable (x, or log10|x| for log10abs)
};
struct HistRow {
  int64_t step = 0;
  int layer = 0;
  HistQuantity quantity = HistQuantity::act;
  int bin = 0;             // -1 underflow, 0..bins-1, bins overflow
  bool nonfinite = false;  // the row that counts NaN/Inf (bin, lo, hi empty)
  double lo = 0, hi = 0;
  int64_t count = 0;
};

template <RowOf<HistRow> Row, class F>
void row_fields(Row& r, F&& f) {
  f("step", r.step);
  f("layer", r.layer);
  f("quantity", r.quantity);  // by name (hist_quantity_names)
  f("bin", r.bin, r.nonfinite ? Cell::nonfinite : Cell::value);
  f("lo", r.lo, r.nonfinite ? Cell::blank : Cell::value);
  f("hi", r.hi, r.nonfinite ? Cell::blank : Cell::value);
  f("count", r.count);
  f("nonfinite", r.nonfinite, Cell::none);
}

// Edges from the finite range of x (a constant range is widened by ±0.5, or ±|x|/2).
template <class T>
HistEdges hist_edges_from(const T* x, Index n, HistScale scale);
// Appends bins+3 rows (underflow, bins, overflow, non-finite).
template <class T>
void hist_rows(const T* x, Index n, const HistEdges& e, int bins, HistScale scale, int64_t step,
               int layer, HistQuantity q, std::vector<HistRow>& out);

}  // namespace gl
