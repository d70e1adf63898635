// Config reading: a table of bad configs with the exact lines a user sees, defaults, the
// resolved form and its round trip, aliases, comments, files.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cli/catalog.h"
#include "harness/core/config.h"
#include "tests/config_test_util.h"

namespace gl {
namespace {

TEST(Config, UnknownKeyIsAnError) {
  EXPECT_EQ(problems(with_model(R"("modle": {})")),
            std::vector<std::string>{R"(x.json: /modle: unknown key; did you mean "model"?)"});
  EXPECT_EQ(problems(R"({"model": {"depth": 2, "width": 3, "bias": 0}})"),
            std::vector<std::string>{R"(x.json: /model/bias: unknown key)"});
}

TEST(Config, EveryProblemOfAFileIsReported) {
  const auto lines = problems(R"({
    "seed": -3, "precision": "half",
    "model": {"depth": 0, "width": 3, "activation": "tahn", "init": {"name": "he_normal", "gian": 2}},
    "train": {"lr": 0, "batch_size": 1.5},
    "probe": {"bins": 0, "hist_range": [2, 1]},
    "extra": true
  })");
  ASSERT_EQ(lines.size(), 10u) << join(lines);
  EXPECT_EQ(lines[0], R"(x.json: /extra: unknown key)");
  EXPECT_EQ(lines[1], "x.json: /seed: expected an integer >= 0, found -3");
  EXPECT_EQ(lines[2], R"(x.json: /precision: expected "float32" or "float64", found "half")");
  EXPECT_TRUE(line_matches(R"(x.json: /model/activation: unknown activation "tahn"...)", lines[3]));
  EXPECT_EQ(lines[4], "x.json: /model/depth: expected an integer in 1..100000, found 0");
  EXPECT_EQ(lines[5], R"(x.json: /model/init/gian: unknown key; did you mean "gain"?)");
  EXPECT_EQ(lines[6], "x.json: /train/batch_size: expected an integer in 1..1000000, found 1.5");
  EXPECT_EQ(lines[7], "x.json: /train/lr: expected a number > 0, found 0");
  EXPECT_EQ(lines[8], "x.json: /probe/bins: expected an integer in 1..10000, found 0");
  EXPECT_EQ(lines[9], "x.json: /probe/hist_range: expected [lo, hi] with lo < hi, found [2,1]");
}

TEST(Config, CommentsAreAccepted) {
  const Config c = valid(R"({
    // line comment
    "seed": 7, /* block
                  comment */
    "model": {"depth": 3, "width": 4}  // trailing
  })");
  EXPECT_EQ(c.seed, 7u);
  EXPECT_EQ(c.model.hidden, (std::vector<int>{4, 4, 4}));
}

TEST(Config, IntegralFloatsAreIntegers) {
  const Config c = valid(with_model(R"("train": {"steps": 1e3}, "seed": 5.0)"));
  EXPECT_EQ(c.train.steps, 1000);
  EXPECT_EQ(c.seed, 5u);
}

