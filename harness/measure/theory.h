// Mean-field theory of signal propagation in a deep MLP (docs/reference.md §4.3; Poole et al. 2016,
// Schoenholz et al. 2017): Gaussian expectations of an activation, the length map q_l and the
// backward factor χ_l per layer, the fixed point q*, χ₁, the depth scales ξ_q, ξ_c, ξ_∇ and the
// critical σ_w².
//
// Notation: layer l has z_l = W_l a_{l-1} + b_l, a_l = φ(z_l); σ_w,l² = fan_in_l·Var(W_l),
// σ_b,l² = E[b_l²]. In the wide limit z_l is Gaussian with mean square q_l:
//   q_1 = σ_w,1² q0 + σ_b,1²,   q_l = V_l(q_{l-1}) = σ_w,l² E_z[φ(√q_{l-1} z)²] + σ_b,l²,
//   χ_l = σ_w,l+1² E_z[φ′(√q_l z)²]  (= E‖δ_l‖² / E‖δ_{l+1}‖², exact for any widths).
//
// Accuracy: every expectation here is within 1e-10 relative (1e-14 absolute where the value is
// tiny) for every activation and any q in [0, 1e300]; tests/test_theory.cpp measures ≤ 1.2e-14
// (1-D, q ≤ 400, against Simpson) and ≤ 3e-15 (2-D, against closed forms). Panels stop
// shrinking at 1e-12 in z, so above q ~ 1e24 a feature of φ narrower than that (tanh′² at
// q = 1e40, a value ~1e-21) is only absolute-accurate.
// q = 0 means the limit q → 0+ (so relu′ at q = 0 averages to ½, not relu′(0) = 0).
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "harness/nn/activations.h"
#include "harness/nn/init.h"

