// Reading JSON strictly: the parser with comments and duplicate keys, the typed readers and how
// their issues are worded (harness/core/json_read.h).
#include "harness/core/json_read.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

namespace gl {

ConfigError::ConfigError(std::vector<std::string> l)
    : UsageError([&] {
        std::string s;
        for (const auto& line : l) s += (s.empty() ? "" : "\n") + line;
        return s;
      }()),
      lines(std::move(l)) {}

std::string config_issue_format(const std::string& file, const ConfigIssue& issue) {
  if (issue.path.empty()) return fmt::format("{}: {}", file, issue.message);
  return fmt::format("{}: {}: {}", file, issue.path, issue.message);
}

namespace {

std::string dump_compact(const json& v) {
  return v.dump(-1, ' ', false, json::error_handler_t::replace);  // never throws on bad UTF-8
}

// A value as an error message shows it: compact JSON, at most 60 characters.
std::string found_text(const json& v) {
  std::string s;
  if (v.is_number_float() && !std::isfinite(v.get<double>())) {
    const double d = v.get<double>();
    s = std::isnan(d) ? "nan" : (d > 0 ? "inf" : "-inf");  // dump() would write null
  } else {
    s = dump_compact(v);
  }
  if (s.size() > 60) {
    size_t n = 57;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // whole UTF-8 chars
    s = s.substr(0, n) + "...";
  }
  return s;
}

// Optimal string alignment distance (Levenshtein with adjacent transpositions): "widht" → 1.
size_t edit_distance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[n][m];
}

}  // namespace

// ---- text helpers ----

std::string pointer_escape(std::string_view key) {
  std::string s;
  for (char ch : key) {
    if (ch == '~')
      s += "~0";
    else if (ch == '/')
      s += "~1";
    else
      s += ch;
  }
  return s;
}

std::string at(const std::string& path, std::string_view key) {
  return path + "/" + pointer_escape(key);
}

std::string names_text(std::span<const std::string_view> names) {
  std::string s;
  for (auto n : names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

// "\"a\" or \"b\"" for two choices, "one of \"a\", \"b\", \"c\"" for more.
std::string choice_text(std::span<const std::string_view> names) {
  if (names.size() == 1) return fmt::format("\"{}\"", names[0]);
  if (names.size() == 2) return fmt::format("\"{}\" or \"{}\"", names[0], names[1]);
  std::string s = "one of ";
  for (size_t i = 0; i < names.size(); ++i) s += fmt::format("{}\"{}\"", i ? ", " : "", names[i]);
  return s;
}

bool contains(std::span<const std::string_view> names, std::string_view s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

std::string unknown_key_message(std::string_view key, const Names& candidates) {
  std::vector<std::string> c(candidates.begin(), candidates.end());
  const std::string best = config_closest_key(key, c);
  if (best.empty()) return "unknown key";
  return fmt::format("unknown key; did you mean \"{}\"?", best);
}

std::string config_value_text(const json& v) { return found_text(v); }

std::string config_closest_key(std::string_view key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = 3;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(key, c);
    if (d < best_d && d < key.size()) {
      best = c;
      best_d = d;
    }
  }
  return best;
}

// Lower case without "_" and "-": the spelling-insensitive form of a name.
static std::string name_folded(std::string_view s) {
  std::string out;
  for (char ch : s)
    if (ch != '_' && ch != '-')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

std::string config_closest_name(std::string_view found, std::span<const std::string_view> names) {
  const std::string folded = name_folded(found);
  for (auto n : names)
    if (name_folded(n) == folded) return std::string(n);
  // The one closest name within 2 edits (none on a tie: "float16" is as close to float32 as to
  // float64).
  std::string best;
  size_t best_d = 3, ties = 0;
  for (auto n : names) {
    const size_t d = std::min(edit_distance(found, n), edit_distance(folded, name_folded(n)));
    if (d >= found.size()) continue;
    if (d < best_d) {
      best = n;
      best_d = d;
      ties = 0;
    } else if (d == best_d) {
      ++ties;
    }
  }
  return ties == 0 ? best : "";
}

std::string did_you_mean(const json& v, std::span<const std::string_view> names) {
  if (!v.is_string()) return "";
  const std::string best = config_closest_name(v.get_ref<const std::string&>(), names);
  return best.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", best);
}

std::string choice_issue(std::span<const std::string_view> names, const json& v) {
  return fmt::format("expected {}, found {}{}", choice_text(names), found_text(v),
                     did_you_mean(v, names));
}

// ---- reading values ----

// The integer value of v, if it is an integer (or a float with an integral value, as 1e6) in
// [lo, hi].
bool int_value(const json& v, int64_t lo, int64_t hi, int64_t& out) {
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(int_max)) return false;
    out = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    out = v.get<int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::floor(d) != d || std::abs(d) >= 9.0e18) return false;
    out = static_cast<int64_t>(d);
  } else {
    return false;
  }
  return out >= lo && out <= hi;
}

