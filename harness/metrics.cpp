#include "harness/metrics.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

namespace gl {

template <class T>
double stable_norm(const T* x, Index n) {
  double amax = 0.0;
  bool nan = false;
  for (Index i = 0; i < n; ++i) {
    const double v = std::abs(static_cast<double>(x[i]));
    if (v != v) nan = true;
    amax = v > amax ? v : amax;
  }
  if (nan) return nan_v;
  if (amax == 0.0 || std::isinf(amax)) return amax;
  double s = 0.0;
  if (amax > 1e-140 && amax < 1e140) {  // Σx² can neither overflow nor lose the small entries
    for (Index i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return std::sqrt(s);
  }
  for (Index i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]) / amax;
    s += v * v;
  }
  return amax * std::sqrt(s);
}

template <class T>
int64_t count_nonfinite(const T* x, Index n) {
  int64_t k = 0;
  for (Index i = 0; i < n; ++i) k += !std::isfinite(x[i]);
  return k;
}

template <class T>
double abs_percentile(const T* x, Index n, double q, std::vector<double>& scratch) {
  if (n == 0) return nan_v;
  scratch.resize(static_cast<size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const double v = std::abs(static_cast<double>(x[i]));
    if (v != v) return nan_v;
    scratch[static_cast<size_t>(i)] = v;
  }
  // numpy "linear": h = (n-1)·q/100, value = v[⌊h⌋] + (h-⌊h⌋)(v[⌊h⌋+1] - v[⌊h⌋]).
  const double h = static_cast<double>(n - 1) * q / 100.0;
  const auto lo = static_cast<size_t>(std::floor(h));
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(lo),
                   scratch.end());
  const double vlo = scratch[lo];
  if (lo + 1 >= scratch.size()) return vlo;
  const double vhi =
      *std::min_element(scratch.begin() + static_cast<std::ptrdiff_t>(lo) + 1, scratch.end());
  const double frac = h - static_cast<double>(lo);
  return frac == 0.0 ? vlo : vlo + frac * (vhi - vlo);
}

template <class T>
SaturationCounts saturation_counts(const Mat<T>& dphi, double tau, double sup) {
  SaturationCounts s;
  const Index units = dphi.rows(), N = dphi.cols();
  if (units == 0 || N == 0) return s;
  const double thr = tau * sup;
  int64_t sat = 0, dead = 0, stuck = 0;
  double sum = 0.0;
  for (Index j = 0; j < units; ++j) {
    int64_t unit_sat = 0, unit_zero = 0;
    for (Index i = 0; i < N; ++i) {
      const double d = static_cast<double>(dphi(j, i));
      sum += d;
      const bool zero = d == 0.0;
      const bool saturated = sup == 0.0 || zero || std::abs(d) < thr;
      unit_sat += saturated;
      unit_zero += zero;
    }
    sat += unit_sat;
    dead += unit_zero == N;
    stuck += unit_sat == N;
  }
  const double total = static_cast<double>(units) * static_cast<double>(N);
  s.saturated_frac = static_cast<double>(sat) / total;
  s.dead_frac = static_cast<double>(dead) / static_cast<double>(units);
  s.stuck_frac = static_cast<double>(stuck) / static_cast<double>(units);
  s.dphi_mean = sum / total;
  return s;
}

template <class T>
double zero_column_frac(const Mat<T>& m) {
  if (m.cols() == 0) return nan_v;
  Index zero = 0;
  for (Index i = 0; i < m.cols(); ++i) zero += (m.col(i).array() == T(0)).all();
  return static_cast<double>(zero) / static_cast<double>(m.cols());
}

double singular_value_mean(const Mat<double>& J) {
  const Mat<double> G =
      J.rows() <= J.cols() ? Mat<double>(J * J.transpose()) : Mat<double>(J.transpose() * J);
  Eigen::SelfAdjointEigenSolver<Mat<double>> es(G, Eigen::EigenvaluesOnly);
  return es.eigenvalues().cwiseMax(0.0).cwiseSqrt().mean();
}

void squared_sv_moments(const Mat<double>& J, double& m1, double& m2) {
  const Mat<double> G = J * J.transpose();
  const double n = static_cast<double>(J.rows());
  m1 = G.trace() / n;
  m2 = G.squaredNorm() / n;  // tr(G²) = ‖G‖_F² for symmetric G
}

// mean and population std of x in double (two passes: no cancellation).
template <class T>
static void mean_std(const T* x, Index n, double& mean, double& sd) {
  double s = 0.0;
  for (Index i = 0; i < n; ++i) s += static_cast<double>(x[i]);
  mean = s / static_cast<double>(n);
  double v = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    v += d * d;
  }
  sd = std::sqrt(v / static_cast<double>(n));
}

