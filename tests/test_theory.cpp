// Mean-field theory (docs/reference.md §4.3): Gaussian expectations against closed forms and
// independent composite-Simpson integrals (tests/theory_test_util.h). The per-layer maps, fixed
// points, depth scales and critical σ_w² are in test_theory_fixed_points.cpp.
#include <gtest/gtest.h>

#include "tests/theory_test_util.h"

using namespace gl;

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
