#include "harness/measure/theory.h"

#include <fmt/format.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace gl {

namespace {

constexpr double inf_v = std::numeric_limits<double>::infinity();
constexpr double nan_d = std::numeric_limits<double>::quiet_NaN();

constexpr double z_max = 10;       // rules cover z ∈ [−10, 10]: ∫_10^∞ z² Dz ≈ 8e-22
constexpr double w_floor = 1e-12;  // narrowest panel next to a break (z units)
constexpr double w_max = 2;        // widest panel (z units); 20-point GL on it: ~1e-24 relative
constexpr double q_tiny = 1e-300;  // q below this is evaluated as q → 0+
constexpr double q_huge = 1e300;   // q above this is evaluated as q → ∞
constexpr double u_inf = 1e300;    // stands for u = ±∞
constexpr int legendre_nodes = 20;
constexpr int hermite_nodes = 20;  // identity: integrands are polynomials of degree ≤ 4

double normal_pdf(double z) { return 0.39894228040143267794 * std::exp(-0.5 * z * z); }

void check_applies(const ActivationSpec& f) {
  if (!theory_applies(f))
    throw std::invalid_argument(
        fmt::format("mean-field theory does not apply to {}", activation_name(f.kind)));
}

// Eigenvalues and first eigenvector components of the symmetric tridiagonal Jacobi matrix of an
// orthogonal-polynomial family: the nodes and (μ0 ·) weights of its Gauss rule. Symmetrized, as
// both families used here are even.
GaussRule golub_welsch(int n, double (*offdiag)(int), double mu0) {
  if (n < 1) throw std::invalid_argument("gauss rule: n < 1");
  Eigen::VectorXd diag = Eigen::VectorXd::Zero(n);
  Eigen::VectorXd sub(std::max(n - 1, 0));
  for (int k = 1; k < n; ++k) sub(k - 1) = offdiag(k);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es;
  es.computeFromTridiagonal(diag, sub, Eigen::ComputeEigenvectors);
  GaussRule r;
  r.x.resize(static_cast<size_t>(n));
  r.w.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const int j = n - 1 - i;
    const double v0 = es.eigenvectors()(0, i), v1 = es.eigenvectors()(0, j);
    r.x[static_cast<size_t>(i)] = 0.5 * (es.eigenvalues()(i) - es.eigenvalues()(j));
    r.w[static_cast<size_t>(i)] = 0.5 * mu0 * (v0 * v0 + v1 * v1);
  }
  return r;
}

// Legendre on [−1, 1]: b_k = k/√(4k²−1), μ0 = 2.
double legendre_offdiag(int k) {
  const double kk = k;
  return kk / std::sqrt(4 * kk * kk - 1);
}
// Probabilists' Hermite: b_k = √k, μ0 = 1 (the weight is the N(0, 1) density).
double hermite_offdiag(int k) { return std::sqrt(static_cast<double>(k)); }

const GaussRule& legendre_rule() {
  static const GaussRule r = golub_welsch(legendre_nodes, legendre_offdiag, 2.0);
  return r;
}

// Points u where φ or φ′ is not smooth (the activation's kinks); 0 is always one (the centre of
// every nonlinearity, and softsign's |u|). The width on which φ varies near them is
// activation_width.
void activation_breaks(const ActivationSpec& f, std::vector<double>& u) {
  u.assign(1, 0.0);
  for (double k : activation_info(f.kind).kinks)
    if (k != 0.0) u.push_back(k);
}
// tanh, sigmoid, swish: poles at distance π/2..π from the real axis; softplus: π/β.
double activation_width(const ActivationSpec& f) {
  return f.kind == Activation::softplus && f.beta > 0 ? 1.0 / f.beta : 1.0;
}

// Edges of panels on [a, b] (a itself already pushed): geometric widths w0, 2w0, .. up to w_max
// away from each graded end, then panels of width ≤ w_max.
void segment_edges(double a, double b, bool grade_a, bool grade_b, double w0,
                   std::vector<double>& e) {
  if (!grade_a && !grade_b) {
    const int n = std::max(1, static_cast<int>(std::ceil((b - a) / w_max)));
    for (int k = 1; k < n; ++k) e.push_back(a + (b - a) * k / n);
    e.push_back(b);
    return;
  }
  const double m = grade_a && grade_b ? 0.5 * (a + b) : (grade_a ? b : a);
  if (grade_a) {
    double x = a, w = w0;
    while (x + w < m) {
      x += w;
      e.push_back(x);
      w = std::min(2 * w, w_max);
    }
    e.push_back(m);
  }
  if (grade_b) {
    const size_t start = e.size();
    double x = b, w = w0;
    while (x - w > m) {
      x -= w;
      e.push_back(x);
      w = std::min(2 * w, w_max);
    }
    std::reverse(e.begin() + static_cast<std::ptrdiff_t>(start), e.end());
    e.push_back(b);
  }
}