std::string int_text(int64_t lo, int64_t hi) {
  if (hi == int_max) return fmt::format("an integer >= {}", lo);
  return fmt::format("an integer in {}..{}", lo, hi);
}

std::string num_text(const NumRange& r) {
  const bool has_lo = std::isfinite(r.lo), has_hi = std::isfinite(r.hi);
  if (!has_lo && !has_hi) return "a number";
  if (!has_hi) return fmt::format("a number {} {}", r.lo_open ? ">" : ">=", r.lo);
  if (!has_lo) return fmt::format("a number {} {}", r.hi_open ? "<" : "<=", r.hi);
  return fmt::format("a number in {}{}, {}{}", r.lo_open ? "(" : "[", r.lo, r.hi,
                     r.hi_open ? ")" : "]");
}

bool num_value(const json& v, const NumRange& r, double& out) {
  if (!v.is_number()) return false;  // booleans are not numbers in nlohmann
  const double d = v.get<double>();
  if (!std::isfinite(d)) return false;
  if (r.lo_open ? !(d > r.lo) : !(d >= r.lo)) return false;
  if (r.hi_open ? !(d < r.hi) : !(d <= r.hi)) return false;
  out = d;
  return true;
}

const json* Reader::find(std::string_view key) const {
  if (!j || !j->is_object()) return nullptr;
  auto it = j->find(std::string(key));
  return it == j->end() ? nullptr : &*it;
}
void Reader::add(std::string_view key, std::string msg) const {
  issues->push_back({at(path, key), std::move(msg)});
}
void Reader::bad(std::string_view key, const std::string& what, const json& v) const {
  add(key, fmt::format("expected {}, found {}", what, found_text(v)));
}
void Reader::missing(std::string_view key, const std::string& what) const {
  add(key, fmt::format("missing (expected {})", what));
}

int64_t read_int(const Reader& r, std::string_view key, int64_t lo, int64_t hi, int64_t def,
                 bool required) {
  const json* v = r.find(key);
  if (!v) {
    if (required) r.missing(key, int_text(lo, hi));
    return def;
  }
  int64_t x = 0;
  if (!int_value(*v, lo, hi, x)) {
    r.bad(key, int_text(lo, hi), *v);
    return def;
  }
  return x;
}

int read_int32(const Reader& r, std::string_view key, int64_t lo, int64_t hi, int64_t def,
               bool required) {
  return static_cast<int>(read_int(r, key, lo, hi, def, required));
}

double read_num(const Reader& r, std::string_view key, const NumRange& range, double def,
                bool required) {
  const json* v = r.find(key);
  if (!v) {
    if (required) r.missing(key, num_text(range));
    return def;
  }
  double x = 0;
  if (!num_value(*v, range, x)) {
    r.bad(key, num_text(range), *v);
    return def;
  }
  return x;
}

// null or a number in range; absent → nullopt.
std::optional<double> read_opt_num(const Reader& r, std::string_view key, const NumRange& range) {
  const json* v = r.find(key);
  if (!v || v->is_null()) return std::nullopt;
  double x = 0;
  if (!num_value(*v, range, x)) {
    r.bad(key, "null or " + num_text(range), *v);
    return std::nullopt;
  }
  return x;
}

bool read_bool(const Reader& r, std::string_view key, bool def) {
  const json* v = r.find(key);
  if (!v) return def;
  if (!v->is_boolean()) {
    r.bad(key, "true or false", *v);
    return def;
  }
  return v->get<bool>();
}

std::optional<bool> read_opt_bool(const Reader& r, std::string_view key) {
  const json* v = r.find(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_boolean()) {
    r.bad(key, "null, true or false", *v);
    return std::nullopt;
  }
  return v->get<bool>();
}

// The index of the value in `names`, or def.
int read_choice(const Reader& r, std::string_view key, std::span<const std::string_view> names,
                int def) {
  const json* v = r.find(key);
  if (!v) return def;
  if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == s) return static_cast<int>(i);
  }
  r.add(key, choice_issue(names, *v));
  return def;
}

