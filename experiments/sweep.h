// Running an experiment into its result folder (docs/reference.md §2, §5): the manifest, one folder
// per run (written under runs/.tmp-<id>/ with a lease, and renamed when complete), --jobs, --shard,
// resume after a kill (from checkpoints where there are), progress, and collect, which rebuilds
// the combined tables from the run folders. docs/cluster.md is the user's guide.
#pragma once

#include <string>

#include "experiments/grid.h"

namespace gl {

struct SweepOptions {
  std::string out;  // result folder; empty = results/<name>
  int jobs = 0;     // 0 = the CPUs this process may use
  int shard_k = 0, shard_n = 1;
  bool force = false;
  bool quiet = false;
};

// Runs what is missing of e (this process's shard of it) into its result folder: writes or
// extends the manifest, cleans what killed processes left (resuming runs from their
// checkpoints), runs o.jobs runs at a time with leases, and collects when the whole sweep is
// complete. Returns the exit status: 0 all ok, 1 some run failed or diverged (or, once the sweep
// is complete, some run of another shard did). Throws UsageError (exit 2) for a foreign or
// unreadable manifest or a run too big for memory — before anything is written — and EnvError
// (exit 3) for a folder that cannot be written.
int sweep_run(const Experiment& e, const SweepOptions& o);

// Rebuilds runs.csv and the combined tables of a result folder from its complete run folders
// (each table replaced atomically) and reports, on stderr, the runs missing, failed or diverged.
// Returns 0 when every run of the manifest is complete and ok, else 1. Throws UsageError when dir
// has no readable manifest. quiet: print only when something is wrong.
int collect_dir(const std::string& dir, bool quiet);

int cpus_available();

// The allocator settings of a sweep (once per process; sweep_run calls it): freed tensors keep
// their pages for the next run, every thread allocates from one heap, marked for huge pages.
void allocator_keep_pages();

}  // namespace gl
