// Training: the SGD update (harness/nn/optim.h) against numbers computed by hand, momentum against
// its closed form, the prelu slope gradient against central finite differences, global-norm
// clipping, a short run that learns an easy problem, and the probe schedule (probes at the
// scheduled steps and nowhere else, without disturbing training). The output rows: headers and
// cells from their field lists, checkpoints that carry every field, and refused checkpoints of
// another format.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>

#include "experiments/checkpoint.h"
#include "experiments/run.h"
#include "experiments/tables.h"
#include "harness/core/io.h"
#include "harness/data/data.h"
#include "harness/measure/metrics.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/optim.h"
#include "tests/test_util.h"

using namespace gl;

namespace {

RunSpec spec_of(const std::string& text) { return run_spec_of(text, 11, 12); }

RunResult run_in_temp(const RunSpec& s, const std::string& name) {
  const std::string dir = testing::TempDir() + "gradlab_train_" + name;
  std::filesystem::create_directories(dir);
  RunResult res = run_execute(s, dir);
  std::filesystem::remove_all(dir);
  return res;
}

// 2 inputs → 2 tanh units → 1 output, weights written out.
Mlp<double> tiny_net() {
  Mlp<double> net;
  net.act.kind = Activation::tanh;
  net.layers.resize(2);
  net.layers[0].W.resize(2, 2);
  net.layers[0].W << 0.5, -0.3, 0.2, 0.8;
  net.layers[0].b.resize(2);
  net.layers[0].b << 0.1, -0.2;
  net.layers[1].W.resize(1, 2);
  net.layers[1].W << 0.7, -0.4;
  net.layers[1].b.resize(1);
  net.layers[1].b << 0.05;
  return net;
}

// Fabricated gradients with the shapes of tiny_net (values chosen, not computed).
MlpGrads<double> grads_of(double a, double b, double c) {
  MlpGrads<double> g;
  g.dW = {Mat<double>(2, 2), Mat<double>(1, 2)};
  g.dW[0] << a, b, c, -a;
  g.dW[1] << b, -c;
  g.db = {Vec<double>(2), Vec<double>(1)};
  g.db[0] << c, a;
  g.db[1] << -b;
  g.dslope = {0.5 * a, 0.0};
  return g;
}

}  // namespace

// One SGD step (batch 2, mse, no momentum) on the tiny net; the gradient is written out with
// scalar loops from the chain rule: ŷ = w2·tanh(W1 x + b1) + b2, ℓ = ½(ŷ − y)², L = mean ℓ.
TEST(Train, OneStepMatchesTheHandComputedUpdate) {
  const double x[2][2] = {{1.0, -2.0}, {0.5, 0.25}};  // x[i] = example i
  const double y[2] = {0.3, -0.6};
  const double lr = 0.1;
  Mlp<double> net = tiny_net();
  const Mlp<double> before = net;

  // By hand.
  double W1[2][2] = {{0.5, -0.3}, {0.2, 0.8}}, b1[2] = {0.1, -0.2}, w2[2] = {0.7, -0.4}, b2 = 0.05;
  double gW1[2][2] = {}, gb1[2] = {}, gw2[2] = {}, gb2 = 0;
  for (int i = 0; i < 2; ++i) {
    double h[2];
    for (int j = 0; j < 2; ++j) h[j] = std::tanh(W1[j][0] * x[i][0] + W1[j][1] * x[i][1] + b1[j]);
    const double e = w2[0] * h[0] + w2[1] * h[1] + b2 - y[i];  // ∂ℓ_i/∂ŷ
    gb2 += e / 2;
    for (int j = 0; j < 2; ++j) {
      gw2[j] += e * h[j] / 2;
      const double d = e * w2[j] * (1 - h[j] * h[j]);  // δ_1 of unit j
      gb1[j] += d / 2;
      for (int k = 0; k < 2; ++k) gW1[j][k] += d * x[i][k] / 2;
    }
  }
  for (int j = 0; j < 2; ++j) {
    b1[j] -= lr * gb1[j];
    w2[j] -= lr * gw2[j];
    for (int k = 0; k < 2; ++k) W1[j][k] -= lr * gW1[j][k];
  }
  b2 -= lr * gb2;

  // By the harness.
  Mat<double> xm(2, 2), dy;
  xm << x[0][0], x[1][0], x[0][1], x[1][1];
  Targets<double> t;
  t.y.resize(1, 2);
  t.y << y[0], y[1];
  MlpCache<double> c;
  MlpGrads<double> g;
  mlp_forward(net, xm, c);
  loss_backward(Loss::mse, c.a.back(), t, dy);
  mlp_backward(net, c, dy, g);
  Optim<double> o;
  mlp_update(train_of(OptimizerKind::sgd, lr), net, g, o, 1);

  for (int j = 0; j < 2; ++j) {
    EXPECT_NEAR(net.layers[0].b(j), b1[j], 1e-15);
    EXPECT_NEAR(net.layers[1].W(0, j), w2[j], 1e-15);
    for (int k = 0; k < 2; ++k) EXPECT_NEAR(net.layers[0].W(j, k), W1[j][k], 1e-15);
  }
  EXPECT_NEAR(net.layers[1].b(0), b2, 1e-15);
  // The step moved every parameter (the test would pass on a no-op update otherwise).
  EXPECT_GT((net.layers[0].W - before.layers[0].W).norm(), 1e-4);
  EXPECT_EQ(net.layers[0].slope, before.layers[0].slope);  // tanh: no slope gradient
}