// A rule for z ~ N(0, 1) on [−z_max, z_max], split at `breaks` (z units, any order; those outside
// are dropped) and graded towards them from width w0. `edges` is scratch.
void rule_piecewise(std::vector<double>& breaks, double w0, std::vector<double>& edges,
                    GaussRule& r) {
  std::erase_if(breaks, [](double b) { return !(std::abs(b) < z_max); });
  std::sort(breaks.begin(), breaks.end());
  breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());
  edges.assign(1, -z_max);
  double a = -z_max;
  bool grade_a = false;
  for (double b : breaks) {
    segment_edges(a, b, grade_a, true, w0, edges);
    a = b;
    grade_a = true;
  }
  segment_edges(a, z_max, grade_a, false, w0, edges);

  const GaussRule& leg = legendre_rule();
  r.x.clear();
  r.w.clear();
  for (size_t k = 0; k + 1 < edges.size(); ++k) {
    const double half = 0.5 * (edges[k + 1] - edges[k]), mid = 0.5 * (edges[k + 1] + edges[k]);
    if (!(half > 0)) continue;
    for (size_t j = 0; j < leg.x.size(); ++j) {
      const double z = mid + half * leg.x[j];
      r.x.push_back(z);
      r.w.push_back(half * leg.w[j] * normal_pdf(z));
    }
  }
}

// Root of F on [a, b] given F(a), F(b) of opposite signs (or one zero): Brent's method (inverse
// quadratic interpolation, secant, bisection as a safeguard), to |b − a| ≤ 2 eps |b| + tol.
template <class F>
double root_brent(F&& fn, double a, double b, double fa, double fb, double tol) {
  if (fa == 0) return a;
  if (fb == 0) return b;
  double c = a, fc = fa, d = b - a, e = d;
  for (int it = 0; it < 200; ++it) {
    if ((fb > 0) == (fc > 0)) {
      c = a;
      fc = fa;
      d = e = b - a;
    }
    if (std::abs(fc) < std::abs(fb)) {
      a = b;
      b = c;
      c = a;
      fa = fb;
      fb = fc;
      fc = fa;
    }
    const double tol1 = 2 * std::numeric_limits<double>::epsilon() * std::abs(b) + 0.5 * tol;
    const double xm = 0.5 * (c - b);
    if (std::abs(xm) <= tol1 || fb == 0) return b;
    if (std::abs(e) >= tol1 && std::abs(fa) > std::abs(fb)) {
      const double s = fb / fa;
      double p, q;
      if (a == c) {
        p = 2 * xm * s;
        q = 1 - s;
      } else {
        const double qq = fa / fc, r = fb / fc;
        p = s * (2 * xm * qq * (qq - r) - (b - a) * (r - 1));
        q = (qq - 1) * (r - 1) * (s - 1);
      }
      if (p > 0) q = -q;
      p = std::abs(p);
      if (2 * p < std::min(3 * xm * q - std::abs(tol1 * q), std::abs(e * q))) {
        e = d;
        d = p / q;
      } else {
        d = xm;
        e = d;
      }
    } else {
      d = xm;
      e = d;
    }
    a = b;
    fa = fb;
    b += std::abs(d) > tol1 ? d : (xm > 0 ? tol1 : -tol1);
    fb = fn(b);
  }
  return b;
}

double phi2(const ActivationSpec& f, double u) {
  const double a = activation_value(f, u);
  return a * a;
}
double dphi2(const ActivationSpec& f, double u) {
  const double d = activation_deriv(f, u);
  return d * d;
}

}  // namespace

// ---- Gaussian expectations ----

GaussRule gauss_hermite(int n) { return golub_welsch(n, hermite_offdiag, 1.0); }

