// `gradlab theory` (docs/reference.md §2, §4.3): the mean-field predictions for every run of a
// config, without building a network. The text output has one block per distinct set of theory
// inputs; runs where no theory applies (chains, maxout, inits without a σ_w²) are named on stderr.
#pragma once

#include <string>
#include <vector>

#include "experiments/grid.h"
#include "harness/measure/theory.h"

namespace gl {

// One run's theory: its inputs and predictions, or why there are none.
struct TheoryRun {
  const RunSpec* run = nullptr;
  std::string reason;  // not empty: no theory applies (theory.json's "reason"); nothing below set
  TheoryInput in;
  size_t k = 0;  // the layer whose (σ_w², σ_b²) give the fixed point: layer 2 (k = 1) if any
  double weight_s1 = 0;
  TheoryLayers layers;
  TheoryFixed fixed;
  std::string key;  // what the theory reads, q0 taken from the first repeat of the run's point
};

struct TheoryPlan {
  std::vector<TheoryRun> runs;              // the experiment's runs, in its order
  std::vector<std::vector<size_t>> blocks;  // runs (indices) with one key, in order of first run
};

// Every run's inputs and predictions, each distinct input set computed once, and the blocks: runs
// share one when their activation (with its parameters), every layer's σ_w² and σ_b², the init's
// weight spectrum (weight_s1) and q0 agree, where a repeat counts with the q0 of its point's first
// repeat (repeats only draw other probe sets; their own q0 stays in the run's numbers).
TheoryPlan theory_plan(const Experiment& e);

int theory_command(const std::string& path, const std::vector<std::string>& sets,
                   const std::vector<std::string>& onlys, const std::string& out, bool as_json);

}  // namespace gl