// Three steps with gradients g1, g2, g3: v3 = μ²g1 + μg2 + g3 and
// θ3 = θ0 − lr·[(1 + μ + μ²)·g1 + (1 + μ)·g2 + g3] (PyTorch's v ← μv + g, θ ← θ − lr·v).
TEST(Train, MomentumOverThreeStepsMatchesTheClosedForm) {
  const double lr = 0.05, mu = 0.9;
  const MlpGrads<double> g[3] = {grads_of(1, 2, 3), grads_of(-0.5, 0.25, 4), grads_of(2, -1, 0.5)};
  Mlp<double> net = tiny_net();
  net.act.kind = Activation::prelu;  // the slope is a parameter (the update is tanh's otherwise)
  net.layers[0].slope = 0.25;
  const Mlp<double> n0 = net;
  Optim<double> o;
  const TrainConfig tc = train_of(OptimizerKind::sgd, lr, mu);
  for (int64_t k = 0; k < 3; ++k) {
    MlpGrads<double> gk = g[k];
    mlp_update(tc, net, gk, o, k + 1);
  }

  const double c1 = 1 + mu + mu * mu, c2 = 1 + mu, c3 = 1;
  for (size_t l = 0; l < 2; ++l) {
    const Mat<double> W =
        n0.layers[l].W - lr * (c1 * g[0].dW[l] + c2 * g[1].dW[l] + c3 * g[2].dW[l]);
    const Vec<double> b =
        n0.layers[l].b - lr * (c1 * g[0].db[l] + c2 * g[1].db[l] + c3 * g[2].db[l]);
    const Mat<double> vW = mu * mu * g[0].dW[l] + mu * g[1].dW[l] + g[2].dW[l];
    EXPECT_LT((net.layers[l].W - W).cwiseAbs().maxCoeff(), 1e-14) << "layer " << l;
    EXPECT_LT((net.layers[l].b - b).cwiseAbs().maxCoeff(), 1e-14) << "layer " << l;
    const Eigen::Map<const Mat<double>> v(o.state[2 * l].m.data(), vW.rows(), vW.cols());
    EXPECT_LT((v - vW).cwiseAbs().maxCoeff(), 1e-14) << "layer " << l;
  }
  const double slope =
      0.25 - lr * (c1 * g[0].dslope[0] + c2 * g[1].dslope[0] + c3 * g[2].dslope[0]);
  EXPECT_NEAR(net.layers[0].slope, slope, 1e-15);
  EXPECT_EQ(net.layers[1].slope, n0.layers[1].slope);
}

