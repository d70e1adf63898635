#include "experiments/sweep.h"

#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <mutex>
#include <thread>

#include "experiments/run.h"
#include "experiments/tables.h"
#include "harness/cost.h"
#include "harness/io.h"

namespace gl {

namespace fs = std::filesystem;

int cpus_available() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

// ---- rows as CSV text ----

static std::string opt_text(const std::optional<double>& v, Precision p) {
  return v ? num_text(*v, p) : "";
}

static std::vector<std::string> lead_cells(const Experiment& e, const RunSpec& r) {
  std::vector<std::string> cells = {r.id};
  for (const GridAxis& a : e.axes) cells.push_back(axis_value_text(r.point.at(a.name)));
  cells.push_back(std::to_string(r.repeat));
  cells.push_back(std::to_string(r.seed));
  return cells;
}

static std::string header(const Experiment& e, const auto& columns) {
  std::vector<std::string> cells = {"run"};
  for (const GridAxis& a : e.axes) cells.push_back(a.name);
  cells.push_back("repeat");
  cells.push_back("seed");
  for (auto c : columns) cells.emplace_back(c);
  return csv_line(cells);
}

static std::string layer_csv(const Experiment& e, const RunSpec& r, const RunResult& res) {
  const Precision p = r.config.precision;
  std::string s = header(e, layer_columns);
  const auto lead = lead_cells(e, r);
  for (const LayerRow& x : res.layers) {
    std::vector<std::string> c = lead;
    auto num = [&](double v) { c.push_back(num_text(v, p)); };
    c.push_back(std::to_string(x.step));
    c.push_back(std::to_string(x.layer));
    c.push_back(std::to_string(x.fan_in));
    c.push_back(std::to_string(x.fan_out));
    for (double v : {x.preact_mean, x.preact_std, x.preact_ms, x.act_mean, x.act_std, x.act_p98,
                     x.dphi_mean, x.saturated_frac, x.dead_frac, x.stuck_frac, x.zero_grad_frac,
                     x.delta_norm})
      num(v);
    c.push_back(opt_text(x.delta_factor, p));
    for (double v : {x.grad_w_norm, x.grad_b_norm, x.w_norm, x.grad_w_ratio}) num(v);
    c.push_back(std::to_string(x.nonfinite));
    c.push_back(opt_text(x.jac_sv_mean, p));
    c.push_back(opt_text(x.theory_q, p));
    c.push_back(opt_text(x.theory_delta_factor, p));
    s += csv_line(c);
  }
  return s;
}

static std::string step_csv(const Experiment& e, const RunSpec& r, const RunResult& res) {
  const Precision p = r.config.precision;
  std::string s = header(e, step_columns);
  const auto lead = lead_cells(e, r);
  for (const StepRow& x : res.steps) {
    std::vector<std::string> c = lead;
    c.push_back(std::to_string(x.step));
    c.push_back(opt_text(x.loss, p));
    c.push_back(num_text(x.probe_loss, p));
    c.push_back(num_text(x.probe_error, p));
    c.push_back(opt_text(x.test_error, p));
    c.push_back(opt_text(x.grad_norm, p));
    c.push_back(x.clipped ? std::to_string(*x.clipped) : "");
    c.push_back(opt_text(x.lr, p));
    c.push_back(opt_text(x.spectral_radius, p));
    c.push_back(opt_text(x.sigma_max, p));
    c.push_back("");  // elapsed_s: wall clock, kept in summary.json timing (bytes stay reproducible)
    s += csv_line(c);
  }
  return s;
}

static std::string hist_csv(const Experiment& e, const RunSpec& r, const RunResult& res) {
  const Precision p = r.config.precision;
  std::string s = header(e, hist_columns);
  const auto lead = lead_cells(e, r);
  for (const HistRow& x : res.hists) {
    std::vector<std::string> c = lead;
    c.push_back(std::to_string(x.step));
    c.push_back(std::to_string(x.layer));
    c.emplace_back(hist_quantity_names[static_cast<size_t>(x.quantity)]);
    c.push_back(x.nonfinite ? "nonfinite" : std::to_string(x.bin));
    c.push_back(x.nonfinite ? "" : num_text(x.lo, p));
    c.push_back(x.nonfinite ? "" : num_text(x.hi, p));
    c.push_back(std::to_string(x.count));
    s += csv_line(c);
  }
  return s;
}

static std::string timestep_csv(const Experiment& e, const RunSpec& r, const RunResult& res) {
  const Precision p = r.config.precision;
  std::string s = header(e, timestep_columns);
  const auto lead = lead_cells(e, r);
  for (const TimestepRow& x : res.timesteps) {
    std::vector<std::string> c = lead;
    c.push_back(std::to_string(x.step));
    c.push_back(std::to_string(x.t));
    for (double v : {x.h_norm, x.dh_norm, x.dz_norm}) c.push_back(num_text(v, p));
    c.push_back(opt_text(x.dh_last_norm, p));
    for (double v : {x.saturated_frac, x.dead_frac, x.grad_w_contrib_norm}) c.push_back(num_text(v, p));
    s += csv_line(c);
  }
  return s;
}

static std::string json_cell(const json& v, Precision p) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return num_text(v.get<double>(), p);
  return v.dump();
}

