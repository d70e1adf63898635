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

double median_of(std::vector<double> v) {
  if (v.empty()) return nan_v;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

std::string verdict_of(double ratio, std::optional<double> factor, double top_norm,
                       const VerdictThresholds& t) {
  if (top_norm == 0.0) return "dead";
  if (!std::isfinite(ratio)) return "nonfinite";
  if (ratio < t.vanishing_ratio || (factor && *factor < t.vanishing_factor)) return "vanishing";
  if (ratio > t.exploding_ratio || (factor && *factor > t.exploding_factor)) return "exploding";
  return "stable";
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

// ---- the summary (docs/reference.md §4.4): one path for every model kind ----

GradientVerdict gradient_verdict(double first, double last, Index n, const VerdictThresholds& t) {
  GradientVerdict g;
  g.ratio = first / last;
  if (n > 1) g.factor = std::pow(g.ratio, 2.0 / static_cast<double>(n - 1));
  g.verdict = verdict_of(g.ratio, g.factor, last, t);
  return g;
}

static json opt_num(const std::optional<double>& v) { return v ? json_num(*v) : json(nullptr); }

template <class T>
void summary_gradient(json& sm, double first, double last, Index n,
                      const Eigen::Ref<const Mat<T>>& first_ex,
                      const Eigen::Ref<const Mat<T>>& last_ex, const VerdictThresholds& t) {
  const GradientVerdict g = gradient_verdict(first, last, n, t);
  sm["gradient_ratio"] = json_num(g.ratio);
  sm["per_layer_factor"] = opt_num(g.factor);
  // Hanin's fluctuation measure: ln(‖δ_1,i‖²/‖δ_n,i‖²) over the examples where both are > 0
  // (running mean and variance, Welford).
  double m = 0, m2 = 0;
  int64_t k = 0;
  for (Index i = 0; i < first_ex.cols(); ++i) {
    const double a = stable_norm(first_ex.col(i).data(), first_ex.rows());
    const double b = stable_norm(last_ex.col(i).data(), last_ex.rows());
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
  sm["verdict"] = g.verdict;
}

void summary_final_gradient(json& sm, double first, double last, Index n,
                            const VerdictThresholds& t) {
  const GradientVerdict g = gradient_verdict(first, last, n, t);
  sm["final_gradient_ratio"] = json_num(g.ratio);
  sm["final_per_layer_factor"] = opt_num(g.factor);
  sm["final_verdict"] = g.verdict;
}

void summary_finalize(RunResult& out, const json& first_nonfinite,
                      const std::vector<double>& step_times, const std::vector<double>& probe_times,
                      double total_s) {
  json& sm = out.summary;
  const StepRow& last = out.steps.back();
  if (out.status == "diverged") sm["final_verdict"] = "nonfinite";
  sm["final_loss"] = last.loss ? json_num(*last.loss) : json(nullptr);
  sm["final_probe_loss"] = json_num(last.probe_loss);
  sm["final_probe_error"] = json_num(last.probe_error);
  sm["final_test_error"] = last.test_error ? json_num(*last.test_error) : json(nullptr);
  sm["first_nonfinite"] = first_nonfinite;
  if (!sm.contains("jac_io")) sm["jac_io"] = nullptr;
  sm["timing"] = {
      {"total_s", total_s},
      {"train_step_s_median", step_times.empty() ? json(nullptr) : json(median_of(step_times))},
      {"probe_s_median", median_of(probe_times)}};
}

#define GL_SUMMARY_INST(T)                                                                         \
  template void summary_gradient<T>(json&, double, double, Index, const Eigen::Ref<const Mat<T>>&, \
                                    const Eigen::Ref<const Mat<T>>&, const VerdictThresholds&);
GL_SUMMARY_INST(float)
GL_SUMMARY_INST(double)

// Eigen's products run on this many OpenMP threads. The count is per calling thread, so each run
// of a sweep (one per --jobs worker) uses exactly its config's `threads`, never a number that
// depends on --jobs; "auto" (0) is every CPU this process may use.
static void threads_set(const Config& c) {
  omp_set_num_threads(c.threads > 0 ? c.threads : omp_get_num_procs());
}

void example_losses(const Eigen::VectorXd& lossv, Index B, Eigen::VectorXd& li) {
  li.setZero(B);
  for (Index k = 0; k < lossv.size(); ++k) li(k % B) += lossv(k);
}

double steady_seconds() {
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

RunResult run_execute(const RunSpec& spec, const std::string& run_dir, TrainProgress* progress) {
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
      res =
          f32 ? run_rnn<float>(spec, run_dir, progress) : run_rnn<double>(spec, run_dir, progress);
    else if (is_gated(c.model.type))
      res = f32 ? run_gated<float>(spec, run_dir, progress)
                : run_gated<double>(spec, run_dir, progress);
    else
      res =
          f32 ? run_mlp<float>(spec, run_dir, progress) : run_mlp<double>(spec, run_dir, progress);
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
  if (!sm.contains("final_verdict")) sm["final_verdict"] = nullptr;
  sm["provenance"] = provenance_json(c, flush);
  res.summary = std::move(sm);
  return res;
}

}  // namespace gl
