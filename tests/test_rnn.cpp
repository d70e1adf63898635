// Weight-shared chains: backprop through time against central finite differences (float64) for
// every parameter, ∂ℓ_i/∂h_t and ∂ℓ_i/∂z_t; the closed-form checks of Pascanu et al. 2013, §2.1
// (linear chain with W = ρQ: ρ^(T−t) exactly; tanh ≤ ρ^(T−t), sigmoid ≤ (ρ/4)^(T−t)); the tied
// chain as an MLP with repeated weights; clipping; the run (summary, rows, an exploding float32
// chain).
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <omp.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif
#include <cmath>
#include <cstring>

#include "experiments/run.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/rnn.h"
#include "tests/rnn_test_util.h"
#include "tests/test_util.h"

using namespace gl;

namespace {

// A reference forward written independently of rnn.cpp (one step at a time, scalar activation):
// per-example losses ℓ_i, with an optional nudge of h_t(j, i) (into_z: of z_t(j, i)) by eps.
Eigen::VectorXd ref_losses(const Chain& ch, const Rnn<double>& net, Index t0 = 0, Index j0 = 0,
                           Index i0 = 0, double eps = 0, bool into_z = false) {
  const Index H = net.W.rows(), B = ch.B;
  ActivationSpec f = net.act;
  f.slope = net.act.kind == Activation::prelu ? net.slope : f.slope;
  Mat<double> h = Mat<double>::Zero(H, B), z(H, B);
  Eigen::VectorXd li = Eigen::VectorXd::Zero(B), lt;
  const bool every_in = net.inputs == RnnInputs::every_step;
  const bool every_out = net.loss_at == LossAt::every_step;
  for (Index t = 1; t <= ch.steps; ++t) {
    z = net.W * h;
    if (every_in || t == 1) z += net.U * ch.x.middleCols((every_in ? t - 1 : 0) * B, B);
    z.colwise() += net.b;
    if (into_z && t == t0) z(j0, i0) += eps;
    for (Index k = 0; k < z.size(); ++k) h(k) = activation_value<double>(f, z(k));
    if (!into_z && t == t0) h(j0, i0) += eps;
    if (every_out || t == ch.steps) {
      const Mat<double> yhat = (net.V * h).colwise() + net.c;
      const Index o = every_out ? (t - 1) * B : 0;
      Targets<double> yt;
      yt.y = ch.y.y.middleCols(o, B);
      yt.labels.assign(ch.y.labels.begin() + o, ch.y.labels.begin() + o + B);
      loss_forward(ch.loss, yhat, yt, lt);
      li += lt;
    }
  }
  return li;
}

// Distance of every pre-activation from the activation's kinks (its table row).
double kink_margin(Activation a, const Mat<double>& z) {
  double m = INFINITY;
  for (double k : activation_info(a).kinks) m = std::min(m, (z.array() - k).abs().minCoeff());
  return m;
}

// ∂(mean_i ℓ_i)/∂θ for every entry of one parameter, by central differences.
template <class P>
Mat<double> fd_param(const Chain& ch, P param, Index rows, Index cols) {
  const double eps = 1e-6;
  Mat<double> fd(rows, cols);
  for (Index k = 0; k < rows * cols; ++k) {
    Rnn<double> p = ch.net, m = ch.net;
    param(p)[k] += eps;
    param(m)[k] -= eps;
    fd(k) = (ref_losses(ch, p).mean() - ref_losses(ch, m).mean()) / (2 * eps);
  }
  return fd;
}

void expect_close(const Mat<double>& a, const Mat<double>& fd, const std::string& what) {
  const double scale = std::max(1e-3, fd.norm());
  EXPECT_LT((a - fd).norm() / scale, 1e-6) << what << "\nanalytic\n" << a << "\nfd\n" << fd;
}

void check_bptt(Activation a, Index steps, RnnInputs in, LossAt at, Loss loss, uint64_t seed0) {
  InitSpec w;
  w.kind = Init::glorot_normal;
  w.gain = 1.3;
  const ModelConfig m = model_of(a, in, at, w);
  const Index inputs = 2, H = 3, O = 3, B = 3;
  const std::string what =
      fmt::format("{} T={} inputs={} loss_at={} loss={}", activation_name(a), steps,
                  in == RnnInputs::every_step ? "every" : "first",
                  at == LossAt::last ? "last" : "every", loss == Loss::mse ? "mse" : "ce");
  for (uint64_t seed = seed0; seed < seed0 + 60; ++seed) {
    const Chain ch = make_chain(m, inputs, H, O, steps, B, loss, seed);
    RnnCache<double> c;
    rnn_forward(ch.net, ch.x, steps, B, c);
    if (kink_margin(a, c.z.leftCols(steps * B)) < 1e-3) continue;
    Eigen::VectorXd lv, li;
    loss_forward(loss, c.yhat, ch.y, lv);
    li.setZero(B);
    for (Index k = 0; k < lv.size(); ++k) li(k % B) += lv(k);
    const Eigen::VectorXd ref = ref_losses(ch, ch.net);
    EXPECT_LT((li - ref).norm(), 1e-12 * std::max(1.0, ref.norm())) << what << ": forward";
    Mat<double> dy;
    loss_backward(loss, c.yhat, ch.y, dy);
    RnnGrads<double> g;
    rnn_backward(ch.net, ch.x, c, dy, g);

    expect_close(g.dW,
                 fd_param(
                     ch, [](Rnn<double>& n) { return n.W.data(); }, H, H),
                 what + ": dW");
    expect_close(g.dU,
                 fd_param(
                     ch, [](Rnn<double>& n) { return n.U.data(); }, H, inputs),
                 what + ": dU");
    expect_close(g.db,
                 fd_param(
                     ch, [](Rnn<double>& n) { return n.b.data(); }, H, 1),
                 what + ": db");
    expect_close(g.dV,
                 fd_param(
                     ch, [](Rnn<double>& n) { return n.V.data(); }, O, H),
                 what + ": dV");
    expect_close(g.dc,
                 fd_param(
                     ch, [](Rnn<double>& n) { return n.c.data(); }, O, 1),
                 what + ": dc");
    if (a == Activation::prelu) {
      const double eps = 1e-6;
      Rnn<double> p = ch.net, mm = ch.net;
      p.slope += eps;
      mm.slope -= eps;
      const double fd = (ref_losses(ch, p).mean() - ref_losses(ch, mm).mean()) / (2 * eps);
      EXPECT_NEAR(g.dslope, fd, 1e-6 * std::max(1.0, std::abs(fd))) << what << ": dslope";
    }
    // ∂ℓ_i/∂h_t and δ_t = ∂ℓ_i/∂z_t per example, by nudging h_t (z_t) of example i alone. A
    // growing chain can give ℓ_i ~ 1e4: central differences then carry a rounding error of about
    // 2⁻⁵²·ℓ_i/eps, allowed for by `roundoff`.
    const double eps = 1e-6, roundoff = 1e-9;
    for (Index t = 1; t <= steps; ++t)
      for (Index i = 0; i < B; ++i)
        for (Index j = 0; j < H; ++j)
          for (bool into_z : {false, true}) {
            const double fd = (ref_losses(ch, ch.net, t, j, i, eps, into_z)(i) -
                               ref_losses(ch, ch.net, t, j, i, -eps, into_z)(i)) /
                              (2 * eps);
            const double an = (into_z ? g.dz : g.dh)(j, (t - 1) * B + i);
            EXPECT_NEAR(an, fd, 1e-6 * std::max(1.0, std::abs(fd)) + roundoff * std::abs(ref(i)))
                << what << (into_z ? ": dz" : ": dh") << " t=" << t << " unit " << j << " ex " << i;
          }
    return;
  }
  FAIL() << "no seed kept every pre-activation away from the kinks: " << what;
}

}  // namespace

