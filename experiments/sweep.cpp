#include "experiments/sweep.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "experiments/run.h"
#include "experiments/tables.h"
#include "harness/core/cost.h"
#include "harness/core/io.h"

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
    for (double v :
         {x.preact_mean, x.preact_std, x.preact_ms, x.act_mean, x.act_std, x.act_p98, x.dphi_mean,
          x.saturated_frac, x.dead_frac, x.stuck_frac, x.zero_grad_frac, x.delta_norm})
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
    c.push_back(
        "");  // elapsed_s: wall clock, kept in summary.json timing (bytes stay reproducible)
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
    for (double v : {x.saturated_frac, x.dead_frac, x.grad_w_contrib_norm})
      c.push_back(num_text(v, p));
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

// ---- writing files ----

// Writes data to path (created or truncated); with sync, fsyncs it. Files inside a temporary run
// folder need no rename of their own: the folder is fsync'd and renamed as a whole.
static void write_file(const std::string& path, std::string_view data, bool sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(err)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  const bool synced = !sync || ::fsync(fd) == 0;
  if (::close(fd) != 0 || !synced)
    throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
}

// ---- paths and run states ----

static std::string run_dir(const std::string& out, const std::string& id) {
  return out + "/runs/" + id;
}

// A run in progress lives here; it is renamed to run_dir when complete.
static constexpr std::string_view tmp_prefix = ".tmp-";
static std::string tmp_dir(const std::string& out, const std::string& id) {
  return out + "/runs/" + std::string(tmp_prefix) + id;
}

// The combined tables of a result folder; a run folder holds the same ones (run.csv: its row of
// runs.csv). Only those a run has are written.
static constexpr std::array<std::pair<std::string_view, std::string_view>, 5> tables = {
    {{"run.csv", "runs.csv"},
     {"layers.csv", "layers.csv"},
     {"steps.csv", "steps.csv"},
     {"timesteps.csv", "timesteps.csv"},
     {"histograms.csv", "histograms.csv"}}};

// What a run folder says about its run. A folder appears only by rename when its run is complete,
// so one with a summary is complete; an unreadable summary counts as a failed run (retried).
struct RunState {
  bool complete = false;
  std::string status, reason;
  bool ok() const { return complete && status == "ok"; }
  bool failed() const { return complete && status != "ok" && status != "diverged"; }
  bool settled() const {
    return complete && !failed();
  }  // nothing to redo (a divergence is a result)
};

static RunState run_state(const std::string& out, const std::string& id) {
  const std::string f = run_dir(out, id) + "/summary.json";
  if (!fs::exists(f)) return {};
  try {
    const json sm = json::parse(file_read(f));
    return {true, sm.value("status", "failed"), sm.value("reason", "")};
  } catch (const std::exception&) {
    return {true, "failed", "unreadable summary.json"};
  }
}

// ---- leases: who is running a temporary run folder ----

static std::string host_name() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

static int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A process's start time (clock ticks since boot, field 22 of /proc/<pid>/stat), so that an
// unrelated process that reuses a dead sweep's pid does not keep its lease alive; 0 if unknown.
static int64_t process_start(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return 0;
  const size_t paren = line.rfind(')');  // the command name may hold spaces and parentheses
  if (paren == std::string::npos) return 0;
  std::istringstream fields(line.substr(paren + 1));
  std::string field;
  for (int k = 3; k <= 22 && fields >> field; ++k)
    if (k == 22) return std::strtoll(field.c_str(), nullptr, 10);
  return 0;
}

static constexpr int64_t lease_stale_s = 300;  // another host's lease unrefreshed this long
static constexpr auto lease_refresh = std::chrono::seconds(10);

