#include "experiments/sweep.h"

#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
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
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "experiments/console.h"
#include "experiments/folder.h"
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

static std::vector<std::string> lead_names(const Experiment& e) {
  std::vector<std::string> cells = {"run"};
  for (const GridAxis& a : e.axes) cells.push_back(a.name);
  cells.push_back("repeat");
  cells.push_back("seed");
  return cells;
}

static std::vector<std::string> lead_cells(const Experiment& e, const RunSpec& r) {
  std::vector<std::string> cells = {r.id};
  for (const GridAxis& a : e.axes) cells.push_back(axis_value_text(r.point.at(a.name)));
  cells.push_back(std::to_string(r.repeat));
  cells.push_back(std::to_string(r.seed));
  return cells;
}

template <class Row>
static std::string table_csv(const Experiment& e, const RunSpec& r, const std::vector<Row>& rows) {
  return rows_csv(lead_names(e), lead_cells(e, r), rows, r.config.precision);
}

static std::string json_cell(const json& v, Precision p) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return num_text(v.get<double>(), p);
  return v.dump();
}

static std::string run_csv(const Experiment& e, const RunSpec& r, const json& sm) {
  const Precision p = r.config.precision;
  std::vector<std::string> c = lead_names(e);
  for (std::string_view col : run_columns) c.emplace_back(col);
  std::string s = csv_line(c);
  c = lead_cells(e, r);
  for (auto col : run_columns) {
    const std::string k(col);
    c.push_back(sm.contains(k) ? json_cell(sm[k], p) : "");
  }
  return s + csv_line(c);
}

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

// Writes r's files into its temporary folder, fsyncs them and the folder, and renames the folder
// to its final name: a run folder that exists is complete. Releases r's lease either way.
static void publish_run(const Experiment& e, const RunSpec& r, const RunResult& res,
                        const std::string& out, LeaseKeeper& leases) {
  const std::string tmp = tmp_dir(out, r.id), dst = run_dir(out, r.id);
  try {
    const auto put = [&](const char* name, const std::string& data) {
      write_file(tmp + "/" + name, data, true);
    };
    put("config.json", r.resolved.dump(2) + "\n");
    put("summary.json", res.summary.dump(2) + "\n");
    // A table only when the run has rows for it (docs/reference.md §5): a chain writes no
    // layers.csv, an MLP no timesteps.csv, a failed run neither table of its probes.
    if (!res.layers.empty()) put("layers.csv", table_csv(e, r, res.layers));
    if (!res.steps.empty()) put("steps.csv", table_csv(e, r, res.steps));
    if (!res.hists.empty()) put("histograms.csv", table_csv(e, r, res.hists));
    if (!res.timesteps.empty()) put("timesteps.csv", table_csv(e, r, res.timesteps));
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
  } catch (...) {
    leases.release(tmp);  // stale now: the next sweep resumes or redoes it
    throw;
  }
}

// Runs r in its temporary folder (leased by claim); on an exception the lease is released.
static RunResult execute_in_folder(const RunSpec& r, const std::string& out, LeaseKeeper& leases,
                                   TrainProgress* progress) {
  try {
    return run_execute(r, tmp_dir(out, r.id), progress);
  } catch (...) {
    leases.release(tmp_dir(out, r.id));
    throw;
  }
}

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
          is_chain(r.config.model.type) ? "the width, the chain length" : "the width, depth"));
  }
  if (jobs > 1 && largest * jobs > 0.9 * avail)
    throw UsageError(
        fmt::format("{}: {} runs at once need about {:.1f} GB, more than the {:.1f} GB available; "
                    "use --jobs {}",
                    e.file, jobs, largest * jobs / 1e9, avail / 1e9,
                    std::max(1, static_cast<int>(0.9 * avail / largest))));
}

// ---- the sweep ----

