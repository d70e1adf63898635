#include "experiments/console.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "experiments/folder.h"
#include "harness/core/io.h"

namespace gl {

static std::string pct(double v) {
  return std::isfinite(v) ? fmt::format("{:.1f}", 100 * v) : num_text(v, Precision::float64);
}
static std::string sci(double v) {
  return std::isfinite(v) ? fmt::format("{:.3e}", v) : num_text(v, Precision::float64);
}

// A cell that may not apply (an empty optional): "-".
template <class V>
static std::string cell_or_dash(const V& v, std::string (*text)(double)) {
  if constexpr (std::is_same_v<V, double>)
    return text(v);
  else
    return v ? text(*v) : "-";
}

// The columns are layers.csv's (docs/reference.md §4.1): delta_norm and grad_w_norm are norms,
// delta_factor = delta_norm(l)²/delta_norm(l+1)² a squared-norm factor, theory_delta_factor its
// mean-field prediction χ_l (step 0, where the theory applies).
void print_layer_table(const RunResult& res) {
  if (res.layers.empty()) return;
  const int64_t last_step = res.layers.back().step;
  fmt::print(
      "delta_norm, grad_w_norm: RMS norms over the probe examples; delta_factor = "
      "delta_norm(l)^2/delta_norm(l+1)^2 (a squared-norm factor), theory_delta_factor its "
      "mean-field prediction\n");
  for (int64_t step : {int64_t{0}, last_step}) {
    fmt::print("step {}\n{:>6} {:>12} {:>12} {:>16} {:>11} {:>13} {:>20}\n", step, "layer",
               "delta_norm", "grad_w_norm", "saturated_frac%", "dead_frac%", "delta_factor",
               "theory_delta_factor");
    for (const LayerRow& x : res.layers)
      if (x.step == step)
        fmt::print("{:>6} {:>12} {:>12} {:>16} {:>11} {:>13} {:>20}\n", x.layer, sci(x.delta_norm),
                   sci(x.grad_w_norm), cell_or_dash(x.saturated_frac, pct),
                   cell_or_dash(x.dead_frac, pct), cell_or_dash(x.delta_factor, sci),
                   cell_or_dash(x.theory_delta_factor, sci));
    if (last_step == 0) break;
  }
}

// The time steps a console table shows: all of a chain of T ≤ 30; else t = 1..5, every k-th
// step (k from 1, 2, 5 × 10^n, about 20 rows) and the last 5, so both ends and the trend show.
static constexpr int timestep_rows_all = 30;
static int timestep_stride(int T) {
  int k = 1;
  for (int scale = 1; k * 20 < T; scale *= 10)
    for (int m : {1, 2, 5})
      if (k * 20 < T) k = m * scale;
  return k;
}
static bool timestep_shown(int t, int T) {
  return T <= timestep_rows_all || t <= 5 || t > T - 5 || t % timestep_stride(T) == 0;
}

// A gated chain's rows: ‖∂ℓ/∂h_t‖, the LSTM's ‖∂ℓ/∂c_t‖, and each gate's mean (saturated %).
static void print_gated_rows(const RunResult& res, int T, int64_t last_step, bool has_last) {
  const TimestepRow& r0 = res.timesteps.front();
  const bool lstm = r0.gate_mean[0].has_value();
  const size_t g0 = lstm ? 0 : 4, g1 = lstm ? 4 : 7;
  for (int64_t step : {int64_t{0}, last_step}) {
    fmt::print("step {}\n{:>6} {:>12} {:>12}", step, "t", "h_norm", "dh_norm");
    if (lstm) fmt::print(" {:>12}", "dc_norm");
    if (has_last) fmt::print(" {:>12}", "dh_last_norm");
    for (size_t k = g0; k < g1; ++k)
      fmt::print(" {:>15}", fmt::format("{} mean (sat%)", chain_gate_names[k]));
    fmt::print("\n");
    for (const TimestepRow& x : res.timesteps) {
      if (x.step != step || !timestep_shown(x.t, T)) continue;
      fmt::print("{:>6} {:>12} {:>12}", x.t, sci(x.h_norm), sci(x.dh_norm));
      if (lstm) fmt::print(" {:>12}", x.dc_norm ? sci(*x.dc_norm) : "-");
      if (has_last) fmt::print(" {:>12}", x.dh_last_norm ? sci(*x.dh_last_norm) : "-");
      for (size_t k = g0; k < g1; ++k)
        fmt::print(" {:>15}",
                   x.gate_mean[k] && x.gate_saturated_frac[k] && std::isfinite(*x.gate_mean[k])
                       ? fmt::format("{:.3f} ({})", *x.gate_mean[k], pct(*x.gate_saturated_frac[k]))
                       : "-");
      fmt::print("\n");
    }
    if (last_step == 0) break;
  }
}

// The chain's counterpart of print_layer_table: per time step at step 0 and the last probe, with
// timesteps.csv's names. dz_norm is what gradient_ratio compares; dh_last_norm (loss_at
// every_step) is the long-range part.
void print_timestep_table(const RunResult& res) {
  if (res.timesteps.empty()) return;
  const int64_t last_step = res.timesteps.back().step;
  int T = 0;
  bool has_last = false;
  for (const TimestepRow& x : res.timesteps) {
    T = std::max(T, x.t);
    has_last = has_last || x.dh_last_norm.has_value();
  }
  if (T > timestep_rows_all)
    fmt::print(
        "T = {}: rows elided, showing t = 1..5, every {} steps, t = {}..{} "
        "(timesteps.csv has every row)\n",
        T, timestep_stride(T), T - 4, T);
  if (res.timesteps.front().gate_mean[0] || res.timesteps.front().gate_mean[4]) {
    print_gated_rows(res, T, last_step, has_last);
    return;
  }
  for (int64_t step : {int64_t{0}, last_step}) {
    fmt::print("step {}\n{:>6} {:>12} {:>12} {:>12}", step, "t", "h_norm", "dh_norm", "dz_norm");
    if (has_last) fmt::print(" {:>12}", "dh_last_norm");
    fmt::print(" {:>16} {:>11}\n", "saturated_frac%", "dead_frac%");
    for (const TimestepRow& x : res.timesteps) {
      if (x.step != step || !timestep_shown(x.t, T)) continue;
      fmt::print("{:>6} {:>12} {:>12} {:>12}", x.t, sci(x.h_norm), sci(x.dh_norm), sci(x.dz_norm));
      if (has_last) fmt::print(" {:>12}", x.dh_last_norm ? sci(*x.dh_last_norm) : "-");
      fmt::print(" {:>16} {:>11}\n", cell_or_dash(x.saturated_frac, pct),
                 cell_or_dash(x.dead_frac, pct));
    }
    if (last_step == 0) break;
  }
}

static std::string summary_text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_number()) return sci(v.get<double>());
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string summary_field(const json& sm, const char* key) {
  return summary_text(sm.is_object() ? sm.value(key, json()) : json());
}

