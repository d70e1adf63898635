// Gated cells (gated.h): backprop through time against central finite differences (float64) of a
// reference forward written independently of gated.cpp, for every parameter, the inputs,
// ∂ℓ_i/∂h_t and ∂ℓ_i/∂c_t; T = 1, 2, 7, inputs every_step and first_step, loss at the last step
// and at every step. The closed forms of a shut LSTM (i = 0, f = o = 1: constant cell, constant
// ∂ℓ/∂c_t) and a GRU with z = 1 (h_t = h_{t-1}, constant ∂ℓ/∂h_t); float32 against float64; the
// init helper; the per-step diagnostics on cases with known answers.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/nn/gated.h"

using namespace gl;

namespace {

constexpr Index I = 2, H = 3, B = 2;

double sig(double v) { return 1 / (1 + std::exp(-v)); }

// Where the reference forward nudges the state: h_t(j, i) or c_t(j, i) (before h_t is formed).
enum class Nudge { none, h, c };
struct NudgeAt {
  Nudge what = Nudge::none;
  Index t = 0, j = 0, i = 0;
  double eps = 0;
};

// A test sequence: inputs, targets of the loss ℓ_i = Σ_{t ∈ S} ½‖h_t,i − y_t,i‖² (S = {T} or
// every t), so that the seed ∂ℓ_i/∂h_t is h_t − y_t on S and 0 elsewhere.
struct Seq {
  Index steps = 0;
  bool loss_every = false;
  Mat<double> x, y;  // x: (I, n·B); y: (H, T·B)
};

struct RefOut {
  Eigen::VectorXd loss;  // ℓ_i
  Mat<double> h;         // (H, T·B): h_t per step
  Mat<double> c;         // (H, T·B): c_t per step (LSTM)
};

// The equations of gated.h, one step at a time for the whole batch.
RefOut ref_forward(const Gated<double>& net, const Seq& s, NudgeAt nu = {}) {
  const bool lstm = net.kind == CellKind::lstm;
  const bool every_in = net.inputs == RnnInputs::every_step;
  RefOut r;
  r.loss = Eigen::VectorXd::Zero(B);
  r.h.resize(H, s.steps * B);
  r.c.resize(H, s.steps * B);
  Mat<double> h = Mat<double>::Zero(H, B), c = Mat<double>::Zero(H, B);
  for (Index t = 1; t <= s.steps; ++t) {
    Mat<double> ax = Mat<double>::Zero(net.W_ih.rows(), B);
    if (every_in || t == 1) ax = net.W_ih * s.x.middleCols((every_in ? t - 1 : 0) * B, B);
    ax.colwise() += net.b_ih;
    Mat<double> ah = net.W_hh * h;
    ah.colwise() += net.b_hh;
    for (Index i = 0; i < B; ++i)
      for (Index j = 0; j < H; ++j) {
        if (lstm) {
          const auto a = [&](Index k) { return ax(k * H + j, i) + ah(k * H + j, i); };
          const double ig = sig(a(0)), fg = sig(a(1)), gg = std::tanh(a(2)), og = sig(a(3));
          c(j, i) = fg * c(j, i) + ig * gg;
          if (nu.what == Nudge::c && nu.t == t && nu.j == j && nu.i == i) c(j, i) += nu.eps;
          h(j, i) = og * std::tanh(c(j, i));
        } else {
          const double rg = sig(ax(j, i) + ah(j, i)), zg = sig(ax(H + j, i) + ah(H + j, i));
          const double ng = std::tanh(ax(2 * H + j, i) + rg * ah(2 * H + j, i));
          h(j, i) = (1 - zg) * ng + zg * h(j, i);
        }
      }
    if (nu.what == Nudge::h && nu.t == t) h(nu.j, nu.i) += nu.eps;
    r.h.middleCols((t - 1) * B, B) = h;
    r.c.middleCols((t - 1) * B, B) = c;
    if (s.loss_every || t == s.steps)
      r.loss += 0.5 * (h - s.y.middleCols((t - 1) * B, B)).colwise().squaredNorm().transpose();
  }
  return r;
}

Mat<double> seed_of(const Seq& s, const Mat<double>& h) {
  Mat<double> d = Mat<double>::Zero(H, s.steps * B);
  for (Index t = 1; t <= s.steps; ++t)
    if (s.loss_every || t == s.steps)
      d.middleCols((t - 1) * B, B) =
          h.middleCols(t * B, B) - s.y.middleCols((t - 1) * B, B);  // h: block 0 = h_0
  return d;
}

Gated<double> random_net(CellKind kind, RnnInputs inputs, uint64_t seed) {
  Rng rng = rng_make(seed);
  InitSpec w;
  w.kind = Init::gaussian;
  w.std = 0.6;
  BiasSpec b;
  b.kind = BiasKind::gaussian;
  b.sigma_b2 = 0.25;
  return gated_init<double>(kind, {I, H}, gate_inits_shared(w, w, b, 0.0), inputs, rng);
}

Seq random_seq(Index steps, RnnInputs inputs, bool loss_every, uint64_t seed) {
  Rng rng = rng_make(seed);
  Seq s;
  s.steps = steps;
  s.loss_every = loss_every;
  s.x.resize(I, (inputs == RnnInputs::every_step ? steps : 1) * B);
  s.y.resize(H, steps * B);
  for (Index k = 0; k < s.x.size(); ++k) s.x(k) = rng_uniform(rng, -1.0, 1.0);
  for (Index k = 0; k < s.y.size(); ++k) s.y(k) = rng_uniform(rng, -1.0, 1.0);
  return s;
}

struct Pass {
  GatedCache<double> cache;
  GatedGrads<double> grads;
};

void run(const Gated<double>& net, const Seq& s, Pass& r) {
  gated_forward(net, s.x, s.steps, B, r.cache);
  gated_backward(net, s.x, r.cache, seed_of(s, r.cache.h), r.grads);
}

constexpr double eps = 1e-6;
void expect_close(double fd, double an, const std::string& what) {
  EXPECT_NEAR(fd, an, 1e-8 + 1e-6 * std::abs(an)) << what;
}

// Every entry of a parameter m (a matrix or vector of net) against grads' g.
template <class M>
void check_param(const Gated<double>& net, const Seq& s, M Gated<double>::*m, const M& g,
                 const char* name) {
  ASSERT_EQ(g.rows(), (net.*m).rows());
  ASSERT_EQ(g.cols(), (net.*m).cols());
  for (Index k = 0; k < g.size(); ++k) {
    Gated<double> p = net, q = net;
    (p.*m)(k) += eps;
    (q.*m)(k) -= eps;
    const double fd = (ref_forward(p, s).loss.mean() - ref_forward(q, s).loss.mean()) / (2 * eps);
    expect_close(fd, g(k), std::string(name) + " entry " + std::to_string(k));
  }
}

struct FdCase {
  CellKind kind;
  Index steps;
  RnnInputs inputs;
  bool loss_every;
};

class GatedFd : public ::testing::TestWithParam<FdCase> {};

TEST_P(GatedFd, EveryGradientMatchesFiniteDifferences) {
  const FdCase fc = GetParam();
  const Gated<double> net = random_net(fc.kind, fc.inputs, 11);
  const Seq s = random_seq(fc.steps, fc.inputs, fc.loss_every, 12);
  Pass r;
  run(net, s, r);
  // the forward itself: h_t of the reference
  const RefOut ref = ref_forward(net, s);
  EXPECT_LT((r.cache.h.middleCols(B, s.steps * B) - ref.h).cwiseAbs().maxCoeff(), 1e-14);
  check_param(net, s, &Gated<double>::W_ih, r.grads.dW_ih, "W_ih");
  check_param(net, s, &Gated<double>::W_hh, r.grads.dW_hh, "W_hh");
  check_param(net, s, &Gated<double>::b_ih, r.grads.db_ih, "b_ih");
  check_param(net, s, &Gated<double>::b_hh, r.grads.db_hh, "b_hh");
  // per-example ∂ℓ_i/∂x (unscaled)
  ASSERT_EQ(r.grads.dx.cols(), s.x.cols());
  for (Index col = 0; col < s.x.cols(); ++col)
    for (Index j = 0; j < I; ++j) {
      Seq p = s, q = s;
      p.x(j, col) += eps;
      q.x(j, col) -= eps;
      const Index i = col % B;
      const double fd = (ref_forward(net, p).loss(i) - ref_forward(net, q).loss(i)) / (2 * eps);
      expect_close(fd, r.grads.dx(j, col), "dx");
    }
  // per-example ∂ℓ_i/∂h_t and (LSTM) ∂ℓ_i/∂c_t, every t
  for (Nudge what : {Nudge::h, Nudge::c}) {
    if (what == Nudge::c && fc.kind != CellKind::lstm) continue;
    const Mat<double>& an = what == Nudge::h ? r.grads.dh : r.grads.dc;
    for (Index t = 1; t <= s.steps; ++t)
      for (Index i = 0; i < B; ++i)
        for (Index j = 0; j < H; ++j) {
          const double fd = (ref_forward(net, s, {what, t, j, i, eps}).loss(i) -
                             ref_forward(net, s, {what, t, j, i, -eps}).loss(i)) /
                            (2 * eps);
          expect_close(fd, an(j, (t - 1) * B + i),
                       (what == Nudge::h ? "dh t=" : "dc t=") + std::to_string(t));
        }
  }
}

std::vector<FdCase> fd_cases() {
  std::vector<FdCase> v;
  for (CellKind k : {CellKind::lstm, CellKind::gru})
    for (Index steps : {1, 2, 7})
      for (RnnInputs in : {RnnInputs::every_step, RnnInputs::first_step})
        for (bool every : {false, true}) v.push_back({k, steps, in, every});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Cases, GatedFd, ::testing::ValuesIn(fd_cases()),
                         [](const ::testing::TestParamInfo<FdCase>& p) {
                           const FdCase& c = p.param;
                           return std::string(cell_kind_names[static_cast<size_t>(c.kind)]) + "_T" +
                                  std::to_string(c.steps) + "_" +
                                  std::string(rnn_inputs_names[static_cast<size_t>(c.inputs)]) +
                                  (c.loss_every ? "_loss_every" : "_loss_last");
                         });

// A net whose gates are pinned by large biases: `pins` lists (gate, bias) set in both b_ih and
// b_hh slices (so a = ±2·bias plus the small weighted terms).
Gated<double> pinned_net(CellKind kind, std::initializer_list<std::pair<int, double>> pins) {
  Gated<double> net = random_net(kind, RnnInputs::every_step, 21);
  for (auto [gate, bias] : pins) {
    net.b_ih.segment(gate * H, H).setConstant(bias);
    net.b_hh.segment(gate * H, H).setConstant(bias);
  }
  return net;
}

// remedies of the LSTM cell path: i = 0 (input gate shut), f = 1, o = 1. The cell keeps c_0 = 0
// (i ⊙ g ≈ 1e-52) and, with the loss at T only, ∂ℓ/∂c_t = ∂ℓ/∂c_T at every t (the constant
// error carousel: ∂c_t/∂c_{t-1} = f = 1 and no path through the shut gates).
TEST(GatedClosedForm, ShutLstmKeepsCellAndCellGradientConstant) {
  const Gated<double> net = pinned_net(CellKind::lstm, {{0, -60.0}, {1, 60.0}, {3, 60.0}});
  const Seq s = random_seq(7, RnnInputs::every_step, false, 22);
  Pass r;
  run(net, s, r);
  const Index n = s.steps * B;
  EXPECT_LT(r.cache.c.leftCols(n + B).cwiseAbs().maxCoeff(), 1e-40);
  const Mat<double> dcT = r.grads.dc.middleCols(n - B, B);
  EXPECT_GT(dcT.norm(), 0.1);
  for (Index t = 1; t < s.steps; ++t)
    EXPECT_LT((r.grads.dc.middleCols((t - 1) * B, B) - dcT).cwiseAbs().maxCoeff(), 1e-12)
        << "t=" << t;
}

// GRU with z = 1 (σ(120) is 1 in double): h_t = (1 − 1)·n + 1·h_{t-1} = h_{t-1} exactly, and
// ∂ℓ/∂h_t = z ⊙ ∂ℓ/∂h_{t+1} = ∂ℓ/∂h_T exactly (every gate's derivative is 0).
TEST(GatedClosedForm, GruWithUpdateGateOneCarriesStateAndGradient) {
  const Gated<double> net = pinned_net(CellKind::gru, {{1, 60.0}});
  const Seq s = random_seq(7, RnnInputs::every_step, false, 23);
  Pass r;
  run(net, s, r);
  const Index n = s.steps * B;
  for (Index t = 1; t <= s.steps; ++t) {
    EXPECT_EQ(r.cache.h.middleCols(t * B, B), r.cache.h.middleCols((t - 1) * B, B)) << t;
    EXPECT_EQ(r.grads.dh.middleCols((t - 1) * B, B), r.grads.dh.middleCols(n - B, B)) << t;
  }
  EXPECT_GT(r.grads.dh.middleCols(n - B, B).norm(), 0.1);
  EXPECT_EQ(r.grads.dW_hh.norm(), 0.0);
}

// A hand case: H = 1, one input, one example, all weights 1/2 and biases 0, x_1 = x_2 = 1.
TEST(GatedHandCase, LstmAndGruGiveTheHandComputedState) {
  const Mat<double> x = Mat<double>::Ones(1, 2);
  for (CellKind kind : {CellKind::lstm, CellKind::gru}) {
    Gated<double> net;
    net.kind = kind;
    const Index G = cell_gates(kind);
    net.W_ih = Mat<double>::Constant(G, 1, 0.5);
    net.W_hh = Mat<double>::Constant(G, 1, 0.5);
    net.b_ih = Vec<double>::Zero(G);
    net.b_hh = Vec<double>::Zero(G);
    GatedCache<double> c;
    gated_forward(net, x, 2, 1, c);
    double h = 0, cell = 0;
    for (int t = 0; t < 2; ++t) {
      const double a = 0.5 + 0.5 * h;  // every gate's pre-activation
      if (kind == CellKind::lstm) {
        cell = sig(a) * cell + sig(a) * std::tanh(a);
        h = sig(a) * std::tanh(cell);
      } else {
        const double n = std::tanh(0.5 + sig(a) * 0.5 * h);
        h = (1 - sig(a)) * n + sig(a) * h;
      }
    }
    // step 1 by hand: LSTM c_1 = σ(½)·tanh(½) = 0.287649, h_1 = σ(½)·tanh(c_1) = 0.174270;
    // GRU h_1 = (1 − σ(½))·tanh(½) = 0.174468
    EXPECT_NEAR(c.h(0, 1), kind == CellKind::lstm ? 0.174270 : 0.174468, 1e-6);
    EXPECT_NEAR(c.h(0, 2), h, 1e-15);
  }
}

TEST(GatedPrecision, Float32ForwardAndBackwardFollowFloat64) {
  for (CellKind kind : {CellKind::lstm, CellKind::gru}) {
    const Gated<double> net = random_net(kind, RnnInputs::every_step, 31);
    const Seq s = random_seq(7, RnnInputs::every_step, true, 32);
    Pass r;
    run(net, s, r);
    Gated<float> nf;
    nf.kind = kind;
    nf.W_ih = net.W_ih.cast<float>();
    nf.W_hh = net.W_hh.cast<float>();
    nf.b_ih = net.b_ih.cast<float>();
    nf.b_hh = net.b_hh.cast<float>();
    GatedCache<float> cf;
    GatedGrads<float> gf;
    const Mat<float> xf = s.x.cast<float>();
    gated_forward(nf, xf, s.steps, B, cf);
    const Mat<double> seed = seed_of(s, r.cache.h);
    gated_backward(nf, xf, cf, Mat<float>(seed.cast<float>()), gf);
    const Index n = s.steps * B;
    EXPECT_LT(
        (cf.h.leftCols(n + B).cast<double>() - r.cache.h.leftCols(n + B)).cwiseAbs().maxCoeff(),
        1e-5);
    EXPECT_LT((gf.dW_hh.cast<double>() - r.grads.dW_hh).cwiseAbs().maxCoeff(), 1e-5);
    EXPECT_LT((gf.dh.leftCols(n).cast<double>() - r.grads.dh.leftCols(n)).cwiseAbs().maxCoeff(),
              1e-5);
  }
}

TEST(GatedInit, ForgetBiasAndPerGateSpecs) {
  InitSpec u;
  u.kind = Init::uniform;
  u.scale = 0.1;
  InitSpec id;
  id.kind = Init::identity;
  GatedInit gi = gate_inits_shared(u, u, BiasSpec{}, 1.0);
  gi.recurrent[lstm_forget_gate] = id;
  Rng rng = rng_make(5);
  const Gated<double> net =
      gated_init<double>(CellKind::lstm, {I, H}, gi, RnnInputs::every_step, rng);
  ASSERT_EQ(net.W_ih.rows(), 4 * H);
  ASSERT_EQ(net.W_ih.cols(), I);
  ASSERT_EQ(net.W_hh.rows(), 4 * H);
  ASSERT_EQ(net.W_hh.cols(), H);
  // the forget gate's slice of b_ih holds forget_bias, every other bias entry 0
  for (Index k = 0; k < 4 * H; ++k) {
    EXPECT_EQ(net.b_ih(k), k / H == lstm_forget_gate ? 1.0 : 0.0) << k;
    EXPECT_EQ(net.b_hh(k), 0.0) << k;
  }
  EXPECT_EQ(net.W_hh.middleRows(lstm_forget_gate * H, H), Mat<double>::Identity(H, H));
  for (int g : {0, 2, 3}) {
    const Mat<double> blk = net.W_hh.middleRows(g * H, H);
    EXPECT_LE(blk.cwiseAbs().maxCoeff(), 0.1);
    EXPECT_NE(blk, Mat<double>::Identity(H, H));
  }
  // each gate's block is its own draw
  EXPECT_NE(net.W_ih.topRows(H), net.W_ih.middleRows(H, H));
}

TEST(GatedInit, ForgetBiasOnAGruIsAUsageError) {
  Rng rng = rng_make(5);
  try {
    gated_init<double>(CellKind::gru, {I, H}, gate_inits_shared({}, {}, {}, 1.0),
                       RnnInputs::every_step, rng);
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "forget_bias applies to the LSTM's forget gate only; a GRU needs 0");
  }
}

