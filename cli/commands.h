// The smaller subcommands of the command line: validate, plot, data (theory: theory_cmd.h); and
// where configs and the Python package are found (a source checkout, or the installed
// share/gradlab).
#pragma once

#include <string>
#include <vector>

namespace gl {

// CONFIG as given if it exists; else the same relative path under the installed share/gradlab
// (so `gradlab run configs/quickstart.json` works from anywhere after `cmake --install`).
std::string resolve_config_path(const std::string& path);
// The folder holding the Python package gradlab: python/ of the source checkout this binary was
// built from, or the installed share/gradlab/python.
std::string resolve_python_dir();

int validate_command(const std::string& path, const std::vector<std::string>& sets, bool as_json);
int plot_command(const std::string& dir, const std::string& format);
int data_command(const std::string& name, const std::string& out, int64_t n, uint64_t seed);

}  // namespace gl
