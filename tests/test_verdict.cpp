// The verdict (docs/reference.md §4.4): the rule on the ratio and the per-layer factor, its
// thresholds from probe.verdict, the final_* verdict of a run's last probe against the rows it
// was computed from, the theory's per-layer factor the console shows, and the progress text of a
// training run (with fake clocks).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "experiments/console.h"
#include "experiments/run.h"
#include "tests/test_util.h"

using namespace gl;

namespace {

RunSpec spec_of(const std::string& text) { return run_spec_of(text, 21, 22); }

const VerdictThresholds defaults{};

}  // namespace

TEST(Verdict, RuleOnRatioAndPerLayerFactor) {
  struct Case {
    double ratio;
    std::optional<double> factor;
    double top;
    const char* want;
  };
  const double inf = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      {1.0, 1.0, 0.0, "dead"},  // delta_norm(L) = 0 first
      {nan_v, nan_v, 1.0, "nonfinite"},
      {inf, inf, 0.5, "nonfinite"},
      {0.009, 0.9, 1.0, "vanishing"},  // the ratio alone
      {0.2, 0.04, 1.0, "vanishing"},  // the factor alone: depth 2, 96% of ‖δ‖² lost per layer
      {0.2, 0.25, 1.0, "stable"},     // thresholds are strict
      {0.2, std::nullopt, 1.0, "stable"},  // L = 1: only the ratio applies
      {101.0, 1.1, 1.0, "exploding"},
      {3.0, 9.0, 1.0, "exploding"},
      {1.35, 1.02, 1.0, "stable"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(verdict_of(c.ratio, c.factor, c.top, defaults), c.want)
        << c.ratio << " " << c.factor.value_or(-1);
  VerdictThresholds t;
  t.vanishing_factor = 0.01;
  t.exploding_ratio = 2.0;
  EXPECT_EQ(verdict_of(0.2, 0.04, 1.0, t), "stable");
  EXPECT_EQ(verdict_of(3.0, 1.5, 1.0, t), "exploding");
}

TEST(Verdict, GradientVerdictFactorIsTheRatiosPower) {
  const GradientVerdict g = gradient_verdict(0.5, 2.0, 3, defaults);  // ratio 1/4, L = 3
  EXPECT_EQ(g.ratio, 0.25);
  EXPECT_DOUBLE_EQ(*g.factor, 0.25);  // (1/4)^(2/2)
  EXPECT_EQ(g.verdict, "stable");
  EXPECT_FALSE(gradient_verdict(0.5, 2.0, 1, defaults).factor.has_value());
}

// The issue's case: a depth-2 sigmoid net at initialization loses ~95% of ‖δ‖² per layer
// (χ ≈ 0.056) while its ratio ‖δ_1‖/‖δ_2‖ ≈ 0.24 is well above 1e-2: "vanishing", not "stable"
// (main's rule looked at the ratio only). per_layer_factor = ratio² exactly for L = 2.
TEST(Verdict, ShallowSigmoidNetIsVanishing) {
  const std::string net = R"("model": {"depth": 2, "width": 256, "activation": "sigmoid",
      "init": "glorot_standard"}, "data": {"name": "gaussian", "dim": 64, "classes": 4})";
  const RunResult res = run_execute(spec_of("{" + net + R"(, "probe": {"samples": 64}})"), "");
  ASSERT_EQ(res.status, "ok") << res.reason;
  const json& sm = res.summary;
  const double ratio = sm["gradient_ratio"].get<double>();
  EXPECT_GT(ratio, 1e-2);
  EXPECT_DOUBLE_EQ(sm["per_layer_factor"].get<double>(), ratio * ratio);
  EXPECT_LT(sm["per_layer_factor"].get<double>(), 0.1);
  EXPECT_EQ(sm["verdict"], "vanishing");
  // No training: the final quantities are the step-0 ones.
  EXPECT_EQ(sm["final_gradient_ratio"], sm["gradient_ratio"]);
  EXPECT_EQ(sm["final_per_layer_factor"], sm["per_layer_factor"]);
  EXPECT_EQ(sm["final_verdict"], "vanishing");

  // A config's own threshold: the same net is "stable" when the factor may fall to 0.01.
  const RunResult lax = run_execute(
      spec_of("{" + net + R"(, "probe": {"samples": 64, "verdict": {"vanishing_factor": 0.01}}})"),
      "");
  EXPECT_EQ(lax.summary["verdict"], "stable");
  EXPECT_EQ(lax.summary["final_verdict"], "stable");
}

