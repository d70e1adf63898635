// Experiments: grid expansion order, run ids, seeds, --set, --only, variants, and grid errors
// mapped back to where the user wrote them.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "experiments/grid.h"
#include "harness/core/rng.h"
#include "tests/grid_test_util.h"

namespace gl {
namespace {

// ---- expansion ----

TEST_F(Grid, CartesianProductFirstAxisSlowestRepeatFastest) {
  const Experiment e = load(cfg(
      R"("repeats": 2, "grid": {"model.depth": [1, 2], "model.activation": ["tanh", "relu", "elu"]})"));
  ASSERT_EQ(e.runs.size(), 12u);
  ASSERT_EQ(e.axes.size(), 2u);
  EXPECT_EQ(e.axes[0].name, "model.depth");
  EXPECT_EQ(e.axes[1].name, "model.activation");
  size_t i = 0;
  for (int depth : {1, 2})
    for (const char* act : {"tanh", "relu", "elu"})
      for (int rep = 0; rep < 2; ++rep, ++i) {
        const RunSpec& r = e.runs[i];
        EXPECT_EQ(r.index, static_cast<int>(i));
        EXPECT_EQ(r.repeat, rep);
        EXPECT_EQ(r.point, json::parse(fmt::format(
                               R"({{"model.depth": {}, "model.activation": "{}"}})", depth, act)));
        EXPECT_EQ(r.config.model.hidden.size(), static_cast<size_t>(depth));
        EXPECT_EQ(r.config.model.activation.kind, *activation_from_name(act));
        EXPECT_EQ(r.id, fmt::format("depth={},activation={},rep={}", depth, act, rep));
        EXPECT_EQ(r.resolved, config_to_json(r.config));
      }
}

TEST_F(Grid, ShorthandsExpandBeforeAxesApply) {
  // init is a string in the file; the axis goes into its object form.
  const Experiment e = load(R"({"model": {"depth": 2, "width": 3, "init": "gaussian"},
                                "grid": {"model.init.sigma_w2": [1, 2, 4]}})");
  ASSERT_EQ(e.runs.size(), 3u);
  EXPECT_EQ(e.runs[2].config.model.init.kind, Init::gaussian);
  EXPECT_EQ(e.runs[2].config.model.init.sigma_w2, 4.0);
  EXPECT_EQ(e.runs[0].id, "sigma_w2=1");
}

TEST_F(Grid, AxesCreateMissingObjects) {
  const Experiment e = load(cfg(R"("grid": {"train.lr": [0.1, 0.2]})"));
  EXPECT_EQ(e.runs[1].config.train.opt.lr, 0.2);
}

TEST_F(Grid, NoGridIsOneRunNamedRun) {
  EXPECT_EQ(ids(load(cfg(R"("seed": 1)"))), std::vector<std::string>{"run"});
  EXPECT_EQ(ids(load(cfg(R"("repeats": 3)"))),
            (std::vector<std::string>{"rep=0", "rep=1", "rep=2"}));
  const Experiment e = load(cfg(R"("seed": 1)"));
  EXPECT_EQ(e.runs[0].point, json::object());
}

TEST_F(Grid, NameComesFromTheFileStem) {
  const Experiment e = load(cfg(R"("seed": 1)"), {}, {}, "my-study.json");
  EXPECT_EQ(e.name, "my-study");
  EXPECT_EQ(e.runs[0].config.name, "my-study");
  EXPECT_EQ(e.runs[0].resolved["name"], "my-study");
  EXPECT_EQ(load(cfg(R"("name": "given")"), {}, {}, "y.json").runs[0].config.name, "given");
}

// ---- run ids ----

TEST_F(Grid, RunIdsAreSanitized) {
  const Experiment e = load(cfg(R"("description": "", "grid": {
      "description": ["a b/c", "x\"y", "ü"], "model.init": [{"name": "he_normal", "gain": 2}]})"));
  EXPECT_EQ(ids(e), (std::vector<std::string>{
                        "description=a_b_c,init=__name___he_normal_,_gain__2_",
                        "description=x_y,init=__name___he_normal_,_gain__2_",
                        "description=__,init=__name___he_normal_,_gain__2_"}));  // ü: 2 bytes
}

TEST_F(Grid, SharedLastComponentsUseTheFullPath) {
  const Experiment e = load(cfg(
      R"("grid": {"model.init.gain": [1], "model.output_init.gain": [2], "model.depth": [3]})"));
  EXPECT_EQ(e.runs[0].id, "model.init.gain=1,model.output_init.gain=2,depth=3");
}

TEST_F(Grid, LongIdsAreCutWithAHash) {
  const std::string a(100, 'a');
  const Experiment e = load(cfg(fmt::format(R"("grid": {{"description": ["{}", "{}b"]}})", a, a)));
  ASSERT_EQ(e.runs.size(), 2u);
  for (const auto& r : e.runs) {
    ASSERT_EQ(r.id.size(), 97u);
    EXPECT_EQ(r.id.substr(0, 80), "description=" + std::string(68, 'a'));
    EXPECT_EQ(r.id[80], '~');
    const std::string point = r.point.dump();
    EXPECT_EQ(r.id.substr(81), fmt::format("{:016x}", hash_bytes(point.data(), point.size())));
  }
  EXPECT_NE(e.runs[0].id, e.runs[1].id);
  // 96 characters stay as they are.
  const Experiment f =
      load(cfg(fmt::format(R"("grid": {{"description": ["{}"]}})", std::string(84, 'c'))));
  EXPECT_EQ(f.runs[0].id, "description=" + std::string(84, 'c'));
}

TEST_F(Grid, LongIdsKeepRepeatsApart) {
  const Experiment e = load(cfg(
      fmt::format(R"("repeats": 2, "grid": {{"description": ["{}"]}})", std::string(100, 'a'))));
  ASSERT_EQ(e.runs.size(), 2u);
  EXPECT_NE(e.runs[0].id, e.runs[1].id);
}

TEST_F(Grid, RepSuffixOnlyWithRepeats) {
  EXPECT_EQ(ids(load(cfg(R"("grid": {"seed": [1, 2]})"))),
            (std::vector<std::string>{"seed=1", "seed=2"}));
  EXPECT_EQ(ids(load(cfg(R"("repeats": 2, "grid": {"seed": [1]})"))),
            (std::vector<std::string>{"seed=1,rep=0", "seed=1,rep=1"}));
  EXPECT_EQ(load(cfg(R"("repeats": 2.0)")).runs.size(), 2u);
}

TEST_F(Grid, DuplicateIdsAreAnError) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"description": ["a b", "a_b"]})")),
      std::vector<std::string>{R"(/grid: run id "description=a_b" is not unique (runs 0 and 1))"});
  EXPECT_EQ(errors(cfg(R"("grid": {"model.depth": [1, 2, 1]})")),
            std::vector<std::string>{"/grid/model.depth/2: duplicate of value 0"});
}

