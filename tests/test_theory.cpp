// Mean-field theory (docs/reference.md §4.3): Gaussian expectations against closed forms and
// independent composite-Simpson integrals written here, then the per-layer maps, the fixed points,
// the depth scales and the critical σ_w² against the known results (Poole et al. 2016, Schoenholz
// et al. 2017, Klambauer et al. 2017).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "harness/measure/theory.h"

using namespace gl;

namespace {

ActivationSpec spec_of(Activation a) {
  ActivationSpec s;
  s.kind = a;
  if (a == Activation::prelu) s.slope = 0.25;
  return s;
}

double pdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi); }
double cdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

// |a − ref| within 1e-10 relative, or 1e-14 absolute where ref is tiny.
::testing::AssertionResult close(double a, double ref, double rel = 1e-10, double abs = 1e-14) {
  if (std::abs(a - ref) <= std::max(rel * std::abs(ref), abs)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << a << " vs " << ref << " (diff " << a - ref << ")";
}

// Σ over composite Simpson on [a, b] with n (even) panels of K integrands g(z)·pdf(z), summed in
// long double. The end points are moved inside by 1e-13 of the piece, so a piece sees one-sided
// values at a jump.
template <size_t K, class G>
void simpson_piece(G&& g, double a, double b, int n, std::array<long double, K>& acc) {
  const double h = (b - a) / n;
  for (int i = 0; i <= n; ++i) {
    double z = a + h * i;
    if (i == 0) z = a + 1e-13 * (b - a);
    if (i == n) z = b - 1e-13 * (b - a);
    const double wt = (i == 0 || i == n) ? 1.0 : (i % 2 ? 4.0 : 2.0);
    const std::array<double, K> v = g(z);
    for (size_t k = 0; k < K; ++k) acc[k] += static_cast<long double>(wt * h / 3 * v[k] * pdf(z));
  }
}

// E[g(z)] for z ~ N(0, 1) over [−12, 12]: Simpson on pieces between `breaks` (z units), each piece
// further split geometrically towards its breaks from width w0 (an independent graded mesh).
template <size_t K, class G>
std::array<double, K> simpson_expect(G&& g, std::vector<double> breaks, double w0, int n) {
  std::vector<double> pts = {-12.0, 12.0};
  for (double p : breaks) {
    if (std::abs(p) >= 12) continue;
    pts.push_back(p);
    for (double d = w0; d < 24; d *= 2) {
      if (std::abs(p + d) < 12) pts.push_back(p + d);
      if (std::abs(p - d) < 12) pts.push_back(p - d);
    }
  }
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  std::array<long double, K> acc{};
  for (size_t i = 0; i + 1 < pts.size(); ++i) simpson_piece<K>(g, pts[i], pts[i + 1], n, acc);
  std::array<double, K> out{};
  for (size_t k = 0; k < K; ++k) out[k] = static_cast<double>(acc[k]);
  return out;
}

// Kinks of φ or φ′ in u (the activation's table row), and 0 always (the centre of every
// nonlinearity).
std::vector<double> kinks_of(const ActivationSpec& f) {
  std::vector<double> k = {0.0};
  for (double z : activation_info(f.kind).kinks)
    if (z != 0.0) k.push_back(z);
  std::sort(k.begin(), k.end());
  return k;
}

double e_rule(const ActivationSpec& f, double q, const std::function<double(double)>& g) {
  return gauss_expect(gauss_rule(f, q), g);
}

// Every activation the theory covers, plus non-default parameters.
std::vector<ActivationSpec> all_specs() {
  std::vector<ActivationSpec> v;
  for (int k = 0; k < activation_count; ++k) {
    const ActivationSpec f = spec_of(static_cast<Activation>(k));
    if (theory_applies(f)) v.push_back(f);
  }
  ActivationSpec s;
  s.kind = Activation::elu;
  s.alpha = 0.5;
  v.push_back(s);
  s = ActivationSpec{};
  s.kind = Activation::softplus;
  s.beta = 5;
  v.push_back(s);
  s.beta = 0.5;
  v.push_back(s);
  s = ActivationSpec{};
  s.kind = Activation::rrelu;
  s.convention = RreluConvention::paper;
  v.push_back(s);
  return v;
}

}  // namespace

// ---- Gaussian expectations ----

TEST(Theory, GaussHermiteMoments) {
  for (int n : {4, 10, 20, 40}) {
    const GaussRule r = gauss_hermite(n);
    auto moment = [&](int p) { return gauss_expect(r, [p](double z) { return std::pow(z, p); }); };
    EXPECT_NEAR(moment(0), 1.0, 1e-13) << n;
    EXPECT_NEAR(moment(1), 0.0, 1e-13) << n;
    EXPECT_NEAR(moment(2), 1.0, 1e-12) << n;
    EXPECT_NEAR(moment(3), 0.0, 1e-12) << n;
    EXPECT_NEAR(moment(4), 3.0, 1e-12) << n;
    EXPECT_NEAR(moment(6), 15.0, 1e-12) << n;  // n ≥ 4: degree 6 ≤ 2n − 1
  }
  // Degree 2n − 1 is the limit: 2n is not exact.
  const GaussRule r2 = gauss_hermite(2);
  EXPECT_NEAR(gauss_expect(r2, [](double z) { return z * z * z * z; }), 1.0, 1e-13);  // not 3
}

