// Shared by the config test suites: the lines a user sees for a config text, and a valid one.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness/core/config.h"

namespace gl {

// Every line a user would see for this text, or none.
inline std::vector<std::string> problems(const std::string& text) {
  try {
    const json j = config_parse(text, "x.json");
    std::vector<ConfigIssue> issues;
    config_from_json(j, issues);
    std::vector<std::string> lines;
    for (const auto& is : issues) lines.push_back(config_issue_format("x.json", is));
    return lines;
  } catch (const ConfigError& e) {
    return e.lines;
  }
}

inline Config valid(const std::string& text) {
  std::vector<ConfigIssue> issues;
  Config c = config_from_json(config_parse(text, "x.json"), issues);
  for (const auto& is : issues) ADD_FAILURE() << config_issue_format("x.json", is);
  return c;
}

inline std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

// An expected line matches exactly, or as a prefix when it ends with "...".
inline bool line_matches(const std::string& expected, const std::string& line) {
  if (expected.size() >= 3 && expected.compare(expected.size() - 3, 3, "...") == 0)
    return line.rfind(expected.substr(0, expected.size() - 3), 0) == 0;
  return expected == line;
}

inline const char* const M = R"("model": {"depth": 2, "width": 3})";  // a valid mlp block

inline std::string with_model(const std::string& rest) {
  return "{" + std::string(M) + (rest.empty() ? "" : ", " + rest) + "}";
}

}  // namespace gl
