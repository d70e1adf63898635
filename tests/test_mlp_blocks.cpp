// Residual and norm nets (harness/nn/mlp_blocks.cpp): every gradient against central finite
// differences in float64 (W, b, γ, β, a learned α, and per example the input's gradient, through
// training-mode BatchNorm over the batch and over the probe's groups); the closed forms of a zero
// branch, of BatchNorm's input gradient and normalized batch; the identity net's factor
// 1 + α²σ_w² per block; mean-field theory against wide nets; threads, float32, the optimizer.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "harness/core/config.h"
#include "harness/measure/metrics.h"
#include "harness/measure/theory.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/mlp_blocks.h"
#include "harness/nn/optim.h"

using namespace gl;

namespace {

struct Arch {
  int block = 0;  // 0: plain
  NormKind norm = NormKind::none;
  NormPlacement at = NormPlacement::before;
  AlphaKind alpha = AlphaKind::number;
};

std::string arch_text(const Arch& a) {
  return fmt::format("block {} norm {} {} alpha {}", a.block, enum_name(norm_kind_names, a.norm),
                     enum_name(norm_placement_names, a.at), enum_name(alpha_kind_names, a.alpha));
}

template <class T>
Mlp<T> net_of(const Arch& a, Activation act, int depth, Index width, Index inputs, Index outputs,
              uint64_t seed, double gain = 1.0) {
  ActivationSpec f;
  f.kind = act;
  InitSpec init;
  init.kind = Init::glorot_normal;
  init.gain = gain;
  BiasSpec bias;
  bias.kind = BiasKind::gaussian;
  bias.sigma_b2 = 0.05;
  Rng r = rng_make(seed);
  Mlp<T> net =
      mlp_init<T>({inputs, std::vector<int>(static_cast<size_t>(depth), int(width)), outputs}, f,
                  init, init, bias, r);
  BlocksSpec s;
  s.residual.block = a.block;
  s.residual.alpha_kind = a.alpha;
  s.residual.alpha = 0.7;
  s.norm.kind = a.norm;
  s.placement = a.at;
  mlp_blocks_init(net, s);
  // γ, β, α away from their init values so that their gradients' every path shows
  for (Layer<T>& l : net.layers) {
    for (Index j = 0; j < l.norm.gamma.size(); ++j) {
      l.norm.gamma(j) = static_cast<T>(0.8 + 0.4 * rng_uniform(r));
      l.norm.beta(j) = static_cast<T>(0.2 * rng_normal(r));
    }
  }
  if (a.alpha == AlphaKind::rezero)
    for (int b = 0; b < mlp_block_count(net); ++b)
      net.layers[static_cast<size_t>((b + 1) * a.block)].alpha = 0.3 + 0.1 * b;
  return net;
}

Mat<double> random_mat(Index r, Index c, Rng& g) {
  Mat<double> m(r, c);
  for (Index i = 0; i < m.size(); ++i) m(i) = rng_normal(g);
  return m;
}

double mean_loss(const Mlp<double>& net, const Mat<double>& x, const Targets<double>& t,
                 NormUse use) {
  MlpCache<double> c;
  mlp_forward(net, x, c, nullptr, use);
  Eigen::VectorXd l;
  loss_forward(Loss::mse, c.a.back(), t, l);
  return l.mean();
}

// Central differences of the mean loss for every entry of p (a parameter of net).
template <class P, class Get>
P fd_of(const Mlp<double>& net, Get get, const Mat<double>& x, const Targets<double>& t,
        NormUse use) {
  const double h = 1e-6;
  Mlp<double> m = net;
  P out = get(m);
  for (Index k = 0; k < out.size(); ++k) {
    Mlp<double> p = net, q = net;
    get(p)(k) += h;
    get(q)(k) -= h;
    out(k) = (mean_loss(p, x, t, use) - mean_loss(q, x, t, use)) / (2 * h);
  }
  return out;
}

// Relative to the larger of 1e-3 and the reference (a gradient that is 0, as a bias's before
// BatchNorm, has finite differences of ~1e-10).
double rel(double a, double b) { return std::abs(a - b) / std::max(1e-3, std::abs(b)); }
template <class M>
double rel_m(const M& a, const M& b) {
  return (a - b).norm() / std::max(1e-3, b.norm());
}

// The backward from a fresh N(0, 1) ∂ℓ/∂ŷ, independent of the forward (as the mean-field theory
// assumes of the gradient arriving at the top).
template <class T>
MlpGrads<T> backward_from_noise(const Mlp<T>& net, const Mat<T>& x, MlpCache<T>& c, Rng& r) {
  mlp_forward(net, x, c);
  const Mat<T> dy = random_mat(net.layers.back().W.rows(), x.cols(), r).template cast<T>();
  MlpGrads<T> g;
  mlp_backward(net, c, dy, g);
  return g;
}

void check_fd(const Arch& a, Index group) {
  const Index inputs = 4, outputs = 3, width = 5, B = 8;
  const int depth = a.block == 0 ? 3 : 1 + 2 * a.block;
  Mlp<double> net = net_of<double>(a, Activation::tanh, depth, width, inputs, outputs, 3);
  Rng r = rng_make(9);
  const Mat<double> x = random_mat(inputs, B, r);
  Targets<double> t;
  t.y = random_mat(outputs, B, r);
  const NormUse use{false, group};
  MlpCache<double> c;
  mlp_forward(net, x, c, nullptr, use);
  Mat<double> dy;
  loss_backward(Loss::mse, c.a.back(), t, dy);
  MlpGrads<double> g;
  mlp_backward(net, c, dy, g);
  const std::string what = arch_text(a) + fmt::format(" group {}", group);
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const auto fw = fd_of<Mat<double>>(
        net, [&](Mlp<double>& n) -> Mat<double>& { return n.layers[l].W; }, x, t, use);
    const auto fb = fd_of<Vec<double>>(
        net, [&](Mlp<double>& n) -> Vec<double>& { return n.layers[l].b; }, x, t, use);
    EXPECT_LT(rel_m(g.dW[l], fw), 1e-6) << what << " dW layer " << l + 1;
    EXPECT_LT(rel_m(g.db[l], fb), 1e-6) << what << " db layer " << l + 1;
    if (net.layers[l].norm.gamma.size() > 0) {
      const auto fg = fd_of<Vec<double>>(
          net, [&](Mlp<double>& n) -> Vec<double>& { return n.layers[l].norm.gamma; }, x, t, use);
      const auto fbeta = fd_of<Vec<double>>(
          net, [&](Mlp<double>& n) -> Vec<double>& { return n.layers[l].norm.beta; }, x, t, use);
      EXPECT_LT(rel_m(g.dnorm[l].dgamma, fg), 1e-6) << what << " dgamma layer " << l + 1;
      EXPECT_LT(rel_m(g.dnorm[l].dbeta, fbeta), 1e-6) << what << " dbeta layer " << l + 1;
    }
    if (a.alpha == AlphaKind::rezero && net.layers[l].alpha != 0.0) {
      const double h = 1e-6;
      Mlp<double> p = net, q = net;
      p.layers[l].alpha += h;
      q.layers[l].alpha -= h;
      const double fd = (mean_loss(p, x, t, use) - mean_loss(q, x, t, use)) / (2 * h);
      EXPECT_LT(rel(g.dalpha[l], fd), 1e-6) << what << " dalpha layer " << l + 1;
    }
  }
  // Per example: ∂(Σ_k ℓ_k)/∂x_i = W_1ᵀ δ_1,i, with δ_1 the stream's gradient at h_1 (residual).
  const double h = 1e-6;
  for (Index i = 0; i < B; ++i)
    for (Index j = 0; j < inputs; ++j) {
      Mat<double> xp = x, xm = x;
      xp(j, i) += h;
      xm(j, i) -= h;
      const double fd = static_cast<double>(B) *
                        (mean_loss(net, xp, t, use) - mean_loss(net, xm, t, use)) / (2 * h);
      const double an = net.layers[0].W.col(j).dot(g.delta[0].col(i));
      EXPECT_LT(rel(an, fd), 1e-5) << what << " input gradient example " << i << " input " << j;
    }
  if (a.block > 0) {
    EXPECT_EQ(g.delta[0], g.dh[0]) << what;
  }
}

}  // namespace