TEST(Theory, TanhDerivSquareMatchesSimpson) {
  // Uniform composite Simpson, 2e5 panels on [−12, 12] (smooth integrand: error ~ h⁴ ~ 1e-16).
  const ActivationSpec f = spec_of(Activation::tanh);
  for (double q : {0.1, 1.0, 4.0}) {
    const double s = std::sqrt(q);
    std::array<long double, 1> acc{};
    simpson_piece<1>(
        [&](double z) {
          const double t = 1 / std::cosh(s * z);
          return std::array<double, 1>{t * t * t * t};
        },
        -12.0, 12.0, 200000, acc);
    const double ref = static_cast<double>(acc[0]);
    const double e = e_rule(f, q, [&](double u) { return std::pow(activation_deriv(f, u), 2); });
    EXPECT_TRUE(close(e, ref)) << "q=" << q;
  }
}

TEST(Theory, ReluAndLeakySquareAreHalfQ) {
  const ActivationSpec relu = spec_of(Activation::relu);
  ActivationSpec leaky = spec_of(Activation::leaky_relu);
  leaky.slope = 0.3;
  for (double q : {0.0, 1e-200, 1e-6, 0.3, 1.0, 7.0, 1e4, 1e12, 1e200}) {
    // q = 0 is evaluated as q = 1e-300 (the q → 0+ limit): an absolute 1e-300 from 0.
    EXPECT_TRUE(
        close(e_rule(relu, q, [&](double u) { return std::pow(activation_value(relu, u), 2); }),
              q / 2, 1e-12, 1e-299))
        << q;
    EXPECT_TRUE(
        close(e_rule(leaky, q, [&](double u) { return std::pow(activation_value(leaky, u), 2); }),
              q * (1 + 0.09) / 2, 1e-12, 1e-299))
        << q;
    EXPECT_TRUE(
        close(e_rule(relu, q, [&](double u) { return activation_deriv(relu, u); }), 0.5, 1e-13))
        << q;
  }
}

TEST(Theory, PiecewiseClosedFormsAndSimpson) {
  const ActivationSpec ht = spec_of(Activation::hard_tanh), r6 = spec_of(Activation::relu6);
  for (double q : {0.01, 0.2, 1.0, 4.0, 30.0, 1e3, 1e6}) {
    const double s = std::sqrt(q), a = 1 / s, b = 6 / s;
    // hard_tanh² = q z² on |z| < a, 1 outside: q (2Φ(a) − 1 − 2aφ(a)) + 2Φ(−a).
    const double ht2 = q * (2 * cdf(a) - 1 - 2 * a * pdf(a)) + 2 * cdf(-a);
    // relu6′² = 1 on 0 < z ≤ b: Φ(b) − ½. relu6² = q z² on (0, b), 36 above b.
    const double r6d = cdf(b) - 0.5;
    const double r62 = q * (cdf(b) - 0.5 - b * pdf(b)) + 36 * cdf(-b);
    const double e_ht2 =
        e_rule(ht, q, [&](double u) { return std::pow(activation_value(ht, u), 2); });
    const double e_r6d =
        e_rule(r6, q, [&](double u) { return std::pow(activation_deriv(r6, u), 2); });
    const double e_r62 =
        e_rule(r6, q, [&](double u) { return std::pow(activation_value(r6, u), 2); });
    EXPECT_TRUE(close(e_ht2, ht2)) << "hard_tanh q=" << q;
    EXPECT_TRUE(close(e_r6d, r6d)) << "relu6' q=" << q;
    EXPECT_TRUE(close(e_r62, r62)) << "relu6 q=" << q;
    // The same against Simpson between the kinks.
    const double w0 = std::min(1.0, 1 / s);
    auto sim_ht = simpson_expect<1>(
        [&](double z) { return std::array<double, 1>{std::pow(activation_value(ht, s * z), 2)}; },
        {-a, 0.0, a}, w0, 2000);
    auto sim_r6 = simpson_expect<1>(
        [&](double z) { return std::array<double, 1>{std::pow(activation_deriv(r6, s * z), 2)}; },
        {0.0, b}, w0, 2000);
    EXPECT_TRUE(close(e_ht2, sim_ht[0])) << "hard_tanh (Simpson) q=" << q;
    EXPECT_TRUE(close(e_r6d, sim_r6[0])) << "relu6' (Simpson) q=" << q;
  }
}