TEST(Rnn, BpttMatchesFiniteDifferences) {
  uint64_t seed = 1000;
  for (int ai = 0; ai < activation_count; ++ai) {
    const auto a = static_cast<Activation>(ai);
    if (a == Activation::maxout) continue;
    int k = 0;
    for (Index steps : {1, 2, 7})
      for (RnnInputs in : {RnnInputs::every_step, RnnInputs::first_step})
        for (LossAt at : {LossAt::last, LossAt::every_step}) {
          const Loss loss = (k++ + ai) % 2 ? Loss::cross_entropy : Loss::mse;
          check_bptt(a, steps, in, at, loss, seed);
          seed += 100;
        }
  }
}

TEST(Rnn, MaxoutIsRejectedWithAClearMessage) {
  ModelConfig m = model_of(Activation::maxout, RnnInputs::every_step, LossAt::last, InitSpec{});
  Rng r = rng_make(1);
  try {
    rnn_init<double>({2, 4, 2}, m, r);
    FAIL() << "maxout accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("maxout"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos);
  }
}

// The tied chain (first_step, loss_at last) is the MLP of depth T with W_1 = U, W_l = W (l ≥ 2),
// the same b in every layer and output layer (V, c): same ŷ, and δ_l = δ_t for l = t.
TEST(Rnn, FirstStepChainIsAnMlpWithRepeatedWeights) {
  InitSpec w;
  w.kind = Init::he_normal;
  const ModelConfig m = model_of(Activation::relu, RnnInputs::first_step, LossAt::last, w);
  const Index steps = 6, H = 5, B = 4;
  const Chain ch = make_chain(m, 3, H, 2, steps, B, Loss::mse, 7);
  RnnCache<double> c;
  rnn_forward(ch.net, ch.x, steps, B, c);
  Mat<double> dy;
  loss_backward(Loss::mse, c.yhat, ch.y, dy);
  RnnGrads<double> g;
  rnn_backward(ch.net, ch.x, c, dy, g);

  Rng r = rng_make(1);
  Mlp<double> mlp = mlp_init<double>({3, std::vector<int>(steps, static_cast<int>(H)), 2},
                                     m.activation, InitSpec{}, InitSpec{}, BiasSpec{}, r);
  for (Index l = 0; l < steps; ++l) {
    mlp.layers[static_cast<size_t>(l)].W = l == 0 ? ch.net.U : ch.net.W;
    mlp.layers[static_cast<size_t>(l)].b = ch.net.b;
  }
  mlp.layers.back().W = ch.net.V;
  mlp.layers.back().b = ch.net.c;
  MlpCache<double> mc;
  mlp_forward(mlp, ch.x, mc);
  EXPECT_LT((mc.a.back() - c.yhat).norm(), 1e-13 * c.yhat.norm());
  MlpGrads<double> mg;
  mlp_backward(mlp, mc, dy, mg);
  for (Index t = 1; t <= steps; ++t)
    EXPECT_LT((mg.delta[static_cast<size_t>(t - 1)] - g.dz.middleCols((t - 1) * B, B)).norm(),
              1e-12 * (1 + g.dz.norm()))
        << "t = " << t;
  // ∂L/∂W of the chain is the sum of the MLP's ∂L/∂W_l over the layers that share W.
  Mat<double> sum = Mat<double>::Zero(H, H);
  for (Index l = 1; l < steps; ++l) sum += mg.dW[static_cast<size_t>(l)];
  EXPECT_LT((sum - g.dW).norm(), 1e-12 * (1 + g.dW.norm()));
  EXPECT_LT((mg.dW[0] - g.dU).norm(), 1e-12 * (1 + g.dU.norm()));
}

