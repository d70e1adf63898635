// The cost estimate of a run (harness/core/cost.h) for chains: BPTT keeps h_t, z_t, φ'(z_t),
// ∂ℓ/∂h_t and δ_t for every step and example (≈ 5·T·H·N values, 7 with loss_at every_step),
// addition's training sequences are up to 1.1·L long, and a chain far beyond any machine is flagged
// before anything is allocated (the sweep refuses it: tests/e2e/bad_input.sh over_memory_rnn).
#include <gtest/gtest.h>

#include "harness/core/config.h"
#include "harness/core/cost.h"

namespace gl {
namespace {

Config config_of(const std::string& text) {
  std::vector<ConfigIssue> issues;
  Config c = config_from_json(json::parse(text), issues);
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
  return c;
}

// The activations BPTT must hold for n sequences of length T: h_0..h_T, z, φ', ∂ℓ/∂h, δ.
double bptt_bytes(double word, double k, double T, double H, double n) {
  return word * k * T * H * n;
}

TEST(Cost, RnnProbeCachesAreFiveValuesPerStepUnitAndExample) {
  const Config c = config_of(R"({"model": {"type": "rnn", "width": 64, "length": 200},
      "data": {"name": "gaussian", "dim": 4, "outputs": 2}, "loss": "mse",
      "probe": {"samples": 1000}})");
  const double caches = bptt_bytes(8, 5, 200, 64, 1000);  // 512 MB
  const double bytes = run_cost(c).bytes;
  EXPECT_GE(bytes, caches);
  EXPECT_LE(bytes, 1.05 * caches);  // the rest (parameters, x, the batch's caches) is small here

  Config f = c;  // float32 halves it
  f.precision = Precision::float32;
  EXPECT_NEAR(run_cost(f).bytes / bytes, 0.5, 0.01);
}

TEST(Cost, RnnEveryStepLossKeepsASecondBackward) {
  const std::string base = R"({"model": {"type": "rnn", "width": 64, "length": 200, "loss_at": "%"},
      "data": {"name": "gaussian", "dim": 4, "outputs": 2}, "loss": "mse",
      "probe": {"samples": 1000}})";
  auto with = [&](const char* loss_at) {
    std::string s = base;
    s.replace(s.find('%'), 1, loss_at);
    return run_cost(config_of(s)).bytes;
  };
  const double last = with("last"), every = with("every_step");
  EXPECT_GE(every, bptt_bytes(8, 7, 200, 64, 1000));
  EXPECT_NEAR(every / last, 7.0 / 5.0, 0.05);
}

TEST(Cost, AdditionTrainsOnSequencesUpTo1Point1TimesLonger) {
  // A batch of 100 and a probe set of 1: the training batch's caches dominate.
  auto bytes = [](const char* task) {
    return run_cost(config_of(std::string(
                                  R"({"model": {"type": "rnn", "width": 64}, "data": {"name": ")") +
                              task +
                              R"(", "length": 1000, "test_samples": 10},
        "train": {"steps": 1, "batch_size": 100}, "probe": {"samples": 1}})"))
        .bytes;
  };
  const double add = bytes("addition"), order = bytes("temporal_order");
  EXPECT_GE(add, bptt_bytes(8, 5, 1100, 64, 100));
  EXPECT_GE(order, bptt_bytes(8, 5, 1000, 64, 100));
  EXPECT_LT(order, bptt_bytes(8, 5, 1100, 64, 100));
  EXPECT_NEAR(add / order, 1.1, 0.03);
}

TEST(Cost, HugeRnnIsFlaggedAndPascanusSettingIsNot) {
  // width 100000: W alone is 80 GB in float64, and BPTT over 1000 steps of 300 probe sequences
  // needs 5·1000·100000·300 values (1.2 TB): no machine running the tests has that.
  const Config huge = config_of(R"({"model": {"type": "rnn", "width": 100000},
      "data": {"name": "temporal_order", "length": 1000}})");
  const RunCost h = run_cost(huge);
  EXPECT_GE(h.bytes, bptt_bytes(8, 5, 1000, 100000, 300));
  EXPECT_GE(h.bytes, 1e12);
  const double avail = memory_available();
  ASSERT_GT(avail, 0) << "no MemAvailable in /proc/meminfo";
  EXPECT_GT(h.bytes, 0.9 * avail);  // the sweep's refusal rule (experiments/sweep.cpp)

  // Pascanu 2013 §4.1: 50 tanh units, L = 50, minibatch 20, 10,000 test sequences.
  const Config small = config_of(R"({"model": {"type": "rnn", "width": 50},
      "data": {"name": "temporal_order", "length": 50, "test_samples": 10000},
      "train": {"steps": 60000, "batch_size": 20, "clip_norm": 1}, "probe": {"every": 5000}})");
  const RunCost s = run_cost(small);
  EXPECT_GE(s.bytes, bptt_bytes(8, 5, 50, 50, 300));
  EXPECT_LT(s.bytes, 100e6);
  EXPECT_LT(s.bytes, 0.9 * avail);
  // 60000 updates of 20 sequences: forward + backward ≈ 6·(H² + H·in)·T per sequence.
  const double train = 6.0 * (50.0 * 50 + 50 * 6) * 50 * 20 * 60000;
  EXPECT_GE(s.flops, train);
  EXPECT_LT(s.flops, 3 * train);
}

TEST(Cost, FirstStepChainsHoldOneInputBlock) {
  // x enters at t = 1 only: a wide input costs one block, not T.
  auto bytes = [](const char* inputs) {
    return run_cost(config_of(std::string(R"({"model": {"type": "rnn", "width": 8, "length": 100,
        "inputs": ")") + inputs +
                              R"("}, "data": {"name": "gaussian", "dim": 10000, "classes": 2},
        "probe": {"samples": 100}})"))
        .bytes;
  };
  const double x_every = 8.0 * 10000 * 100 * 100;  // in·T·N of the probe set
  EXPECT_GE(bytes("every_step"), x_every);
  EXPECT_LT(bytes("first_step"), x_every / 10);
}

}  // namespace
}  // namespace gl
