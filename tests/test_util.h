// Shared by the test suites: a run of one config text (no grid), built as the sweep builds it,
// with the config's problems reported as test failures.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/run.h"
#include "harness/core/config.h"

namespace gl {

inline RunSpec run_spec_of(const std::string& text, uint64_t seed, uint64_t data_seed) {
  std::vector<ConfigIssue> issues;
  RunSpec s{};
  s.index = 0;
  s.id = "run";
  s.point = json::object();
  s.repeat = 0;
  s.seed = seed;
  s.data_seed = data_seed;
  s.config = config_from_json(json::parse(text), issues);
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
  s.resolved = config_to_json(s.config);
  return s;
}

}  // namespace gl
