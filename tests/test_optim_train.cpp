// The training path's update (harness/nn/optim.h): each optimizer over two or three steps against
// its rule written out by hand in float64, through mlp_params + params_update as the runs call
// them; the rules around it (weight decay, max-norm, value clipping, per-layer multipliers, the
// ramp, LARS, warm-up, schedules, gradient noise), the update ratio and effective rate, the
// checkpointed state, and the columns of a run.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "experiments/checkpoint.h"
#include "harness/nn/optim.h"
#include "tests/test_util.h"

using namespace gl;

namespace {

constexpr double tol = 1e-12;

// One layer 1 → 2 (W: 2×1, b: 2) with written-out values; or two layers 1 → 2 → 1.
Mlp<double> one_layer() {
  Mlp<double> net;
  net.act.kind = Activation::tanh;
  net.layers.resize(1);
  net.layers[0].W.resize(2, 1);
  net.layers[0].W << 0.5, -1.5;
  net.layers[0].b.resize(2);
  net.layers[0].b << 0.25, 0.0;
  return net;
}

MlpGrads<double> grads_one(double a, double b, double c, double d) {
  MlpGrads<double> g;
  g.dW = {Mat<double>(2, 1)};
  g.dW[0] << a, b;
  g.db = {Vec<double>(2)};
  g.db[0] << c, d;
  g.dslope = {0.0};
  return g;
}

Mlp<double> two_layers() {
  Mlp<double> net = one_layer();
  net.layers.resize(2);
  net.layers[1].W.resize(1, 2);
  net.layers[1].W << 2.0, -1.0;
  net.layers[1].b.resize(1);
  net.layers[1].b << 0.5;
  return net;
}

MlpGrads<double> grads_two(double a, double b) {
  MlpGrads<double> g = grads_one(a, b, 0, 0);
  g.dW.push_back(Mat<double>(1, 2));
  g.dW[1] << b, a;
  g.db.push_back(Vec<double>::Zero(1));
  g.dslope.push_back(0.0);
  return g;
}

// The values of net in list order (W_1, b_1, W_2, b_2, ...), flattened.
std::vector<double> flat(const Mlp<double>& net) {
  std::vector<double> v;
  for (const Layer<double>& l : net.layers) {
    v.insert(v.end(), l.W.data(), l.W.data() + l.W.size());
    v.insert(v.end(), l.b.data(), l.b.data() + l.b.size());
  }
  return v;
}

// Runs steps with gradients gs (1-element grads per parameter, in flat order) and checks every
// parameter against rule(θ0, g list, k) for each step.
const double G[3][4] = {{0.5, -2.0, 0.125, 0.0}, {-0.25, 1.0, 0.75, -0.5}, {2.0, 0.5, -1.0, 0.25}};

template <class Rule>
void check_steps(const TrainConfig& tc, Rule rule, int steps = 3) {
  Mlp<double> net = one_layer();
  const std::vector<double> p0 = flat(net);
  Optim<double> o;
  for (int k = 0; k < steps; ++k) {
    MlpGrads<double> g = grads_one(G[k][0], G[k][1], G[k][2], G[k][3]);
    mlp_update(tc, net, g, o, k + 1);
    const std::vector<double> p = flat(net);
    for (size_t i = 0; i < 4; ++i) {
      std::vector<double> gi;
      for (int s = 0; s <= k; ++s) gi.push_back(G[s][i]);
      EXPECT_NEAR(p[i], rule(p0[i], gi), tol) << "step " << k + 1 << " value " << i;
    }
  }
}

}  // namespace

TEST(OptimTrain, SgdMomentumNesterovPyTorchForm) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 0.1, 0.9);
  tc.opt.nesterov = true;
  // v₁ = g₁; θ ← θ − lr(g + μv); v_t = μv + g
  check_steps(tc, [](double p, const std::vector<double>& g) {
    double v = 0;
    for (size_t t = 0; t < g.size(); ++t) {
      v = t == 0 ? g[t] : 0.9 * v + g[t];
      p -= 0.1 * (g[t] + 0.9 * v);
    }
    return p;
  });
}

TEST(OptimTrain, AdamBiasCorrectionAtSteps1And2) {
  const TrainConfig tc = train_of(OptimizerKind::adam, 0.01);
  check_steps(
      tc,
      [](double p, const std::vector<double>& g) {
        if (g.size() >= 1) p -= 0.01 * g[0] / (std::abs(g[0]) + 1e-8);  // t = 1: m̂ = g, v̂ = g²
        if (g.size() >= 2) {
          const double m = 0.9 * 0.1 * g[0] + 0.1 * g[1];
          const double v = 0.999 * 0.001 * g[0] * g[0] + 0.001 * g[1] * g[1];
          p -= 0.01 * (m / (1 - 0.81)) / (std::sqrt(v / (1 - 0.999 * 0.999)) + 1e-8);
        }
        return p;
      },
      2);
}

