// The gated chains as a run uses them (harness/nn/gated_net.h, experiments/run_gated.cpp), from a
// config: every parameter gradient (all gates' W_ih, W_hh, b_ih, b_hh, the output layer V, c)
// against central finite differences of the batch-mean loss the run computes (float64; T = 1, 3,
// 8; inputs every_step and first_step; loss at the last step and at every step; mse and
// cross_entropy); the timesteps.csv rows against the backward's ∂ℓ/∂h_t and ∂ℓ/∂c_t; the closed
// forms of remedies (shut LSTM: constant dc_norm; GRU z = 1: constant dh_norm) through the rows;
// the hand-computed h_T; the same bits on 1 and 2 threads; per-gate init overrides and
// forget_bias from the config; clipping and SGD over every tensor.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "harness/core/config.h"
#include "harness/nn/gated_net.h"
#include "harness/nn/loss.h"
#include "harness/nn/optim.h"
#include "tests/test_util.h"

using namespace gl;

namespace {

constexpr Index I = 3, H = 4, O = 2, B = 3;

ModelConfig model_of(const std::string& model_json) {
  std::vector<ConfigIssue> issues;
  const json j = json::parse(R"({"model": )" + model_json +
                             R"(, "data": {"name": "gaussian", "dim": 3, "outputs": 2}})");
  const Config c = config_from_json(config_normalize(j), issues);
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
  return c.model;
}

struct Case {
  ModelType type;
  Index steps;
  RnnInputs inputs;
  LossAt loss_at;
  Loss loss;
};

std::string model_json(const Case& c) {
  return fmt::format(
      R"({{"type": "{}", "width": {}, "length": {}, "inputs": "{}", "loss_at": "{}",
          "recurrent_init": {{"name": "gaussian", "std": 0.5}},
          "input_init": {{"name": "gaussian", "std": 0.7}},
          "bias_init": {{"name": "gaussian", "sigma_b2": 0.2}}}})",
      enum_name(model_type_names, c.type), H, c.steps, enum_name(rnn_inputs_names, c.inputs),
      enum_name(loss_at_names, c.loss_at));
}

struct Data {
  Mat<double> x;
  Targets<double> y;
};

Data random_data(const Case& c, uint64_t seed) {
  Rng r = rng_make(seed);
  Data d;
  const Index nx = c.inputs == RnnInputs::every_step ? c.steps : 1;
  const Index ny = c.loss_at == LossAt::every_step ? c.steps : 1;
  d.x.resize(I, nx * B);
  for (Index k = 0; k < d.x.size(); ++k) d.x(k) = rng_normal(r);
  d.y.y.resize(O, ny * B);
  for (Index k = 0; k < d.y.y.size(); ++k) d.y.y(k) = rng_normal(r);
  for (Index k = 0; k < ny * B; ++k)
    d.y.labels.push_back(static_cast<int32_t>(rng_below(r, static_cast<uint64_t>(O))));
  return d;
}

// L = mean_i ℓ_i, ℓ_i = Σ_t ℓ_{i,t}: as run_gated.cpp computes it.
double batch_loss(const GatedNet<double>& net, const Case& c, const Data& d) {
  GatedNetCache<double> cache;
  gated_net_forward(net, d.x, c.steps, B, cache);
  Eigen::VectorXd lv;
  loss_forward(c.loss, cache.yhat, d.y, lv);
  return lv.sum() / static_cast<double>(B);
}

struct Probe {
  GatedNetCache<double> cache;
  GatedNetGrads<double> grads;
  Mat<double> dy;
  std::vector<TimestepRow> rows;
};

Probe probe_of(const GatedNet<double>& net, const Case& c, const Data& d) {
  Probe p;
  gated_net_forward(net, d.x, c.steps, B, p.cache);
  loss_backward(c.loss, p.cache.yhat, d.y, p.dy);
  gated_net_backward(net, d.x, p.cache, p.dy, p.grads);
  std::vector<GatedStepRow> gr;
  ProbeScratch<double> scratch;
  gated_timestep_rows<double>(net, p.cache, p.grads, nullptr, 0.05, 0, p.rows, gr, scratch);
  return p;
}

GatedNet<double> net_of(const Case& c, uint64_t seed) {
  Rng rng = rng_make(seed);
  return gated_net_init<double>({I, H, O}, model_of(model_json(c)), rng);
}

class GatedNetFd : public ::testing::TestWithParam<Case> {};