// Readers see the old lease or the new one, never half of one (rename). No fsync: after a crash
// of the machine the lease is stale anyway.
static void write_lease(const std::string& tmp) {
  const int pid = getpid();
  const json lease = {
      {"host", host_name()}, {"pid", pid}, {"start", process_start(pid)}, {"time", now_seconds()}};
  const std::string path = tmp + "/lease.json";
  write_file(path + ".tmp", lease.dump() + "\n", false);
  if (::rename((path + ".tmp").c_str(), path.c_str()) != 0)
    throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
}

// A lease is alive when it names a live process on this host (the same pid and start time), or,
// from another host, when it was refreshed in the last 5 minutes. No lease (a process killed
// before it wrote one) or an unreadable one is stale.
static bool lease_alive(const std::string& tmp) {
  json lease;
  try {
    lease = json::parse(file_read(tmp + "/lease.json"));
  } catch (const std::exception&) {
    return false;
  }
  if (!lease.is_object()) return false;
  if (lease.value("host", "") != host_name())
    return now_seconds() - lease.value("time", int64_t{0}) < lease_stale_s;
  const int pid = lease.value("pid", 0);
  if (pid <= 0 || pid == getpid()) return false;  // our own pid: left by an earlier life of it
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  const int64_t start = lease.value("start", int64_t{0}), now = process_start(pid);
  return start == 0 || now == 0 || start == now;
}

// Holds the leases of the runs this process executes: writes lease.json when a run is taken and
// rewrites every held lease every 10 s from a background thread, so that other hosts see even a
// long run as alive.
class LeaseKeeper {
 public:
  LeaseKeeper() : thread_([this] { loop(); }) {}
  ~LeaseKeeper() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void hold(const std::string& tmp) {
    std::lock_guard<std::mutex> lock(mu_);
    write_lease(tmp);
    held_.insert(tmp);
  }
  // Stops refreshing and removes lease.json (the folder is about to be published or abandoned).
  void release(const std::string& tmp) {
    std::lock_guard<std::mutex> lock(mu_);
    held_.erase(tmp);
    std::error_code ec;
    fs::remove(tmp + "/lease.json", ec);
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, lease_refresh, [this] { return stop_; }))
      for (const std::string& tmp : held_) {
        try {
          write_lease(tmp);
        } catch (const std::exception&) {
          // A full or flaky disk: the next refresh tries again; the run itself will report it.
        }
      }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> held_;
  bool stop_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

// ---- the result folder's lock ----

// An exclusive flock on DIR/.lock, held while a process reads or changes what processes share:
// the manifest, the temporary run folders, the combined tables. (Over NFS, Linux maps flock to a
// POSIX lock.) Where the filesystem has no locks it goes on unlocked: shards never share runs,
// so the lock only guards against two collects racing and against misuse.
class FolderLock {
 public:
  explicit FolderLock(const std::string& dir)
      : fd_(::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644)) {
    if (fd_ < 0) return;
    while (::flock(fd_, LOCK_EX) != 0)
      if (errno != EINTR) {
        ::close(fd_);
        fd_ = -1;
        return;
      }
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_;
};

// ---- the manifest ----

static std::string foreign_hint(const std::string& out) {
  return fmt::format("use --out DIR for a new folder, or --force to replace the results in {}",
                     out);
}

// Refuses (UsageError, exit 2) a folder whose manifest belongs to another experiment, unless
// force. Reads only: a refused folder is left as it was.
static void check_manifest(const std::string& out, const Experiment& e, bool force) {
  const std::string mpath = out + "/manifest.json";
  if (force || !fs::exists(mpath)) return;
  json old;
  try {
    old = json::parse(file_read(mpath));
  } catch (const std::exception& ex) {
    throw UsageError(
        fmt::format("{}: unreadable manifest ({}); {}", mpath, ex.what(), foreign_hint(out)));
  }
  const std::string hash = old.is_object() ? old.value("hash", "?") : "?";
  if (hash != e.hash)
    throw UsageError(fmt::format(
        "{}: holds the results of a different experiment (config hash {} there, {} here); {}", out,
        hash, e.hash, foreign_hint(out)));
}