TEST(MlpBlocks, GradientsMatchFiniteDifferences) {
  for (int block : {0, 1, 2})
    for (NormKind norm : {NormKind::none, NormKind::batch, NormKind::layer})
      for (NormPlacement at : {NormPlacement::before, NormPlacement::after}) {
        if (block == 0 && norm == NormKind::none) continue;
        if (norm == NormKind::none && at == NormPlacement::after) continue;
        check_fd({block, norm, at, AlphaKind::number}, 0);
        if (block > 0) check_fd({block, norm, at, AlphaKind::rezero}, 0);
      }
}

// The probe's BatchNorm groups (here 3 + 5 examples: the remainder joins the last group): each
// example's gradient is that of the loss summed over its group, which the sum over the batch is.
TEST(MlpBlocks, GradientsMatchFiniteDifferencesInProbeGroups) {
  check_fd({0, NormKind::batch, NormPlacement::before, AlphaKind::number}, 3);
  check_fd({1, NormKind::batch, NormPlacement::after, AlphaKind::number}, 3);
  check_fd({2, NormKind::batch, NormPlacement::before, AlphaKind::rezero}, 4);
}

TEST(MlpBlocks, ResidualLayoutKeepsThePlainNetsLayers) {
  Mlp<double> plain = net_of<double>({}, Activation::relu, 7, 6, 4, 2, 1);
  Mlp<double> res = net_of<double>({2}, Activation::relu, 7, 6, 4, 2, 1);
  ASSERT_EQ(plain.layers.size(), res.layers.size());
  for (size_t l = 0; l < plain.layers.size(); ++l) EXPECT_EQ(plain.layers[l].W, res.layers[l].W);
  EXPECT_EQ(mlp_block_count(res), 3);
  for (size_t l = 0; l < res.layers.size(); ++l)
    EXPECT_EQ(res.layers[l].alpha, l == 2 || l == 4 || l == 6 ? 0.7 : 0.0) << l;
  EXPECT_EQ(mlp_stream_of(res, 0), 0);
  EXPECT_EQ(mlp_stream_of(res, 1), 0);
  EXPECT_EQ(mlp_stream_of(res, 2), -1);
  EXPECT_EQ(mlp_stream_of(res, 3), 1);
  EXPECT_EQ(mlp_stream_of(res, 7), 3);
  BlocksSpec s;
  s.residual.block = 2;
  Mlp<double> even = net_of<double>({}, Activation::relu, 6, 6, 4, 2, 1);
  EXPECT_THROW(mlp_blocks_init(even, s), std::invalid_argument);
}

