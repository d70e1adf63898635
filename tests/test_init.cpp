// Initializers: moments within the sampling tolerance of the formula, orthogonality, sparsity,
// spectral rescaling, and bit-reproducibility of the generator.
#include <gtest/gtest.h>
#include <omp.h>

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>
#include <bit>
#include <cfloat>
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

// det_log as first written, with frexp and a branch: the reference for the bit-level form that
// the vectorized normal draws use.
static double det_log_frexp(double x) {
  int e = 0;
  double m = std::frexp(x, &e);
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  double sum = 0.0;
  for (int k = 13; k >= 1; --k) sum = sum * s2 + 1.0 / (2.0 * k + 1.0);
  const double atanh_s = s + s * s2 * sum;
  const double de = static_cast<double>(e);
  return de * 6.93147180369123816490e-01 + (2.0 * atanh_s + de * 1.90821492927058770002e-10);
}

static uint64_t bits_of(double x) { return std::bit_cast<uint64_t>(x); }

TEST(Rng, DetLogIsTheFrexpFormBitForBit) {
  std::vector<double> xs = {DBL_TRUE_MIN,
                            3 * DBL_TRUE_MIN,
                            DBL_MIN / 3,
                            std::nextafter(DBL_MIN, 0.0),
                            DBL_MIN,
                            0.5,
                            0.70710678118654752440,
                            1.0,
                            2.0,
                            1e300,
                            DBL_MAX};
  for (double c : {0.70710678118654752440, 1.0, 0.5, DBL_MIN}) {
    xs.push_back(std::nextafter(c, 0.0));
    xs.push_back(std::nextafter(c, 2.0));
  }
  Rng r = rng_make(5);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::bit_cast<double>(rng_next(r) >> 1);  // any positive double
    if (std::isfinite(x) && x > 0) xs.push_back(x);
    xs.push_back(rng_uniform(r) + DBL_TRUE_MIN);
  }
  for (double x : xs) {
    ASSERT_EQ(bits_of(det_log(x)), bits_of(det_log_frexp(x))) << x;
  }
}

// The normals of the vectorized fill are, bit for bit, the polar method computed one pair at a
// time with the frexp log; uniform fills are rng_uniform one after another; scale multiplies in
// double before the cast.
TEST(Rng, FillsAreThePolarMethodAndUniformsOneByOne) {
  for (int64_t n : {1, 2, 15, 16, 17, 1001, 40001}) {
    Rng a = rng_make(static_cast<uint64_t>(n)), b = a;
    std::vector<double> want;
    while (static_cast<int64_t>(want.size()) < n) {
      const double u = 2.0 * rng_uniform(a) - 1.0, v = 2.0 * rng_uniform(a) - 1.0;
      const double s = u * u + v * v;
      if (s >= 1.0 || s == 0.0) continue;
      const double f = std::sqrt(-2.0 * det_log_frexp(s) / s);
      want.push_back(u * f);
      want.push_back(v * f);
    }
    std::vector<double> got(static_cast<size_t>(n));
    std::vector<float> got32(static_cast<size_t>(n));
    Rng b32 = b;
    rng_normal_fill(b, got.data(), n, 0.3);
    rng_normal_fill(b32, got32.data(), n, 0.3);
    for (int64_t i = 0; i < n; ++i) {
      const auto k = static_cast<size_t>(i);
      ASSERT_EQ(bits_of(got[k]), bits_of(0.3 * want[k])) << "n " << n << " i " << i;
      ASSERT_EQ(got32[k], static_cast<float>(0.3 * want[k])) << "n " << n << " i " << i;
    }
    if (n % 2 != 0) {
      EXPECT_EQ(bits_of(rng_normal(b)), bits_of(want.back())) << "the spare";
    }
  }
  Rng a = rng_make(3), b = a;
  std::vector<float> got(777);
  rng_uniform_fill(b, got.data(), 777, -0.25, 0.5);
  for (float x : got) {
    ASSERT_EQ(x, static_cast<float>(rng_uniform(a, -0.25, 0.5)));
  }
  EXPECT_EQ(rng_next(a), rng_next(b));
}

// Digests of the streams as main produced them before the draws were vectorized: the first
// 100001 normals of seed 7 by rng_normal_fill then 3 by rng_normal; 1001 uniforms on [-¼, ¾).
TEST(Rng, KnownStreamDigests) {
  Rng r = rng_make(7);
  std::vector<double> z(100001);
  rng_normal_fill(r, z.data(), static_cast<int64_t>(z.size()));
  uint64_t h = hash_bytes(z.data(), z.size() * sizeof(double));
  for (int i = 0; i < 3; ++i) {
    const double x = rng_normal(r);
    h = hash_bytes(&x, sizeof x, h);
  }
  EXPECT_EQ(h, 0xc660ba1e6014a46bull);
  Rng q = rng_make(9);
  std::vector<double> u(1001);
  for (double& x : u) x = rng_uniform(q, -0.25, 0.75);
  EXPECT_EQ(hash_bytes(u.data(), u.size() * sizeof(double)), 0x4b6ae98214044059ull);
}

// Every i.i.d. kind, drawn straight into the matrix: in double, each entry drawn in column-major
// order and scaled (the formula's sd or bound, up to its rounding); in float, the double values
// rounded once; the stream after is that of one draw per entry.
TEST(Init, IidKindsDrawnStraightIntoTheMatrix) {
  for (Init kind :
       {Init::glorot_standard, Init::glorot_uniform, Init::glorot_normal, Init::he_normal,
        Init::he_uniform, Init::lecun_normal, Init::lecun_uniform, Init::gaussian, Init::uniform}) {
    InitSpec s;
    s.kind = kind;
    s.gain = 1.3;
    s.sigma_w2 = 2.5;
    s.scale = 0.4;
    const Index fo = 31, fi = 17;
    Rng a = rng_make(77);
    (void)rng_normal(a);  // a spare on every stream
    Rng b = a, c = a;
    Mat<double> D(fo, fi);
    Mat<float> F(fo, fi);
    init_weights(s, D, b);
    init_weights(s, F, c);
    EXPECT_TRUE(F == D.cast<float>()) << init_name(kind);
    const double sd = std::sqrt(init_sigma_w2(s, fi, fo) / static_cast<double>(fi));
    const double r = std::sqrt(3.0) * sd;  // uniform on [−r, r): variance r²/3
    const bool normal = kind == Init::glorot_normal || kind == Init::he_normal ||
                        kind == Init::lecun_normal || kind == Init::gaussian;
    for (Index j = 0; j < fi; ++j)
      for (Index i = 0; i < fo; ++i) {
        const double want = normal ? rng_normal(a) * sd : rng_uniform(a, -r, r);
        ASSERT_NEAR(D(i, j), want, 1e-14 * sd) << init_name(kind) << " " << i << "," << j;
      }
    const uint64_t after = rng_next(a);
    EXPECT_EQ(rng_next(b), after) << init_name(kind);
    EXPECT_EQ(rng_next(c), after) << init_name(kind);
  }
}