static std::string run_csv(const Experiment& e, const RunSpec& r, const json& sm) {
  const Precision p = r.config.precision;
  std::string s = header(e, run_columns);
  std::vector<std::string> c = lead_cells(e, r);
  for (auto col : run_columns) {
    const std::string k(col);
    c.push_back(sm.contains(k) ? json_cell(sm[k], p) : "");
  }
  return s + csv_line(c);
}

// ---- the run folder ----

static std::string run_dir(const std::string& out, const std::string& id) {
  return out + "/runs/" + id;
}

static bool run_complete(const std::string& out, const std::string& id, bool* failed) {
  const std::string f = run_dir(out, id) + "/summary.json";
  if (!fs::exists(f)) return false;
  if (failed) {
    try {
      *failed = json::parse(file_read(f)).value("status", "") == "failed";
    } catch (...) {
      *failed = true;
    }
  }
  return true;
}

static void write_lease(const std::string& tmp) {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const json lease = {{"host", host}, {"pid", getpid()},
                      {"time", std::chrono::duration_cast<std::chrono::seconds>(now).count()}};
  file_write_atomic(tmp + "/lease.json", lease.dump());
}

// A temporary folder whose lease names a live process on this host belongs to a running sweep.
static bool lease_alive(const std::string& tmp) {
  try {
    const json lease = json::parse(file_read(tmp + "/lease.json"));
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    if (lease.value("host", "") != host) {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      return now - lease.value("time", int64_t{0}) < 300;  // another host: stale after 5 min
    }
    const int pid = lease.value("pid", 0);
    return pid > 0 && pid != getpid() && ::kill(pid, 0) == 0;
  } catch (...) {
    return false;
  }
}

static RunResult execute_into_folder(const Experiment& e, const RunSpec& r, const std::string& out) {
  const std::string tmp = out + "/runs/.tmp-" + r.id;
  const std::string dst = run_dir(out, r.id);
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  write_lease(tmp);
  RunResult res = run_execute(r, tmp);
  file_write_atomic(tmp + "/config.json", r.resolved.dump(2) + "\n");
  file_write_atomic(tmp + "/summary.json", res.summary.dump(2) + "\n");
  file_write_atomic(tmp + "/layers.csv", layer_csv(e, r, res));
  file_write_atomic(tmp + "/steps.csv", step_csv(e, r, res));
  if (!res.hists.empty()) file_write_atomic(tmp + "/histograms.csv", hist_csv(e, r, res));
  if (!res.timesteps.empty()) file_write_atomic(tmp + "/timesteps.csv", timestep_csv(e, r, res));
  file_write_atomic(tmp + "/run.csv", run_csv(e, r, res.summary));
  fs::remove(tmp + "/lease.json");
  dir_fsync(tmp);
  fs::remove_all(dst);
  fs::rename(tmp, dst);
  dir_fsync(out + "/runs");
  return res;
}

// ---- console ----

static std::string pct(double v) { return std::isfinite(v) ? fmt::format("{:.1f}", 100 * v) : num_text(v, Precision::float64); }
static std::string sci(double v) { return std::isfinite(v) ? fmt::format("{:.3e}", v) : num_text(v, Precision::float64); }

static void print_layer_table(const RunResult& res) {
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

static std::string summary_text(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_number()) return sci(v.get<double>());
  return v.is_string() ? v.get<std::string>() : v.dump();
}

