// The RNN run (docs/reference.md §3 RNN keys, §4.2 timesteps.csv, §4.4 summary): the MLP run's
// structure (experiments/run_mlp.cpp) for a weight-shared chain. Probes on the schedule measure
// every time step t = 1..T on the fixed probe set; training is the optimizer and rules of train.*
// (harness/nn/optim.h) with global-norm clipping over all parameters (Pascanu's Algorithm 1), with
// checkpoints every train.checkpoint_every steps (experiments/checkpoint.h).
// probe.histograms and probe.jacobian are per-layer (MLP) quantities; a chain does not write them.
#include <fmt/format.h>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "experiments/chain_dump.h"
#include "experiments/chain_train.h"
#include "experiments/run.h"
#include "harness/core/io.h"
#include "harness/data/tasks.h"
#include "harness/nn/optim.h"
#include "harness/nn/rnn.h"

namespace gl {

namespace {

template <class T>
struct RnnRun {
  const RunSpec& spec;
  const Config& c;
  SeqData<T> data;
  Rng test_start;  // the test stream before its first draw: the same set every probe
  Rnn<T> net;
  Optim<T> optim;  // the parameter list and the optimizer's state (harness/nn/optim.h)
  SeqBatch<T> probe, batch, test;
  // One history for the training batches and the probe set: a probe comes after its step's
  // update, and the next step starts afresh (W3: the history is 164 MB; a second one doubled RSS).
  RnnCache<T> cache;
  RnnCache<T>& pcache = cache;
  RnnGrads<T> grads;
  RnnGrads<T>& pgrads = grads;  // probe: every loss
  RnnGrads<T> plast;            // probe: the last step's loss only (every_step)
  Mat<T> dy, dy_last;
  Mat<T> test_yhat, test_h, test_hn;
  RnnRowScratch<T> rows_scratch;
  Eigen::VectorXd lossv, lossi;  // per (step, example) losses; per example ℓ_i
  RunResult out;
  json first_nonfinite;  // null until something is non-finite
  std::vector<double> probe_times, step_times;
  Clock::time_point t0 = Clock::now();

