// BatchNorm and LayerNorm (harness/nn/norm.h): every gradient against central finite differences
// in float64 (through training-mode BatchNorm the whole batch's coupling included), the closed
// forms of a normalized batch and of its input gradient, the running statistics' exponential
// average, eval mode, float32 against float64, and the pre-normalization moments.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "harness/core/rng.h"
#include "harness/nn/norm.h"

using namespace gl;

namespace {

// z (n, B): unit j has mean offset_j and std scale_j, so units differ (BatchNorm's axis) and so do
// examples (LayerNorm's).
Mat<double> random_z(Index n, Index B, Rng& r, double scale = 1.0) {
  Mat<double> z(n, B);
  for (Index j = 0; j < n; ++j) {
    const double offset = 2.0 * rng_normal(r), s = scale * (0.5 + rng_uniform(r));
    for (Index i = 0; i < B; ++i) z(j, i) = offset + s * rng_normal(r);
  }
  return z;
}

Vec<double> random_vec(Index n, Rng& r, double lo, double hi) {
  Vec<double> v(n);
  for (Index j = 0; j < n; ++j) v(j) = rng_uniform(r, lo, hi);
  return v;
}

// A loss whose per-example terms are not linear in y, so that the coupling of the examples
// matters: ℓ_i = Σ_j R_ji y_ji + ½ S_ji y_ji², L = (1/B) Σ_i ℓ_i; g_i = ∂ℓ_i/∂y_i = R_i + S_i ⊙
// y_i.
struct Quadratic {
  Mat<double> R, S;
  double mean_loss(const Mat<double>& y) const {
    return (R.cwiseProduct(y) + 0.5 * S.cwiseProduct(y.cwiseAbs2())).sum() /
           static_cast<double>(y.cols());
  }
  Mat<double> grad(const Mat<double>& y) const { return R + S.cwiseProduct(y); }
};

Quadratic random_loss(Index n, Index B, Rng& r) {
  Quadratic q{Mat<double>(n, B), Mat<double>(n, B)};
  for (Index k = 0; k < q.R.size(); ++k) {
    q.R(k) = rng_normal(r);
    q.S(k) = rng_uniform(r, 0.5, 1.5);
  }
  return q;
}

// A normalization's forward in training mode, or in eval mode when given running statistics.
struct Norm {
  NormSpec spec;
  NormParams<double> p;
  const NormRunning* eval = nullptr;

  Mat<double> forward(const Mat<double>& z, NormCache<double>& c) const {
    Mat<double> y;
    if (eval)
      norm_forward_eval(spec, p, *eval, z, c, y);
    else
      norm_forward(spec, p, z, c, y);
    return y;
  }
  Mat<double> forward(const Mat<double>& z) const {
    NormCache<double> c;
    return forward(z, c);
  }
};

struct Backward {
  Mat<double> dz;
  NormGrads<double> grads;
};

Backward backward_of(const Norm& nm, const Quadratic& q, const Mat<double>& z) {
  NormCache<double> c;
  const Mat<double> y = nm.forward(z, c);
  Backward b;
  norm_backward(nm.p, c, q.grad(y), b.dz, b.grads);
  return b;
}

// Central differences of L = q.mean_loss(nm(z)) in every entry of z, γ and β against the backward:
// ∂L/∂z = dz/B (the convention of norm.h), dγ, dβ.
void check_gradients(const Norm& nm, const Quadratic& q, const Mat<double>& z,
                     const std::string& what) {
  const Backward b = backward_of(nm, q, z);
  const double h = 1e-6, B = static_cast<double>(z.cols());
  Mat<double> fdz(z.rows(), z.cols());
  for (Index k = 0; k < z.size(); ++k) {
    Mat<double> zp = z, zm = z;
    zp(k) += h;
    zm(k) -= h;
    fdz(k) = (q.mean_loss(nm.forward(zp)) - q.mean_loss(nm.forward(zm))) / (2 * h);
  }
  Vec<double> fdg(nm.p.gamma.size()), fdb(nm.p.beta.size());
  for (Index j = 0; j < fdg.size(); ++j) {
    Norm p = nm, m = nm;
    p.p.gamma(j) += h;
    m.p.gamma(j) -= h;
    fdg(j) = (q.mean_loss(p.forward(z)) - q.mean_loss(m.forward(z))) / (2 * h);
    p = nm;
    m = nm;
    p.p.beta(j) += h;
    m.p.beta(j) -= h;
    fdb(j) = (q.mean_loss(p.forward(z)) - q.mean_loss(m.forward(z))) / (2 * h);
  }
  EXPECT_LT((b.dz / B - fdz).norm() / fdz.norm(), 1e-7) << what << "\ndz/B\n"
                                                        << b.dz / B << "\nfd\n"
                                                        << fdz;
  EXPECT_LT((b.grads.dgamma - fdg).norm() / fdg.norm(), 1e-7) << what;
  EXPECT_LT((b.grads.dbeta - fdb).norm() / fdb.norm(), 1e-7) << what;
}

Norm random_norm(NormKind kind, Index n, Rng& r) {
  Norm nm;
  nm.spec.kind = kind;
  nm.p = {random_vec(n, r, -1.5, 1.5), random_vec(n, r, -1.0, 1.0)};
  return nm;
}

// Population mean and variance of v, two passes in long double (independent of norm.cpp).
struct MeanVar {
  double mean, var;
};
MeanVar mean_var(const Eigen::Ref<const Eigen::VectorXd>& v) {
  long double s = 0, ss = 0;
  for (Index k = 0; k < v.size(); ++k) s += v(k);
  const long double mu = s / static_cast<long double>(v.size());
  for (Index k = 0; k < v.size(); ++k) ss += (v(k) - mu) * (v(k) - mu);
  return {static_cast<double>(mu), static_cast<double>(ss / static_cast<long double>(v.size()))};
}

// The k-th group normalized together: unit k across the batch (batch) or example k across the
// units (layer).
Eigen::VectorXd group(const Mat<double>& m, NormKind kind, Index k) {
  return kind == NormKind::batch ? Eigen::VectorXd(m.row(k).transpose())
                                 : Eigen::VectorXd(m.col(k));
}

}  // namespace

