// Config fuzzing (docs/reference.md §7, bad input): thousands of mutated configs — from the shipped
// configs/*.json and a few inline ones; random deletions, type swaps, extreme numbers, random
// strings, deep nesting, new grid axes, and byte-level damage to the text — are fed to
// experiment_load. It must never crash, hang or throw anything but ConfigError. Of those that
// load, the runs whose cost estimate is small (under ~0.1 s) are executed, and their RunResult
// must be well-formed: status ok, diverged or failed, a reason unless ok, rows unless failed.
//
// Deterministic: a fixed seed and count (GRADLAB_FUZZ_SEED and GRADLAB_FUZZ_CASES override them,
// for longer hunts); the failure message holds the config that failed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "experiments/grid.h"
#include "experiments/run.h"
#include "harness/core/config.h"
#include "harness/core/cost.h"
#include "harness/core/rng.h"

namespace gl {
namespace {

namespace fs = std::filesystem;

constexpr double max_flops = 2e7;  // ≈ 0.1 s of work
constexpr double max_bytes = 2e8;
constexpr size_t max_runs_per_config = 2;  // the first and the last of a grid

// Small configs that reach the corners the shipped ones do not: training, float32, RNN, tasks,
// histograms, the Jacobian, tensors, checkpoints, variants.
const char* const inline_configs[] = {
    R"({ "name": "train", "model": { "depth": 3, "width": 8, "activation": "relu", "init": "he_normal" },
         "data": { "name": "gaussian", "dim": 5, "outputs": 2 }, "loss": "mse",
         "train": { "steps": 20, "batch_size": 4, "lr": 0.1, "momentum": 0.9, "clip_norm": 1.0,
                    "checkpoint_every": 5 },
         "probe": { "samples": 8, "every": 5, "histograms": true, "bins": 4 } })",
    R"({ "name": "f32", "precision": "float32", "seed": 3, "repeats": 2,
         "model": { "hidden": [6, 5, 4], "activation": { "name": "leaky_relu", "slope": 0.2 },
                    "init": { "name": "gaussian", "sigma_w2": 2.0 }, "bias_init": { "name": "gaussian", "sigma_b2": 0.05 } },
         "data": { "name": "gaussian", "dim": 4, "classes": 3 },
         "probe": { "samples": 6, "jacobian": true, "jacobian_samples": 2, "schedule": "log", "per_decade": 2 },
         "train": { "steps": 10, "batch_size": 3 } })",
    R"({ "name": "rnn", "model": { "type": "rnn", "width": 6, "length": 5, "activation": "tanh",
                                  "recurrent_init": { "name": "orthogonal", "spectral_radius": 1.1 },
                                  "inputs": "every_step", "loss_at": "every_step" },
         "data": { "name": "gaussian", "dim": 3, "classes": 2 }, "probe": { "samples": 4 } })",
    R"({ "name": "task", "model": { "type": "rnn", "width": 8, "activation": "tanh", "recurrent_init": "orthogonal" },
         "data": { "name": "addition", "length": 10 }, "loss": "mse",
         "train": { "steps": 5, "batch_size": 4 }, "probe": { "samples": 4 } })",
    R"({ "name": "variants", "model": { "depth": 2, "width": 4 }, "data": { "dim": 3 },
         "probe": { "samples": 4, "dump_tensors": true },
         "grid": { "variants": [ { "label": "a", "model": { "activation": "selu", "init": "lecun_normal" } },
                                 { "label": "b", "model": { "activation": { "name": "maxout", "pieces": 3 } } } ],
                   "model.depth": [1, 2] } })",
};

// ---- the mutations ----

struct Fuzzer {
  Rng rng;
  std::vector<std::string> keys;  // every key seen in a seed, for inserting plausible ones

  explicit Fuzzer(uint64_t seed) : rng(rng_make(seed)) {}

  size_t below(size_t n) { return static_cast<size_t>(rng_below(rng, n)); }
  bool chance(double p) { return rng_uniform(rng) < p; }

  json extreme_number() {
    static const json values[] = {0,
                                  -1,
                                  1,
                                  2,
                                  0.5,
                                  -0.0,
                                  1e5,
                                  1e7,
                                  1e9,
                                  1e20,
                                  1e308,
                                  -1e308,
                                  5e-324,
                                  2147483648,
                                  json(std::numeric_limits<int64_t>::max()),
                                  json(std::numeric_limits<uint64_t>::max()),
                                  json(std::numeric_limits<int64_t>::min()),
                                  9007199254740993.0};
    return values[below(std::size(values))];
  }

