// Reading the gated chains' keys (docs/reference.md §3 "LSTM and GRU").
#include "harness/core/config_gated.h"

#include <fmt/format.h>

#include "harness/core/config_sets.h"

namespace gl {

const Names gated_keys = {"forget_bias", "input_init_gates", "recurrent_init_gates"};

std::span<const std::string_view> gate_names_of(CellKind k) {
  if (k == CellKind::lstm) return lstm_gate_names;
  return gru_gate_names;
}

// An object keyed by gate name, each value an init (its name defaulting to the shared key's).
static void read_gate_inits(const Reader& r, std::string_view key, CellKind kind,
                            const InitSpec& shared,
                            std::array<std::optional<InitSpec>, max_gates>& out) {
  const json* v = r.find(key);
  if (!v) return;
  const std::span<const std::string_view> names = gate_names_of(kind);
  const std::string type = std::string(cell_kind_names[static_cast<size_t>(kind)]);
  if (!v->is_object()) {
    r.bad(key, fmt::format("an object keyed by gate name ({}: gates {})", type, names_text(names)),
          *v);
    return;
  }
  const std::string path = at(r.path, key);
  for (const auto& [gate, init] : v->items()) {
    size_t k = 0;
    while (k < names.size() && names[k] != gate) ++k;
    if (k == names.size()) {
      r.issues->push_back(
          {at(path, gate),
           fmt::format("unknown gate; model.type \"{}\" has gates {}", type, names_text(names))});
      continue;
    }
    out[k] = read_init(init, at(path, gate), shared.kind, *r.issues);
  }
}

void read_gated_model(const Reader& r, ModelConfig& m) {
  const CellKind kind = cell_kind_of(m.type);
  const std::string type(enum_name(model_type_names, m.type));
  if (m.activation.kind != Activation::tanh)
    r.add("activation",
          fmt::format("model.type \"{}\" takes only \"tanh\" (or no activation): its gates are "
                      "σ by definition and its candidate{} nonlinearity is tanh; other "
                      "activations are for model.type \"rnn\"",
                      type, kind == CellKind::lstm ? " and cell" : ""));
  m.activation = ActivationSpec{};  // tanh
  if (kind == CellKind::lstm) {
    m.forget_bias = read_num(r, "forget_bias", any_number, 1.0);
  } else {
    m.forget_bias = read_num(r, "forget_bias", any_number, 0.0);
    if (r.has("forget_bias") && m.forget_bias != 0)
      r.add("forget_bias",
            "only for model.type \"lstm\" (its forget gate); a GRU has none (0 or absent)");
    m.forget_bias = 0;
  }
  read_gate_inits(r, "input_init_gates", kind, m.input_init, m.input_init_gates);
  read_gate_inits(r, "recurrent_init_gates", kind, m.recurrent_init, m.recurrent_init_gates);
}

void gated_model_to_json(const ModelConfig& m, json& j) {
  const std::span<const std::string_view> names = gate_names_of(cell_kind_of(m.type));
  const auto gates = [&](const std::array<std::optional<InitSpec>, max_gates>& g) {
    json o = json::object();
    for (size_t k = 0; k < names.size(); ++k)
      if (g[k]) o[std::string(names[k])] = init_to_json(*g[k]);
    return o;
  };
  j["forget_bias"] = m.forget_bias;
  j["input_init_gates"] = gates(m.input_init_gates);
  j["recurrent_init_gates"] = gates(m.recurrent_init_gates);
}

void normalize_gate_inits(json& model) {
  for (const char* key : {"input_init_gates", "recurrent_init_gates"}) {
    auto g = model.find(key);
    if (g == model.end() || !g->is_object()) continue;
    for (auto& [gate, init] : g->items())
      if (init.is_string()) init = json{{"name", init}};
  }
}

}  // namespace gl
