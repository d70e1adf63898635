// Every activation: derivative vs central differences, stability for |z| up to 1e4, matrix form
// equal to the scalar form, left derivatives at the kinks, sup|φ′|, and the documented constants.
// Loops over the table (harness/nn/activations.h), so a new activation is tested without editing
// this file.
#include <gtest/gtest.h>

#include <cmath>

#include "harness/nn/activations.h"

using namespace gl;

static ActivationSpec spec_of(Activation a) {
  ActivationSpec s;
  s.kind = a;
  if (a == Activation::prelu) s.slope = 0.25;
  return s;
}

static const double kPoints[] = {-7.3, -3.1, -1.7, -0.93, -0.41, -0.05, 0.03,
                                 0.37, 0.88, 1.6,  2.9,   5.4,   6.8,   11.0};

// Distance from z to the activation's nearest kink.
static double kink_distance(const ActivationSpec& f, double z) {
  double d = INFINITY;
  for (double k : activation_info(f.kind).kinks) d = std::min(d, std::abs(z - k));
  return d;
}

TEST(Activations, DerivativeMatchesCentralDifference) {
  for (int k = 0; k < activation_count; ++k) {
    const ActivationSpec f = spec_of(static_cast<Activation>(k));
    int tested = 0;
    for (double z : kPoints) {
      if (kink_distance(f, z) < 1e-3) continue;  // the FD step would straddle the kink
      ++tested;
      const double h = 1e-6;
      const double fd = (activation_value(f, z + h) - activation_value(f, z - h)) / (2 * h);
      const double an = activation_deriv(f, z);
      EXPECT_NEAR(an, fd, 1e-7 * std::max(1.0, std::abs(fd)))
          << activation_name(f.kind) << " at z=" << z;
    }
    EXPECT_GE(tested, 10) << activation_name(f.kind);
  }
}

TEST(Activations, StableForHugeInputs) {
  for (int k = 0; k < activation_count; ++k) {
    const ActivationSpec f = spec_of(static_cast<Activation>(k));
    for (double z : {-1e4, -800.0, -100.0, 100.0, 800.0, 1e4}) {
      EXPECT_TRUE(std::isfinite(activation_value(f, z))) << activation_name(f.kind) << " " << z;
      EXPECT_TRUE(std::isfinite(activation_deriv(f, z))) << activation_name(f.kind) << " " << z;
      EXPECT_TRUE(std::isfinite(activation_value(f, static_cast<float>(z))))
          << activation_name(f.kind) << " float " << z;
      EXPECT_TRUE(std::isfinite(activation_deriv(f, static_cast<float>(z))))
          << activation_name(f.kind) << " float " << z;
    }
  }
  ActivationSpec s;
  s.kind = Activation::sigmoid;
  EXPECT_EQ(activation_value(s, -1e4), 0.0);
  EXPECT_EQ(activation_value(s, 1e4), 1.0);
  s.kind = Activation::softplus;
  EXPECT_DOUBLE_EQ(activation_value(s, 1e4), 1e4);
  EXPECT_EQ(activation_value(s, -1e4), 0.0);
  // Deep saturation keeps relative precision: tanh'(20) = 4e^{-40}/(1+e^{-40})².
  s.kind = Activation::tanh;
  EXPECT_NEAR(activation_deriv(s, 20.0) / (4 * std::exp(-40.0)), 1.0, 1e-12);
  s.kind = Activation::sigmoid;
  EXPECT_NEAR(activation_deriv(s, -30.0) / std::exp(-30.0), 1.0, 1e-12);
}

TEST(Activations, MatrixFormEqualsScalarForm) {
  for (int k = 0; k < activation_count; ++k) {
    const ActivationSpec f = spec_of(static_cast<Activation>(k));
    Mat<double> z(3, 5);
    int i = 0;
    for (Index c = 0; c < z.cols(); ++c)
      for (Index r = 0; r < z.rows(); ++r) z(r, c) = kPoints[i++ % 14] * (c % 2 ? 1 : -1);
    Mat<double> a(z.rows(), z.cols()), d(z.rows(), z.cols());
    activation_apply<double>(f, z, a, d);
    for (Index c = 0; c < z.cols(); ++c)
      for (Index r = 0; r < z.rows(); ++r) {
        EXPECT_NEAR(a(r, c), activation_value(f, z(r, c)), 1e-14) << activation_name(f.kind);
        EXPECT_NEAR(d(r, c), activation_deriv(f, z(r, c)), 1e-14) << activation_name(f.kind);
      }
  }
}

