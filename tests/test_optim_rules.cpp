// The update rules of torch.optim (harness/nn/optim_rules.h) against steps worked out by hand in
// float64: each rule's equations written out step by step, per value, for the first two steps
// (Adam's three, with its bias corrections at t = 1, 2, 3). Then float32 against float64, the
// returned ‖Δθ‖, the update ratio and the median effective learning rate on closed-form cases.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "harness/core/rng.h"
#include "harness/nn/optim_rules.h"

using namespace gl;

namespace {

constexpr double kTol = 1e-12;
const Vec<double> theta0 = (Vec<double>(3) << 1.0, -2.0, 0.5).finished();
const Vec<double> g1 = (Vec<double>(3) << 0.3, -0.1, 2.0).finished();
const Vec<double> g2 = (Vec<double>(3) << -0.4, 0.2, 1.0).finished();
const Vec<double> g3 = (Vec<double>(3) << 0.1, 0.5, -3.0).finished();

void expect_near(const Vec<double>& got, const Vec<double>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (Index i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], kTol) << what << " [" << i << "]";
}

// Runs spec on theta0 with g1, g2 (and g3 when steps == 3), checking θ after each step.
void check_steps(const OptimizerSpec& spec, const std::vector<Vec<double>>& want) {
  Vec<double> p = theta0;
  OptimizerState<double> st = optimizer_state_make<double>(spec, p.size());
  const Vec<double>* gs[] = {&g1, &g2, &g3};
  for (size_t s = 0; s < want.size(); ++s) {
    optimizer_step(spec, p, *gs[s], st);
    expect_near(p, want[s], s == 0 ? "step 1" : s == 1 ? "step 2" : "step 3");
  }
}

// Adagrad's and RMSprop's common form, ε = 0.25 outside the root: θ1 = θ0 − lr1·g1/(√a1 + ε),
// θ2 = θ1 − lr2·g2/(√a2 + ε), with a1, a2 the accumulator after each step.
std::vector<Vec<double>> eps_outside_root_steps(const Vec<double>& a1, const Vec<double>& a2,
                                                double lr1, double lr2) {
  const Vec<double> t1 = theta0.array() - lr1 * g1.array() / (a1.array().sqrt() + 0.25);
  const Vec<double> t2 = t1.array() - lr2 * g2.array() / (a2.array().sqrt() + 0.25);
  return {t1, t2};
}

}  // namespace

TEST(OptimRules, NamesAndDefaultsArePyTorchs) {
  EXPECT_EQ(enum_name(optimizer_kind_names, OptimizerKind::adamw), "adamw");
  const OptimizerSpec sgd = optimizer_spec_default(OptimizerKind::sgd);
  EXPECT_EQ(sgd.momentum, 0.0);
  EXPECT_EQ(sgd.dampening, 0.0);
  EXPECT_FALSE(sgd.nesterov);
  EXPECT_EQ(sgd.weight_decay, 0.0);
  const OptimizerSpec ada = optimizer_spec_default(OptimizerKind::adagrad);
  EXPECT_EQ(ada.lr, 0.01);
  EXPECT_EQ(ada.eps, 1e-10);
  EXPECT_EQ(ada.lr_decay, 0.0);
  EXPECT_EQ(ada.initial_accumulator_value, 0.0);
  const OptimizerSpec rms = optimizer_spec_default(OptimizerKind::rmsprop);
  EXPECT_EQ(rms.lr, 0.01);
  EXPECT_EQ(rms.alpha, 0.99);
  EXPECT_EQ(rms.eps, 1e-8);
  EXPECT_FALSE(rms.centered);
  EXPECT_EQ(rms.momentum, 0.0);
  const OptimizerSpec adam = optimizer_spec_default(OptimizerKind::adam);
  EXPECT_EQ(adam.lr, 1e-3);
  EXPECT_EQ(adam.beta1, 0.9);
  EXPECT_EQ(adam.beta2, 0.999);
  EXPECT_EQ(adam.eps, 1e-8);
  EXPECT_EQ(adam.weight_decay, 0.0);
  const OptimizerSpec adamw = optimizer_spec_default(OptimizerKind::adamw);
  EXPECT_EQ(adamw.lr, 1e-3);
  EXPECT_EQ(adamw.weight_decay, 0.01);
}