TEST(GridText, AxisValueText) {
  EXPECT_EQ(axis_value_text(json("relu")), "relu");
  EXPECT_EQ(axis_value_text(json(3)), "3");
  EXPECT_EQ(axis_value_text(json(0.5)), "0.5");
  EXPECT_EQ(axis_value_text(json(true)), "true");
  EXPECT_EQ(axis_value_text(json(nullptr)), "null");
  EXPECT_EQ(axis_value_text(json::parse(R"({"name": "he_normal", "gain": 2})")),
            R"({"name":"he_normal","gain":2})");
  EXPECT_EQ(axis_value_text(json::parse("[1, 2]")), "[1,2]");
}

// ---- seeds ----

TEST_F(Grid, SeedsFollowTheDocumentedRule) {
  const Experiment e = load(cfg(R"("seed": 42, "repeats": 2, "grid": {"model.depth": [1, 2]})"));
  for (const auto& r : e.runs) {
    const std::string point = r.point.dump();
    const uint64_t h = hash_bytes(point.data(), point.size());
    const uint64_t mask = (uint64_t{1} << 53) - 1;
    EXPECT_EQ(r.seed, seed_mix(seed_mix(42, h), static_cast<uint64_t>(r.repeat)) & mask);
    EXPECT_EQ(r.data_seed,
              seed_mix(42, 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(r.repeat)) & mask);
    EXPECT_LT(r.seed, uint64_t{1} << 53);
    EXPECT_EQ(r.seed, run_seed(42, r.point, r.repeat));
  }
}