TEST(OptimTrain, AdamWDecaysDecoupled) {
  TrainConfig tc = train_of(OptimizerKind::adamw, 0.01);
  tc.opt.weight_decay = 0.5;
  check_steps(
      tc,
      [](double p, const std::vector<double>& g) {
        return p * (1 - 0.01 * 0.5) - 0.01 * g[0] / (std::abs(g[0]) + 1e-8);
      },
      1);
}

TEST(OptimTrain, AdagradAccumulates) {
  const TrainConfig tc = train_of(OptimizerKind::adagrad, 0.1);
  check_steps(tc, [](double p, const std::vector<double>& g) {
    double s = 0;
    for (double gt : g) {
      s += gt * gt;
      p -= 0.1 * gt / (std::sqrt(s) + 1e-10);
    }
    return p;
  });
}

TEST(OptimTrain, RmspropSmoothsTheSquare) {
  const TrainConfig tc = train_of(OptimizerKind::rmsprop, 0.01);
  check_steps(tc, [](double p, const std::vector<double>& g) {
    double v = 0;
    for (double gt : g) {
      v = 0.99 * v + 0.01 * gt * gt;
      p -= 0.01 * gt / (std::sqrt(v) + 1e-8);
    }
    return p;
  });
}

TEST(OptimTrain, WeightDecayEntersTheGradient) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 0.1);
  tc.opt.weight_decay = 0.2;
  check_steps(tc, [](double p, const std::vector<double>& g) {
    for (double gt : g) p -= 0.1 * (gt + 0.2 * p);
    return p;
  });
}

// Value clipping clamps each entry before the step: [0.5, −2, 0.125, 0] → [0.5, −1, 0.125, 0].
TEST(OptimTrain, ValueClippingClampsEachEntry) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 0.1);
  tc.clip_value = 1.0;
  Optim<double> o;
  Mlp<double> net = one_layer();
  const std::vector<double> p0 = flat(net);
  MlpGrads<double> g = grads_one(0.5, -2.0, 0.125, 0.0);
  mlp_params(net, g, o);
  optim_make(tc, o, 0);
  grads_perturb(tc, o, 1);
  params_update(tc, o, 1, 1.0);
  const std::vector<double> p = flat(net);
  const double want[4] = {0.5, -1.0, 0.125, 0.0};
  for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(p[i], p0[i] - 0.1 * want[i], tol) << i;
}

// Max-norm: each row of W (a unit's incoming weights) is scaled back to norm c after the step;
// biases are left alone. Rows of W_2 = [2, −1] (norm √5) → [2, −1]/√5·c.
TEST(OptimTrain, MaxNormProjectsEachUnitsIncomingWeights) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 1e-3);
  tc.max_norm = 1.0;
  Mlp<double> net = two_layers();
  net.layers[1].b << 5.0;
  MlpGrads<double> g = grads_two(0, 0);
  Optim<double> o;
  mlp_update(tc, net, g, o, 1);
  EXPECT_NEAR(net.layers[1].W(0, 0), 2 / std::sqrt(5.0), tol);
  EXPECT_NEAR(net.layers[1].W(0, 1), -1 / std::sqrt(5.0), tol);
  EXPECT_NEAR(net.layers[0].W(0, 0), 0.5, tol);   // |0.5| ≤ 1: unchanged
  EXPECT_NEAR(net.layers[0].W(1, 0), -1.0, tol);  // |−1.5| → 1
  EXPECT_EQ(net.layers[1].b(0), 5.0);
}

// lr_layers multiplies each layer's rate; the ramp r gives layer l of L + 1 = 2 the rate
// r^(2 − l): layer 1 r, layer 2 1.
TEST(OptimTrain, LayerMultipliersAndRamp) {
  for (const bool ramp : {false, true}) {
    TrainConfig tc = train_of(OptimizerKind::sgd, 0.1);
    if (ramp)
      tc.lr_ramp = 3.0;
    else
      tc.lr_layers = {3.0, 0.5};
    const double m1 = 3.0, m2 = ramp ? 1.0 : 0.5;
    Mlp<double> net = two_layers();
    const Mlp<double> n0 = net;
    MlpGrads<double> g = grads_two(1.0, -2.0);
    Optim<double> o;
    mlp_update(tc, net, g, o, 1);
    EXPECT_NEAR(net.layers[0].W(1, 0), n0.layers[0].W(1, 0) - 0.1 * m1 * -2.0, tol);
    EXPECT_NEAR(net.layers[1].W(0, 0), n0.layers[1].W(0, 0) - 0.1 * m2 * -2.0, tol);
    EXPECT_NEAR(*optim_stats(tc, o, optim_weight_of(o, 0)).effective_lr, 0.1 * m1, tol);
    EXPECT_NEAR(*optim_stats(tc, o, optim_weight_of(o, 1)).effective_lr, 0.1 * m2, tol);
  }
  TrainConfig tc;
  tc.lr_ramp = 2.0;
  EXPECT_EQ(lr_multiplier(tc, 0, 4), 8.0);  // layer 1 of L + 1 = 4: 2³
  EXPECT_EQ(lr_multiplier(tc, 3, 4), 1.0);  // the output layer
}

