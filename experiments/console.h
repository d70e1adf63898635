// The console of `gradlab run` (docs/reference.md §2): the tables and verdict of a one-run
// experiment on stdout, the summary table of a sweep, and progress on stderr.
#pragma once

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "experiments/run.h"

namespace gl {

// Per layer at step 0 and the last probe, with layers.csv's names: delta_norm, grad_w_norm,
// saturated_frac %, dead_frac %, delta_factor, theory_delta_factor.
void print_layer_table(const RunResult& res);
// The chain's counterpart: per time step (elided for long chains) at step 0 and the last probe.
void print_timestep_table(const RunResult& res);
// The initial (step 0) and, for a training run, the final (last probe) verdict of summary.json
// with what their numbers compare (docs/reference.md §4.4), and the theory's per-layer factor.
void print_verdict(const RunResult& res, ModelType type);
// The geometric mean of theory_delta_factor over layers 1..L−1 at step 0: the theory of
// per_layer_factor (null where it does not apply).
json theory_per_layer_factor(const std::vector<LayerRow>& layers);
// One line per run of a result folder, in runs.csv's names: status, verdict, gradient_ratio,
// per_layer_factor; when the experiment trains, also final_verdict, final_gradient_ratio,
// final_loss and final_test_error.
void print_summary_table(const std::string& out, const std::vector<std::string>& ids, bool trains);

// A field of summary.json as text ("-" when absent or null).
std::string summary_field(const json& sm, const char* key);
// 0.25s, 42.0s, 3m07s, 2h05m
std::string duration_text(double s);
// "1 run", "3 runs"
std::string plural(size_t n, std::string_view noun);
std::string plural(int n, std::string_view noun);

// One training run's progress: "step 120/500, loss 0.6931, 10.0 steps/s, ETA 40.0s". The rate
// is over the steps this process took since start_s (a resumed run counts from start_step); rate
// and ETA are "?" before the first step. Times in seconds on one clock (tests pass fake ones).
std::string train_progress_text(int64_t step, int64_t total, double loss, int64_t start_step,
                                double start_s, double now_s);
// The seconds between two progress lines of one training run when stderr is not a terminal:
// GRADLAB_PROGRESS_INTERVAL if it is a positive number, else 10.
double progress_interval();

// Progress on stderr (docs/reference.md §2), nothing with --quiet. On a terminal one line
// rewritten in place, at most once a second: done/total, failed, elapsed, the sweep's ETA, and
// for each training run in progress its train_progress_text. In a log: one line per finished run,
// and one line per progress_interval() seconds per training run in progress.
// Thread-safe: each of `slots` workers reports its own run through run_started's TrainProgress.
class Progress {
 public:
  Progress(int total, bool quiet, int slots);
  ~Progress() { close(); }
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Worker `slot` starts run r: what the run reports to (run_execute's progress).
  TrainProgress* run_started(int slot, const RunSpec& r);
  void finished(int slot, const RunSpec& r, const json& sm);
  // A line of its own (in a log; on a terminal, above the progress line).
  void note(const std::string& text);
  // Stops the ticker and ends the terminal line.
  void close();

 private:
  struct Slot {
    std::string id;  // empty: no run
    TrainProgress train;
    double last_line_s = 0;  // when its last log line was printed
  };
  void draw();                      // with mu_ held
  void log_training(double now_s);  // with mu_ held

  int total_, done_ = 0, failed_ = 0;
  bool live_, quiet_, stop_ = false;
  double interval_s_, t0_s_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread ticker_;
};

}  // namespace gl
