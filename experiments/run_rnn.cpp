// The RNN run (docs/reference.md §3 RNN keys, §4.2 timesteps.csv, §4.4 summary): the MLP run's
// structure (experiments/run.cpp) for a weight-shared chain. Probes on the schedule measure every
// time step t = 1..T on the fixed probe set; training is minibatch SGD with momentum (v ← μv + g,
// θ ← θ − lr·v) and global-norm clipping over all parameters (Pascanu's Algorithm 1).
// probe.histograms and probe.jacobian are per-layer (MLP) quantities; a chain does not write them.
#include <fmt/format.h>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "experiments/run.h"
#include "harness/core/io.h"
#include "harness/data/tasks.h"
#include "harness/nn/rnn.h"

namespace gl {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <class T>
struct RnnRun {
  const RunSpec& spec;
  const Config& c;
  SeqData<T> data;
  Rng test_start;  // the test stream before its first draw: the same set every probe
  Rnn<T> net;
  Rnn<T> velocity;  // momentum buffers (same shapes as net)
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

// ℓ_i = Σ_t ℓ_{i,t}: per (step, example) losses (time-major) summed over the steps.
void example_losses(const Eigen::VectorXd& lossv, Index B, Eigen::VectorXd& li) {
  li.setZero(B);
  for (Index k = 0; k < lossv.size(); ++k) li(k % B) += lossv(k);
}

template <class T>
bool block_finite(const Mat<T>& m, Index col, Index cols) {
  return count_nonfinite(m.data() + col * m.rows(), cols * m.rows()) == 0;
}

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

// (N, T, F) in C order from a time-major (F, ≥ n·N) matrix holding n ≤ T blocks (the rest 0).
template <class T>
std::vector<T> examples_by_step(const Mat<T>& m, Index blocks, Index steps, Index N) {
  const Index F = m.rows();
  std::vector<T> out(static_cast<size_t>(N * steps * F), T(0));
  for (Index i = 0; i < N; ++i)
    for (Index t = 0; t < blocks; ++t)
      for (Index f = 0; f < F; ++f)
        out[static_cast<size_t>((i * steps + t) * F + f)] = m(f, t * N + i);
  return out;
}

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
  const Index N = r.probe.batch, steps = r.probe.steps, H = net.width();
  const Index xblocks = net.inputs == RnnInputs::every_step ? steps : 1;
  const std::vector<T> x = examples_by_step(r.probe.x, xblocks, steps, N);
  npy_write_array(dir + "/x.npy", x.data(), {N, steps, r.probe.x.rows()});
  const std::vector<T> dh = examples_by_step(g.dh, steps, steps, N);
  npy_write_array(dir + "/dh.npy", dh.data(), {N, steps, H});
  const Targets<T>& y = r.probe.y;
  if (net.loss_at == LossAt::last) {  // (N) labels or (N, outputs)
    if (r.data.labels)
      npy_write_labels(dir + "/y.npy", y.labels);
    else
      npy_write_examples(dir + "/y.npy", y.y);
    return;
  }
  if (r.data.labels) {  // (N, T) labels
    std::vector<int64_t> l(static_cast<size_t>(N * steps));
    for (Index i = 0; i < N; ++i)
      for (Index t = 0; t < steps; ++t)
        l[static_cast<size_t>(i * steps + t)] = y.labels[static_cast<size_t>(t * N + i)];
    npy_write_array(dir + "/y.npy", l.data(), {N, steps});
  } else {  // (N, T, outputs)
    const std::vector<T> v = examples_by_step(y.y, steps, steps, N);
    npy_write_array(dir + "/y.npy", v.data(), {N, steps, y.y.rows()});
  }
}

// Classification error (or the task's error rule) over the held-out set, regenerated from the
// start of the test stream in chunks of ≤ 1000 sequences (no history kept: rnn_predict).
template <class T>
double test_error(RnnRun<T>& r) {
  r.data.test_rng = r.test_start;
  double wrong = 0, total = 0;
  for (int64_t i0 = 0; i0 < r.c.data.test_samples; i0 += 1000) {
    const Index nb = static_cast<Index>(std::min<int64_t>(1000, r.c.data.test_samples - i0));
    seq_sample(r.data, Split::test, nb, r.test);
    rnn_predict(r.net, r.test.x, r.test.steps, nb, r.test_yhat, r.test_h, r.test_hn);
    const auto n = static_cast<double>(r.test_yhat.cols());
    wrong += loss_error_rate(r.c.loss, r.test_yhat, r.test.y, 0.04) * n;
    total += n;
  }
  return wrong / total;
}

template <class T>
void rnn_probe(RnnRun<T>& r, int64_t step, const std::string& tensor_dir) {
  const Config& c = r.c;
  const Index N = r.probe.batch, steps = r.probe.steps;
  const bool every = r.net.loss_at == LossAt::every_step;
  const auto tp = Clock::now();
  rnn_forward(r.net, r.probe.x, steps, N, r.pcache);
  loss_forward(c.loss, r.pcache.yhat, r.probe.y, r.lossv);
  example_losses(r.lossv, N, r.lossi);
  loss_backward(c.loss, r.pcache.yhat, r.probe.y, r.dy);
  rnn_backward(r.net, r.probe.x, r.pcache, r.dy, r.pgrads);
  if (every) {  // a second backward seeded by the last step's loss only: the long-range part
    r.dy_last = r.dy;
    r.dy_last.leftCols((steps - 1) * N).setZero();
    rnn_backward(r.net, r.probe.x, r.pcache, r.dy_last, r.plast);
  }
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

  if (r.first_nonfinite.is_null())
    r.first_nonfinite = locate_nonfinite(r, first, step, s.probe_loss);

  if (step == 0) {
    // docs/reference.md §4.4: gradient_ratio = dz_norm(t = 1)/dz_norm(t = T), the last step's loss
    // only.
    json& sm = r.out.summary;
    const Index H = r.net.width();
    const double rb = std::sqrt(static_cast<double>(N));
    const double d1 = stable_norm(lastg.dz.data(), H * N) / rb;
    const double dT = stable_norm(lastg.dz.data() + (steps - 1) * N * H, H * N) / rb;
    const double ratio = d1 / dT;
    sm["gradient_ratio"] = json_num(ratio);
    sm["per_layer_factor"] =
        steps > 1 ? json_num(std::pow(ratio, 2.0 / static_cast<double>(steps - 1))) : json(nullptr);
    // Hanin's fluctuation measure: ln(‖δ_1,i‖²/‖δ_T,i‖²) over the examples where both are > 0.
    double m = 0, m2 = 0;
    int64_t k = 0;
    for (Index i = 0; i < N; ++i) {
      const double a = stable_norm(lastg.dz.data() + i * H, H);
      const double b = stable_norm(lastg.dz.data() + ((steps - 1) * N + i) * H, H);
      const double v = 2.0 * (std::log(a) - std::log(b));
      if (!std::isfinite(v)) continue;
      ++k;
      const double d = v - m;
      m += d / static_cast<double>(k);
      m2 += d * (v - m);
    }
    sm["log_ratio_mean"] = k > 0 ? json_num(m) : json(nullptr);
    sm["log_ratio_var"] = k > 0 ? json_num(m2 / static_cast<double>(k)) : json(nullptr);
    sm["log_ratio_examples"] = k;
    sm["verdict"] = verdict_of(ratio, dT);
    if (c.probe.dump_tensors) dump_rnn_tensors(r, tensor_dir);
  }

  if (c.train.steps > 0) s.test_error = test_error(r);
  s.elapsed_s = seconds_since(r.t0);
  r.out.steps.push_back(s);
}

template <class T>
void zero_like(Rnn<T>& v) {
  v.W.setZero();
  v.U.setZero();
  v.b.setZero();
  v.V.setZero();
  v.c.setZero();
  v.slope = 0;
}

}  // namespace