  explicit RnnRun(const RunSpec& s) : spec(s), c(s.config) {}
};

// The first non-finite quantity of a probe, in the order the computation produced it: forward
// t = 1..T (preact, act), the loss, backward t = T..1 (dh, delta), step t's ∂L/∂W share, the
// parameter gradients.
template <class T>
json locate_nonfinite(const RnnRun<T>& r, size_t first_row, int64_t step, double loss) {
  const RnnCache<T>& c = r.pcache;
  const RnnGrads<T>& g = r.pgrads;
  const Index B = c.batch, steps = c.steps;
  auto at = [&](Index t, const char* q) { return json{{"step", step}, {"t", t}, {"quantity", q}}; };
  for (Index t = 1; t <= steps; ++t) {
    if (!block_finite(c.z, (t - 1) * B, B)) return at(t, "preact");
    if (!block_finite(c.h, t * B, B)) return at(t, "act");
  }
  if (!std::isfinite(loss)) return {{"step", step}, {"t", nullptr}, {"quantity", "loss"}};
  for (Index t = steps; t >= 1; --t) {
    if (!block_finite(g.dh, (t - 1) * B, B)) return at(t, "dh");
    if (!block_finite(g.dz, (t - 1) * B, B)) return at(t, "delta");
  }
  for (Index t = 1; t <= steps; ++t)
    if (!std::isfinite(r.out.timesteps[first_row + static_cast<size_t>(t - 1)].grad_w_contrib_norm))
      return at(t, "grad_w");
  const std::pair<const char*, const T*> params[] = {{"dW_rec", g.dW.data()},
                                                     {"dU", g.dU.data()},
                                                     {"db", g.db.data()},
                                                     {"dV", g.dV.data()},
                                                     {"dc", g.dc.data()}};
  const Index sizes[] = {g.dW.size(), g.dU.size(), g.db.size(), g.dV.size(), g.dc.size()};
  for (size_t k = 0; k < 5; ++k)
    if (count_nonfinite(params[k].second, sizes[k]) > 0)
      return {{"step", step}, {"t", nullptr}, {"quantity", params[k].first}};
  return nullptr;
}

// One probe step's tensors (docs/reference.md §5): the parameters, the gradients of L, the probe
// set, and per example h_t, z_t and ∂ℓ_i/∂h_t (examples × T × width).
template <class T>
void dump_rnn_tensors(const RnnRun<T>& r, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const Rnn<T>& net = r.net;
  const RnnGrads<T>& g = r.pgrads;
  npy_write_matrix(dir + "/W_rec.npy", net.W);
  npy_write_matrix(dir + "/U.npy", net.U);
  npy_write_vector(dir + "/b.npy", net.b);
  npy_write_matrix(dir + "/V.npy", net.V);
  npy_write_vector(dir + "/c.npy", net.c);
  npy_write_matrix(dir + "/dW_rec.npy", g.dW);
  npy_write_matrix(dir + "/dU.npy", g.dU);
  npy_write_vector(dir + "/db.npy", g.db);
  npy_write_matrix(dir + "/dV.npy", g.dV);
  npy_write_vector(dir + "/dc.npy", g.dc);
  const Index N = r.probe.batch, steps = r.probe.steps;
  npy_write_steps<T>(dir + "/dh.npy", g.dh, steps, N);
  const RnnCache<T>& c = r.pcache;  // h: block 0 is h_0 = 0, then h_1..h_T
  npy_write_steps<T>(dir + "/h.npy", c.h.middleCols(N, steps * N), steps, N);
  npy_write_steps<T>(dir + "/z.npy", c.z, steps, N);
  chain_dump_xy(dir, r.probe, r.data.labels, net.inputs, net.loss_at);
}

// Classification error (or the task's error rule) over the held-out set, regenerated from the
// start of the test stream in chunks of ≤ 1000 sequences (no history kept: rnn_predict).
template <class T>
double test_error(RnnRun<T>& r) {
  r.data.test_rng = r.test_start;
  Index wrong = 0, total = 0;  // counts: the error rate is one division (0.744, not a sum)
  for (int64_t i0 = 0; i0 < r.c.data.test_samples; i0 += 1000) {
    const Index nb = static_cast<Index>(std::min<int64_t>(1000, r.c.data.test_samples - i0));
    seq_sample(r.data, Split::test, nb, r.test);
    rnn_predict(r.net, r.test.x, r.test.steps, nb, r.test_yhat, r.test_h, r.test_hn);
    wrong += loss_error_count(r.c.loss, r.test_yhat, r.test.y, 0.04);
    total += r.test_yhat.cols();
  }
  return static_cast<double>(wrong) / static_cast<double>(total);
}

template <class T>
void rnn_probe(RnnRun<T>& r, int64_t step, const std::string& tensor_dir) {
  const Config& c = r.c;
  const Index N = r.probe.batch, steps = r.probe.steps;
  const bool every = r.net.loss_at == LossAt::every_step;
  const auto tp = Clock::now();
  chain_probe_pass(
      r, r.pgrads, r.plast, every, [&] { rnn_forward(r.net, r.probe.x, steps, N, r.pcache); },
      [&](const Mat<T>& dy, RnnGrads<T>& g) { rnn_backward(r.net, r.probe.x, r.pcache, dy, g); });
  const RnnGrads<T>& lastg = every ? r.plast : r.pgrads;
  const size_t first = r.out.timesteps.size();
  rnn_timestep_rows(r.net, r.pcache, r.pgrads, every ? &r.plast : nullptr, c.probe.saturation_tau,
                    step, r.out.timesteps, r.rows_scratch);
  r.probe_times.push_back(seconds_since(tp));

  StepRow s;
  s.step = step;
  s.probe_loss = r.lossi.mean();
  s.probe_error = loss_error_rate(c.loss, r.pcache.yhat, r.probe.y, 0.04);
  s.spectral_radius = rnn_spectral_radius(r.net.W);  // not part of probe_s (an O(H³) solve)
  s.sigma_max = rnn_sigma_max(r.net.W);
  chain_update_stats(s, c.train, r.optim);

  if (r.first_nonfinite.is_null())
    r.first_nonfinite = locate_nonfinite(r, first, step, s.probe_loss);

  // docs/reference.md §4.4: gradient_ratio = dz_norm(t = 1)/dz_norm(t = T), the last step's loss
  // only; at step 0 and (final_*) at every probe, the last one's staying.
  const Index H = r.net.width();
  const double rb = std::sqrt(static_cast<double>(N));
  const double d1 = stable_norm(lastg.dz.data(), H * N) / rb;
  const double dT = stable_norm(lastg.dz.data() + (steps - 1) * N * H, H * N) / rb;
  if (step == 0) {
    summary_gradient<T>(r.out.summary, d1, dT, steps, lastg.dz.leftCols(N),
                        lastg.dz.middleCols((steps - 1) * N, N), c.probe.verdict);
  }
  summary_final_gradient(r.out.summary, d1, dT, steps, c.probe.verdict);
  if (dump_at(c.probe.dump_tensors, step))
    dump_rnn_tensors(r, tensor_dir + "/step_" + std::to_string(step));

  if (c.train.steps > 0) s.test_error = test_error(r);
  s.elapsed_s = seconds_since(r.t0);
  r.out.steps.push_back(s);
}

}  // namespace

template <class T>
RunResult run_rnn(const RunSpec& spec, const std::string& run_dir, TrainProgress* progress) {
  const std::string tensor_dir = run_dir + "/tensors";
  RnnRun<T> r(spec);
  const Config& c = spec.config;
  r.data = seq_data_make<T>(c, spec.data_seed);
  r.test_start = r.data.test_rng;
  Rng rng = rng_make(spec.seed);
  r.net = rnn_init<T>({r.data.inputs, c.model.width, r.data.outputs}, c.model, rng);
  seq_sample(r.data, Split::probe, c.probe.samples, r.probe);
  if (c.train.steps > 0) {
    rnn_params(r.net, r.grads, r.optim);
    optim_make(c.train, r.optim, spec.seed);
  }

  const auto forward = [&] {
    rnn_forward(r.net, r.batch.x, r.batch.steps, r.batch.batch, r.cache, &rng);
  };
  const auto backward = [&] {
    rnn_backward(r.net, r.batch.x, r.cache, r.dy, r.grads);
    rnn_params(r.net, r.grads, r.optim);
  };
  const auto tensors = [&](Ckpt& ck) {
    ck.io(r.net.W), ck.io(r.net.U), ck.io(r.net.b), ck.io(r.net.V), ck.io(r.net.c);
    ck.io(r.net.slope);
  };
  const auto grads_norm = [&] { return rnn_grads_norm(r.grads); };
  return chain_train(r, rng, run_dir, progress, forward, backward, grads_norm, tensors,
                     [&](int64_t step) { rnn_probe(r, step, tensor_dir); });
}

template RunResult run_rnn<float>(const RunSpec&, const std::string&, TrainProgress*);
template RunResult run_rnn<double>(const RunSpec&, const std::string&, TrainProgress*);

}  // namespace gl