// A sweep's runs allocate the same tensors run after run (an init study: net, caches, gradients,
// tens of MB each, then freed). By default glibc maps blocks of ≥ 128 kB with mmap and gives the
// heap's free top back to the kernel past 128 kB (both thresholds then grow with what is freed):
// each run faulted its tensors in again, and the kernel zeroed every page (quickstart: 35 % of
// the time in the kernel, 8 % in memset's first touches). Kept in the process instead, the next
// run of a worker reuses the pages of the previous one. Blocks beyond 32 MB (glibc's largest
// threshold) are still mapped; the memory a sweep holds is its largest runs', as before.
//
// The first touch of each page still faults (≈ 6 µs each in this VM: 21k faults, 6 % of the
// quickstart), and with --jobs 2 the second worker's own arena (glibc gives each thread one)
// faulted as many again. So every thread allocates from the one main heap (M_ARENA_MAX 1: a
// worker allocates its tensors a few hundred times per run, tcache serves the small blocks), the
// heap grows in steps of heap_step (address space only: a page costs memory when touched), and
// that space is marked for transparent huge pages: one fault per 2 MB instead of per 4 kB. Not
// under strict overcommit (vm.overcommit_memory 2), where reserved address space counts as memory.
constexpr size_t heap_step = size_t{1} << 30;
static bool overcommit_strict() {
  std::ifstream f("/proc/sys/vm/overcommit_memory");
  int mode = 0;
  return (f >> mode) && mode == 2;
}
void allocator_keep_pages() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_ARENA_MAX, 1);
    if (overcommit_strict()) return;
    mallopt(M_TOP_PAD, static_cast<int>(heap_step));
    void* grow = std::malloc(16 << 20);  // more than the heap has free: it grows by heap_step now
    const auto huge = uintptr_t{2} << 20;
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(grow) + huge - 1) & ~(huge - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(sbrk(0)) & ~(huge - 1);
    if (end > begin)
      madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);  // best effort
    std::free(grow);
  });
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
  Progress progress(static_cast<int>(todo.size()), o.quiet, jobs);
  std::atomic<size_t> next{0};
  std::atomic<int> bad{0}, busy{0};
  std::mutex mu;
  std::exception_ptr env_error;
  // A worker publishes its run (publish_run: writes, ~7 fsyncs, a rename) on a thread of its own
  // while it computes its next run, one run behind at most: the fsyncs' latency (≈ 10 ms each on
  // ext4, as much as a small run's work) no longer idles a core. The order of steps within a run,
  // and so what a crash can leave (docs/cluster.md), is unchanged: a run's folder is renamed to
  // its final name only after its files and folder are fsync'd.
  const auto fail = [&] {
    std::lock_guard<std::mutex> lock(mu);
    if (!env_error) env_error = std::current_exception();
    next = todo.size();  // stop taking runs; the running ones finish
  };
  auto worker = [&](int slot) {
    std::future<void> publishing;  // the previous run's publish_run
    const auto settle = [&] {
      if (publishing.valid()) publishing.get();  // rethrows its environment error
    };
    for (size_t i; (i = next++) < todo.size();) {
      const RunSpec& r = *todo[i];
      try {
        const Claim c = claim(out, r.id, o.force, leases);
        if (c == Claim::busy) ++busy;
        if (c == Claim::busy || c == Claim::done) continue;
        if (c == Claim::resume)
          progress.note(fmt::format("{}: resuming from its checkpoint", r.id));
        RunResult res = execute_in_folder(r, out, leases, progress.run_started(slot, r));
        try {
          settle();
        } catch (...) {
          leases.release(tmp_dir(out, r.id));  // not published: the next sweep redoes it
          throw;
        }
        // (rs: the spec itself, which outlives the loop's reference r)
        publishing =
            std::async(std::launch::async, [&, rs = &r, slot, res = std::move(res)]() mutable {
              publish_run(e, *rs, res, out, leases);
              if (res.summary.value("status", "") != "ok") ++bad;
              progress.finished(slot, *rs, res.summary);
              if (e.runs.size() == 1) pr.single = std::move(res);
            });
      } catch (...) {
        fail();
      }
    }
    try {
      settle();
    } catch (...) {
      fail();
    }
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker, j);
  worker(0);
  for (auto& t : pool) t.join();
  progress.close();
  if (env_error) std::rethrow_exception(env_error);
  pr.bad = bad;
  pr.busy = busy;
  return pr;
}

int sweep_run(const Experiment& e, const SweepOptions& o) {
  allocator_keep_pages();
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
  // Several at a time: the largest runs first, so that the sweep does not end on one worker
  // running a large run while the others have nothing left (quickstart: its depth-30 runs came
  // last). The order changes no file: each run writes its own folder, tables are collected in
  // the manifest's order.
  if (jobs > 1)
    std::stable_sort(todo.begin(), todo.end(), [](const RunSpec* a, const RunSpec* b) {
      return run_cost(a->config).flops > run_cost(b->config).flops;
    });
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
      print_verdict(pr.single, e.runs[0].config.model.type);
    } else if (missing == 0) {
      const bool trains = std::any_of(e.runs.begin(), e.runs.end(),
                                      [](const RunSpec& r) { return r.config.train.steps > 0; });
      print_summary_table(out, ids, trains);
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

}  // namespace gl
