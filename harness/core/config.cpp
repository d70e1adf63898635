// Reading the experiment config (docs/reference.md §3): parse JSON with comments, expand
// shorthands, validate strictly, and write the resolved form back.
//
// Validation never stops at the first problem: every check appends a ConfigIssue
// ("<JSON pointer>: expected <what>, found <value>") and carries on with the default, so a user
// sees every problem of a file at once. No nlohmann exception escapes: types are checked before
// any value is read.
#include "harness/core/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>
#include <string_view>

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

using Issues = std::vector<ConfigIssue>;
using Names = std::vector<std::string_view>;

constexpr int64_t int_max = std::numeric_limits<int64_t>::max();
constexpr double inf = std::numeric_limits<double>::infinity();

// ---- text helpers ----

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

std::string names_text(const Names& names) {
  std::string s;
  for (auto n : names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

// "\"a\" or \"b\"" for two choices, "one of \"a\", \"b\", \"c\"" for more.
std::string choice_text(const Names& names) {
  if (names.size() == 1) return fmt::format("\"{}\"", names[0]);
  if (names.size() == 2) return fmt::format("\"{}\" or \"{}\"", names[0], names[1]);
  std::string s = "one of ";
  for (size_t i = 0; i < names.size(); ++i) s += fmt::format("{}\"{}\"", i ? ", " : "", names[i]);
  return s;
}

bool contains(const Names& names, std::string_view s) {
  return std::find(names.begin(), names.end(), s) != names.end();
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

std::string unknown_key_message(std::string_view key, const Names& candidates) {
  std::vector<std::string> c(candidates.begin(), candidates.end());
  const std::string best = config_closest_key(key, c);
  if (best.empty()) return "unknown key";
  return fmt::format("unknown key; did you mean \"{}\"?", best);
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

// A range of reals; infinite ends are open and unbounded.
struct NumRange {
  double lo = -inf, hi = inf;
  bool lo_open = false, hi_open = false;
};
constexpr NumRange any_number{};
constexpr NumRange positive{0.0, inf, true, false};
constexpr NumRange non_negative{0.0, inf, false, false};

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

// One JSON object being read: where it is and where its problems go. j may be null (the block
// is absent, so every key takes its default).
struct Reader {
  const json* j;
  std::string path;
  Issues* issues;

  const json* find(std::string_view key) const {
    if (!j || !j->is_object()) return nullptr;
    auto it = j->find(std::string(key));
    return it == j->end() ? nullptr : &*it;
  }
  bool has(std::string_view key) const { return find(key) != nullptr; }
  void add(std::string_view key, std::string msg) const {
    issues->push_back({at(path, key), std::move(msg)});
  }
  void bad(std::string_view key, const std::string& what, const json& v) const {
    add(key, fmt::format("expected {}, found {}", what, found_text(v)));
  }
  void missing(std::string_view key, const std::string& what) const {
    add(key, fmt::format("missing (expected {})", what));
  }
};

int64_t read_int(const Reader& r, std::string_view key, int64_t lo, int64_t hi, int64_t def,
                 bool required = false) {
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
               bool required = false) {
  return static_cast<int>(read_int(r, key, lo, hi, def, required));
}

double read_num(const Reader& r, std::string_view key, const NumRange& range, double def) {
  const json* v = r.find(key);
  if (!v) return def;
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
int read_choice(const Reader& r, std::string_view key, const Names& names, int def) {
  const json* v = r.find(key);
  if (!v) return def;
  if (v->is_string()) {
    const auto& s = v->get_ref<const std::string&>();
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == s) return static_cast<int>(i);
  }
  r.bad(key, choice_text(names), *v);
  return def;
}

std::string read_string(const Reader& r, std::string_view key, const std::string& def,
                        bool required = false, bool nonempty = false) {
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

// ---- activations ----

const Names all_activation_params = {"slope", "lower", "upper", "convention",
                                     "alpha", "beta",  "pieces"};

Names activation_params(Activation a) {
  switch (a) {
    case Activation::leaky_relu:
    case Activation::prelu:
      return {"slope"};
    case Activation::rrelu:
      return {"lower", "upper", "convention"};
    case Activation::elu:
      return {"alpha"};
    case Activation::softplus:
      return {"beta"};
    case Activation::maxout:
      return {"pieces"};
    case Activation::identity:
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::softsign:
    case Activation::arctan:
    case Activation::relu:
    case Activation::relu6:
    case Activation::selu:
    case Activation::swish:
    case Activation::gelu:
    case Activation::hard_tanh:
    case Activation::binary_step:
      return {};
  }
  throw std::logic_error("unreachable");
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

ActivationSpec read_activation(const json& v, const std::string& path, Issues& issues) {
  ActivationSpec a;
  if (!v.is_object()) {
    issues.push_back(
        {path, "expected an activation name or an object {\"name\": ...}, found " + found_text(v)});
    return a;
  }
  const Reader r{&v, path, &issues};
  const json* name = r.find("name");  // absent: the default, so "model.activation.x" axes work
  std::optional<Activation> kind = Activation::tanh;
  if (name)
    kind = name->is_string() ? activation_from_name(name->get_ref<const std::string&>())
                             : std::nullopt;
  if (!kind) {
    // Reported at the activation itself, as the user may have written the shorthand.
    issues.push_back({path, fmt::format("unknown activation {}; expected one of {}",
                                        found_text(*name), activation_names_list())});
    return a;
  }
  a.kind = *kind;
  check_param_keys(r, activation_params(a.kind), all_activation_params, activation_name(a.kind));
  switch (a.kind) {
    case Activation::leaky_relu:
      a.slope = read_num(r, "slope", any_number, 0.01);
      break;
    case Activation::prelu:
      a.slope = read_num(r, "slope", any_number, 0.25);
      break;
    case Activation::rrelu: {
      a.convention =
          static_cast<RreluConvention>(read_choice(r, "convention", {"pytorch", "paper"}, 0));
      const NumRange lower_range = a.convention == RreluConvention::paper ? positive : non_negative;
      a.lower = read_num(r, "lower", lower_range, 1.0 / 8);
      a.upper = read_num(r, "upper", non_negative, 1.0 / 3);
      if (a.upper < a.lower && r.has("upper"))
        r.bad("upper", fmt::format("a number >= lower ({})", a.lower), *r.find("upper"));
      else if (a.upper < a.lower)
        r.bad("lower", fmt::format("a number <= upper ({})", a.upper), *r.find("lower"));
      break;
    }
    case Activation::elu:
      a.alpha = read_num(r, "alpha", non_negative, 1.0);
      break;
    case Activation::softplus:
      a.beta = read_num(r, "beta", positive, 1.0);
      break;
    case Activation::maxout:
      a.pieces = read_int32(r, "pieces", 2, 64, 2);
      break;
    case Activation::identity:
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::softsign:
    case Activation::arctan:
    case Activation::relu:
    case Activation::relu6:
    case Activation::selu:
    case Activation::swish:
    case Activation::gelu:
    case Activation::hard_tanh:
    case Activation::binary_step:
      break;
  }
  return a;
}

json activation_to_json(const ActivationSpec& a) {
  json j = {{"name", activation_name(a.kind)}};
  switch (a.kind) {
    case Activation::leaky_relu:
    case Activation::prelu:
      j["slope"] = a.slope;
      break;
    case Activation::rrelu:
      j["lower"] = a.lower;
      j["upper"] = a.upper;
      j["convention"] = a.convention == RreluConvention::pytorch ? "pytorch" : "paper";
      break;
    case Activation::elu:
      j["alpha"] = a.alpha;
      break;
    case Activation::softplus:
      j["beta"] = a.beta;
      break;
    case Activation::maxout:
      j["pieces"] = a.pieces;
      break;
    case Activation::identity:
    case Activation::sigmoid:
    case Activation::tanh:
    case Activation::softsign:
    case Activation::arctan:
    case Activation::relu:
    case Activation::relu6:
    case Activation::selu:
    case Activation::swish:
    case Activation::gelu:
    case Activation::hard_tanh:
    case Activation::binary_step:
      break;
  }
  return j;
}

// ---- initializers ----

const Names all_init_params = {
    "gain",         "mode", "sigma_w2", "std", "scale", "nonzero_per_row", "spectral_radius",
    "spectral_norm"};

bool init_has_mode(Init k) {
  return k == Init::he_normal || k == Init::he_uniform || k == Init::lecun_normal ||
         k == Init::lecun_uniform;
}

Names init_params(Init k) {
  Names p = {"gain"};
  switch (k) {
    case Init::he_normal:
    case Init::he_uniform:
    case Init::lecun_normal:
    case Init::lecun_uniform:
      p.push_back("mode");
      break;
    case Init::gaussian:
      p.push_back("sigma_w2");
      p.push_back("std");
      break;
    case Init::uniform:
      p.push_back("scale");
      break;
    case Init::sparse:
      p.push_back("nonzero_per_row");
      p.push_back("std");
      break;
    case Init::glorot_standard:
    case Init::glorot_uniform:
    case Init::glorot_normal:
    case Init::orthogonal:
    case Init::identity:
      break;
  }
  p.push_back("spectral_radius");
  p.push_back("spectral_norm");
  return p;
}

InitSpec init_of(Init k) {
  InitSpec s;
  s.kind = k;
  return s;
}

InitSpec read_init(const json& v, const std::string& path, Init def, Issues& issues) {
  InitSpec s;
  if (!v.is_object()) {
    issues.push_back({path, "expected an initializer name or an object {\"name\": ...}, found " +
                                found_text(v)});
    return s;
  }
  const Reader r{&v, path, &issues};
  const json* name = r.find("name");  // absent: the key's default initializer
  std::optional<Init> kind = def;
  if (name)
    kind = name->is_string() ? init_from_name(name->get_ref<const std::string&>()) : std::nullopt;
  if (!kind) {
    issues.push_back({path, fmt::format("unknown initializer {}; expected one of {}",
                                        found_text(*name), init_names_list())});
    return s;
  }
  s.kind = *kind;
  check_param_keys(r, init_params(s.kind), all_init_params, init_name(s.kind));
  s.gain = read_num(r, "gain", positive, 1.0);
  if (init_has_mode(s.kind))
    s.mode = static_cast<FanMode>(read_choice(r, "mode", {"fan_in", "fan_out"}, 0));
  if (s.kind == Init::gaussian) {
    s.sigma_w2 = read_num(r, "sigma_w2", positive, nan_v);
    s.std = read_num(r, "std", positive, nan_v);
    if (r.has("sigma_w2") && r.has("std"))
      r.add("std", "expected either \"sigma_w2\" or \"std\", found both");
    if (std::isnan(s.std)) {
      if (std::isnan(s.sigma_w2)) s.sigma_w2 = 1.0;
    } else {
      s.sigma_w2 = nan_v;
    }
  }
  if (s.kind == Init::uniform) s.scale = read_num(r, "scale", positive, 0.05);
  if (s.kind == Init::sparse) {
    s.nonzero_per_row = read_int32(r, "nonzero_per_row", 1, 10'000'000, 15);
    s.std = read_num(r, "std", positive, 1.0);
  }
  s.spectral_radius = read_num(r, "spectral_radius", positive, nan_v);
  s.spectral_norm = read_num(r, "spectral_norm", positive, nan_v);
  if (r.has("spectral_radius") && r.has("spectral_norm"))
    r.add("spectral_norm", "expected either \"spectral_radius\" or \"spectral_norm\", found both");
  return s;
}

json init_to_json(const InitSpec& s) {
  json j = {{"name", init_name(s.kind)}, {"gain", s.gain}};
  if (init_has_mode(s.kind)) j["mode"] = s.mode == FanMode::fan_in ? "fan_in" : "fan_out";
  if (s.kind == Init::gaussian) {
    if (std::isnan(s.std))
      j["sigma_w2"] = std::isnan(s.sigma_w2) ? 1.0 : s.sigma_w2;
    else
      j["std"] = s.std;
  }
  if (s.kind == Init::uniform) j["scale"] = s.scale;
  if (s.kind == Init::sparse) {
    j["nonzero_per_row"] = s.nonzero_per_row;
    j["std"] = std::isnan(s.std) ? 1.0 : s.std;
  }
  if (!std::isnan(s.spectral_radius)) j["spectral_radius"] = s.spectral_radius;
  if (!std::isnan(s.spectral_norm)) j["spectral_norm"] = s.spectral_norm;
  return j;
}

BiasSpec read_bias(const json& v, const std::string& path, Issues& issues) {
  BiasSpec b;
  if (!v.is_object()) {
    issues.push_back({path,
                      "expected a number or an object {\"name\": \"constant\" | "
                      "\"gaussian\", ...}, found " +
                          found_text(v)});
    return b;
  }
  const Reader r{&v, path, &issues};
  const Names all = {"value", "sigma_b2"};
  const json* name = r.find("name");
  int kind = -1;
  if (!name) {
    kind = 0;  // constant
  } else if (name->is_string() && name->get_ref<const std::string&>() == "constant") {
    kind = 0;
  } else if (name->is_string() && name->get_ref<const std::string&>() == "gaussian") {
    kind = 1;
  } else {
    issues.push_back({path, fmt::format("unknown bias initializer {}; expected one of constant, "
                                        "gaussian",
                                        found_text(*name))});
  }
  if (kind < 0) return b;
  b.kind = kind == 0 ? BiasKind::constant : BiasKind::gaussian;
  check_param_keys(r, kind == 0 ? Names{"value"} : Names{"sigma_b2"}, all,
                   kind == 0 ? "constant" : "gaussian");
  if (b.kind == BiasKind::constant) {
    b.value = read_num(r, "value", any_number, 0.0);
  } else {
    if (!r.has("sigma_b2")) r.missing("sigma_b2", num_text(non_negative));
    b.sigma_b2 = read_num(r, "sigma_b2", non_negative, 0.0);
  }
  return b;
}

json bias_to_json(const BiasSpec& b) {
  if (b.kind == BiasKind::constant) return {{"name", "constant"}, {"value", b.value}};
  return {{"name", "gaussian"}, {"sigma_b2", b.sigma_b2}};
}

// ---- model ----

const Names data_names = {"gaussian",      "shapeset3x2",    "idx",
                          "fashion_mnist", "temporal_order", "addition"};

bool is_sequence_task(DataName d) {
  return d == DataName::temporal_order || d == DataName::addition;
}

std::string_view data_name_text(DataName d) { return data_names[static_cast<size_t>(d)]; }

const Names mlp_keys = {"type",       "depth", "width",       "hidden",
                        "activation", "init",  "output_init", "bias_init"};
const Names rnn_keys = {"type",       "width",       "length",    "activation", "recurrent_init",
                        "input_init", "output_init", "bias_init", "inputs",     "loss_at"};
const Names teacher_keys = {"depth", "width",       "hidden",   "activation",
                            "init",  "output_init", "bias_init"};
constexpr int64_t max_width = 10'000'000;
constexpr int64_t max_depth = 100'000;
constexpr int64_t max_length = 100'000;

// What the model block needs to know of the data: its name (when valid) and a task's length.
struct DataFacts {
  std::optional<DataName> name;
  int length = 0;
};

ActivationSpec read_activation_key(const Reader& r, std::string_view key) {
  const json* v = r.find(key);
  return v ? read_activation(*v, at(r.path, key), *r.issues) : ActivationSpec{};
}

InitSpec read_init_key(const Reader& r, std::string_view key, const InitSpec& def) {
  const json* v = r.find(key);
  return v ? read_init(*v, at(r.path, key), def.kind, *r.issues) : def;
}

// An mlp's hidden widths: "depth" × "width", or "hidden".
void read_mlp_shape(const Reader& r, ModelConfig& m) {
  const bool has_hidden = r.has("hidden"), has_depth = r.has("depth"), has_width = r.has("width");
  const std::string width_text = int_text(1, max_width);
  if (has_hidden && (has_depth || has_width)) {
    r.add("hidden", "expected either \"hidden\" or \"depth\" + \"width\", found both");
    return;
  }
  if (has_hidden) {
    const json& h = *r.find("hidden");
    if (!h.is_array() || h.empty()) {
      r.bad("hidden", "a non-empty list of widths (integers in 1..10000000)", h);
      return;
    }
    if (h.size() > static_cast<size_t>(max_depth)) {
      r.bad("hidden", fmt::format("at most {} widths", max_depth), h);
      return;
    }
    for (size_t i = 0; i < h.size(); ++i) {
      int64_t w = 0;
      if (int_value(h[i], 1, max_width, w))
        m.hidden.push_back(static_cast<int>(w));
      else
        r.issues->push_back({fmt::format("{}/hidden/{}", r.path, i),
                             fmt::format("expected {}, found {}", width_text, found_text(h[i]))});
    }
    return;
  }
  if (!has_depth && !has_width) {
    r.issues->push_back(
        {r.path, "missing \"depth\" and \"width\" (expected \"depth\" + \"width\" or \"hidden\")"});
    return;
  }
  const int depth = read_int32(r, "depth", 1, max_depth, 0, true);
  const int width = read_int32(r, "width", 1, max_width, 0, true);
  if (depth > 0 && width > 0) m.hidden.assign(static_cast<size_t>(depth), width);
}

// The model block, or (teacher = true) a gaussian teacher's mlp block.
ModelConfig read_model(const json* v, const std::string& path, const DataFacts& data, bool teacher,
                       Issues& issues) {
  ModelConfig m;
  if (!v) {
    issues.push_back({path,
                      "missing (expected an object with \"depth\" and \"width\", or "
                      "\"hidden\")"});
    return m;
  }
  if (!block_ok(v, path, issues)) return m;
  const Reader r{v, path, &issues};
  if (!teacher) {
    const json* t = r.find("type");
    if (t && !(t->is_string() && (*t == "mlp" || *t == "rnn"))) {
      r.bad("type", choice_text({"mlp", "rnn"}), *t);
      return m;  // the other keys depend on the type
    }
    if (t && *t == "rnn") m.type = ModelType::rnn;
  }
  // Keys: those of another type are named as such; the rest are unknown.
  const bool rnn = m.type == ModelType::rnn;
  const Names& own = teacher ? teacher_keys : (rnn ? rnn_keys : mlp_keys);
  const Names& other = rnn ? mlp_keys : rnn_keys;
  Names all = own;
  if (!teacher)
    for (auto k : other)
      if (!contains(all, k)) all.push_back(k);
  for (const auto& [key, value] : v->items()) {
    if (contains(own, key)) continue;
    if (!teacher && contains(other, key))
      r.add(key, fmt::format("only for model.type \"{}\"", rnn ? "mlp" : "rnn"));
    else
      r.add(key, unknown_key_message(key, all));
  }

  m.activation = read_activation_key(r, "activation");
  if (rnn && m.activation.kind == Activation::maxout)
    r.add("activation",
          "\"maxout\" is not supported for model.type \"rnn\": a maxout unit has k affine pieces, "
          "so the shared W could not map the hidden state to itself; use another activation, or "
          "maxout with model.type \"mlp\"");
  if (const json* b = r.find("bias_init"))
    m.bias_init = read_bias(*b, at(path, "bias_init"), issues);

  if (!rnn) {
    read_mlp_shape(r, m);
    m.init = read_init_key(r, "init", init_of(Init::glorot_uniform));
    m.output_init = read_init_key(r, "output_init", m.init);
    return m;
  }

  m.width = read_int32(r, "width", 1, max_width, 0, true);
  if (data.name && is_sequence_task(*data.name)) {
    if (r.has("length"))
      r.add("length", fmt::format("not allowed with data \"{}\": the chain length is data.length",
                                  data_name_text(*data.name)));
    m.length = data.length;
  } else {
    m.length = read_int32(r, "length", 1, max_length, 0, true);
  }
  m.recurrent_init = read_init_key(r, "recurrent_init", init_of(Init::orthogonal));
  m.input_init = read_init_key(r, "input_init", init_of(Init::glorot_uniform));
  m.output_init = read_init_key(r, "output_init", init_of(Init::glorot_uniform));
  m.inputs = static_cast<RnnInputs>(read_choice(r, "inputs", {"every_step", "first_step"}, 0));
  m.loss_at = static_cast<LossAt>(read_choice(r, "loss_at", {"last", "every_step"}, 0));
  if (data.name && is_sequence_task(*data.name)) {
    // Pascanu's tasks feed a symbol at every step and score only the last one.
    if (m.inputs == RnnInputs::first_step)
      r.bad("inputs",
            fmt::format("\"every_step\" for data \"{}\" (a sequence task)",
                        data_name_text(*data.name)),
            *r.find("inputs"));
    if (m.loss_at == LossAt::every_step)
      r.bad("loss_at",
            fmt::format("\"last\" for data \"{}\" (its target is at the last step)",
                        data_name_text(*data.name)),
            *r.find("loss_at"));
  }
  return m;
}

json model_to_json(const ModelConfig& m, const DataConfig& d, bool teacher) {
  json j = json::object();
  if (m.type == ModelType::mlp) {
    if (!teacher) j["type"] = "mlp";
    const bool uniform =
        !m.hidden.empty() &&
        std::all_of(m.hidden.begin(), m.hidden.end(), [&](int w) { return w == m.hidden.front(); });
    if (uniform) {
      j["depth"] = m.hidden.size();
      j["width"] = m.hidden.front();
    } else {
      j["hidden"] = m.hidden;
    }
    j["activation"] = activation_to_json(m.activation);
    j["init"] = init_to_json(m.init);
    j["output_init"] = init_to_json(m.output_init);
    j["bias_init"] = bias_to_json(m.bias_init);
    return j;
  }
  j["type"] = "rnn";
  j["width"] = m.width;
  if (!is_sequence_task(d.name)) j["length"] = m.length;  // a task's T lives in data.length
  j["activation"] = activation_to_json(m.activation);
  j["recurrent_init"] = init_to_json(m.recurrent_init);
  j["input_init"] = init_to_json(m.input_init);
  j["output_init"] = init_to_json(m.output_init);
  j["bias_init"] = bias_to_json(m.bias_init);
  j["inputs"] = m.inputs == RnnInputs::every_step ? "every_step" : "first_step";
  j["loss_at"] = m.loss_at == LossAt::last ? "last" : "every_step";
  return j;
}

// ---- data ----

Names data_params(DataName d) {
  switch (d) {
    case DataName::gaussian:
      return {"dim", "classes", "outputs", "teacher"};
    case DataName::idx:
      return {"train_images", "train_labels", "test_images", "test_labels"};
    case DataName::temporal_order:
    case DataName::addition:
      return {"length"};
    case DataName::shapeset3x2:
    case DataName::fashion_mnist:
      return {};
  }
  throw std::logic_error("unreachable");
}

const Names all_data_params = {"dim",         "classes",      "outputs",
                               "teacher",     "train_images", "train_labels",
                               "test_images", "test_labels",  "length"};

DataFacts peek_data(const json& root) {
  DataFacts f;
  auto d = root.find("data");
  if (d == root.end() || !d->is_object()) {
    if (d == root.end()) f.name = DataName::gaussian;
    return f;
  }
  auto n = d->find("name");
  if (n == d->end()) {
    f.name = DataName::gaussian;
  } else if (n->is_string()) {
    for (size_t i = 0; i < data_names.size(); ++i)
      if (data_names[i] == n->get_ref<const std::string&>()) f.name = static_cast<DataName>(i);
  }
  auto l = d->find("length");
  int64_t len = 0;
  if (l != d->end() && int_value(*l, 1, max_length, len)) f.length = static_cast<int>(len);
  return f;
}

DataConfig read_data(const json* v, const DataFacts& facts, ModelType model_type, Issues& issues) {
  DataConfig d;
  const std::string path = "/data";
  if (!block_ok(v, path, issues)) return d;
  const Reader r{v, path, &issues};
  if (const json* n = r.find("name"); n && !facts.name)
    issues.push_back({at(path, "name"), fmt::format("unknown dataset {}; expected one of {}",
                                                    found_text(*n), names_text(data_names))});
  d.test_samples = read_int(r, "test_samples", 1, 10'000'000, 1000);
  if (!facts.name) {
    Names known = {"name", "test_samples"};
    known.insert(known.end(), all_data_params.begin(), all_data_params.end());
    check_keys(r, known);
    return d;
  }
  d.name = *facts.name;
  const Names own = data_params(d.name);
  if (v) {
    Names known = {"name", "test_samples"};
    known.insert(known.end(), all_data_params.begin(), all_data_params.end());
    for (const auto& [key, value] : v->items()) {
      if (key == "name" || key == "test_samples" || contains(own, key)) continue;
      if (contains(all_data_params, key))
        r.add(key, fmt::format("not a parameter of dataset \"{}\"", data_name_text(d.name)));
      else
        r.add(key, unknown_key_message(key, known));
    }
  }
  switch (d.name) {
    case DataName::gaussian: {
      d.dim = read_int32(r, "dim", 1, 10'000'000, 100);
      d.classes = read_int32(r, "classes", 2, 10'000'000, 10);
      d.outputs = read_int32(r, "outputs", 1, 10'000'000, 10);
      d.teacher = nullptr;
      const json* t = r.find("teacher");
      if (t && !t->is_null()) {
        if (!t->is_object()) {
          r.bad("teacher", "null or an object of model keys (depth, width, activation, ...)", *t);
        } else {
          const ModelConfig tm = read_model(t, at(path, "teacher"), facts, true, issues);
          d.teacher = model_to_json(tm, d, true);
        }
        if (model_type == ModelType::rnn) r.add("teacher", "only for model.type \"mlp\"");
      }
      break;
    }
    case DataName::idx:
      d.train_images = read_string(r, "train_images", "", true, true);
      d.train_labels = read_string(r, "train_labels", "", true, true);
      d.test_images = read_string(r, "test_images", "", true, true);
      d.test_labels = read_string(r, "test_labels", "", true, true);
      break;
    case DataName::temporal_order:
    case DataName::addition: {
      const std::string what = int_text(task_min_length, max_length);
      const json* l = r.find("length");
      int64_t len = 0;
      if (!l)
        r.missing("length", what);
      else if (int_value(*l, task_min_length, max_length, len))
        d.length = static_cast<int>(len);
      else if (int_value(*l, 1, task_min_length - 1, len))
        r.bad("length",
              fmt::format("{} (\"{}\" places its markers in windows of ⌊L/10⌋ steps)", what,
                          data_name_text(d.name)),
              *l);
      else
        r.bad("length", what, *l);
      break;
    }
    case DataName::shapeset3x2:
    case DataName::fashion_mnist:
      break;
  }
  // What the model type can consume.
  if (model_type == ModelType::mlp && is_sequence_task(d.name))
    r.add("name", fmt::format("\"{}\" is a sequence task; it needs model.type \"rnn\"",
                              data_name_text(d.name)));
  if (model_type == ModelType::rnn && !is_sequence_task(d.name) && d.name != DataName::gaussian)
    r.bad("name", "a dataset for model.type \"rnn\" (gaussian, temporal_order or addition)",
          *r.find("name"));
  return d;
}

json data_to_json(const DataConfig& d) {
  json j = {{"name", data_name_text(d.name)}, {"test_samples", d.test_samples}};
  switch (d.name) {
    case DataName::gaussian:
      j["dim"] = d.dim;
      j["classes"] = d.classes;
      j["outputs"] = d.outputs;
      j["teacher"] = d.teacher.is_object() ? d.teacher : json(nullptr);
      break;
    case DataName::idx:
      j["train_images"] = d.train_images;
      j["train_labels"] = d.train_labels;
      j["test_images"] = d.test_images;
      j["test_labels"] = d.test_labels;
      break;
    case DataName::temporal_order:
    case DataName::addition:
      j["length"] = d.length;
      break;
    case DataName::shapeset3x2:
    case DataName::fashion_mnist:
      break;
  }
  return j;
}

bool data_gives_labels(const DataConfig& d) {
  return d.name != DataName::addition && !(d.name == DataName::gaussian && d.teacher.is_object());
}
bool data_gives_targets(const DataConfig& d) {
  return d.name == DataName::gaussian || d.name == DataName::addition;
}
std::string data_text(const DataConfig& d) {
  if (d.name == DataName::gaussian && d.teacher.is_object()) return "\"gaussian\" with a teacher";
  return fmt::format("\"{}\"", data_name_text(d.name));
}

// ---- train, probe ----

TrainConfig read_train(const json* v, Issues& issues) {
  TrainConfig t;
  const std::string path = "/train";
  if (!block_ok(v, path, issues)) return t;
  const Reader r{v, path, &issues};
  check_keys(
      r, {"steps", "batch_size", "optimizer", "lr", "momentum", "clip_norm", "checkpoint_every"});
  t.steps = read_int(r, "steps", 0, int_max, 0);
  t.batch_size = read_int32(r, "batch_size", 1, 1'000'000, 10);
  t.optimizer = static_cast<Optimizer>(read_choice(r, "optimizer", {"sgd"}, 0));
  t.lr = read_num(r, "lr", positive, 0.01);
  t.momentum = read_num(r, "momentum", NumRange{0.0, 1.0, false, true}, 0.0);
  t.clip_norm = read_opt_num(r, "clip_norm", positive);
  t.checkpoint_every = read_int(r, "checkpoint_every", 0, int_max, 0);
  return t;
}

ProbeConfig read_probe(const json* v, Issues& issues) {
  ProbeConfig p;
  const std::string path = "/probe";
  if (!block_ok(v, path, issues)) return p;
  const Reader r{v, path, &issues};
  check_keys(r, {"samples", "every", "schedule", "per_decade", "histograms", "bins", "hist_range",
                 "hist_scale", "saturation_tau", "jacobian", "jacobian_samples", "dump_tensors",
                 "flush_subnormals"});
  p.samples = read_int32(r, "samples", 1, 1'000'000, 300);
  p.every = read_int(r, "every", 1, int_max, 1000);
  p.schedule = static_cast<Schedule>(read_choice(r, "schedule", {"linear", "log"}, 0));
  if (p.schedule == Schedule::linear && r.has("per_decade"))
    r.add("per_decade", "only with probe.schedule \"log\"");
  else
    p.per_decade = read_int32(r, "per_decade", 1, 1000, 10);
  p.histograms = read_bool(r, "histograms", false);
  p.bins = read_int32(r, "bins", 1, 10000, 50);
  if (const json* h = r.find("hist_range"); h && !h->is_null()) {
    double lo = 0, hi = 0;
    if (!h->is_array() || h->size() != 2 || !num_value((*h)[0], any_number, lo) ||
        !num_value((*h)[1], any_number, hi))
      r.bad("hist_range", "null or [lo, hi] (two numbers)", *h);
    else if (!(lo < hi))
      r.bad("hist_range", "[lo, hi] with lo < hi", *h);
    else
      p.hist_range = std::pair<double, double>(lo, hi);
  }
  p.hist_scale = static_cast<HistScale>(read_choice(r, "hist_scale", {"linear", "log10abs"}, 0));
  p.saturation_tau = read_num(r, "saturation_tau", NumRange{0.0, 1.0, true, true}, 0.05);
  p.jacobian = read_bool(r, "jacobian", false);
  p.jacobian_samples = read_int32(r, "jacobian_samples", 1, 10000, 10);
  p.dump_tensors = read_bool(r, "dump_tensors", false);
  p.flush_subnormals = read_opt_bool(r, "flush_subnormals");
  return p;
}

const Names top_keys = {"name",  "description", "seed", "repeats", "precision", "threads",
                        "model", "data",        "loss", "train",   "probe",     "grid"};

// The shorthand forms of one model block, rewritten in place.
void normalize_model(json& m) {
  if (!m.is_object()) return;
  for (const char* key : {"activation", "init", "output_init", "recurrent_init", "input_init"}) {
    auto it = m.find(key);
    if (it != m.end() && it->is_string()) *it = json{{"name", *it}};
  }
  auto b = m.find("bias_init");
  if (b != m.end() && b->is_number()) *b = json{{"name", "constant"}, {"value", *b}};
}

}  // namespace

// ---- public ----

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

json config_normalize(const json& j) {
  json out = j;
  if (!out.is_object()) return out;
  auto m = out.find("model");
  if (m != out.end()) normalize_model(*m);
  auto d = out.find("data");
  if (d != out.end() && d->is_object()) {
    auto t = d->find("teacher");
    if (t != d->end()) normalize_model(*t);
  }
  return out;
}

Config config_from_json(const json& j_in, std::vector<ConfigIssue>& issues) {
  Config c;
  if (!j_in.is_object()) {
    issues.push_back({"", "expected a JSON object, found " + found_text(j_in)});
    return c;
  }
  const json j = config_normalize(j_in);
  const Reader r{&j, "", &issues};
  check_keys(r, top_keys);

  if (const json* n = r.find("name")) {
    const bool ok = n->is_string() &&
                    n->get_ref<const std::string&>().find_first_of("/\\") == std::string::npos &&
                    *n != "." && *n != "..";
    if (ok)
      c.name = n->get<std::string>();
    else
      r.bad("name", "a string without \"/\" (it names the folder results/<name>/)", *n);
  }
  c.description = read_string(r, "description", "");
  if (const json* s = r.find("seed")) {
    if (s->is_number_unsigned() || (s->is_number_integer() && s->get<int64_t>() >= 0))
      c.seed = s->get<uint64_t>();
    else if (s->is_number_float() && std::floor(s->get<double>()) == s->get<double>() &&
             s->get<double>() >= 0 && s->get<double>() < 18446744073709551616.0)
      c.seed = static_cast<uint64_t>(s->get<double>());
    else
      r.bad("seed", "an integer >= 0", *s);
  }
  c.repeats = read_int32(r, "repeats", 1, 100'000, 1);
  c.precision = static_cast<Precision>(read_choice(r, "precision", {"float32", "float64"}, 1));
  if (const json* t = r.find("threads")) {
    int64_t n = 0;
    if (t->is_string() && *t == "auto")
      c.threads = 0;
    else if (int_value(*t, 1, 1024, n))
      c.threads = static_cast<int>(n);
    else
      r.bad("threads", "an integer in 1..1024 or \"auto\"", *t);
  }

  // The model needs the data's name (a sequence task sets T), the data needs the model's type.
  const DataFacts facts = peek_data(j);
  c.model = read_model(r.find("model"), "/model", facts, false, issues);
  c.data = read_data(r.find("data"), facts, c.model.type, issues);

  const bool data_known = facts.name.has_value();
  if (const json* l = r.find("loss")) {
    c.loss = static_cast<Loss>(read_choice(r, "loss", {"cross_entropy", "mse"}, 0));
    const bool valid = l->is_string() && (*l == "cross_entropy" || *l == "mse");
    if (valid && data_known && c.loss == Loss::cross_entropy && !data_gives_labels(c.data))
      r.add("loss", fmt::format("cross_entropy needs class labels, but data {} gives regression "
                                "targets (use \"mse\")",
                                data_text(c.data)));
    if (valid && data_known && c.loss == Loss::mse && !data_gives_targets(c.data))
      r.add("loss", fmt::format("mse needs regression targets, but data {} gives class labels "
                                "(use \"cross_entropy\")",
                                data_text(c.data)));
  } else {
    c.loss = data_gives_labels(c.data) ? Loss::cross_entropy : Loss::mse;
  }
  c.train = read_train(r.find("train"), issues);
  c.probe = read_probe(r.find("probe"), issues);
  if (c.model.type == ModelType::rnn) {
    // Per-layer quantities (docs/reference.md §4.1, §4.3): a chain's run does not compute them, so
    // asking for them is an error rather than a silently missing table.
    const Reader pr{r.find("probe"), "/probe", &issues};
    if (c.probe.histograms)
      pr.add("histograms",
             "not available for model.type \"rnn\": histograms are per layer (an mlp's); a "
             "chain's per-step view is timesteps.csv");
    if (c.probe.jacobian)
      pr.add("jacobian",
             "not available for model.type \"rnn\": the Jacobian spectra are per layer (an "
             "mlp's); a chain's per-step view is timesteps.csv");
  }
  return c;
}

json config_to_json(const Config& c) {
  json j = json::object();
  j["name"] = c.name;
  j["description"] = c.description;
  j["seed"] = c.seed;
  j["repeats"] = c.repeats;
  j["precision"] = c.precision == Precision::float32 ? "float32" : "float64";
  if (c.threads == 0)
    j["threads"] = "auto";
  else
    j["threads"] = c.threads;
  j["model"] = model_to_json(c.model, c.data, false);
  j["data"] = data_to_json(c.data);
  j["loss"] = c.loss == Loss::cross_entropy ? "cross_entropy" : "mse";

  const TrainConfig& t = c.train;
  j["train"] = {{"steps", t.steps},
                {"batch_size", t.batch_size},
                {"optimizer", "sgd"},
                {"lr", t.lr},
                {"momentum", t.momentum},
                {"clip_norm", t.clip_norm ? json(*t.clip_norm) : json(nullptr)},
                {"checkpoint_every", t.checkpoint_every}};

  const ProbeConfig& p = c.probe;
  json pj = {{"samples", p.samples},
             {"every", p.every},
             {"schedule", p.schedule == Schedule::linear ? "linear" : "log"}};
  if (p.schedule == Schedule::log) pj["per_decade"] = p.per_decade;
  pj["histograms"] = p.histograms;
  pj["bins"] = p.bins;
  pj["hist_range"] =
      p.hist_range ? json::array({p.hist_range->first, p.hist_range->second}) : json(nullptr);
  pj["hist_scale"] = p.hist_scale == HistScale::linear ? "linear" : "log10abs";
  pj["saturation_tau"] = p.saturation_tau;
  pj["jacobian"] = p.jacobian;
  pj["jacobian_samples"] = p.jacobian_samples;
  pj["dump_tensors"] = p.dump_tensors;
  pj["flush_subnormals"] = p.flush_subnormals ? json(*p.flush_subnormals) : json(nullptr);
  j["probe"] = pj;
  return j;
}

// ---- the catalog (gradlab list) ----

std::string config_catalog() {
  std::string s;
  auto line = [&](std::string_view name, std::string_view rest) {
    s += rest.empty() ? fmt::format("  {}\n", name) : fmt::format("  {:<18}{}\n", name, rest);
  };
  s += "activations (model.activation: a name, or {\"name\": ..., parameters}; default tanh)\n";
  const char* act[activation_count] = {
      "",
      "1/(1+e^-z)",
      "",
      "z/(1+|z|)",
      "atan(z)",
      "max(z, 0)",
      "min(max(z, 0), 6)",
      "slope=0.01",
      "slope=0.25 (the initial slope; learned in training)",
      "lower=1/8  upper=1/3  convention=pytorch | paper (paper: slope 1/U(3, 8))",
      "alpha=1 (>= 0)",
      "lambda=1.0507009873554805  alpha=1.6732632423543772 (fixed)",
      "beta=1 (> 0): (1/beta) log(1 + e^(beta z))",
      "z sigmoid(z)                                 alias: silu",
      "exact: z Phi(z)",
      "clip(z, -1, 1)",
      "1[z > 0], derivative 0 everywhere",
      "pieces=2 (2..64): the largest of k affine pieces"};
  for (int i = 0; i < activation_count; ++i) line(activation_names[static_cast<size_t>(i)], act[i]);
  s += "\ninitializers (model.init, output_init, recurrent_init, input_init: a name, or "
       "{\"name\": ..., parameters}; default glorot_uniform, recurrent_init orthogonal)\n"
       "  every one takes gain=1, spectral_radius (> 0) or spectral_norm (> 0)\n";
  const char* what[init_count] = {
      "U[-1/sqrt(fan_in), 1/sqrt(fan_in)]            alias: standard",
      "U[+-sqrt(6/(fan_in+fan_out))]                 aliases: xavier_uniform, normalized",
      "N(0, 2/(fan_in+fan_out))                      alias: xavier_normal",
      "N(0, 2/fan)  mode=fan_in | fan_out            alias: kaiming_normal",
      "U[+-sqrt(6/fan)]  mode=fan_in | fan_out       alias: kaiming_uniform",
      "N(0, 1/fan)  mode=fan_in | fan_out",
      "U[+-sqrt(3/fan)]  mode=fan_in | fan_out",
      "(semi-)orthogonal, from the QR of a Gaussian matrix",
      "N(0, sigma_w2/fan_in)  sigma_w2=1, or std (N(0, std^2))",
      "U[-scale, scale]  scale=0.05",
      "nonzero_per_row=15 Gaussian entries per row (std=1), rest 0",
      "the identity, for square W"};
  for (int i = 0; i < init_count; ++i) line(init_names[static_cast<size_t>(i)], what[i]);
  s += "\nbias initializers (model.bias_init: a number, or an object)\n";
  line("constant", "value=0");
  line("gaussian", "sigma_b2 (>= 0, required): b ~ N(0, sigma_b2)");
  s += "\ndatasets (data.name; every one takes test_samples=1000)\n";
  line("gaussian", "dim=100  classes=10 (cross_entropy)  outputs=10 (mse)  teacher=null");
  line("shapeset3x2", "Glorot's 32x32 shapes, 9 classes");
  line("idx", "train_images  train_labels  test_images  test_labels (MNIST-format files)");
  line("fashion_mnist", "idx preset to /usr/share/datasets/fashion-mnist/ (dataset-fashion-mnist)");
  s += "\ntasks (model.type \"rnn\"; T = data.length)\n";
  line("temporal_order", "length (required, >= 10): classify the order of two marked symbols");
  line("addition", "length (required, >= 10): add the two marked numbers (mse)");
  s += "\nlosses (loss)\n";
  line("cross_entropy", "-log softmax(y)[label], nats; needs class labels");
  line("mse", "1/2 sum_k (y_k - t_k)^2; needs regression targets");
  return s;
}

}  // namespace gl