// ∂L/∂slope_l of prelu (test_mlp.cpp checks W, b and δ, not the slope) against central
// differences of the mean loss, for every hidden layer, both losses, two depths.
TEST(Train, PreluSlopeGradientMatchesFiniteDifferences) {
  for (Loss loss : {Loss::mse, Loss::cross_entropy})
    for (const std::vector<int>& hidden : {std::vector<int>{6}, std::vector<int>{5, 7, 4}}) {
      ActivationSpec act;
      act.kind = Activation::prelu;
      act.slope = 0.25;
      InitSpec init;
      init.kind = Init::he_normal;
      BiasSpec bias;
      bias.kind = BiasKind::gaussian;
      bias.sigma_b2 = 0.1;
      const Index inputs = 4, outputs = 3, B = 5;
      bool checked = false;
      for (uint64_t seed = 1; seed < 50 && !checked; ++seed) {
        Rng r = rng_make(seed);
        Mlp<double> net = mlp_init<double>({inputs, hidden, outputs}, act, init, init, bias, r);
        for (size_t l = 0; l + 1 < net.layers.size(); ++l)
          net.layers[l].slope = 0.1 + 0.1 * static_cast<double>(l);
        Mat<double> x(inputs, B);
        for (Index i = 0; i < x.size(); ++i) x(i) = rng_normal(r);
        Targets<double> t;
        t.y.resize(outputs, B);
        for (Index i = 0; i < t.y.size(); ++i) t.y(i) = rng_normal(r);
        for (Index i = 0; i < B; ++i) t.labels.push_back(static_cast<int32_t>(i % outputs));
        MlpCache<double> c;
        mlp_forward(net, x, c);
        double margin = INFINITY;  // keep every pre-activation away from the kink at 0
        for (size_t l = 0; l + 1 < net.layers.size(); ++l)
          margin = std::min(margin, c.z[l].cwiseAbs().minCoeff());
        if (margin < 1e-3) continue;
        Mat<double> dy;
        loss_backward(loss, c.a.back(), t, dy);
        MlpGrads<double> g;
        mlp_backward(net, c, dy, g);
        const auto mean_loss = [&](const Mlp<double>& n) {
          MlpCache<double> cc;
          mlp_forward(n, x, cc);
          Eigen::VectorXd lv;
          loss_forward(loss, cc.a.back(), t, lv);
          return lv.mean();
        };
        const double h = 1e-6;
        for (size_t l = 0; l + 1 < net.layers.size(); ++l) {
          Mlp<double> p = net, m = net;
          p.layers[l].slope += h;
          m.layers[l].slope -= h;
          const double fd = (mean_loss(p) - mean_loss(m)) / (2 * h);
          EXPECT_NEAR(g.dslope[l], fd, 1e-7 * std::max(1.0, std::abs(fd)))
              << "layer " << l + 1 << " of " << hidden.size();
          EXPECT_NE(g.dslope[l], 0.0);  // some unit of the batch is negative
        }
        EXPECT_EQ(g.dslope.back(), 0.0);  // the output layer is affine
        checked = true;
      }
      EXPECT_TRUE(checked) << "no seed kept the pre-activations away from 0";
    }
}

// Global-norm clipping: ‖g‖ = 5 with threshold 1 scales every gradient (slopes too) by 1/5, so
// the step has norm lr·1; below the threshold nothing changes.
TEST(Train, ClippingScalesTheWholeUpdate) {
  MlpGrads<double> g = grads_of(0, 0, 0);
  g.dW[0] << 3, 0, 0, 0;
  g.db[1] << 4;
  EXPECT_DOUBLE_EQ(mlp_grads_norm(g), 5.0);
  g.dslope[0] = 12;  // √(25 + 144) = 13: the slope is a parameter too
  EXPECT_DOUBLE_EQ(mlp_grads_norm(g), 13.0);

  const double s = clip_scale(13.0, 1.0);
  EXPECT_DOUBLE_EQ(s, 1.0 / 13.0);
  EXPECT_EQ(clip_scale(13.0, 20.0), 1.0);
  EXPECT_EQ(clip_scale(13.0, std::nullopt), 1.0);

  const double lr = 0.5;
  Mlp<double> net = tiny_net();
  net.act.kind = Activation::prelu;
  const Mlp<double> n0 = net;
  Optim<double> o;
  mlp_update(train_of(OptimizerKind::sgd, lr, 0.9), net, g, o, 1, s);
  EXPECT_NEAR(net.layers[0].W(0, 0), n0.layers[0].W(0, 0) - lr * 3.0 / 13.0, 1e-15);
  EXPECT_NEAR(net.layers[1].b(0), n0.layers[1].b(0) - lr * 4.0 / 13.0, 1e-15);
  EXPECT_NEAR(net.layers[0].slope, n0.layers[0].slope - lr * 12.0 / 13.0, 1e-15);
  EXPECT_NEAR(o.state[0].m(0), 3.0 / 13.0, 1e-15);  // the buffer holds the clipped gradient
  double step2 =
      (net.layers[0].slope - n0.layers[0].slope) * (net.layers[0].slope - n0.layers[0].slope);
  for (size_t l = 0; l < 2; ++l)
    step2 += (net.layers[l].W - n0.layers[l].W).squaredNorm() +
             (net.layers[l].b - n0.layers[l].b).squaredNorm();
  EXPECT_NEAR(std::sqrt(step2), lr * 1.0, 1e-14);
}

