// The gated chains' run (model.type "lstm" and "gru"; docs/reference.md §3, §4.2, §4.4): the RNN
// run's structure (run_rnn.cpp) around harness/nn/gated_net.h. Probes measure every time step on
// the fixed probe set; training is the optimizer and rules of train.* (harness/nn/optim.h) over
// every tensor of gated_net_tensors, with global-norm clipping and checkpoints as the RNN's.
// gradient_ratio compares ‖∂ℓ/∂h_t‖ at t = 1 and T (the last step's loss only); for the LSTM,
// cell_gradient_ratio does the same with ‖∂ℓ/∂c_t‖.
#include <fmt/format.h>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <type_traits>

#include "experiments/chain_dump.h"
#include "experiments/chain_train.h"
#include "experiments/run.h"
#include "harness/core/io.h"
#include "harness/data/tasks.h"
#include "harness/nn/gated_net.h"
#include "harness/nn/optim.h"

namespace gl {

namespace {

template <class T>
struct GatedRun {
  const RunSpec& spec;
  const Config& c;
  SeqData<T> data;
  Rng test_start;  // the test stream before its first draw: the same set every probe
  GatedNet<T> net;
  Optim<T> optim;  // the parameter list and the optimizer's state (harness/nn/optim.h)
  SeqBatch<T> probe, batch, test;
  // One history for the training batches, the probe set and the test chunks (run_rnn.cpp).
  GatedNetCache<T> cache;
  GatedNetGrads<T> grads;  // the training batch's, then the probe's (every loss)
  GatedNetGrads<T> plast;  // probe: the last step's loss only (loss_at every_step)
  Mat<T> dy, dy_last;
  std::vector<GatedStepRow> step_rows;
  ProbeScratch<T> scratch;
  Eigen::VectorXd lossv, lossi;  // per (step, example) losses; per example ℓ_i
  RunResult out;
  json first_nonfinite;  // null until something is non-finite
  std::vector<double> probe_times, step_times;
  Clock::time_point t0 = Clock::now();