  std::string random_string() {
    static const char* const words[] = {"",
                                        "tanh",
                                        "relu",
                                        "he_normal",
                                        "glorot_uniform",
                                        "gaussian",
                                        "orthogonal",
                                        "mse",
                                        "cross_entropy",
                                        "rnn",
                                        "mlp",
                                        "float32",
                                        "float64",
                                        "auto",
                                        "log",
                                        "linear",
                                        "sgd",
                                        "idx",
                                        "shapeset3x2",
                                        "fashion_mnist",
                                        "addition",
                                        "temporal_order",
                                        "maxout",
                                        "first_step",
                                        "every_step",
                                        "last",
                                        "nan",
                                        "inf",
                                        "-inf",
                                        "null",
                                        "../../etc/passwd",
                                        "/dev/null",
                                        "\xc3\xa9\xe2\x88\x82",
                                        "a b,c=d"};
    if (chance(0.1)) return std::string(below(300), static_cast<char>('a' + below(26)));
    if (chance(0.1)) {  // random bytes, some of them control or high characters
      std::string s;
      for (size_t i = below(12); i > 0; --i) s += static_cast<char>(1 + below(254));
      return s;
    }
    return words[below(std::size(words))];
  }

  json deep(json leaf, size_t depth) {
    for (size_t i = 0; i < depth; ++i) leaf = chance(0.5) ? json::array({leaf}) : json{{"a", leaf}};
    return leaf;
  }

  json random_value(int depth = 0) {
    switch (below(depth > 2 ? 6 : 9)) {
      case 0:
        return nullptr;
      case 1:
        return chance(0.5);
      case 2:
        return extreme_number();
      case 3:
        return static_cast<int64_t>(below(40)) - 3;
      case 4:
        return rng_normal(rng) * std::pow(10.0, static_cast<double>(below(9)) - 4.0);
      case 5:
        return random_string();
      case 6: {
        json a = json::array();
        for (size_t i = below(4); i > 0; --i) a.push_back(random_value(depth + 1));
        return a;
      }
      case 7: {
        json o = json::object();
        for (size_t i = below(4); i > 0; --i)
          o[keys.empty() || chance(0.2) ? random_string() : keys[below(keys.size())]] =
              random_value(depth + 1);
        return o;
      }
      default:
        return deep(random_value(depth + 1), 1 + below(200));
    }
  }

  static void paths(const json& j, const json::json_pointer& p,
                    std::vector<json::json_pointer>& out) {
    out.push_back(p);
    if (j.is_object())
      for (const auto& [k, v] : j.items()) paths(v, p / k, out);
    else if (j.is_array())
      for (size_t i = 0; i < j.size(); ++i) paths(j[i], p / i, out);
  }

  void learn_keys(const json& j) {
    if (j.is_object())
      for (const auto& [k, v] : j.items()) {
        keys.push_back(k);
        learn_keys(v);
      }
    else if (j.is_array())
      for (const auto& v : j) learn_keys(v);
  }

  // One structural mutation somewhere in the tree.
  void mutate(json& root) {
    std::vector<json::json_pointer> all;
    paths(root, json::json_pointer(), all);
    const json::json_pointer p = all[below(all.size())];
    json& node = root[p];
    switch (below(7)) {
      case 0:  // delete the node
        if (!p.empty()) {
          json& parent = root[p.parent_pointer()];
          if (parent.is_object())
            parent.erase(p.back());
          else
            parent.erase(std::stoul(p.back()));
        }
        break;
      case 1:
        node = random_value();
        break;  // type swap
      case 2:
        node = extreme_number();
        break;  // extreme numbers
      case 3:
        node = random_string();
        break;
      case 4:  // a new key, known or not
        if (node.is_object())
          node[keys.empty() || chance(0.3) ? random_string() : keys[below(keys.size())]] =
              random_value();
        break;
      case 5:
        node = deep(node, 1 + below(chance(0.1) ? 2000 : 50));
        break;
      default: {  // a new grid axis over some path of the config
        std::vector<json::json_pointer> leaves;
        paths(root, json::json_pointer(), leaves);
        std::string axis = leaves[below(leaves.size())].to_string();
        std::replace(axis.begin(), axis.end(), '/', '.');
        if (!axis.empty()) axis.erase(0, 1);
        json values = json::array();
        for (size_t i = below(4); i > 0; --i)
          values.push_back(chance(0.5) ? random_value() : extreme_number());
        if (!root.is_object()) break;
        if (!root["grid"].is_object()) root["grid"] = json::object();
        root["grid"][axis.empty() ? random_string() : axis] = values;
      }
    }
  }

  // Damage to the text itself: truncation, deletions, stray tokens, flipped bytes.
  void mutate_text(std::string& s) {
    static const char* const tokens[] = {"{",    "}",       "[",    "]",  ",",     ":", "\"",
                                         "//",   "/*",      "*/",   "\n", "1e999", "-", "NaN",
                                         "true", "\\u0000", "\xff", "\\", "0x10"};
    if (s.empty()) return;
    switch (below(4)) {
      case 0:
        s.resize(below(s.size()));
        break;
      case 1:
        s.erase(below(s.size()), 1 + below(10));
        break;
      case 2:
        s.insert(below(s.size() + 1), tokens[below(std::size(tokens))]);
        break;
      default:
        s[below(s.size())] = static_cast<char>(32 + below(95));
    }
  }
};

// ---- checking one result ----