// With loss_at every_step, the backward seeded by the last step's loss only is the backward of
// the same chain with loss_at last.
TEST(Rnn, LastStepOnlyBackwardEqualsLossAtLast) {
  InitSpec w;
  w.kind = Init::orthogonal;
  ModelConfig m = model_of(Activation::tanh, RnnInputs::every_step, LossAt::every_step, w);
  const Index steps = 9, B = 3;
  Chain ch = make_chain(m, 2, 4, 3, steps, B, Loss::mse, 11);
  RnnCache<double> c;
  rnn_forward(ch.net, ch.x, steps, B, c);
  Mat<double> dy;
  loss_backward(Loss::mse, c.yhat, ch.y, dy);
  dy.leftCols((steps - 1) * B).setZero();
  RnnGrads<double> g;
  rnn_backward(ch.net, ch.x, c, dy, g);

  Rnn<double> last = ch.net;
  last.loss_at = LossAt::last;
  RnnCache<double> c2;
  rnn_forward(last, ch.x, steps, B, c2);
  EXPECT_LT((c2.yhat - c.yhat.rightCols(B)).norm(), 1e-14);
  RnnGrads<double> g2;
  rnn_backward(last, ch.x, c2, Mat<double>(dy.rightCols(B)), g2);
  EXPECT_LT((g.dh.leftCols(steps * B) - g2.dh.leftCols(steps * B)).norm(), 1e-14);
  EXPECT_LT((g.dW - g2.dW).norm(), 1e-14);
}