TEST_F(Grid, SeedsAreStableAndDistinct) {
  const std::string text = cfg(R"("seed": 1, "repeats": 2, "grid": {"model.depth": [1, 2, 3]})");
  const Experiment a = load(text), b = load(text);
  std::set<uint64_t> seeds;
  for (size_t i = 0; i < a.runs.size(); ++i) {
    EXPECT_EQ(a.runs[i].seed, b.runs[i].seed);
    EXPECT_EQ(a.runs[i].data_seed, b.runs[i].data_seed);
    seeds.insert(a.runs[i].seed);
  }
  EXPECT_EQ(seeds.size(), a.runs.size());  // every point and repeat has its own seed
  // The data depends on (seed, repeat) only: the same for every point of a repeat.
  for (const auto& r : a.runs)
    EXPECT_EQ(r.data_seed, a.runs[static_cast<size_t>(r.repeat)].data_seed);
  EXPECT_NE(a.runs[0].data_seed, a.runs[1].data_seed);
  // Another base seed changes everything.
  const Experiment c = load(cfg(R"("seed": 2, "repeats": 2, "grid": {"model.depth": [1, 2, 3]})"));
  EXPECT_NE(c.runs[0].seed, a.runs[0].seed);
  EXPECT_NE(c.runs[0].data_seed, a.runs[0].data_seed);
}

TEST_F(Grid, AddingAnAxisValueKeepsTheOtherRuns) {
  const Experiment a =
      load(cfg(R"("repeats": 2, "grid": {"model.depth": [1, 2], "model.activation": ["tanh"]})"));
  const Experiment b = load(
      cfg(R"("repeats": 2, "grid": {"model.depth": [1, 5, 2], "model.activation": ["tanh"]})"));
  ASSERT_EQ(b.runs.size(), 6u);
  for (const auto& r : a.runs) {
    const auto it =
        std::find_if(b.runs.begin(), b.runs.end(), [&](const RunSpec& s) { return s.id == r.id; });
    ASSERT_NE(it, b.runs.end()) << r.id;
    EXPECT_EQ(it->seed, r.seed);
    EXPECT_EQ(it->data_seed, r.data_seed);
    EXPECT_EQ(it->point, r.point);
  }
}

// ---- --set ----

TEST_F(Grid, SetParsesJsonValues) {
  const Experiment e =
      load(cfg(R"("seed": 1)"), {"model.depth=7", "train.clip_norm=2.5", "probe.jacobian=true"});
  const Config& c = e.runs[0].config;
  EXPECT_EQ(c.model.hidden.size(), 7u);
  EXPECT_EQ(c.train.clip_norm, 2.5);
  EXPECT_TRUE(c.probe.jacobian);
  EXPECT_EQ(e.input["model"]["depth"], 7);
}

TEST_F(Grid, SetFallsBackToAString) {
  const Experiment e =
      load(cfg(R"("seed": 1)"), {"model.activation=relu", "description=two words"});
  EXPECT_EQ(e.runs[0].config.model.activation.kind, Activation::relu);
  EXPECT_EQ(e.runs[0].config.description, "two words");
  EXPECT_EQ(e.input["model"]["activation"], json::parse(R"({"name": "relu"})"));
}

TEST_F(Grid, SetGoesIntoAShorthandItJustSet) {
  const Experiment e =
      load(cfg(R"("seed": 1)"), {"model.activation=leaky_relu", "model.activation.slope=0.2"});
  EXPECT_EQ(e.runs[0].config.model.activation.kind, Activation::leaky_relu);
  EXPECT_EQ(e.runs[0].config.model.activation.slope, 0.2);
}