// The run loop clips when the threshold is below the gradient's norm, and records it.
TEST(Train, RunRecordsClipping) {
  const std::string base = R"({"model": {"depth": 2, "width": 16, "activation": "tanh"},
      "data": {"name": "gaussian", "dim": 8, "classes": 3, "test_samples": 20},
      "train": {"steps": 6, "lr": 0.1, "clip_norm": CLIP}, "probe": {"samples": 20, "every": 3}})";
  for (const char* clip : {"1e-6", "1e6"}) {
    std::string text = base;
    text.replace(text.find("CLIP"), 4, clip);
    const RunResult res = run_in_temp(spec_of(text), std::string("clip") + clip);
    ASSERT_EQ(res.status, "ok") << res.reason;
    ASSERT_EQ(res.steps.size(), 3u);
    for (size_t k = 1; k < res.steps.size(); ++k) {
      ASSERT_TRUE(res.steps[k].clipped && res.steps[k].grad_norm);
      EXPECT_GT(*res.steps[k].grad_norm, 1e-6);
      EXPECT_EQ(*res.steps[k].clipped, std::string(clip) == "1e-6" ? 1 : 0) << clip;
    }
  }
}

// A short run on an easy problem: regression onto a small random tanh teacher. The probe error
// (share of examples with squared error > 0.04) must end far below that of predicting 0, and the
// probe loss must fall by more than 10×.
TEST(Train, ShortRunLearnsATeacher) {
  const RunSpec s = spec_of(R"({"seed": 3,
      "model": {"depth": 2, "width": 32, "activation": "tanh"},
      "data": {"name": "gaussian", "dim": 6, "outputs": 1, "test_samples": 200,
               "teacher": {"depth": 1, "width": 4, "activation": "tanh"}},
      "train": {"steps": 1500, "batch_size": 16, "lr": 0.05, "momentum": 0.9},
      "probe": {"samples": 200, "every": 500}})");
  Dataset<double> d = dataset_make<double>(s.config, s.data_seed);  // the run's probe set
  Mat<double> x;
  Targets<double> t;
  dataset_sample(d, Split::probe, 200, x, t);
  const double chance = (t.y.array().square() > 0.04).cast<double>().mean();  // ŷ = 0

  const RunResult res = run_in_temp(s, "teacher");
  ASSERT_EQ(res.status, "ok") << res.reason;
  const StepRow& first = res.steps.front();
  const StepRow& last = res.steps.back();
  ASSERT_EQ(last.step, 1500);
  EXPECT_GT(chance, 0.3);
  EXPECT_LT(last.probe_error, 0.25 * chance) << "chance " << chance;
  EXPECT_LT(last.probe_loss, 0.1 * first.probe_loss);
  ASSERT_TRUE(last.test_error);
  EXPECT_LT(*last.test_error, 0.25 * chance);
}

