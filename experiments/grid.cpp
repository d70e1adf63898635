// Expanding an experiment into runs: --set, grid axes and variants, per-point validation with
// issues mapped back to the grid, run ids, seeds, --only.
#include "experiments/grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>

#include "experiments/json_edit.h"
#include "harness/core/rng.h"
#include "harness/data/idx.h"

namespace gl {

namespace {

using namespace jdoc;

constexpr uint64_t seed_mask = (uint64_t{1} << 53) - 1;  // exact in a float64
constexpr size_t id_max = 96, id_keep = 80;

std::string dump_compact(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string hex16(uint64_t h) { return fmt::format("{:016x}", h); }

uint64_t hash_text(const std::string& s) { return hash_bytes(s.data(), s.size()); }

std::string sanitize_id(const std::string& s) {
  std::string out = s;
  for (char& ch : out)
    if (!label_char_ok(ch) && ch != '=' && ch != ',') ch = '_';
  return out;
}

// A label's first character a run id would not keep (a whole UTF-8 character), or "".
std::string label_bad_char(const std::string& label) {
  for (size_t i = 0; i < label.size(); ++i) {
    if (label_char_ok(label[i])) continue;
    size_t n = 1;
    while (i + n < label.size() && (static_cast<unsigned char>(label[i + n]) & 0xC0) == 0x80) ++n;
    return label.substr(i, n);
  }
  return "";
}

struct AxisInfo {
  std::vector<std::string> comps;  // dotted path (empty for variants)
  std::string pointer;             // JSON pointer of the path
  bool variants = false;
  std::vector<std::vector<std::string>> leaves;  // variants: what value i sets
};

// An issue of one point, as reported: where the user wrote the value that caused it.
struct Mapped {
  std::string path, message;
  int axis = -1;  // the value axis it maps to with nothing below (can merge into one line)
  size_t value = 0;
};

std::string axis_where(const GridAxis& a) { return "/grid/" + pointer_escape(a.name); }

Mapped map_issue(const ConfigIssue& is, const std::vector<GridAxis>& axes,
                 const std::vector<AxisInfo>& info, const std::vector<size_t>& idx) {
  const std::string& p = is.path;
  const bool unknown = is.message.rfind("unknown key", 0) == 0;
  Mapped best{p, is.message, -1, 0};
  size_t best_len = 0;
  for (size_t k = 0; k < axes.size(); ++k) {
    const AxisInfo& ax = info[k];
    if (!ax.variants) {
      const std::string& a = ax.pointer;
      if (unknown && under(a, p)) {
        // A component of the axis path is not a config key: say so once, for the axis, with
        // the whole path suggested.
        std::string msg = "unknown key";
        const auto q = is.message.find("did you mean \"");
        if (q != std::string::npos) {
          const size_t start = q + 14, end = is.message.find('"', start);
          std::vector<std::string> comps = ax.comps;
          const auto depth = static_cast<size_t>(std::count(p.begin(), p.end(), '/'));
          if (end != std::string::npos && depth >= 1 && depth <= comps.size()) {
            comps[depth - 1] = is.message.substr(start, end - start);
            msg = fmt::format("unknown key; did you mean \"{}\"?", join(comps, ".", comps.size()));
          }
        }
        return {axis_where(axes[k]), msg, -1, 0};
      }
      // The value's own problems, and an unknown name reported at its object.
      const bool hit = under(p, a) || a == p + "/name";
      if (hit && a.size() >= best_len) {
        const std::string rest = under(p, a) ? p.substr(a.size()) : "";
        best = {fmt::format("{}/{}{}", axis_where(axes[k]), idx[k], rest), is.message,
                rest.empty() ? static_cast<int>(k) : -1, idx[k]};
        best_len = a.size();
      }
    } else {
      for (const auto& leaf : ax.leaves[idx[k]]) {
        const bool hit = under(p, leaf) || leaf == p + "/name" || (unknown && under(leaf, p));
        if (hit && leaf.size() >= best_len) {
          best = {fmt::format("/grid/variants/{}{}", idx[k], p), is.message, -1, idx[k]};
          best_len = leaf.size();
        }
      }
    }
  }
  return best;
}

}  // namespace

bool label_char_ok(char ch) {
  return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
         ch == '.' || ch == '_' || ch == '+' || ch == '-';
}

std::string axis_value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return dump_compact(v);
}

uint64_t run_seed(uint64_t config_seed, const json& point, int repeat) {
  const uint64_t point_hash = hash_text(dump_compact(point));
  return seed_mix(seed_mix(config_seed, point_hash), static_cast<uint64_t>(repeat)) & seed_mask;
}

uint64_t run_data_seed(uint64_t config_seed, int repeat) {
  return seed_mix(config_seed, 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(repeat)) & seed_mask;
}

Experiment experiment_load(const std::string& path, const std::vector<std::string>& sets,
                           const std::vector<std::string>& onlys) {
  Experiment e;
  e.file = path;
  e.sets = sets;
  // Relative data paths are relative to the config file's folder (docs/reference.md §6).
  const std::string config_dir =
      std::filesystem::absolute(path).lexically_normal().parent_path().string();
  const std::string stem = std::filesystem::path(path).stem().string();
  std::vector<std::string> lines;
  auto add = [&](const std::string& where, const std::string& msg) {
    lines.push_back(config_issue_format(path, {where, msg}));
  };

  json input = config_normalize(config_read_file(path));

  // ---- --set KEY=VALUE ----
  std::vector<std::string> set_keys;  // for the conflict check against the final axes
  for (const auto& s : sets) {
    const auto eq = s.find('=');
    if (eq == std::string::npos) {
      add("--set " + s, "expected KEY=VALUE");
      continue;
    }
    const std::string key = s.substr(0, eq), where = "--set " + key;
    const json value = parse_value(s.substr(eq + 1));
    const auto comps = split_dots(key);
    if (has_empty(comps)) {
      add(where, "expected KEY as a dotted path of config keys, found an empty component");
      continue;
    }
    std::string err;
    if (comps[0] == "grid" && comps.size() > 1) {  // the rest is one axis name
      json& g = input["grid"];
      if (g.is_null()) g = json::object();
      if (!g.is_object()) {
        add(where, fmt::format("grid is {}, not an object", config_value_text(g)));
        continue;
      }
      g[key.substr(5)] = value;
    } else if (!set_path(input, comps, value, err)) {
      add(where, err);
      continue;
    } else if (comps[0] != "grid") {
      set_keys.push_back(key);
    }
    input = config_normalize(input);  // so that a later --set can go into a shorthand
  }
  e.input = input;
  e.hash = hex16(hash_text(dump_compact(canonical_input(input))));

  // ---- axes ----
  const json base = without(without(input, "grid"), "common_random_numbers");
  const json grid = input.value("grid", json());
  if (!grid.is_null() && !grid.is_object())
    add("/grid",
        "expected an object {\"dotted.path\": [values, ...]}, found " + config_value_text(grid));
  if (grid.is_object() && grid.empty())  // most likely axes lost in editing: say so, do not guess
    add("/grid",
        "grid is empty (expected at least one axis {\"dotted.path\": [values, ...]}; leave "
        "\"grid\" out for a single run)");
  std::vector<AxisInfo> info;
  if (grid.is_object()) {
    for (const auto& [name, vals] : grid.items()) {
      GridAxis axis{name, {}};
      AxisInfo ai;
      ai.variants = name == "variants";
      const std::string where = axis_where(axis);
      if (!ai.variants) {
        ai.comps = split_dots(name);
        ai.pointer = pointer_of(ai.comps);
        if (has_empty(ai.comps))
          add(where, "expected a dotted path of config keys, found \"" + name + "\"");
        else if (ai.comps[0] == "grid" || ai.comps[0] == "repeats" || ai.comps[0] == "name" ||
                 ai.comps[0] == "common_random_numbers")
          add(where, "cannot be a grid axis");
      }
      if (!vals.is_array() || vals.empty()) {
        add(where, "expected a non-empty list of values, found " + config_value_text(vals));
      } else {
        axis.values.assign(vals.begin(), vals.end());
      }
      for (size_t i = 0; i < axis.values.size(); ++i) {
        const json& v = axis.values[i];
        const std::string vwhere = fmt::format("{}/{}", where, i);
        if (!ai.variants) {
          for (size_t k = 0; k < i; ++k)
            if (axis.values[k] == v) {
              add(vwhere, fmt::format("duplicate of value {}", k));
              break;
            }
          continue;
        }
        ai.leaves.emplace_back();
        if (!v.is_object()) {
          add(vwhere, "expected an object with a \"label\", found " + config_value_text(v));
          continue;
        }
        auto label = v.find("label");
        if (label == v.end()) {
          add(vwhere + "/label", "missing (expected a non-empty string)");
        } else if (!label->is_string() || label->get_ref<const std::string&>().empty()) {
          add(vwhere + "/label", "expected a non-empty string, found " + config_value_text(*label));
        } else if (const std::string bad = label_bad_char(label->get<std::string>());
                   !bad.empty()) {
          add(vwhere + "/label",
              fmt::format("{} holds \"{}\": a label is written as it is in run ids, folder "
                          "names, --only and tables, so it may hold only letters, digits and "
                          "\".\", \"_\", \"+\", \"-\" (e.g. \"relu+he_normal\")",
                          config_value_text(*label), bad));
        } else {
          for (size_t k = 0; k < i; ++k)
            if (axis.values[k].is_object() && axis.values[k].value("label", json()) == *label) {
              add(vwhere + "/label", fmt::format("duplicate label {} (also variant {})",
                                                 config_value_text(*label), k));
              break;
            }
        }
        for (const char* key : {"grid", "repeats", "name", "common_random_numbers"})
          if (v.contains(key)) add(fmt::format("{}/{}", vwhere, key), "not allowed in a variant");
        leaves_of(without(v, "label"), "", ai.leaves.back());
      }
      e.axes.push_back(std::move(axis));
      info.push_back(std::move(ai));
    }
  }
  // An axis inside a later axis's path is overwritten by it at every point.
  for (size_t k = 0; k < e.axes.size(); ++k)
    for (size_t l = k + 1; l < e.axes.size(); ++l)
      if (!info[k].variants && !info[l].variants && !info[l].comps.empty() &&
          under(info[k].pointer, info[l].pointer))
        add(axis_where(e.axes[k]),
            fmt::format("has no effect: the later axis \"{}\" replaces it; put it after \"{}\"",
                        e.axes[l].name, e.axes[l].name));
  for (const auto& key : set_keys) {
    const std::string p = pointer_of(split_dots(key));
    for (size_t k = 0; k < e.axes.size(); ++k) {
      if (info[k].variants || !under(p, info[k].pointer)) continue;
      if (p == info[k].pointer)
        add("--set " + key, fmt::format("is a grid axis; set grid.{} instead", e.axes[k].name));
      else
        add("--set " + key, fmt::format("is inside the grid axis \"{}\"; set grid.{} instead",
                                        e.axes[k].name, e.axes[k].name));
    }
  }

  // ---- common_random_numbers: axes whose values do not enter the seed ----
  if (auto c = input.find("common_random_numbers"); c != input.end()) {
    std::vector<std::string> names;
    for (const auto& a : e.axes) names.push_back(a.name);
    const Names axis_names(names.begin(), names.end());
    if (!c->is_array()) {
      add("/common_random_numbers",
          "expected a list of grid axes (e.g. [\"train.lr\"]), found " + config_value_text(*c));
    } else {
      for (size_t i = 0; i < c->size(); ++i) {
        const json& v = (*c)[i];
        const std::string where = fmt::format("/common_random_numbers/{}", i);
        if (!v.is_string() || !contains(axis_names, v.get_ref<const std::string&>())) {
          add(where, fmt::format("expected a grid axis ({}), found {}{}",
                                 names.empty() ? "the config has no grid"
                                               : "one of " + join(names, ", ", names.size()),
                                 config_value_text(v), did_you_mean(v, axis_names)));
        } else if (std::find(e.common.begin(), e.common.end(), v.get<std::string>()) !=
                   e.common.end()) {
          add(where, fmt::format("duplicate of {}", config_value_text(v)));
        } else {
          e.common.push_back(v.get<std::string>());
        }
      }
    }
  }

  int repeats = 1;  // a bad value is reported by the validation of every point
  if (auto r = base.find("repeats"); r != base.end() && r->is_number()) {
    const double n = r->get<double>();  // 2.0 is 2, as config_from_json reads it
    if (n >= 1 && n <= 100'000 && std::floor(n) == n) repeats = static_cast<int>(n);
  }
  double total = repeats;  // a double cannot overflow here
  for (const auto& a : e.axes) total *= static_cast<double>(std::max<size_t>(a.values.size(), 1));
  if (total > static_cast<double>(experiment_max_runs)) {
    std::string sizes;
    for (const auto& a : e.axes) sizes += fmt::format("{} × ", a.values.size());
    add("/grid", fmt::format("expected at most {} runs, found {:.0f} ({}{} repeats)",
                             experiment_max_runs, total, sizes, repeats));
  }
  if (!lines.empty()) throw ConfigError(lines);

  // ---- points: cartesian product, first axis slowest ----
  const size_t n_axes = e.axes.size();
  size_t n_points = 1;
  for (const auto& a : e.axes) n_points *= a.values.size();
  std::vector<Mapped> mapped;
  std::set<std::pair<std::string, std::string>> seen;
  struct Point {
    std::vector<size_t> idx;
    json point;
    Config config;
    json resolved;
  };
  std::vector<Point> points;
  points.reserve(n_points);
  for (size_t p = 0; p < n_points; ++p) {
    Point pt;
    pt.idx.assign(n_axes, 0);
    size_t rest = p;
    for (size_t k = n_axes; k-- > 0;) {
      pt.idx[k] = rest % e.axes[k].values.size();
      rest /= e.axes[k].values.size();
    }
    pt.point = json::object();
    json cfg = base;
    std::vector<ConfigIssue> issues;
    for (size_t k = 0; k < n_axes; ++k) {
      const json& v = e.axes[k].values[pt.idx[k]];
      if (info[k].variants) {
        pt.point["variants"] = v.at("label");
        deep_merge(cfg, without(v, "label"));
      } else {
        pt.point[e.axes[k].name] = v;
        std::string err;
        if (!set_path(cfg, info[k].comps, v, err)) {
          const Mapped m{axis_where(e.axes[k]), err, -1, 0};
          if (seen.insert({m.path, m.message}).second) mapped.push_back(m);
        }
      }
      cfg = config_normalize(cfg);  // a later axis may go into a shorthand this one set
    }
    if (auto n = cfg.find("name"); n == cfg.end() || *n == "") cfg["name"] = stem;
    pt.config = config_from_json(cfg, issues);
    idx_files_check(pt.config.data, config_dir, issues);  // with the other problems, at once
    for (const auto& is : issues) {
      const Mapped m = map_issue(is, e.axes, info, pt.idx);
      if (seen.insert({m.path, m.message}).second) mapped.push_back(m);
    }
    if (issues.empty()) pt.resolved = config_to_json(pt.config);
    points.push_back(std::move(pt));
  }
  // The same message for every value of an axis is one problem of the axis.
  std::map<std::pair<int, std::string>, std::set<size_t>> by_axis;
  for (const auto& m : mapped)
    if (m.axis >= 0) by_axis[{m.axis, m.message}].insert(m.value);
  std::set<std::pair<int, std::string>> merged;
  for (const auto& m : mapped) {
    if (m.axis >= 0) {
      const auto key = std::make_pair(m.axis, m.message);
      const size_t n_values = e.axes[static_cast<size_t>(m.axis)].values.size();
      if (n_values >= 2 && by_axis[key].size() == n_values) {
        if (merged.insert(key).second)
          add(axis_where(e.axes[static_cast<size_t>(m.axis)]), m.message);
        continue;
      }
    }
    add(m.path, m.message);
  }

  // ---- run ids: key=value pairs in axis order ----
  std::vector<std::string> keys(n_axes);
  for (size_t k = 0; k < n_axes; ++k)
    keys[k] = info[k].variants ? "variants" : info[k].comps.back();
  for (size_t k = 0; k < n_axes; ++k) {
    if (info[k].variants) continue;
    bool shared = keys[k] == "rep";
    for (size_t l = 0; l < n_axes; ++l)
      if (l != k && !info[l].variants && info[l].comps.back() == info[k].comps.back())
        shared = true;
    if (shared) keys[k] = e.axes[k].name;
  }
  const json* name = base.contains("name") ? &base["name"] : nullptr;
  e.name = name && name->is_string() && !name->get_ref<const std::string&>().empty()
               ? name->get<std::string>()
               : stem;

  std::map<std::string, size_t> id_owner;
  std::set<std::string> dup_reported;
  std::vector<RunSpec> runs;
  runs.reserve(n_points * static_cast<size_t>(repeats));
  for (size_t p = 0; p < n_points; ++p) {
    Point& pt = points[p];
    std::string pairs;
    for (size_t k = 0; k < n_axes; ++k)
      pairs += fmt::format("{}{}={}", k ? "," : "", keys[k],
                           axis_value_text(pt.point.at(e.axes[k].name)));
    const std::string point_text = dump_compact(pt.point);
    json seed_point = pt.point;  // common random numbers: those axes leave the seed
    for (const std::string& a : e.common) seed_point.erase(a);
    for (int r = 0; r < repeats; ++r) {
      RunSpec run;
      run.index = static_cast<int>(runs.size());
      const std::string rep = repeats > 1 ? fmt::format("rep={}", r) : "";
      std::string id =
          n_axes == 0 ? (rep.empty() ? "run" : rep) : (rep.empty() ? pairs : pairs + "," + rep);
      id = sanitize_id(id);
      if (id.size() > id_max)
        id = id.substr(0, id_keep) + "~" +
             hex16(hash_text(point_text + (rep.empty() ? "" : "," + rep)));
      const auto [it, fresh] = id_owner.emplace(id, runs.size());
      if (!fresh && dup_reported.insert(id).second)
        add("/grid", fmt::format("run id \"{}\" is not unique (runs {} and {})", id, it->second,
                                 runs.size()));
      run.id = id;
      run.point = pt.point;
      run.repeat = r;
      run.seed = run_seed(pt.config.seed, seed_point, r);
      run.data_seed = run_data_seed(pt.config.seed, r);
      const bool last = r + 1 == repeats;  // the point's config is not needed after its runs
      run.config = last ? std::move(pt.config) : pt.config;
      run.resolved = last ? std::move(pt.resolved) : pt.resolved;
      runs.push_back(std::move(run));
    }
  }

  // ---- --only KEY=VALUE: same key → any of the values; different keys → all ----
  std::vector<std::set<size_t>> allowed(n_axes + 1);  // the last: repeats
  std::vector<bool> filtered(n_axes + 1, false);
  const size_t repeat_key = n_axes;
  // The keys --only takes: the axes by name, by an unambiguous last component, and the repeat.
  std::vector<std::string> only_keys;
  for (const auto& a : e.axes) only_keys.push_back(a.name);
  for (size_t k = 0; k < n_axes; ++k)
    if (std::find(only_keys.begin(), only_keys.end(), keys[k]) == only_keys.end())
      only_keys.push_back(keys[k]);
  for (const char* k : {"repeat", "rep"}) only_keys.push_back(k);
  for (const auto& o : onlys) {
    const std::string where = "--only " + o;
    const auto eq = o.find('=');
    if (eq == std::string::npos) {
      add(where, "expected KEY=VALUE");
      continue;
    }
    const std::string key = o.substr(0, eq), text = o.substr(eq + 1);
    std::vector<size_t> match;
    for (size_t k = 0; k < n_axes; ++k)
      if (e.axes[k].name == key) match = {k};
    if (match.empty())
      for (size_t k = 0; k < n_axes; ++k) {
        const bool last = info[k].variants ? key == "variants" : info[k].comps.back() == key;
        if (last) match.push_back(k);
      }
    if (match.empty() && (key == "repeat" || key == "rep")) {
      int64_t r = 0;
      const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded() || !int_value(parsed, 0, repeats - 1, r)) {
        add(where, fmt::format("expected a repeat in 0..{}, found {}", repeats - 1, text));
        continue;
      }
      allowed[repeat_key].insert(static_cast<size_t>(r));
      filtered[repeat_key] = true;
      continue;
    }
    if (match.empty()) {
      const std::vector<std::string_view> candidates(only_keys.begin(), only_keys.end());
      add(where,
          fmt::format("unknown key{}{}; expected one of {}", did_you_mean(json(key), candidates),
                      n_axes == 0 ? " (the config has no grid)" : "",
                      join(only_keys, ", ", only_keys.size())));
      continue;
    }
    if (match.size() > 1) {
      std::vector<std::string> names;
      for (size_t k : match) names.push_back(e.axes[k].name);
      add(where, fmt::format("ambiguous; use one of {}", join(names, ", ", names.size())));
      continue;
    }
    const size_t k = match[0];
    const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
    bool any = false;
    for (size_t i = 0; i < e.axes[k].values.size(); ++i) {
      const json& v = info[k].variants ? e.axes[k].values[i].at("label") : e.axes[k].values[i];
      if ((!parsed.is_discarded() && parsed == v) || axis_value_text(v) == text) {
        allowed[k].insert(i);
        any = true;
      }
    }
    filtered[k] = true;
    if (!any) add(where, "matches no run");
  }
  if (!lines.empty()) throw ConfigError(lines);

  for (auto& run : runs) {
    const Point& pt = points[static_cast<size_t>(run.index) / static_cast<size_t>(repeats)];
    bool keep = !filtered[repeat_key] || allowed[repeat_key].count(static_cast<size_t>(run.repeat));
    for (size_t k = 0; k < n_axes; ++k)
      if (filtered[k] && !allowed[k].count(pt.idx[k])) keep = false;
    if (keep) e.runs.push_back(std::move(run));
  }
  return e;
}

json experiment_to_json(const Experiment& e) {
  json axes = json::array();
  for (const auto& a : e.axes) axes.push_back({{"name", a.name}, {"values", a.values}});
  json runs = json::array();
  for (const auto& r : e.runs)
    runs.push_back({{"index", r.index},
                    {"id", r.id},
                    {"point", r.point},
                    {"repeat", r.repeat},
                    {"seed", r.seed}});
  return {{"name", e.name},    {"file", e.file}, {"hash", e.hash}, {"set", e.sets},
          {"config", e.input}, {"axes", axes},   {"runs", runs}};
}

}  // namespace gl