  explicit GatedRun(const RunSpec& s) : spec(s), c(s.config) {}
};

// The first non-finite quantity of a probe, in the order the computation produced it: forward
// t = 1..T (gate, cell, act), the loss, backward t = T..1 (dh, dc, dgate), step t's ∂L/∂W_hh
// share, the parameter gradients.
template <class T>
json locate_nonfinite(GatedRun<T>& r, size_t first_row, int64_t step, double loss) {
  const GatedCache<T>& c = r.cache.cell;
  const GatedGrads<T>& g = r.grads.cell;
  const bool lstm = r.net.cell.kind == CellKind::lstm;
  const Index B = c.batch, steps = c.steps;
  auto at = [&](Index t, const char* q) { return json{{"step", step}, {"t", t}, {"quantity", q}}; };
  for (Index t = 1; t <= steps; ++t) {
    if (!block_finite(c.gate, (t - 1) * B, B)) return at(t, "gate");
    if (lstm && !block_finite(c.c, t * B, B)) return at(t, "cell");
    if (!block_finite(c.h, t * B, B)) return at(t, "act");
  }
  if (!std::isfinite(loss)) return {{"step", step}, {"t", nullptr}, {"quantity", "loss"}};
  for (Index t = steps; t >= 1; --t) {
    if (!block_finite(g.dh, (t - 1) * B, B)) return at(t, "dh");
    if (lstm && !block_finite(g.dc, (t - 1) * B, B)) return at(t, "dc");
    if (!block_finite(g.da, (t - 1) * B, B)) return at(t, "dgate");
  }
  for (Index t = 1; t <= steps; ++t)
    if (!std::isfinite(r.out.timesteps[first_row + static_cast<size_t>(t - 1)].grad_w_contrib_norm))
      return at(t, "grad_w");
  json found = nullptr;
  gated_grads_tensors(r.grads, [&](const char* name, const auto& m) {
    if (found.is_null() && count_nonfinite(m.data(), m.size()) > 0)
      found = {{"step", step}, {"t", nullptr}, {"quantity", name}};
  });
  return found;
}

// Classification error (or the task's error rule) over the held-out set, regenerated from the
// start of the test stream in chunks no larger than the probe set or a training batch (the
// history they already hold).
template <class T>
double test_error(GatedRun<T>& r) {
  r.data.test_rng = r.test_start;
  const int64_t chunk = std::min<int64_t>(1000, std::max(r.c.probe.samples, r.c.train.batch_size));
  Index wrong = 0, total = 0;
  for (int64_t i0 = 0; i0 < r.c.data.test_samples; i0 += chunk) {
    const Index nb = static_cast<Index>(std::min<int64_t>(chunk, r.c.data.test_samples - i0));
    seq_sample(r.data, Split::test, nb, r.test);
    gated_net_forward(r.net, r.test.x, r.test.steps, nb, r.cache);
    wrong += loss_error_count(r.c.loss, r.cache.yhat, r.test.y, 0.04);
    total += r.cache.yhat.cols();
  }
  return static_cast<double>(wrong) / static_cast<double>(total);
}

// One probe step's tensors (docs/reference.md §5): the parameters and the gradients of L under
// their gated_net_tensors names, the probe set, and per example (examples × T × F): h_t,
// ∂ℓ_i/∂h_t, every gate's activation (F = G·H, the cell's gate order), ∂ℓ_i/∂a_t (the gates'
// pre-activations), and for the LSTM c_t and ∂ℓ_i/∂c_t.
template <class T>
void dump_gated_tensors(GatedRun<T>& r, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto write = [&](const char* name, const auto& m) {
    if constexpr (std::is_same_v<std::decay_t<decltype(m)>, Vec<T>>)
      npy_write_vector(dir + "/" + name + ".npy", m);
    else
      npy_write_matrix(dir + "/" + name + ".npy", m);
  };
  gated_net_tensors(r.net, write);
  gated_grads_tensors(r.grads, write);
  const GatedCache<T>& c = r.cache.cell;
  const GatedGrads<T>& g = r.grads.cell;
  const Index N = r.probe.batch, steps = r.probe.steps;
  npy_write_steps<T>(dir + "/h.npy", c.h.middleCols(N, steps * N), steps, N);  // block 0: h_0
  npy_write_steps<T>(dir + "/dh.npy", g.dh, steps, N);
  npy_write_steps<T>(dir + "/gate.npy", c.gate, steps, N);
  npy_write_steps<T>(dir + "/da.npy", g.da, steps, N);
  if (r.net.cell.kind == CellKind::lstm) {
    npy_write_steps<T>(dir + "/cell.npy", c.c.middleCols(N, steps * N), steps, N);
    npy_write_steps<T>(dir + "/dcell.npy", g.dc, steps, N);
  }
  chain_dump_xy(dir, r.probe, r.data.labels, r.net.cell.inputs, r.net.loss_at);
}

// RMS over the examples of a (rows, ≥ n·B) time-major matrix's block t (1-based).
template <class T>
double block_rms(const Mat<T>& m, Index t, Index B) {
  return stable_norm(m.data() + (t - 1) * B * m.rows(), B * m.rows()) /
         std::sqrt(static_cast<double>(B));
}

template <class T>
void gated_probe(GatedRun<T>& r, int64_t step, const std::string& run_dir) {
  const Config& c = r.c;
  const Index N = r.probe.batch, steps = r.probe.steps;
  const bool every = r.net.loss_at == LossAt::every_step;
  const auto tp = Clock::now();
  chain_probe_pass(
      r, r.grads, r.plast, every, [&] { gated_net_forward(r.net, r.probe.x, steps, N, r.cache); },
      [&](const Mat<T>& dy, GatedNetGrads<T>& g) {
        gated_net_backward(r.net, r.probe.x, r.cache, dy, g);
      });
  const GatedNetGrads<T>& lastg = every ? r.plast : r.grads;
  const size_t first = r.out.timesteps.size();
  gated_timestep_rows(r.net, r.cache, r.grads, every ? &r.plast : nullptr, c.probe.saturation_tau,
                      step, r.out.timesteps, r.step_rows, r.scratch);
  r.probe_times.push_back(seconds_since(tp));

  StepRow s;
  s.step = step;
  s.probe_loss = r.lossi.mean();
  s.probe_error = loss_error_rate(c.loss, r.cache.yhat, r.probe.y, 0.04);
  if (r.first_nonfinite.is_null())
    r.first_nonfinite = locate_nonfinite(r, first, step, s.probe_loss);

  // gradient_ratio = ‖∂ℓ/∂h_1‖/‖∂ℓ/∂h_T‖ (RMS over the probe set), the last step's loss only;
  // the LSTM's cell path: cell_gradient_ratio from ‖∂ℓ/∂c_t‖
  const Mat<T>& dh = lastg.cell.dh;
  const double d1 = block_rms(dh, 1, N), dT = block_rms(dh, steps, N);
  const bool lstm = r.net.cell.kind == CellKind::lstm;
  const json cell =
      lstm ? json_num(block_rms(lastg.cell.dc, 1, N) / block_rms(lastg.cell.dc, steps, N))
           : json(nullptr);
  if (step == 0) {
    summary_gradient<T>(r.out.summary, d1, dT, steps, dh.leftCols(N),
                        dh.middleCols((steps - 1) * N, N), c.probe.verdict);
    r.out.summary["cell_gradient_ratio"] = cell;
  }
  summary_final_gradient(r.out.summary, d1, dT, steps, c.probe.verdict);
  r.out.summary["final_cell_gradient_ratio"] = cell;

  chain_update_stats(s, c.train, r.optim);  // W_hh (rec) and W_ih (in), as the RNN's W, U

  if (dump_at(c.probe.dump_tensors, step))
    dump_gated_tensors(r, run_dir + "/tensors/step_" + std::to_string(step));
  if (c.train.steps > 0) s.test_error = test_error(r);
  s.elapsed_s = seconds_since(r.t0);
  r.out.steps.push_back(s);
}

}  // namespace

template <class T>
RunResult run_gated(const RunSpec& spec, const std::string& run_dir, TrainProgress* progress) {
  GatedRun<T> r(spec);
  const Config& c = spec.config;
  r.data = seq_data_make<T>(c, spec.data_seed);
  r.test_start = r.data.test_rng;
  Rng rng = rng_make(spec.seed);
  r.net = gated_net_init<T>({r.data.inputs, c.model.width, r.data.outputs}, c.model, rng);
  seq_sample(r.data, Split::probe, c.probe.samples, r.probe);
  if (c.train.steps > 0) {
    gated_params(r.net, r.grads, r.optim);
    optim_make(c.train, r.optim, spec.seed);
  }

  const auto forward = [&] {
    gated_net_forward(r.net, r.batch.x, r.batch.steps, r.batch.batch, r.cache);
  };
  const auto backward = [&] {
    gated_net_backward(r.net, r.batch.x, r.cache, r.dy, r.grads);
    gated_params(r.net, r.grads, r.optim);
  };
  const auto tensors = [&](Ckpt& ck) {
    gated_net_tensors(r.net, [&](const char*, auto& m) { ck.io(m); });
  };
  const auto grads_norm = [&] { return gated_grads_norm(r.grads); };
  return chain_train(r, rng, run_dir, progress, forward, backward, grads_norm, tensors,
                     [&](int64_t step) { gated_probe(r, step, run_dir); });
}

template RunResult run_gated<float>(const RunSpec&, const std::string&, TrainProgress*);
template RunResult run_gated<double>(const RunSpec&, const std::string&, TrainProgress*);

}  // namespace gl