GaussRule gauss_rule(const ActivationSpec& f, double q) {
  if (!(q >= 0)) throw std::invalid_argument("gauss_rule: q must be >= 0");
  if (q > q_huge) return GaussRule{{-u_inf, u_inf}, {0.5, 0.5}};
  const double s = std::sqrt(std::max(q, q_tiny));
  GaussRule r;
  if (f.kind == Activation::identity) {
    static const GaussRule gh = gauss_hermite(hermite_nodes);
    r = gh;
  } else {
    std::vector<double> breaks, edges;
    activation_breaks(f, breaks);
    for (double& b : breaks) b /= s;
    const double w0 = std::clamp(activation_width(f) / s, w_floor, 1.0);
    rule_piecewise(breaks, w0, edges, r);
  }
  for (double& x : r.x) x *= s;
  return r;
}

double gauss_expect2(const ActivationSpec& f, double q11, double q22, double c,
                     const std::function<double(double)>& g,
                     const std::function<double(double)>& h) {
  if (!(q11 >= 0 && q22 >= 0 && q11 <= q_huge && q22 <= q_huge))
    throw std::invalid_argument("gauss_expect2: q must be in [0, 1e300]");
  if (!(std::abs(c) <= 1 + 1e-12)) throw std::invalid_argument("gauss_expect2: |c| > 1");
  c = std::clamp(c, -1.0, 1.0);
  const double s1 = std::sqrt(std::max(q11, q_tiny)), s2 = std::sqrt(std::max(q22, q_tiny));
  const double sc = std::sqrt((1 - c) * (1 + c));
  const double width = activation_width(f);
  std::vector<double> kinks, breaks, edges;
  activation_breaks(f, kinks);

  // Outer rule over z1: g(s1 z1) has f's breaks at k/s1; H(z1) = E_z2[h(s2 (c z1 + sc z2))] has
  // them at k/(c s2), smoothed over sc/|c| (a kink) or width/(s2 |c|) (a smooth feature).
  double w0 = std::min(1.0, width / s1);
  for (double k : kinks) breaks.push_back(k / s1);
  if (c != 0) {
    for (double k : kinks) breaks.push_back(k / (c * s2));
    const double wh = sc > 0 ? std::min(width / s2, sc) : width / s2;
    w0 = std::min(w0, wh / std::abs(c));
  }
  GaussRule outer, inner;
  rule_piecewise(breaks, std::clamp(w0, w_floor, 1.0), edges, outer);

  double sum = 0;
  if (sc == 0) {
    for (size_t i = 0; i < outer.x.size(); ++i)
      sum += outer.w[i] * g(s1 * outer.x[i]) * h(s2 * c * outer.x[i]);
    return sum;
  }
  // Inner rule over z2 for each z1: h's breaks at (k/s2 − c z1)/sc, width width/(s2 sc).
  const double w_in = std::clamp(width / (s2 * sc), w_floor, 1.0);
  for (size_t i = 0; i < outer.x.size(); ++i) {
    const double z1 = outer.x[i];
    const double gi = g(s1 * z1);
    if (gi == 0) continue;
    breaks.clear();
    for (double k : kinks) breaks.push_back((k / s2 - c * z1) / sc);
    rule_piecewise(breaks, w_in, edges, inner);
    double hs = 0;
    for (size_t j = 0; j < inner.x.size(); ++j)
      hs += inner.w[j] * h(s2 * (c * z1 + sc * inner.x[j]));
    sum += outer.w[i] * gi * hs;
  }
  return sum;
}

// ---- per layer ----

bool theory_applies(const ActivationSpec& f) { return f.kind != Activation::maxout; }

TheoryLayers theory_layers(const TheoryInput& in) {
  if (in.residual_block > 0) return theory_residual_layers(in);
  check_applies(in.act);
  const size_t n = in.sigma_w2.size();  // L + 1
  if (n == 0 || in.sigma_b2.size() != n)
    throw std::invalid_argument("theory_layers: sigma_w2 and sigma_b2 need L+1 >= 1 entries each");
  auto valid = [](double v) { return std::isfinite(v) && v >= 0; };
  if (!valid(in.q0)) throw std::invalid_argument("theory_layers: q0 must be finite and >= 0");
  for (size_t l = 0; l < n; ++l)
    if (!valid(in.sigma_w2[l]) || !valid(in.sigma_b2[l]))
      throw std::invalid_argument("theory_layers: sigma_w2, sigma_b2 must be finite and >= 0");

  TheoryLayers t;
  t.q.resize(n);
  t.chi.resize(n - 1);
  t.q[0] = in.sigma_w2[0] * in.q0 + in.sigma_b2[0];
  for (size_t l = 1; l < n; ++l)
    t.q[l] = theory_qmap(in.act, in.sigma_w2[l], in.sigma_b2[l], t.q[l - 1]);
  for (size_t l = 0; l + 1 < n; ++l) t.chi[l] = theory_chi(in.act, in.sigma_w2[l + 1], t.q[l]);
  return t;
}