TEST(Config, DefaultsAreFilled) {
  const Config c = valid(with_model(""));
  EXPECT_EQ(c.name, "");
  EXPECT_EQ(c.seed, 0u);
  EXPECT_EQ(c.repeats, 1);
  EXPECT_EQ(c.precision, Precision::float64);
  EXPECT_EQ(c.threads, 1);
  EXPECT_EQ(c.model.type, ModelType::mlp);
  EXPECT_EQ(c.model.hidden, (std::vector<int>{3, 3}));
  EXPECT_EQ(c.model.activation.kind, Activation::tanh);
  EXPECT_EQ(c.model.init.kind, Init::glorot_uniform);
  EXPECT_EQ(c.model.output_init.kind, Init::glorot_uniform);
  EXPECT_EQ(c.model.bias_init.kind, BiasKind::constant);
  EXPECT_EQ(c.model.bias_init.value, 0.0);
  EXPECT_EQ(c.data.name, DataName::gaussian);
  EXPECT_EQ(c.data.dim, 100);
  EXPECT_EQ(c.data.classes, 10);
  EXPECT_EQ(c.data.outputs, 10);
  EXPECT_TRUE(c.data.teacher.is_null());
  EXPECT_EQ(c.data.test_samples, 1000);
  EXPECT_EQ(c.loss, Loss::cross_entropy);
  EXPECT_EQ(c.train.steps, 0);
  EXPECT_EQ(c.train.batch_size, 10);
  EXPECT_EQ(c.train.opt.lr, 0.01);
  EXPECT_EQ(c.train.opt.momentum, 0.0);
  EXPECT_FALSE(c.train.clip_norm.has_value());
  EXPECT_EQ(c.probe.samples, 300);
  EXPECT_EQ(c.probe.every, 1000);
  EXPECT_EQ(c.probe.schedule, Schedule::linear);
  EXPECT_EQ(c.probe.bins, 50);
  for (const auto& range : c.probe.hist_range) EXPECT_FALSE(range.has_value());
  EXPECT_EQ(c.probe.dump_tensors, TensorDump{});
  EXPECT_EQ(c.probe.saturation_tau, 0.05);
  EXPECT_EQ(c.probe.jacobian_samples, 10);
  EXPECT_FALSE(c.probe.flush_subnormals.has_value());
  EXPECT_EQ(c.probe.verdict.vanishing_ratio, 1e-2);
  EXPECT_EQ(c.probe.verdict.exploding_ratio, 1e2);
  EXPECT_EQ(c.probe.verdict.vanishing_factor, 0.25);
  EXPECT_EQ(c.probe.verdict.exploding_factor, 4.0);

  const json j = config_to_json(c);
  EXPECT_EQ(j["probe"]["verdict"],
            json::parse(R"({"vanishing_ratio": 0.01, "exploding_ratio": 100.0,
                            "vanishing_factor": 0.25, "exploding_factor": 4.0})"));
  EXPECT_EQ(j["model"]["init"], json::parse(R"({"name": "glorot_uniform", "gain": 1.0})"));
  EXPECT_EQ(j["model"]["bias_init"], json::parse(R"({"name": "constant", "value": 0.0})"));
  EXPECT_EQ(j["train"]["clip_norm"], nullptr);
  EXPECT_EQ(j["probe"]["flush_subnormals"], nullptr);
  EXPECT_EQ(j["loss"], "cross_entropy");
}

TEST(Config, ParameterDefaultsDependOnTheKind) {
  EXPECT_EQ(
      valid(R"({"model": {"depth": 1, "width": 2, "activation": "prelu"}})").model.activation.slope,
      0.25);
  EXPECT_EQ(valid(R"({"model": {"depth": 1, "width": 2, "activation": "leaky_relu"}})")
                .model.activation.slope,
            0.01);
  const Config g = valid(R"({"model": {"depth": 1, "width": 2, "init": "gaussian"}})");
  EXPECT_EQ(g.model.init.sigma_w2, 1.0);
  EXPECT_TRUE(std::isnan(g.model.init.std));
  const Config s = valid(R"({"model": {"depth": 1, "width": 2, "init": "sparse"}})");
  EXPECT_EQ(s.model.init.nonzero_per_row, 15);
  EXPECT_EQ(s.model.init.std, 1.0);
  const json he =
      config_to_json(valid(R"({"model": {"depth": 1, "width": 2, "init": "he_normal"}})"));
  EXPECT_EQ(he["model"]["init"].dump(), R"({"name":"he_normal","gain":1.0,"mode":"fan_in"})");
}