template <class T>
void mlp_layer_rows(const Mlp<T>& net, const MlpCache<T>& c, const MlpGrads<T>& g,
                    const ProbeConfig& probe, int64_t step, std::vector<LayerRow>& rows,
                    std::vector<double>& scratch) {
  const size_t n = net.layers.size();
  const double N = static_cast<double>(c.a[0].cols());
  const double sup = activation_sup_deriv(net.act);
  for (size_t l = 0; l < n; ++l) {
    LayerRow r;
    r.step = step;
    r.layer = static_cast<int>(l + 1);
    r.fan_in = net.layers[l].W.cols();
    r.fan_out = net.fan_out(l);
    const Mat<T>& z = c.z[l];
    const Mat<T>& a = c.a[l + 1];
    const Index nz = z.size();
    mean_std(z.data(), nz, r.preact_mean, r.preact_std);
    const double zn = stable_norm(z.data(), nz);
    r.preact_ms = zn * zn / static_cast<double>(nz);
    mean_std(a.data(), nz, r.act_mean, r.act_std);
    r.act_p98 = abs_percentile(a.data(), nz, 98.0, scratch);
    if (l + 1 < n) {
      const SaturationCounts s = saturation_counts(c.dphi[l], probe.saturation_tau, sup);
      r.dphi_mean = s.dphi_mean;
      r.saturated_frac = s.saturated_frac;
      r.dead_frac = s.dead_frac;
      r.stuck_frac = s.stuck_frac;
    } else {
      r.dphi_mean = 1.0;  // the output layer is affine
    }
    const Mat<T>& d = g.delta[l];
    r.zero_grad_frac = zero_column_frac(d);
    r.delta_norm = stable_norm(d.data(), d.size()) / std::sqrt(N);
    r.grad_w_norm = stable_norm(g.dW[l].data(), g.dW[l].size());
    r.grad_b_norm = stable_norm(g.db[l].data(), g.db[l].size());
    r.w_norm = stable_norm(net.layers[l].W.data(), net.layers[l].W.size());
    r.grad_w_ratio = r.grad_w_norm / r.w_norm;
    r.nonfinite_z = count_nonfinite(z.data(), nz);
    r.nonfinite_a = count_nonfinite(a.data(), nz);
    r.nonfinite_delta = count_nonfinite(d.data(), d.size());
    r.nonfinite_dw = count_nonfinite(g.dW[l].data(), g.dW[l].size());
    r.nonfinite = r.nonfinite_z + r.nonfinite_a + r.nonfinite_delta + r.nonfinite_dw;
    rows.push_back(r);
  }
  // delta_factor(l) = delta_norm(l)² / delta_norm(l+1)², hidden layers only.
  const size_t first = rows.size() - n;
  for (size_t l = 0; l + 1 < n; ++l) {
    const double q = rows[first + l].delta_norm / rows[first + l + 1].delta_norm;
    rows[first + l].delta_factor = q * q;
  }
}

// ---- histograms ----

static double hist_var(double x, HistScale s) {
  return s == HistScale::linear ? x : std::log10(std::abs(x));
}

template <class T>
HistEdges hist_edges_from(const T* x, Index n, HistScale scale) {
  double lo = INFINITY, hi = -INFINITY;
  for (Index i = 0; i < n; ++i) {
    const double v = hist_var(static_cast<double>(x[i]), scale);
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!(lo <= hi)) return {0.0, 1.0};  // no finite value
  if (lo == hi) {
    const double w = lo == 0.0 ? 0.5 : std::abs(lo) * 0.5;
    return {lo - w, hi + w};
  }
  return {lo, hi};
}

template <class T>
void hist_rows(const T* x, Index n, const HistEdges& e, int bins, HistScale scale, int64_t step,
               int layer, HistQuantity q, std::vector<HistRow>& out) {
  std::vector<int64_t> counts(static_cast<size_t>(bins) + 2, 0);  // [under, bins..., over]
  int64_t nonfinite = 0;
  const double width = (e.hi - e.lo) / bins;
  for (Index i = 0; i < n; ++i) {
    const double raw = static_cast<double>(x[i]);
    if (!std::isfinite(raw)) {
      ++nonfinite;
      continue;
    }
    const double v = hist_var(raw, scale);  // log10|0| = -inf: underflow
    int b;
    if (v < e.lo)
      b = -1;
    else if (v > e.hi)
      b = bins;
    else
      b = std::min(bins - 1, static_cast<int>((v - e.lo) / width));  // hi itself is in the last bin
    ++counts[static_cast<size_t>(b + 1)];
  }
  for (int b = -1; b <= bins; ++b) {
    HistRow r;
    r.step = step;
    r.layer = layer;
    r.quantity = q;
    r.bin = b;
    r.lo = b < 0 ? -INFINITY : (b == bins ? e.hi : e.lo + width * b);
    r.hi = b < 0 ? e.lo : (b >= bins - 1 ? (b == bins ? INFINITY : e.hi) : e.lo + width * (b + 1));
    r.count = counts[static_cast<size_t>(b + 1)];
    out.push_back(r);
  }
  HistRow r;
  r.step = step;
  r.layer = layer;
  r.quantity = q;
  r.nonfinite = true;
  r.count = nonfinite;
  out.push_back(r);
}

#define GL_METRICS_INST(T)                                                                    \
  template double stable_norm<T>(const T*, Index);                                            \
  template double abs_percentile<T>(const T*, Index, double, std::vector<double>&);           \
  template int64_t count_nonfinite<T>(const T*, Index);                                       \
  template SaturationCounts saturation_counts<T>(const Mat<T>&, double, double);              \
  template double zero_column_frac<T>(const Mat<T>&);                                         \
  template void mlp_layer_rows<T>(const Mlp<T>&, const MlpCache<T>&, const MlpGrads<T>&,      \
                                  const ProbeConfig&, int64_t, std::vector<LayerRow>&,        \
                                  std::vector<double>&);                                      \
  template HistEdges hist_edges_from<T>(const T*, Index, HistScale);                          \
  template void hist_rows<T>(const T*, Index, const HistEdges&, int, HistScale, int64_t, int, \
                             HistQuantity, std::vector<HistRow>&);
GL_METRICS_INST(float)
GL_METRICS_INST(double)

}  // namespace gl
