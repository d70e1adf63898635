// The MLP's backward pass against central finite differences (float64): ∂L/∂W_l, ∂L/∂b_l for
// every layer and the per-example δ_l, for every activation, both losses, several depths and
// uneven widths. Points closer than 1e-3 to a kink (or a maxout tie) are avoided by re-seeding.
#include <gtest/gtest.h>

#include <omp.h>
#include <xmmintrin.h>

#include <cmath>

#include "harness/measure/metrics.h"
#include "harness/nn/blas.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/optim.h"
#include "tests/test_util.h"

using namespace gl;

static double mean_loss(const Mlp<double>& net, const Mat<double>& x, const Targets<double>& t,
                        Loss loss) {
  MlpCache<double> c;
  mlp_forward(net, x, c);
  Eigen::VectorXd l;
  loss_forward(loss, c.a.back(), t, l);
  return l.mean();
}

// Distance of every pre-activation from the activation's kinks (and maxout's second piece).
static double kink_margin(const Mlp<double>& net, const MlpCache<double>& c) {
  double m = INFINITY;
  for (size_t l = 0; l + 1 < net.layers.size(); ++l) {
    for (double k : activation_info(net.act.kind).kinks)
      m = std::min(m, (c.z[l].array() - k).abs().minCoeff());
    if (net.act.kind == Activation::maxout) {  // gap between the winner and every other piece
      const Mat<double> zk = (net.layers[l].W * c.a[l]).colwise() + net.layers[l].b;
      const Index fo = c.z[l].rows();
      for (int p = 0; p < net.act.pieces; ++p)
        for (Index i = 0; i < zk.cols(); ++i)
          for (Index j = 0; j < fo; ++j)
            if (p != c.win[l](j, i)) m = std::min(m, c.z[l](j, i) - zk(p * fo + j, i));
    }
  }
  return m;
}

struct Case {
  Activation act;
  Loss loss;
  std::vector<int> hidden;
};

static void check_case(const Case& cs, uint64_t seed0) {
  ActivationSpec act;
  act.kind = cs.act;
  act.pieces = 3;
  InitSpec init;
  init.kind = Init::glorot_normal;
  init.gain = 1.5;
  BiasSpec bias;
  bias.kind = BiasKind::gaussian;
  bias.sigma_b2 = 0.1;
  const Index inputs = 5, outputs = 3, B = 4;
  for (uint64_t seed = seed0; seed < seed0 + 50; ++seed) {
    Rng r = rng_make(seed);
    Mlp<double> net = mlp_init<double>({inputs, cs.hidden, outputs}, act, init, init, bias, r);
    Mat<double> x(inputs, B);
    for (Index i = 0; i < x.size(); ++i) x(i) = rng_normal(r);
    Targets<double> t;
    t.y.resize(outputs, B);
    for (Index i = 0; i < t.y.size(); ++i) t.y(i) = rng_normal(r);
    for (Index i = 0; i < B; ++i) t.labels.push_back(static_cast<int32_t>(rng_below(r, outputs)));
    MlpCache<double> c;
    mlp_forward(net, x, c);
    if (kink_margin(net, c) < 1e-3) continue;

    Mat<double> dy;
    loss_backward(cs.loss, c.a.back(), t, dy);
    MlpGrads<double> g;
    mlp_backward(net, c, dy, g);

    const double h = 1e-6;
    for (size_t l = 0; l < net.layers.size(); ++l) {
      Mat<double> fdW(net.layers[l].W.rows(), net.layers[l].W.cols());
      for (Index k = 0; k < fdW.size(); ++k) {
        Mlp<double> p = net, m = net;
        p.layers[l].W(k) += h;
        m.layers[l].W(k) -= h;
        fdW(k) = (mean_loss(p, x, t, cs.loss) - mean_loss(m, x, t, cs.loss)) / (2 * h);
      }
      Vec<double> fdb(net.layers[l].b.size());
      for (Index k = 0; k < fdb.size(); ++k) {
        Mlp<double> p = net, m = net;
        p.layers[l].b(k) += h;
        m.layers[l].b(k) -= h;
        fdb(k) = (mean_loss(p, x, t, cs.loss) - mean_loss(m, x, t, cs.loss)) / (2 * h);
      }
      const double scale = std::max(1e-3, fdW.norm());
      EXPECT_LT((g.dW[l] - fdW).norm() / scale, 1e-6)
          << activation_name(cs.act) << " layer " << l + 1 << "\nanalytic\n"
          << g.dW[l] << "\nfd\n"
          << fdW;
      EXPECT_LT((g.db[l] - fdb).norm() / std::max(1e-3, fdb.norm()), 1e-6)
          << activation_name(cs.act) << " layer " << l + 1;
      // δ_l,i = ∂ℓ_i/∂z_l,i = ∂ℓ_i/∂b_l evaluated on example i alone (for maxout: the winning
      // piece's bias).
      if (cs.act == Activation::maxout && l + 1 < net.layers.size()) continue;
      for (Index i = 0; i < B; ++i) {
        const Mat<double> xi = x.col(i);
        Targets<double> ti;
        ti.y = t.y.col(i);
        ti.labels = {t.labels[static_cast<size_t>(i)]};
        for (Index k = 0; k < net.layers[l].b.size(); ++k) {
          Mlp<double> p = net, m = net;
          p.layers[l].b(k) += h;
          m.layers[l].b(k) -= h;
          const double fd =
              (mean_loss(p, xi, ti, cs.loss) - mean_loss(m, xi, ti, cs.loss)) / (2 * h);
          EXPECT_NEAR(g.delta[l](k, i), fd, 1e-6 * std::max(1.0, std::abs(fd)))
              << activation_name(cs.act) << " delta layer " << l + 1 << " unit " << k << " ex "
              << i;
        }
      }
    }
    return;
  }
  FAIL() << "no seed kept every pre-activation away from the kinks for " << activation_name(cs.act);
}