TEST(Train, ProbeScheduleLinearAndLog) {
  TrainConfig train;
  ProbeConfig probe;
  train.steps = 10;
  probe.every = 3;
  EXPECT_EQ(probe_schedule(train, probe), (std::vector<int64_t>{0, 3, 6, 9, 10}));
  train.steps = 9;  // the last multiple is train.steps itself: listed once
  EXPECT_EQ(probe_schedule(train, probe), (std::vector<int64_t>{0, 3, 6, 9}));
  train.steps = 0;
  EXPECT_EQ(probe_schedule(train, probe), (std::vector<int64_t>{0}));
  // log, 3 per decade: round(10^(j/3)) = 1, 2, 5, 10, 22, 46, 100, ...
  probe.schedule = Schedule::log;
  probe.per_decade = 3;
  train.steps = 50;
  EXPECT_EQ(probe_schedule(train, probe), (std::vector<int64_t>{0, 1, 2, 5, 10, 22, 46, 50}));
  // 10 per decade below 10: 1, 1.26, 1.58, ... round to 1, 1, 2, 2, 3, 3, 4, 5, 6, 8 (unique)
  probe.per_decade = 10;
  train.steps = 12;
  EXPECT_EQ(probe_schedule(train, probe), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 8, 10, 12}));
}

// A run probes at exactly the scheduled steps (steps.csv and layers.csv), and probing does not
// change training: a run probed at every step ends in the same state as one probed rarely.
TEST(Train, RunProbesAtTheScheduledStepsOnly) {
  const std::string base = R"({"model": {"depth": 3, "width": 8, "activation": "tanh"},
      "data": {"name": "gaussian", "dim": 5, "classes": 3, "test_samples": 10},
      "train": {"steps": 25, "lr": 0.05, "momentum": 0.5}, "probe": {"samples": 10, PROBE}})";
  const auto run = [&](const std::string& probe, const std::string& name) {
    std::string text = base;
    text.replace(text.find("PROBE"), 5, probe);
    return run_in_temp(spec_of(text), name);
  };
  const std::pair<std::string, std::vector<int64_t>> cases[] = {
      {R"("every": 10)", {0, 10, 20, 25}},
      {R"("schedule": "log", "per_decade": 3)", {0, 1, 2, 5, 10, 22, 25}},
      {R"("every": 1)", {}}};
  std::vector<RunResult> res;
  for (const auto& [probe, want] : cases) {
    res.push_back(run(probe, std::to_string(res.size())));
    const RunResult& r = res.back();
    ASSERT_EQ(r.status, "ok") << r.reason;
    std::vector<int64_t> got, layer_steps;
    for (const StepRow& s : r.steps) got.push_back(s.step);
    for (const LayerRow& l : r.layers)
      if (layer_steps.empty() || layer_steps.back() != l.step) layer_steps.push_back(l.step);
    std::vector<int64_t> expect = want;
    if (expect.empty())
      for (int64_t k = 0; k <= 25; ++k) expect.push_back(k);
    EXPECT_EQ(got, expect) << probe;
    EXPECT_EQ(layer_steps, expect) << probe;
    EXPECT_EQ(r.layers.size(), 4 * expect.size()) << probe;
  }
  // Same final state whatever the schedule (probes use no training randomness).
  EXPECT_EQ(res[0].steps.back().probe_loss, res[2].steps.back().probe_loss);
  EXPECT_EQ(res[1].steps.back().probe_loss, res[2].steps.back().probe_loss);
  EXPECT_EQ(res[0].steps.back().test_error, res[2].steps.back().test_error);
}

// `threads` is what Eigen's products may use in the run: the OpenMP thread count of the thread
// that executes it ("auto": every CPU the process may use), recorded in the provenance.
TEST(Train, RunUsesItsConfiguredThreads) {
  const std::string base = R"({"threads": N, "model": {"depth": 1, "width": 4},
      "data": {"name": "gaussian", "dim": 3, "classes": 2}, "probe": {"samples": 4}})";
  for (const std::string n : {"3", "1", "\"auto\""}) {
    std::string text = base;
    text.replace(text.find("N"), 1, n);
    const RunResult res = run_in_temp(spec_of(text), "threads");
    ASSERT_EQ(res.status, "ok") << res.reason;
    const int want = n == "3" ? 3 : (n == "1" ? 1 : omp_get_num_procs());
    EXPECT_EQ(omp_get_max_threads(), want) << n;
    EXPECT_EQ(res.summary.at("provenance").at("threads").get<int>(), want);
  }
}

