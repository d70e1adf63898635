// The gated chains' model keys (docs/reference.md §3 "LSTM and GRU"), read for model.type "lstm"
// and "gru" beside the chain keys they share with "rnn" (config.cpp).
#pragma once

#include "harness/core/config.h"
#include "harness/core/json_read.h"

namespace gl {

// Keys only a gated chain takes.
extern const Names gated_keys;
// The gate names of a cell, in its order (gated.h).
std::span<const std::string_view> gate_names_of(CellKind k);
// Checks model.activation (the gates' nonlinearities are fixed; only "tanh" is accepted) and reads
// forget_bias, input_init_gates and recurrent_init_gates into m (m.type, m.input_init and
// m.recurrent_init already read).
void read_gated_model(const Reader& r, ModelConfig& m);
void gated_model_to_json(const ModelConfig& m, json& j);
// The per-gate init objects' shorthands ("f": "orthogonal" → {"name": "orthogonal"}), in place.
void normalize_gate_inits(json& model);

}  // namespace gl