// --force on a foreign folder: the other experiment's runs, tables and figures go.
static void discard_results(const std::string& out) {
  fs::remove_all(out + "/runs");
  for (const auto& [run_name, name] : tables) fs::remove(out + "/" + std::string(name));
  fs::remove_all(out + "/figures");
  fs::remove(out + "/report.html");
}

// Makes out/manifest.json describe e (under the folder lock) and returns it: written when absent
// or foreign (--force); for the same experiment the runs it lacks are added in index order, so
// that runs of several --only selections add up to one sweep.
static json manifest_update(const Experiment& e, const std::string& out, bool force) {
  const std::string mpath = out + "/manifest.json";
  const json fresh = experiment_to_json(e);
  json old;
  if (fs::exists(mpath)) {
    try {
      old = json::parse(file_read(mpath));
    } catch (const std::exception&) {
      old = nullptr;
    }
    if (!old.is_object() || old.value("hash", "") != e.hash) {
      check_manifest(out, e, force);  // another process replaced it since the first check
      discard_results(out);
      old = nullptr;
    }
  }
  if (old.is_null()) {
    file_write_atomic(mpath, fresh.dump(2) + "\n");
    return fresh;
  }
  std::map<int, json> by_index;
  try {
    for (const json& r : old.at("runs")) by_index.emplace(r.at("index").get<int>(), r);
  } catch (const json::exception& ex) {
    throw UsageError(
        fmt::format("{}: unreadable manifest ({}); {}", mpath, ex.what(), foreign_hint(out)));
  }
  const size_t before = by_index.size();
  for (const json& r : fresh["runs"]) by_index.emplace(r["index"].get<int>(), r);
  if (by_index.size() == before) return old;  // nothing new: the file stays as it is
  old["runs"] = json::array();
  for (auto& [index, r] : by_index) old["runs"].push_back(std::move(r));
  file_write_atomic(mpath, old.dump(2) + "\n");
  return old;
}

static std::vector<std::string> manifest_ids(const json& m) {
  std::vector<std::string> ids;
  for (const json& r : m.at("runs")) ids.push_back(r.at("id").get<std::string>());
  return ids;
}

// Removes what killed processes left behind (under the folder lock): half-written tables, and
// temporary run folders whose lease is stale — but such a folder is kept when it holds the
// checkpoint of a run still to do, which then resumes from it.
static void tidy(const std::string& out, const json& manifest) {
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(out, ec))
    if (f.path().extension() == ".tmp" && f.is_regular_file()) fs::remove(f.path(), ec);
  std::set<std::string> ids;
  for (const std::string& id : manifest_ids(manifest)) ids.insert(id);
  for (const auto& f : fs::directory_iterator(out + "/runs", ec)) {
    const std::string name = f.path().filename().string();
    if (name.rfind(tmp_prefix, 0) != 0 || !f.is_directory()) continue;
    const std::string id = name.substr(tmp_prefix.size()), tmp = f.path().string();
    if (lease_alive(tmp)) continue;
    const bool resumable =
        ids.count(id) && !run_state(out, id).settled() && fs::exists(tmp + "/checkpoint.bin");
    if (!resumable) fs::remove_all(tmp, ec);
  }
}

// ---- executing one run ----

enum class Claim { run, resume, done, busy };

// Takes run id for this process (under the folder lock): done when another process completed it
// meanwhile, busy when a live process holds it. Otherwise its temporary folder is ready and
// leased to us: fresh (run), or a stale one kept because it holds a checkpoint (resume: passed to
// run_execute as it is; --force starts over).
static Claim claim(const std::string& out, const std::string& id, bool force, LeaseKeeper& leases) {
  FolderLock lock(out);
  if (!force && run_state(out, id).settled()) return Claim::done;
  const std::string tmp = tmp_dir(out, id);
  if (fs::exists(tmp)) {
    if (lease_alive(tmp)) return Claim::busy;
    if (force || !fs::exists(tmp + "/checkpoint.bin")) fs::remove_all(tmp);
  }
  const bool resume = fs::exists(tmp);
  fs::create_directories(tmp);
  leases.hold(tmp);
  return resume ? Claim::resume : Claim::run;
}