TEST_F(Grid, SetGridAxis) {
  const Experiment e =
      load(cfg(R"("grid": {"model.depth": [1, 2]})"), {"grid.model.depth=[3,4,5]"});
  EXPECT_EQ(ids(e), (std::vector<std::string>{"depth=3", "depth=4", "depth=5"}));
  const Experiment f = load(cfg(R"("seed": 1)"), {"grid.model.width=[8,16]"});
  EXPECT_EQ(ids(f), (std::vector<std::string>{"width=8", "width=16"}));
  EXPECT_EQ(f.input["grid"]["model.width"], json::parse("[8, 16]"));
}

TEST_F(Grid, SetOnAGridAxisIsAnError) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"model.depth": [1, 2]})"), {"model.depth=3"}),
      std::vector<std::string>{"--set model.depth: is a grid axis; set grid.model.depth instead"});
  EXPECT_EQ(
      errors(cfg(R"("grid": {"model.init": ["he_normal"]})"), {"model.init.gain=2"}),
      std::vector<std::string>{
          R"(--set model.init.gain: is inside the grid axis "model.init"; set grid.model.init instead)"});
}

TEST_F(Grid, SetWithABadKey) {
  EXPECT_EQ(errors(cfg(R"("seed": 1)"),
                   {"model..depth=3", "model.depth.x=1", "nonsense", "grid.a=1"}, {}),
            (std::vector<std::string>{"--set model..depth: expected KEY as a dotted path of config "
                                      "keys, found an empty component",
                                      "--set model.depth.x: model.depth is 2, not an object",
                                      "--set nonsense: expected KEY=VALUE",
                                      "/grid/a: expected a non-empty list of values, found 1"}));
}

TEST_F(Grid, SetValuesAreValidatedLikeTheFile) {
  EXPECT_EQ(
      errors(cfg(R"("seed": 1)"), {"model.depth=deep"}),
      std::vector<std::string>{R"(/model/depth: expected an integer in 1..100000, found "deep")"});
}

// ---- hash ----

TEST_F(Grid, HashIsStableAndFollowsTheInput) {
  const std::string text = cfg(R"("seed": 1, "grid": {"model.depth": [1, 2]})");
  const Experiment a = load(text), b = load(text);
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.hash.size(), 16u);
  EXPECT_EQ(a.hash.find_first_not_of("0123456789abcdef"), std::string::npos);
  // Comments, spacing, key order and shorthands do not change it.
  const Experiment c = load(R"({ // same experiment
      "grid": {"model.depth": [1, 2]}, "data": {"dim": 4}, "seed": 1,
      "model": {"width": 3, "depth": 2}})");
  EXPECT_EQ(c.hash, a.hash);
  // --set, the axis order and a value do.
  EXPECT_NE(load(text, {"train.lr=0.1"}).hash, a.hash);
  EXPECT_NE(load(text, {"grid.model.depth=[1,2,3]"}).hash, a.hash);
  EXPECT_NE(load(cfg(R"("seed": 2, "grid": {"model.depth": [1, 2]})")).hash, a.hash);
  EXPECT_NE(load(cfg(R"("seed": 1, "grid": {"model.depth": [1, 2], "model.width": [3]})")).hash,
            load(cfg(R"("seed": 1, "grid": {"model.width": [3], "model.depth": [1, 2]})")).hash);
  // --only does not: it selects runs of the same experiment.
  EXPECT_EQ(load(text, {}, {"depth=1"}).hash, a.hash);
}

// ---- --only ----

TEST_F(Grid, OnlyKeepsMatchingRuns) {
  const std::string text =
      cfg(R"("grid": {"model.depth": [1, 2, 3], "model.activation": ["tanh", "relu"]})");
  const Experiment a = load(text, {}, {"depth=2"});
  EXPECT_EQ(ids(a),
            (std::vector<std::string>{"depth=2,activation=tanh", "depth=2,activation=relu"}));
  EXPECT_EQ(a.runs[0].index, 2);  // indices of the full expansion
  const Experiment b = load(text, {}, {"model.activation=relu", "depth=1", "depth=3"});
  EXPECT_EQ(ids(b),
            (std::vector<std::string>{"depth=1,activation=relu", "depth=3,activation=relu"}));
  const Experiment c = load(text, {}, {"activation=\"tanh\""});  // as JSON too
  EXPECT_EQ(c.runs.size(), 3u);
}