// remedies: a zero branch passes the stream's gradient unchanged through every block.
TEST(MlpBlocks, ZeroBranchGivesTheSameStreamGradientAtEveryBlock) {
  for (NormKind norm : {NormKind::none, NormKind::batch}) {
    Mlp<double> net = net_of<double>({1, norm}, Activation::relu, 9, 6, 4, 3, 2);
    for (size_t l = 1; l + 1 < net.layers.size(); ++l) {
      net.layers[l].W.setZero();
      net.layers[l].b.setZero();
    }
    Rng r = rng_make(4);
    const Mat<double> x = random_mat(4, 10, r);
    Targets<double> t;
    t.y = random_mat(3, 10, r);
    MlpCache<double> c;
    mlp_forward(net, x, c);
    Mat<double> dy;
    loss_backward(Loss::mse, c.a.back(), t, dy);
    MlpGrads<double> g;
    mlp_backward(net, c, dy, g);
    ASSERT_EQ(g.dh.size(), 9u);
    for (size_t b = 0; b < g.dh.size(); ++b) EXPECT_EQ(g.dh[b], g.dh.back()) << b;
    const auto rows = [&] {
      std::vector<LayerRow> out;
      ProbeScratch<double> s(1);
      mlp_layer_rows(net, c, g, ProbeConfig{}, 0, out, s);
      return out;
    }();
    for (const LayerRow& row : rows) {
      if (row.layer == 1 || row.layer == 2 || row.layer == 10) {
        EXPECT_EQ(row.stream_grad_norm, rows.back().stream_grad_norm) << row.layer;
      }
      ASSERT_TRUE(row.stream_grad_norm.has_value()) << row.layer;
    }
  }
}

