// Members of the model's closed sets as JSON objects {"name": kind, params...}: activations,
// initializers and bias initializers, read and written from their tables' Param rows
// (harness/nn/activations.h, harness/nn/init.h). Issues carry the object's JSON pointer.
#pragma once

#include <string>

#include "harness/core/json_read.h"
#include "harness/nn/activations.h"
#include "harness/nn/init.h"

namespace gl {

ActivationSpec read_activation(const json& v, const std::string& path, Issues& issues);
json activation_to_json(const ActivationSpec& a);
// def: the initializer when the object names none (the key's default).
InitSpec read_init(const json& v, const std::string& path, Init def, Issues& issues);
json init_to_json(const InitSpec& s);
BiasSpec read_bias(const json& v, const std::string& path, Issues& issues);
json bias_to_json(const BiasSpec& b);

}  // namespace gl