// LARS: layer l's rate is lr·η‖W_l‖/(‖∇W_l‖ + λ‖W_l‖). W_1 = [0.5, −1.5], g = [3, 4]: τ =
// η·√2.5/(5 + λ√2.5).
TEST(OptimTrain, LarsTrustRatio) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 0.1);
  tc.lars = 0.01;
  tc.opt.weight_decay = 0.1;
  Mlp<double> net = one_layer();
  MlpGrads<double> g = grads_one(3.0, 4.0, 0.0, 0.0);
  Optim<double> o;
  mlp_update(tc, net, g, o, 1);
  const double w = std::sqrt(2.5), tau = 0.01 * w / (5.0 + 0.1 * w);
  EXPECT_NEAR(net.layers[0].W(0, 0), 0.5 - 0.1 * tau * (3.0 + 0.1 * 0.5), tol);
  EXPECT_NEAR(o.lr[0], 0.1 * tau, tol);
}

// Warm-up: t/K for t < K; step: γ^⌊(t−1)/s⌋; cosine from lr at t = 1 to eta_min.
TEST(OptimTrain, WarmupAndSchedules) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 0.1);
  tc.steps = 100;
  EXPECT_EQ(lr_factor(tc, 1), 1.0);
  tc.warmup = 4;
  EXPECT_EQ(lr_factor(tc, 1), 0.25);
  EXPECT_EQ(lr_factor(tc, 3), 0.75);
  EXPECT_EQ(lr_factor(tc, 4), 1.0);
  tc.warmup = 0;
  tc.schedule.kind = LrSchedule::step;
  tc.schedule.step_size = 10;
  tc.schedule.gamma = 0.5;
  EXPECT_EQ(lr_factor(tc, 10), 1.0);
  EXPECT_EQ(lr_factor(tc, 11), 0.5);
  EXPECT_EQ(lr_factor(tc, 21), 0.25);
  tc.schedule.kind = LrSchedule::cosine;
  tc.schedule.eta_min = 0.02;
  EXPECT_NEAR(lr_factor(tc, 1), 1.0, tol);
  EXPECT_NEAR(lr_factor(tc, 51), 0.2 + 0.8 * 0.5, tol);  // π/2: halfway
  EXPECT_NEAR(0.1 * lr_factor(tc, 101), 0.02, tol);      // T_max = steps
  // the rate reaches the update: a warm-up step moves θ by lr·t/K·g
  tc.schedule.kind = LrSchedule::constant;
  tc.warmup = 4;
  Mlp<double> net = one_layer();
  MlpGrads<double> g = grads_one(1.0, 0.0, 0.0, 0.0);
  Optim<double> o;
  EXPECT_NEAR(mlp_update(tc, net, g, o, 1), 0.025, tol);
  EXPECT_NEAR(net.layers[0].W(0, 0), 0.5 - 0.025, tol);
}

// Gradient noise: on a zero gradient the injected values have mean 0 and variance η/(1 + t)^γ
// (t = step − 1); the same seed and step give the same draws, another step or seed others.
TEST(OptimTrain, GradientNoiseStatisticsAndReproducibility) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 0.1);
  tc.noise_eta = 0.3;
  const Index n = 200'000;
  const auto draws = [&](uint64_t seed, int64_t step) {
    Mlp<double> net;
    net.layers.resize(1);
    net.layers[0].W = Mat<double>::Zero(n, 1);
    net.layers[0].b = Vec<double>::Zero(1);
    MlpGrads<double> g;
    g.dW = {Mat<double>::Zero(n, 1)};
    g.db = {Vec<double>::Zero(1)};
    g.dslope = {0.0};
    Optim<double> o;
    mlp_params(net, g, o);
    optim_make(tc, o, seed);
    grads_perturb(tc, o, step);
    return Vec<double>(g.dW[0].col(0));
  };
  const Vec<double> a = draws(7, 5);
  const double var = 0.3 / std::pow(5.0, 0.55), N = static_cast<double>(n);
  const double mean = a.mean(), v = (a.array() - mean).square().sum() / (N - 1);
  EXPECT_LT(std::abs(mean), 5 * std::sqrt(var / N));
  EXPECT_LT(std::abs(v / var - 1), 5 * std::sqrt(2 / N));  // the variance's standard error
  EXPECT_EQ(draws(7, 5), a);
  EXPECT_NE(draws(7, 6), a);
  EXPECT_NE(draws(8, 5), a);
}