// ---- checkpoints (experiments/checkpoint.h); the output rows are in test_tables.cpp ----

// A checkpoint carries every field of every row (columns and checkpoint-only fields alike) and
// the loop's bookkeeping.
TEST(Checkpoint, RowsAndLoopStateRoundTrip) {
  RunResult a;
  LayerRow l;
  l.step = 4, l.layer = 2, l.act_p98 = 1.5, l.delta_factor = 0.5, l.nonfinite_dw = 3;
  a.layers = {l, LayerRow{}};
  StepRow s;
  s.step = 4, s.loss = 2.0, s.clipped = 0, s.elapsed_s = 3.25;
  a.steps = {s};
  a.hists = {HistRow{4, 1, HistQuantity::grad_w, -1, true, 0.0, 0.0, 6}};
  TimestepRow t;
  t.t = 9, t.dh_last_norm = 0.125, t.grad_w_contrib_norm = 7, t.dc_norm = 0.5;
  t.gate_mean[5] = 0.25, t.gate_saturated_frac[1] = 0.75, t.gate_whh_contrib_norm[6] = 3;
  a.timesteps = {t};
  a.summary = {{"gradient_ratio", 0.5}};
  json fn = {{"step", 4}};
  LoopState la{4, 2, 1.75, 3};
  Rng ra = rng_make(99);

  Ckpt w;
  loop_state_io(w, la, ra, a, fn);
  Ckpt r{w.buf, 0, false};
  RunResult b;
  json fn_b;
  LoopState lb;
  Rng rb = rng_make(1);
  loop_state_io(r, lb, rb, b, fn_b);
  EXPECT_EQ(r.pos, w.buf.size());
  EXPECT_EQ(lb.step, 4);
  EXPECT_EQ(lb.next_probe, 2u);
  EXPECT_EQ(lb.loss_sum, 1.75);
  EXPECT_EQ(lb.loss_n, 3);
  EXPECT_EQ(rng_normal(rb), rng_normal(ra));
  EXPECT_EQ(fn_b, fn);
  EXPECT_EQ(b.summary, a.summary);
  const std::vector<std::string> lead = {"run"};
  const std::vector<std::string> cell = {"r"};
  EXPECT_EQ(rows_csv(lead, cell, b.layers, Precision::float64),
            rows_csv(lead, cell, a.layers, Precision::float64));
  EXPECT_EQ(rows_csv(lead, cell, b.steps, Precision::float64),
            rows_csv(lead, cell, a.steps, Precision::float64));
  EXPECT_EQ(rows_csv(lead, cell, b.hists, Precision::float64),
            rows_csv(lead, cell, a.hists, Precision::float64));
  EXPECT_EQ(rows_csv(lead, cell, b.timesteps, Precision::float64),
            rows_csv(lead, cell, a.timesteps, Precision::float64));
  EXPECT_EQ(b.layers[0].nonfinite_dw, 3);
  EXPECT_EQ(b.steps[0].elapsed_s, 3.25);
  EXPECT_TRUE(b.hists[0].nonfinite);
  Ckpt cut{w.buf.substr(0, w.buf.size() - 1), 0, false};
  EXPECT_THROW(loop_state_io(cut, lb, rb, b, fn_b), std::runtime_error);
}