TEST_P(GatedNetFd, EveryParameterGradientMatchesFiniteDifferences) {
  const Case c = GetParam();
  const GatedNet<double> net = net_of(c, 31);
  const Data d = random_data(c, 32);
  Probe p = probe_of(net, c, d);
  std::vector<const double*> an;
  std::vector<std::string> names;
  gated_grads_tensors(p.grads, [&](const char* name, const auto& m) {
    an.push_back(m.data());
    names.push_back(name);
  });
  size_t k = 0, checked = 0;
  GatedNet<double> probe_net = net;
  gated_net_tensors(probe_net, [&](const char*, auto& m) {
    for (Index e = 0; e < m.size(); ++e) {
      const double keep = m(e), eps = 1e-6;
      m(e) = keep + eps;
      const double up = batch_loss(probe_net, c, d);
      m(e) = keep - eps;
      const double down = batch_loss(probe_net, c, d);
      m(e) = keep;
      const double fd = (up - down) / (2 * eps), g = an[k][e];
      EXPECT_NEAR(fd, g, 1e-8 + 1e-6 * std::abs(g)) << names[k] << " entry " << e;
      ++checked;
    }
    ++k;
  });
  EXPECT_EQ(k, 6u);
  EXPECT_GT(checked, 100u);
  // the rows: dh_norm and dc_norm are the RMS of the backward's blocks
  ASSERT_EQ(p.rows.size(), static_cast<size_t>(c.steps));
  const bool lstm = c.type == ModelType::lstm;
  for (const TimestepRow& r : p.rows) {
    const Index o = (r.t - 1) * B;
    EXPECT_NEAR(r.dh_norm, p.grads.cell.dh.middleCols(o, B).norm() / std::sqrt(double(B)), 1e-14);
    EXPECT_EQ(r.dc_norm.has_value(), lstm);
    if (lstm) {
      EXPECT_NEAR(*r.dc_norm, p.grads.cell.dc.middleCols(o, B).norm() / std::sqrt(double(B)),
                  1e-14);
    }
    EXPECT_EQ(r.gate_mean[0].has_value(), lstm);
    EXPECT_EQ(r.gate_mean[4].has_value(), !lstm);
  }
}

std::vector<Case> fd_cases() {
  std::vector<Case> v;
  for (ModelType t : {ModelType::lstm, ModelType::gru})
    for (Index steps : {1, 3, 8})
      for (RnnInputs in : {RnnInputs::every_step, RnnInputs::first_step})
        for (LossAt at : {LossAt::last, LossAt::every_step})
          v.push_back({t, steps, in, at, steps == 3 ? Loss::cross_entropy : Loss::mse});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Cases, GatedNetFd, ::testing::ValuesIn(fd_cases()),
                         [](const ::testing::TestParamInfo<Case>& p) {
                           const Case& c = p.param;
                           return std::string(enum_name(model_type_names, c.type)) + "_T" +
                                  std::to_string(c.steps) + "_" +
                                  std::string(enum_name(rnn_inputs_names, c.inputs)) + "_" +
                                  std::string(enum_name(loss_at_names, c.loss_at));
                         });

// remedies' closed forms through the rows: an LSTM with i = 0, f = 1, o = 1 (biases ±60 on both
// bias vectors) keeps ∂ℓ/∂c_t the same at every t, so dc_norm is constant;
// a GRU with z = 1 passes ∂ℓ/∂h_t unchanged, so dh_norm is constant and W_hh's shares are 0.
TEST(GatedNetClosedForm, ShutLstmRowsHaveConstantCellGradient) {
  const Case c{ModelType::lstm, 9, RnnInputs::every_step, LossAt::last, Loss::mse};
  GatedNet<double> net = net_of(c, 41);
  for (auto [gate, bias] : {std::pair{0, -60.0}, {1, 60.0}, {3, 60.0}}) {
    net.cell.b_ih.segment(gate * H, H).setConstant(bias);
    net.cell.b_hh.segment(gate * H, H).setConstant(bias);
  }
  const Probe p = probe_of(net, c, random_data(c, 42));
  const double dcT = *p.rows.back().dc_norm;
  EXPECT_GT(dcT, 0.01);
  for (const TimestepRow& r : p.rows) {
    EXPECT_NEAR(*r.dc_norm, dcT, 1e-12 * dcT) << r.t;
    EXPECT_LT(*r.gate_mean[0], 1e-20);          // input gate shut
    EXPECT_EQ(*r.gate_mean[1], 1.0);            // σ(120) rounds to 1
    EXPECT_EQ(*r.gate_saturated_frac[1], 1.0);  // and is saturated
  }
}

