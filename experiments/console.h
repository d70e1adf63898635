// The console of `gradlab run` (docs/reference.md §2): the tables and verdict of a one-run
// experiment on stdout, the summary table of a sweep, and progress on stderr.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "experiments/run.h"

namespace gl {

// Per layer at step 0 and the last probe: |delta|, |dL/dW|, saturated%, dead%.
void print_layer_table(const RunResult& res);
// The chain's counterpart: per time step (elided for long chains) at step 0 and the last probe.
void print_timestep_table(const RunResult& res);
// summary.json's verdict and what its ratio compares (docs/reference.md §4.4).
void print_verdict(const json& sm, ModelType type);
// One line per run of a result folder: status, verdict, gradient ratio, per-layer factor.
void print_summary_table(const std::string& out, const std::vector<std::string>& ids);

// A field of summary.json as text ("-" when absent or null).
std::string summary_field(const json& sm, const char* key);
// 0.25s, 42.0s, 3m07s, 2h05m
std::string duration_text(double s);
// "1 run", "3 runs"
std::string plural(size_t n, std::string_view noun);
std::string plural(int n, std::string_view noun);

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
    fmt::print(stderr, "[{}/{}] {}: {}", done_, total_, r.id, summary_field(sm, "status"));
    if (ok)
      fmt::print(stderr, ", {}", summary_field(sm, "verdict"));
    else
      fmt::print(stderr, " ({})", summary_field(sm, "reason"));
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
}  // namespace gl