TEST_F(Grid, OnlyErrors) {
  const std::string text = cfg(
      R"("grid": {"model.depth": [1, 2], "model.init.gain": [1], "model.output_init.gain": [2]})");
  EXPECT_EQ(
      errors(text, {}, {"depht=1", "depth=7", "gain=1", "x"}),
      (std::vector<std::string>{
          R"(--only depht=1: unknown key (did you mean "depth"?); expected one of model.depth, model.init.gain, model.output_init.gain, depth, repeat, rep)",
          "--only depth=7: matches no run",
          "--only gain=1: ambiguous; use one of model.init.gain, model.output_init.gain",
          "--only x: expected KEY=VALUE"}));
  EXPECT_EQ(
      errors(cfg(R"("seed": 1)"), {}, {"depth=1"}),
      std::vector<std::string>{
          "--only depth=1: unknown key (the config has no grid); expected one of repeat, rep"});
}

// ---- variants ----

TEST_F(Grid, VariantsDeepMergeAsOneUnit) {
  const Experiment e = load(R"({
    "model": {"depth": 2, "width": 3, "activation": {"name": "leaky_relu", "slope": 0.3}},
    "grid": {"variants": [
      {"label": "steep", "model": {"activation": {"slope": 0.9}}},
      {"label": "rnn", "model": {"type": "rnn", "depth": null, "width": 5, "length": 7}},
      {"label": "relu+he", "model": {"activation": "relu", "init": "he_normal"}, "train": {"lr": 0.5}}
    ], "seed": [1, 2]}})");
  ASSERT_EQ(e.runs.size(), 6u);
  EXPECT_EQ(ids(e),
            (std::vector<std::string>{"variants=steep,seed=1", "variants=steep,seed=2",
                                      "variants=rnn,seed=1", "variants=rnn,seed=2",
                                      "variants=relu+he,seed=1", "variants=relu+he,seed=2"}));
  EXPECT_EQ(e.runs[0].point, json::parse(R"({"variants": "steep", "seed": 1})"));
  EXPECT_EQ(e.runs[0].config.model.activation.kind, Activation::leaky_relu);  // merged, kept
  EXPECT_EQ(e.runs[0].config.model.activation.slope, 0.9);
  EXPECT_EQ(e.runs[2].config.model.type, ModelType::rnn);  // null removed "depth"
  EXPECT_EQ(e.runs[2].config.model.width, 5);
  EXPECT_EQ(e.runs[2].config.model.length, 7);
  EXPECT_EQ(e.runs[4].config.model.activation.kind, Activation::relu);  // a shorthand replaces
  EXPECT_EQ(e.runs[4].config.model.init.kind, Init::he_normal);
  EXPECT_EQ(e.runs[4].config.train.opt.lr, 0.5);
  EXPECT_EQ(e.runs[0].config.train.opt.lr, 0.01);
  EXPECT_EQ(e.axes[0].values.size(), 3u);
  EXPECT_EQ(e.axes[0].values[0]["label"], "steep");
  const Experiment only = load(R"({"model": {"depth": 2, "width": 3},
      "grid": {"variants": [{"label": "a"}, {"label": "b", "seed": 3}]}})",
                               {}, {"variants=b"});
  ASSERT_EQ(only.runs.size(), 1u);
  EXPECT_EQ(only.runs[0].config.seed, 3u);
}

TEST_F(Grid, VariantsNeedUniqueLabels) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"variants": [{"label": "a"}, {"label": "a"}, {"x": 1}, 3,
                                                 {"label": "", "repeats": 2}]})")),
      (std::vector<std::string>{R"(/grid/variants/1/label: duplicate label "a" (also variant 0))",
                                R"(/grid/variants/2/label: missing (expected a non-empty string))",
                                R"(/grid/variants/3: expected an object with a "label", found 3)",
                                R"(/grid/variants/4/label: expected a non-empty string, found "")",
                                R"(/grid/variants/4/repeats: not allowed in a variant)"}));
}