static void print_verdict(const json& sm) {
  fmt::print("verdict: {} (gradient_ratio |delta_1|/|delta_L| = {}, per-layer factor {})",
             summary_text(sm["verdict"]), summary_text(sm["gradient_ratio"]),
             summary_text(sm["per_layer_factor"]));
  if (sm["status"] != "ok") fmt::print(" [status {}: {}]", summary_text(sm["status"]), summary_text(sm["reason"]));
  fmt::print("\n");
}

// ---- progress ----

struct Progress {
  int total = 0, done = 0, failed = 0;
  bool tty = false, quiet = false;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  std::mutex mu;
  void finished(const RunSpec& r, const json& sm) {
    std::lock_guard<std::mutex> lock(mu);
    ++done;
    if (sm["status"] != "ok") ++failed;
    if (quiet) return;
    const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double eta = done ? el / done * (total - done) : 0.0;
    if (tty)
      fmt::print(stderr, "\r[{}/{}] failed {}  elapsed {:.1f}s  ETA {:.1f}s   ", done, total, failed, el, eta);
    else
      fmt::print(stderr, "[{}/{}] {} {} {} ({:.2f}s)\n", done, total, r.id, summary_text(sm["status"]),
                 summary_text(sm["verdict"]), sm["timing"].is_object() ? sm["timing"].value("total_s", 0.0) : 0.0);
    if (tty && done == total) fmt::print(stderr, "\n");
  }
};

// Refuses (exit 2, before anything is written) runs whose estimated memory exceeds what the
// machine has available; with --jobs N, N of the largest may run at once.
static void check_memory(const Experiment& e, int jobs) {
  const double avail = memory_available();
  if (avail <= 0) return;
  double largest = 0;
  for (const RunSpec& r : e.runs) {
    const double need = run_cost(r.config).bytes;
    largest = std::max(largest, need);
    if (need > 0.9 * avail)
      throw UsageError(fmt::format(
          "{}: run {} needs about {:.1f} GB of memory, more than the {:.1f} GB available; "
          "reduce the width, depth, probe.samples or data.test_samples",
          e.file, r.id, need / 1e9, avail / 1e9));
  }
  if (jobs > 1 && largest * jobs > 0.9 * avail)
    throw UsageError(fmt::format(
        "{}: {} runs at once need about {:.1f} GB, more than the {:.1f} GB available; use --jobs {}",
        e.file, jobs, largest * jobs / 1e9, avail / 1e9,
        std::max(1, static_cast<int>(0.9 * avail / largest))));
}