// The theory's per-layer factor at step 0: the geometric mean of theory_delta_factor over
// layers 1..L−1, as per_layer_factor is the geometric mean of delta_factor there (null when L = 1
// or where the theory does not apply).
json theory_per_layer_factor(const std::vector<LayerRow>& layers) {
  double log_sum = 0;
  int n = 0, hidden = 0;
  for (const LayerRow& x : layers)
    if (x.step == 0 && x.theory_delta_factor) ++hidden;  // layers 1..L
  for (const LayerRow& x : layers) {
    if (x.step != 0 || x.layer >= hidden) continue;
    if (!x.theory_delta_factor) return nullptr;
    log_sum += std::log(*x.theory_delta_factor);
    ++n;
  }
  return n > 0 ? json_num(std::exp(log_sum / n)) : json(nullptr);
}

// summary.json's verdicts (docs/reference.md §4.4) and what their numbers compare: for a chain,
// δ_t = ∂ℓ/∂z_t at t = 1 vs T (lstm, gru: ∂ℓ/∂h_t, and the LSTM's cell path ∂ℓ/∂c_t), seeded by
// the last step's loss only (run_rnn.cpp, run_gated.cpp), and the factor is per time step.
void print_verdict(const RunResult& res, ModelType type) {
  const json& sm = res.summary;
  if (summary_field(sm, "status") == "failed") {
    fmt::print("run failed: {}\n", summary_field(sm, "reason"));
    return;
  }
  const bool rnn = is_chain(type), gated = is_gated(type);
  const int64_t last_step = res.steps.empty() ? 0 : res.steps.back().step;
  const json theory = rnn ? json(nullptr) : theory_per_layer_factor(res.layers);
  for (const char* prefix : {"", "final_"}) {
    const bool initial = prefix[0] == '\0';
    if (!initial && last_step == 0) break;  // no training: the final verdict is the initial one
    const auto field = [&](const char* key) {
      return summary_field(sm, (std::string(prefix) + key).c_str());
    };
    fmt::print(
        "{} verdict (step {}): {} (gradient_ratio {} = {}, a norm ratio{}; per_layer_factor {}, "
        "the squared-norm factor per {}",
        initial ? "initial" : "final", initial ? 0 : last_step, field("verdict"),
        gated ? "|dh_1|/|dh_T|" : (rnn ? "|dz_1|/|dz_T|" : "|delta_1|/|delta_L|"),
        field("gradient_ratio"), rnn ? ", from the last step's loss" : "",
        field("per_layer_factor"), rnn ? "time step" : "layer");
    if (initial && !theory.is_null()) fmt::print(", theory {}", summary_text(theory));
    if (type == ModelType::lstm)
      fmt::print("; cell path |dc_1|/|dc_T| {}", field("cell_gradient_ratio"));
    fmt::print(")");
    if (summary_field(sm, "status") != "ok" && (!initial || last_step == 0))  // the last line
      fmt::print(" [status {}: {}]", summary_field(sm, "status"), summary_field(sm, "reason"));
    fmt::print("\n");
  }
}

