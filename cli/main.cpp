// gradlab: the command line (docs/reference.md §2). Exit status: 0 ok, 1 some run failed or
// diverged (or collect found runs missing), 2 usage or config error, 3 environment error.
#include <unistd.h>

#include <fmt/format.h>
#include <sys/wait.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "cli/catalog.h"
#include "cli/commands.h"
#include "cli/theory_cmd.h"
#include "experiments/grid.h"
#include "experiments/sweep.h"
#include "harness/core/build_info.h"
#include "harness/core/config.h"

namespace fs = std::filesystem;
using namespace gl;

// --shard K/N: two decimal numbers with 0 <= K < N (UsageError otherwise, before anything runs).
static void parse_shard(const std::string& text, int& k, int& n) {
  const auto bad = [&] {
    return UsageError(
        fmt::format("--shard {}: expected K/N with 0 <= K < N, e.g. --shard 0/4", text));
  };
  const size_t slash = text.find('/');
  if (slash == std::string::npos) throw bad();
  const auto number = [&](const std::string& s) {
    const auto digit = [](unsigned char c) { return std::isdigit(c) != 0; };
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), digit)) throw bad();
    return std::stoi(s);
  };
  k = number(text.substr(0, slash));
  n = number(text.substr(slash + 1));
  if (n < 1 || k >= n) throw bad();
}

int main(int argc, char** argv) {
  CLI::App app{"gradlab: measure vanishing and exploding gradients, layer by layer", "gradlab"};
  app.set_version_flag("--version", std::string("gradlab ") + build_info.version);
  app.require_subcommand(1);

  std::string config, out, shard, dir, format = "png", data_name;
  std::vector<std::string> sets, onlys;
  int jobs = 0;
  bool force = false, quiet = false, as_json = false;
  int64_t data_n = 16;
  uint64_t data_seed = 0;

  // The config positional and its --set overrides, shared by run, validate and theory.
  const auto add_config = [&](CLI::App* cmd, const char* set_help) {
    cmd->add_option("config", config, "experiment config (JSON)")->required();
    cmd->add_option("--set", sets, set_help);
  };

  CLI::App* run =
      app.add_subcommand("run", "run an experiment (every grid point) into its result folder");
  add_config(run, "KEY=VALUE: override a config key (dotted path; VALUE is JSON or a string)");
  run->add_option("--out", out, "result folder (default results/<name>)");
  run->add_option("--jobs", jobs, "runs at once (default: the CPUs this process may use)")
      ->check(CLI::Range(1, 4096));
  run->add_option("--shard", shard, "K/N: run only the runs with index mod N == K");
  run->add_option("--only", onlys, "KEY=VALUE: run only the grid points whose axis KEY has VALUE");
  run->add_flag("--force", force, "rerun complete runs; replace a foreign manifest");
  run->add_flag("--quiet", quiet, "print errors only");

  CLI::App* validate = app.add_subcommand("validate", "print the resolved config, or every error");
  add_config(validate, "KEY=VALUE override");
  validate->add_flag("--json", as_json, "machine-readable output");

  CLI::App* theory =
      app.add_subcommand("theory", "mean-field predictions for a config (no network is built)");
  add_config(theory, "KEY=VALUE override");
  theory->add_option("--only", onlys,
                     "KEY=VALUE: only the grid points whose axis KEY has VALUE (as for run)");
  theory->add_option("--out", out, "also write theory.csv and theory.json here");
  theory->add_flag("--json", as_json, "machine-readable output");

  CLI::App* collect =
      app.add_subcommand("collect", "rebuild the combined tables of a result folder");
  collect->add_option("dir", dir, "result folder")->required();
  collect->add_flag("--quiet", quiet, "report only missing or failed runs");

  CLI::App* plot = app.add_subcommand("plot", "figures and report.html for a result folder");
  plot->add_option("dir", dir, "result folder")->required();
  plot->add_option("--format", format, "png or svg")->check(CLI::IsMember({"png", "svg"}));

  CLI::App* data =
      app.add_subcommand("data", "write samples of a dataset: x.npy, y.npy, preview.png");
  data->add_option("name", data_name, "dataset name")->required();
  data->add_option("--out", out, "output folder")->required();
  data->add_option("--n", data_n, "number of samples")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  data->add_option("--seed", data_seed, "seed");

  app.add_subcommand("list",
                     "activations, initializers, datasets and tasks, with their parameters");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    if (*run) {
      SweepOptions o;
      o.out = out;
      o.jobs = jobs;
      o.force = force;
      o.quiet = quiet;
      if (!shard.empty()) parse_shard(shard, o.shard_k, o.shard_n);
      const Experiment e = experiment_load(resolve_config_path(config), sets, onlys);
      return sweep_run(e, o);
    }
    if (*validate) return validate_command(resolve_config_path(config), sets, as_json);
    if (*theory) return theory_command(resolve_config_path(config), sets, onlys, out, as_json);
    if (*collect) return collect_dir(dir, quiet);
    if (*plot) return plot_command(dir, format);
    if (*data) return data_command(data_name, out, data_n, data_seed);
    fmt::print("{}", catalog_text());
    return 0;
  } catch (const ConfigError& e) {
    for (const auto& line : e.lines) fmt::print(stderr, "{}\n", line);
    return 2;
  } catch (const UsageError& e) {
    fmt::print(stderr, "gradlab: {}\n", e.what());
    return 2;
  } catch (const EnvError& e) {
    fmt::print(stderr, "gradlab: {}\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    fmt::print(stderr, "gradlab: error: {}\n", e.what());
    return 3;
  }
}
