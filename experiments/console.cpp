#include "experiments/console.h"

#include <algorithm>
#include <cmath>

#include "experiments/folder.h"
#include "harness/core/io.h"

namespace gl {

static std::string pct(double v) {
  return std::isfinite(v) ? fmt::format("{:.1f}", 100 * v) : num_text(v, Precision::float64);
}
static std::string pct(const std::optional<double>& v) {  // empty cells (layers.csv) as "-"
  return v ? pct(*v) : "-";
}
static std::string sci(double v) {
  return std::isfinite(v) ? fmt::format("{:.3e}", v) : num_text(v, Precision::float64);
}

void print_layer_table(const RunResult& res) {
  if (res.layers.empty()) return;
  const int64_t last_step = res.layers.back().step;
  for (int64_t step : {int64_t{0}, last_step}) {
    fmt::print("step {}\n{:>6} {:>12} {:>12} {:>11} {:>8}\n", step, "layer", "|delta|", "|dL/dW|",
               "saturated%", "dead%");
    for (const LayerRow& x : res.layers)
      if (x.step == step)
        fmt::print("{:>6} {:>12} {:>12} {:>11} {:>8}\n", x.layer, sci(x.delta_norm),
                   sci(x.grad_w_norm), pct(x.saturated_frac), pct(x.dead_frac));
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

// The chain's counterpart of print_layer_table: per time step at step 0 and the last probe.
// |dz| is what gradient_ratio compares; |dh_last| (loss_at every_step) is the long-range part.
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
  for (int64_t step : {int64_t{0}, last_step}) {
    fmt::print("step {}\n{:>6} {:>12} {:>12} {:>12}", step, "t", "|h|", "|dh|", "|dz|");
    if (has_last) fmt::print(" {:>12}", "|dh_last|");
    fmt::print(" {:>11} {:>8}\n", "saturated%", "dead%");
    for (const TimestepRow& x : res.timesteps) {
      if (x.step != step || !timestep_shown(x.t, T)) continue;
      fmt::print("{:>6} {:>12} {:>12} {:>12}", x.t, sci(x.h_norm), sci(x.dh_norm), sci(x.dz_norm));
      if (has_last) fmt::print(" {:>12}", x.dh_last_norm ? sci(*x.dh_last_norm) : "-");
      fmt::print(" {:>11} {:>8}\n", pct(x.saturated_frac), pct(x.dead_frac));
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

// summary.json's verdict and what its ratio compares (docs/reference.md §4.4): for a chain, δ_t =
// ∂ℓ/∂z_t at t = 1 vs T, seeded by the last step's loss only (run_rnn.cpp), and the factor is per
// step.
void print_verdict(const json& sm, ModelType type) {
  if (summary_field(sm, "status") == "failed") {
    fmt::print("run failed: {}\n", summary_field(sm, "reason"));
    return;
  }
  if (type == ModelType::rnn)
    fmt::print(
        "verdict: {} (gradient_ratio |dz_1|/|dz_T| = {}, from the last step's loss; "
        "per-step factor {})",
        summary_field(sm, "verdict"), summary_field(sm, "gradient_ratio"),
        summary_field(sm, "per_layer_factor"));
  else
    fmt::print("verdict: {} (gradient_ratio |delta_1|/|delta_L| = {}, per-layer factor {})",
               summary_field(sm, "verdict"), summary_field(sm, "gradient_ratio"),
               summary_field(sm, "per_layer_factor"));
  if (summary_field(sm, "status") != "ok")
    fmt::print(" [status {}: {}]", summary_field(sm, "status"), summary_field(sm, "reason"));
  fmt::print("\n");
}

void print_summary_table(const std::string& out, const std::vector<std::string>& ids) {
  fmt::print("{:<48} {:>9} {:>10} {:>14} {:>12}\n", "run", "status", "verdict", "grad_ratio",
             "layer_factor");
  for (const std::string& id : ids) {
    json sm;
    try {
      sm = json::parse(file_read(run_dir(out, id) + "/summary.json"));
    } catch (const std::exception&) {
      continue;
    }
    fmt::print("{:<48} {:>9} {:>10} {:>14} {:>12}\n", id, summary_field(sm, "status"),
               summary_field(sm, "verdict"), summary_field(sm, "gradient_ratio"),
               summary_field(sm, "per_layer_factor"));
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

}  // namespace gl