// The diagnostics (τ = 0.01) of one forward and backward.
std::vector<GatedStepRow> step_rows(const Gated<double>& net, const Seq& s, Pass& r) {
  run(net, s, r);
  std::vector<GatedStepRow> rows;
  ProbeScratch<double> scratch;
  gated_step_rows(net, r.cache, r.grads, 0.01, rows, scratch);
  return rows;
}

TEST(GatedStepRows, KnownAnswers) {
  // shut LSTM: i ≈ 0, f = o = 1 (σ' below τ/4: all saturated); g = tanh(a_g), |a_g| small:
  // unsaturated; ‖∂ℓ/∂c_t‖ the same at every t, and ‖∂ℓ/∂h_t‖ 0 before T (no gate open)
  {
    const Gated<double> net = pinned_net(CellKind::lstm, {{0, -60.0}, {1, 60.0}, {3, 60.0}});
    const Seq s = random_seq(5, RnnInputs::every_step, false, 41);
    Pass r;
    const std::vector<GatedStepRow> rows = step_rows(net, s, r);
    ASSERT_EQ(rows.size(), 5u);
    const Index n = s.steps * B;
    const double dcT = r.grads.dc.middleCols(n - B, B).norm() / std::sqrt(double(B));
    for (const GatedStepRow& row : rows) {
      EXPECT_NEAR(row.gate[0].mean, 0.0, 1e-20);
      EXPECT_EQ(row.gate[0].saturated_frac, 1.0);
      EXPECT_EQ(row.gate[1].mean, 1.0);
      EXPECT_EQ(row.gate[1].saturated_frac, 1.0);
      EXPECT_EQ(row.gate[3].saturated_frac, 1.0);
      EXPECT_EQ(row.gate[2].saturated_frac, 0.0);  // |a_g| < 3: tanh' > 0.01
      EXPECT_NEAR(row.dc_norm, dcT, 1e-12 * dcT);
      if (row.t < 5) {
        EXPECT_LT(row.dh_norm, 1e-12);
      }
    }
    // RMS over the examples of the seed at T
    const Mat<double> seed = seed_of(s, r.cache.h).rightCols(B);
    EXPECT_NEAR(rows[4].dh_norm, seed.norm() / std::sqrt(double(B)), 1e-15);
  }
  // GRU, T = 2: step 2's contribution to ∂L/∂W_hh is all of it (h_0 = 0), step 1's is 0; a gate
  // mean is the mean of the cached gate block; NaN for ‖∂ℓ/∂c_t‖
  {
    const Gated<double> net = random_net(CellKind::gru, RnnInputs::every_step, 42);
    const Seq s = random_seq(2, RnnInputs::every_step, true, 43);
    Pass r;
    const std::vector<GatedStepRow> rows = step_rows(net, s, r);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].grad_whh_contrib_norm, 0.0);
    EXPECT_NEAR(rows[1].grad_whh_contrib_norm, r.grads.dW_hh.norm(), 1e-14);
    EXPECT_GT(rows[1].grad_whh_contrib_norm, 0.0);
    EXPECT_TRUE(std::isnan(rows[0].dc_norm));
    EXPECT_NEAR(rows[1].gate[2].mean, r.cache.gate.block(2 * H, B, H, B).mean(), 1e-15);
    EXPECT_TRUE(std::isnan(rows[1].gate[3].mean));  // no fourth gate
  }
}

}  // namespace