// ---- gradients ----

TEST(NormGradients, BatchTrainingThroughTheWholeBatch) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng r = rng_make(seed);
    const Index n = 4, B = static_cast<Index>(2 + seed);  // B = 3..7, B = 3: strong coupling
    const Norm nm = random_norm(NormKind::batch, n, r);
    const Mat<double> z = random_z(n, B, r);
    check_gradients(nm, random_loss(n, B, r), z, "batch seed " + std::to_string(seed));
  }
}

// σ² near ε: the ε terms of the backward matter.
TEST(NormGradients, BatchTrainingVarianceNearEps) {
  Rng r = rng_make(11);
  const Norm nm = random_norm(NormKind::batch, 3, r);
  check_gradients(nm, random_loss(3, 6, r), random_z(3, 6, r, 3e-3), "batch, σ ~ 3e-3");
}

TEST(NormGradients, Layer) {
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    Rng r = rng_make(100 + seed);
    const Index n = static_cast<Index>(2 + seed), B = 4;
    const Norm nm = random_norm(NormKind::layer, n, r);
    check_gradients(nm, random_loss(n, B, r), random_z(n, B, r),
                    "layer seed " + std::to_string(seed));
  }
}

TEST(NormGradients, BatchEvalWithRunningStatistics) {
  Rng r = rng_make(21);
  const Index n = 4, B = 5;
  NormRunning run{random_vec(n, r, -1, 1), random_vec(n, r, 0.2, 2.0)};
  Norm nm = random_norm(NormKind::batch, n, r);
  nm.eval = &run;
  check_gradients(nm, random_loss(n, B, r), random_z(n, B, r), "batch eval");
}