TEST_F(Grid, VariantIssuesPointIntoTheVariant) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"variants": [{"label": "ok"},
                                                 {"label": "bad", "model": {"activation": "tahn"},
                                                  "modle": {"x": 1}}]})")),
      (std::vector<std::string>{
          R"(/grid/variants/1/modle: unknown key; did you mean "model"?)",
          R"(/grid/variants/1/model/activation: unknown activation "tahn" (did you mean "tanh"?); expected one of identity, sigmoid, tanh, softsign, arctan, relu, relu6, leaky_relu, prelu, rrelu, elu, selu, softplus, swish, gelu, mish, hard_tanh, hard_sigmoid, binary_step, maxout, silu)"}));
}

// ---- grid errors ----

TEST_F(Grid, ValueIssuesMapToTheirAxisValue) {
  const auto lines = errors(cfg(R"("grid": {"model.depth": [1, 2, 3],
                                          "model.activation": ["tanh", "tahn", {"name": "relu", "slope": 1}],
                                          "model.init": [{"name": "gaussian", "sigma_w2": -1}]})"));
  EXPECT_EQ(
      lines,
      (std::vector<std::string>{
          "/grid/model.init/0/sigma_w2: expected a number > 0, found -1",
          R"(/grid/model.activation/1: unknown activation "tahn" (did you mean "tanh"?); expected one of identity, sigmoid, tanh, softsign, arctan, relu, relu6, leaky_relu, prelu, rrelu, elu, selu, softplus, swish, gelu, mish, hard_tanh, hard_sigmoid, binary_step, maxout, silu)",
          "/grid/model.activation/2/slope: not a parameter of relu"}))
      << join(lines);
}

TEST_F(Grid, AxisOverAnObjectNameMapsToTheAxis) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"model.activation.name": ["tanh", "tahn"]})")),
      std::vector<std::string>{
          R"(/grid/model.activation.name/1: unknown activation "tahn" (did you mean "tanh"?); expected one of identity, sigmoid, tanh, softsign, arctan, relu, relu6, leaky_relu, prelu, rrelu, elu, selu, softplus, swish, gelu, mish, hard_tanh, hard_sigmoid, binary_step, maxout, silu)"});
}

TEST_F(Grid, IssuesOutsideTheGridAreReportedOnce) {
  EXPECT_EQ(
      errors(cfg(R"("train": {"lr": -1}, "grid": {"model.depth": [1, 2, 3], "seed": [1, 2]})")),
      std::vector<std::string>{"/train/lr: expected a number > 0, found -1"});
}

TEST_F(Grid, AnIssueOfEveryValueIsAnIssueOfTheAxis) {
  EXPECT_EQ(errors(cfg(R"("grid": {"model.length": [5, 10]})")),
            std::vector<std::string>{R"(/grid/model.length: only for model.type "rnn")"});
}

TEST_F(Grid, UnknownAxisPathSuggestsTheWholePath) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"model.widht": [1, 2], "modle.depth": [1], "model.zzzzzz": [1]})")),
      (std::vector<std::string>{R"(/grid/modle.depth: unknown key; did you mean "model.depth"?)",
                                R"(/grid/model.widht: unknown key; did you mean "model.width"?)",
                                R"(/grid/model.zzzzzz: unknown key)"}));
}

TEST_F(Grid, AxisThroughANonObject) {
  EXPECT_EQ(errors(cfg(R"("grid": {"model.depth.x": [1]})")),
            std::vector<std::string>{"/grid/model.depth.x: model.depth is 2, not an object"});
}