TEST(Config, OutputInitDefaultsToInit) {
  const Config c =
      valid(R"({"model": {"depth": 1, "width": 2, "init": {"name": "he_uniform", "gain": 2}}})");
  EXPECT_EQ(c.model.output_init.kind, Init::he_uniform);
  EXPECT_EQ(c.model.output_init.gain, 2.0);
  const Config d = valid(
      R"({"model": {"depth": 1, "width": 2, "init": "he_uniform", "output_init": "lecun_normal"}})");
  EXPECT_EQ(d.model.output_init.kind, Init::lecun_normal);
}

TEST(Config, ObjectsWithoutANameTakeTheDefault) {
  // So that an axis such as "model.init.gain" works on a config that gives no init.
  const Config c = valid(R"({"model": {"depth": 1, "width": 2, "init": {"gain": 2},
                                       "activation": {}, "bias_init": {"value": 0.5}}})");
  EXPECT_EQ(c.model.init.kind, Init::glorot_uniform);
  EXPECT_EQ(c.model.init.gain, 2.0);
  EXPECT_EQ(c.model.activation.kind, Activation::tanh);
  EXPECT_EQ(c.model.bias_init.value, 0.5);
  const Config d = valid(R"({"model": {"depth": 1, "width": 2, "init": "he_normal",
                                       "output_init": {"gain": 3}}})");
  EXPECT_EQ(d.model.output_init.kind, Init::he_normal);
  EXPECT_EQ(d.model.output_init.gain, 3.0);
  const Config r = valid(R"({"model": {"type": "rnn", "width": 2, "length": 3,
                                       "recurrent_init": {"gain": 1.1}}})");
  EXPECT_EQ(r.model.recurrent_init.kind, Init::orthogonal);
}

TEST(Config, AliasesResolveToCanonicalNames) {
  const Config c = valid(R"({"model": {"depth": 1, "width": 2, "activation": "silu",
                                       "init": "xavier_uniform", "output_init": "kaiming_normal"}})");
  EXPECT_EQ(c.model.activation.kind, Activation::swish);
  EXPECT_EQ(c.model.init.kind, Init::glorot_uniform);
  EXPECT_EQ(c.model.output_init.kind, Init::he_normal);
  const json j = config_to_json(c);
  EXPECT_EQ(j["model"]["activation"]["name"], "swish");
  EXPECT_EQ(j["model"]["init"]["name"], "glorot_uniform");
  EXPECT_EQ(j["model"]["output_init"]["name"], "he_normal");
  EXPECT_EQ(valid(R"({"model": {"depth": 1, "width": 2, "init": "standard"}})").model.init.kind,
            Init::glorot_standard);
  EXPECT_EQ(valid(R"({"model": {"depth": 1, "width": 2, "init": "normalized"}})").model.init.kind,
            Init::glorot_uniform);
}

TEST(Config, LossDefaultFollowsTheData) {
  EXPECT_EQ(valid(with_model(R"("data": {"name": "shapeset3x2"})")).loss, Loss::cross_entropy);
  EXPECT_EQ(valid(with_model(R"("data": {"teacher": {"depth": 1, "width": 5}})")).loss, Loss::mse);
  EXPECT_EQ(
      valid(R"({"model": {"type": "rnn", "width": 4}, "data": {"name": "addition", "length": 10}})")
          .loss,
      Loss::mse);
  EXPECT_EQ(valid(with_model(R"("loss": "mse")")).loss, Loss::mse);  // gaussian gives both
}

TEST(Config, RnnTakesItsLengthFromASequenceTask) {
  const Config c = valid(
      R"({"model": {"type": "rnn", "width": 4}, "data": {"name": "temporal_order", "length": 50}})");
  EXPECT_EQ(c.model.type, ModelType::rnn);
  EXPECT_EQ(c.model.width, 4);
  EXPECT_EQ(c.model.length, 50);
  EXPECT_TRUE(c.model.hidden.empty());
  EXPECT_EQ(c.model.recurrent_init.kind, Init::orthogonal);
  EXPECT_EQ(c.model.input_init.kind, Init::glorot_uniform);
  EXPECT_EQ(c.model.output_init.kind, Init::glorot_uniform);
  EXPECT_EQ(c.model.inputs, RnnInputs::every_step);
  EXPECT_EQ(c.model.loss_at, LossAt::last);
  EXPECT_FALSE(config_to_json(c)["model"].contains("length"));
}