namespace gl {

// ---- Gaussian expectations ----

// A quadrature rule for a probability measure: E[g(x)] ≈ Σ_i w[i] g(x[i]).
struct GaussRule {
  std::vector<double> x, w;
};

// Gauss–Hermite for z ~ N(0, 1) (probabilists' weight e^{-z²/2}/√(2π)), n nodes by Golub–Welsch:
// exact for polynomials of degree ≤ 2n − 1.
GaussRule gauss_hermite(int n);

// A rule for u ~ N(0, q), for integrands built from f: φ(u), φ′(u), their products and powers of u.
// Piecewise: composite 20-point Gauss–Legendre on z = u/√q ∈ [−10, 10] (the cut tail is < 1e-21
// relative), split at f's kinks and at 0, panels ≤ 2 wide and refined geometrically towards the
// breaks down to the width on which φ varies (1/√q, or 1/(β√q) for softplus; ≥ 1e-12);
// Gauss–Hermite (20 nodes) for identity, whose integrands are polynomials. (Gauss–Hermite alone
// does not do for the others: tanh′² at q = 4 is off by 3e-4 with 100 nodes.) q = +inf gives the q
// → ∞ limit of integrands with limits at ±∞: x = ±1e300, w = ½.
GaussRule gauss_rule(const ActivationSpec& f, double q);

template <class G>
double gauss_expect(const GaussRule& r, G&& g) {
  double s = 0;
  for (size_t i = 0; i < r.x.size(); ++i) s += r.w[i] * g(r.x[i]);
  return s;
}

// E[g(u1) h(u2)] with u1 = √q11 z1, u2 = √q22 (c z1 + √(1−c²) z2), z1, z2 ~ N(0, 1) independent,
// c ∈ [−1, 1]; g and h are smooth between f's kinks (φ, φ′ of f). Iterated piecewise rules: the
// inner one (over z2) is split where u2 crosses a kink, for each outer node.
double gauss_expect2(const ActivationSpec& f, double q11, double q22, double c,
                     const std::function<double(double)>& g,
                     const std::function<double(double)>& h);

// ---- per layer ----

// False where mean-field theory does not apply to the activation (maxout); the caller decides for
// initializers (sparse, identity). Every theory_* function throws std::invalid_argument for maxout.
bool theory_applies(const ActivationSpec& f);

// sigma_w2[l-1], sigma_b2[l-1] for layers l = 1..L+1 (L+1: the affine output layer).
struct TheoryInput {
  ActivationSpec act;
  std::vector<double> sigma_w2;
  std::vector<double> sigma_b2;
  double q0 = 1.0;  // mean ‖x‖²/fan_in over the probe set
  // A residual net (mlp.h): k weight layers per block (0: a plain net) and the branch scale α
  // (> 0); theory_layers then takes theory_residual_layers.
  int residual_block = 0;
  double residual_alpha = 1.0;
};

struct TheoryLayers {
  std::vector<double> q;    // q[l-1] = q_l, l = 1..L+1 (q_{L+1}: the output pre-activation)
  std::vector<double> chi;  // chi[l-1] = χ_l, l = 1..L
};

// Throws std::invalid_argument on sizes that differ, an empty input, or negative/non-finite
// values. q_l = +inf once the length map overflows; χ_l is then its q → ∞ limit.
TheoryLayers theory_layers(const TheoryInput& in);
// A residual net's rows in the same form (theory_residual.h): q[l-1] the mean square of z_l
// (layer 1: h_1; branch layers: before α; the output layer: from the last stream value), and
// chi[l-1] = E‖δ_l‖² / E‖δ_{l+1}‖², the prediction of layers.csv's delta_factor. Needs
// residual_block ≥ 1 dividing L − 1 ≥ 1 and α > 0 (std::invalid_argument otherwise).
TheoryLayers theory_residual_layers(const TheoryInput& in);

// ---- i.i.d. layers with one (σ_w², σ_b²) ----

// V(q) = σ_w² E[φ(√q z)²] + σ_b² and its slope ∂V/∂q = σ_w² E[φ(√q z) φ′(√q z) z]/√q
// (valid for piecewise φ; at q = 0 the limit, σ_w² (φ′(0−)² + φ′(0+)²)/2 when φ(0) = 0). Where
// φ(0)φ′(0) ≠ 0 (sigmoid, softplus) the slope loses accuracy as eps/√q below q ~ 1e-12.
double theory_qmap(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q);
double theory_qmap_slope(const ActivationSpec& f, double sigma_w2, double q);
// σ_w² E[φ′(√q z)²]: χ at mean square q (χ₁ at q = q*; the q → ∞ limit at q = +inf).
double theory_chi(const ActivationSpec& f, double sigma_w2, double q);
// μ_k = E[φ′(√q z)^{2k}], k ≥ 1: the moments that predict the spectrum of the input–output
// Jacobian (Pennington et al. 2017): μ₁ = χ/σ_w², and μ₂/μ₁² − 1 − s₁ per layer is its
// contribution to var/(m₁² L) of the squared singular values.
double theory_dphi_moment(const ActivationSpec& f, double q, int k);
// s₁ of the spectrum of W Wᵀ in that prediction: −1 for i.i.d. entries (Marchenko–Pastur), 0 for
// orthogonal W (the caller has excluded sparse, identity and spectrally rescaled inits).
double theory_weight_s1(Init init);
// The correlation map C(c) = (σ_w² E[φ(u1) φ(u2)] + σ_b²)/q with q11 = q22 = q; C(1) = V(q)/q.
double theory_cmap(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q, double c);

// The fixed point q* = V(q*) that the iteration q ← V(q) reaches from q_start. Positively
// homogeneous φ (identity, relu, leaky_relu, prelu, rrelu: V(q) = σ_w² (1 + a²)/2 q + σ_b²) in
// closed form; otherwise Brent's method on V(q) − q, bracketed by stepping ×16 up or ÷64 down from
// q_start, so slow convergence near criticality costs nothing.
//   0      when the iteration goes to 0 (tanh, σ_b² = 0, σ_w² ≤ 1), or q_start = 0 with σ_b² = 0
//          and φ(0) = 0 (z ≡ 0 stays 0);
//   +inf   when the map diverges (ReLU with σ_w² > 2, or = 2 with σ_b² > 0), and when q would pass
//          1e13·max(1, q_start, σ_w², σ_b²) (ELU, GELU, softplus at σ_w² ≥ 2: V(q) − q stays
//          O(1) while q grows, not resolved beyond that);
//   q_start when V(q) ≡ q (ReLU He with σ_b² = 0, linear with σ_w² = 1), or |V(q_start) − q_start|
//          ≤ 1e-13 max(V, q) (quadrature noise; at criticality this can leave a q_start ≲ 1e-13
//          where the exact iteration creeps to 0).
double theory_q_star(const ActivationSpec& f, double sigma_w2, double sigma_b2,
                     double q_start = 1.0);

// The stable fixed point c* of the correlation map at q*: 1 in the ordered phase (χ₁ ≤ 1 + 1e-12)
// and where c* < 1 is too close to 1 to resolve (χ₁ − 1 ≲ 1e-6); else the root in [0, 1) (Brent).
// NaN if q* is not finite.
double theory_c_star(const ActivationSpec& f, double sigma_w2, double sigma_b2, double q_star);

// The σ_w² ∈ (0, 100] with χ₁(σ_w², σ_b²) = 1 (bisection to 1e-14 relative, q* from q_start;
// χ₁ ≥ 1 − 1e-14 counts as reached, so a χ₁ that only touches 1, as tanh's at σ_b² = 0, gives its
// touching point); NaN if χ₁(100) < 1 (e.g. binary_step). For ReLU it is 2 for every σ_b² (with
// σ_b² > 0 its q* is +inf there); likewise 2 for softplus.
double theory_sigma_w2_crit(const ActivationSpec& f, double sigma_b2, double q_start = 1.0);

// The depth scale of a per-layer factor x: −1/ln x, signed (x > 1, growth, gives a negative
// scale); +inf when |ln x| < 1e-12, 0 when x = 0, NaN when x < 0 or NaN.
double depth_scale(double x);

// Depth scales follow depth_scale (signed); ξ_q and ξ_c are NaN when q* = +inf. ξ_c ≥ 0 (c* is
// stable); ξ_∇ < 0 in the chaotic phase (gradients grow).
// Why a field of TheoryFixed is not a finite number (or, for χ₁, at which q it was taken), one
// sentence each, derived from the step that failed; empty where the field is an ordinary number.
struct TheoryNotes {
  std::string q_star, chi1, xi_q, xi_c, xi_grad, sigma_w2_crit, c_star;
};

struct TheoryFixed {
  double q_star = 0;         // see theory_q_star
  double chi1 = 0;           // σ_w² E[φ′(√q* z)²]
  double xi_q = 0;           // depth_scale(∂V/∂q at q*)
  double xi_c = 0;           // depth_scale(σ_w² E[φ′(u1*) φ′(u2*)]) at c*
  double xi_grad = 0;        // depth_scale(χ₁)
  double sigma_w2_crit = 0;  // for this σ_b², see theory_sigma_w2_crit
  double c_star = 1;         // see theory_c_star
  TheoryNotes notes;
};

TheoryFixed theory_fixed(const ActivationSpec& f, double sigma_w2, double sigma_b2,
                         double q_start = 1.0);

// ---- text ----

// "layer  q  chi" with one row per layer 1..L+1 (the output row's chi is "-").
std::string theory_table(const TheoryLayers& t);
// One "name = value" line per field of TheoryFixed, for `gradlab theory`: where a field has a
// note the line gives it in words instead of inf/nan; xi_grad says which way ‖δ_l‖² goes.
std::string theory_fixed_text(const TheoryFixed& t);
// The notes that are not empty, by field name (q_star, chi1, ...), for theory.json's "notes".
std::vector<std::pair<std::string, std::string>> theory_notes_list(const TheoryNotes& n);

}  // namespace gl