// Empty when res is well-formed; else what is wrong. Rows: an MLP's per layer, an RNN's per
// time step, and both per probe step.
std::string result_problem(const RunSpec& r, const RunResult& res) {
  const std::string& st = res.status;
  if (st != "ok" && st != "diverged" && st != "failed") return "status \"" + st + "\"";
  if (st != "ok" && res.reason.empty()) return "status " + st + " without a reason";
  if (!res.summary.is_object() || res.summary.value("status", "") != st)
    return "summary.status differs";
  if (!res.summary.contains("provenance")) return "summary without provenance";
  const bool rnn = r.config.model.type == ModelType::rnn;
  if (st != "failed" && ((rnn ? res.timesteps.empty() : res.layers.empty()) || res.steps.empty()))
    return "no rows for a " + st + " run";
  return "";
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

TEST(Fuzz, MutatedConfigsLoadOrFailCleanlyAndSmallRunsAreWellFormed) {
  const uint64_t seed = std::stoull(env_or("GRADLAB_FUZZ_SEED", "20240601"));
  const size_t cases = std::stoull(env_or("GRADLAB_FUZZ_CASES", "5000"));
  const fs::path dir = fs::temp_directory_path() / fmt::format("gradlab_fuzz_{}", ::getpid());
  fs::create_directories(dir);

  // The seeds: every shipped config and the inline ones, as JSON trees.
  Fuzzer fz(seed);
  std::vector<json> seeds;
  for (const auto& f : fs::recursive_directory_iterator(fs::path(GRADLAB_TEST_SOURCE) / "configs"))
    if (f.path().extension() == ".json") seeds.push_back(config_read_file(f.path().string()));
  for (const char* text : inline_configs) seeds.push_back(config_parse(text, "inline"));
  ASSERT_GE(seeds.size(), 6u);
  for (const json& s : seeds) fz.learn_keys(s);

  size_t loaded = 0, rejected = 0, ran = 0;
  std::map<std::string, size_t> statuses;
  double slowest_s = 0;
  std::string slowest;
  for (size_t i = 0; i < cases; ++i) {
    json j = seeds[fz.below(seeds.size())];
    for (size_t m = fz.chance(0.6) ? 1 : 2 + fz.below(3); m > 0; --m) fz.mutate(j);
    std::string text = j.dump(fz.chance(0.5) ? 2 : -1, ' ', false, json::error_handler_t::replace);
    if (fz.chance(0.15)) fz.mutate_text(text);
    const std::string path = (dir / fmt::format("case{}.json", i)).string();
    std::ofstream(path, std::ios::binary) << text;
    const std::string shown = text.substr(0, 1500);

    const auto t0 = std::chrono::steady_clock::now();
    Experiment e;
    try {
      e = experiment_load(path, {}, {});
    } catch (const ConfigError& err) {
      ++rejected;
      EXPECT_FALSE(err.lines.empty()) << "case " << i << ": a ConfigError without lines\n" << shown;
      fs::remove(path);
      continue;
    } catch (const std::exception& ex) {
      ADD_FAILURE() << "case " << i << ": experiment_load threw " << typeid(ex).name() << ": "
                    << ex.what() << "\n"
                    << shown;
      continue;
    } catch (...) {
      ADD_FAILURE() << "case " << i << ": experiment_load threw a non-exception\n" << shown;
      continue;
    }
    const double load_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (load_s > slowest_s) slowest_s = load_s, slowest = shown;
    ++loaded;
    EXPECT_FALSE(e.runs.empty()) << "case " << i << ": loaded with no runs\n" << shown;

    // Run the first and the last run when they are cheap.
    std::vector<const RunSpec*> picks;
    if (!e.runs.empty()) picks.push_back(&e.runs.front());
    if (e.runs.size() > 1 && max_runs_per_config > 1) picks.push_back(&e.runs.back());
    for (const RunSpec* r : picks) {
      const RunCost cost = run_cost(r->config);
      if (!(cost.flops < max_flops) || !(cost.bytes < max_bytes)) continue;
      const std::string run_dir = (dir / fmt::format("run{}", i)).string();
      fs::create_directories(run_dir);
      RunResult res;
      try {
        res = run_execute(*r, run_dir);
      } catch (const std::exception& ex) {
        ADD_FAILURE() << "case " << i << ", run " << r->id << ": run_execute threw " << ex.what()
                      << "\n"
                      << shown;
        continue;
      }
      fs::remove_all(run_dir);
      ++ran;
      ++statuses[res.status];
      const std::string problem = result_problem(*r, res);
      EXPECT_EQ(problem, "") << "case " << i << ", run " << r->id << " (" << res.status << ": "
                             << res.reason << ")\n"
                             << shown;
    }
    fs::remove(path);
  }
  fs::remove_all(dir);

  std::string by_status;
  for (const auto& [s, n] : statuses) by_status += fmt::format(" {} {}", s, n);
  fmt::print(
      "fuzz: {} configs: {} rejected with ConfigError, {} loaded; {} runs executed:{}; "
      "slowest load {:.3f} s\n",
      cases, rejected, loaded, ran, by_status, slowest_s);
  EXPECT_LT(slowest_s, 10.0) << "a config took long to load:\n" << slowest;
  EXPECT_GT(loaded, cases / 50)
      << "the mutations reject nearly everything: the fuzz explores too little";
  EXPECT_GT(ran, 0u);
}

}  // namespace
}  // namespace gl