int sweep_run(const Experiment& e, const SweepOptions& o) {
  const std::string out = o.out.empty() ? "results/" + e.name : o.out;
  check_memory(e, std::max(1, std::min(o.jobs > 0 ? o.jobs : cpus_available(),
                                       static_cast<int>(e.runs.size()))));
  const json manifest = experiment_to_json(e);
  std::error_code ec;
  fs::create_directories(out + "/runs", ec);
  if (ec || access(out.c_str(), W_OK) != 0)
    throw EnvError(fmt::format("{}: cannot write the result folder: {}", out,
                               ec ? ec.message() : std::strerror(errno)));
  const std::string mpath = out + "/manifest.json";
  if (fs::exists(mpath)) {
    json old;
    try {
      old = json::parse(file_read(mpath));
    } catch (const std::exception&) {
    }
    if (old.value("hash", "") != e.hash && !o.force)
      throw UsageError(fmt::format(
          "{}: holds the results of a different experiment (config hash {} here, {} there); "
          "use --out DIR for a new folder, or --force to replace them",
          out, e.hash, old.value("hash", "?")));
  }
  if (!fs::exists(mpath) || o.force) file_write_atomic(mpath, manifest.dump(2) + "\n");

  std::vector<const RunSpec*> todo;
  for (const RunSpec& r : e.runs) {
    if (r.index % o.shard_n != o.shard_k) continue;
    bool failed = false;
    if (!o.force && run_complete(out, r.id, &failed) && !failed) continue;
    const std::string tmp = out + "/runs/.tmp-" + r.id;
    if (fs::exists(tmp) && lease_alive(tmp)) continue;  // another process is running it
    todo.push_back(&r);
  }

  Progress prog;
  prog.total = static_cast<int>(todo.size());
  prog.tty = isatty(STDERR_FILENO);
  prog.quiet = o.quiet;
  const int jobs = std::max(1, std::min(o.jobs > 0 ? o.jobs : cpus_available(), prog.total));
  std::atomic<size_t> next{0};
  std::atomic<int> bad{0};
  RunResult single;
  std::mutex err_mu;
  std::exception_ptr env_error;
  auto worker = [&] {
    for (;;) {
      const size_t i = next++;
      if (i >= todo.size()) return;
      try {
        RunResult res = execute_into_folder(e, *todo[i], out);
        if (res.summary["status"] != "ok") ++bad;
        prog.finished(*todo[i], res.summary);
        if (e.runs.size() == 1) single = std::move(res);
      } catch (...) {
        std::lock_guard<std::mutex> lock(err_mu);
        if (!env_error) env_error = std::current_exception();
        next = todo.size();
      }
    }
  };
  if (jobs == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int j = 0; j < jobs; ++j) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  if (env_error) std::rethrow_exception(env_error);

  // Collect when every run of the experiment is complete (the last shard to finish does it).
  bool all = true;
  for (const RunSpec& r : e.runs) all = all && run_complete(out, r.id, nullptr);
  int status = bad > 0 ? 1 : 0;
  if (all) status = std::max(status, collect_dir(out, true));

  if (!o.quiet) {
    if (e.runs.size() == 1 && !single.summary.is_null()) {
      print_layer_table(single);
      print_verdict(single.summary);
    } else if (all) {
      fmt::print("{:<48} {:>9} {:>10} {:>14} {:>12}\n", "run", "status", "verdict", "grad_ratio", "layer_factor");
      for (const RunSpec& r : e.runs) {
        json sm;
        try {
          sm = json::parse(file_read(run_dir(out, r.id) + "/summary.json"));
        } catch (...) {
          continue;
        }
        fmt::print("{:<48} {:>9} {:>10} {:>14} {:>12}\n", r.id, summary_text(sm["status"]),
                   summary_text(sm["verdict"]), summary_text(sm["gradient_ratio"]),
                   summary_text(sm["per_layer_factor"]));
      }
    }
    fmt::print("results: {}\n", out);
  }
  return status;
}

// ---- collect ----

static std::string body_of(const std::string& csv) {
  const size_t nl = csv.find('\n');
  return nl == std::string::npos ? "" : csv.substr(nl + 1);
}
static std::string header_of(const std::string& csv) {
  const size_t nl = csv.find('\n');
  return nl == std::string::npos ? csv : csv.substr(0, nl + 1);
}

int collect_dir(const std::string& dir, bool quiet) {
  const std::string mpath = dir + "/manifest.json";
  if (!fs::exists(mpath)) throw UsageError(fmt::format("{}: no manifest.json: not a gradlab result folder", dir));
  json m;
  try {
    m = json::parse(file_read(mpath));
  } catch (const json::exception& ex) {
    throw UsageError(fmt::format("{}: unreadable manifest: {}", mpath, ex.what()));
  }
  const std::array<std::string, 5> tables = {"run.csv", "layers.csv", "steps.csv", "timesteps.csv", "histograms.csv"};
  std::array<std::string, 5> combined, headers;
  int missing = 0, failed = 0;
  for (const json& r : m["runs"]) {
    const std::string id = r["id"];
    const std::string rd = run_dir(dir, id);
    if (!fs::exists(rd + "/summary.json")) {
      ++missing;
      continue;
    }
    const json sm = json::parse(file_read(rd + "/summary.json"));
    if (sm.value("status", "") != "ok") ++failed;
    for (size_t k = 0; k < tables.size(); ++k) {
      if (!fs::exists(rd + "/" + tables[k])) continue;
      const std::string csv = file_read(rd + "/" + tables[k]);
      if (headers[k].empty()) headers[k] = header_of(csv);
      combined[k] += body_of(csv);
    }
  }
  for (size_t k = 0; k < tables.size(); ++k) {
    if (headers[k].empty()) continue;
    const std::string name = k == 0 ? "runs.csv" : tables[k];
    file_write_atomic(dir + "/" + name, headers[k] + combined[k]);
  }
  if (!quiet || missing || failed)
    fmt::print(stderr, "collect {}: {} runs, {} missing, {} failed or diverged\n", dir,
               m["runs"].size(), missing, failed);
  return missing || failed ? 1 : 0;
}

}  // namespace gl