// A checkpoint of another format (unversioned: gradlab before version 2; or a version this
// gradlab does not know) is refused, not misread: the run fails naming the file and both
// versions. One of another run (its key) is ignored: the run starts over.
TEST(Checkpoint, AnotherFormatIsRefusedWithItsVersion) {
  const std::string mlp = R"({"model": {"depth": 2, "width": 6, "activation": "tanh"},
      "data": {"name": "gaussian", "dim": 4, "classes": 2, "test_samples": 8},
      "train": {"steps": 10, "checkpoint_every": 5}, "probe": {"samples": 8, "every": 5}})";
  const std::string rnn = R"({"model": {"type": "rnn", "width": 6, "length": 5},
      "data": {"name": "gaussian", "dim": 3, "classes": 2, "test_samples": 8},
      "train": {"steps": 10, "checkpoint_every": 5},
      "probe": {"samples": 8, "every": 5}})";
  const std::string dir = testing::TempDir() + "gradlab_ckpt_version";
  const std::string path = dir + "/checkpoint.bin";
  for (const std::string& text : {mlp, rnn}) {
    const RunSpec s = spec_of(text);
    const RunResult fresh = run_in_temp(s, "fresh");
    ASSERT_EQ(fresh.status, "ok") << fresh.reason;

    std::filesystem::create_directories(dir);
    const uint64_t key = checkpoint_key(s);
    std::string old(reinterpret_cast<const char*>(&key), sizeof(key));  // version 1: key first
    file_write_atomic(path, old + std::string(64, '\0'));
    RunResult res = run_execute(s, dir);
    EXPECT_EQ(res.status, "failed");
    EXPECT_NE(res.reason.find(path + ": checkpoint format version 1 (unversioned"),
              std::string::npos)
        << res.reason;
    EXPECT_NE(res.reason.find("this gradlab reads version 2"), std::string::npos) << res.reason;

    uint32_t v = 7;
    file_write_atomic(path, std::string("gradlab", 8) +
                                std::string(reinterpret_cast<const char*>(&v), sizeof(v)) +
                                std::string(16, '\0'));
    res = run_execute(s, dir);
    EXPECT_EQ(res.status, "failed");
    EXPECT_NE(res.reason.find("checkpoint format version 7, this gradlab reads version 2"),
              std::string::npos)
        << res.reason;

    // This format, another run's key: ignored, and the result is the uninterrupted run's.
    checkpoint_save(path, key + 1, [](Ckpt&) {});
    res = run_execute(s, dir);
    EXPECT_EQ(res.status, "ok") << res.reason;
    EXPECT_EQ(rows_csv({}, {}, res.steps, Precision::float64),
              rows_csv({}, {}, fresh.steps, Precision::float64));
    EXPECT_FALSE(std::filesystem::exists(path));
    std::filesystem::remove_all(dir);
  }
}

// act_absmax = max over units and examples of |a_l|, on the tiny net whose activations are known
// in closed form (a_1 = tanh(W1 x + b1), a_2 = w2·a_1 + b2), in float64 and float32 (its own
// scan); NaN when some activation is NaN.
template <class T>
void act_absmax_case() {
  const Mlp<double> d = tiny_net();
  Mlp<T> net;
  net.act = d.act;
  for (const Layer<double>& l : d.layers) {
    Layer<T> c;
    c.W = l.W.cast<T>();
    c.b = l.b.cast<T>();
    net.layers.push_back(c);
  }
  Mat<T> x(2, 3);
  x << 1.0, -2.0, 3.0, 0.5, 0.25, -1.0;  // columns are examples
  double want1 = 0, want2 = 0;
  for (int i = 0; i < 3; ++i) {
    double a2 = d.layers[1].b(0);
    for (int u = 0; u < 2; ++u) {
      double z = d.layers[0].b(u);
      for (int k = 0; k < 2; ++k) z += d.layers[0].W(u, k) * static_cast<double>(x(k, i));
      want1 = std::max(want1, std::abs(std::tanh(z)));
      a2 += d.layers[1].W(0, u) * std::tanh(z);
    }
    want2 = std::max(want2, std::abs(a2));
  }
  const auto rows_of = [&](const Mat<T>& in) { return probe_rows_of(net, in); };
  const double tol = std::is_same_v<T, float> ? 1e-6 : 1e-14;
  std::vector<LayerRow> rows = rows_of(x);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NEAR(rows[0].act_absmax, want1, tol);
  EXPECT_NEAR(rows[1].act_absmax, want2, tol);
  x(1, 2) = std::numeric_limits<T>::quiet_NaN();
  rows = rows_of(x);
  EXPECT_TRUE(std::isnan(rows[0].act_absmax));
  EXPECT_TRUE(std::isnan(rows[1].act_absmax));
}

TEST(Tables, ActAbsmaxIsTheLargestActivation) {
  act_absmax_case<double>();
  act_absmax_case<float>();
}
