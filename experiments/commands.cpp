#include "experiments/commands.h"

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fmt/format.h>

#include "experiments/grid.h"
#include "harness/io.h"
#include "harness/theory.h"

namespace gl {

namespace fs = std::filesystem;

static std::string exe_dir() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : p.parent_path().string();
}

// Installed data: <prefix>/share/gradlab, found next to the binary (<prefix>/bin) or at the
// configured install prefix.
static std::vector<std::string> data_dirs() {
  std::vector<std::string> d;
  const std::string e = exe_dir();
  if (!e.empty()) d.push_back((fs::path(e) / ".." / "share" / "gradlab").lexically_normal().string());
  d.emplace_back(GRADLAB_DATADIR);
  return d;
}

std::string resolve_config_path(const std::string& path) {
  if (fs::exists(path) || fs::path(path).is_absolute()) return path;
  for (const std::string& d : data_dirs()) {
    for (const fs::path& p : {fs::path(d) / path, fs::path(d) / "configs" / path})
      if (fs::exists(p)) return p.string();
  }
  return path;  // let the reader report it missing, by the name the user gave
}

std::string resolve_script_path(const std::string& name) {
  const fs::path src = fs::path(GRADLAB_SOURCE_DIR) / "scripts" / name;
  if (fs::exists(src)) return src.string();
  for (const std::string& d : data_dirs()) {
    const fs::path p = fs::path(d) / "scripts" / name;
    if (fs::exists(p)) return p.string();
  }
  throw EnvError(fmt::format("cannot find scripts/{} (looked in {} and the installed share/gradlab)",
                             name, GRADLAB_SOURCE_DIR));
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
  fmt::print("\nresolved config of run {}:\n{}\n", e.runs.front().id, e.runs.front().resolved.dump(2));
  return 0;
}

int plot_command(const std::string& dir, const std::string& format) {
  const std::string script = resolve_script_path("plot.py");
  const char* python = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  const pid_t pid = fork();
  if (pid < 0) throw EnvError("cannot start python3");
  if (pid == 0) {
    execlp(python, python, script.c_str(), dir.c_str(), "--format", format.c_str(),
           static_cast<char*>(nullptr));
    fmt::print(stderr, "gradlab plot: cannot run {}: needs python3 (apt-get install python3 "
               "python3-numpy python3-matplotlib)\n", python);
    _exit(3);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

}  // namespace gl