// remedies: BatchNorm's input gradient sums to 0 per unit over its batch (each probe group), and
// its output has batch mean β = 0, variance σ²/(σ² + ε) per unit (γ = 1).
TEST(MlpBlocks, BatchNormClosedForms) {
  Mlp<double> net = net_of<double>({0, NormKind::batch}, Activation::tanh, 3, 6, 4, 3, 5);
  for (Layer<double>& l : net.layers)
    if (l.norm.gamma.size()) l.norm = norm_params_init<double>(l.norm.gamma.size());
  Rng r = rng_make(6);
  const Mat<double> x = random_mat(4, 12, r) * 0.01;  // small: σ² near ε shows the ε
  Targets<double> t;
  t.y = random_mat(3, 12, r);
  for (Index group : {0, 4}) {
    MlpCache<double> c;
    mlp_forward(net, x, c, nullptr, NormUse{false, group});
    Mat<double> dy;
    loss_backward(Loss::mse, c.a.back(), t, dy);
    MlpGrads<double> g;
    mlp_backward(net, c, dy, g);
    const Index n = group == 0 ? 12 : group;
    for (size_t l = 0; l < 3; ++l)
      for (Index k0 = 0; k0 < 12; k0 += n) {
        const Mat<double> d = g.delta[l].middleCols(k0, n), y = c.y[l].middleCols(k0, n),
                          z = c.z[l].middleCols(k0, n);
        const double scale = d.cwiseAbs().maxCoeff();
        EXPECT_LT(d.rowwise().sum().cwiseAbs().maxCoeff(), 1e-13 * scale * static_cast<double>(n));
        for (Index j = 0; j < 6; ++j) {
          const double mz = z.row(j).mean(), vz = (z.row(j).array() - mz).square().mean();
          const double my = y.row(j).mean(), vy = (y.row(j).array() - my).square().mean();
          EXPECT_NEAR(my, 0.0, 1e-13);
          EXPECT_NEAR(vy, vz / (vz + 1e-5), 1e-12) << "layer " << l + 1 << " unit " << j;
        }
      }
  }
}

// Identity φ and Gaussian W: E‖∂ℓ/∂h_b‖² = (1 + α²σ_w²) E‖∂ℓ/∂h_{b+1}‖² per block, over draws.
TEST(MlpBlocks, IdentityBranchFactorInExpectation) {
  const double gain = 1.3, alpha = 0.7;  // σ_w² = gain² for glorot_normal on n × n
  double sum = 0;
  int count = 0;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    Mlp<double> net = net_of<double>({1}, Activation::identity, 5, 32, 8, 4, 100 + seed, gain);
    Rng r = rng_make(seed);
    const Mat<double> x = random_mat(8, 4, r);
    MlpCache<double> c;
    const MlpGrads<double> g = backward_from_noise(net, x, c, r);
    for (size_t b = 0; b + 1 < g.dh.size(); ++b) {
      sum += g.dh[b].squaredNorm() / g.dh[b + 1].squaredNorm();
      ++count;
    }
  }
  EXPECT_NEAR(sum / count, 1 + alpha * alpha * gain * gain,
              0.02 * (1 + alpha * alpha * gain * gain));
}