// Runs r in its temporary folder, writes its files there, fsyncs them and the folder, and renames
// the folder to its final name: a run folder that exists is complete.
static RunResult execute_into_folder(const Experiment& e, const RunSpec& r, const std::string& out,
                                     LeaseKeeper& leases) {
  const std::string tmp = tmp_dir(out, r.id), dst = run_dir(out, r.id);
  try {
    RunResult res = run_execute(r, tmp);
    const auto put = [&](const char* name, const std::string& data) {
      write_file(tmp + "/" + name, data, true);
    };
    put("config.json", r.resolved.dump(2) + "\n");
    put("summary.json", res.summary.dump(2) + "\n");
    put("layers.csv", layer_csv(e, r, res));
    put("steps.csv", step_csv(e, r, res));
    if (!res.hists.empty()) put("histograms.csv", hist_csv(e, r, res));
    if (!res.timesteps.empty()) put("timesteps.csv", timestep_csv(e, r, res));
    put("run.csv", run_csv(e, r, res.summary));
    // A failed run may leave its checkpoint; a retry starts afresh.
    for (const char* leftover : {"checkpoint.bin", "checkpoint.bin.tmp"})
      fs::remove(tmp + "/" + leftover);
    {
      // Dropping the lease and publishing are one step for other processes: between the two, a
      // shard tidying the folder would take the lease-less folder for a dead run's and delete it.
      FolderLock lock(out);
      leases.release(tmp);
      fs::remove(tmp + "/lease.json.tmp");
      dir_fsync(tmp);
      fs::remove_all(dst);  // a failed run being retried, or --force
      fs::rename(tmp, dst);
    }
    dir_fsync(out + "/runs");
    return res;
  } catch (...) {
    leases.release(tmp);  // stale now: the next sweep resumes or redoes it
    throw;
  }
}

// ---- console ----

static std::string pct(double v) {
  return std::isfinite(v) ? fmt::format("{:.1f}", 100 * v) : num_text(v, Precision::float64);
}
static std::string sci(double v) {
  return std::isfinite(v) ? fmt::format("{:.3e}", v) : num_text(v, Precision::float64);
}

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
static void print_timestep_table(const RunResult& res) {
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

// A field of summary.json as text ("-" when absent or null).
static std::string field(const json& sm, const char* key) {
  return summary_text(sm.is_object() ? sm.value(key, json()) : json());
}

// summary.json's verdict and what its ratio compares (docs/reference.md §4.4): for a chain, δ_t =
// ∂ℓ/∂z_t at t = 1 vs T, seeded by the last step's loss only (run_rnn.cpp), and the factor is per
// step.
static void print_verdict(const json& sm, ModelType type) {
  if (field(sm, "status") == "failed") {
    fmt::print("run failed: {}\n", field(sm, "reason"));
    return;
  }
  if (type == ModelType::rnn)
    fmt::print(
        "verdict: {} (gradient_ratio |dz_1|/|dz_T| = {}, from the last step's loss; "
        "per-step factor {})",
        field(sm, "verdict"), field(sm, "gradient_ratio"), field(sm, "per_layer_factor"));
  else
    fmt::print("verdict: {} (gradient_ratio |delta_1|/|delta_L| = {}, per-layer factor {})",
               field(sm, "verdict"), field(sm, "gradient_ratio"), field(sm, "per_layer_factor"));
  if (field(sm, "status") != "ok")
    fmt::print(" [status {}: {}]", field(sm, "status"), field(sm, "reason"));
  fmt::print("\n");
}

static void print_summary_table(const std::string& out, const std::vector<std::string>& ids) {
  fmt::print("{:<48} {:>9} {:>10} {:>14} {:>12}\n", "run", "status", "verdict", "grad_ratio",
             "layer_factor");
  for (const std::string& id : ids) {
    json sm;
    try {
      sm = json::parse(file_read(run_dir(out, id) + "/summary.json"));
    } catch (const std::exception&) {
      continue;
    }
    fmt::print("{:<48} {:>9} {:>10} {:>14} {:>12}\n", id, field(sm, "status"), field(sm, "verdict"),
               field(sm, "gradient_ratio"), field(sm, "per_layer_factor"));
  }
}

// 0.25s, 42.0s, 3m07s, 2h05m
static std::string duration_text(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 10) return fmt::format("{:.2f}s", s);
  if (s < 60) return fmt::format("{:.1f}s", s);
  const auto whole = static_cast<int64_t>(s);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
}

