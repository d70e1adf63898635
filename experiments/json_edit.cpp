#include "experiments/json_edit.h"

#include <fmt/format.h>

#include <algorithm>

namespace gl::jdoc {

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t dot = s.find('.', start);
    out.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) return out;
    start = dot + 1;
  }
}

bool has_empty(const std::vector<std::string>& comps) {
  for (const auto& c : comps)
    if (c.empty()) return true;
  return false;
}

std::string join(const std::vector<std::string>& v, std::string_view sep, size_t n) {
  std::string s;
  for (size_t i = 0; i < n && i < v.size(); ++i) s += (i ? std::string(sep) : "") + v[i];
  return s;
}

std::string pointer_of(const std::vector<std::string>& comps) {
  std::string s;
  for (const auto& c : comps) s += "/" + pointer_escape(c);
  return s;
}

bool under(const std::string& p, const std::string& a) {
  return p == a || (p.size() > a.size() && p.compare(0, a.size(), a) == 0 && p[a.size()] == '/');
}

bool set_path(json& root, const std::vector<std::string>& comps, const json& value,
              std::string& err) {
  json* cur = &root;
  for (size_t i = 0; i + 1 < comps.size(); ++i) {
    json& next = (*cur)[comps[i]];
    if (next.is_null()) next = json::object();
    if (!next.is_object()) {
      err =
          fmt::format("{} is {}, not an object", join(comps, ".", i + 1), config_value_text(next));
      return false;
    }
    cur = &next;
  }
  (*cur)[comps.back()] = value;
  return true;
}

// (ordered_json's erase moves the later values without updating their parent
// pointers, which JSON_DIAGNOSTICS asserts on in nlohmann 3.11.2: build a new object instead.)
json without(const json& obj, const std::string& key) {
  json out = json::object();
  for (const auto& [k, v] : obj.items())
    if (k != key) out[k] = v;
  return out;
}

void deep_merge(json& dst, const json& src) {
  for (const auto& [k, v] : src.items()) {
    auto it = dst.find(k);
    if (v.is_null()) {
      if (it != dst.end()) dst = without(dst, k);
    } else if (v.is_object() && it != dst.end() && it->is_object()) {
      deep_merge(*it, v);
    } else {
      dst[k] = v;
    }
  }
}

void leaves_of(const json& v, const std::string& prefix, std::vector<std::string>& out) {
  for (const auto& [k, child] : v.items()) {
    const std::string p = prefix + "/" + pointer_escape(k);
    if (child.is_object() && !child.empty())
      leaves_of(child, p, out);
    else
      out.push_back(p);
  }
}

// Sorted keys at every level, except the order of the grid's axes (it orders runs and ids).
json canonical(const json& v, bool keep_order) {
  if (v.is_object()) {
    std::vector<std::string> keys;
    for (const auto& [k, child] : v.items()) keys.push_back(k);
    if (!keep_order) std::sort(keys.begin(), keys.end());
    json o = json::object();
    for (const auto& k : keys) o[k] = canonical(v.at(k), false);
    return o;
  }
  if (v.is_array()) {
    json a = json::array();
    for (const auto& e : v) a.push_back(canonical(e, false));
    return a;
  }
  return v;
}

json canonical_input(const json& input) {
  std::vector<std::string> keys;
  for (const auto& [k, child] : input.items()) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  json o = json::object();
  for (const auto& k : keys) o[k] = canonical(input.at(k), k == "grid");
  return o;
}

json parse_value(const std::string& text) {
  json v = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return json(text);
  return v;
}

}  // namespace gl::jdoc
