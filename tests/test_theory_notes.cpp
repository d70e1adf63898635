// The notes of theory_fixed: where q*, χ₁, a depth scale, c* or the critical σ_w² is not a finite
// number, the reason is derived from the step that found it, and the text output gives it in
// words instead of inf/nan. Every case here has its answer in closed form.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <regex>
#include <string>

#include "tests/theory_test_util.h"

namespace gl {
namespace {

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// No inf or nan printed as a value in the text output ("= infinite: ..." is words).
void expect_no_raw_nonfinite(const std::string& text) {
  EXPECT_FALSE(std::regex_search(text, std::regex("= -?(inf|nan)\\b"))) << text;
}

TEST(TheoryNotes, ReluAboveHeDiverges) {
  // ReLU, σ_w² = 3, σ_b² = 0: V(q) = 1.5 q, so q_l = 1.5^l q0 grows without bound.
  const TheoryFixed t = theory_fixed(spec_of(Activation::relu), 3.0, 0.0, 1.0);
  EXPECT_TRUE(std::isinf(t.q_star));
  EXPECT_TRUE(has(t.notes.q_star, "no finite fixed point")) << t.notes.q_star;
  EXPECT_TRUE(has(t.notes.q_star, "1.5*q + 0")) << t.notes.q_star;
  EXPECT_TRUE(has(t.notes.q_star, "x1.5 per layer")) << t.notes.q_star;
  EXPECT_NEAR(t.chi1, 1.5, 1e-12);  // ReLU's χ = σ_w²/2 at every q, so also in the q → ∞ limit
  EXPECT_TRUE(has(t.notes.chi1, "the q -> infinity limit"));
  EXPECT_NEAR(t.xi_grad, -1 / std::log(1.5), 1e-10);
  EXPECT_TRUE(t.notes.xi_grad.empty());
  EXPECT_TRUE(std::isnan(t.xi_q) && std::isnan(t.xi_c) && std::isnan(t.c_star));
  for (const std::string* n : {&t.notes.xi_q, &t.notes.xi_c, &t.notes.c_star})
    EXPECT_TRUE(has(*n, "no finite q* (see q_star)")) << *n;
  EXPECT_NEAR(t.sigma_w2_crit, 2.0, 1e-10);
  EXPECT_TRUE(t.notes.sigma_w2_crit.empty());

  const std::string text = theory_fixed_text(t);
  expect_no_raw_nonfinite(text);
  EXPECT_TRUE(has(text, "q_star        = none: no finite fixed point: V(q) = 1.5*q + 0")) << text;
  EXPECT_TRUE(has(text, "c_star        = none: no finite q*")) << text;
  EXPECT_TRUE(has(text,
                  "xi_grad       = -2.4663  (negative: chi1 > 1, E||delta_l||^2 grows "
                  "e-fold every 2.47 layers towards the input)"))
      << text;
  EXPECT_EQ(theory_notes_list(t.notes).size(), 5u);  // q_star, chi1, xi_q, xi_c, c_star
}

TEST(TheoryNotes, ReluHeWithoutBiasIsCritical) {
  // ReLU, σ_w² = 2, σ_b² = 0: V(q) = q (every q is a fixed point) and χ₁ = 1 exactly, so ξ_∇ and
  // ξ_q are infinite; q* is the starting q.
  const TheoryFixed t = theory_fixed(spec_of(Activation::relu), 2.0, 0.0, 0.7);
  EXPECT_EQ(t.q_star, 0.7);
  EXPECT_TRUE(has(t.notes.q_star, "every q is a fixed point"));
  EXPECT_NEAR(t.chi1, 1.0, 1e-14);
  EXPECT_TRUE(std::isinf(t.xi_grad) && t.xi_grad > 0);
  EXPECT_TRUE(has(t.notes.xi_grad, "chi1 = 1 (to 1e-12)")) << t.notes.xi_grad;
  EXPECT_TRUE(has(t.notes.xi_grad, "E||delta_l||^2 neither shrinks nor grows exponentially"));
  EXPECT_TRUE(std::isinf(t.xi_q));
  EXPECT_TRUE(has(t.notes.xi_q, "dV/dq at q* = 1")) << t.notes.xi_q;
  EXPECT_EQ(t.c_star, 1.0);
  const std::string text = theory_fixed_text(t);
  expect_no_raw_nonfinite(text);
  EXPECT_TRUE(has(text, "xi_grad       = infinite: chi1 = 1")) << text;
  EXPECT_TRUE(has(text, "q_star        = 0.7  (V(q) = q: every q is a fixed point")) << text;
}

TEST(TheoryNotes, Identity) {
  // Linear φ: V(q) = σ_w² q + σ_b², χ₁ = σ_w² at every q, σ_w²_crit = 1.
  const ActivationSpec id = spec_of(Activation::identity);
  const TheoryFixed grow = theory_fixed(id, 1.5, 0.0, 1.0);
  EXPECT_TRUE(std::isinf(grow.q_star));
  EXPECT_TRUE(has(grow.notes.q_star, "V(q) = 1.5*q + 0 (slope sigma_w2*E[phi(z)^2] = 1.5 > 1)"))
      << grow.notes.q_star;
  EXPECT_NEAR(grow.chi1, 1.5, 1e-12);
  EXPECT_NEAR(grow.sigma_w2_crit, 1.0, 1e-10);

  // Slope exactly 1 with a bias: q_l = q_1 + (l − 1) σ_b², no fixed point, growth by σ_b².
  const TheoryFixed drift = theory_fixed(id, 1.0, 0.25, 1.0);
  EXPECT_TRUE(std::isinf(drift.q_star));
  EXPECT_TRUE(has(drift.notes.q_star, "grows by sigma_b2 = 0.25 per layer")) << drift.notes.q_star;
  EXPECT_TRUE(std::isinf(drift.xi_grad));  // χ₁ = σ_w² = 1
  EXPECT_TRUE(has(drift.notes.xi_grad, "chi1 = 1"));

  // Below 1: q* = σ_b²/(1 − σ_w²) = 0.5, everything finite, no notes but xi_grad's direction.
  const TheoryFixed shrink = theory_fixed(id, 0.5, 0.25, 1.0);
  EXPECT_NEAR(shrink.q_star, 0.5, 1e-14);
  EXPECT_TRUE(theory_notes_list(shrink.notes).empty());
  const std::string text = theory_fixed_text(shrink);
  EXPECT_TRUE(has(text, "(chi1 < 1: E||delta_l||^2 shrinks e-fold every 1.44 layers")) << text;
}

TEST(TheoryNotes, BoundedActivationsWithFiniteFixedPoint) {
  // binary_step: E[φ(√q z)²] = ½ for q > 0, so q* = σ_w²/2 + σ_b²; φ′ = 0 almost everywhere, so
  // χ₁ = 0 for every σ_w²: ξ_∇ = 0 and no σ_w² is critical.
  const TheoryFixed b = theory_fixed(spec_of(Activation::binary_step), 2.0, 0.3, 1.0);
  EXPECT_NEAR(b.q_star, 1.3, 1e-13);
  EXPECT_TRUE(b.notes.q_star.empty());
  EXPECT_EQ(b.xi_grad, 0.0);
  EXPECT_TRUE(has(b.notes.xi_grad, "chi1 = 0: E||delta_l||^2 is 0 after one layer"));
  EXPECT_TRUE(std::isnan(b.sigma_w2_crit));
  EXPECT_EQ(b.notes.sigma_w2_crit,
            "no sigma_w2 puts chi1 at 1: chi1 = 0 for every sigma_w2 (phi' = 0 almost everywhere)");
  const std::string text = theory_fixed_text(b);
  expect_no_raw_nonfinite(text);
  EXPECT_TRUE(has(text, "sigma_w2_crit = none: no sigma_w2 puts chi1 at 1")) << text;

  // tanh, ordered phase: a finite q* (V(q*) = q*), χ₁ < 1, every field an ordinary number.
  const ActivationSpec th = spec_of(Activation::tanh);
  const TheoryFixed t = theory_fixed(th, 1.0, 0.05, 1.0);
  EXPECT_TRUE(std::isfinite(t.q_star) && t.q_star > 0);
  EXPECT_NEAR(theory_qmap(th, 1.0, 0.05, t.q_star), t.q_star, 1e-12 * t.q_star);
  EXPECT_LT(t.chi1, 1.0);
  EXPECT_TRUE(theory_notes_list(t.notes).empty());

  // sigmoid with a huge bias variance: φ′ ≤ ¼ and q* ~ σ_b², so χ₁ stays below 1 up to σ_w² = 100;
  // the note quotes χ₁ there.
  const ActivationSpec sg = spec_of(Activation::sigmoid);
  const TheoryFixed s = theory_fixed(sg, 1.0, 1e6, 1.0);
  EXPECT_TRUE(std::isnan(s.sigma_w2_crit));
  const double chi100 = theory_chi(sg, 100, theory_q_star(sg, 100, 1e6, 1.0));
  EXPECT_LT(chi100, 1.0);
  EXPECT_EQ(s.notes.sigma_w2_crit,
            fmt::format("no sigma_w2 in (0, 100] puts chi1 at 1 for this activation and "
                        "sigma_b2 = 1e+06: chi1 is still {:.6g} at sigma_w2 = 100",
                        chi100));
}

TEST(TheoryNotes, TableSaysOverflow) {
  TheoryLayers t;
  t.q = {1.0, std::numeric_limits<double>::infinity()};
  t.chi = {1.5};
  const std::string s = theory_table(t);
  EXPECT_TRUE(has(s, "overflow")) << s;
  EXPECT_FALSE(has(s, "inf")) << s;
}

}  // namespace
}  // namespace gl