// Progress on stderr: on a terminal one line rewritten in place (done/total, failed, elapsed,
// ETA; redrawn every second so that the clock moves during long runs); in a log one line per
// finished run; nothing with --quiet.
class Progress {
 public:
  Progress(int total, bool quiet)
      : total_(total), live_(!quiet && total > 0 && isatty(STDERR_FILENO) == 1), quiet_(quiet) {
    if (!live_) return;
    draw();
    ticker_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) draw();
    });
  }
  ~Progress() { close(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void finished(const RunSpec& r, const json& sm) {
    std::lock_guard<std::mutex> lock(mu_);
    ++done_;
    const bool ok = sm.value("status", "") == "ok";
    if (!ok) ++failed_;
    if (quiet_) return;
    if (live_) return draw();
    const json timing = sm.value("timing", json());
    const json seconds = timing.is_object() ? timing.value("total_s", json()) : json();
    fmt::print(stderr, "[{}/{}] {}: {}", done_, total_, r.id, field(sm, "status"));
    if (ok)
      fmt::print(stderr, ", {}", field(sm, "verdict"));
    else
      fmt::print(stderr, " ({})", field(sm, "reason"));
    fmt::print(stderr, ", {}\n", duration_text(seconds.is_number() ? seconds.get<double>() : 0.0));
  }

  // A line of its own (in a log; on a terminal, above the progress line).
  void note(const std::string& text) {
    std::lock_guard<std::mutex> lock(mu_);
    if (quiet_) return;
    fmt::print(stderr, "{}{}\n", live_ ? "\r\033[K" : "", text);
    if (live_) draw();
  }

  // Stops the ticker and ends the terminal line.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_ || !live_) return;
      stop_ = true;
      draw();
      fmt::print(stderr, "\n");
    }
    cv_.notify_all();
    ticker_.join();
  }

 private:
  void draw() {  // with mu_ held
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const std::string eta = done_ ? duration_text(elapsed / done_ * (total_ - done_)) : "?";
    fmt::print(stderr, "\r\033[K[{}/{}] runs done, {} failed, elapsed {}, ETA {}", done_, total_,
               failed_, duration_text(elapsed), eta);
    std::fflush(stderr);
  }

  int total_, done_ = 0, failed_ = 0;
  bool live_, quiet_, stop_ = false;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread ticker_;
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
          "reduce {}, probe.samples or data.test_samples",
          e.file, r.id, need / 1e9, avail / 1e9,
          r.config.model.type == ModelType::rnn ? "the width, the chain length"
                                                : "the width, depth"));
  }
  if (jobs > 1 && largest * jobs > 0.9 * avail)
    throw UsageError(
        fmt::format("{}: {} runs at once need about {:.1f} GB, more than the {:.1f} GB available; "
                    "use --jobs {}",
                    e.file, jobs, largest * jobs / 1e9, avail / 1e9,
                    std::max(1, static_cast<int>(0.9 * avail / largest))));
}