TEST(Theory, EveryActivationMatchesSimpson) {
  // E[φ²], E[φ′²] and E[φ φ′ u] (the three integrands of the theory) for every activation.
  double worst = 0;
  for (const ActivationSpec& f : all_specs()) {
    for (double q : {1e-4, 0.05, 0.5, 1.0, 3.0, 20.0, 400.0}) {
      const double s = std::sqrt(q);
      const double width = f.kind == Activation::softplus ? 1 / f.beta : 1.0;
      std::vector<double> breaks;
      for (double k : kinks_of(f)) breaks.push_back(k / s);
      auto ref = simpson_expect<3>(
          [&](double z) {
            const double u = s * z, a = activation_value(f, u), d = activation_deriv(f, u);
            return std::array<double, 3>{a * a, d * d, a * d * u};
          },
          breaks, std::min(1.0, 0.5 * width / s), 2000);
      const GaussRule r = gauss_rule(f, q);
      const std::array<double, 3> got = {
          gauss_expect(r, [&](double u) { return std::pow(activation_value(f, u), 2); }),
          gauss_expect(r, [&](double u) { return std::pow(activation_deriv(f, u), 2); }),
          gauss_expect(
              r, [&](double u) { return activation_value(f, u) * activation_deriv(f, u) * u; })};
      for (size_t k = 0; k < 3; ++k) {
        EXPECT_TRUE(close(got[k], ref[k]))
            << activation_name(f.kind) << " q=" << q << " integrand " << k;
        const double err = std::abs(got[k] - ref[k]) / std::max(std::abs(ref[k]), 1e-4);
        worst = std::max(worst, err);
      }
    }
  }
  RecordProperty("worst_relative_error", std::to_string(worst));
  std::printf("[ info ] worst relative error over all activations: %.2e\n", worst);
}

TEST(Theory, LargeQUsesTheScaleOfTheNonlinearity) {
  // For q → ∞: E[tanh′(u)²] = ∫ sech⁴ du / √(2πq) · (1 + O(1/q)) = (4/3)/√(2πq).
  // Panels stop shrinking at 1e-12 in z, so beyond q = 1e24 the tiny value is only
  // absolute-accurate.
  const ActivationSpec th = spec_of(Activation::tanh);
  for (double q : {1e16, 1e20, 1e24, 1e40, 1e100}) {
    const double e = e_rule(th, q, [&](double u) { return std::pow(activation_deriv(th, u), 2); });
    EXPECT_TRUE(close(e, (4.0 / 3) / std::sqrt(2 * std::numbers::pi * q), q <= 1e24 ? 1e-10 : 0))
        << q;
    const double e2 = e_rule(th, q, [&](double u) { return std::pow(activation_value(th, u), 2); });
    EXPECT_TRUE(close(e2, 1 - 2 / std::sqrt(2 * std::numbers::pi * q))) << q;
  }
  // Medium-large q against the graded Simpson reference.
  for (double q : {1e4, 1e8}) {
    const double s = std::sqrt(q);
    auto ref = simpson_expect<2>(
        [&](double z) {
          const double u = s * z, a = activation_value(th, u), d = activation_deriv(th, u);
          return std::array<double, 2>{a * a, d * d};
        },
        {0.0}, 0.5 / s, 2000);
    const GaussRule r = gauss_rule(th, q);
    EXPECT_TRUE(close(
        gauss_expect(r, [&](double u) { return std::pow(activation_value(th, u), 2); }), ref[0]))
        << q;
    EXPECT_TRUE(close(
        gauss_expect(r, [&](double u) { return std::pow(activation_deriv(th, u), 2); }), ref[1]))
        << q;
  }
  // q = +inf: the limits at ±∞.
  const GaussRule ri = gauss_rule(th, std::numeric_limits<double>::infinity());
  EXPECT_EQ(gauss_expect(ri, [&](double u) { return std::pow(activation_value(th, u), 2); }), 1.0);
  EXPECT_EQ(gauss_expect(ri, [&](double u) { return std::pow(activation_deriv(th, u), 2); }), 0.0);
}