void print_summary_table(const std::string& out, const std::vector<std::string>& ids, bool trains) {
  // runs.csv's names (docs/reference.md §5); a training sweep adds the final ones.
  std::vector<const char*> cols = {"status", "verdict", "gradient_ratio", "per_layer_factor"};
  if (trains)
    for (const char* c :
         {"final_verdict", "final_gradient_ratio", "final_loss", "final_test_error"})
      cols.push_back(c);
  const auto width = [](const char* c) { return std::max<size_t>(10, std::strlen(c)); };
  fmt::print("{:<48}", "run");
  for (const char* c : cols) fmt::print(" {:>{}}", c, width(c));
  fmt::print("\n");
  for (const std::string& id : ids) {
    json sm;
    try {
      sm = json::parse(file_read(run_dir(out, id) + "/summary.json"));
    } catch (const std::exception&) {
      continue;
    }
    fmt::print("{:<48}", id);
    for (const char* c : cols) fmt::print(" {:>{}}", summary_field(sm, c), width(c));
    fmt::print("\n");
  }
}

std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 10) return fmt::format("{:.2f}s", s);
  if (s < 60) return fmt::format("{:.1f}s", s);
  const auto whole = static_cast<int64_t>(s);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
}

std::string plural(size_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}
std::string plural(int n, std::string_view noun) { return plural(static_cast<size_t>(n), noun); }

// ---- progress ----

std::string train_progress_text(int64_t step, int64_t total, double loss, int64_t start_step,
                                double start_s, double now_s) {
  const double taken = static_cast<double>(step - start_step), dt = now_s - start_s;
  const double rate = taken > 0 && dt > 0 ? taken / dt : nan_v;
  return fmt::format("step {}/{}, loss {}, {} steps/s, ETA {}", step, total,
                     step > start_step ? fmt::format("{:.4g}", loss) : "?",
                     !std::isfinite(rate) ? "?"
                     : rate >= 100        ? fmt::format("{:.0f}", rate)
                                          : fmt::format("{:.3g}", rate),
                     duration_text(static_cast<double>(total - step) / rate));
}

double progress_interval() {
  const char* v = std::getenv("GRADLAB_PROGRESS_INTERVAL");
  char* end = nullptr;
  const double s = v ? std::strtod(v, &end) : 0.0;
  return v && end != v && *end == '\0' && s > 0 && std::isfinite(s) ? s : 10.0;
}

static int terminal_columns() {
  winsize w{};
  return ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0 ? w.ws_col : 80;
}