// final_* come from the last probe's rows: delta_norm(1)/delta_norm(L) at the last step.
TEST(Verdict, FinalVerdictIsTheLastProbes) {
  const RunResult res = run_execute(spec_of(R"({"model": {"depth": 4, "width": 16,
      "activation": "tanh"}, "data": {"name": "gaussian", "dim": 8, "classes": 3},
      "train": {"steps": 30, "lr": 0.5}, "probe": {"samples": 16, "every": 10}})"),
                                    "");
  ASSERT_EQ(res.status, "ok") << res.reason;
  const int64_t last = res.steps.back().step;
  ASSERT_EQ(last, 30);
  double d1 = 0, dL = 0;
  for (const LayerRow& r : res.layers) {
    if (r.step != last) continue;
    if (r.layer == 1) d1 = r.delta_norm;
    if (r.layer == 4) dL = r.delta_norm;
  }
  const json& sm = res.summary;
  EXPECT_EQ(sm["final_gradient_ratio"].get<double>(), d1 / dL);
  EXPECT_DOUBLE_EQ(sm["final_per_layer_factor"].get<double>(), std::pow(d1 / dL, 2.0 / 3));
  EXPECT_EQ(sm["final_verdict"], verdict_of(d1 / dL, std::pow(d1 / dL, 2.0 / 3), dL, defaults));
  EXPECT_NE(sm["final_gradient_ratio"], sm["gradient_ratio"]);  // training moved it
}

// A chain with the loss at the last step only: final_gradient_ratio is dz_norm(t = 1)/dz_norm(T)
// of the last probe's timesteps rows.
TEST(Verdict, ChainFinalVerdictIsTheLastProbes) {
  const RunResult res = run_execute(spec_of(R"({"model": {"type": "rnn", "width": 12,
      "length": 9, "activation": "tanh"}, "data": {"name": "gaussian", "dim": 4, "classes": 3},
      "train": {"steps": 12, "lr": 0.3}, "probe": {"samples": 8, "every": 6}})"),
                                    "");
  ASSERT_EQ(res.status, "ok") << res.reason;
  const TimestepRow& first = res.timesteps[res.timesteps.size() - 9];
  const TimestepRow& lastt = res.timesteps.back();
  ASSERT_EQ(first.step, 12);
  ASSERT_EQ(first.t, 1);
  const double ratio = first.dz_norm / lastt.dz_norm;
  const json& sm = res.summary;
  EXPECT_NEAR(sm["final_gradient_ratio"].get<double>(), ratio, 1e-12 * ratio);
  EXPECT_NEAR(sm["final_per_layer_factor"].get<double>(), std::pow(ratio, 2.0 / 8),
              1e-12 * std::pow(ratio, 2.0 / 8));
  EXPECT_TRUE(sm["final_verdict"].is_string());
  EXPECT_NE(sm["final_gradient_ratio"], sm["gradient_ratio"]);
}

// A run that diverges while training: its final verdict is "nonfinite", whatever the ratio of
// the diverged probe.
TEST(Verdict, DivergedRunsFinalVerdictIsNonfinite) {
  const RunResult res = run_execute(spec_of(R"({"model": {"depth": 3, "width": 16,
      "activation": "relu", "init": "he_normal"}, "data": {"name": "gaussian", "dim": 8,
      "outputs": 2}, "loss": "mse", "train": {"steps": 200, "lr": 1e6},
      "probe": {"samples": 8, "every": 100}})"),
                                    "");
  ASSERT_EQ(res.status, "diverged") << res.reason;
  EXPECT_EQ(res.summary["final_verdict"], "nonfinite");
  EXPECT_EQ(res.summary["verdict"], "stable");  // step 0 is unchanged
}

