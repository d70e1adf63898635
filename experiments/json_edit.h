// What --set, grid axes and variants do to a config's JSON (docs/reference.md §3 grid): dotted
// paths, JSON pointers (RFC 6901), merge patches (RFC 7386), and the canonical form whose hash
// names an experiment. Used by experiment_load (experiments/grid.cpp).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/core/config.h"

namespace gl::jdoc {

// "model.width" → {"model", "width"}; has_empty: some component is empty ("a..b").
std::vector<std::string> split_dots(const std::string& s);
bool has_empty(const std::vector<std::string>& comps);
// The first n of v joined by sep.
std::string join(const std::vector<std::string>& v, std::string_view sep, size_t n);

// A path as a JSON pointer (its components escaped by json_read.h's pointer_escape).
using gl::pointer_escape;
std::string pointer_of(const std::vector<std::string>& comps);
// p is a or lies below it, as JSON pointers.
bool under(const std::string& p, const std::string& a);

// Set root.<comps> = value, creating missing (or null) objects along the way; false (err says
// why) when a component on the way is not an object.
bool set_path(json& root, const std::vector<std::string>& comps, const json& value,
              std::string& err);
// obj without key.
json without(const json& obj, const std::string& key);
// JSON merge patch (RFC 7386): objects merge key by key, null removes a key (so a variant can
// turn an mlp into an rnn: "depth": null), anything else replaces (a shorthand string replaces
// an object). Every key that may be null has null as its default, so removing it is the same.
void deep_merge(json& dst, const json& src);
// JSON pointers of the values a variant sets (its leaves; an empty object is a leaf).
void leaves_of(const json& v, const std::string& prefix, std::vector<std::string>& out);

// Sorted keys at every level, except the order of the grid's axes (it orders runs and ids).
json canonical(const json& v, bool keep_order);
json canonical_input(const json& input);
// A --set or --only VALUE: JSON if it parses, else the text itself.
json parse_value(const std::string& text);

}  // namespace gl::jdoc