TEST(OptimRules, SgdPlainIsThetaMinusLrG) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::sgd);
  s.lr = 0.1;
  const Vec<double> t1 = theta0 - 0.1 * g1;
  check_steps(s, {t1, Vec<double>(t1 - 0.1 * g2)});
}

// PyTorch: the first step sets v = g (no dampening), later ones v ← μv + (1 − dampening)g.
TEST(OptimRules, SgdMomentumWithDampeningSkipsDampeningOnTheFirstStep) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::sgd);
  s.lr = 0.1;
  s.momentum = 0.9;
  s.dampening = 0.5;
  const Vec<double> v1 = g1;
  const Vec<double> t1 = theta0 - 0.1 * v1;
  const Vec<double> v2 = 0.9 * v1 + 0.5 * g2;
  check_steps(s, {t1, Vec<double>(t1 - 0.1 * v2)});
}

// Nesterov in PyTorch's form: θ ← θ − lr·(g + μv), v already updated with g.
TEST(OptimRules, SgdNesterovStepsAlongGPlusMuV) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::sgd);
  s.lr = 0.1;
  s.momentum = 0.9;
  s.nesterov = true;
  const Vec<double> t1 = theta0 - 0.1 * (g1 + 0.9 * g1);  // v1 = g1
  const Vec<double> v2 = 0.9 * g1 + g2;
  check_steps(s, {t1, Vec<double>(t1 - 0.1 * (g2 + 0.9 * v2))});
}

TEST(OptimRules, SgdWeightDecayAddsLambdaThetaToG) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::sgd);
  s.lr = 0.1;
  s.weight_decay = 0.2;
  const Vec<double> t1 = theta0 - 0.1 * (g1 + 0.2 * theta0);
  check_steps(s, {t1, Vec<double>(t1 - 0.1 * (g2 + 0.2 * t1))});
}

// ε outside the square root (a large ε makes the difference visible), the accumulator starting
// at initial_accumulator_value, and lr_t = lr/(1 + (t − 1)·lr_decay).
TEST(OptimRules, AdagradAccumulatesSquaresWithEpsOutsideTheRoot) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::adagrad);
  s.lr = 0.1;
  s.eps = 0.25;
  s.initial_accumulator_value = 0.5;
  s.lr_decay = 0.1;
  const Vec<double> s1 = 0.5 + g1.array().square();
  const Vec<double> s2 = s1.array() + g2.array().square();
  check_steps(s, eps_outside_root_steps(s1, s2, 0.1, 0.1 / 1.1));
}

TEST(OptimRules, RmspropAveragesSquaresWithEpsOutsideTheRoot) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::rmsprop);
  s.lr = 0.1;
  s.alpha = 0.9;
  s.eps = 0.25;
  const Vec<double> v1 = 0.1 * g1.array().square();
  const Vec<double> v2 = 0.9 * v1.array() + 0.1 * g2.array().square();
  check_steps(s, eps_outside_root_steps(v1, v2, 0.1, 0.1));
}

TEST(OptimRules, RmspropCenteredWithMomentum) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::rmsprop);
  s.lr = 0.1;
  s.alpha = 0.9;
  s.eps = 0.25;
  s.centered = true;
  s.momentum = 0.5;
  Vec<double> t1(3), t2(3);
  for (Index i = 0; i < 3; ++i) {
    const double v1 = 0.1 * g1[i] * g1[i], a1 = 0.1 * g1[i];
    const double b1 = g1[i] / (std::sqrt(v1 - a1 * a1) + 0.25);
    t1[i] = theta0[i] - 0.1 * b1;
    const double v2 = 0.9 * v1 + 0.1 * g2[i] * g2[i], a2 = 0.9 * a1 + 0.1 * g2[i];
    const double b2 = 0.5 * b1 + g2[i] / (std::sqrt(v2 - a2 * a2) + 0.25);
    t2[i] = t1[i] - 0.1 * b2;
  }
  check_steps(s, {t1, t2});
}