std::string read_string(const Reader& r, std::string_view key, const std::string& def,
                        bool required, bool nonempty) {
  const json* v = r.find(key);
  const char* what = nonempty ? "a non-empty string" : "a string";
  if (!v) {
    if (required) r.missing(key, what);
    return def;
  }
  if (!v->is_string() || (nonempty && v->get_ref<const std::string&>().empty())) {
    r.bad(key, what, *v);
    return def;
  }
  return v->get<std::string>();
}

// Every key of the object not in `known` is an issue (with a close suggestion).
void check_keys(const Reader& r, const Names& known) {
  if (!r.j || !r.j->is_object()) return;
  for (const auto& [key, value] : r.j->items())
    if (!contains(known, key)) r.add(key, unknown_key_message(key, known));
}

// An object-valued block: absent → nullptr reader (all defaults); not an object → issue.
bool block_ok(const json* v, const std::string& path, Issues& issues) {
  if (!v) return true;
  if (v->is_object()) return true;
  issues.push_back({path, "expected an object, found " + found_text(*v)});
  return false;
}

// Keys of a {"name": kind, params...} object: unknown keys, and params of another kind.
void check_param_keys(const Reader& r, const Names& own, const Names& all, std::string_view kind) {
  Names known = {"name"};
  known.insert(known.end(), all.begin(), all.end());
  for (const auto& [key, value] : r.j->items()) {
    if (key == "name" || contains(own, key)) continue;
    if (contains(all, key))
      r.add(key, fmt::format("not a parameter of {}", kind));
    else
      r.add(key, unknown_key_message(key, known));
  }
}

// ---- parsing ----

json config_parse(const std::string& text, const std::string& file) {
  // Duplicate keys would silently keep the last value: track the keys of every open object.
  struct Frame {
    bool object;
    std::set<std::string> keys;
    std::string key;
    long count = 0;  // array: elements started
  };
  std::vector<Frame> stack;
  std::vector<std::string> duplicates;
  auto element = [&] {
    if (!stack.empty() && !stack.back().object) ++stack.back().count;
  };
  json::parser_callback_t cb = [&](int, json::parse_event_t ev, json& parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        element();
        stack.push_back({ev == json::parse_event_t::object_start, {}, {}, 0});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case json::parse_event_t::value:
        element();
        break;
      case json::parse_event_t::key: {
        if (stack.empty() || !parsed.is_string()) break;
        Frame& top = stack.back();
        top.key = parsed.get<std::string>();
        if (!top.keys.insert(top.key).second) {
          std::string p;
          for (const Frame& f : stack)
            p += "/" + (f.object ? pointer_escape(f.key) : std::to_string(f.count - 1));
          duplicates.push_back(fmt::format("{}: {}: duplicate key", file, p));
        }
        break;
      }
    }
    return true;
  };
  json j;
  try {
    j = json::parse(text, cb, /*allow_exceptions=*/true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // e.byte is the 1-based index of the last character read (size + 1 at the end).
    const size_t pos = std::min(e.byte > 0 ? e.byte - 1 : 0, text.size());
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < pos; ++i)
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    std::string what = e.what();
    if (auto p = what.find("parse error"); p != std::string::npos)
      if (auto c = what.find(": ", p); c != std::string::npos) what = what.substr(c + 2);
    throw ConfigError(
        {fmt::format("{}:{}:{}: malformed JSON: {}", file, line, pos - line_start + 1, what)});
  } catch (const json::exception& e) {  // e.g. out_of_range.406 "number overflow parsing '1e999'"
    std::string what = e.what();
    if (auto p = what.find("] "); what.rfind("[json.exception", 0) == 0 && p != std::string::npos)
      what = what.substr(p + 2);
    throw ConfigError({fmt::format("{}: malformed JSON: {}", file, what)});
  }
  if (!duplicates.empty()) throw ConfigError(duplicates);
  if (!j.is_object())
    throw ConfigError({fmt::format("{}: expected a JSON object at the top level, found {}", file,
                                   found_text(j))});
  return j;
}

json config_read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f)
    throw ConfigError({fmt::format("{}: cannot read config: {}", path, std::strerror(errno))});
  std::string text;
  char buf[65536];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed)
    throw ConfigError({fmt::format("{}: cannot read config: {}", path, std::strerror(err))});
  return config_parse(text, path);
}

}  // namespace gl