// ---- the sweep ----

static std::string plural(size_t n, std::string_view noun) {
  return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}
static std::string plural(int n, std::string_view noun) {
  return plural(static_cast<size_t>(n), noun);
}

// Creates the result folder (EnvError, exit 3, when it cannot be written).
static void prepare_folder(const std::string& out) {
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw EnvError(
        fmt::format("{}: cannot write the result folder: it exists and is not a folder", out));
  fs::create_directories(out, ec);
  if (ec) throw EnvError(fmt::format("{}: cannot write the result folder: {}", out, ec.message()));
  if (access(out.c_str(), W_OK | X_OK) != 0)
    throw EnvError(
        fmt::format("{}: cannot write the result folder: {}", out, std::strerror(errno)));
}

// Runs every run of todo, `jobs` at a time. A run's numerical trouble or exception is its status
// (the sweep goes on); an environment error (e.g. a full disk) stops the sweep and is rethrown.
struct PoolResult {
  int bad = 0, busy = 0;  // runs failed or diverged; runs another process was running
  RunResult single;       // the result of the only run of a one-run experiment
};

static PoolResult run_pool(const Experiment& e, const std::vector<const RunSpec*>& todo,
                           const std::string& out, int jobs, const SweepOptions& o) {
  PoolResult pr;
  LeaseKeeper leases;
  Progress progress(static_cast<int>(todo.size()), o.quiet);
  std::atomic<size_t> next{0};
  std::atomic<int> bad{0}, busy{0};
  std::mutex mu;
  std::exception_ptr env_error;
  auto worker = [&] {
    for (size_t i; (i = next++) < todo.size();) {
      const RunSpec& r = *todo[i];
      try {
        const Claim c = claim(out, r.id, o.force, leases);
        if (c == Claim::busy) ++busy;
        if (c == Claim::busy || c == Claim::done) continue;
        if (c == Claim::resume)
          progress.note(fmt::format("{}: resuming from its checkpoint", r.id));
        RunResult res = execute_into_folder(e, r, out, leases);
        if (res.summary.value("status", "") != "ok") ++bad;
        progress.finished(r, res.summary);
        if (e.runs.size() == 1) pr.single = std::move(res);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!env_error) env_error = std::current_exception();
        next = todo.size();  // stop taking runs; the running ones finish
      }
    }
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  progress.close();
  if (env_error) std::rethrow_exception(env_error);
  pr.bad = bad;
  pr.busy = busy;
  return pr;
}

