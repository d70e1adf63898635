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
#include "harness/data/data.h"
#include "harness/measure/theory.h"

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

// ---- theory ----

// σ_w², σ_b² per layer and q0 for one run, as a run would compute them (data only, no network).
static TheoryInput theory_input_of(const RunSpec& r) {
  const Config& c = r.config;
  Dataset<double> data = dataset_make<double>(c, r.data_seed);
  Mat<double> px;
  Targets<double> pt;
  dataset_sample(data, Split::probe, c.probe.samples, px, pt);
  TheoryInput in;
  in.act = c.model.activation;
  Index fan_in = data.info.inputs;
  const size_t L = c.model.hidden.size();
  for (size_t l = 0; l <= L; ++l) {
    const Index fan_out = l < L ? c.model.hidden[l] : data.info.outputs;
    in.sigma_w2.push_back(
        init_sigma_w2(l < L ? c.model.init : c.model.output_init, fan_in, fan_out));
    in.sigma_b2.push_back(bias_sigma_b2(c.model.bias_init));
    fan_in = fan_out;
  }
  in.q0 = px.squaredNorm() / static_cast<double>(px.size());
  return in;
}

int theory_command(const std::string& path, const std::vector<std::string>& sets,
                   const std::string& out, bool as_json) {
  const Experiment e = experiment_load(path, sets, {});
  std::string csv = "run";
  for (const GridAxis& a : e.axes) csv += "," + csv_cell(a.name);
  csv += ",repeat,seed,layer,q,chi\n";
  json all = json::array();
  for (const RunSpec& r : e.runs) {
    const Config& c = r.config;
    json j = {{"run", r.id}};
    if (c.model.type != ModelType::mlp || !theory_applies(c.model.activation)) {
      j["applies"] = false;
      j["reason"] =
          c.model.type != ModelType::mlp ? "mean-field theory here is for MLPs" : "not for maxout";
      all.push_back(j);
      continue;
    }
    const TheoryInput in = theory_input_of(r);
    // The fixed point uses the hidden layers' (σ_w², σ_b²): layer 2's when there is one (layer 1
    // and the output layer may have other fan-ins).
    const size_t k = in.sigma_w2.size() > 2 ? 1 : 0;
    if (!std::all_of(in.sigma_w2.begin(), in.sigma_w2.end(),
                     [](double v) { return std::isfinite(v); })) {
      j["applies"] = false;
      j["reason"] = "the init is not i.i.d. (sparse, identity or spectrally rescaled)";
      all.push_back(j);
      continue;
    }
    const TheoryLayers t = theory_layers(in);
    const TheoryFixed f = theory_fixed(c.model.activation, in.sigma_w2[k], in.sigma_b2[k], in.q0);
    j["applies"] = true;
    j["sigma_w2"] = json_num(in.sigma_w2[k]);
    j["sigma_b2"] = json_num(in.sigma_b2[k]);
    j["q0"] = json_num(in.q0);
    j["q_star"] = json_num(f.q_star);
    j["chi1"] = json_num(f.chi1);
    j["xi_q"] = json_num(f.xi_q);
    j["xi_c"] = json_num(f.xi_c);
    j["xi_grad"] = json_num(f.xi_grad);
    j["sigma_w2_crit"] = json_num(f.sigma_w2_crit);
    j["weight_s1"] = json_num(theory_weight_s1(c.model.init.kind));
    json layers = json::array();
    for (size_t l = 0; l < t.q.size(); ++l) {
      const bool hidden = l < t.chi.size();
      const double chi = hidden ? t.chi[l] : nan_v;
      json row = {{"layer", l + 1},
                  {"q", json_num(t.q[l])},
                  {"chi", hidden ? json_num(chi) : json(nullptr)}};
      // μ₁, μ₂ of φ′ at q_l (theory_dphi_moment), for the Jacobian-spectrum prediction.
      for (int m : {1, 2})
        row[m == 1 ? "mu1" : "mu2"] =
            hidden ? json_num(theory_dphi_moment(c.model.activation, t.q[l], m)) : json(nullptr);
      layers.push_back(row);
      csv += csv_cell(r.id);
      for (const GridAxis& a : e.axes) csv += "," + csv_cell(axis_value_text(r.point.at(a.name)));
      csv += fmt::format(",{},{},{},{},{}\n", r.repeat, r.seed, l + 1,
                         num_text(t.q[l], Precision::float64),
                         l < t.chi.size() ? num_text(chi, Precision::float64) : "");
    }
    j["layers"] = layers;
    if (!as_json) {
      fmt::print("== {}  (activation {}, sigma_w2 {:.6g}, sigma_b2 {:.6g}, q0 {:.6g})\n", r.id,
                 activation_name(c.model.activation.kind), in.sigma_w2[k], in.sigma_b2[k], in.q0);
      fmt::print("{}{}\n", theory_table(t), theory_fixed_text(f));
    }
    all.push_back(j);
  }
  const json doc = {{"name", e.name}, {"hash", e.hash}, {"runs", all}};
  if (as_json) fmt::print("{}\n", doc.dump(2));
  if (!out.empty()) {
    fs::create_directories(out);
    file_write_atomic(out + "/theory.csv", csv);
    file_write_atomic(out + "/theory.json", doc.dump(2) + "\n");
    if (!as_json) fmt::print("wrote {0}/theory.csv and {0}/theory.json\n", out);
  }
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