// Bias correction: at t = 1, m̂ = g and v̂ = g², so every value moves by lr·g/(|g| + ε).
TEST(OptimRules, AdamThreeStepsWithBiasCorrection) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::adam);
  s.lr = 0.1;
  s.eps = 1e-3;
  Vec<double> t1(3), t2(3), t3(3);
  for (Index i = 0; i < 3; ++i) {
    t1[i] = theta0[i] - 0.1 * g1[i] / (std::abs(g1[i]) + 1e-3);
    const double m1 = 0.1 * g1[i], v1 = 0.001 * g1[i] * g1[i];
    const double m2 = 0.9 * m1 + 0.1 * g2[i], v2 = 0.999 * v1 + 0.001 * g2[i] * g2[i];
    const double mh2 = m2 / (1 - 0.81), vh2 = v2 / (1 - 0.998001);  // 1 − β₁², 1 − β₂²
    t2[i] = t1[i] - 0.1 * mh2 / (std::sqrt(vh2) + 1e-3);
    const double m3 = 0.9 * m2 + 0.1 * g3[i], v3 = 0.999 * v2 + 0.001 * g3[i] * g3[i];
    const double mh3 = m3 / (1 - 0.729), vh3 = v3 / (1 - 0.997002999);  // 1 − β₁³, 1 − β₂³
    t3[i] = t2[i] - 0.1 * mh3 / (std::sqrt(vh3) + 1e-3);
  }
  check_steps(s, {t1, t2, t3});
}

// Adam's weight decay is L2 (λθ enters g, then the moments); AdamW's is decoupled (θ shrinks by
// 1 − lr·λ before an Adam step on the bare g). Two steps of each.
TEST(OptimRules, AdamwDecaysDecoupledWhereAdamAddsL2) {
  OptimizerSpec adam = optimizer_spec_default(OptimizerKind::adam);
  adam.lr = 0.1;
  adam.eps = 1e-3;
  adam.weight_decay = 0.5;
  OptimizerSpec adamw = adam;
  adamw.kind = OptimizerKind::adamw;
  Vec<double> a1(3), a2(3), w1(3), w2(3);
  for (Index i = 0; i < 3; ++i) {
    // adam + L2
    const double ga1 = g1[i] + 0.5 * theta0[i];
    a1[i] = theta0[i] - 0.1 * ga1 / (std::abs(ga1) + 1e-3);
    const double ga2 = g2[i] + 0.5 * a1[i];
    const double m2 = 0.9 * 0.1 * ga1 + 0.1 * ga2;
    const double v2 = 0.999 * 0.001 * ga1 * ga1 + 0.001 * ga2 * ga2;
    a2[i] = a1[i] - 0.1 * (m2 / 0.19) / (std::sqrt(v2 / (1 - 0.998001)) + 1e-3);
    // adamw: θ ← (1 − 0.05)θ, then adam on g
    w1[i] = 0.95 * theta0[i] - 0.1 * g1[i] / (std::abs(g1[i]) + 1e-3);
    const double mw2 = 0.9 * 0.1 * g1[i] + 0.1 * g2[i];
    const double vw2 = 0.999 * 0.001 * g1[i] * g1[i] + 0.001 * g2[i] * g2[i];
    w2[i] = 0.95 * w1[i] - 0.1 * (mw2 / 0.19) / (std::sqrt(vw2 / (1 - 0.998001)) + 1e-3);
  }
  check_steps(adam, {a1, a2});
  check_steps(adamw, {w1, w2});
  EXPECT_GT((a2 - w2).norm(), 1e-3);  // the two decays really differ here
}