int sweep_run(const Experiment& e, const SweepOptions& o) {
  const std::string out = o.out.empty() ? "results/" + e.name : o.out;
  const int want_jobs = o.jobs > 0 ? o.jobs : cpus_available();
  check_memory(e, std::max(1, std::min(want_jobs, static_cast<int>(e.runs.size()))));
  check_manifest(out, e, o.force);
  prepare_folder(out);

  json manifest;
  {
    FolderLock lock(out);
    manifest = manifest_update(e, out, o.force);
    fs::create_directories(out + "/runs");
    tidy(out, manifest);
  }

  std::vector<const RunSpec*> todo;
  int mine = 0;
  for (const RunSpec& r : e.runs) {
    if (r.index % o.shard_n != o.shard_k) continue;
    ++mine;
    if (o.force || !run_state(out, r.id).settled()) todo.push_back(&r);
  }
  const int jobs = std::max(1, std::min(want_jobs, static_cast<int>(todo.size())));
  if (!o.quiet)
    fmt::print(stderr, "{}: {}{}, {} complete, {} to run{}\n", e.name, plural(mine, "run"),
               o.shard_n > 1 ? fmt::format(" in shard {}/{}", o.shard_k, o.shard_n) : "",
               mine - static_cast<int>(todo.size()), todo.size(),
               todo.empty() ? "" : fmt::format(", {} at a time", jobs));

  const PoolResult pr = run_pool(e, todo, out, jobs, o);

  // The process that finds the whole sweep complete (the last shard to finish) collects.
  const std::vector<std::string> ids = manifest_ids(manifest);
  const auto missing =
      static_cast<size_t>(std::count_if(ids.begin(), ids.end(), [&](const std::string& id) {
        return !fs::exists(run_dir(out, id) + "/summary.json");
      }));
  int status = pr.bad > 0 ? 1 : 0;
  if (missing == 0) status = std::max(status, collect_dir(out, true));

  if (!o.quiet) {
    if (e.runs.size() == 1 && !pr.single.summary.is_null()) {
      print_layer_table(pr.single);
      print_timestep_table(pr.single);
      print_verdict(pr.single.summary, e.runs[0].config.model.type);
    } else if (missing == 0) {
      print_summary_table(out, ids);
    } else {
      fmt::print(stderr,
                 "{} of {} runs still missing{}; `gradlab collect {}` builds the tables when all "
                 "are done\n",
                 missing, ids.size(),
                 pr.busy ? fmt::format(" ({} being run by another process)", pr.busy) : "", out);
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

// Up to 10 lines of a list of problems, then how many more.
static void print_some(std::string_view what, const std::vector<std::string>& items) {
  const size_t shown = std::min<size_t>(items.size(), 10);
  for (size_t i = 0; i < shown; ++i) fmt::print(stderr, "  {}: {}\n", what, items[i]);
  if (items.size() > shown)
    fmt::print(stderr, "  ... and {} more {}\n", items.size() - shown, what);
}

int collect_dir(const std::string& dir, bool quiet) {
  const std::string mpath = dir + "/manifest.json";
  if (!fs::is_regular_file(mpath))
    throw UsageError(fmt::format("{}: no manifest.json: not a gradlab result folder", dir));
  FolderLock lock(dir);
  std::vector<std::string> ids;
  try {
    ids = manifest_ids(json::parse(file_read(mpath)));
  } catch (const json::exception& ex) {
    throw UsageError(fmt::format("{}: unreadable manifest: {}", mpath, ex.what()));
  }

  std::array<std::string, tables.size()> headers, bodies;
  std::vector<std::string> missing, failed, diverged;
  for (const std::string& id : ids) {
    const RunState st = run_state(dir, id);
    if (!st.complete) {
      const bool running = fs::exists(tmp_dir(dir, id)) && lease_alive(tmp_dir(dir, id));
      missing.push_back(running ? id + " (running)" : id);
      continue;
    }
    if (!st.ok())
      (st.failed() ? failed : diverged).push_back(fmt::format("{} ({})", id, st.reason));
    for (size_t k = 0; k < tables.size(); ++k) {
      const std::string f = run_dir(dir, id) + "/" + std::string(tables[k].first);
      if (!fs::exists(f)) continue;
      const std::string csv = file_read(f);
      if (headers[k].empty()) headers[k] = header_of(csv);
      bodies[k] += body_of(csv);
    }
  }
  // Each table is replaced atomically; one that no run has (left from before a --force) goes.
  for (size_t k = 0; k < tables.size(); ++k) {
    const std::string f = dir + "/" + std::string(tables[k].second);
    if (!headers[k].empty())
      file_write_atomic(f, headers[k] + bodies[k]);
    else
      fs::remove(f);
  }
  const bool trouble = !missing.empty() || !failed.empty() || !diverged.empty();
  if (!quiet || trouble) {
    fmt::print(stderr, "collect {}: {}, {} complete, {} missing, {} failed, {} diverged\n", dir,
               plural(ids.size(), "run"), ids.size() - missing.size(), missing.size(),
               failed.size(), diverged.size());
    print_some("missing", missing);
    print_some("failed", failed);
    print_some("diverged", diverged);
  }
  return trouble ? 1 : 0;
}

}  // namespace gl