TEST(Config, TaskLengthTenIsTheShortest) {
  for (const char* task : {"temporal_order", "addition"}) {
    SCOPED_TRACE(task);
    const Config c = valid(fmt::format(
        R"({{"model": {{"type": "rnn", "width": 4}}, "data": {{"name": "{}", "length": 10}}}})",
        task));
    EXPECT_EQ(c.data.length, 10);
    EXPECT_EQ(c.model.length, 10);
  }
}

TEST(Config, RnnTakesPerLayerProbesSwitchedOff) {
  // false is what a chain does anyway; only asking for them is an error. An mlp may ask.
  const Config r = valid(R"({"model": {"type": "rnn", "width": 4, "length": 3},
                             "probe": {"histograms": false, "jacobian": false, "bins": 7}})");
  EXPECT_FALSE(r.probe.histograms);
  EXPECT_FALSE(r.probe.jacobian);
  const Config m = valid(with_model(R"("probe": {"histograms": true, "jacobian": true})"));
  EXPECT_TRUE(m.probe.histograms);
  EXPECT_TRUE(m.probe.jacobian);
}

TEST(Config, ThreadsAuto) {
  EXPECT_EQ(valid(with_model(R"("threads": "auto")")).threads, 0);
  EXPECT_EQ(config_to_json(valid(with_model(R"("threads": "auto")")))["threads"], "auto");
}

TEST(Config, NormalizeExpandsShorthands) {
  const json j =
      config_normalize(json::parse(R"({"model": {"activation": "relu", "init": "he_normal",
      "output_init": "orthogonal", "recurrent_init": "identity", "input_init": "lecun_normal",
      "bias_init": 0.1}, "data": {"teacher": {"activation": "tanh", "bias_init": 2}}})"));
  EXPECT_EQ(j["model"]["activation"], json::parse(R"({"name": "relu"})"));
  EXPECT_EQ(j["model"]["init"], json::parse(R"({"name": "he_normal"})"));
  EXPECT_EQ(j["model"]["output_init"], json::parse(R"({"name": "orthogonal"})"));
  EXPECT_EQ(j["model"]["recurrent_init"], json::parse(R"({"name": "identity"})"));
  EXPECT_EQ(j["model"]["input_init"], json::parse(R"({"name": "lecun_normal"})"));
  EXPECT_EQ(j["model"]["bias_init"], json::parse(R"({"name": "constant", "value": 0.1})"));
  EXPECT_EQ(j["data"]["teacher"]["activation"], json::parse(R"({"name": "tanh"})"));
  EXPECT_EQ(j["data"]["teacher"]["bias_init"], json::parse(R"({"name": "constant", "value": 2})"));
  EXPECT_EQ(config_normalize(j), j);  // idempotent
}

// ---- round trip ----

bool same_double(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void expect_same_init(const InitSpec& a, const InitSpec& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.gain, b.gain);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_TRUE(same_double(a.sigma_w2, b.sigma_w2));
  EXPECT_TRUE(same_double(a.std, b.std));
  EXPECT_EQ(a.scale, b.scale);
  EXPECT_EQ(a.nonzero_per_row, b.nonzero_per_row);
  EXPECT_TRUE(same_double(a.spectral_radius, b.spectral_radius));
  EXPECT_TRUE(same_double(a.spectral_norm, b.spectral_norm));
}

