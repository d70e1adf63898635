// Running an experiment into its result folder (design §2, §5): the manifest, one folder per run
// (written under runs/.tmp-<id>/ and renamed when complete), --jobs, --shard, resume, and
// collect, which rebuilds the combined tables from the run folders.
#pragma once

#include <string>

#include "experiments/grid.h"

namespace gl {

struct SweepOptions {
  std::string out;      // result folder; empty = results/<name>
  int jobs = 0;         // 0 = the CPUs this process may use
  int shard_k = 0, shard_n = 1;
  bool force = false;
  bool quiet = false;
};

// Runs what is missing of e; returns the exit status (0 all ok, 1 some run failed or diverged).
// Throws UsageError (exit 2) for a foreign manifest, EnvError (exit 3) for an unwritable folder.
int sweep_run(const Experiment& e, const SweepOptions& o);

// Rebuilds runs.csv and the combined tables of a result folder from its complete run folders.
// Returns 0 when every run of the manifest is complete, 1 when some are missing or failed.
int collect_dir(const std::string& dir, bool quiet);

int cpus_available();

}  // namespace gl
