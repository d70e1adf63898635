#include "harness/core/config_sets.h"

#include <fmt/format.h>

#include <algorithm>

namespace gl {

namespace {

// ---- closed-set members: {"name": kind, params...} ----

// The parameters of every member of a set, in table order: for "not a parameter of" and
// suggestions.
const Names all_activation_params = set_param_names<ActivationSpec>(activation_table);
const Names all_init_params =
    set_param_names<InitSpec>(init_table, init_params_first, init_params_last);
const Names all_bias_params = set_param_names<BiasSpec>(bias_table);

// A set's names and aliases: the candidates of "did you mean".
template <class Row, size_t N>
Names names_and_aliases(const Row (&rows)[N]) {
  Names n;
  for (const Row& row : rows) {
    n.push_back(row.name);
    if constexpr (requires { row.aliases; })
      for (auto alias : row.aliases) n.push_back(alias);
  }
  return n;
}

// How an error names a set: "expected <not_object>, found ...", "unknown <noun> ...; expected one
// of <names>".
struct SetWords {
  std::string not_object;
  std::string_view noun;
  std::string names;
};

// Reads {"name": kind, params...} into s, whose kind is the default for an object without a
// name (so that "model.activation.slope" grid axes work); then the params of the kind: `first`,
// the row's own, `last`.
template <class Spec, class Row, size_t N>
Spec member_read(const json& v, const std::string& path, const Row (&table)[N], Spec s,
                 const SetWords& words, const Names& all, Issues& issues, Params<Spec> first = {},
                 Params<Spec> last = {}) {
  if (!v.is_object()) {
    issues.push_back(
        {path, fmt::format("expected {}, found {}", words.not_object, config_value_text(v))});
    return s;
  }
  const Reader r{&v, path, &issues};
  if (const json* name = r.find("name")) {
    const auto kind = name->is_string() ? kind_from_name(table, name->get_ref<const std::string&>())
                                        : std::nullopt;
    if (!kind) {
      // Reported at the object itself, as the user may have written the shorthand.
      issues.push_back(
          {path,
           fmt::format("unknown {} {}{}; expected one of {}", words.noun, config_value_text(*name),
                       did_you_mean(*name, names_and_aliases(table)), words.names)});
      return s;
    }
    s.kind = *kind;
  }
  const Row& row = table[static_cast<size_t>(s.kind)];
  check_param_keys(r, param_names<Spec>({first, row.params, last}), all, row.name);
  for (Params<Spec> group : {first, row.params, last}) params_read(r, group, s);
  return s;
}

template <class Spec, class Row, size_t N>
json member_write(const Row (&table)[N], const Spec& s, Params<Spec> first = {},
                  Params<Spec> last = {}) {
  const Row& row = table[static_cast<size_t>(s.kind)];
  json j = {{"name", row.name}};
  for (Params<Spec> group : {first, row.params, last}) params_write(j, group, s);
  return j;
}

}  // namespace

ActivationSpec read_activation(const json& v, const std::string& path, Issues& issues) {
  static const SetWords words{"an activation name or an object {\"name\": ...}", "activation",
                              activation_names_list()};
  return member_read(v, path, activation_table, ActivationSpec{}, words, all_activation_params,
                     issues);
}

json activation_to_json(const ActivationSpec& a) { return member_write(activation_table, a); }

InitSpec read_init(const json& v, const std::string& path, Init def, Issues& issues) {
  static const SetWords words{"an initializer name or an object {\"name\": ...}", "initializer",
                              init_names_list()};
  InitSpec s;
  s.kind = def;
  return member_read(v, path, init_table, s, words, all_init_params, issues,
                     Params<InitSpec>{init_params_first}, Params<InitSpec>{init_params_last});
}

json init_to_json(const InitSpec& s) {
  return member_write(init_table, s, Params<InitSpec>{init_params_first},
                      Params<InitSpec>{init_params_last});
}

BiasSpec read_bias(const json& v, const std::string& path, Issues& issues) {
  static const SetWords words = [] {
    std::string alts;
    for (const BiasInfo& b : bias_table)
      alts += fmt::format("{}\"{}\"", alts.empty() ? "" : " | ", b.name);
    return SetWords{fmt::format("a number or an object {{\"name\": {}, ...}}", alts),
                    "bias initializer", names_text(table_names(bias_table))};
  }();
  return member_read(v, path, bias_table, BiasSpec{}, words, all_bias_params, issues);
}

json bias_to_json(const BiasSpec& b) { return member_write(bias_table, b); }

}  // namespace gl