void expect_same(const Config& a, const Config& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.description, b.description);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.repeats, b.repeats);
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.threads, b.threads);
  const ModelConfig &m = a.model, &n = b.model;
  EXPECT_EQ(m.type, n.type);
  EXPECT_EQ(m.hidden, n.hidden);
  EXPECT_EQ(m.width, n.width);
  EXPECT_EQ(m.length, n.length);
  EXPECT_EQ(m.activation.kind, n.activation.kind);
  EXPECT_EQ(m.activation.slope, n.activation.slope);
  EXPECT_EQ(m.activation.lower, n.activation.lower);
  EXPECT_EQ(m.activation.upper, n.activation.upper);
  EXPECT_EQ(m.activation.convention, n.activation.convention);
  EXPECT_EQ(m.activation.alpha, n.activation.alpha);
  EXPECT_EQ(m.activation.beta, n.activation.beta);
  EXPECT_EQ(m.activation.pieces, n.activation.pieces);
  expect_same_init(m.init, n.init);
  expect_same_init(m.output_init, n.output_init);
  expect_same_init(m.recurrent_init, n.recurrent_init);
  expect_same_init(m.input_init, n.input_init);
  EXPECT_EQ(m.bias_init.kind, n.bias_init.kind);
  EXPECT_EQ(m.bias_init.value, n.bias_init.value);
  EXPECT_EQ(m.bias_init.sigma_b2, n.bias_init.sigma_b2);
  EXPECT_EQ(m.inputs, n.inputs);
  EXPECT_EQ(m.loss_at, n.loss_at);
  EXPECT_EQ(a.data.name, b.data.name);
  EXPECT_EQ(a.data.dim, b.data.dim);
  EXPECT_EQ(a.data.classes, b.data.classes);
  EXPECT_EQ(a.data.outputs, b.data.outputs);
  EXPECT_EQ(a.data.teacher, b.data.teacher);
  EXPECT_EQ(a.data.test_samples, b.data.test_samples);
  EXPECT_EQ(a.data.train_images, b.data.train_images);
  EXPECT_EQ(a.data.train_labels, b.data.train_labels);
  EXPECT_EQ(a.data.test_images, b.data.test_images);
  EXPECT_EQ(a.data.test_labels, b.data.test_labels);
  EXPECT_EQ(a.data.length, b.data.length);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(a.train.steps, b.train.steps);
  EXPECT_EQ(a.train.batch_size, b.train.batch_size);
  EXPECT_EQ(a.train.opt.kind, b.train.opt.kind);
  EXPECT_EQ(a.train.opt.lr, b.train.opt.lr);
  EXPECT_EQ(a.train.opt.momentum, b.train.opt.momentum);
  EXPECT_EQ(a.train.clip_norm, b.train.clip_norm);
  EXPECT_EQ(a.train.checkpoint_every, b.train.checkpoint_every);
  const ProbeConfig &p = a.probe, &q = b.probe;
  EXPECT_EQ(p.samples, q.samples);
  EXPECT_EQ(p.every, q.every);
  EXPECT_EQ(p.schedule, q.schedule);
  EXPECT_EQ(p.per_decade, q.per_decade);
  EXPECT_EQ(p.histograms, q.histograms);
  EXPECT_EQ(p.bins, q.bins);
  EXPECT_EQ(p.hist_range, q.hist_range);
  EXPECT_EQ(p.hist_scale, q.hist_scale);
  EXPECT_EQ(p.saturation_tau, q.saturation_tau);
  EXPECT_EQ(p.jacobian, q.jacobian);
  EXPECT_EQ(p.jacobian_samples, q.jacobian_samples);
  EXPECT_EQ(p.dump_tensors, q.dump_tensors);
  EXPECT_EQ(p.flush_subnormals, q.flush_subnormals);
}

