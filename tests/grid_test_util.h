// Shared by the experiment test suites (test_grid.cpp, test_grid_checks.cpp): a fixture that
// loads config texts from a temporary folder, and small helpers.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "experiments/grid.h"

#include "tests/config_test_util.h"  // join

namespace gl {

class Grid : public ::testing::Test {
 protected:
  std::filesystem::path dir;

  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = std::filesystem::temp_directory_path() /
          fmt::format("gradlab_test_grid_{}_{}", ::getpid(), info->name());
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = dir / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // The error lines of loading text as x.json (the file name stripped), or a failure.
  std::vector<std::string> errors(const std::string& text,
                                  const std::vector<std::string>& sets = {},
                                  const std::vector<std::string>& onlys = {}) {
    const std::string path = write("x.json", text);
    try {
      experiment_load(path, sets, onlys);
    } catch (const ConfigError& e) {
      std::vector<std::string> out;
      for (const auto& l : e.lines) {
        EXPECT_EQ(l.rfind(path + ":", 0), 0u) << l;
        const size_t skip = l.compare(path.size(), 2, ": ") == 0 ? 2 : 1;  // "x.json:3:1: ..."
        out.push_back(l.substr(path.size() + skip));
      }
      return out;
    }
    ADD_FAILURE() << "no error for " << text;
    return {};
  }

  Experiment load(const std::string& text, const std::vector<std::string>& sets = {},
                  const std::vector<std::string>& onlys = {}, const std::string& name = "x.json") {
    const std::string path = write(name, text);
    try {
      return experiment_load(path, sets, onlys);
    } catch (const ConfigError& e) {
      ADD_FAILURE() << e.what();
      throw;
    }
  }
};

inline std::vector<std::string> ids(const Experiment& e) {
  std::vector<std::string> v;
  for (const auto& r : e.runs) v.push_back(r.id);
  return v;
}

inline const char* const grid_base = R"("model": {"depth": 2, "width": 3}, "data": {"dim": 4})";

inline std::string cfg(const std::string& rest) {
  return "{" + std::string(grid_base) + ", " + rest + "}";
}

}  // namespace gl
