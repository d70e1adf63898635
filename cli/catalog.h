// The text of `gradlab list`: every closed set a config names (activations, initializers, bias
// initializers, datasets, tasks, losses) with its parameters and defaults, from their tables.
#pragma once

#include <string>

namespace gl {

std::string catalog_text();

}  // namespace gl