TEST(MlpGradients, EveryActivationBothLossesUnevenWidths) {
  for (int a = 0; a < activation_count; ++a) {
    const auto act = static_cast<Activation>(a);
    check_case({act, Loss::mse, {4, 7, 3}}, 100);
    check_case({act, Loss::cross_entropy, {6}}, 200);
    check_case({act, Loss::cross_entropy, {3, 5, 4, 6, 2}}, 300);
  }
}

// The same finite-difference checks with two OpenMP threads, which split every layer by units.
TEST(MlpGradients, TwoThreadsSplittingTheLayers) {
  omp_set_num_threads(2);
  for (Activation act : {Activation::tanh, Activation::relu, Activation::softplus}) {
    check_case({act, Loss::mse, {4, 7, 3}}, 100);
    check_case({act, Loss::cross_entropy, {3, 5, 4, 6, 2}}, 300);
  }
  omp_set_num_threads(1);
}

// The same checks with every product of the forward, Wᵀδ, ∂L/∂W and the fused update through
// OpenBLAS (harness/nn/blas.h; the route is lowered to every size), on one and two threads.
TEST(MlpGradients, ThroughOpenBlas) {
  if (!blas_openblas()) GTEST_SKIP() << blas_name();
  const BlasRoute saved = blas_route();
  blas_route_set({0.0, 0});
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    for (Activation act : {Activation::tanh, Activation::relu}) {
      check_case({act, Loss::mse, {4, 7, 3}}, 100);
      check_case({act, Loss::cross_entropy, {3, 5, 4, 6, 2}}, 300);
    }
  }
  omp_set_num_threads(1);
  blas_route_set(saved);
}

template <class T>
struct Net {
  Mlp<T> net;
  Mat<T> x, dy;
};

// An uneven net (odd widths, so the two threads' shares differ in size) with random targets.
template <class T>
static Net<T> net_make(Activation kind, Index B, uint64_t seed) {
  ActivationSpec act;
  act.kind = kind;
  InitSpec init;
  init.kind = Init::glorot_normal;
  BiasSpec bias;
  bias.kind = BiasKind::gaussian;
  bias.sigma_b2 = 0.1;
  Rng r = rng_make(seed);
  Net<T> n;
  n.net = mlp_init<T>({33, {37, 129, 64}, 5}, act, init, init, bias, r);
  n.x.resize(33, B);
  n.dy.resize(5, B);
  for (Index i = 0; i < n.x.size(); ++i) n.x(i) = static_cast<T>(rng_normal(r));
  for (Index i = 0; i < n.dy.size(); ++i) n.dy(i) = static_cast<T>(rng_normal(r));
  return n;
}

template <class M>
static double rel_diff(const M& a, const M& b) {
  return (a - b).norm() / std::max(1e-30, static_cast<double>(b.norm()));
}