// ---- i.i.d. layers ----

double theory_qmap(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q) {
  check_applies(f);
  const GaussRule r = gauss_rule(f, q);
  return sigma_w2 * gauss_expect(r, [&](double u) { return phi2(f, u); }) + sigma_b2;
}

double theory_qmap_slope(const ActivationSpec& f, double sigma_w2, double q) {
  check_applies(f);
  if (q > q_huge) return theory_chi(f, sigma_w2, q);  // V is asymptotically linear
  const GaussRule r = gauss_rule(f, q);
  // ∂/∂q E[φ(√q z)²] = E[φ φ′ z]/√q = E[φ(u) φ′(u) u]/q, u ~ N(0, q). For q < 1, subtracting the
  // constant φ(0)φ′(0) (E[u] = 0) removes an odd part of size √q that would cancel only to
  // rounding; for large q it would add one (φφ′ → 0 in the tails of a saturating φ).
  const double c0 = q < 1 ? activation_value(f, 0.0) * activation_deriv(f, 0.0) : 0.0;
  const double e = gauss_expect(
      r, [&](double u) { return (activation_value(f, u) * activation_deriv(f, u) - c0) * u; });
  return sigma_w2 * e / std::max(q, q_tiny);
}

double theory_chi(const ActivationSpec& f, double sigma_w2, double q) {
  check_applies(f);
  const GaussRule r = gauss_rule(f, q);
  return sigma_w2 * gauss_expect(r, [&](double u) { return dphi2(f, u); });
}

double theory_dphi_moment(const ActivationSpec& f, double q, int k) {
  check_applies(f);
  const GaussRule r = gauss_rule(f, q);
  return gauss_expect(r, [&](double u) { return std::pow(dphi2(f, u), k); });
}

double theory_weight_s1(Init init) { return init == Init::orthogonal ? 0.0 : -1.0; }

double theory_cmap(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q, double c) {
  check_applies(f);
  if (q > q_huge) return nan_d;
  auto phi = [&f](double u) { return activation_value(f, u); };
  return (sigma_w2 * gauss_expect2(f, q, q, c, phi, phi) + sigma_b2) / std::max(q, q_tiny);
}