TEST(GatedNetClosedForm, GruWithUpdateGateOneRowsHaveConstantStateGradient) {
  const Case c{ModelType::gru, 9, RnnInputs::every_step, LossAt::last, Loss::mse};
  GatedNet<double> net = net_of(c, 43);
  net.cell.b_ih.segment(H, H).setConstant(60.0);
  net.cell.b_hh.segment(H, H).setConstant(60.0);
  const Probe p = probe_of(net, c, random_data(c, 44));
  const double dhT = p.rows.back().dh_norm;
  EXPECT_GT(dhT, 0.01);
  for (const TimestepRow& r : p.rows) {
    EXPECT_EQ(r.dh_norm, dhT) << r.t;
    EXPECT_EQ(r.grad_w_contrib_norm, 0.0) << r.t;
    EXPECT_EQ(*r.gate_mean[5], 1.0);
  }
}

// H = 1, one input, one example, every weight 1/2, biases 0, x_1 = x_2 = 1, through the net's
// forward (the output layer reads h_T). LSTM: a = 1/2 + h/2 for every gate; GRU likewise.
TEST(GatedNetHandCase, HiddenStateAtTIsTheHandComputedOne) {
  const auto sg = [](double v) { return 1 / (1 + std::exp(-v)); };
  // LSTM: t = 1: a = 0.5: c1 = σ(.5)·tanh(.5), h1 = σ(.5)·tanh(c1); t = 2: a = 0.5 + 0.5·h1
  const double c1 = sg(0.5) * std::tanh(0.5), h1 = sg(0.5) * std::tanh(c1);
  const double a2 = 0.5 + 0.5 * h1;
  const double c2 = sg(a2) * c1 + sg(a2) * std::tanh(a2), lstm_h2 = sg(a2) * std::tanh(c2);
  // GRU: t = 1: r = z = σ(.5), n = tanh(.5 + r·0) = tanh(.5), h1 = (1 − z)·n
  const double g1 = (1 - sg(0.5)) * std::tanh(0.5);
  const double b2 = 0.5 + 0.5 * g1, n2 = std::tanh(0.5 + sg(b2) * 0.5 * g1);
  const double gru_h2 = (1 - sg(b2)) * n2 + sg(b2) * g1;
  for (ModelType t : {ModelType::lstm, ModelType::gru}) {
    const ModelConfig m = model_of(fmt::format(
        R"({{"type": "{}", "width": 1, "length": 2, "bias_init": 0, "forget_bias": 0}})",
        enum_name(model_type_names, t)));
    Rng rng = rng_make(1);
    GatedNet<double> net = gated_net_init<double>({1, 1, 1}, m, rng);
    net.cell.W_ih.setConstant(0.5);
    net.cell.W_hh.setConstant(0.5);
    GatedNetCache<double> cache;
    const Mat<double> x = Mat<double>::Ones(1, 2);
    gated_net_forward(net, x, 2, 1, cache);
    EXPECT_NEAR(cache.cell.h(0, 2), t == ModelType::lstm ? lstm_h2 : gru_h2, 1e-15);
  }
}

// The same bits whatever the thread count (chain_team.h): forward, backward and rows.
TEST(GatedNetThreads, OneAndTwoThreadsGiveTheSameBits) {
  for (ModelType t : {ModelType::lstm, ModelType::gru}) {
    const Case c{t, 6, RnnInputs::every_step, LossAt::every_step, Loss::mse};
    Rng rng = rng_make(5);
    const std::string mj =
        fmt::format(R"({{"type": "{}", "width": 40, "length": 6, "loss_at": "every_step"}})",
                    enum_name(model_type_names, t));
    const GatedNet<float> net = gated_net_init<float>({I, 40, O}, model_of(mj), rng);
    Rng dr = rng_make(6);
    const Index Bt = 24;
    Mat<float> x(I, c.steps * Bt);
    for (Index k = 0; k < x.size(); ++k) x(k) = static_cast<float>(rng_normal(dr));
    Mat<float> dy(O, c.steps * Bt);
    for (Index k = 0; k < dy.size(); ++k) dy(k) = static_cast<float>(rng_normal(dr));
    std::vector<GatedNetGrads<float>> g(2);
    std::vector<GatedNetCache<float>> ca(2);
    std::vector<std::vector<TimestepRow>> rows(2);
    const int before = omp_get_max_threads();
    for (int k = 0; k < 2; ++k) {
      omp_set_num_threads(k + 1);
      gated_net_forward(net, x, c.steps, Bt, ca[k]);
      gated_net_backward(net, x, ca[k], dy, g[k]);
      std::vector<GatedStepRow> gr;
      ProbeScratch<float> s;
      gated_timestep_rows<float>(net, ca[k], g[k], nullptr, 0.05, 0, rows[k], gr, s);
    }
    omp_set_num_threads(before);
    EXPECT_EQ(ca[0].yhat, ca[1].yhat);
    EXPECT_EQ(g[0].cell.dh.leftCols(c.steps * Bt), g[1].cell.dh.leftCols(c.steps * Bt));
    EXPECT_EQ(g[0].cell.dW_hh, g[1].cell.dW_hh);
    EXPECT_EQ(g[0].cell.dW_ih, g[1].cell.dW_ih);
    EXPECT_EQ(g[0].dV, g[1].dV);
    ASSERT_EQ(rows[0].size(), rows[1].size());
    for (size_t r = 0; r < rows[0].size(); ++r) {
      EXPECT_EQ(rows[0][r].dh_norm, rows[1][r].dh_norm);
      EXPECT_EQ(rows[0][r].grad_w_contrib_norm, rows[1][r].grad_w_contrib_norm);
    }
  }
}

