#include "harness/core/config_sets.h"

#include <fmt/format.h>

#include <algorithm>

namespace gl {

namespace {

// ---- closed-set members: {"name": kind, params...} ----

// The parameters of every activation, in table order: for "not a parameter of" and suggestions.
const Names all_activation_params = set_param_names<ActivationSpec>(activation_table);
const Names all_init_params =
    set_param_names<InitSpec>(init_table, init_params_first, init_params_last);
const Names all_bias_params = set_param_names<BiasSpec>(bias_table);

}  // namespace

ActivationSpec read_activation(const json& v, const std::string& path, Issues& issues) {
  ActivationSpec a;
  if (!v.is_object()) {
    issues.push_back(
        {path, "expected an activation name or an object {\"name\": ...}, found " +
                   config_value_text(v)});
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
                                        config_value_text(*name), activation_names_list())});
    return a;
  }
  a.kind = *kind;
  const ActivationInfo& info = activation_info(a.kind);
  check_param_keys(r, param_names<ActivationSpec>({info.params}), all_activation_params, info.name);
  params_read(r, info.params, a);
  return a;
}

json activation_to_json(const ActivationSpec& a) {
  const ActivationInfo& info = activation_info(a.kind);
  json j = {{"name", info.name}};
  params_write(j, info.params, a);
  return j;
}

InitSpec read_init(const json& v, const std::string& path, Init def, Issues& issues) {
  InitSpec s;
  if (!v.is_object()) {
    issues.push_back({path, "expected an initializer name or an object {\"name\": ...}, found " +
                                config_value_text(v)});
    return s;
  }
  const Reader r{&v, path, &issues};
  const json* name = r.find("name");  // absent: the key's default initializer
  std::optional<Init> kind = def;
  if (name)
    kind = name->is_string() ? init_from_name(name->get_ref<const std::string&>()) : std::nullopt;
  if (!kind) {
    issues.push_back({path, fmt::format("unknown initializer {}; expected one of {}",
                                        config_value_text(*name), init_names_list())});
    return s;
  }
  s.kind = *kind;
  const InitInfo& info = init_info(s.kind);
  check_param_keys(r, param_names<InitSpec>({init_params_first, info.params, init_params_last}),
                   all_init_params, info.name);
  for (Params<InitSpec> group : {Params<InitSpec>{init_params_first}, info.params,
                                 Params<InitSpec>{init_params_last}})
    params_read(r, group, s);
  return s;
}

json init_to_json(const InitSpec& s) {
  json j = {{"name", init_name(s.kind)}};
  for (Params<InitSpec> group : {Params<InitSpec>{init_params_first}, init_info(s.kind).params,
                                 Params<InitSpec>{init_params_last}})
    params_write(j, group, s);
  return j;
}

BiasSpec read_bias(const json& v, const std::string& path, Issues& issues) {
  BiasSpec b;
  const Names names = table_names(bias_table);
  if (!v.is_object()) {
    std::string alts;
    for (auto n : names) alts += fmt::format("{}\"{}\"", alts.empty() ? "" : " | ", n);
    issues.push_back(
        {path, fmt::format("expected a number or an object {{\"name\": {}, ...}}, found {}", alts,
                           config_value_text(v))});
    return b;
  }
  const Reader r{&v, path, &issues};
  const json* name = r.find("name");  // absent: constant
  if (name) {
    const auto it = name->is_string() ? std::find(names.begin(), names.end(),
                                                  name->get_ref<const std::string&>())
                                      : names.end();
    if (it == names.end()) {
      issues.push_back({path, fmt::format("unknown bias initializer {}; expected one of {}",
                                          config_value_text(*name), names_text(names))});
      return b;
    }
    b.kind = static_cast<BiasKind>(it - names.begin());
  }
  const BiasInfo& info = bias_table[static_cast<size_t>(b.kind)];
  check_param_keys(r, param_names<BiasSpec>({info.params}), all_bias_params, info.name);
  params_read(r, info.params, b);
  return b;
}

json bias_to_json(const BiasSpec& b) {
  const BiasInfo& info = bias_table[static_cast<size_t>(b.kind)];
  json j = {{"name", info.name}};
  params_write(j, info.params, b);
  return j;
}

}  // namespace gl