namespace {

// theory_q_star; *why says, when q* = +inf, which step found that the length map diverges.
double q_star_solve(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q_start,
                    std::string* why) {
  if (!(std::isfinite(sigma_w2) && sigma_w2 >= 0 && std::isfinite(sigma_b2) && sigma_b2 >= 0 &&
        std::isfinite(q_start) && q_start >= 0))
    throw std::invalid_argument("theory_q_star: sigma_w2, sigma_b2, q_start must be finite, >= 0");
  // Positively homogeneous φ: V(q) = σ_w² κ q + σ_b² exactly, κ = E[φ(z)²] = (1 + a²)/2.
  if (f.kind == Activation::identity || f.kind == Activation::relu ||
      f.kind == Activation::leaky_relu || f.kind == Activation::prelu ||
      f.kind == Activation::rrelu) {
    const double a = f.kind == Activation::identity ? 1.0 : activation_probe_slope(f);
    const double slope = sigma_w2 * (1 + a * a) / 2;
    const bool critical = std::abs(slope - 1) <= 1e-14;
    if (critical && sigma_b2 == 0) {
      *why =
          "V(q) = q: every q is a fixed point (q_l keeps its starting value); the one shown is the "
          "starting q";
      return q_start;
    }
    if (!critical && slope < 1) return sigma_b2 / (1 - slope);
    if (!critical && sigma_b2 == 0 && q_start == 0) return 0.0;
    *why = critical ? fmt::format(
                          "no finite fixed point: V(q) = q + sigma_b2 (slope sigma_w2*E[phi(z)^2] "
                          "= 1), so q_l grows by sigma_b2 = {:.6g} per layer without bound",
                          sigma_b2)
                    : fmt::format(
                          "no finite fixed point: V(q) = {0:.6g}*q + {1:.6g} (slope "
                          "sigma_w2*E[phi(z)^2] = {0:.6g} > 1), so q_l grows by x{0:.6g} per "
                          "layer without bound",
                          slope, sigma_b2);
    return inf_v;
  }

  // z ≡ 0 stays 0 when nothing lifts it (literally: no bias and φ(0) = 0).
  if (q_start == 0 && sigma_b2 == 0 && activation_value(f, 0.0) == 0) return 0.0;

  // F(q) = V(q) − q; |F| within quadrature noise of the larger term counts as 0.
  auto F = [&](double q) { return theory_qmap(f, sigma_w2, sigma_b2, q) - q; };
  auto noise = [](double q, double Fq) { return 1e-13 * std::max(q, Fq + q); };
  const double tol = 1e-15;

  double q = q_start, Fq = F(q);
  if (std::abs(Fq) <= noise(q, Fq)) return q;
  if (Fq > 0) {
    // The iteration climbs: step ×16 until V(q) < q. Beyond 1e13 times the scale of the inputs
    // F is no longer resolved against q (a map of slope → 1 at ∞, e.g. ELU at σ_w² = 2): diverges.
    const double q_div = 1e13 * std::max({1.0, q_start, sigma_w2, sigma_b2});
    for (;;) {
      const double hi = std::max(16 * q, std::max(Fq + q, q_tiny));
      if (hi > q_div) {
        *why = fmt::format(
            "no finite fixed point: V(q) > q at every q from the start up to {:.3g}, past which "
            "V(q) - q "
            "is below the quadrature's resolution; q_l grows without bound, at least that far",
            q);
        return inf_v;
      }
      const double Fhi = F(hi);
      if (Fhi <= 0) return root_brent(F, q, hi, Fq, Fhi, tol * hi);
      q = hi;
      Fq = Fhi;
    }
  }
  // The iteration descends: step ÷64 until V(q) is clearly above q; if never, q* = 0.
  // (q, Fq) stays the last point clearly below the diagonal.
  for (double lo = q / 64; lo >= q_tiny; lo /= 64) {
    const double Flo = F(lo);
    if (Flo > noise(lo, Flo)) return root_brent(F, lo, q, Flo, Fq, tol * q);
    if (Flo < -noise(lo, Flo)) {
      q = lo;
      Fq = Flo;
    }
  }
  return 0.0;
}

}  // namespace

double theory_q_star(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q_start) {
  check_applies(f);
  std::string why;
  return q_star_solve(f, sigma_w2, sigma_b2, q_start, &why);
}

double theory_c_star(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q_star) {
  check_applies(f);
  if (!(q_star >= 0 && q_star <= q_huge)) return nan_d;
  if (theory_chi(f, sigma_w2, q_star) <= 1 + 1e-12) return 1.0;  // ordered or critical
  // Chaotic: C(1) = 1 is unstable (C′(1) = χ₁ > 1), so G(c) = C(c) − c < 0 just below 1, and
  // G(0) = (σ_w² E[φ]² + σ_b²)/q* ≥ 0. Ascend to the first sign change; stop at 1 − 1e-8, where
  // |G| ≈ (χ₁ − 1)·1e-8 meets the 2-D quadrature noise.
  auto G = [&](double c) { return theory_cmap(f, sigma_w2, sigma_b2, q_star, c) - c; };
  // (c0, g0) stays the last point with G ≥ 0; G within noise below 0 decides nothing.
  const double noise = 1e-13;
  double c0 = 0, g0 = G(0);
  if (g0 <= 0) return 0.0;
  for (double c1 : {0.5, 0.9, 0.99, 0.999, 1 - 1e-4, 1 - 1e-5, 1 - 1e-6, 1 - 1e-7, 1 - 1e-8}) {
    const double g1 = G(c1);
    if (g1 < -noise) return root_brent(G, c0, c1, g0, g1, 1e-14);
    if (g1 >= 0) {
      c0 = c1;
      g0 = g1;
    }
  }
  return 1.0;
}

double theory_sigma_w2_crit(const ActivationSpec& f, double sigma_b2, double q_start) {
  check_applies(f);
  auto chi1 = [&](double sw2) {
    return theory_chi(f, sw2, theory_q_star(f, sw2, sigma_b2, q_start));
  };
  // χ₁ < 1 − 1e-14 counts as below 1: where χ₁ only touches 1 (tanh at σ_b² = 0: χ₁ = σ_w² up to 1,
  // then 1 + (σ_w² − 1)²/3) rounding would otherwise move the answer by √eps.
  double lo = 0, hi = 100;  // χ₁(0) = 0
  if (!(chi1(hi) >= 1 - 1e-14)) return nan_d;
  while (hi - lo > 1e-14 * hi) {
    const double mid = 0.5 * (lo + hi);
    if (chi1(mid) < 1 - 1e-14)
      lo = mid;
    else
      hi = mid;
  }
  return 0.5 * (lo + hi);
}

