// Initializers: moments within the sampling tolerance of the formula, orthogonality, sparsity,
// spectral rescaling, and bit-reproducibility of the generator.
#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>
#include <cmath>
#include <cstring>
#include <vector>

#include "harness/core/rng.h"
#include "harness/nn/init.h"

using namespace gl;

struct Moments {
  double mean, var, max_abs;
};
static Moments moments(const Mat<double>& W) {
  const double n = static_cast<double>(W.size());
  const double mean = W.mean();
  const double var = (W.array() - mean).square().sum() / n;
  return {mean, var, W.cwiseAbs().maxCoeff()};
}

TEST(Init, MomentsMatchTheFormulas) {
  const Index fo = 300, fi = 500;
  const double n = static_cast<double>(fo * fi);
  struct Case {
    const char* name;
    double var;    // expected Var W
    double bound;  // uniform bound (0 = Gaussian)
  } cases[] = {
      {"glorot_standard", 1.0 / (3 * fi), 1 / std::sqrt(double(fi))},
      {"glorot_uniform", 2.0 / (fi + fo), std::sqrt(6.0 / (fi + fo))},
      {"glorot_normal", 2.0 / (fi + fo), 0},
      {"he_normal", 2.0 / fi, 0},
      {"he_uniform", 2.0 / fi, std::sqrt(6.0 / fi)},
      {"lecun_normal", 1.0 / fi, 0},
      {"lecun_uniform", 1.0 / fi, std::sqrt(3.0 / fi)},
      {"gaussian", 1.0 / fi, 0},
      {"uniform", 0.05 * 0.05 / 3, 0.05},
  };
  for (const Case& c : cases) {
    InitSpec s;
    s.kind = *init_from_name(c.name);
    Mat<double> W(fo, fi);
    Rng r = rng_make(7);
    init_weights(s, W, r);
    const Moments m = moments(W);
    // Sample variance of n draws has relative sd sqrt(2/n) (Gaussian) or less (uniform): 5 sd.
    EXPECT_NEAR(m.var / c.var, 1.0, 5 * std::sqrt(2.0 / n)) << c.name;
    EXPECT_NEAR(m.mean, 0.0, 5 * std::sqrt(c.var / n)) << c.name;
    if (c.bound > 0) {
      EXPECT_LE(m.max_abs, c.bound) << c.name;
    }
    EXPECT_NEAR(init_sigma_w2(s, fi, fo), c.var * fi, 1e-12) << c.name;
  }
}

TEST(Init, GainModeAndSigmaW2) {
  InitSpec s;
  s.kind = Init::he_normal;
  s.mode = FanMode::fan_out;
  s.gain = 0.5;
  EXPECT_NEAR(init_sigma_w2(s, 100, 400), 100 * 0.25 * 2.0 / 400, 1e-15);
  s = InitSpec{};
  s.kind = Init::gaussian;
  s.sigma_w2 = 3.0;
  Mat<double> W(400, 400);
  Rng r = rng_make(1);
  init_weights(s, W, r);
  EXPECT_NEAR(moments(W).var * 400, 3.0, 3.0 * 5 * std::sqrt(2.0 / (400.0 * 400)));
}

TEST(Init, OrthogonalGivesOrthonormalRowsOrColumns) {
  for (auto [fo, fi] : {std::pair<Index, Index>{64, 64}, {32, 80}, {80, 32}}) {
    InitSpec s;
    s.kind = Init::orthogonal;
    s.gain = 1.0;
    Mat<double> W(fo, fi);
    Rng r = rng_make(3);
    init_weights(s, W, r);
    const Mat<double> G =
        fo <= fi ? Mat<double>(W * W.transpose()) : Mat<double>(W.transpose() * W);
    EXPECT_LT((G - Mat<double>::Identity(G.rows(), G.cols())).cwiseAbs().maxCoeff(), 1e-12);
  }
}

TEST(Init, SparseHasTheRequestedNonzerosPerRow) {
  InitSpec s;
  s.kind = Init::sparse;
  s.nonzero_per_row = 15;
  Mat<double> W(50, 100);
  Rng r = rng_make(5);
  init_weights(s, W, r);
  for (Index i = 0; i < W.rows(); ++i) EXPECT_EQ((W.row(i).array() != 0).count(), 15);
}

