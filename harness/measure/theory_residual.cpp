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

// Relative E‖δ‖² of every row, from the output's (1) down: the last stream value gets
// σ_w,out² (a fresh Wᵀ), each block multiplies it by its factor, a block's last layer gets α²
// times the stream's above it, and a k = 2 block's first layer its branch χ times the second's.
TheoryLayers theory_residual_layers(const TheoryInput& in) {
  const size_t n = in.sigma_w2.size(), L = n - 1;  // n = L + 1 weight layers
  const int k = in.residual_block;
  if (n < 2 || in.sigma_b2.size() != n || k < 1 || (L - 1) % static_cast<size_t>(k) != 0 ||
      L < 1 + static_cast<size_t>(k) || !(in.residual_alpha > 0))
    throw std::invalid_argument(
        "theory_residual_layers: needs L - 1 = k·blocks >= k, matching sigma sizes and alpha > 0");
  const size_t kk = static_cast<size_t>(k), blocks = (L - 1) / kk;
  ResidualTheoryInput rin;
  rin.act = in.act;
  rin.k = k;
  rin.blocks = static_cast<int>(blocks);
  rin.alpha = in.residual_alpha;
  rin.sigma_w2.assign(in.sigma_w2.begin() + 1, in.sigma_w2.end() - 1);
  rin.sigma_b2.assign(in.sigma_b2.begin() + 1, in.sigma_b2.end() - 1);
  rin.q1 = in.sigma_w2[0] * in.q0 + in.sigma_b2[0];
  const TheoryResidual t = theory_residual(rin);
  TheoryLayers out;
  out.q.resize(n);
  out.q[0] = rin.q1;
  for (size_t l = 1; l < L; ++l) out.q[l] = t.branch_q[l - 1];
  out.q[L] = in.sigma_w2[L] * t.q.back() + in.sigma_b2[L];
  std::vector<double> d(n);
  d[L] = 1.0;
  double stream = in.sigma_w2[L];  // E‖∂ℓ/∂h_{blocks+1}‖²
  const double a2 = in.residual_alpha * in.residual_alpha;
  for (size_t b = blocks; b-- > 0;) {
    const size_t last = (b + 1) * kk;
    d[last] = a2 * stream;
    if (kk == 2) d[last - 1] = d[last] * t.branch_chi[last - 2];
    stream *= t.factor[b];
  }
  d[0] = stream;
  out.chi.resize(L);
  for (size_t l = 0; l < L; ++l) out.chi[l] = d[l] / d[l + 1];
  return out;
}

}  // namespace gl
