// Shared by the theory test suites: activation specs, the Gaussian density, a closeness check,
// and an independent composite-Simpson reference for Gaussian expectations.
#pragma once

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

namespace gl {

inline ActivationSpec spec_of(Activation a) {
  ActivationSpec s;
  s.kind = a;
  if (a == Activation::prelu) s.slope = 0.25;
  return s;
}

inline double pdf(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2 * std::numbers::pi); }
inline double cdf(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

// |a − ref| within 1e-10 relative, or 1e-14 absolute where ref is tiny.
inline ::testing::AssertionResult close(double a, double ref, double rel = 1e-10,
                                        double abs = 1e-14) {
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
inline std::vector<double> kinks_of(const ActivationSpec& f) {
  std::vector<double> k = {0.0};
  for (double z : activation_info(f.kind).kinks)
    if (z != 0.0) k.push_back(z);
  std::sort(k.begin(), k.end());
  return k;
}

inline double e_rule(const ActivationSpec& f, double q, const std::function<double(double)>& g) {
  return gauss_expect(gauss_rule(f, q), g);
}

// Every activation the theory covers, plus non-default parameters.
inline std::vector<ActivationSpec> all_specs() {
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

}  // namespace gl
