// One run of an experiment: build the network and data from a resolved Config, probe at the
// scheduled steps (training in between), and return every table row and the summary.
#pragma once

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "experiments/grid.h"
#include "harness/measure/metrics.h"

namespace gl {

struct StepRow {
  int64_t step = 0;
  std::optional<double> loss;  // mean training loss since the previous probe
  double probe_loss = 0, probe_error = 0;
  std::optional<double> test_error;  // only when the run trains (train.steps > 0)
  std::optional<double> grad_norm;   // of the last update (before clipping)
  std::optional<int> clipped;
  std::optional<double> lr;
  std::optional<double> spectral_radius, sigma_max;  // RNN
  double elapsed_s = 0;
  // RNN: the update ratios and effective rates of W (rec) and U (in), as layers.csv's of W_l.
  std::optional<double> update_ratio_rec, update_ratio_rec_mean, effective_lr_rec;
  std::optional<double> update_ratio_in, update_ratio_in_mean, effective_lr_in;
};

template <RowOf<StepRow> Row, class F>
void row_fields(Row& r, F&& f) {
  f("step", r.step);
  f("loss", r.loss);
  f("probe_loss", r.probe_loss);
  f("probe_error", r.probe_error);
  f("test_error", r.test_error);
  f("grad_norm", r.grad_norm);
  f("clipped", r.clipped);
  f("lr", r.lr);
  f("spectral_radius", r.spectral_radius);
  f("sigma_max", r.sigma_max);
  f("elapsed_s", r.elapsed_s,
    Cell::blank);  // wall clock: in summary.json timing (bytes reproducible)
  f("update_ratio_rec", r.update_ratio_rec);
  f("update_ratio_rec_mean", r.update_ratio_rec_mean);
  f("effective_lr_rec", r.effective_lr_rec);
  f("update_ratio_in", r.update_ratio_in);
  f("update_ratio_in_mean", r.update_ratio_in_mean);
  f("effective_lr_in", r.effective_lr_in);
}

struct RunResult {
  std::string status = "ok";  // ok | diverged | failed
  std::string reason;
  std::vector<LayerRow> layers;
  std::vector<StepRow> steps;
  std::vector<HistRow> hists;
  std::vector<TimestepRow> timesteps;  // chains only
  json summary;                        // summary.json
};

// What a training run shows while it trains (docs/reference.md §2, progress): the run's thread
// stores after every step and the progress display reads, through atomics, so that neither waits
// and a step allocates nothing. Times are seconds on the steady clock (steady_seconds).
struct TrainProgress {
  std::atomic<int64_t> step{0}, total{0};  // steps taken; train.steps (0: not training)
  std::atomic<int64_t> start_step{0};      // the step this process started from (resumed: > 0)
  std::atomic<double> start_s{0};          // when it started
  std::atomic<double> loss{0};             // the last step's training loss
};
double steady_seconds();

// Runs spec in its (temporary) run folder: tensors (probe.dump_tensors) go to run_dir/tensors;
// a training run with train.checkpoint_every writes run_dir/checkpoint.bin every so many steps,
// and resumes from it when it is there (the result is the same as an uninterrupted run's).
// Never throws for numerical trouble: NaN/Inf are recorded; other errors give status "failed".
// progress (may be null) is updated after every training step.
RunResult run_execute(const RunSpec& spec, const std::string& run_dir,
                      TrainProgress* progress = nullptr);

// Why mean-field theory gives no theory_q / theory_delta_factor for the config, or "" (an init
// without a σ_w² is found later): chains, maxout, norm layers, a residual α of 0 (ReZero).
inline constexpr const char* theory_reason_chain = "mean-field theory here is for MLPs";
std::string theory_reason(const Config& c);

// The two model kinds' runs (experiments/run_mlp.cpp, run_rnn.cpp), with run_execute's contract;
// the RNN run writes timesteps instead of layers and histograms.
template <class T>
RunResult run_mlp(const RunSpec& spec, const std::string& run_dir,
                  TrainProgress* progress = nullptr);
template <class T>
RunResult run_rnn(const RunSpec& spec, const std::string& run_dir,
                  TrainProgress* progress = nullptr);
// lstm and gru (experiments/run_gated.cpp): as run_rnn.
template <class T>
RunResult run_gated(const RunSpec& spec, const std::string& run_dir,
                    TrainProgress* progress = nullptr);

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Shared by both runs: the median of timings, and the verdict rule of docs/reference.md §4.4:
// "dead" when top_norm (delta_norm(L)) is 0, "nonfinite" when the ratio is not finite, then
// "vanishing" / "exploding" when the ratio or the per-layer factor (absent when L = 1) is past
// its threshold, else "stable".
double median_of(std::vector<double> v);
std::string verdict_of(double gradient_ratio, std::optional<double> per_layer_factor,
                       double top_norm, const VerdictThresholds& t);

// Global-norm clipping (Pascanu's Algorithm 1): the factor that scales every gradient, 1 when
// the norm is below the threshold (or no threshold is set).
double clip_scale(double grad_norm, const std::optional<double>& clip_norm);

// Shared by the chain runs (run_rnn.cpp, run_gated.cpp): ℓ_i = Σ_t ℓ_{i,t} from the per (step,
// example) losses (time-major); whether columns [col, col + cols) of m are all finite.
void example_losses(const Eigen::VectorXd& lossv, Index B, Eigen::VectorXd& li);
template <class T>
bool block_finite(const Mat<T>& m, Index col, Index cols) {
  return count_nonfinite(m.data() + col * m.rows(), cols * m.rows()) == 0;
}

// Training bookkeeping shared by the MLP and RNN loops.
// train_step_s_median is the median over the last step_time_window steps: the window is reserved
// before training (step_times_reserve), so recording a step's time allocates nothing.
constexpr int64_t step_time_window = 4096;
void step_times_reserve(std::vector<double>& times, int64_t steps);
void step_time_record(std::vector<double>& times, int64_t step, double seconds);
// Fills the training columns of the probe row just written (the mean training loss since the
// previous probe, whose accumulator restarts; the last update's gradient norm, clipped flag, lr).
void step_row_train(StepRow& s, double& loss_sum, int64_t& loss_n, double grad_norm, bool clipped,
                    double lr);
// Ends a run as diverged at `step` (non-finite training loss or gradient); `position` names the
// place column of first_nonfinite ("layer" for an MLP, "t" for a chain).
void run_mark_diverged(RunResult& out, json& first_nonfinite, int64_t step, const char* position);

// ---- the summary (docs/reference.md §4.4): one path for every model kind ----
// gradient_ratio = first/last, the norms of δ at the first and the last of n hidden layers (an
// MLP: delta_norm(1)/delta_norm(L)) or time steps (a chain: dz_norm(t = 1)/dz_norm(t = T));
// per_layer_factor = ratio^(2/(n − 1)) (none when n = 1); and their verdict.
struct GradientVerdict {
  double ratio = 0;
  std::optional<double> factor;
  std::string verdict;
};
GradientVerdict gradient_verdict(double first, double last, Index n, const VerdictThresholds& t);
// Step 0: gradient_ratio, per_layer_factor, Hanin's log-ratio statistics over the examples (the
// columns of first_ex and last_ex: units, examples) and verdict.
template <class T>
void summary_gradient(json& sm, double first, double last, Index n,
                      const Eigen::Ref<const Mat<T>>& first_ex,
                      const Eigen::Ref<const Mat<T>>& last_ex, const VerdictThresholds& t);
// Every probe: final_gradient_ratio, final_per_layer_factor, final_verdict, overwritten by each
// probe so that the last one's stay (and a checkpoint, which carries the summary, keeps them).
void summary_final_gradient(json& sm, double first, double last, Index n,
                            const VerdictThresholds& t);
// Ends a run's summary: the final_* entries from its last step row (a diverged run's
// final_verdict is "nonfinite"), first_nonfinite, jac_io (null when not measured) and timing.
void summary_finalize(RunResult& out, const json& first_nonfinite,
                      const std::vector<double>& step_times, const std::vector<double>& probe_times,
                      double total_s);

// The provenance block of summary.json (version, commit, compiler, flags, ISA, BLAS).
json provenance_json(const Config& c, bool flushed_subnormals);

}  // namespace gl
