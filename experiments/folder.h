// A result folder's shared state (docs/reference.md §5): file writing, the paths of run folders,
// what a run folder says about its run, the leases that tell who is running a temporary run
// folder, and the folder lock taken while a process reads or changes what processes share.
#pragma once

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "harness/core/config.h"

namespace gl {

// Writes data to path (created or truncated); with sync, fsyncs it. Files inside a temporary run
// folder need no rename of their own: the folder is fsync'd and renamed as a whole. EnvError when
// it cannot.
void write_file(const std::string& path, std::string_view data, bool sync);

// ---- paths and run states ----

std::string run_dir(const std::string& out, const std::string& id);
// A run in progress lives here; it is renamed to run_dir when complete.
inline constexpr std::string_view tmp_prefix = ".tmp-";
std::string tmp_dir(const std::string& out, const std::string& id);

// The combined tables of a result folder; a run folder holds the same ones (run.csv: its row of
// runs.csv). Only those a run has are written.
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 5> tables = {
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
RunState run_state(const std::string& out, const std::string& id);

// The run ids of a manifest, in its order.
std::vector<std::string> manifest_ids(const json& m);

// ---- leases: who is running a temporary run folder ----

// Writes tmp/lease.json (this host, pid, process start, time). Readers see the old lease or the
// new one, never half of one (rename). No fsync: after a crash of the machine the lease is stale
// anyway.
void write_lease(const std::string& tmp);
// A lease is alive when it names a live process on this host (the same pid and start time), or,
// from another host, when it was refreshed in the last 5 minutes. No lease (a process killed
// before it wrote one) or an unreadable one is stale.
bool lease_alive(const std::string& tmp);

inline constexpr auto lease_refresh = std::chrono::seconds(10);

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
    std::filesystem::remove(tmp + "/lease.json", ec);
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

}  // namespace gl
