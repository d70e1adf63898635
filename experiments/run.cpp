#include "experiments/run.h"

#include <fmt/format.h>
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <new>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__)
#include <pmmintrin.h>
#include <xmmintrin.h>
#endif

#include "harness/core/build_info.h"
#include "harness/core/io.h"
#include "harness/core/threads.h"
#include "harness/data/data.h"
#include "harness/measure/theory.h"
#include "harness/nn/blas.h"
#include "harness/nn/optim.h"

namespace gl {

using Clock = std::chrono::steady_clock;
static double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median_of(std::vector<double> v) {
  if (v.empty()) return nan_v;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string verdict_of(double ratio, double top_norm) {
  if (top_norm == 0.0) return "dead";
  if (!std::isfinite(ratio)) return "nonfinite";
  if (ratio < 1e-2) return "vanishing";
  if (ratio > 1e2) return "exploding";
  return "stable";
}

std::vector<int64_t> probe_schedule(const TrainConfig& train, const ProbeConfig& probe) {
  std::vector<int64_t> s = {0};
  if (probe.schedule == Schedule::linear) {
    for (int64_t k = probe.every; k < train.steps; k += probe.every) s.push_back(k);
  } else {
    // per_decade log-spaced steps: round(10^(j/per_decade)), j = 0, 1, ...
    for (int j = 0;; ++j) {
      const auto k = static_cast<int64_t>(
          std::llround(std::pow(10.0, j / static_cast<double>(probe.per_decade))));
      if (k >= train.steps) break;
      if (k > s.back()) s.push_back(k);
    }
  }
  if (train.steps > 0) s.push_back(train.steps);
  return s;
}

// ---- subnormals ----
// Flush-to-zero + denormals-are-zero for this thread (x86 MXCSR); restored by the guard.
struct SubnormalGuard {
  unsigned saved = 0;
  explicit SubnormalGuard(bool flush) {
#if defined(__x86_64__) || defined(__i386__)
    saved = _mm_getcsr();
    if (flush)
      _mm_setcsr(saved | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
    else
      _mm_setcsr(saved & ~0x8040u);
#else
    (void)flush;
#endif
  }
  ~SubnormalGuard() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_setcsr(saved);
#endif
  }
  SubnormalGuard(const SubnormalGuard&) = delete;
  SubnormalGuard& operator=(const SubnormalGuard&) = delete;
};

static bool flushes_subnormals(const Config& c) {
  return c.probe.flush_subnormals.value_or(c.precision == Precision::float32);
}

json provenance_json(const Config& c, bool flushed) {
  json p;
  p["gradlab_version"] = build_info.version;
  p["git_commit"] = build_info.git_commit;
#if defined(__clang__)
  p["compiler"] = fmt::format("clang++ {}", __clang_version__);
#else
  p["compiler"] = fmt::format("g++ {}", __VERSION__);
#endif
  p["flags"] = build_info.cxx_flags;
#if defined(__AVX512F__)
  p["isa"] = "avx512";
#elif defined(__AVX2__)
  p["isa"] = "avx2";
#elif defined(__AVX__)
  p["isa"] = "avx";
#else
  p["isa"] = "sse2";
#endif
  p["blas"] = blas_name();
  p["threads"] = c.threads > 0 ? c.threads : omp_get_num_procs();  // "auto" resolved
  p["flush_subnormals"] = flushed;
  p["precision"] = c.precision == Precision::float32 ? "float32" : "float64";
  return p;
}

// ---- the MLP run ----

template <class T>
struct MlpRun {
  const RunSpec& spec;
  const Config& c;
  Dataset<T> data;
  Mlp<T> net;
  Mlp<T> velocity;  // momentum buffers (same shapes as net; empty for μ = 0)
  Mat<T> px, tx, bx, dy;
  Targets<T> pt, tt, bt;
  MlpCache<T> cache;
  MlpGrads<T> grads;
  Eigen::VectorXd lossv;
  ProbeScratch<T> scratch = ProbeScratch<T>(1);  // one per thread
  std::vector<HistEdges> edges;                  // (layer, quantity), fixed at the first probe
  TheoryLayers theory;  // step-0 predictions (empty when the theory does not apply)
  bool have_theory = false;
  RunResult out;
  json first_nonfinite;  // null until something is non-finite
  std::vector<double> probe_times, step_times;
  Clock::time_point t0 = Clock::now();

  MlpRun(const RunSpec& s) : spec(s), c(s.config) {}
};

// The first non-finite quantity of a probe, in the order the computation produced them.
template <class T>
static json locate_nonfinite(const std::vector<LayerRow>& rows, size_t first, int64_t step,
                             double loss) {
  const size_t n = rows.size() - first;
  for (size_t l = 0; l < n; ++l) {
    const LayerRow& r = rows[first + l];
    if (r.nonfinite_z) return {{"step", step}, {"layer", r.layer}, {"quantity", "preact"}};
    if (r.nonfinite_a) return {{"step", step}, {"layer", r.layer}, {"quantity", "act"}};
  }
  if (!std::isfinite(loss)) return {{"step", step}, {"layer", nullptr}, {"quantity", "loss"}};
  for (size_t l = n; l-- > 0;) {
    const LayerRow& r = rows[first + l];
    if (r.nonfinite_delta) return {{"step", step}, {"layer", r.layer}, {"quantity", "delta"}};
  }
  for (size_t l = n; l-- > 0;) {
    const LayerRow& r = rows[first + l];
    if (r.nonfinite_dw) return {{"step", step}, {"layer", r.layer}, {"quantity", "grad_w"}};
  }
  return nullptr;
}

template <class T>
static TheoryInput mlp_theory_input(const Mlp<T>& net, const Config& c, const Mat<T>& px) {
  TheoryInput in;
  in.act = net.act;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const bool out_layer = l + 1 == net.layers.size();
    in.sigma_w2.push_back(init_sigma_w2(out_layer ? c.model.output_init : c.model.init,
                                        net.layers[l].W.cols(), net.fan_out(l)));
    in.sigma_b2.push_back(bias_sigma_b2(c.model.bias_init));
  }
  in.q0 = px.template cast<double>().squaredNorm() / static_cast<double>(px.size());
  return in;
}

template <class T>
static void dump_mlp_tensors(MlpRun<T>& r, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto& net = r.net;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const std::string k = std::to_string(l + 1);
    npy_write_matrix(dir + "/W_" + k + ".npy", net.layers[l].W);
    npy_write_vector(dir + "/b_" + k + ".npy", net.layers[l].b);
    npy_write_matrix(dir + "/dW_" + k + ".npy", r.grads.dW[l]);
    npy_write_vector(dir + "/db_" + k + ".npy", r.grads.db[l]);
    if (l + 1 < net.layers.size())
      npy_write_examples(dir + "/delta_" + k + ".npy", r.grads.delta[l]);
  }
  npy_write_examples(dir + "/x.npy", r.px);
  if (r.data.info.labels)
    npy_write_labels(dir + "/y.npy", r.pt.labels);
  else
    npy_write_examples(dir + "/y.npy", r.pt.y);
}