// The update ratio ‖ΔW‖/‖W‖ (W after the step) and its mean over the steps since the last
// probe. W_1 = [0.5, −1.5], g = [1, 0], lr 0.5: ΔW = [−0.5, 0], W = [0, −1.5]: ratio 1/3.
TEST(OptimTrain, UpdateRatioOnAHandCase) {
  TrainConfig tc = train_of(OptimizerKind::sgd, 0.5);
  Mlp<double> net = one_layer();
  Optim<double> o;
  MlpGrads<double> g = grads_one(1.0, 0.0, 0.0, 0.0);
  mlp_update(tc, net, g, o, 1);
  const int k = optim_weight_of(o, 0);
  EXPECT_NEAR(*optim_stats(tc, o, k).ratio, 1.0 / 3.0, tol);
  g = grads_one(0.0, -1.0, 0.0, 0.0);  // ΔW = [0, 0.5], W = [0, −1]: ratio 1/2
  mlp_update(tc, net, g, o, 2);
  const UpdateStats u = optim_stats(tc, o, k);
  EXPECT_NEAR(*u.ratio, 0.5, tol);
  EXPECT_NEAR(*u.ratio_mean, (1.0 / 3.0 + 0.5) / 2, tol);
  EXPECT_NEAR(*u.effective_lr, 0.5, tol);
  optim_probe_reset(o);
  EXPECT_FALSE(optim_stats(tc, o, k).ratio_mean.has_value());
  Optim<double> fresh;  // no step yet: every value empty
  mlp_params(net, g, fresh);
  optim_make(tc, fresh, 0);
  EXPECT_FALSE(optim_stats(tc, fresh, k).ratio.has_value());
}

// Adam's effective rate after one step: v̂ = g², so lr/(|g| + ε), the median over W's entries.
TEST(OptimTrain, AdamEffectiveRateIsTheMedian) {
  const TrainConfig tc = train_of(OptimizerKind::adam, 0.01);
  Mlp<double> net = one_layer();
  Optim<double> o;
  MlpGrads<double> g = grads_one(0.5, -2.0, 0.0, 0.0);
  mlp_update(tc, net, g, o, 1);
  const double want = 0.5 * (0.01 / (0.5 + 1e-8) + 0.01 / (2.0 + 1e-8));
  EXPECT_NEAR(*optim_stats(tc, o, 0).effective_lr, want, tol);
}

// The checkpointed state continues exactly: three steps, save, restore into a fresh Optim, three
// more, against six uninterrupted steps, for every optimizer.
TEST(OptimTrain, StateRoundTripsThroughCheckpoints) {
  for (size_t k = 0; k < count_of<OptimizerKind>; ++k) {
    TrainConfig tc = train_of(static_cast<OptimizerKind>(k), 0.05);
    if (tc.opt.kind == OptimizerKind::sgd || tc.opt.kind == OptimizerKind::rmsprop)
      tc.opt.momentum = 0.5;
    tc.noise_eta = 0.01;
    const auto step = [&](Mlp<double>& net, Optim<double>& o, int64_t t) {
      MlpGrads<double> g = grads_two(std::sin(static_cast<double>(t)), 0.5);
      mlp_params(net, g, o);
      if (o.state.empty()) optim_make(tc, o, 3);
      grads_perturb(tc, o, t);
      params_update(tc, o, t, 1.0);
    };
    Mlp<double> a = two_layers(), b = two_layers();
    Optim<double> oa, ob;
    for (int64_t t = 1; t <= 3; ++t) step(a, oa, t), step(b, ob, t);
    Ckpt w;
    optim_io(w, ob);
    Optim<double> oc;
    MlpGrads<double> g0 = grads_two(0, 0);
    mlp_params(b, g0, oc);
    optim_make(tc, oc, 3);
    Ckpt r{w.buf, 0, false};
    optim_io(r, oc);
    for (int64_t t = 4; t <= 6; ++t) step(a, oa, t), step(b, oc, t);
    EXPECT_EQ(flat(a), flat(b)) << optimizer_kind_names[k];
  }
}
