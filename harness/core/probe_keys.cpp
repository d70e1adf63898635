// The probe schedule and the structured probe keys (probe_keys.h): hist_range per quantity and
// dump_tensors steps, read strictly as the rest of the config (harness/core/json_read.h).
#include "harness/core/probe_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "harness/core/config.h"

namespace gl {

std::vector<int64_t> probe_schedule(const TrainConfig& train, const ProbeConfig& probe) {
  std::vector<int64_t> s = {0};
  if (probe.schedule == Schedule::linear) {
    for (int64_t k = probe.every; k < train.steps; k += probe.every) s.push_back(k);
  } else {
    // per_decade log-spaced steps: round(10^(j/per_decade)), j = 0, 1, ...
    for (int j = 0;; ++j) {
      const auto k = static_cast<int64_t>(
          std::llround(std::pow(10.0, j / static_cast<double>(probe.per_decade))));
      if (k >= train.steps) break;
      if (k > s.back()) s.push_back(k);
    }
  }
  if (train.steps > 0) s.push_back(train.steps);
  return s;
}

bool probe_is_step(const TrainConfig& train, const ProbeConfig& probe, int64_t step) {
  if (step == 0 || step == train.steps) return true;
  if (step < 0 || step > train.steps) return false;
  if (probe.schedule == Schedule::linear) return step % probe.every == 0;
  const std::vector<int64_t> s = probe_schedule(train, probe);  // log: a few per decade
  return std::binary_search(s.begin(), s.end(), step);
}

bool dump_at(const TensorDump& d, int64_t step) {
  return d.all || std::binary_search(d.steps.begin(), d.steps.end(), step);
}

// The probe steps as a message shows them: all of up to 8, else the first four, "...", the last.
static std::string probe_steps_text(const TrainConfig& train, const ProbeConfig& probe) {
  std::vector<int64_t> s;
  bool cut = false;
  if (probe.schedule == Schedule::linear && train.steps / probe.every > 8) {
    for (int64_t k = 0; k < 4; ++k) s.push_back(k * probe.every);
    s.push_back(train.steps);
    cut = true;
  } else {
    s = probe_schedule(train, probe);
    if (s.size() > 8) {
      s.erase(s.begin() + 4, s.end() - 1);
      cut = true;
    }
  }
  std::string t;
  for (size_t i = 0; i < s.size(); ++i)
    t += fmt::format("{}{}{}", i ? ", " : "", cut && i + 1 == s.size() ? "..., " : "", s[i]);
  return t;
}

// ---- probe.hist_range ----

// [lo, hi] with lo < hi; `shape` says what else the key could have been.
static std::optional<std::pair<double, double>> read_range(const Reader& r, std::string_view key,
                                                           const json& h,
                                                           const std::string& shape) {
  double lo = 0, hi = 0;
  if (!h.is_array() || h.size() != 2 || !num_value(h[0], any_number, lo) ||
      !num_value(h[1], any_number, hi)) {
    r.bad(key, shape, h);
    return std::nullopt;
  }
  if (!(lo < hi)) {
    r.bad(key, "[lo, hi] with lo < hi", h);
    return std::nullopt;
  }
  return std::pair<double, double>(lo, hi);
}

HistRanges read_hist_ranges(const Reader& r) {
  HistRanges out;
  const json* h = r.find("hist_range");
  if (!h || h->is_null()) return out;
  if (h->is_object()) {  // {"act": [lo, hi], ...}: the listed quantities
    const Reader q{h, at(r.path, "hist_range"), r.issues};
    const Names names(hist_quantity_names.begin(), hist_quantity_names.end());
    check_keys(q, names);
    for (size_t k = 0; k < names.size(); ++k)
      if (const json* v = q.find(names[k]))
        out[k] = read_range(q, names[k], *v, "[lo, hi] (two numbers)");
    return out;
  }
  out.fill(read_range(r, "hist_range", *h,
                      "null, [lo, hi] (two numbers) or an object of ranges per quantity "
                      "{\"act\": [lo, hi], ...}"));
  return out;
}

json hist_ranges_to_json(const HistRanges& h) {
  const auto pair_json = [](const std::pair<double, double>& p) {
    return json::array({p.first, p.second});
  };
  if (std::all_of(h.begin(), h.end(), [&](const auto& v) { return v && v == h[0]; }))
    return pair_json(*h[0]);
  json o = json::object();
  for (size_t k = 0; k < h.size(); ++k)
    if (h[k]) o[std::string(hist_quantity_names[k])] = pair_json(*h[k]);
  return o.empty() ? json(nullptr) : o;
}

// ---- probe.dump_tensors ----

TensorDump read_dump_tensors(const Reader& r) {
  TensorDump d;
  const json* v = r.find("dump_tensors");
  if (!v) return d;
  const std::string what = "false, true (step 0), \"all\" or a list of probe steps";
  if (v->is_boolean()) {
    if (v->get<bool>()) d.steps = {0};
  } else if (v->is_string() && v->get_ref<const std::string&>() == "all") {
    d.all = true;
  } else if (v->is_array()) {
    const Reader list{v, at(r.path, "dump_tensors"), r.issues};
    for (size_t i = 0; i < v->size(); ++i) {
      int64_t k = 0;
      if (int_value((*v)[i], 0, int_max, k))
        d.steps.push_back(k);
      else
        list.bad(std::to_string(i), "a probe step (an integer >= 0)", (*v)[i]);
    }
    std::sort(d.steps.begin(), d.steps.end());
    d.steps.erase(std::unique(d.steps.begin(), d.steps.end()), d.steps.end());
  } else {
    r.bad("dump_tensors", what, *v);
  }
  return d;
}

void check_dump_steps(const TrainConfig& train, const ProbeConfig& probe, const Reader& r) {
  const json* v = r.find("dump_tensors");
  if (!v || !v->is_array()) return;
  const Reader list{v, at(r.path, "dump_tensors"), r.issues};
  for (size_t i = 0; i < v->size(); ++i) {
    int64_t k = 0;
    if (int_value((*v)[i], 0, int_max, k) && !probe_is_step(train, probe, k))
      list.bad(std::to_string(i), fmt::format("a probe step ({})", probe_steps_text(train, probe)),
               (*v)[i]);
  }
}

json dump_tensors_to_json(const TensorDump& d) {
  if (d.all) return "all";
  if (d.steps.empty()) return false;
  if (d.steps == std::vector<int64_t>{0}) return true;
  return d.steps;
}

}  // namespace gl
