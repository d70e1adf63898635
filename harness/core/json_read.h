// Reading JSON strictly (docs/reference.md §3): parse with comments, typed readers that check
// ranges, and the issues they report as "<JSON pointer>: expected <what>, found <value>".
//
// Validation never stops at the first problem: every reader appends a ConfigIssue and returns the
// default, so a user sees every problem of a file at once. No nlohmann exception escapes: types
// are checked before any value is read. Members of closed sets ({"name": ..., parameters}) are
// read and written from their table's Param rows (harness/core/closed_set.h).
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "harness/core/closed_set.h"
#include "harness/core/types.h"

namespace gl {

using json = nlohmann::ordered_json;  // keeps the user's key order in resolved configs

// One problem found in a config: where (JSON pointer, e.g. "/model/activation") and what.
struct ConfigIssue {
  std::string path;
  std::string message;
};

// Every problem of one config file, formatted one per line as "<file>: <path>: <message>".
struct ConfigError : UsageError {
  std::vector<std::string> lines;
  explicit ConfigError(std::vector<std::string> l);
};

// Parse JSON text with // and /* */ comments; malformed → ConfigError "<file>:<line>:<col>: ...".
json config_parse(const std::string& text, const std::string& file);
json config_read_file(const std::string& path);  // missing/unreadable → ConfigError naming the file

// One issue as a line of a ConfigError: "<file>: <path>: <message>" (at the root, no path).
std::string config_issue_format(const std::string& file, const ConfigIssue& issue);
// A value as error messages show it: compact JSON (nan/inf spelled out), at most 60 characters.
std::string config_value_text(const json& v);
// The candidate within edit distance 2 of key (transpositions count 1), or "" (for "did you mean").
std::string config_closest_key(std::string_view key, const std::vector<std::string>& candidates);
// The name a user most likely meant by a value of a closed set: one equal to it ignoring case,
// "_" and "-" ("Relu" → relu, "leakyrelu" → leaky_relu), else the one closest within edit
// distance 2 ("he_norml" → he_normal); "" when none is close or two are equally close.
std::string config_closest_name(std::string_view found, std::span<const std::string_view> names);
// " (did you mean \"x\"?)" when v is a string close to one of names (config_closest_name), else "".
std::string did_you_mean(const json& v, std::span<const std::string_view> names);

// ---- the readers (used by config.cpp) ----

using Issues = std::vector<ConfigIssue>;
using Names = std::vector<std::string_view>;

inline constexpr int64_t int_max = std::numeric_limits<int64_t>::max();

std::string pointer_escape(std::string_view key);                 // "~" → "~0", "/" → "~1"
std::string at(const std::string& path, std::string_view key);    // path + "/" + escaped key
std::string names_text(std::span<const std::string_view> names);  // "a, b, c"
std::string choice_text(
    std::span<const std::string_view> names);  // "\"a\" or \"b\"", "one of \"a\", \"b\", \"c\""
bool contains(std::span<const std::string_view> names, std::string_view s);
std::string unknown_key_message(std::string_view key, const Names& candidates);
std::string int_text(int64_t lo, int64_t hi);
std::string num_text(const NumRange& r);
// The integer value of v, if it is an integer (or a float with an integral value, as 1e6) in
// [lo, hi].
bool int_value(const json& v, int64_t lo, int64_t hi, int64_t& out);
bool num_value(const json& v, const NumRange& r, double& out);

// One JSON object being read: where it is and where its problems go. j may be null (the block
// is absent, so every key takes its default).
struct Reader {
  const json* j;
  std::string path;
  Issues* issues;