TEST(Theory, TwoDimensionalExpectation) {
  auto phi_of = [](const ActivationSpec& f) {
    return std::function<double(double)>([f](double u) { return activation_value(f, u); });
  };
  auto dphi_of = [](const ActivationSpec& f) {
    return std::function<double(double)>([f](double u) { return activation_deriv(f, u); });
  };
  for (Activation a : {Activation::tanh, Activation::relu, Activation::hard_tanh, Activation::relu6,
                       Activation::selu, Activation::binary_step, Activation::gelu}) {
    const ActivationSpec f = spec_of(a);
    for (double q : {0.5, 2.0, 40.0}) {
      const auto phi = phi_of(f);
      // c = 1: the 1-D E[φ²]; c = −1: E[φ(u) φ(−u)]; c = 0: E[φ]E[φ] (here with q22 ≠ q11).
      const double e11 = e_rule(f, q, [&](double u) { return phi(u) * phi(u); });
      EXPECT_TRUE(close(gauss_expect2(f, q, q, 1.0, phi, phi), e11)) << activation_name(a) << q;
      const double em = e_rule(f, q, [&](double u) { return phi(u) * phi(-u); });
      EXPECT_TRUE(close(gauss_expect2(f, q, q, -1.0, phi, phi), em)) << activation_name(a) << q;
      const double m1 = e_rule(f, q, phi), m2 = e_rule(f, 3 * q, phi);
      EXPECT_TRUE(close(gauss_expect2(f, q, 3 * q, 0.0, phi, phi), m1 * m2))
          << activation_name(a) << q;
    }
  }
  // ReLU: the arc-cosine kernels (Cho & Saul), with q11 ≠ q22 and c up to 1 − 1e-9.
  const ActivationSpec relu = spec_of(Activation::relu);
  const double pi = std::numbers::pi;
  double worst = 0;
  for (double c : {-1.0, -0.9, -0.3, 0.0, 0.2, 0.7, 0.99, 1 - 1e-6, 1 - 1e-9, 1.0}) {
    for (auto [q1, q2] : {std::pair{1.0, 1.0}, std::pair{0.3, 5.0}, std::pair{1e-3, 1e3}}) {
      const double th = std::acos(c), sn = std::sqrt((1 - c) * (1 + c));
      const double k1 = std::sqrt(q1 * q2) / (2 * pi) * (sn + (pi - th) * c);
      const double k0 = (pi - th) / (2 * pi);
      const double e1 = gauss_expect2(relu, q1, q2, c, phi_of(relu), phi_of(relu));
      const double e0 = gauss_expect2(relu, q1, q2, c, dphi_of(relu), dphi_of(relu));
      EXPECT_TRUE(close(e1, k1)) << "c=" << c << " q=" << q1 << "," << q2;
      EXPECT_TRUE(close(e0, k0)) << "c=" << c << " q=" << q1 << "," << q2;
      if (k1 > 0) worst = std::max(worst, std::abs(e1 / k1 - 1));
      if (k0 > 0) worst = std::max(worst, std::abs(e0 / k0 - 1));
    }
  }
  std::printf("[ info ] worst relative error of the 2-D arc-cosine kernels: %.2e\n", worst);
  // ∂/∂c E[φ(u1) φ(u2)] = q E[φ′(u1) φ′(u2)] (q11 = q22 = q): the identity behind ξ_c.
  for (Activation a :
       {Activation::tanh, Activation::relu6, Activation::hard_tanh, Activation::elu}) {
    const ActivationSpec f = spec_of(a);
    const double q = 2.5, h = 1e-4;
    for (double c : {-0.4, 0.3, 0.8}) {
      const double fd = (gauss_expect2(f, q, q, c + h, phi_of(f), phi_of(f)) -
                         gauss_expect2(f, q, q, c - h, phi_of(f), phi_of(f))) /
                        (2 * h);
      EXPECT_NEAR(fd, q * gauss_expect2(f, q, q, c, dphi_of(f), dphi_of(f)), 1e-7)
          << activation_name(a) << " c=" << c;
    }
  }
}

// ---- fixed points ----

// μ_k = E[φ′(√q z)^{2k}] of the Jacobian-spectrum prediction: ReLU and leaky ReLU in closed form
// (φ′² ∈ {a², 1} with probability ½ each), tanh against Simpson, the q → 0 limit and s₁.
TEST(Theory, DphiMomentsAndWeightS1) {
  ActivationSpec leaky = spec_of(Activation::leaky_relu);
  leaky.slope = 0.3;
  for (double q : {0.0, 1e-6, 1.0, 1e8}) {
    EXPECT_TRUE(close(theory_dphi_moment(spec_of(Activation::relu), q, 1), 0.5, 1e-13)) << q;
    EXPECT_TRUE(close(theory_dphi_moment(spec_of(Activation::relu), q, 2), 0.5, 1e-13)) << q;
    EXPECT_TRUE(close(theory_dphi_moment(leaky, q, 2), (1 + std::pow(0.3, 4)) / 2, 1e-13)) << q;
  }
  const ActivationSpec tanh = spec_of(Activation::tanh);
  std::array<long double, 2> acc{};
  simpson_piece<2>(
      [&](double z) {
        const double t = 1 / std::cosh(z);
        return std::array<double, 2>{std::pow(t, 4), std::pow(t, 8)};
      },
      -12.0, 12.0, 200000, acc);
  EXPECT_TRUE(close(theory_dphi_moment(tanh, 1.0, 1), static_cast<double>(acc[0])));
  EXPECT_TRUE(close(theory_dphi_moment(tanh, 1.0, 2), static_cast<double>(acc[1])));
  EXPECT_TRUE(close(theory_dphi_moment(tanh, 1.0, 1), theory_chi(tanh, 1.0, 1.0), 1e-15));
  EXPECT_TRUE(close(theory_dphi_moment(tanh, 1e-12, 2), 1.0, 1e-10));  // tanh′(0) = 1
  EXPECT_EQ(theory_weight_s1(Init::orthogonal), 0.0);
  EXPECT_EQ(theory_weight_s1(Init::gaussian), -1.0);
  EXPECT_EQ(theory_weight_s1(Init::he_normal), -1.0);
}

TEST(Theory, Chi1ReluAndLeaky) {
  const ActivationSpec relu = spec_of(Activation::relu);
  ActivationSpec leaky = spec_of(Activation::leaky_relu);
  leaky.slope = 0.2;
  for (double sw2 : {0.5, 1.0, 2.0, 3.0}) {
    for (double sb2 : {0.0, 0.1, 1.0}) {
      const double qs = theory_q_star(relu, sw2, sb2);
      EXPECT_NEAR(theory_chi(relu, sw2, qs), sw2 / 2, 1e-12 * sw2) << sw2 << " " << sb2;
      const double ql = theory_q_star(leaky, sw2, sb2);
      EXPECT_NEAR(theory_chi(leaky, sw2, ql), sw2 * (1 + 0.04) / 2, 1e-12 * sw2)
          << sw2 << " " << sb2;
      // Closed form of q*: V(q) = σ_w² q/2 + σ_b².
      if (sw2 < 2) {
        EXPECT_NEAR(qs, sb2 / (1 - sw2 / 2), 1e-12 * (1 + qs));
      }
    }
  }
  const TheoryFixed t = theory_fixed(relu, 1.0, 0.1);
  EXPECT_NEAR(t.chi1, 0.5, 1e-12);
  EXPECT_NEAR(t.xi_grad, 1 / std::log(2.0), 1e-10);
  EXPECT_NEAR(t.sigma_w2_crit, 2.0, 1e-10);
  EXPECT_EQ(t.c_star, 1.0);
  EXPECT_NEAR(t.xi_c, t.xi_grad, 1e-10);
  EXPECT_NEAR(t.xi_q, -1 / std::log(0.5), 1e-10);  // V′ = σ_w²/2
}