// ---- Pascanu et al. 2013, §2.1 ----

struct Rows {
  std::vector<TimestepRow> rows;
  RnnGrads<double> g;
  RnnCache<double> c;
};

Rows chain_rows(Activation a, double rho, RnnInputs in, Index steps, uint64_t seed) {
  InitSpec w;
  w.kind = Init::orthogonal;
  w.gain = rho;  // W = ρQ: every singular value is ρ
  const ModelConfig m = model_of(a, in, LossAt::last, w);
  const Index B = 5;
  const Chain ch = make_chain(m, 4, 16, 3, steps, B, Loss::mse, seed);
  Rows out;
  rnn_forward(ch.net, ch.x, steps, B, out.c);
  Mat<double> dy;
  RnnRowScratch<double> scratch;
  loss_backward(Loss::mse, out.c.yhat, ch.y, dy);
  rnn_backward(ch.net, ch.x, out.c, dy, out.g);
  rnn_timestep_rows(ch.net, out.c, out.g, static_cast<const RnnGrads<double>*>(nullptr), 0.05, 0,
                    out.rows, scratch);
  return out;
}

// NaN is neither saturated nor dead (docs/reference.md §4.2): an input that is NaN at t = 3 (one
// example) makes z_t non-finite from t = 3 on; those rows have empty saturated_frac and dead_frac,
// while t = 1, 2 keep theirs (relu: the share of φ' = 0, and the units with φ' = 0 throughout).
TEST(Rnn, NonFiniteTimeStepsHaveEmptyFractions) {
  InitSpec w;
  w.kind = Init::he_normal;
  const ModelConfig m = model_of(Activation::relu, RnnInputs::every_step, LossAt::last, w);
  const Index steps = 5, H = 6, B = 4;
  Chain ch = make_chain(m, 3, H, 2, steps, B, Loss::mse, 5);
  ch.x(1, 2 * B + 0) = NAN;  // t = 3, example 1
  const ChainProbe p = chain_probe(ch, false, 0);
  const std::vector<TimestepRow>& rows = p.rows;
  ASSERT_EQ(rows.size(), static_cast<size_t>(steps));
  for (Index t = 1; t <= steps; ++t) {
    const TimestepRow& r = rows[static_cast<size_t>(t - 1)];
    if (t >= 3) {
      EXPECT_FALSE(r.saturated_frac.has_value()) << "t " << t;
      EXPECT_FALSE(r.dead_frac.has_value()) << "t " << t;
      continue;
    }
    const Mat<double> d = p.c.dphi.middleCols((t - 1) * B, B);
    ASSERT_TRUE(r.saturated_frac && r.dead_frac) << "t " << t;
    EXPECT_DOUBLE_EQ(*r.saturated_frac, (d.array() == 0.0).cast<double>().mean());
    EXPECT_DOUBLE_EQ(*r.dead_frac, (d.array() == 0.0).rowwise().all().cast<double>().mean());
  }
}