template <class T>
RunResult run_rnn(const RunSpec& spec, const std::string& tensor_dir) {
  RnnRun<T> r(spec);
  const Config& c = spec.config;
  r.data = seq_data_make<T>(c, spec.data_seed);
  r.test_start = r.data.test_rng;
  Rng rng = rng_make(spec.seed);
  r.net = rnn_init<T>({r.data.inputs, c.model.width, r.data.outputs}, c.model, rng);
  seq_sample(r.data, Split::probe, c.probe.samples, r.probe);

  const std::vector<int64_t> schedule = probe_schedule(c.train, c.probe);
  size_t next_probe = 0;
  rnn_probe(r, 0, tensor_dir);
  ++next_probe;

  if (c.train.steps > 0) {
    r.velocity = r.net;
    zero_like(r.velocity);
  }
  step_times_reserve(r.step_times, c.train.steps);
  double loss_sum = 0;
  int64_t loss_n = 0;
  const T lr = static_cast<T>(c.train.lr), mu = static_cast<T>(c.train.momentum);
  for (int64_t step = 1; step <= c.train.steps; ++step) {
    const auto ts = Clock::now();
    seq_sample(r.data, Split::train, c.train.batch_size, r.batch);
    rnn_forward(r.net, r.batch.x, r.batch.steps, r.batch.batch, r.cache, &rng);
    loss_forward(c.loss, r.cache.yhat, r.batch.y, r.lossv);
    example_losses(r.lossv, r.batch.batch, r.lossi);
    loss_backward(c.loss, r.cache.yhat, r.batch.y, r.dy);
    rnn_backward(r.net, r.batch.x, r.cache, r.dy, r.grads);
    const double gnorm = rnn_grads_norm(r.grads);
    const double scale = clip_scale(gnorm, c.train.clip_norm);
    const bool clip = scale < 1.0;
    if (clip) rnn_grads_scale(r.grads, scale);
    Rnn<T>& v = r.velocity;
    Rnn<T>& p = r.net;
    v.W = mu * v.W + r.grads.dW;
    v.U = mu * v.U + r.grads.dU;
    v.b = mu * v.b + r.grads.db;
    v.V = mu * v.V + r.grads.dV;
    v.c = mu * v.c + r.grads.dc;
    p.W -= lr * v.W;
    p.U -= lr * v.U;
    p.b -= lr * v.b;
    p.V -= lr * v.V;
    p.c -= lr * v.c;
    v.slope = c.train.momentum * v.slope + r.grads.dslope;  // prelu (0 otherwise)
    p.slope -= c.train.lr * v.slope;
    step_time_record(r.step_times, step, seconds_since(ts));
    const double batch_loss = r.lossi.mean();
    loss_sum += batch_loss;
    ++loss_n;
    const bool diverged = !std::isfinite(batch_loss) || !std::isfinite(gnorm);
    if (diverged || (next_probe < schedule.size() && schedule[next_probe] == step)) {
      rnn_probe(r, step, tensor_dir);
      step_row_train(r.out.steps.back(), loss_sum, loss_n, gnorm, clip, c.train.lr);
      ++next_probe;
    }
    if (diverged) {
      run_mark_diverged(r.out, r.first_nonfinite, step, "t");
      break;
    }
  }

  json& sm = r.out.summary;
  const StepRow& last = r.out.steps.back();
  sm["final_loss"] = last.loss ? json_num(*last.loss) : json(nullptr);
  sm["final_probe_loss"] = json_num(last.probe_loss);
  sm["final_probe_error"] = json_num(last.probe_error);
  sm["final_test_error"] = last.test_error ? json_num(*last.test_error) : json(nullptr);
  sm["first_nonfinite"] = r.first_nonfinite;
  sm["jac_io"] = nullptr;
  sm["timing"] = {
      {"total_s", seconds_since(r.t0)},
      {"train_step_s_median", r.step_times.empty() ? json(nullptr) : json(median_of(r.step_times))},
      {"probe_s_median", median_of(r.probe_times)}};
  return std::move(r.out);
}

template RunResult run_rnn<float>(const RunSpec&, const std::string&);
template RunResult run_rnn<double>(const RunSpec&, const std::string&);

}  // namespace gl