TEST(Config, RoundTripThroughResolvedJson) {
  const std::vector<std::string> texts = {
      with_model(""),
      R"({"name": "full", "description": "d", "seed": 18446744073709551615, "repeats": 3,
          "precision": "float32", "threads": "auto",
          "model": {"hidden": [5, 4, 3], "activation": {"name": "rrelu", "convention": "paper"},
                    "init": {"name": "gaussian", "std": 0.3, "spectral_norm": 2},
                    "output_init": {"name": "he_normal", "mode": "fan_out", "gain": 1.5},
                    "bias_init": {"name": "gaussian", "sigma_b2": 0.05}},
          "data": {"name": "gaussian", "dim": 7, "outputs": 3,
                   "teacher": {"hidden": [4, 2], "activation": "relu", "bias_init": 0.5}},
          "train": {"steps": 100, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "clip_norm": 1,
                    "checkpoint_every": 10},
          "probe": {"samples": 50, "every": 7, "schedule": "log", "per_decade": 4, "histograms": true,
                    "bins": 20, "hist_range": [-3, 3], "hist_scale": "log10abs",
                    "saturation_tau": 0.1, "jacobian": true, "jacobian_samples": 5,
                    "dump_tensors": true, "flush_subnormals": false}})",
      R"({"model": {"type": "rnn", "width": 16, "length": 30, "activation": {"name": "leaky_relu", "slope": 0.2},
                    "recurrent_init": {"name": "sparse", "nonzero_per_row": 4, "spectral_radius": 1.1},
                    "input_init": {"name": "uniform", "scale": 0.2}, "inputs": "first_step",
                    "loss_at": "every_step"}})",
      R"({"model": {"type": "rnn", "width": 16, "activation": "softplus"},
          "data": {"name": "addition", "length": 100}})",
      R"({"model": {"depth": 2, "width": 8, "activation": {"name": "elu", "alpha": 0.5}},
          "data": {"name": "idx", "train_images": "a", "train_labels": "b", "test_images": "c",
                   "test_labels": "d", "test_samples": 10}})",
      R"({"model": {"depth": 2, "width": 8, "activation": "prelu", "init": "lecun_uniform"},
          "data": {"name": "fashion_mnist"}, "loss": "cross_entropy"})",
      with_model(R"("train": {"steps": 20}, "probe": {"every": 5, "dump_tensors": [20, 0, 5],
                     "hist_range": {"act": [0, 1], "grad_w": [-0.5, 0.5]}})"),
      with_model(R"("probe": {"dump_tensors": "all", "hist_range": {"delta": [-1, 1]}})"),
  };
  for (const auto& text : texts) {
    SCOPED_TRACE(text);
    const Config a = valid(text);
    const json j = config_to_json(a);
    std::vector<ConfigIssue> issues;
    const Config b = config_from_json(j, issues);
    EXPECT_TRUE(issues.empty()) << (issues.empty() ? ""
                                                   : issues[0].path + ": " + issues[0].message);
    expect_same(a, b);
    EXPECT_EQ(config_to_json(b), j);
  }
}

// hist_range and dump_tensors: each form read, and written back in its resolved form.
TEST(Config, HistRangePerQuantityAndDumpSteps) {
  Config c = valid(with_model(R"("probe": {"hist_range": [0, 1], "dump_tensors": true})"));
  for (const auto& range : c.probe.hist_range) EXPECT_EQ(range, std::make_pair(0.0, 1.0));
  EXPECT_EQ(c.probe.dump_tensors.steps, std::vector<int64_t>{0});
  json p = config_to_json(c)["probe"];
  EXPECT_EQ(p["hist_range"].dump(), "[0.0,1.0]");
  EXPECT_EQ(p["dump_tensors"], true);

  c = valid(with_model(R"("train": {"steps": 20}, "probe": {"every": 5,
      "hist_range": {"delta": [-1e-3, 1e-3]}, "dump_tensors": [20, 5, 5]})"));
  for (size_t k = 0; k < 4; ++k)
    EXPECT_EQ(c.probe.hist_range[k].has_value(), k == static_cast<size_t>(HistQuantity::delta));
  EXPECT_EQ(*c.probe.hist_range[2], std::make_pair(-1e-3, 1e-3));
  EXPECT_EQ(c.probe.dump_tensors.steps, (std::vector<int64_t>{5, 20}));
  EXPECT_FALSE(dump_at(c.probe.dump_tensors, 0));
  EXPECT_TRUE(dump_at(c.probe.dump_tensors, 20));
  p = config_to_json(c)["probe"];
  EXPECT_EQ(p["hist_range"].dump(), R"({"delta":[-0.001,0.001]})");
  EXPECT_EQ(p["dump_tensors"].dump(), "[5,20]");

  c = valid(with_model(R"("probe": {"dump_tensors": "all"})"));
  EXPECT_TRUE(c.probe.dump_tensors.all);
  EXPECT_TRUE(dump_at(c.probe.dump_tensors, 7));
  EXPECT_EQ(config_to_json(c)["probe"]["dump_tensors"], "all");
  c = valid(with_model(R"("probe": {"dump_tensors": false, "hist_range": null})"));
  EXPECT_EQ(config_to_json(c)["probe"]["dump_tensors"], false);
  EXPECT_TRUE(config_to_json(c)["probe"]["hist_range"].is_null());
}