// Every column of timesteps.csv against its definition, computed directly from the cache and
// gradients; grad_w_contrib_norm by both of its paths (B < H: Gram matrices; B ≥ H: the product).
TEST(Rnn, TimestepRowsMatchTheirDefinitions) {
  InitSpec w;
  w.kind = Init::he_normal;
  for (Index B : {3, 12}) {
    const ModelConfig m = model_of(Activation::relu, RnnInputs::every_step, LossAt::every_step, w);
    const Index steps = 6, H = 8;
    const Chain ch = make_chain(m, 3, H, 2, steps, B, Loss::cross_entropy, 21);
    const ChainProbe p = chain_probe(ch, true, 3);
    const RnnCache<double>& c = p.c;
    const RnnGrads<double>& g = p.g;
    const std::vector<TimestepRow>& rows = p.rows;
    ASSERT_EQ(rows.size(), static_cast<size_t>(steps));
    const double rb = std::sqrt(static_cast<double>(B));
    Mat<double> sum = Mat<double>::Zero(H, H);
    for (Index t = 1; t <= steps; ++t) {
      const TimestepRow& r = rows[static_cast<size_t>(t - 1)];
      const Index o = (t - 1) * B;
      EXPECT_EQ(r.step, 3);
      EXPECT_NEAR(r.h_norm, c.h.middleCols(o + B, B).norm() / rb, 1e-14);
      EXPECT_NEAR(r.dh_norm, g.dh.middleCols(o, B).norm() / rb, 1e-14);
      EXPECT_NEAR(r.dz_norm, g.dz.middleCols(o, B).norm() / rb, 1e-14);
      EXPECT_NEAR(*r.dh_last_norm, r.dh_norm, 1e-14);
      const Mat<double> contrib = g.dz.middleCols(o, B) * c.h.middleCols(o, B).transpose();
      EXPECT_NEAR(r.grad_w_contrib_norm, contrib.norm() / static_cast<double>(B),
                  1e-12 * contrib.norm())
          << "B " << B << " t " << t;
      sum += contrib / static_cast<double>(B);
      const Mat<double> d = c.dphi.middleCols(o, B);
      EXPECT_DOUBLE_EQ(*r.saturated_frac, (d.array() == 0.0).cast<double>().mean());  // relu
      EXPECT_DOUBLE_EQ(*r.dead_frac, (d.array() == 0.0).rowwise().all().cast<double>().mean());
    }
    EXPECT_LT((sum - g.dW).norm(), 1e-13 * g.dW.norm());  // the shares add up to ∂L/∂W
  }
}

TEST(Rnn, LinearOrthogonalChainScalesByRhoPerStep) {
  const Index steps = 60;
  for (double rho : {0.9, 1.0, 1.1}) {
    const Rows r = chain_rows(Activation::identity, rho, RnnInputs::first_step, steps, 3);
    ASSERT_EQ(r.rows.size(), static_cast<size_t>(steps));
    const double top = r.rows.back().dh_norm;
    for (const TimestepRow& row : r.rows) {
      const double want = std::pow(rho, static_cast<double>(steps - row.t)) * top;
      EXPECT_NEAR(row.dh_norm / want, 1.0, 1e-10) << "rho " << rho << " t " << row.t;
    }
  }
}

