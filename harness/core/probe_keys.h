// The probe keys with a structure of their own (docs/reference.md §3, §4.2, §5): the probe steps
// of a run, probe.hist_range (one range, or one per histogram quantity) and probe.dump_tensors
// (which probe steps write tensors/step_<k>/).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "harness/core/json_read.h"

namespace gl {

struct TrainConfig;  // harness/core/config.h
struct ProbeConfig;

// Fixed histogram edges [lo, hi] per quantity, indexed by HistQuantity (act, preact, delta,
// grad_w); a quantity without one takes its step-0 range.
using HistRanges = std::array<std::optional<std::pair<double, double>>, 4>;

// probe.dump_tensors: the probe steps whose tensors are written. false = none, true = [0].
struct TensorDump {
  bool all = false;            // "all": every probe step
  std::vector<int64_t> steps;  // sorted, unique
  bool operator==(const TensorDump&) const = default;
};

// The probe steps of a run (docs/reference.md §4): 0, the schedule, and train.steps; sorted,
// unique.
std::vector<int64_t> probe_schedule(const TrainConfig& train, const ProbeConfig& probe);
// Whether step is one of probe_schedule's, without listing them (a linear schedule may hold
// billions).
bool probe_is_step(const TrainConfig& train, const ProbeConfig& probe, int64_t step);
// Whether the probe at step writes its tensors.
bool dump_at(const TensorDump& d, int64_t step);

// Readers for read_probe (harness/core/config.cpp): issues at /probe/hist_range and
// /probe/dump_tensors.
HistRanges read_hist_ranges(const Reader& r);
TensorDump read_dump_tensors(const Reader& r);
// The listed dump steps must be probe steps: an issue names each one that is not and the steps
// that are probed.
void check_dump_steps(const TrainConfig& train, const ProbeConfig& probe, const Reader& r);
// The resolved forms: null, [lo, hi] (the same range for all four) or {"act": [lo, hi], ...};
// false, true (step 0 only), "all" or the list of steps.
json hist_ranges_to_json(const HistRanges& h);
json dump_tensors_to_json(const TensorDump& d);

}  // namespace gl
