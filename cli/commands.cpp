#include "cli/commands.h"

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "experiments/grid.h"
#include "harness/core/build_info.h"
#include "harness/core/io.h"

namespace gl {

namespace fs = std::filesystem;

static fs::path exe_path() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p;
}

static std::string exe_dir() { return exe_path().parent_path().string(); }

// Installed data: <prefix>/share/gradlab, found next to the binary (<prefix>/bin) or at the
// configured install prefix.
static std::vector<std::string> data_dirs() {
  std::vector<std::string> d;
  const std::string e = exe_dir();
  if (!e.empty())
    d.push_back((fs::path(e) / ".." / "share" / "gradlab").lexically_normal().string());
  d.emplace_back(build_info.datadir);
  return d;
}

// A bare name (quickstart.json, he2015/init_depth.json) is looked up in the installed
// share/gradlab, then in the source checkout this binary was built from, then in the configured
// install prefix.
std::string resolve_config_path(const std::string& path) {
  if (fs::exists(path) || fs::path(path).is_absolute()) return path;
  std::vector<std::string> dirs = data_dirs();
  dirs.insert(dirs.end() - 1, build_info.source_dir);  // before the install prefix
  for (const std::string& d : dirs) {
    for (const fs::path& p : {fs::path(d) / path, fs::path(d) / "configs" / path})
      if (fs::is_regular_file(p)) return p.string();
  }
  return path;  // let the reader report it missing, by the name the user gave
}

std::string resolve_python_dir() {
  const fs::path src = fs::path(build_info.source_dir) / "python";
  if (fs::exists(src / "gradlab")) return src.string();
  for (const std::string& d : data_dirs()) {
    const fs::path p = fs::path(d) / "python";
    if (fs::exists(p / "gradlab")) return p.string();
  }
  throw EnvError(
      fmt::format("cannot find the Python package gradlab (looked in {}/python and the installed "
                  "share/gradlab/python)",
                  build_info.source_dir));
}

int validate_command(const std::string& path, const std::vector<std::string>& sets, bool as_json) {
  const Experiment e = experiment_load(path, sets, {});
  json j = experiment_to_json(e);
  j["resolved"] = e.runs.front().resolved;
  if (as_json) {
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("{}: ok, {} run{}", path, e.runs.size(), e.runs.size() == 1 ? "" : "s");
  if (!e.axes.empty()) {
    fmt::print(" over");
    for (const GridAxis& a : e.axes) fmt::print(" {} ({})", a.name, a.values.size());
  }
  fmt::print("\nresolved config of run {}:\n{}\n", e.runs.front().id,
             e.runs.front().resolved.dump(2));
  return 0;
}

// Runs `python3 -m gradlab.plot DIR --format F` with Debian's python3, the package on PYTHONPATH
// (before the user's) and this binary in GRADLAB_EXE (the figures ask `gradlab theory` for the
// moments of φ′ they need).
int plot_command(const std::string& dir, const std::string& format) {
  const std::string package = resolve_python_dir();
  const char* python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  const char* user_path = std::getenv("PYTHONPATH");
  const std::string path = user_path && *user_path ? package + ":" + user_path : package;
  setenv("PYTHONPATH", path.c_str(), 1);  // this process only waits for the child
  if (!exe_path().empty()) setenv("GRADLAB_EXE", exe_path().c_str(), 1);
  const pid_t pid = fork();
  if (pid < 0) throw EnvError("cannot start python3");
  if (pid == 0) {
    execlp(python, python, "-m", "gradlab.plot", dir.c_str(), "--format", format.c_str(),
           static_cast<char*>(nullptr));
    fmt::print(stderr,
               "gradlab plot: cannot run {}: needs python3 (apt-get install python3 "
               "python3-numpy python3-matplotlib)\n",
               python);
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

}  // namespace gl