template <class T>
static void check_threads(double tol) {
  for (Activation act : {Activation::tanh, Activation::relu, Activation::sigmoid})
    // B ≤ 16: Wᵀδ by columns of W; B > 16: by a product; B = 70: the batch split
    for (Index B : {3, 20, 70}) {
      const Net<T> n = net_make<T>(act, B, 7);
      MlpCache<T> c1, c2;
      MlpGrads<T> g1, g2;
      omp_set_num_threads(1);
      mlp_forward(n.net, n.x, c1);
      mlp_backward(n.net, c1, n.dy, g1);
      omp_set_num_threads(2);
      mlp_forward(n.net, n.x, c2);
      mlp_backward(n.net, c2, n.dy, g2);
      omp_set_num_threads(1);
      for (size_t l = 0; l < n.net.layers.size(); ++l) {
        EXPECT_LE(rel_diff(c2.z[l], c1.z[l]), tol) << activation_name(act) << " B " << B;
        EXPECT_LE(rel_diff(c2.a[l + 1], c1.a[l + 1]), tol) << activation_name(act) << " B " << B;
        EXPECT_LE(rel_diff(g2.delta[l], g1.delta[l]), tol) << activation_name(act) << " B " << B;
        EXPECT_LE(rel_diff(g2.dW[l], g1.dW[l]), tol) << activation_name(act) << " B " << B;
        EXPECT_LE(rel_diff(g2.db[l], g1.db[l]), tol) << activation_name(act) << " B " << B;
      }
    }
}

TEST(MlpThreads, TwoThreadsGiveTheOneThreadValues) {
  check_threads<double>(1e-14);
  check_threads<float>(1e-6);
}

// A float32 run flushes subnormals on its thread (FTZ/DAZ); on two threads, the second thread
// must flush too. A net whose pre-activations sink below float32's normal range (~1.2e-38): on
// one thread they are 0, and two threads must give the same values, not subnormals.
TEST(MlpThreads, TwoThreadsFlushSubnormalsAsTheCaller) {
  ActivationSpec act;
  act.kind = Activation::identity;
  InitSpec init;
  init.kind = Init::glorot_normal;
  Rng r = rng_make(5);
  Mlp<float> net = mlp_init<float>({40, {64, 64}, 3}, act, init, init, BiasSpec{}, r);
  for (Layer<float>& layer : net.layers) layer.W *= 1e-20f;  // z ~ 1e-20, then 1e-40: subnormal
  Mat<float> x(40, 8);
  for (Index i = 0; i < x.size(); ++i) x(i) = static_cast<float>(rng_normal(r));
  // The pool's threads exist before the mode is set (a new thread would inherit it).
  omp_set_num_threads(2);
  MlpCache<float> warm;
  mlp_forward(net, x, warm);
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);  // FTZ | DAZ
  MlpCache<float> c1, c2;
  omp_set_num_threads(1);
  mlp_forward(net, x, c1);
  omp_set_num_threads(2);
  mlp_forward(net, x, c2);
  omp_set_num_threads(1);
  _mm_setcsr(saved);
  EXPECT_TRUE((c1.z[1].array() == 0.0f).all());  // flushed on one thread
  EXPECT_EQ(c2.z[1], c1.z[1]);                   // and on two
}

// The fused plain-SGD step (mlp_backward_sgd) against mlp_backward followed by the training
// path's plain SGD (params_update), on one and on two threads; and the gradient norm without ∂L/∂W.
template <class T>
static void check_fused(Activation act, Index B, int threads, double tol) {
  omp_set_num_threads(threads);
  const Net<T> n = net_make<T>(act, B, 11);
  const double lr = 0.05;
  Mlp<T> a = n.net, b = n.net;
  Optim<T> o;
  MlpCache<T> c;
  MlpGrads<T> ga, gb;
  mlp_forward(a, n.x, c);
  mlp_backward(a, c, n.dy, ga);
  mlp_update(train_of(OptimizerKind::sgd, lr), a, ga, o, 1);
  mlp_backward_sgd(b, c, n.dy, gb, lr);
  for (size_t l = 0; l < a.layers.size(); ++l) {
    const Mat<T> step_a = a.layers[l].W - n.net.layers[l].W,
                 step_b = b.layers[l].W - n.net.layers[l].W;
    EXPECT_LE(rel_diff(step_b, step_a), tol) << activation_name(act) << " layer " << l + 1;
    EXPECT_EQ(b.layers[l].b, a.layers[l].b) << activation_name(act) << " layer " << l + 1;
    EXPECT_EQ(gb.delta[l], ga.delta[l]) << activation_name(act) << " layer " << l + 1;
    EXPECT_DOUBLE_EQ(b.layers[l].slope, a.layers[l].slope);
  }
  // the gradient norm from δ and a (no ∂L/∂W stored) is the norm of mlp_backward's ∂L/∂W
  StatScratch<T> s;
  const double from_outer = mlp_grads_norm_outer(c, gb, s), from_dw = mlp_grads_norm(ga);
  EXPECT_NEAR(from_outer, from_dw, tol * from_dw) << activation_name(act);
  omp_set_num_threads(1);
}