// Wide residual nets at init against theory_residual_layers: the stream's growth from the top to
// h_1 and each row's delta_factor on average.
TEST(MlpBlocks, TheoryMatchesWideResidualNets) {
  struct Case {
    Activation act;
    AlphaKind kind;
    int block;
  };
  for (const Case cs :
       {Case{Activation::relu, AlphaKind::number, 1}, Case{Activation::tanh, AlphaKind::number, 1},
        Case{Activation::relu, AlphaKind::inv_sqrt_blocks, 1},
        Case{Activation::tanh, AlphaKind::inv_sqrt_blocks, 2}}) {
    const int depth = 1 + 8 * cs.block;
    const Index width = 1000, B = 32;
    double measured = 0;
    TheoryLayers th;
    for (uint64_t seed = 0; seed < 2; ++seed) {
      Arch a{cs.block};
      a.alpha = cs.kind;
      Mlp<double> net = net_of<double>(a, cs.act, depth, width, 200, 10, 7 + seed, 1.0);
      if (cs.kind == AlphaKind::number)
        for (Layer<double>& l : net.layers)
          if (l.alpha != 0.0) l.alpha = 1.0;
      for (Layer<double>& l : net.layers) l.b.setZero();
      Rng r = rng_make(50 + seed);
      const Mat<double> x = random_mat(200, B, r);
      MlpCache<double> c;
      const MlpGrads<double> g = backward_from_noise(net, x, c, r);
      measured += g.dh.front().squaredNorm() / g.dh.back().squaredNorm() / 2;
      TheoryInput in;
      in.act = net.act;
      for (const Layer<double>& l : net.layers) {
        in.sigma_w2.push_back(init_sigma_w2(InitSpec{Init::glorot_normal}, l.W.cols(), l.W.rows()));
        in.sigma_b2.push_back(0.0);
      }
      in.q0 = x.squaredNorm() / static_cast<double>(x.size());
      in.residual_block = cs.block;
      in.residual_alpha = net.layers[static_cast<size_t>(cs.block)].alpha;
      th = theory_layers(in);
    }
    // the rows' χ multiply to E‖δ_1‖²/E‖δ_{L+1}‖² = E‖∂ℓ/∂h_1‖² / E‖δ_{L+1}‖², and the last
    // stream value's is σ_w,out² E‖δ_{L+1}‖²
    double growth = 1 / init_sigma_w2(InitSpec{Init::glorot_normal}, width, 10);
    for (double chi : th.chi) growth *= chi;
    EXPECT_NEAR(measured / growth, 1.0, 0.04)
        << activation_name(cs.act) << " " << enum_name(alpha_kind_names, cs.kind) << " k "
        << cs.block << ": measured " << measured << " theory " << growth;
  }
}

// The net's values do not depend on the thread count, and float32 follows float64.
TEST(MlpBlocks, ThreadsGiveTheSameBitsAndFloat32FollowsFloat64) {
  const Arch a{1, NormKind::batch, NormPlacement::before};
  Mlp<double> n64 = net_of<double>(a, Activation::relu, 5, 40, 10, 3, 8);
  Mlp<float> n32 = net_of<float>(a, Activation::relu, 5, 40, 10, 3, 8);
  Rng r = rng_make(1);
  const Mat<double> x = random_mat(10, 64, r);
  Targets<double> t;
  t.y = random_mat(3, 64, r);
  std::vector<Mat<double>> deltas;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    MlpCache<double> c;
    mlp_forward(n64, x, c, nullptr, NormUse{false, 16});
    Mat<double> dy;
    loss_backward(Loss::mse, c.a.back(), t, dy);
    MlpGrads<double> g;
    mlp_backward(n64, c, dy, g);
    std::vector<LayerRow> rows;
    ProbeScratch<double> s(1);
    mlp_layer_rows(n64, c, g, ProbeConfig{}, 0, rows, s);
    deltas.push_back(g.delta[1]);
    if (threads == 1) {
      MlpCache<float> cf;
      mlp_forward(n32, Mat<float>(x.cast<float>()), cf, nullptr, NormUse{false, 16});
      Targets<float> tf;
      tf.y = t.y.cast<float>();
      Mat<float> dyf;
      loss_backward(Loss::mse, cf.a.back(), tf, dyf);
      MlpGrads<float> gf;
      mlp_backward(n32, cf, dyf, gf);
      for (size_t l = 0; l < g.delta.size(); ++l)
        EXPECT_LT(rel_m(Mat<double>(gf.delta[l].cast<double>()), g.delta[l]), 1e-4) << l;
    }
  }
  omp_set_num_threads(1);
  EXPECT_EQ(deltas[0], deltas[1]);
}