TEST(Activations, KinksTakeTheLeftDerivative) {
  for (int k = 0; k < activation_count; ++k) {
    const ActivationSpec f = spec_of(static_cast<Activation>(k));
    for (double z : activation_info(f.kind).kinks)
      EXPECT_NEAR(activation_deriv(f, z), activation_deriv(f, z - 1e-9), 1e-6)
          << activation_name(f.kind) << " at its kink " << z;
  }
  ActivationSpec s;
  s.kind = Activation::relu;
  EXPECT_EQ(activation_deriv(s, 0.0), 0.0);
  s.kind = Activation::leaky_relu;
  EXPECT_EQ(activation_deriv(s, 0.0), 0.01);
  s.kind = Activation::relu6;
  EXPECT_EQ(activation_deriv(s, 6.0), 1.0);
  EXPECT_EQ(activation_deriv(s, 0.0), 0.0);
  s.kind = Activation::hard_tanh;
  EXPECT_EQ(activation_deriv(s, 1.0), 1.0);
  EXPECT_EQ(activation_deriv(s, -1.0), 0.0);
  s.kind = Activation::hard_sigmoid;
  EXPECT_EQ(activation_deriv(s, 3.0), 1.0 / 6);
  EXPECT_EQ(activation_deriv(s, -3.0), 0.0);
  s.kind = Activation::binary_step;
  EXPECT_EQ(activation_deriv(s, 0.5), 0.0);
}

// The kinks of the table are where φ′ jumps (or φ″ does, for elu at alpha = 1): the derivative
// either side of every kink differs from the straight line through it, and nowhere else between
// the listed points does φ′ jump.
TEST(Activations, TableKinksAreWherePhiPrimeJumps) {
  for (int k = 0; k < activation_count; ++k) {
    const ActivationSpec f = spec_of(static_cast<Activation>(k));
    if (f.kind == Activation::maxout) continue;  // its kinks are ties between pieces
    for (double z = -8; z <= 8; z += 1e-3) {
      if (kink_distance(f, z) < 2e-3) continue;
      const double jump = std::abs(activation_deriv(f, z + 5e-4) - activation_deriv(f, z - 5e-4));
      EXPECT_LT(jump, 1e-2) << activation_name(f.kind) << ": φ′ jumps at " << z
                            << ", which is not in its kinks";
    }
  }
}

TEST(Activations, DocumentedConstants) {
  ActivationSpec s;
  s.kind = Activation::selu;
  EXPECT_DOUBLE_EQ(activation_value(s, 1.0), 1.0507009873554805);
  EXPECT_NEAR(activation_value(s, -50.0), -1.0507009873554805 * 1.6732632423543772, 1e-15);
  s.kind = Activation::rrelu;
  EXPECT_DOUBLE_EQ(activation_probe_slope(s), 11.0 / 48.0);  // PyTorch: (1/8 + 1/3)/2
  s.convention = RreluConvention::paper;
  EXPECT_DOUBLE_EQ(activation_probe_slope(s), 2.0 / 11.0);  // 1/mean(U(3, 8))
  s = ActivationSpec{};
  s.kind = Activation::gelu;
  EXPECT_NEAR(activation_value(s, 1.0), 0.8413447460685429, 1e-15);  // Φ(1)
  s.kind = Activation::mish;  // tanh(log(1 + e)) and the limits
  EXPECT_NEAR(activation_value(s, 1.0), 0.86509838826731033, 1e-15);
  EXPECT_NEAR(activation_value(s, -40.0) / (-40.0 * std::exp(-40.0)), 1.0, 1e-12);
  EXPECT_EQ(activation_value(s, 800.0), 800.0);
  s.kind = Activation::hard_sigmoid;  // PyTorch's relu6(z + 3)/6
  EXPECT_EQ(activation_value(s, 0.0), 0.5);
  EXPECT_EQ(activation_value(s, -3.0), 0.0);
  EXPECT_EQ(activation_value(s, 3.0), 1.0);
  EXPECT_DOUBLE_EQ(activation_value(s, 1.5), 0.75);
  EXPECT_EQ(activation_from_name("silu"), Activation::swish);
  EXPECT_FALSE(activation_from_name("tahn").has_value());
}

TEST(Activations, SupOfDerivativeIsTheMaximum) {
  for (int k = 0; k < activation_count; ++k) {
    const ActivationSpec f = spec_of(static_cast<Activation>(k));
    double m = 0;  // a fine grid, and the approach to 0 from the left (selu's sup is not attained)
    for (double z = -20; z <= 20; z += 1e-4) m = std::max(m, std::abs(activation_deriv(f, z)));
    m = std::max(m, std::abs(activation_deriv(f, -1e-12)));
    EXPECT_NEAR(activation_sup_deriv(f), m, 1e-8) << activation_name(f.kind);
  }
}