// Per-gate overrides and forget_bias from the config: the f block of W_hh drawn from its own spec
// (the identity here), the others from the shared one; forget_bias on b_ih's f slice only.
TEST(GatedNetInit, PerGateOverridesAndForgetBias) {
  const ModelConfig m = model_of(
      R"({"type": "lstm", "width": 4, "length": 3, "bias_init": 0, "forget_bias": 2.5,
          "recurrent_init_gates": {"f": "identity"}})");
  Rng rng = rng_make(3);
  const GatedNet<double> net = gated_net_init<double>({I, H, O}, m, rng);
  EXPECT_EQ(net.cell.W_hh.middleRows(H, H), Mat<double>::Identity(H, H));
  EXPECT_NE(net.cell.W_hh.topRows(H), Mat<double>::Identity(H, H));
  EXPECT_TRUE((net.cell.b_ih.segment(H, H).array() == 2.5).all());
  EXPECT_EQ(net.cell.b_ih.norm(), net.cell.b_ih.segment(H, H).norm());
  EXPECT_EQ(net.cell.b_hh.norm(), 0.0);
  // the default forget bias is 1 (Jozefowicz et al. 2015)
  const ModelConfig d = model_of(R"({"type": "lstm", "width": 4, "length": 3})");
  EXPECT_EQ(d.forget_bias, 1.0);
}

// Clipping scales every tensor's gradient; SGD with momentum moves every tensor as v ← μv + g,
// θ ← θ − lr·v.
TEST(GatedNetTrain, ClipAndMomentumStepCoverEveryTensor) {
  const Case c{ModelType::gru, 4, RnnInputs::every_step, LossAt::last, Loss::mse};
  GatedNet<double> net = net_of(c, 51);
  Probe p = probe_of(net, c, random_data(c, 52));
  const double n = gated_grads_norm(p.grads);
  double sum2 = 0;
  gated_grads_tensors(p.grads, [&](const char*, const auto& m) { sum2 += m.squaredNorm(); });
  EXPECT_NEAR(n, std::sqrt(sum2), 1e-14 * n);
  gated_grads_scale(p.grads, 0.5);
  EXPECT_NEAR(gated_grads_norm(p.grads), 0.5 * n, 1e-14 * n);
  GatedNet<double> before = net;
  TrainConfig tc;
  tc.opt.lr = 0.1;
  tc.opt.momentum = 0.9;
  Optim<double> o;
  gated_params(net, p.grads, o);
  optim_make(tc, o, 0);
  params_update(tc, o, 1, 1.0);
  params_update(tc, o, 2, 1.0);  // v = 1.9 g after two steps: θ moved 0.29 g
  std::vector<const double*> g;
  gated_grads_tensors(p.grads, [&](const char*, const auto& m) { g.push_back(m.data()); });
  size_t k = 0;
  std::vector<const double*> b;
  gated_net_tensors(before, [&](const char*, auto& m) { b.push_back(m.data()); });
  gated_net_tensors(net, [&](const char*, auto& m) {
    for (Index e = 0; e < m.size(); ++e)
      EXPECT_NEAR(m(e), b[k][e] - 0.29 * g[k][e], 1e-14) << k << " " << e;
    ++k;
  });
  EXPECT_EQ(k, 6u);
}

}  // namespace