// The team (mlp_blocks.cpp, 2 threads: each a share of every layer's units, from multiples of 48
// rows) gives the one-thread code's bits: every cache and gradient, training (running statistics
// too), probe and eval forwards, float and double; widths 128 and 208 make uneven shares (48 | 80,
// 96 | 112) and kernel tails. Layer norm, learned α and width 100 take their one-thread parts.
template <class T>
void expect_same(const std::vector<Mat<T>>& a, const std::vector<Mat<T>>& b,
                 const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t l = 0; l < a.size(); ++l) EXPECT_TRUE(a[l] == b[l]) << what << " " << l;
}

template <class T>
void team_case(const Arch& a, Index width) {
  const std::string what = arch_text(a) + fmt::format(" width {} {}", width, sizeof(T));
  Rng r = rng_make(5);
  const Mat<T> x = random_mat(12, 64, r).cast<T>();
  Targets<T> t;
  t.y = random_mat(3, 64, r).cast<T>();
  std::vector<Mlp<T>> nets;
  std::vector<MlpCache<T>> caches(2), evals(2);
  std::vector<MlpGrads<T>> grads(2);
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    const size_t i = static_cast<size_t>(threads - 1);
    nets.push_back(net_of<T>(a, Activation::tanh, 5, width, 12, 3, 9));
    Rng rr = rng_make(2);
    mlp_forward_train(nets[i], x, caches[i], rr);  // training: the running statistics move
    mlp_forward(nets[i], x, caches[i], nullptr, NormUse{});  // the probe's forward
    Mat<T> dy;
    loss_backward(Loss::mse, caches[i].a.back(), t, dy);
    mlp_backward(nets[i], caches[i], dy, grads[i], true);
    mlp_forward(nets[i], x, evals[i], nullptr, NormUse{true, 0});
  }
  omp_set_num_threads(1);
  expect_same(caches[0].z, caches[1].z, what + " z");
  expect_same(caches[0].a, caches[1].a, what + " a");
  expect_same(caches[0].dphi, caches[1].dphi, what + " dphi");
  expect_same(caches[0].y, caches[1].y, what + " y");
  expect_same(caches[0].h, caches[1].h, what + " h");
  expect_same(evals[0].a, evals[1].a, what + " eval a");
  expect_same(grads[0].delta, grads[1].delta, what + " delta");
  expect_same(grads[0].dW, grads[1].dW, what + " dW");
  expect_same(grads[0].dh, grads[1].dh, what + " dh");
  EXPECT_EQ(grads[0].dalpha, grads[1].dalpha) << what;
  for (size_t l = 0; l < nets[0].layers.size(); ++l) {
    EXPECT_TRUE(grads[0].db[l] == grads[1].db[l]) << what << " db " << l;
    EXPECT_TRUE(grads[0].dnorm[l].dgamma == grads[1].dnorm[l].dgamma) << what << " dgamma " << l;
    EXPECT_TRUE(grads[0].dnorm[l].dbeta == grads[1].dnorm[l].dbeta) << what << " dbeta " << l;
    EXPECT_TRUE(nets[0].layers[l].running.mean == nets[1].layers[l].running.mean) << what << l;
    EXPECT_TRUE(nets[0].layers[l].running.var == nets[1].layers[l].running.var) << what << l;
    for (size_t k = 0; k < caches[0].norm[l].size(); ++k)
      EXPECT_TRUE(caches[0].norm[l][k].xhat == caches[1].norm[l][k].xhat) << what << " xhat " << l;
  }
}

TEST(MlpBlocks, TeamGivesTheOneThreadBits) {
  const Arch archs[] = {{1, NormKind::batch, NormPlacement::before},
                        {1, NormKind::batch, NormPlacement::after},
                        {2, NormKind::batch, NormPlacement::before},
                        {1, NormKind::none},
                        {1, NormKind::batch, NormPlacement::before, AlphaKind::rezero},
                        {0, NormKind::batch, NormPlacement::before},
                        {0, NormKind::batch, NormPlacement::after},
                        {1, NormKind::layer, NormPlacement::before},
                        {0, NormKind::layer, NormPlacement::after}};
  for (const Arch& a : archs)
    for (Index width : {128, 208, 100}) {
      team_case<float>(a, width);
      team_case<double>(a, width);
    }
}

