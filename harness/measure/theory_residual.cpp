#include "harness/measure/theory_residual.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

#include "harness/measure/theory.h"

namespace gl {

namespace {

bool valid(double v) { return std::isfinite(v) && v >= 0; }

void residual_check(const ResidualTheoryInput& in) {
  (void)theory_chi(in.act, 1.0, 1.0);  // throws where mean-field theory does not apply
  if (in.k != 1 && in.k != 2)
    throw std::invalid_argument(fmt::format("theory_residual: k must be 1 or 2, found {}", in.k));
  if (in.blocks < 1)
    throw std::invalid_argument(
        fmt::format("theory_residual: blocks must be >= 1, found {}", in.blocks));
  const size_t layers = static_cast<size_t>(in.k) * static_cast<size_t>(in.blocks);
  for (const std::vector<double>* s : {&in.sigma_w2, &in.sigma_b2}) {
    if (s->size() != 1 && s->size() != layers)
      throw std::invalid_argument(fmt::format(
          "theory_residual: sigma_w2, sigma_b2 need 1 or k*blocks = {} entries, found {}", layers,
          s->size()));
    for (double v : *s)
      if (!valid(v))
        throw std::invalid_argument("theory_residual: sigma_w2, sigma_b2 must be finite and >= 0");
  }
  if (!valid(in.alpha) || !valid(in.q1))
    throw std::invalid_argument("theory_residual: alpha and q1 must be finite and >= 0");
}

// The value of a per-branch-layer list at index i (one value stands for all).
double branch_at(const std::vector<double>& v, size_t i) { return v.size() == 1 ? v[0] : v[i]; }

}  // namespace

TheoryResidual theory_residual(const ResidualTheoryInput& in) {
  residual_check(in);
  const size_t L = static_cast<size_t>(in.blocks), k = static_cast<size_t>(in.k);
  const double a2 = in.alpha * in.alpha;
  TheoryResidual t;
  t.q.resize(L + 1);
  t.factor.resize(L);
  t.branch_q.resize(k * L);
  t.branch_chi.resize(k * L);
  t.q[0] = in.q1;
  for (size_t l = 0; l < L; ++l) {
    // Forward through the branch: z_{l,j} has mean square V_j(mean square of its input).
    double q_in = t.q[l];
    for (size_t j = 0; j < k; ++j) {
      const size_t i = l * k + j;
      t.branch_q[i] =
          theory_qmap(in.act, branch_at(in.sigma_w2, i), branch_at(in.sigma_b2, i), q_in);
      q_in = t.branch_q[i];
    }
    t.q[l + 1] = a2 == 0 ? t.q[l] : t.q[l] + a2 * q_in;  // α = 0: no 0·inf
    // Backward: ∂ℓ/∂z_{l,k} = α ∂ℓ/∂h_{l+1}; each earlier branch layer j gets the plain χ of its
    // z through W_{l,j+1}; the stream adds the branch path σ_w,1² μ(q_l) on top of the identity.
    t.branch_chi[l * k + k - 1] = a2;
    double branch = a2;  // E‖∂ℓ/∂z_{l,j}‖² / E‖∂ℓ/∂h_{l+1}‖², j from k down to 1
    for (size_t j = k - 1; j-- > 0;) {
      const size_t i = l * k + j;
      t.branch_chi[i] = theory_chi(in.act, branch_at(in.sigma_w2, i + 1), t.branch_q[i]);
      branch *= t.branch_chi[i];
    }
    t.factor[l] = 1 + branch * theory_chi(in.act, branch_at(in.sigma_w2, l * k), t.q[l]);
  }
  return t;
}

double theory_residual_growth(const TheoryResidual& t) {
  double g = 1;
  for (double f : t.factor) g *= f;
  return g;
}

double theory_batchnorm_rate(const ActivationSpec& f) {
  const double mu = theory_chi(f, 1.0, 1.0);  // E[φ′(u)²]; throws for maxout
  const GaussRule r = gauss_rule(f, 1.0);
  const double m = gauss_expect(r, [&](double u) { return activation_value(f, u); });
  const double m2 =
      gauss_expect(r, [&](double u) { return activation_value(f, u) * activation_value(f, u); });
  const double var = m2 - m * m;
  return var > 0 ? mu / var : std::numeric_limits<double>::infinity();
}

}  // namespace gl