TEST(Theory, ReluDivergenceAndMarginalMap) {
  const ActivationSpec relu = spec_of(Activation::relu);
  EXPECT_EQ(theory_q_star(relu, 3.0, 0.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(theory_q_star(relu, 2.0, 0.1), std::numeric_limits<double>::infinity());
  // He with σ_b² = 0: V(q) ≡ q, every q is fixed; q* is where the iteration starts.
  EXPECT_DOUBLE_EQ(theory_q_star(relu, 2.0, 0.0, 0.37), 0.37);
  EXPECT_EQ(theory_q_star(relu, 1.5, 0.0), 0.0);
  const TheoryFixed t = theory_fixed(relu, 3.0, 0.0);
  EXPECT_TRUE(std::isinf(t.q_star));
  EXPECT_NEAR(t.chi1, 1.5, 1e-12);
  EXPECT_NEAR(t.xi_grad, -1 / std::log(1.5), 1e-10);  // negative: growth
  EXPECT_TRUE(std::isnan(t.xi_q));
  EXPECT_TRUE(std::isnan(t.xi_c));
  const TheoryFixed he = theory_fixed(relu, 2.0, 0.0);
  EXPECT_DOUBLE_EQ(he.q_star, 1.0);
  EXPECT_NEAR(he.chi1, 1.0, 1e-14);
  EXPECT_TRUE(std::isinf(he.xi_grad) && he.xi_grad > 0);
  EXPECT_TRUE(std::isinf(he.xi_q));
  EXPECT_TRUE(std::isinf(he.xi_c));
}

TEST(Theory, TanhCriticalPoint) {
  const ActivationSpec th = spec_of(Activation::tanh);
  const TheoryFixed t = theory_fixed(th, 1.0, 0.0);
  EXPECT_EQ(t.q_star, 0.0);
  EXPECT_NEAR(t.chi1, 1.0, 1e-12);
  EXPECT_TRUE(std::isinf(t.xi_grad));
  EXPECT_TRUE(std::isinf(t.xi_c));
  EXPECT_TRUE(std::isinf(t.xi_q));
  EXPECT_NEAR(t.sigma_w2_crit, 1.0, 1e-8);
  EXPECT_EQ(theory_q_star(th, 0.8, 0.0), 0.0);
  EXPECT_NEAR(theory_chi(th, 0.8, 0.0), 0.8, 1e-14);  // the q → 0 limit
  // σ_b² > 0 moves the critical line to σ_w² > 1; χ₁ is 1 there.
  const double crit = theory_sigma_w2_crit(th, 0.05);
  EXPECT_GT(crit, 1.0);
  EXPECT_LT(crit, 3.0);
  EXPECT_NEAR(theory_chi(th, crit, theory_q_star(th, crit, 0.05)), 1.0, 1e-9);
  // σ_w² > 1 with σ_b² = 0: q* > 0 and chaotic, reached from any q_start > 0 (0 is unstable);
  // from q_start = 0 exactly, z ≡ 0 stays 0.
  const double qs = theory_q_star(th, 1.5, 0.0);
  EXPECT_GT(qs, 0.1);
  EXPECT_GT(theory_chi(th, 1.5, qs), 1.0);
  EXPECT_NEAR(theory_q_star(th, 1.5, 0.0, 1e-30), qs, 1e-13);
  EXPECT_NEAR(theory_q_star(th, 1.5, 0.0, 1e6), qs, 1e-13);
  EXPECT_EQ(theory_q_star(th, 1.5, 0.0, 0.0), 0.0);
  EXPECT_EQ(theory_q_star(th, 0.8, 0.0, 1e6), 0.0);
}

TEST(Theory, SeluSelfNormalizes) {
  const ActivationSpec f = spec_of(Activation::selu);
  const double q = theory_q_star(f, 1.0, 0.0);
  EXPECT_NEAR(q, 1.0, 1e-6);
  // E[selu′(z)²] = λ²(P(z > 0) + α² E[e^{2z}; z < 0]) = λ²(½ + α² e² Φ(−2)).
  const double chi =
      selu_lambda * selu_lambda * (0.5 + selu_alpha * selu_alpha * std::exp(2.0) * cdf(-2.0));
  EXPECT_NEAR(chi, 1.0716, 1e-4);
  EXPECT_NEAR(theory_chi(f, 1.0, q), chi, 1e-9);
  EXPECT_NEAR(theory_fixed(f, 1.0, 0.0).chi1, chi, 1e-9);
}

TEST(Theory, FixedPointsAreFixedAndReachedByIteration) {
  struct Case {
    Activation a;
    double sw2, sb2;
  };
  for (const Case& k : {Case{Activation::tanh, 1.3, 0.05}, Case{Activation::tanh, 0.6, 0.2},
                        Case{Activation::sigmoid, 4.0, 0.0}, Case{Activation::elu, 1.2, 0.1},
                        Case{Activation::hard_tanh, 2.0, 0.01}, Case{Activation::relu6, 1.5, 0.3},
                        Case{Activation::softplus, 1.0, 0.0}, Case{Activation::gelu, 1.5, 0.1},
                        Case{Activation::swish, 1.8, 0.1}, Case{Activation::binary_step, 2.0, 0.3},
                        Case{Activation::softsign, 2.0, 0.1}, Case{Activation::arctan, 1.5, 0.0}}) {
    const ActivationSpec f = spec_of(k.a);
    const double qs = theory_q_star(f, k.sw2, k.sb2);
    ASSERT_TRUE(std::isfinite(qs)) << activation_name(k.a);
    EXPECT_NEAR(theory_qmap(f, k.sw2, k.sb2, qs), qs, 1e-12 * std::max(qs, 1e-300))
        << activation_name(k.a);
    // Plain iteration from q = 1 ends at the same point (these cases are not near-critical).
    double q = 1;
    for (int i = 0; i < 400; ++i) q = theory_qmap(f, k.sw2, k.sb2, q);
    EXPECT_NEAR(q, qs, 1e-9 * std::max(qs, 1e-12)) << activation_name(k.a);
  }
  // Near criticality the iteration is slow (here 1 − V′(q*) ~ 1e-4) but the root-finder is not.
  const ActivationSpec th = spec_of(Activation::tanh);
  const double qs = theory_q_star(th, 1.0001, 0.0);
  EXPECT_GT(qs, 0);
  EXPECT_NEAR(theory_qmap(th, 1.0001, 0.0, qs), qs, 1e-13 * qs);
  // binary_step: φ² is a step, V ≡ σ_w²/2 + σ_b² (q > 0), χ₁ = 0.
  const TheoryFixed b = theory_fixed(spec_of(Activation::binary_step), 2.0, 0.3);
  EXPECT_NEAR(b.q_star, 1.3, 1e-13);
  EXPECT_EQ(b.chi1, 0.0);
  EXPECT_EQ(b.xi_grad, 0.0);
  EXPECT_EQ(b.xi_q, 0.0);
  EXPECT_TRUE(std::isnan(b.sigma_w2_crit));
}

TEST(Theory, QmapSlopeMatchesFiniteDifference) {
  for (Activation a : {Activation::tanh, Activation::relu6, Activation::hard_tanh, Activation::selu,
                       Activation::softplus, Activation::swish, Activation::sigmoid}) {
    const ActivationSpec f = spec_of(a);
    for (double q : {0.2, 1.0, 9.0, 50.0}) {
      const double h = 1e-5 * q;
      const double fd =
          (theory_qmap(f, 1.7, 0.1, q + h) - theory_qmap(f, 1.7, 0.1, q - h)) / (2 * h);
      EXPECT_NEAR(theory_qmap_slope(f, 1.7, q), fd, 1e-7 * std::max(1.0, std::abs(fd)))
          << activation_name(a) << " q=" << q;
    }
  }
  // tanh: ∂V/∂q = χ + σ_w² E[φ″ φ] (Gaussian integration by parts), φ″ = −2 tanh sech².
  const ActivationSpec th = spec_of(Activation::tanh);
  for (double q : {0.1, 1.0, 5.0}) {
    const double e2 = e_rule(th, q, [](double u) {
      const double t = std::tanh(u), s2 = 1 - t * t;
      return -2 * t * s2 * t;
    });
    EXPECT_TRUE(close(theory_qmap_slope(th, 1.3, q), theory_chi(th, 1.3, q) + 1.3 * e2, 1e-12));
  }
  // The q → 0 limit: σ_w² (φ′(0−)² + φ′(0+)²)/2 when φ(0) = 0.
  EXPECT_NEAR(theory_qmap_slope(spec_of(Activation::relu), 1.2, 0.0), 0.6, 1e-14);
  EXPECT_NEAR(theory_qmap_slope(spec_of(Activation::tanh), 1.2, 0.0), 1.2, 1e-14);
  // sigmoid: φ(0)φ′(0) ≠ 0; V′(q)/σ_w² = E[φ′² + φφ″] = E[1/16 − u/16 − u²/16 + O(u³)]
  // = (1 − q)/16 + O(q²). (Below q ~ 1e-12 φ(u) − φ(0) itself is not resolved in double: the
  // relative error grows as eps/√q.)
  for (double q : {1e-6, 1e-9, 1e-12})
    EXPECT_NEAR(theory_qmap_slope(spec_of(Activation::sigmoid), 1.0, q), (1 - q) / 16, 1e-11) << q;
  const double sl = selu_lambda * selu_lambda * (1 + selu_alpha * selu_alpha) / 2;
  EXPECT_NEAR(theory_qmap_slope(spec_of(Activation::selu), 1.0, 0.0), sl, 1e-13);
}

TEST(Theory, CorrelationFixedPoint) {
  const ActivationSpec th = spec_of(Activation::tanh);
  // Ordered: c* = 1, ξ_c = ξ_∇ = −1/ln χ₁.
  const TheoryFixed o = theory_fixed(th, 0.6, 0.2);
  EXPECT_LT(o.chi1, 1.0);
  EXPECT_EQ(o.c_star, 1.0);
  EXPECT_NEAR(o.xi_c, -1 / std::log(o.chi1), 1e-10);
  EXPECT_NEAR(o.xi_grad, o.xi_c, 1e-12);
  EXPECT_GT(o.xi_q, 0.0);
  // Chaotic, σ_b² = 0 (odd φ): c* = 0, where E[φ′(u1) φ′(u2)] = E[φ′]².
  const TheoryFixed z = theory_fixed(th, 2.0, 0.0);
  EXPECT_GT(z.chi1, 1.0);
  EXPECT_LT(z.xi_grad, 0.0);
  EXPECT_NEAR(z.c_star, 0.0, 1e-12);
  const double m = e_rule(th, z.q_star, [&](double u) { return activation_deriv(th, u); });
  EXPECT_NEAR(z.xi_c, -1 / std::log(2.0 * m * m), 1e-8);
  // Chaotic with σ_b² > 0: 0 < c* < 1, C(c*) = c*, and it is stable (ξ_c > 0).
  for (double sw2 : {3.0, 4.0}) {
    const TheoryFixed c = theory_fixed(th, sw2, 0.3);
    EXPECT_GT(c.chi1, 1.0);
    EXPECT_GT(c.c_star, 0.0);
    EXPECT_LT(c.c_star, 1.0);
    EXPECT_NEAR(theory_cmap(th, sw2, 0.3, c.q_star, c.c_star), c.c_star, 1e-12);
    EXPECT_GT(c.xi_c, 0.0);
    EXPECT_NEAR(theory_cmap(th, sw2, 0.3, c.q_star, 1.0), 1.0, 1e-12);  // C(1) = V(q*)/q* = 1
  }
  // The ordered side of the same σ_b²: the critical σ_w² lies between.
  const double crit = theory_sigma_w2_crit(th, 0.3);
  EXPECT_GT(crit, 2.5);
  EXPECT_LT(crit, 3.0);
  // Every chaotic c* is a fixed point of C, stable (C′(c*) = σ_w² E[φ′φ′] < 1), with G = C − c
  // positive below it and negative above it. SELU at (1, 0) is chaotic (χ₁ ≈ 1.07) with c* = 0
  // (E[selu] = 0 at q = 1, and σ_b² = 0).
  struct Case {
    Activation a;
    double sw2, sb2;
  };
  for (const Case& k : {Case{Activation::hard_tanh, 2.0, 0.1}, Case{Activation::arctan, 2.0, 0.1},
                        Case{Activation::selu, 1.0, 0.0}, Case{Activation::tanh, 2.0, 0.1},
                        Case{Activation::relu6, 3.0, 0.5}}) {
    const ActivationSpec f = spec_of(k.a);
    const TheoryFixed t = theory_fixed(f, k.sw2, k.sb2);
    ASSERT_GT(t.chi1, 1.0) << activation_name(k.a);
    ASSERT_LT(t.c_star, 1.0) << activation_name(k.a);
    EXPECT_NEAR(theory_cmap(f, k.sw2, k.sb2, t.q_star, t.c_star), t.c_star, 1e-12)
        << activation_name(k.a);
    auto dphi = [&f](double u) { return activation_deriv(f, u); };
    const double slope = k.sw2 * gauss_expect2(f, t.q_star, t.q_star, t.c_star, dphi, dphi);
    EXPECT_LT(slope, 1.0) << activation_name(k.a);
    EXPECT_NEAR(t.xi_c, -1 / std::log(slope), 1e-9 * t.xi_c) << activation_name(k.a);
    const double above = 0.5 * (1 + t.c_star);
    EXPECT_LT(theory_cmap(f, k.sw2, k.sb2, t.q_star, above), above) << activation_name(k.a);
    if (t.c_star > 1e-9) {
      const double below = 0.5 * t.c_star;
      EXPECT_GT(theory_cmap(f, k.sw2, k.sb2, t.q_star, below), below) << activation_name(k.a);
    }
  }
  // Critical tanh: c* = 1 (not the chaotic search), ξ_c = +inf.
  EXPECT_EQ(theory_c_star(th, 1.0, 0.0, 0.0), 1.0);
  // SELU at (1, 0) is slightly chaotic (χ₁ ≈ 1.07).
  const TheoryFixed s = theory_fixed(spec_of(Activation::selu), 1.0, 0.0);
  EXPECT_LT(s.c_star, 1.0);
  EXPECT_GT(s.xi_c, 0.0);
  EXPECT_LT(s.xi_grad, 0.0);
}

TEST(Theory, DepthScale) {
  EXPECT_NEAR(depth_scale(0.5), 1 / std::log(2.0), 1e-15);
  EXPECT_NEAR(depth_scale(2.0), -1 / std::log(2.0), 1e-15);
  EXPECT_TRUE(std::isinf(depth_scale(1.0)));
  EXPECT_TRUE(std::isinf(depth_scale(1 + 1e-14)));
  EXPECT_EQ(depth_scale(0.0), 0.0);
  EXPECT_TRUE(std::isnan(depth_scale(-1.0)));
  EXPECT_TRUE(std::isnan(depth_scale(std::nan(""))));
}

// ---- per layer ----

TEST(Theory, LayersLinearAndHe) {
  TheoryInput in;
  in.act = spec_of(Activation::identity);
  in.q0 = 0.7;
  in.sigma_w2.assign(6, 1.0);
  in.sigma_b2.assign(6, 0.0);
  TheoryLayers t = theory_layers(in);
  ASSERT_EQ(t.q.size(), 6u);
  ASSERT_EQ(t.chi.size(), 5u);
  for (double q : t.q) EXPECT_NEAR(q, 0.7, 1e-14);
  for (double c : t.chi) EXPECT_NEAR(c, 1.0, 1e-14);

  // ReLU + He (σ_w² = 2), σ_b² = b: q_1 = 2 q0 + b, q_l = q_{l−1} + b; χ_l = 1.
  in.act = spec_of(Activation::relu);
  in.sigma_w2.assign(6, 2.0);
  in.sigma_b2.assign(6, 0.05);
  t = theory_layers(in);
  for (size_t l = 0; l < t.q.size(); ++l)
    EXPECT_NEAR(t.q[l], 2 * 0.7 + 0.05 * static_cast<double>(l + 1), 1e-13) << l;
  for (double c : t.chi) EXPECT_NEAR(c, 1.0, 1e-14);

  // No hidden layer: q of the output only.
  in.sigma_w2 = {2.0};
  in.sigma_b2 = {0.0};
  t = theory_layers(in);
  EXPECT_EQ(t.q.size(), 1u);
  EXPECT_TRUE(t.chi.empty());
}

TEST(Theory, LayersUseTheNextLayersSigma) {
  // Different σ_w² per layer (varying widths): χ_l = σ²_w,l+1 E[φ′(√q_l z)²].
  TheoryInput in;
  in.act = spec_of(Activation::relu);
  in.q0 = 1.3;
  in.sigma_w2 = {1.0, 3.0, 0.5, 2.2};
  in.sigma_b2 = {0.1, 0.0, 0.2, 0.0};
  TheoryLayers t = theory_layers(in);
  EXPECT_NEAR(t.chi[0], 1.5, 1e-14);
  EXPECT_NEAR(t.chi[1], 0.25, 1e-14);
  EXPECT_NEAR(t.chi[2], 1.1, 1e-14);
  EXPECT_NEAR(t.q[0], 1.3 + 0.1, 1e-14);
  EXPECT_NEAR(t.q[1], 3.0 * t.q[0] / 2, 1e-13);
  EXPECT_NEAR(t.q[2], 0.5 * t.q[1] / 2 + 0.2, 1e-13);
  EXPECT_NEAR(t.q[3], 2.2 * t.q[2] / 2, 1e-13);

  in.act = spec_of(Activation::tanh);
  t = theory_layers(in);
  for (size_t l = 0; l < 3; ++l) {
    const double e = e_rule(in.act, t.q[l], [](double u) {
      const double s = 1 / std::cosh(u);
      return s * s * s * s;
    });
    EXPECT_TRUE(close(t.chi[l], in.sigma_w2[l + 1] * e, 1e-12)) << l;
  }
}

TEST(Theory, InputsAndApplicability) {
  EXPECT_FALSE(theory_applies(spec_of(Activation::maxout)));
  for (int k = 0; k < activation_count; ++k)
    if (static_cast<Activation>(k) != Activation::maxout) {
      EXPECT_TRUE(theory_applies(spec_of(static_cast<Activation>(k))));
    }
  TheoryInput in;
  in.act = spec_of(Activation::maxout);
  in.sigma_w2 = {1.0, 1.0};
  in.sigma_b2 = {0.0, 0.0};
  EXPECT_THROW(theory_layers(in), std::invalid_argument);
  EXPECT_THROW(theory_fixed(in.act, 1.0, 0.0), std::invalid_argument);
  in.act = spec_of(Activation::tanh);
  in.sigma_b2 = {0.0};
  EXPECT_THROW(theory_layers(in), std::invalid_argument);
  in.sigma_b2 = {0.0, -1.0};
  EXPECT_THROW(theory_layers(in), std::invalid_argument);
  in.sigma_b2 = {0.0, 0.0};
  in.q0 = std::nan("");
  EXPECT_THROW(theory_layers(in), std::invalid_argument);
}

TEST(Theory, TableText) {
  TheoryLayers t;
  t.q = {1.0, 0.5, 0.25};
  t.chi = {0.9, 0.8};
  const std::string s = theory_table(t);
  EXPECT_NE(s.find("layer"), std::string::npos);
  EXPECT_NE(s.find("chi"), std::string::npos);
  EXPECT_NE(s.find("9.000000e-01"), std::string::npos);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 4);
  EXPECT_EQ(s.substr(s.size() - 2), "-\n");
  TheoryFixed f;
  f.q_star = std::numeric_limits<double>::infinity();
  f.xi_q = std::nan("");
  const std::string ft = theory_fixed_text(f);
  EXPECT_NE(ft.find("q_star        = inf"), std::string::npos);
  EXPECT_NE(ft.find("xi_q          = nan"), std::string::npos);
}