// The convention of norm.h as the MLP will use it: a dense layer z = W x below the norm forms
// ∂L/∂W = (1/B) Σ_i dz_i x_iᵀ from the per-example columns, and a coupled layer above (a second
// BatchNorm) hands down g_i = ∂(Σ_k ℓ_k)/∂y_i.
TEST(NormGradients, DenseBelowAndBatchNormAbove) {
  Rng r = rng_make(31);
  const Index in = 3, n = 4, B = 5;
  const Norm lower = random_norm(NormKind::batch, n, r), upper = random_norm(NormKind::batch, n, r);
  const Quadratic q = random_loss(n, B, r);
  Mat<double> W(n, in), x(in, B);
  for (Index k = 0; k < W.size(); ++k) W(k) = rng_normal(r);
  for (Index k = 0; k < x.size(); ++k) x(k) = rng_normal(r);
  auto loss = [&](const Mat<double>& w) {
    return q.mean_loss(upper.forward(lower.forward(w * x)));
  };
  NormCache<double> c1, c2;
  const Mat<double> y2 = upper.forward(lower.forward(W * x, c1), c2);
  Mat<double> g1, dz;
  NormGrads<double> gr;
  norm_backward(upper.p, c2, q.grad(y2), g1, gr);
  norm_backward(lower.p, c1, g1, dz, gr);
  const Mat<double> dW = dz * x.transpose() / static_cast<double>(B);
  Mat<double> fd(n, in);
  const double h = 1e-6;
  for (Index k = 0; k < W.size(); ++k) {
    Mat<double> wp = W, wm = W;
    wp(k) += h;
    wm(k) -= h;
    fd(k) = (loss(wp) - loss(wm)) / (2 * h);
  }
  EXPECT_LT((dW - fd).norm() / fd.norm(), 1e-7) << "dW\n" << dW << "\nfd\n" << fd;
}

TEST(NormGradients, NoneIsTheIdentity) {
  Rng r = rng_make(41);
  const Mat<double> z = random_z(3, 4, r), g = random_z(3, 4, r);
  const NormParams<double> p = norm_params_init<double>(3);
  NormCache<double> c;
  Mat<double> y, dz;
  NormGrads<double> gr;
  norm_forward(NormSpec{}, p, z, c, y);
  norm_backward(p, c, g, dz, gr);
  EXPECT_EQ(y, z);
  EXPECT_EQ(dz, g);
  EXPECT_EQ(gr.dgamma, Vec<double>::Zero(3));
  EXPECT_EQ(gr.dbeta, Vec<double>::Zero(3));
}

// ---- closed forms ----

// Per unit (batch) or per example (layer): the normalized values have mean 0 and variance
// σ²/(σ² + ε) exactly, to rounding; σ² here from an independent long-double pass. Units with σ²
// far above, near and far below ε.
TEST(NormClosedForms, NormalizedMeanZeroVarianceSigma2OverSigma2PlusEps) {
  Rng r = rng_make(51);
  const Index n = 6, B = 9;
  Mat<double> z(n, B);
  const double stds[] = {3.0, 1e-2, 3e-3, 1e-3, 1e-4, 0.5};
  for (Index j = 0; j < n; ++j)
    for (Index i = 0; i < B; ++i) z(j, i) = 5.0 + stds[j] * rng_normal(r);
  const double eps = 1e-5;
  for (NormKind kind : {NormKind::batch, NormKind::layer}) {
    const bool batch = kind == NormKind::batch;
    NormSpec spec{kind, eps};
    NormCache<double> c;
    Mat<double> y;
    norm_forward(spec, norm_params_init<double>(n), z, c, y);
    EXPECT_EQ(y, c.xhat);  // γ = 1, β = 0 at init
    for (Index k = 0; k < (batch ? n : B); ++k) {
      const Eigen::VectorXd zk = group(z, kind, k), xk = group(c.xhat, kind, k);
      const MeanVar zs = mean_var(zk), xs = mean_var(xk);
      // μ's rounding (a few ulp of max |z|) shifts every x̂ by as much times s
      EXPECT_NEAR(xs.mean, 0.0, 1e-14 * zk.cwiseAbs().maxCoeff() * c.inv_std(k))
          << norm_kind_names[size_t(kind)] << " " << k;
      EXPECT_NEAR(xs.var, zs.var / (zs.var + eps), 1e-13 * zs.var / (zs.var + eps))
          << norm_kind_names[size_t(kind)] << " " << k << " σ² = " << zs.var;
      EXPECT_NEAR(c.var(k), zs.var, 1e-12 * zs.var);
    }
  }
}