TEST_F(Grid, StructuralGridErrors) {
  EXPECT_EQ(errors(cfg(R"("grid": {"model.depth": [], "repeats": [1, 2], "name": ["a"],
                                   "model..x": [1], "seed": 3})")),
            (std::vector<std::string>{
                "/grid/model.depth: expected a non-empty list of values, found []",
                "/grid/repeats: cannot be a grid axis", "/grid/name: cannot be a grid axis",
                R"(/grid/model..x: expected a dotted path of config keys, found "model..x")",
                "/grid/seed: expected a non-empty list of values, found 3"}));
  EXPECT_EQ(errors(cfg(R"("grid": [1])")),
            std::vector<std::string>{
                R"(/grid: expected an object {"dotted.path": [values, ...]}, found [1])"});
}

TEST_F(Grid, AnEmptyGridIsAnError) {
  // No "grid" key is a single run (NoGridIsOneRunNamedRun); an empty one is a mistake.
  const std::vector<std::string> want = {
      R"(/grid: grid is empty (expected at least one axis {"dotted.path": [values, ...]}; )"
      R"(leave "grid" out for a single run))"};
  EXPECT_EQ(errors(cfg(R"("grid": {})")), want);
  EXPECT_EQ(errors(cfg(R"("seed": 1)"), {"grid={}"}), want);
  EXPECT_EQ(ids(load(cfg(R"("seed": 1)"), {"grid.model.depth=[1,2]"})),
            (std::vector<std::string>{"depth=1", "depth=2"}));
}

TEST_F(Grid, AnAxisHiddenByALaterOneIsAnError) {
  EXPECT_EQ(
      errors(cfg(R"("grid": {"model.init.gain": [1, 2], "model.init": ["he_normal"]})")),
      std::vector<std::string>{
          R"(/grid/model.init.gain: has no effect: the later axis "model.init" replaces it; put it after "model.init")"});
  // The other order is fine.
  EXPECT_EQ(load(cfg(R"("grid": {"model.init": ["he_normal"], "model.init.gain": [1, 2]})"))
                .runs[1]
                .config.model.init.gain,
            2.0);
}

TEST_F(Grid, TooManyRuns) {
  EXPECT_EQ(
      errors(cfg(
          R"("repeats": 100000, "grid": {"seed": [1, 2, 3, 4, 5], "train.lr": [0.1, 0.2, 0.3]})")),
      std::vector<std::string>{
          "/grid: expected at most 1000000 runs, found 1500000 (5 × 3 × 100000 repeats)"});
}

TEST_F(Grid, FileErrorsKeepTheirForm) {
  EXPECT_EQ(
      errors("{\n \"seed\": 1,,\n}"),
      std::vector<std::string>{"2:12: malformed JSON: syntax error while parsing object key - "
                               "unexpected ','; expected string literal"});
  try {
    experiment_load((dir / "missing.json").string(), {}, {});
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.lines.at(0),
              (dir / "missing.json").string() + ": cannot read config: No such file or directory");
  }
}

// ---- manifest ----

TEST_F(Grid, ManifestBody) {
  const Experiment e = load(cfg(R"("repeats": 2, "grid": {"model.depth": [1, 2]})"), {"seed=5"});
  const json m = experiment_to_json(e);
  std::vector<std::string> keys;
  for (const auto& [k, v] : m.items()) keys.push_back(k);
  EXPECT_EQ(keys,
            (std::vector<std::string>{"name", "file", "hash", "set", "config", "axes", "runs"}));
  EXPECT_EQ(m["name"], "x");
  EXPECT_EQ(m["set"], json::parse(R"(["seed=5"])"));
  EXPECT_EQ(m["hash"], e.hash);
  EXPECT_EQ(m["config"]["seed"], 5);
  EXPECT_EQ(m["config"]["grid"]["model.depth"], json::parse("[1, 2]"));
  EXPECT_EQ(m["axes"], json::parse(R"([{"name": "model.depth", "values": [1, 2]}])"));
  ASSERT_EQ(m["runs"].size(), 4u);
  EXPECT_EQ(m["runs"][3], json({{"index", 3},
                                {"id", "depth=2,rep=1"},
                                {"point", {{"model.depth", 2}}},
                                {"repeat", 1},
                                {"seed", e.runs[3].seed}}));
}

}  // namespace
}  // namespace gl