TEST(Init, SpectralRadiusAndNormRescaling) {
  InitSpec s;
  s.kind = Init::glorot_normal;
  s.spectral_radius = 0.95;
  Mat<double> W(60, 60);
  Rng r = rng_make(9);
  init_weights(s, W, r);
  Eigen::EigenSolver<Mat<double>> es(W, false);
  EXPECT_NEAR(es.eigenvalues().cwiseAbs().maxCoeff(), 0.95, 1e-10);
  s.spectral_radius = nan_v;
  s.spectral_norm = 1.5;
  init_weights(s, W, r);
  Eigen::JacobiSVD<Mat<double>> svd(W);
  EXPECT_NEAR(svd.singularValues()(0), 1.5, 1e-10);
}

TEST(Init, SameSeedSameBitsBothPrecisionsFromTheSameDraws) {
  InitSpec s;
  s.kind = Init::he_normal;
  Mat<double> A(20, 30), B(20, 30);
  Mat<float> F(20, 30);
  Rng r1 = rng_make(42), r2 = rng_make(42), r3 = rng_make(42), r4 = rng_make(43);
  init_weights(s, A, r1);
  init_weights(s, B, r2);
  init_weights(s, F, r3);
  EXPECT_EQ(std::memcmp(A.data(), B.data(), sizeof(double) * 600), 0);
  EXPECT_TRUE(F == A.cast<float>());
  init_weights(s, B, r4);
  EXPECT_FALSE(A == B);
}

TEST(Rng, KnownBitsAndMoments) {
  // xoshiro256** seeded by splitmix64(0): these are the reference implementation's outputs.
  Rng r = rng_make(0);
  Rng r2 = rng_make(0);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rng_next(r), rng_next(r2));
  // normal moments over 1e6 draws: mean 0 ± 5/1000, E z² = 1 ± 5·sqrt(2)/1000, E z⁴ = 3 ± 0.05
  Rng g = rng_make(123);
  double m1 = 0, m2 = 0, m4 = 0;
  const int n = 1000000;
  for (int i = 0; i < n; ++i) {
    const double z = rng_normal(g);
    m1 += z;
    m2 += z * z;
    m4 += z * z * z * z;
  }
  EXPECT_NEAR(m1 / n, 0.0, 5e-3);
  EXPECT_NEAR(m2 / n, 1.0, 5 * std::sqrt(2.0) / 1000);
  EXPECT_NEAR(m4 / n, 3.0, 0.05);
  for (int i = 0; i < 1000; ++i) {
    const double u = rng_uniform(g);
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
  }
}

TEST(Rng, DeterministicLogMatchesLibm) {
  for (double x : {1e-300, 1e-10, 0.1, 0.5, 0.7071, 1.0, 1.0 + 1e-12, 2.0, 3.14159, 1e10, 1e300}) {
    EXPECT_NEAR(det_log(x), std::log(x), 4e-16 * std::max(1.0, std::abs(std::log(x)))) << x;
  }
  Rng r = rng_make(11);
  for (int i = 0; i < 100000; ++i) {
    const double x = rng_uniform(r) + 1e-300;
    ASSERT_NEAR(det_log(x), std::log(x), 4e-16 * std::max(1.0, std::abs(std::log(x)))) << x;
  }
}

// rng_normal_fill gives exactly n calls of rng_normal (values and the stream after), whatever the
// count's parity, a spare left by an earlier call, and whether its transforms run on 1 or 2
// threads (above 8192 pairs).
template <class T>
static void check_fill(int threads) {
  omp_set_num_threads(threads);
  for (int64_t n : {0, 1, 2, 7, 64, 1000, 20001, 40000}) {
    for (bool spare : {false, true}) {
      Rng a = rng_make(static_cast<uint64_t>(n) + 17), b = a;
      if (spare) {  // leave a spare in both streams
        (void)rng_normal(a);
        (void)rng_normal(b);
      }
      std::vector<T> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
      for (T& v : want) v = static_cast<T>(rng_normal(a));
      rng_normal_fill(b, got.data(), n);
      EXPECT_EQ(got, want) << "n " << n << " spare " << spare;
      EXPECT_EQ(rng_normal(b), rng_normal(a)) << "the stream after, n " << n;  // spare and state
      EXPECT_EQ(rng_next(b), rng_next(a));
    }
  }
  omp_set_num_threads(1);
}

TEST(Rng, NormalFillIsOneNormalAfterAnother) {
  for (int threads : {1, 2}) {
    check_fill<double>(threads);
    check_fill<float>(threads);
  }
}
