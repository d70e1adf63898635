// Mean-field fixed points (Poole et al. 2016, Schoenholz et al. 2017): q*, χ₁, the critical
// point, the correlation map, against closed forms and iteration.
#include <gtest/gtest.h>

#include "tests/theory_test_util.h"

using namespace gl;

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