// The console's theory per-layer factor: the geometric mean of theory_delta_factor over layers
// 1..L−1, as per_layer_factor is of delta_factor.
TEST(Verdict, TheoryPerLayerFactorIsTheGeometricMean) {
  std::vector<LayerRow> rows(4);
  const double chi[] = {0.5, 8.0, 3.0};  // layers 1..L = 3; layer 4 is the output
  for (int l = 0; l < 4; ++l) {
    rows[static_cast<size_t>(l)].layer = l + 1;
    if (l < 3) rows[static_cast<size_t>(l)].theory_delta_factor = chi[l];
  }
  EXPECT_DOUBLE_EQ(theory_per_layer_factor(rows).get<double>(), 2.0);  // sqrt(0.5 · 8)
  rows[1].theory_delta_factor.reset();                                 // theory does not apply
  rows[2].theory_delta_factor.reset();
  rows[0].theory_delta_factor.reset();
  EXPECT_TRUE(theory_per_layer_factor(rows).is_null());
  std::vector<LayerRow> one(2);  // L = 1: no factor
  one[0].layer = 1, one[0].theory_delta_factor = 0.5, one[1].layer = 2;
  EXPECT_TRUE(theory_per_layer_factor(one).is_null());
}

// ---- progress inside a run (docs/reference.md §2), on fake clocks ----

TEST(Progress, RateAndEtaFromTheRunsOwnSteps) {
  struct Case {
    int64_t step, total;
    double loss;
    int64_t start_step;
    double start_s, now_s;
    const char* want;
  };
  const Case cases[] = {
      // 100 steps in 10 s: 10 steps/s, 400 to go: 40 s.
      {100, 500, 0.69314, 0, 10.0, 20.0, "step 100/500, loss 0.6931, 10 steps/s, ETA 40.0s"},
      // Resumed at step 200: only this process's 100 steps in 4 s count; 2000 to go at 25/s.
      {300, 2300, 1.5, 200, 100.0, 104.0, "step 300/2300, loss 1.5, 25 steps/s, ETA 1m20s"},
      // Before the first step: nothing to measure.
      {200, 500, 0.0, 200, 5.0, 5.0, "step 200/500, loss ?, ? steps/s, ETA ?"},
      {500, 500, 0.25, 0, 0.0, 2.0, "step 500/500, loss 0.25, 250 steps/s, ETA 0.00s"},
      // Rates: whole numbers from 100 on, else 3 significant digits.
      {1090, 3000, 1.394, 0, 0.0, 1.01, "step 1090/3000, loss 1.394, 1079 steps/s, ETA 1.77s"},
      {3, 3000, 2.0, 0, 0.0, 4.0, "step 3/3000, loss 2, 0.75 steps/s, ETA 1h06m"},
  };
  for (const Case& c : cases)
    EXPECT_EQ(train_progress_text(c.step, c.total, c.loss, c.start_step, c.start_s, c.now_s),
              c.want);
}

TEST(Progress, IntervalFromTheEnvironment) {
  unsetenv("GRADLAB_PROGRESS_INTERVAL");
  EXPECT_EQ(progress_interval(), 10.0);
  setenv("GRADLAB_PROGRESS_INTERVAL", "0.25", 1);
  EXPECT_EQ(progress_interval(), 0.25);
  for (const char* bad : {"x", "0", "-1", "2s", ""}) {
    setenv("GRADLAB_PROGRESS_INTERVAL", bad, 1);
    EXPECT_EQ(progress_interval(), 10.0) << bad;
  }
  unsetenv("GRADLAB_PROGRESS_INTERVAL");
}

// A training run reports every step to its TrainProgress: the last step and its clock's start.
TEST(Progress, TrainingRunReportsItsSteps) {
  TrainProgress p;
  const RunResult res = run_execute(spec_of(R"({"model": {"depth": 2, "width": 8},
      "data": {"name": "gaussian", "dim": 4, "classes": 2}, "train": {"steps": 7},
      "probe": {"samples": 4, "every": 5}})"),
                                    "", &p);
  ASSERT_EQ(res.status, "ok") << res.reason;
  EXPECT_EQ(p.total.load(), 7);
  EXPECT_EQ(p.step.load(), 7);
  EXPECT_EQ(p.start_step.load(), 0);
  EXPECT_GT(p.start_s.load(), 0.0);
  EXPECT_TRUE(std::isfinite(p.loss.load()));
}