// A matrix is stepped value by value like the vector of its values in column-major order, the
// gradient may be an Eigen expression, and the prelu slope (a double) steps like a 1-vector.
TEST(OptimRules, MatrixExpressionAndScalarStepLikeVectors) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::adam);
  Mat<double> p(2, 3), g(2, 3);
  p << 1, 2, 3, 4, 5, 6;
  g << 0.5, -1, 2, 0.25, 3, -4;
  Vec<double> pv = p.reshaped();
  const Vec<double> gv = (2.0 * g).reshaped();
  OptimizerState<double> sm = optimizer_state_make<double>(s, 6), sv = sm;
  for (int k = 0; k < 3; ++k) {
    optimizer_step(s, p, 2.0 * g, sm);
    optimizer_step(s, pv, gv, sv);
  }
  for (Index i = 0; i < 6; ++i) EXPECT_EQ(p.reshaped()[i], pv[i]);

  double slope = 0.25;
  Vec<double> sl = Vec<double>::Constant(1, 0.25);
  OptimizerState<double> ss = optimizer_state_make<double>(s, 1), sl_st = ss;
  for (const double gr : {0.5, -0.1, 0.3}) {
    optimizer_step(s, slope, gr, ss);
    optimizer_step(s, sl, Vec<double>::Constant(1, gr), sl_st);
  }
  EXPECT_EQ(slope, sl[0]);
}

// Five steps of every kind (momentum, Nesterov, weight decay on) in float32 stay within float's
// rounding of the float64 trajectory.
TEST(OptimRules, Float32FollowsFloat64) {
  Rng rng = rng_make(7);
  Mat<double> p0(5, 4);
  std::vector<Mat<double>> gs(5, Mat<double>(5, 4));
  for (Index i = 0; i < p0.size(); ++i) p0.data()[i] = rng_normal(rng);
  for (Mat<double>& g : gs)
    for (Index i = 0; i < g.size(); ++i) g.data()[i] = rng_normal(rng);
  for (size_t k = 0; k < count_of<OptimizerKind>; ++k) {
    OptimizerSpec s = optimizer_spec_default(static_cast<OptimizerKind>(k));
    s.lr = 0.05;
    s.momentum = s.kind == OptimizerKind::sgd || s.kind == OptimizerKind::rmsprop ? 0.9 : 0.0;
    s.nesterov = s.kind == OptimizerKind::sgd;
    s.weight_decay = 0.1;
    Mat<double> pd = p0;
    Mat<float> pf = p0.cast<float>();
    OptimizerState<double> sd = optimizer_state_make<double>(s, pd.size());
    OptimizerState<float> sf = optimizer_state_make<float>(s, pf.size());
    for (const Mat<double>& g : gs) {
      optimizer_step(s, pd, g, sd);
      optimizer_step(s, pf, g.cast<float>(), sf);
    }
    const double err = (pf.cast<double>() - pd).cwiseAbs().maxCoeff();
    EXPECT_LT(err, 1e-5) << optimizer_kind_names[k];
    EXPECT_GT((pd - p0).norm(), 0.01) << optimizer_kind_names[k];  // the parameters did move
  }
}

// The returned ‖Δθ‖ is the norm of the change applied: plain SGD moves by lr·‖g‖ exactly.
TEST(OptimRules, StepReturnsTheNormOfTheChange) {
  OptimizerSpec s = optimizer_spec_default(OptimizerKind::sgd);
  s.lr = 0.5;
  Vec<double> p = Vec<double>::Zero(2);
  const Vec<double> g = (Vec<double>(2) << 3.0, 4.0).finished();  // ‖g‖ = 5
  OptimizerState<double> st = optimizer_state_make<double>(s, 2);
  EXPECT_DOUBLE_EQ(optimizer_step(s, p, g, st), 2.5);

  s = optimizer_spec_default(OptimizerKind::adamw);
  Vec<double> q = theta0, before = theta0;
  OptimizerState<double> sa = optimizer_state_make<double>(s, 3);
  const double d = optimizer_step(s, q, g1, sa);
  EXPECT_NEAR(d, (q - before).norm(), 1e-15);
}