// ‖∂ℓ_i/∂h_t‖ ≤ (γρ)^(T−t) ‖∂ℓ_i/∂h_T‖ for every example (γ = sup φ' = 1 for tanh, 1/4 for
// sigmoid), hence for the RMS dh_norm too.
void expect_bound(Activation a, double gamma) {
  const Index steps = 40, B = 5;
  for (double rho : {0.9, 1.0, 1.1, 2.0}) {
    for (RnnInputs in : {RnnInputs::every_step, RnnInputs::first_step}) {
      const Rows r = chain_rows(a, rho, in, steps, 5);
      const double top = r.rows.back().dh_norm;
      for (const TimestepRow& row : r.rows) {
        const double bound = std::pow(gamma * rho, static_cast<double>(steps - row.t));
        EXPECT_LE(row.dh_norm, bound * top * (1 + 1e-12))
            << activation_name(a) << " rho " << rho << " t " << row.t;
        for (Index i = 0; i < B; ++i) {
          const double di = r.g.dh.col((row.t - 1) * B + i).norm();
          const double dT = r.g.dh.col((steps - 1) * B + i).norm();
          EXPECT_LE(di, bound * dT * (1 + 1e-12));
        }
      }
    }
  }
}

TEST(Rnn, TanhChainStaysUnderRhoToTheTMinusT) { expect_bound(Activation::tanh, 1.0); }
TEST(Rnn, SigmoidChainStaysUnderRhoOverFourToTheTMinusT) {
  expect_bound(Activation::sigmoid, 0.25);
}

// ---- clipping (Pascanu's Algorithm 1 over every parameter) ----

TEST(Rnn, ClippingSetsTheGlobalNormAndKeepsTheDirection) {
  const Rows r = chain_rows(Activation::tanh, 1.2, RnnInputs::every_step, 20, 9);
  RnnGrads<double> g = r.g;
  g.dslope = 0.5;  // the slope is a parameter too (prelu)
  const double n0 = rnn_grads_norm(g);
  const double direct = std::sqrt(g.dW.squaredNorm() + g.dU.squaredNorm() + g.db.squaredNorm() +
                                  g.dV.squaredNorm() + g.dc.squaredNorm() + 0.25);
  EXPECT_NEAR(n0, direct, 1e-12 * direct);

  const double thr = n0 / 3;
  const double s = clip_scale(n0, thr);
  EXPECT_DOUBLE_EQ(s, thr / n0);
  RnnGrads<double> c = g;
  rnn_grads_scale(c, s);
  EXPECT_NEAR(rnn_grads_norm(c), thr, 1e-12 * thr);
  // same direction: every entry scaled by the same positive factor
  EXPECT_LT((c.dW - s * g.dW).norm(), 1e-15 * g.dW.norm());
  EXPECT_LT((c.dU - s * g.dU).norm(), 1e-15 * g.dU.norm());
  EXPECT_LT((c.dV - s * g.dV).norm(), 1e-15 * g.dV.norm());
  EXPECT_NEAR(c.dslope, s * 0.5, 1e-16);
  const double cosine =
      (c.dW.cwiseProduct(g.dW).sum() + c.dU.cwiseProduct(g.dU).sum() + c.db.dot(g.db) +
       c.dV.cwiseProduct(g.dV).sum() + c.dc.dot(g.dc) + c.dslope * g.dslope) /
      (rnn_grads_norm(c) * n0);
  EXPECT_NEAR(cosine, 1.0, 1e-12);

  // below (or without) the threshold nothing changes
  EXPECT_EQ(clip_scale(n0, 2 * n0), 1.0);
  EXPECT_EQ(clip_scale(n0, std::nullopt), 1.0);
  EXPECT_EQ(clip_scale(std::nan(""), 1.0), 1.0);
  RnnGrads<double> u = g;
  rnn_grads_scale(u, clip_scale(n0, 2 * n0));
  EXPECT_EQ(u.dW, g.dW);
  EXPECT_EQ(u.dc, g.dc);
}

// ---- the run ----

namespace {

RunSpec spec_of(const std::string& text) { return run_spec_of(text, 5, 6); }

}  // namespace