double depth_scale(double x) {
  if (!(x >= 0)) return nan_d;
  if (x == 0) return 0.0;
  const double l = std::log(x);
  return std::abs(l) < 1e-12 ? inf_v : -1 / l;
}

namespace {

// Why depth_scale(x) is not an ordinary length (empty when it is one): factor x, the per-layer
// factor of `what`, is 1 (an infinite scale) or 0.
std::string depth_scale_note(double x, const char* factor, const char* what) {
  if (x == 0)
    return fmt::format("{} = 0: {} is 0 after one layer, so its depth scale is 0", factor, what);
  if (x > 0 && std::isinf(depth_scale(x)))
    return fmt::format(
        "{} = 1 (to 1e-12): {} neither shrinks nor grows exponentially with depth, so its "
        "depth scale is infinite",
        factor, what);
  return "";
}

}  // namespace

TheoryFixed theory_fixed(const ActivationSpec& f, double sigma_w2, double sigma_b2,
                         double q_start) {
  check_applies(f);
  TheoryFixed t;
  TheoryNotes& n = t.notes;
  t.q_star = q_star_solve(f, sigma_w2, sigma_b2, q_start, &n.q_star);
  t.chi1 = theory_chi(f, sigma_w2, t.q_star);
  t.xi_grad = depth_scale(t.chi1);
  n.xi_grad = depth_scale_note(t.chi1, "chi1", "E||delta_l||^2");
  t.sigma_w2_crit = theory_sigma_w2_crit(f, sigma_b2, q_start);
  if (std::isnan(t.sigma_w2_crit)) {
    // theory_sigma_w2_crit gives up when χ₁ is still below 1 at σ_w² = 100.
    const double chi_max = theory_chi(f, 100, theory_q_star(f, 100, sigma_b2, q_start));
    n.sigma_w2_crit = chi_max == 0
                          ? std::string(
                                "no sigma_w2 puts chi1 at 1: chi1 = 0 for every sigma_w2 (phi' = 0 "
                                "almost everywhere)")
                          : fmt::format(
                                "no sigma_w2 in (0, 100] puts chi1 at 1 for this activation and "
                                "sigma_b2 = {:.6g}: chi1 is still {:.6g} at sigma_w2 = 100",
                                sigma_b2, chi_max);
  }
  if (!std::isfinite(t.q_star)) {
    t.xi_q = t.xi_c = t.c_star = nan_d;
    n.chi1 = "no finite q*: this is the q -> infinity limit of sigma_w2*E[phi'(sqrt(q) z)^2]";
    n.xi_q = "no finite q* (see q_star), so q_l approaches no fixed point";
    n.c_star = "no finite q* (see q_star), and the correlation map is taken at q*";
    n.xi_c = "no finite q* (see q_star), so there is no c* to approach";
    return t;
  }
  const double slope = theory_qmap_slope(f, sigma_w2, t.q_star);
  t.xi_q = depth_scale(slope);
  n.xi_q = depth_scale_note(slope, "dV/dq at q*", "|q_l - q*|");
  t.c_star = theory_c_star(f, sigma_w2, sigma_b2, t.q_star);
  if (t.c_star == 1) {
    // Ordered: C′(1) = χ₁. Chaotic but c* unresolved (χ₁ ≈ 1): C′(c*) ≈ 2 − χ₁ ≈ 1/χ₁.
    t.xi_c = depth_scale(std::min(t.chi1, 1 / t.chi1));
    n.xi_c = depth_scale_note(std::min(t.chi1, 1 / t.chi1), "chi1", "|c_l - c*|");
  } else {
    auto dphi = [&f](double u) { return activation_deriv(f, u); };
    const double dc = sigma_w2 * gauss_expect2(f, t.q_star, t.q_star, t.c_star, dphi, dphi);
    t.xi_c = depth_scale(dc);
    n.xi_c = depth_scale_note(dc, "C'(c*)", "|c_l - c*|");
  }
  return t;
}

}  // namespace gl