template <class T>
static void mlp_probe(MlpRun<T>& r, int64_t step, const std::string& tensor_dir) {
  const Config& c = r.c;
  const auto tp = Clock::now();
  mlp_forward(r.net, r.px, r.cache);
  loss_forward(c.loss, r.cache.a.back(), r.pt, r.lossv);
  loss_backward(c.loss, r.cache.a.back(), r.pt, r.dy);
  // ∂L/∂W itself only for what reads it (histograms, the step-0 dump); its norm comes from δ and a
  const bool store_dw = c.probe.histograms || (step == 0 && c.probe.dump_tensors);
  mlp_backward(r.net, r.cache, r.dy, r.grads, store_dw);
  const size_t first = r.out.layers.size();
  mlp_layer_rows(r.net, r.cache, r.grads, c.probe, step, r.out.layers, r.scratch);
  r.probe_times.push_back(seconds_since(tp));

  if (c.probe.jacobian) {  // not part of probe_s (docs/reference.md §4.4): SVDs cost more than the
                           // probe
    const Index ns = std::min<Index>(c.probe.jacobian_samples, r.px.cols());
    Mat<double> J;
    for (size_t l = 0; l < r.net.layers.size(); ++l) {
      double sum = 0;
      for (Index i = 0; i < ns; ++i) {
        mlp_layer_jacobian(r.net, r.cache, l, i, J);
        sum += singular_value_mean(J);
      }
      r.out.layers[first + l].jac_sv_mean = sum / static_cast<double>(ns);
    }
    if (step == 0 && r.net.layers.size() > 1) {
      // Input–output Jacobian of the hidden stack: moments of its squared singular values.
      double m1 = 0, m2 = 0;
      for (Index i = 0; i < ns; ++i) {
        mlp_io_jacobian(r.net, r.cache, i, J);
        double a = 0, b = 0;
        squared_sv_moments(J, a, b);
        m1 += a / static_cast<double>(ns);
        m2 += b / static_cast<double>(ns);
      }
      const double L = static_cast<double>(r.net.layers.size() - 1);
      r.out.summary["jac_io"] = {{"m1", json_num(m1)},
                                 {"m2", json_num(m2)},
                                 {"var_over_L", json_num((m2 - m1 * m1) / L)},
                                 {"samples", ns}};
    }
  }

  StepRow s;
  s.step = step;
  s.probe_loss = r.lossv.mean();
  s.probe_error = loss_error_rate(c.loss, r.cache.a.back(), r.pt, 0.04);

  if (step == 0 && r.have_theory) {
    for (size_t l = 0; l + 1 < r.net.layers.size(); ++l) {
      r.out.layers[first + l].theory_q = r.theory.q[l];
      r.out.layers[first + l].theory_delta_factor = r.theory.chi[l];
    }
    r.out.layers[first + r.net.layers.size() - 1].theory_q = r.theory.q.back();
  }

  if (c.probe.histograms) {
    const size_t n = r.net.layers.size();
    if (r.edges.empty()) r.edges.resize(n * 4);
    for (size_t l = 0; l < n; ++l) {
      const Mat<T>* q[4] = {&r.cache.a[l + 1], &r.cache.z[l], &r.grads.delta[l], &r.grads.dW[l]};
      for (size_t k = 0; k < 4; ++k) {
        HistEdges& e = r.edges[l * 4 + k];
        if (step == 0) {  // edges fixed for the run: hist_range, else the step-0 range
          if (c.probe.hist_range)
            e = {c.probe.hist_range->first, c.probe.hist_range->second};
          else
            e = hist_edges_from(q[k]->data(), q[k]->size(), c.probe.hist_scale);
        }
        hist_rows(q[k]->data(), q[k]->size(), e, c.probe.bins, c.probe.hist_scale, step,
                  static_cast<int>(l + 1), static_cast<HistQuantity>(k), r.out.hists);
      }
    }
  }

  if (r.first_nonfinite.is_null())
    r.first_nonfinite = locate_nonfinite<T>(r.out.layers, first, step, s.probe_loss);

  if (step == 0) {
    // docs/reference.md §4.4: gradient_ratio = delta_norm(1)/delta_norm(L) over hidden layers.
    const size_t L = r.net.layers.size() - 1;
    json& sm = r.out.summary;
    const double d1 = r.out.layers[first].delta_norm;
    const double dL = r.out.layers[first + L - 1].delta_norm;
    const double ratio = d1 / dL;
    sm["gradient_ratio"] = json_num(ratio);
    sm["per_layer_factor"] =
        L > 1 ? json_num(std::pow(ratio, 2.0 / static_cast<double>(L - 1))) : json(nullptr);
    // Hanin's fluctuation measure: ln(‖δ_1,i‖²/‖δ_L,i‖²) over the examples where both are > 0.
    double m = 0, m2 = 0;
    int64_t k = 0;
    for (Index i = 0; i < r.px.cols(); ++i) {
      const double a = stable_norm(r.grads.delta[0].col(i).data(), r.grads.delta[0].rows());
      const double b = stable_norm(r.grads.delta[L - 1].col(i).data(), r.grads.delta[L - 1].rows());
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
    sm["verdict"] = verdict_of(ratio, dL);
    if (c.probe.dump_tensors) dump_mlp_tensors(r, tensor_dir);
  }

  if (c.train.steps > 0) {      // test error on the held-out set, in chunks of ≤ 1000 examples
    MlpCache<T>& tc = r.cache;  // the probe's values are taken: no second cache (W4: 63 MB)
    Index wrong_w = 0;
    double wrong = 0;
    for (Index i0 = 0; i0 < r.tx.cols(); i0 += 1000) {
      const Index nb = std::min<Index>(1000, r.tx.cols() - i0);
      const Mat<T> xb = r.tx.middleCols(i0, nb);
      Targets<T> tb;
      if (r.data.info.labels)
        tb.labels.assign(r.tt.labels.begin() + i0, r.tt.labels.begin() + i0 + nb);
      else
        tb.y = r.tt.y.middleCols(i0, nb);
      mlp_forward(r.net, xb, tc);
      wrong += loss_error_rate(c.loss, tc.a.back(), tb, 0.04) * static_cast<double>(nb);
      wrong_w += nb;
    }
    s.test_error = wrong / static_cast<double>(wrong_w);
  }
  s.elapsed_s = seconds_since(r.t0);
  r.out.steps.push_back(s);
}

double clip_scale(double grad_norm, const std::optional<double>& clip_norm) {
  // Pascanu et al. 2013, Algorithm 1: g ← (threshold/‖g‖)·g when ‖g‖ ≥ threshold.
  if (!clip_norm || !(grad_norm > *clip_norm) || !std::isfinite(grad_norm)) return 1.0;
  return *clip_norm / grad_norm;
}

void step_times_reserve(std::vector<double>& times, int64_t steps) {
  times.reserve(static_cast<size_t>(std::min(steps, step_time_window)));
}

void step_time_record(std::vector<double>& times, int64_t step, double seconds) {
  if (times.size() < static_cast<size_t>(step_time_window))
    times.push_back(seconds);  // within the reserved capacity
  else
    times[static_cast<size_t>(step % step_time_window)] = seconds;
}

void step_row_train(StepRow& s, double& loss_sum, int64_t& loss_n, double grad_norm, bool clipped,
                    double lr) {
  s.loss = loss_sum / static_cast<double>(loss_n);
  s.grad_norm = grad_norm;
  s.clipped = clipped ? 1 : 0;
  s.lr = lr;
  loss_sum = 0;
  loss_n = 0;
}

void run_mark_diverged(RunResult& out, json& first_nonfinite, int64_t step, const char* position) {
  out.status = "diverged";
  out.reason = fmt::format("non-finite training loss or gradient at step {}", step);
  if (first_nonfinite.is_null())
    first_nonfinite = {{"step", step}, {position, nullptr}, {"quantity", "loss"}};
}

// ---- checkpoints (train.checkpoint_every) ----
// checkpoint.bin: everything a training run needs to continue as if it had never stopped — the
// parameters, momentum, the run's and the data stream's RNG states, the loss accumulator, and the
// rows already measured. Raw little-endian bytes, checked by a hash of the resolved config.

struct Bytes {
  std::string buf;
  size_t pos = 0;
  template <class V>
  void put(const V& v) {
    static_assert(std::is_trivially_copyable_v<V>);
    buf.append(reinterpret_cast<const char*>(&v), sizeof(V));
  }
  template <class V>
  void get(V& v) {
    static_assert(std::is_trivially_copyable_v<V>);
    if (pos + sizeof(V) > buf.size()) throw std::runtime_error("checkpoint truncated");
    std::memcpy(&v, buf.data() + pos, sizeof(V));
    pos += sizeof(V);
  }
  template <class V>
  void put(const std::optional<V>& v) {
    put<uint8_t>(v.has_value());
    put(v.value_or(V{}));
  }
  template <class V>
  void get(std::optional<V>& v) {
    uint8_t has = 0;
    V x{};
    get(has);
    get(x);
    v = has ? std::optional<V>(x) : std::nullopt;
  }
  void put_str(const std::string& t) {
    put<uint64_t>(t.size());
    buf += t;
  }
  void get_str(std::string& t) {
    uint64_t n = 0;
    get(n);
    if (pos + n > buf.size()) throw std::runtime_error("checkpoint truncated");
    t = buf.substr(pos, n);
    pos += n;
  }
  template <class M>
  void put_mat(const M& m) {
    put<int64_t>(m.rows());
    put<int64_t>(m.cols());
    buf.append(reinterpret_cast<const char*>(m.data()),
               sizeof(typename M::Scalar) * static_cast<size_t>(m.size()));
  }
  template <class M>
  void get_mat(M& m) {
    int64_t rows = 0, cols = 0;
    get(rows);
    get(cols);
    m.resize(rows, cols);
    const size_t n = sizeof(typename M::Scalar) * static_cast<size_t>(m.size());
    if (pos + n > buf.size()) throw std::runtime_error("checkpoint truncated");
    std::memcpy(m.data(), buf.data() + pos, n);
    pos += n;
  }
  // Rows are plain structs of numbers and optionals: field by field, in declaration order.
  template <class V>
  void rows(std::vector<V>& v, bool write);
};

static void row_io(Bytes& b, LayerRow& r, bool w) {
  auto io = [&](auto& x) { w ? b.put(x) : b.get(x); };
  io(r.step), io(r.layer), io(r.fan_in), io(r.fan_out), io(r.preact_mean), io(r.preact_std);
  io(r.preact_ms), io(r.act_mean), io(r.act_std), io(r.act_p98), io(r.dphi_mean);
  io(r.saturated_frac), io(r.dead_frac), io(r.stuck_frac), io(r.zero_grad_frac), io(r.delta_norm);
  io(r.delta_factor), io(r.grad_w_norm), io(r.grad_b_norm), io(r.w_norm), io(r.grad_w_ratio);
  io(r.nonfinite), io(r.jac_sv_mean), io(r.theory_q), io(r.theory_delta_factor);
  io(r.nonfinite_z), io(r.nonfinite_a), io(r.nonfinite_delta), io(r.nonfinite_dw);
}
static void row_io(Bytes& b, StepRow& r, bool w) {
  auto io = [&](auto& x) { w ? b.put(x) : b.get(x); };
  io(r.step), io(r.loss), io(r.probe_loss), io(r.probe_error), io(r.test_error), io(r.grad_norm);
  io(r.clipped), io(r.lr), io(r.spectral_radius), io(r.sigma_max), io(r.elapsed_s);
}
static void row_io(Bytes& b, HistRow& r, bool w) {
  auto io = [&](auto& x) { w ? b.put(x) : b.get(x); };
  io(r.step), io(r.layer), io(r.quantity), io(r.bin), io(r.nonfinite), io(r.lo), io(r.hi),
      io(r.count);
}
template <class V>
void Bytes::rows(std::vector<V>& v, bool write) {
  uint64_t n = v.size();
  write ? put(n) : get(n);
  if (!write) v.resize(n);
  for (V& r : v) row_io(*this, r, write);
}

static uint64_t checkpoint_key(const RunSpec& spec) {
  const std::string k =
      spec.resolved.dump() + "|" + std::to_string(spec.seed) + "|" + std::to_string(spec.data_seed);
  return hash_bytes(k.data(), k.size());
}

// Everything mutable of an MLP training run, in one place, written or read in one order.
template <class T>
static void mlp_state_io(Bytes& b, MlpRun<T>& r, Rng& rng, int64_t& step, size_t& next_probe,
                         double& loss_sum, int64_t& loss_n, bool w) {
  auto io = [&](auto& x) { w ? b.put(x) : b.get(x); };
  io(step), io(next_probe), io(loss_sum), io(loss_n), io(rng), io(r.data.train_rng);
  for (Mlp<T>* net : {&r.net, &r.velocity})
    for (Layer<T>& layer : net->layers) {
      w ? b.put_mat(layer.W) : b.get_mat(layer.W);
      w ? b.put_mat(layer.b) : b.get_mat(layer.b);
      io(layer.slope);
    }
  b.rows(r.out.layers, w);
  b.rows(r.out.steps, w);
  b.rows(r.out.hists, w);
  uint64_t ne = r.edges.size();
  io(ne);
  if (!w) r.edges.resize(ne);
  for (HistEdges& e : r.edges) io(e.lo), io(e.hi);
  std::string sm = r.out.summary.dump(), fn = r.first_nonfinite.dump();
  w ? b.put_str(sm) : b.get_str(sm);
  w ? b.put_str(fn) : b.get_str(fn);
  if (!w) {
    r.out.summary = json::parse(sm);
    r.first_nonfinite = json::parse(fn);
  }
}

template <class T>
static RunResult run_mlp(const RunSpec& spec, const std::string& run_dir) {
  const std::string tensor_dir = run_dir + "/tensors";
  MlpRun<T> r(spec);
  const Config& c = spec.config;
  r.data = dataset_make<T>(c, spec.data_seed);
  Rng rng = rng_make(spec.seed);
  const MlpShape shape{r.data.info.inputs, c.model.hidden, r.data.info.outputs};
  r.net = mlp_init<T>(shape, c.model.activation, c.model.init, c.model.output_init,
                      c.model.bias_init, rng);
  dataset_sample(r.data, Split::probe, c.probe.samples, r.px, r.pt);
  if (c.train.steps > 0) dataset_sample(r.data, Split::test, c.data.test_samples, r.tx, r.tt);

  const TheoryInput tin = mlp_theory_input(r.net, c, r.px);
  r.have_theory =
      theory_applies(c.model.activation) && std::all_of(tin.sigma_w2.begin(), tin.sigma_w2.end(),
                                                        [](double v) { return std::isfinite(v); });
  if (r.have_theory) r.theory = theory_layers(tin);

  const std::vector<int64_t> schedule = probe_schedule(c.train, c.probe);
  // ---- training: minibatch SGD, momentum v ← μv + g, θ ← θ − lr·v (harness/optim.h) ----
  // Between probes a step allocates nothing (every buffer keeps its size from the first step) and
  // computes no statistics: the gradient norm only when clipping needs it or a probe records it.
  // Plain SGD (μ = 0, no clipping) takes the fused step, mlp_backward_sgd: ∂L/∂W is not stored,
  // each W_l is updated by one product as the backward leaves it (W1: 2x fewer passes over W).
  if (c.train.steps > 0 && c.train.momentum != 0.0) r.velocity = mlp_velocity_make(r.net);
  const bool fused = c.train.momentum == 0.0 && !c.train.clip_norm &&
                     c.model.activation.kind != Activation::maxout;
  step_times_reserve(r.step_times, c.train.steps);
  size_t next_probe = 0;
  double loss_sum = 0;
  int64_t loss_n = 0;
  int64_t done = 0;  // steps already taken (resumed from a checkpoint)
  const std::string ckpt = run_dir + "/checkpoint.bin";
  const uint64_t key = checkpoint_key(spec);
  if (c.train.checkpoint_every > 0 && std::filesystem::exists(ckpt)) {
    Bytes b{file_read(ckpt)};
    uint64_t k = 0;
    b.get(k);
    if (k == key) mlp_state_io(b, r, rng, done, next_probe, loss_sum, loss_n, false);
  }
  if (done == 0) {
    mlp_probe(r, 0, tensor_dir);
    next_probe = 1;
  }

  for (int64_t step = done + 1; step <= c.train.steps; ++step) {
    const auto ts = Clock::now();
    dataset_sample(r.data, Split::train, c.train.batch_size, r.bx, r.bt);
    mlp_forward(r.net, r.bx, r.cache, &rng);  // rng: rrelu's training-time slopes
    loss_forward(c.loss, r.cache.a.back(), r.bt, r.lossv);
    loss_backward(c.loss, r.cache.a.back(), r.bt, r.dy);
    const bool probe_now = next_probe < schedule.size() && schedule[next_probe] == step;
    const bool need_norm = c.train.clip_norm.has_value() || probe_now;
    double gnorm = 0.0;
    bool clip = false;
    if (fused) {
      mlp_backward_sgd(r.net, r.cache, r.dy, r.grads, c.train.lr);
    } else {
      mlp_backward(r.net, r.cache, r.dy, r.grads);
      if (need_norm) gnorm = mlp_grads_norm(r.grads);
      const double scale = clip_scale(gnorm, c.train.clip_norm);  // 1 without clipping
      clip = scale < 1.0;
      mlp_sgd_update(r.net, r.velocity, r.grads, c.train.lr, c.train.momentum, scale);
    }
    step_time_record(r.step_times, step, seconds_since(ts));
    if (fused && probe_now)  // the norm the probe records, from this step's δ and a
      gnorm = mlp_grads_norm_outer(r.cache, r.grads, r.scratch[0]);
    const double batch_loss = r.lossv.mean();
    loss_sum += batch_loss;
    ++loss_n;
    // A non-finite gradient with a finite loss (no norm taken) makes the parameters non-finite,
    // and the next step's loss shows it.
    const bool diverged = !std::isfinite(batch_loss) || !std::isfinite(gnorm);
    if (diverged && !need_norm) {
      gnorm =
          fused ? mlp_grads_norm_outer(r.cache, r.grads, r.scratch[0]) : mlp_grads_norm(r.grads);
    }
    if (diverged || probe_now) {
      mlp_probe(r, step, tensor_dir);
      step_row_train(r.out.steps.back(), loss_sum, loss_n, gnorm, clip, c.train.lr);
      ++next_probe;
    }
    if (diverged) {
      run_mark_diverged(r.out, r.first_nonfinite, step, "layer");
      break;
    }
    if (c.train.checkpoint_every > 0 && step % c.train.checkpoint_every == 0 &&
        step < c.train.steps) {
      Bytes b;
      b.put(key);
      int64_t at = step;
      mlp_state_io(b, r, rng, at, next_probe, loss_sum, loss_n, true);
      file_write_atomic(ckpt, b.buf);
    }
  }
  std::filesystem::remove(ckpt);

  json& sm = r.out.summary;
  const StepRow& last = r.out.steps.back();
  sm["final_loss"] = last.loss ? json_num(*last.loss) : json(nullptr);
  sm["final_probe_loss"] = json_num(last.probe_loss);
  sm["final_probe_error"] = json_num(last.probe_error);
  sm["final_test_error"] = last.test_error ? json_num(*last.test_error) : json(nullptr);
  sm["first_nonfinite"] = r.first_nonfinite;
  if (!sm.contains("jac_io")) sm["jac_io"] = nullptr;
  sm["timing"] = {
      {"total_s", seconds_since(r.t0)},
      {"train_step_s_median", r.step_times.empty() ? json(nullptr) : json(median_of(r.step_times))},
      {"probe_s_median", median_of(r.probe_times)}};
  return std::move(r.out);
}

// Eigen's products run on this many OpenMP threads. The count is per calling thread, so each run
// of a sweep (one per --jobs worker) uses exactly its config's `threads`, never a number that
// depends on --jobs; "auto" (0) is every CPU this process may use.
static void threads_set(const Config& c) {
  omp_set_num_threads(c.threads > 0 ? c.threads : omp_get_num_procs());
}

RunResult run_execute(const RunSpec& spec, const std::string& run_dir) {
  const std::string tensor_dir = run_dir + "/tensors";
  const Config& c = spec.config;
  blas_openblas();  // load OpenBLAS (gradlab sets its environment variables) before any team runs
  threads_set(c);
  const bool flush = flushes_subnormals(c);
  RunResult res;
  try {
    SubnormalGuard guard(flush);
    fp_mode_share();  // the pool's threads (ours and Eigen's) flush as this one does
    const bool f32 = c.precision == Precision::float32;
    if (c.model.type == ModelType::rnn)
      res = f32 ? run_rnn<float>(spec, tensor_dir) : run_rnn<double>(spec, tensor_dir);
    else
      res = f32 ? run_mlp<float>(spec, run_dir) : run_mlp<double>(spec, run_dir);
  } catch (const std::bad_alloc&) {
    res = RunResult{};
    res.status = "failed";
    res.reason = "out of memory";
  } catch (const std::exception& e) {
    res = RunResult{};
    res.status = "failed";
    res.reason = e.what();
  }
  json sm;
  sm["run"] = spec.id;
  sm["status"] = res.status;
  sm["reason"] = res.reason;
  for (auto& [k, v] : res.summary.items()) sm[k] = v;
  if (!sm.contains("verdict")) sm["verdict"] = nullptr;
  sm["provenance"] = provenance_json(c, flush);
  res.summary = std::move(sm);
  return res;
}

}  // namespace gl