TEST(MlpSgd, FusedStepThroughOpenBlas) {
  if (!blas_openblas()) GTEST_SKIP() << blas_name();
  const BlasRoute saved = blas_route();
  blas_route_set({0.0, 0});
  for (int threads : {1, 2})
    for (Index B : {20, 70}) {
      check_fused<double>(Activation::tanh, B, threads, 1e-13);
      check_fused<float>(Activation::relu, B, threads, 1e-5);
    }
  check_threads<double>(1e-14);
  check_threads<float>(1e-6);
  blas_route_set(saved);
}

TEST(MlpSgd, FusedStepIsBackwardThenUpdate) {
  for (int threads : {1, 2})
    for (Index B : {3, 20, 70}) {
      check_fused<double>(Activation::tanh, B, threads, 1e-13);
      check_fused<double>(Activation::prelu, B, threads, 1e-13);  // the slope moves too
      check_fused<float>(Activation::relu, B, threads, 1e-5);
    }
}

TEST(MlpGradients, MaxoutWinnerAndShapes) {
  ActivationSpec act;
  act.kind = Activation::maxout;
  act.pieces = 3;
  InitSpec init;
  Rng r = rng_make(1);
  Mlp<double> net = mlp_init<double>({4, {5, 2}, 3}, act, init, init, BiasSpec{}, r);
  EXPECT_EQ(net.layers[0].W.rows(), 15);  // k·fan_out
  EXPECT_EQ(net.layers[2].W.rows(), 3);   // the output layer is affine
  EXPECT_EQ(net.fan_out(0), 5);
  Mat<double> x = Mat<double>::Random(4, 6);
  MlpCache<double> c;
  mlp_forward(net, x, c);
  const Mat<double> zk = (net.layers[0].W * x).colwise() + net.layers[0].b;
  for (Index i = 0; i < 6; ++i)
    for (Index j = 0; j < 5; ++j)
      EXPECT_EQ(c.z[0](j, i), std::max({zk(j, i), zk(5 + j, i), zk(10 + j, i)}));
}

TEST(Losses, CrossEntropyIsStableAndMatchesTheFormula) {
  Mat<double> y(3, 2);
  y << 1000, 0.1, 0, 0.2, -1000, 0.3;
  Targets<double> t;
  t.labels = {0, 2};
  Eigen::VectorXd l;
  loss_forward(Loss::cross_entropy, y, t, l);
  EXPECT_NEAR(l(0), 0.0, 1e-12);
  const double lse = std::log(std::exp(0.1) + std::exp(0.2) + std::exp(0.3));
  EXPECT_NEAR(l(1), lse - 0.3, 1e-15);
  Mat<double> d;
  loss_backward(Loss::cross_entropy, y, t, d);
  EXPECT_NEAR(d.col(1).sum(), 0.0, 1e-15);
  t.y = Mat<double>::Zero(3, 2);
  loss_forward(Loss::mse, y, t, l);
  EXPECT_DOUBLE_EQ(l(1), 0.5 * (0.01 + 0.04 + 0.09));
}

// The network as a sequence of layer ops: dense then activation per hidden layer, dense then the
// affine output last; maxout nets take maxout ops.
TEST(MlpLayers, SequenceOfOps) {
  ActivationSpec act;
  InitSpec init;
  init.kind = Init::glorot_normal;
  Rng r = rng_make(11);
  for (Activation kind : {Activation::tanh, Activation::maxout}) {
    act.kind = kind;
    act.pieces = 2;
    const Mlp<double> net = mlp_init<double>({4, {5, 6}, 3}, act, init, init, BiasSpec{}, r);
    ASSERT_EQ(mlp_op_count(net), 6u);
    const LayerKind hidden = kind == Activation::maxout ? LayerKind::maxout : LayerKind::activation;
    const LayerKind want[] = {LayerKind::dense, hidden,           LayerKind::dense,
                              hidden,           LayerKind::dense, LayerKind::output};
    for (size_t i = 0; i < 6; ++i) {
      EXPECT_EQ(mlp_op(net, i).kind, want[i]) << i;
      EXPECT_EQ(mlp_op(net, i).l, i / 2) << i;
    }
  }
}