TEST(Config, ResolvedJsonHasEveryKey) {
  const json j = config_to_json(valid(with_model("")));
  for (const char* key : {"name", "description", "seed", "repeats", "precision", "threads", "model",
                          "data", "loss", "train", "probe"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["train"].size(), 17u);  // sgd's keys; another optimizer writes its own
  EXPECT_EQ(j["probe"].size(), 13u);  // 14 keys; per_decade only with the log schedule
  EXPECT_EQ(j["model"]["activation"], json::parse(R"({"name": "tanh"})"));
  const json r =
      config_to_json(valid(R"({"model": {"depth": 1, "width": 2, "activation": "rrelu"}})"));
  EXPECT_EQ(r["model"]["activation"].dump(),
            R"({"name":"rrelu","lower":0.125,"upper":0.3333333333333333,"convention":"pytorch"})");
}

// ---- files ----

TEST(Config, MissingFileNamesTheFile) {
  try {
    config_read_file("/nonexistent/dir/cfg.json");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    ASSERT_EQ(e.lines.size(), 1u);
    EXPECT_EQ(e.lines[0],
              "/nonexistent/dir/cfg.json: cannot read config: No such file or directory");
  }
  try {
    config_read_file(std::filesystem::temp_directory_path().string());
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(e.lines.at(0).find("cannot read config: Is a directory"), std::string::npos);
  }
}

TEST(Config, ReadsAFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("gradlab_test_config_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream f(path);
    f << "{ /* c */ \"model\": {\"depth\": 1, \"width\": 2}, \"seed\": 4 }";
  }
  const json j = config_read_file(path.string());
  EXPECT_EQ(j["seed"], 4);
  std::filesystem::remove(path);
}

TEST(Config, ConfigErrorCarriesEveryLine) {
  const ConfigError e({"a: b", "c: d"});
  EXPECT_EQ(std::string(e.what()), "a: b\nc: d");
  EXPECT_EQ(e.lines.size(), 2u);
}

TEST(Config, CatalogListsEverything) {
  const std::string s = catalog_text();
  auto listed = [&](std::string_view name) {  // a line of its own: "  name" then its text
    const std::string line = "\n  " + std::string(name);
    for (char end : {' ', '\n'})
      if (s.find(line + end) != std::string::npos) return true;
    return false;
  };
  for (const ActivationInfo& a : activation_table) EXPECT_TRUE(listed(a.name)) << a.name;
  for (const InitInfo& i : init_table) EXPECT_TRUE(listed(i.name)) << i.name;
  for (const char* n :
       {"gaussian", "shapeset3x2", "idx", "fashion_mnist", "temporal_order", "addition",
        "cross_entropy", "mse", "silu", "xavier_uniform", "kaiming_normal", "slope=0.01",
        "slope=0.25", "pieces=2", "nonzero_per_row"})
    EXPECT_NE(s.find(n), std::string::npos) << n;
}

}  // namespace
}  // namespace gl