Progress::Progress(int total, bool quiet, int slots)
    : total_(total),
      live_(!quiet && total > 0 && isatty(STDERR_FILENO) == 1),
      quiet_(quiet),
      interval_s_(progress_interval()),
      t0_s_(steady_seconds()) {
  for (int i = 0; i < slots; ++i) slots_.push_back(std::make_unique<Slot>());
  if (quiet_ || total_ == 0) return;
  if (live_) draw();
  // A terminal is redrawn every second (the clock moves during long runs); a log is looked at as
  // often as its interval asks, at most once a second.
  const auto period = std::chrono::duration<double>(live_ ? 1.0 : std::min(1.0, interval_s_));
  ticker_ = std::thread([this, period] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, period, [this] { return stop_; }))
      live_ ? draw() : log_training(steady_seconds());
  });
}

TrainProgress* Progress::run_started(int slot, const RunSpec& r) {
  std::lock_guard<std::mutex> lock(mu_);
  Slot& s = *slots_[static_cast<size_t>(slot)];
  s.id = r.id;
  s.train.total = 0;  // until the run's training starts
  s.last_line_s = steady_seconds();
  return &s.train;
}

void Progress::finished(int slot, const RunSpec& r, const json& sm) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string& id = slots_[static_cast<size_t>(slot)]->id;
  if (id == r.id) id.clear();  // (the slot may have started its next run: runs publish behind)
  ++done_;
  const bool ok = sm.value("status", "") == "ok";
  if (!ok) ++failed_;
  if (quiet_) return;
  if (live_) return draw();
  const json timing = sm.value("timing", json());
  const json seconds = timing.is_object() ? timing.value("total_s", json()) : json();
  fmt::print(stderr, "[{}/{}] {}: {}", done_, total_, r.id, summary_field(sm, "status"));
  if (ok)
    fmt::print(stderr, ", {}", summary_field(sm, "verdict"));
  else
    fmt::print(stderr, " ({})", summary_field(sm, "reason"));
  fmt::print(stderr, ", {}\n", duration_text(seconds.is_number() ? seconds.get<double>() : 0.0));
}

void Progress::note(const std::string& text) {
  std::lock_guard<std::mutex> lock(mu_);
  if (quiet_) return;
  fmt::print(stderr, "{}{}\n", live_ ? "\r\033[K" : "", text);
  if (live_) draw();
}

void Progress::close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_ || !ticker_.joinable()) return;
    stop_ = true;
    if (live_) {
      draw();
      fmt::print(stderr, "\n");
    }
  }
  cv_.notify_all();
  ticker_.join();
}

// The progress of the slot's training run, or "" when it is not training.
static std::string slot_text(const std::string& id, const TrainProgress& p, double now_s) {
  const int64_t total = p.total;
  if (id.empty() || total <= 0) return "";
  return fmt::format("{}: {}", id,
                     train_progress_text(p.step, total, p.loss, p.start_step, p.start_s, now_s));
}

void Progress::draw() {
  const double now = steady_seconds(), elapsed = now - t0_s_;
  const std::string eta = done_ ? duration_text(elapsed / done_ * (total_ - done_)) : "?";
  std::string line = fmt::format("[{}/{}] runs done, {} failed, elapsed {}, ETA {}", done_, total_,
                                 failed_, duration_text(elapsed), eta);
  std::string runs;
  for (const auto& s : slots_)
    if (std::string t = slot_text(s->id, s->train, now); !t.empty()) runs += " | " + t;
  // A one-run experiment: its own progress says it all (and fits an 80-column terminal).
  if (total_ == 1 && !runs.empty())
    line = fmt::format("{}, elapsed {}", runs.substr(3), duration_text(elapsed));
  else
    line += runs;
  // One terminal row: a wrapped line would not be rewritten in place.
  const auto cols = static_cast<size_t>(std::max(terminal_columns() - 1, 20));
  if (line.size() > cols) line = line.substr(0, cols - 3) + "...";
  fmt::print(stderr, "\r\033[K{}", line);
  std::fflush(stderr);
}

void Progress::log_training(double now_s) {
  for (const auto& s : slots_) {
    if (now_s - s->last_line_s < interval_s_) continue;
    if (std::string t = slot_text(s->id, s->train, now_s); !t.empty()) {
      fmt::print(stderr, "  {}\n", t);
      s->last_line_s = now_s;
    }
  }
  std::fflush(stderr);
}

}  // namespace gl