TEST(Rnn, RunWritesRowsSpectraAndTheSummary) {
  const RunSpec s = spec_of(R"({"model": {"type": "rnn", "width": 12, "length": 25,
      "activation": "tanh", "recurrent_init": {"name": "orthogonal", "gain": 0.8},
      "inputs": "first_step", "loss_at": "every_step"},
      "data": {"name": "gaussian", "dim": 5, "classes": 3}, "probe": {"samples": 7}})");
  const RunResult res = run_rnn<double>(s, "");
  ASSERT_EQ(res.status, "ok") << res.reason;
  ASSERT_EQ(res.timesteps.size(), 25u);
  ASSERT_EQ(res.steps.size(), 1u);
  EXPECT_NEAR(*res.steps[0].spectral_radius, 0.8, 1e-10);
  EXPECT_NEAR(*res.steps[0].sigma_max, 0.8, 1e-10);
  for (const TimestepRow& row : res.timesteps) {
    EXPECT_EQ(row.t, &row - res.timesteps.data() + 1);
    ASSERT_TRUE(row.dh_last_norm.has_value());
    EXPECT_GT(row.h_norm, 0);
  }
  EXPECT_DOUBLE_EQ(*res.timesteps.back().dh_last_norm, res.timesteps.back().dh_norm);  // t = T
  EXPECT_EQ(res.timesteps[0].grad_w_contrib_norm, 0.0);                                // h_0 = 0
  const json& sm = res.summary;
  EXPECT_TRUE(sm["first_nonfinite"].is_null());
  // 0.8^24 bounds the last-step-only ratio; tanh makes it smaller still
  const double ratio = sm["gradient_ratio"].get<double>();
  EXPECT_GT(ratio, 0);
  EXPECT_LE(ratio, std::pow(0.8, 24) * (1 + 1e-9));
  EXPECT_NEAR(sm["per_layer_factor"].get<double>(), std::pow(ratio, 2.0 / 24), 1e-12);
  EXPECT_EQ(sm["verdict"], "vanishing");
}

// An exploding float32 chain (ReLU, Gaussian W rescaled to spectral radius 1.5, T = 400)
// overflows: the run still completes and names where the first non-finite value appeared. (With
// W = 1.5·Q orthogonal the ReLU chain grows only ~5% per step and stays finite at T = 400.)
TEST(Rnn, ExplodingFloat32ChainRecordsTheFirstNonfinite) {
  const RunSpec s = spec_of(R"({"precision": "float32",
      "model": {"type": "rnn", "width": 32, "length": 400, "activation": "relu",
                "recurrent_init": {"name": "gaussian", "spectral_radius": 1.5}, "inputs": "first_step"},
      "data": {"name": "gaussian", "dim": 8, "outputs": 4}, "loss": "mse",
      "probe": {"samples": 16}})");
  const RunResult res = run_execute(s, "");
  EXPECT_TRUE(res.status == "ok" || res.status == "diverged") << res.status << ": " << res.reason;
  ASSERT_EQ(res.timesteps.size(), 400u);
  const json& f = res.summary["first_nonfinite"];
  ASSERT_TRUE(f.is_object()) << res.summary.dump(2);
  EXPECT_EQ(f["step"], 0);
  EXPECT_TRUE(f["quantity"].is_string());
  EXPECT_TRUE(f["t"].is_number_integer() || f["quantity"] == "loss") << f.dump();
  EXPECT_EQ(res.summary["verdict"], "nonfinite");
}

TEST(Rnn, MaxoutRunFailsWithTheReason) {
  // Config validation rejects maxout for chains (test_config.cpp); a Config built in code still
  // gets a failed run with the reason, not a crash.
  RunSpec s = spec_of(R"({"model": {"type": "rnn", "width": 4, "length": 3},
      "data": {"name": "gaussian", "dim": 2, "classes": 2}})");
  s.config.model.activation.kind = Activation::maxout;
  const RunResult res = run_execute(s, "");
  EXPECT_EQ(res.status, "failed");
  EXPECT_NE(res.reason.find("maxout"), std::string::npos) << res.reason;
}