// The optimizer moves γ, β and a learned α like b, and counts them in the gradient norm.
TEST(MlpBlocks, SgdUpdatesNormParametersAndAlpha) {
  Mlp<double> net = net_of<double>({1, NormKind::layer, NormPlacement::after, AlphaKind::rezero},
                                   Activation::tanh, 3, 4, 3, 2, 2);
  MlpGrads<double> g;
  g.dW = {Mat<double>::Zero(4, 3), Mat<double>::Zero(4, 4), Mat<double>::Zero(4, 4),
          Mat<double>::Zero(2, 4)};
  g.db = {Vec<double>::Zero(4), Vec<double>::Zero(4), Vec<double>::Zero(4), Vec<double>::Zero(2)};
  g.dslope.assign(4, 0.0);
  g.dalpha = {0, 0, 0.5, 0};
  g.dnorm.resize(4);
  for (size_t l = 0; l < 4; ++l) {
    g.dnorm[l].dgamma = Vec<double>::Constant(net.layers[l].norm.gamma.size(), 3.0);
    g.dnorm[l].dbeta = Vec<double>::Constant(net.layers[l].norm.beta.size(), 4.0);
  }
  // layers 2, 3 hold a norm of 4 units: ‖·‖² = 2·4·(9 + 16) = 200, plus α's 0.25
  EXPECT_NEAR(mlp_grads_norm(g), std::sqrt(200.25), 1e-12);
  // momentum SGD over the model's parameter list (optim.h): v₁ = g, v₂ = μv₁ + g = 1.9g
  const Mlp<double> before = net;
  TrainConfig tc;
  tc.opt.lr = 0.1;
  tc.opt.momentum = 0.9;
  Optim<double> o;
  mlp_params(net, g, o);
  optim_make(tc, o, 0);
  params_update(tc, o, 1, 1.0);
  EXPECT_NEAR(net.layers[2].alpha, before.layers[2].alpha - 0.05, 1e-15);
  EXPECT_LT(
      (net.layers[1].norm.gamma - (before.layers[1].norm.gamma.array() - 0.3).matrix()).norm(),
      1e-15);
  EXPECT_LT((net.layers[2].norm.beta - (before.layers[2].norm.beta.array() - 0.4).matrix()).norm(),
            1e-15);
  mlp_params(net, g, o);
  params_update(tc, o, 2, 1.0);
  EXPECT_NEAR(net.layers[2].alpha, before.layers[2].alpha - 0.05 - 0.095, 1e-15);
}

// A training step updates BatchNorm's running statistics; eval mode normalizes with them.
TEST(MlpBlocks, TrainingStepUpdatesRunningStatistics) {
  Mlp<double> net = net_of<double>({0, NormKind::batch}, Activation::relu, 2, 5, 3, 2, 3);
  Rng r = rng_make(2);
  const Mat<double> x = random_mat(3, 10, r);
  MlpCache<double> c;
  mlp_forward(net, x, c);
  EXPECT_EQ(net.layers[0].running.mean, Vec<double>::Zero(5));
  Rng step = rng_make(1);
  mlp_forward_train(net, x, c, step);
  EXPECT_LT((net.layers[0].running.mean - 0.1 * c.norm[0][0].mean).norm(), 1e-15);
  EXPECT_LT((net.layers[0].running.var -
             (0.9 * Vec<double>::Ones(5) + 0.1 * (10.0 / 9.0) * c.norm[0][0].var))
                .norm(),
            1e-15);
  MlpCache<double> e;
  mlp_forward(net, x, e, nullptr, NormUse{true, 0});
  EXPECT_FALSE(e.norm[0][0].coupled);
  EXPECT_EQ(e.norm[0][0].mean, net.layers[0].running.mean);
}