// BatchNorm's input gradient sums to 0 over the batch for every unit; its inner product with x̂
// over the batch is γ s (Σ_i g_i x̂_i) ε/(σ² + ε): 0 with ε = 0. LayerNorm: the same per example
// over the units, with h = γ ⊙ g in place of γ g.
TEST(NormClosedForms, InputGradientSumsToZeroAndIsOrthogonalToXhatWithoutEps) {
  Rng r = rng_make(61);
  const Index n = 5, B = 8;
  const Mat<double> g = random_z(n, B, r);
  for (NormKind kind : {NormKind::batch, NormKind::layer}) {
    const bool batch = kind == NormKind::batch;
    const std::string name(norm_kind_names[size_t(kind)]);
    // σ² ~ 1e-4 per unit (batch) or per example (layer): ε = 1e-5 visibly breaks orthogonality
    const Mat<double> z = batch ? random_z(n, B, r, 1e-2) : random_z(B, n, r, 1e-2).transpose();
    const NormParams<double> p = {random_vec(n, r, 0.5, 1.5), random_vec(n, r, -1, 1)};
    for (double eps : {1e-5, 0.0}) {
      NormCache<double> c;
      Mat<double> y, dz;
      NormGrads<double> gr;
      norm_forward(NormSpec{kind, eps}, p, z, c, y);
      norm_backward(p, c, g, dz, gr);
      for (Index k = 0; k < (batch ? n : B); ++k) {
        const Eigen::VectorXd d = group(dz, kind, k), x = group(c.xhat, kind, k);
        const Eigen::VectorXd h = batch ? Eigen::VectorXd(p.gamma(k) * group(g, kind, k))
                                        : Eigen::VectorXd(p.gamma.cwiseProduct(g.col(k)));
        const double scale = d.cwiseAbs().sum();
        EXPECT_NEAR(d.sum(), 0.0, 1e-13 * scale) << name << " " << k << " eps " << eps;
        const double expect = c.inv_std(k) * h.dot(x) * eps / (c.var(k) + eps);
        EXPECT_NEAR(x.dot(d), expect, 1e-12 * scale) << name << " " << k << " eps " << eps;
        if (eps > 0) {
          EXPECT_GT(std::abs(expect), 1e-3 * scale);  // the ε term is really there
        }
      }
    }
  }
}

// Running statistics after k training steps from mean 0, var 1: the exponential average
// (1 − m)^k·init + Σ_t m (1 − m)^{k−t} stat_t, with each batch's unbiased variance; eval mode then
// normalizes with them.
TEST(NormClosedForms, RunningStatisticsAreTheExponentialAverage) {
  Rng r = rng_make(71);
  const Index n = 3, B = 4;
  const int k = 6;
  for (double m : {0.1, 0.3}) {
    NormSpec spec{NormKind::batch, 1e-5, m};
    const NormParams<double> p = {random_vec(n, r, 0.5, 1.5), random_vec(n, r, -1, 1)};
    NormRunning run = norm_running_init(n);
    Vec<double> mean = Vec<double>::Zero(n), var = Vec<double>::Ones(n);
    for (int t = 0; t < k; ++t) {
      const Mat<double> z = random_z(n, B, r);
      NormCache<double> c;
      Mat<double> y;
      norm_forward(spec, p, z, c, y, &run);
      for (Index j = 0; j < n; ++j) {
        const MeanVar s = mean_var(z.row(j).transpose());
        const double unbiased = s.var * static_cast<double>(B) / static_cast<double>(B - 1);
        mean(j) += m * std::pow(1 - m, k - 1 - t) * s.mean;  // its weight after the k-th step
        var(j) += m * std::pow(1 - m, k - 1 - t) * unbiased;
      }
    }
    var -= (1 - std::pow(1 - m, k)) * Vec<double>::Ones(n);  // init 1 decays to (1 − m)^k
    EXPECT_LT((run.mean - mean).norm(), 1e-14 * mean.norm()) << "momentum " << m;
    EXPECT_LT((run.var - var).norm(), 1e-14 * var.norm()) << "momentum " << m;

    const Mat<double> z = random_z(n, B, r);
    NormCache<double> c;
    Mat<double> y;
    norm_forward_eval(spec, p, run, z, c, y);
    for (Index j = 0; j < n; ++j)
      for (Index i = 0; i < B; ++i) {
        const double expect =
            p.gamma(j) * (z(j, i) - mean(j)) / std::sqrt(var(j) + 1e-5) + p.beta(j);
        EXPECT_NEAR(y(j, i), expect, 1e-13 * std::max(1.0, std::abs(expect)));
      }
  }
}

TEST(NormClosedForms, RunningVarianceNeedsTwoExamples) {
  NormRunning run = norm_running_init(2);
  NormCache<double> c;
  Mat<double> y;
  try {
    norm_forward(NormSpec{NormKind::batch}, norm_params_init<double>(2),
                 Mat<double>(Mat<double>::Ones(2, 1)), c, y, &run);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "batch norm: the running variance needs at least 2 examples");
  }
}

// ---- float32, aliasing, moments ----

