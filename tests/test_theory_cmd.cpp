// `gradlab theory`'s plan: one block per distinct set of theory inputs (repeats and axes that the
// theory does not read collapse), --only through experiment_load, and chains named, not computed.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/theory_cmd.h"

namespace gl {
namespace {

class TheoryCmd : public ::testing::Test {
 protected:
  std::filesystem::path dir;
  void SetUp() override {
    dir =
        std::filesystem::temp_directory_path() /
        ("gradlab_theory_cmd_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
         "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }

  // 3 repeats of a tanh MLP (or of `model`) on Gaussian data, over `grid`.
  Experiment load(const std::string& grid, const std::vector<std::string>& onlys = {},
                  const std::string& model = R"({"depth": 3, "width": 16, "activation": "tanh",
                                                 "init": "glorot_normal"})") {
    const auto path = dir / "x.json";
    std::ofstream(path) << R"({"repeats": 3, "model": )" << model << R"(,
      "data": {"name": "gaussian", "dim": 8, "outputs": 2}, "loss": "mse",
      "probe": {"samples": 20}, "grid": )"
                        << grid << "}";
    return experiment_load(path.string(), {}, onlys);
  }
};

TEST_F(TheoryCmd, RepeatsAndAnLrAxisAreOneBlock) {
  const Experiment e = load(R"({"train.lr": [0.1, 0.01]})");
  ASSERT_EQ(e.runs.size(), 6u);
  const TheoryPlan p = theory_plan(e);
  ASSERT_EQ(p.blocks.size(), 1u);
  EXPECT_EQ(p.blocks[0].size(), 6u);
  // Repeats draw other probe sets (q0 differs); the points of one repeat share theirs exactly, so
  // their numbers are the same.
  EXPECT_NE(p.runs[0].in.q0, p.runs[1].in.q0);
  EXPECT_EQ(p.runs[0].in.q0, p.runs[3].in.q0);  // lr 0.1 and lr 0.01, repeat 0
  EXPECT_EQ(p.runs[0].layers.q, p.runs[3].layers.q);
  EXPECT_EQ(p.runs[0].fixed.q_star, p.runs[3].fixed.q_star);
}

TEST_F(TheoryCmd, AnAxisTheTheoryReadsMakesBlocks) {
  const Experiment e = load(R"({"train.lr": [0.1, 0.01], "model.depth": [2, 3]})");
  ASSERT_EQ(e.runs.size(), 12u);
  const TheoryPlan p = theory_plan(e);
  ASSERT_EQ(p.blocks.size(), 2u);
  for (const auto& b : p.blocks) {
    EXPECT_EQ(b.size(), 6u);
    for (size_t i : b) EXPECT_EQ(p.runs[i].layers.chi.size(), p.runs[b[0]].layers.chi.size());
  }
  // Two inits with the same σ_w² (He normal and He uniform: 2) are one configuration to the
  // theory; He's fan_out mode changes layer 1's and the output layer's σ_w²: another block.
  const TheoryPlan h = theory_plan(load(
      R"({"model.init": ["he_normal", "he_uniform", {"name": "he_normal", "mode": "fan_out"}]})"));
  ASSERT_EQ(h.runs.size(), 9u);
  ASSERT_EQ(h.blocks.size(), 2u);
  EXPECT_EQ(h.blocks[0].size(), 6u);
  EXPECT_EQ(h.blocks[1].size(), 3u);
}

TEST_F(TheoryCmd, OnlySelects) {
  const Experiment e =
      load(R"({"train.lr": [0.1, 0.01], "model.depth": [2, 3]})", {"model.depth=3"});
  ASSERT_EQ(e.runs.size(), 6u);
  const TheoryPlan p = theory_plan(e);
  ASSERT_EQ(p.blocks.size(), 1u);
  for (const TheoryRun& t : p.runs) EXPECT_EQ(t.layers.chi.size(), 3u);
}

TEST_F(TheoryCmd, ChainsAreNamedNotComputed) {
  const Experiment e = load(R"({"variants": [
      {"label": "mlp", "model": {"type": "mlp", "depth": 3}},
      {"label": "chain", "model": {"type": "rnn", "length": 5, "inputs": "first_step"}}]})",
                            {}, R"({"width": 16, "activation": "tanh"})");
  const TheoryPlan p = theory_plan(e);
  ASSERT_EQ(p.runs.size(), 6u);
  ASSERT_EQ(p.blocks.size(), 1u);
  EXPECT_EQ(p.blocks[0].size(), 3u);
  for (const TheoryRun& t : p.runs) {
    const bool chain = t.run->config.model.type == ModelType::rnn;
    EXPECT_EQ(t.reason, chain ? "mean-field theory here is for MLPs" : "") << t.run->id;
  }
}

}  // namespace
}  // namespace gl