// ‖Δθ‖/‖θ‖: θ = (3, 4) (norm 5) and ‖Δθ‖ = 0.005 give 1e-3; zero θ: 0 if it did not move, +inf
// if it did.
TEST(OptimRules, UpdateRatioOnClosedFormCases) {
  const double p[] = {3.0, 4.0};
  EXPECT_DOUBLE_EQ(update_ratio(0.005, p, 2), 1e-3);
  const float pf[] = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(update_ratio(0.005, pf, 2), 1e-3);
  const double z[] = {0.0, 0.0};
  EXPECT_EQ(update_ratio(0.0, z, 2), 0.0);
  EXPECT_TRUE(std::isinf(update_ratio(1.0, z, 2)));
}

// After one Adam step v̂ = g², so the effective rate of each value is lr/(|g| + ε): over
// |g| = 1, 2, 3, 4, 5 the median is lr/(3 + ε). Even n: the mean of the two middle values.
TEST(OptimRules, EffectiveLrMedianOnClosedFormCases) {
  std::vector<double> scratch;
  OptimizerSpec adam = optimizer_spec_default(OptimizerKind::adam);
  adam.eps = 0.5;
  Vec<double> p = Vec<double>::Zero(5);
  const Vec<double> g = (Vec<double>(5) << 5.0, -1.0, 3.0, 2.0, -4.0).finished();
  OptimizerState<double> sa = optimizer_state_make<double>(adam, 5);
  EXPECT_TRUE(std::isnan(effective_lr_median(adam, sa, scratch)));  // no step yet
  optimizer_step(adam, p, g, sa);
  EXPECT_NEAR(effective_lr_median(adam, sa, scratch), 1e-3 / 3.5, 1e-15);
  // Second step on the same g: v̂ = g² again (v = (1 − β₂²)g², divided by 1 − β₂²).
  optimizer_step(adam, p, g, sa);
  EXPECT_NEAR(effective_lr_median(adam, sa, scratch), 1e-3 / 3.5, 1e-15);

  // adagrad from 0 with lr_decay: after two steps of g, s = 2g², lr_t = lr/(1 + lr_decay).
  OptimizerSpec ada = optimizer_spec_default(OptimizerKind::adagrad);
  ada.lr_decay = 1.0;
  ada.eps = 0.5;
  Vec<double> q = Vec<double>::Zero(4);
  const Vec<double> h = (Vec<double>(4) << 1.0, 2.0, 3.0, 4.0).finished() / std::sqrt(2.0);
  OptimizerState<double> sd = optimizer_state_make<double>(ada, 4);
  optimizer_step(ada, q, h, sd);
  optimizer_step(ada, q, h, sd);  // √s = |g|·√2 = 1, 2, 3, 4
  const double want = 0.5 * (0.005 / 2.5 + 0.005 / 3.5);
  EXPECT_NEAR(effective_lr_median(ada, sd, scratch), want, 1e-15);

  // rmsprop, one step: v = (1 − α)g²; centered subtracts ḡ² = (1 − α)²g².
  OptimizerSpec rms = optimizer_spec_default(OptimizerKind::rmsprop);
  rms.alpha = 0.75;
  rms.eps = 0.5;
  Vec<double> r = Vec<double>::Zero(3);
  const Vec<double> k = (Vec<double>(3) << 2.0, -6.0, 4.0).finished();  // √v = |g|/2
  OptimizerState<double> sr = optimizer_state_make<double>(rms, 3);
  optimizer_step(rms, r, k, sr);
  EXPECT_NEAR(effective_lr_median(rms, sr, scratch), 0.01 / 2.5, 1e-15);
  rms.centered = true;  // v − ḡ² = g²(1/4 − 1/16) = (3/16)g²
  Vec<double> rc = Vec<double>::Zero(3);
  OptimizerState<double> sc = optimizer_state_make<double>(rms, 3);
  optimizer_step(rms, rc, k, sc);
  EXPECT_NEAR(effective_lr_median(rms, sc, scratch), 0.01 / (std::sqrt(3.0) + 0.5), 1e-15);

  OptimizerSpec sgd = optimizer_spec_default(OptimizerKind::sgd);
  EXPECT_TRUE(std::isnan(effective_lr_median(sgd, optimizer_state_make<double>(sgd, 3), scratch)));
}