TEST(NormFloat32, WithinToleranceOfFloat64) {
  Rng r = rng_make(81);
  const Index n = 16, B = 32;
  const Mat<double> z = random_z(n, B, r), g = random_z(n, B, r);
  const NormParams<double> p = {random_vec(n, r, 0.5, 1.5), random_vec(n, r, -1, 1)};
  const NormParams<float> pf = {p.gamma.cast<float>(), p.beta.cast<float>()};
  const NormRunning run{random_vec(n, r, -1, 1), random_vec(n, r, 0.2, 2.0)};
  for (NormKind kind : {NormKind::batch, NormKind::layer})
    for (bool eval : {false, true}) {
      const NormSpec spec{kind};
      NormCache<double> c;
      NormCache<float> cf;
      Mat<double> y, dz;
      Mat<float> yf, dzf;
      NormGrads<double> gr;
      NormGrads<float> grf;
      if (eval) {
        norm_forward_eval(spec, p, run, z, c, y);
        norm_forward_eval(spec, pf, run, Mat<float>(z.cast<float>()), cf, yf);
      } else {
        norm_forward(spec, p, z, c, y);
        norm_forward(spec, pf, Mat<float>(z.cast<float>()), cf, yf);
      }
      norm_backward(p, c, g, dz, gr);
      norm_backward(pf, cf, Mat<float>(g.cast<float>()), dzf, grf);
      const std::string what = std::string(norm_kind_names[size_t(kind)]) + (eval ? " eval" : "");
      EXPECT_LT((yf.cast<double>() - y).norm() / y.norm(), 1e-6) << what;
      EXPECT_LT((dzf.cast<double>() - dz).norm() / dz.norm(), 1e-6) << what;
      EXPECT_LT((grf.dgamma.cast<double>() - gr.dgamma).norm() / gr.dgamma.norm(), 1e-6) << what;
      EXPECT_LT((grf.dbeta.cast<double>() - gr.dbeta).norm() / gr.dbeta.norm(), 1e-6) << what;
    }
}

// y may be z and dz may be g: the same bits in place.
TEST(NormInPlace, SameBits) {
  Rng r = rng_make(91);
  const Index n = 5, B = 6;
  const Mat<float> z = random_z(n, B, r).cast<float>(), g = random_z(n, B, r).cast<float>();
  const NormParams<float> p = {random_vec(n, r, 0.5, 1.5).cast<float>(),
                               random_vec(n, r, -1, 1).cast<float>()};
  for (NormKind kind : {NormKind::batch, NormKind::layer}) {
    NormCache<float> c;
    NormGrads<float> gr;
    Mat<float> y, dz;
    norm_forward(NormSpec{kind}, p, z, c, y);
    norm_backward(p, c, g, dz, gr);
    Mat<float> zz = z, gg = g;
    norm_forward(NormSpec{kind}, p, zz, c, zz);
    norm_backward(p, c, gg, gg, gr);
    EXPECT_EQ(zz, y) << norm_kind_names[size_t(kind)];
    EXPECT_EQ(gg, dz) << norm_kind_names[size_t(kind)];
  }
}

// 1..N: mean (N + 1)/2, population variance (N² − 1)/12, with and without a large offset (the
// second pass keeps the std exact where Σz² − N·mean² would cancel).
TEST(NormMoments, ClosedForm) {
  const Index n = 6, B = 7, N = n * B;
  Mat<double> z(n, B);
  for (Index k = 0; k < N; ++k) z(k) = static_cast<double>(k + 1);
  const double mean = (N + 1) / 2.0, sd = std::sqrt((double(N) * double(N) - 1) / 12.0);
  const Moments m = moments_of(z), mf = moments_of(Mat<float>(z.cast<float>()));
  EXPECT_DOUBLE_EQ(m.mean, mean);
  EXPECT_DOUBLE_EQ(m.std, sd);
  EXPECT_DOUBLE_EQ(mf.mean, mean);
  EXPECT_DOUBLE_EQ(mf.std, sd);
  const Moments mo = moments_of(Mat<double>(z.array() + 1e8));
  EXPECT_DOUBLE_EQ(mo.mean, mean + 1e8);
  EXPECT_NEAR(mo.std, sd, 1e-7 * sd);
  const Moments empty = moments_of(Mat<double>(0, 3));
  EXPECT_TRUE(std::isnan(empty.mean) && std::isnan(empty.std));
}