  const json* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  void add(std::string_view key, std::string msg) const;
  void bad(std::string_view key, const std::string& what, const json& v) const;
  void missing(std::string_view key, const std::string& what) const;
};

int64_t read_int(const Reader& r, std::string_view key, int64_t lo, int64_t hi, int64_t def,
                 bool required = false);
int read_int32(const Reader& r, std::string_view key, int64_t lo, int64_t hi, int64_t def,
               bool required = false);
double read_num(const Reader& r, std::string_view key, const NumRange& range, double def,
                bool required = false);
std::optional<double> read_opt_num(const Reader& r, std::string_view key, const NumRange& range);
bool read_bool(const Reader& r, std::string_view key, bool def);
std::optional<bool> read_opt_bool(const Reader& r, std::string_view key);
// "expected <choice_text(names)>, found <v>" and a suggestion (did_you_mean).
std::string choice_issue(std::span<const std::string_view> names, const json& v);
// The index of the value in `names`, or def.
int read_choice(const Reader& r, std::string_view key, std::span<const std::string_view> names,
                int def);
std::string read_string(const Reader& r, std::string_view key, const std::string& def,
                        bool required = false, bool nonempty = false);
// Every key of the object not in `known` is an issue (with a close suggestion).
void check_keys(const Reader& r, const Names& known);
// Keys of a {"name": kind, params...} object: unknown keys, and params of another kind.
void check_param_keys(const Reader& r, const Names& own, const Names& all, std::string_view kind);
// An object-valued block: absent → nullptr reader (all defaults); not an object → issue.
bool block_ok(const json* v, const std::string& path, Issues& issues);

// The names of a closed set's table, in enum order.
template <class Row, size_t N>
Names table_names(const Row (&rows)[N]) {
  Names n;
  for (const Row& row : rows) n.push_back(row.name);
  return n;
}

// A simple closed set's value as a choice of its names (e.g. "linear" | "log").
template <class E, size_t N>
E read_enum(const Reader& r, std::string_view key, const std::string_view (&names)[N], E def) {
  return static_cast<E>(read_choice(r, key, names, static_cast<int>(def)));
}

// ---- closed-set members: {"name": ..., params...} from their table's Param rows ----

template <class Spec>
using Params = std::span<const Param<Spec>>;

template <class Spec>
Names param_names(std::initializer_list<Params<Spec>> groups) {
  Names n;
  for (auto g : groups)
    for (const Param<Spec>& p : g) n.push_back(p.name);
  return n;
}

// Every parameter name of a set, in table order, each once: the union of the rows' params
// (between the params every member takes, first and last).
template <class Spec, class Row, size_t N>
Names set_param_names(const Row (&rows)[N], Params<Spec> first = {}, Params<Spec> last = {}) {
  Names all = param_names<Spec>({first});
  for (const Row& row : rows)
    for (const Param<Spec>& p : row.params)
      if (!contains(all, p.name)) all.push_back(p.name);
  for (const Param<Spec>& p : last) all.push_back(p.name);
  return all;
}

// Reads one group of params into s: choices first (another param's range may depend on them),
// then the rest in table order, with their cross-checks.
template <class Spec>
void params_read(const Reader& r, Params<Spec> group, Spec& s) {
  auto find = [&](std::string_view name) -> const Param<Spec>* {
    for (const Param<Spec>& p : group)
      if (p.name == name) return &p;
    return nullptr;
  };
  for (int pass = 0; pass < 2; ++pass)
    for (const Param<Spec>& p : group) {
      if ((p.type == ParamType::choice) != (pass == 0)) continue;
      const NumRange range = p.range_of ? p.range_of(s) : p.range;
      double v = p.def;
      switch (p.type) {
        case ParamType::number:
          v = read_num(r, p.name, range, p.def, p.required);
          break;
        case ParamType::integer:
          v = static_cast<double>(read_int(r, p.name, static_cast<int64_t>(range.lo),
                                           static_cast<int64_t>(range.hi),
                                           static_cast<int64_t>(p.def), p.required));
          break;
        case ParamType::choice:
          v = read_choice(r, p.name, p.choices, static_cast<int>(p.def));
          break;
      }
      p.at.set(s, v);
      if (const Param<Spec>* q = find(p.at_least); q && v < q->at.get(s)) {
        if (r.has(p.name))
          r.bad(p.name, fmt::format("a number >= {} ({})", q->name, q->at.get(s)), *r.find(p.name));
        else
          r.bad(q->name, fmt::format("a number <= {} ({})", p.name, v), *r.find(q->name));
      }
      if (const Param<Spec>* q = find(p.excludes)) {
        if (r.has(p.name) && r.has(q->name))
          r.add(p.name,
                fmt::format("expected either \"{}\" or \"{}\", found both", q->name, p.name));
        if (!std::isnan(v)) q->at.set(s, nan_v);  // the other is unset
      }
    }
}

// Writes one group of params of s (NaN: its default, or nothing if that is NaN too; a param
// excluded by one that is set is not written).
template <class Spec>
void params_write(json& j, Params<Spec> group, const Spec& s) {
  for (const Param<Spec>& p : group) {
    bool excluded = false;
    for (const Param<Spec>& q : group)
      if (q.excludes == p.name && !std::isnan(q.at.get(s))) excluded = true;
    double v = p.at.get(s);
    if (std::isnan(v)) v = p.def;
    if (excluded || std::isnan(v)) continue;
    const std::string key(p.name);
    switch (p.type) {
      case ParamType::number:
        j[key] = v;
        break;
      case ParamType::integer:
        j[key] = static_cast<int>(v);
        break;
      case ParamType::choice:
        j[key] = std::string(p.choices[static_cast<size_t>(v)]);
        break;
    }
  }
}

}  // namespace gl
