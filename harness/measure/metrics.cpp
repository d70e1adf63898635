// The probe's per-layer statistics (docs/reference.md §4.1) and histograms (§4.2); the passes over
// a buffer that they use are in scan.cpp.
#include "harness/measure/metrics.h"
#include "harness/core/config.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>

#include "harness/core/threads.h"
#include "harness/measure/scan.h"
#include "harness/nn/mlp_blocks.h"

namespace gl {

template <class T>
SaturationCounts saturation_counts(const Eigen::Ref<const Mat<T>>& dphi, double tau, double sup) {
  SaturationCounts s;
  const Index units = dphi.rows(), N = dphi.cols();
  if (units == 0 || N == 0) return s;
  const double thr = tau * sup;
  // Column by column (the storage order), with per-unit counters: unit j is dead if φ' is
  // exactly 0 for all N examples, stuck if saturated for all N.
  // Counters in double (exact below 2^53) like the sums, so that the loop vectorizes.
  thread_local std::vector<double> sat, zero, sum;
  sat.assign(static_cast<size_t>(units), 0.0);
  zero.assign(static_cast<size_t>(units), 0.0);
  sum.assign(static_cast<size_t>(units), 0.0);
  double* ps = sat.data();
  double* pz = zero.data();
  double* pm = sum.data();
  for (Index i = 0; i < N; ++i) {
    const T* col = dphi.col(i).data();
    for (Index j = 0; j < units; ++j) {
      const double d = static_cast<double>(col[j]);
      pm[j] += d;
      pz[j] += d == 0.0 ? 1.0 : 0.0;
      ps[j] += (d == 0.0 || std::abs(d) < thr) ? 1.0 : 0.0;
    }
  }
  int64_t nsat = 0, dead = 0, stuck = 0;
  double total_sum = 0.0;
  const double n_ex = static_cast<double>(N);
  for (size_t u = 0; u < static_cast<size_t>(units); ++u) {
    const double su = sup == 0.0 ? n_ex : sat[u];  // φ' ≡ 0: all saturated
    nsat += static_cast<int64_t>(su);
    dead += zero[u] == n_ex;
    stuck += su == n_ex;
    total_sum += sum[u];
  }
  const double total = static_cast<double>(units) * static_cast<double>(N);
  s.saturated_frac = static_cast<double>(nsat) / total;
  s.dead_frac = static_cast<double>(dead) / static_cast<double>(units);
  s.stuck_frac = static_cast<double>(stuck) / static_cast<double>(units);
  s.dphi_mean = total_sum / total;
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

// ---- ∂L/∂W without storing it ----

template <class T>
OuterNorm outer_norm(const Eigen::Ref<const Mat<T>>& d, const Eigen::Ref<const Mat<T>>& a,
                     StatScratch<T>& s) {
  const Index m = d.rows(), n = a.rows(), B = d.cols();
  const T inv_b = T(1) / static_cast<T>(B);
  auto product = [&]() {  // the product itself, as mlp_backward stores it
    s.product.resize(m, n);
    s.product.noalias() = (inv_b * d) * a.transpose();
    const Scan sc = scan(s.product.data(), s.product.size());
    return OuterNorm{norm_of(sc, s.product.data(), s.product.size()), sc.nonfinite};
  };
  if (2 * B * (m + n) >= m * n) return product();
  // max |x| with NaN propagated: one pass gives the scale and whether every entry is finite
  const double sd = static_cast<double>(d.cwiseAbs().template maxCoeff<Eigen::PropagateNaN>());
  const double sa = static_cast<double>(a.cwiseAbs().template maxCoeff<Eigen::PropagateNaN>());
  if (!(sd <= DBL_MAX) || !(sa <= DBL_MAX)) return product();  // NaN or ±inf somewhere
  if (sd == 0.0 || sa == 0.0) return {};
  s.d = d.template cast<double>() / sd;
  s.a = a.template cast<double>() / sa;
  s.gd.resize(B, B);
  s.ga.resize(B, B);
  s.gd.noalias() = s.d.transpose() * s.d;
  s.ga.noalias() = s.a.transpose() * s.a;
  const double sum = s.gd.cwiseProduct(s.ga).sum();
  if (!(sum >= 0.5 * s.gd.cwiseProduct(s.ga).cwiseAbs().sum())) return product();
  return {sd * sa * std::sqrt(sum) / static_cast<double>(B), 0};
}

template <class T>
double mlp_grads_norm_outer(const MlpCache<T>& c, const MlpGrads<T>& g, StatScratch<T>& s) {
  double sum = 0;
  for (size_t l = 0; l < g.delta.size(); ++l) {
    const double w = outer_norm<T>(g.delta[l], c.a[l], s).norm;
    const double b = stable_norm(g.db[l].data(), g.db[l].size());
    sum += w * w + b * b + g.dslope[l] * g.dslope[l];
  }
  return std::sqrt(sum);
}

// ---- the probe ----

// What row l reports on: z_l, the activation (plain: a_l = the layer's output; residual branch
// layer: the activation feeding W_l; input projection: h_1 = z_1; output: ŷ) and φ' of that
// activation (none where the layer has no φ).
template <class T>
struct RowTensors {
  const Mat<T>* act;
  const Mat<T>* dphi;
};
template <class T>
static RowTensors<T> row_tensors(const Mlp<T>& net, const MlpCache<T>& c, size_t l) {
  const size_t n = net.layers.size();
  if (net.blocks.residual.block == 0) return {&c.a[l + 1], l + 1 < n ? &c.dphi[l] : nullptr};
  if (l == 0) return {&c.z[0], nullptr};
  if (l + 1 == n) return {&c.a[l + 1], nullptr};
  return {&c.a[l], &c.dphi[l]};
}

// The columns of residual and norm nets (metrics.h, LayerRow).
template <class T>
static void block_columns(const Mlp<T>& net, const MlpCache<T>& c, const MlpGrads<T>& g, size_t l,
                          LayerRow& r) {
  if (const int b = mlp_stream_of(net, l); b >= 0) {
    const Mat<T>& dh = g.dh[static_cast<size_t>(b)];
    r.stream_grad_norm =
        stable_norm(dh.data(), dh.size()) / std::sqrt(static_cast<double>(dh.cols()));
  }
  if (net.blocks.norm.kind == NormKind::none || !mlp_has_act(net, l)) return;
  const bool before = net.blocks.placement == NormPlacement::before;
  const Moments m = moments_of(before ? mlp_act_input(net, c, l) : c.y[l]);
  r.prenorm_mean = m.mean;
  r.prenorm_std = m.std;
  r.grad_gamma_norm = stable_norm(g.dnorm[l].dgamma.data(), g.dnorm[l].dgamma.size());
  r.grad_beta_norm = stable_norm(g.dnorm[l].dbeta.data(), g.dnorm[l].dbeta.size());
}

template <class T>
static LayerRow layer_row(const Mlp<T>& net, const MlpCache<T>& c, const MlpGrads<T>& g,
                          const ProbeConfig& probe, int64_t step, size_t l, StatScratch<T>& s) {
  const double N = static_cast<double>(c.a[0].cols());
  LayerRow r;
  r.step = step;
  r.layer = static_cast<int>(l + 1);
  r.fan_in = net.layers[l].W.cols();
  r.fan_out = net.fan_out(l);
  // One scan per tensor gives its sum, norm and non-finite count; mean and std of z and a take a
  // second pass each.
  const RowTensors<T> t = row_tensors(net, c, l);
  const Mat<T>& z = c.z[l];
  const Mat<T>& a = *t.act;
  const Index nz = z.size(), na = a.size();
  const Scan sz = scan(z.data(), nz), sa = scan(a.data(), na);
  r.preact_mean = sz.sum / static_cast<double>(nz);
  r.preact_std = std_around(z.data(), nz, r.preact_mean);
  const double zn = norm_of(sz, z.data(), nz);
  r.preact_ms = zn * zn / static_cast<double>(nz);
  r.act_mean = sa.sum / static_cast<double>(na);
  r.act_std = std_around(a.data(), na, r.act_mean);
  r.act_p98 = abs_percentile(a.data(), na, 98.0, s.sorted);
  r.act_absmax = sa.sumsq != sa.sumsq ? nan_v : sa.amax;  // Σa² is NaN iff some a is NaN
  if (t.dphi) {
    const Mat<T>& dphi = *t.dphi;
    const SaturationCounts sc =
        saturation_counts<T>(dphi, probe.saturation_tau, activation_sup_deriv(net.act));
    r.dphi_mean = sc.dphi_mean;
    if (sz.nonfinite == 0 && count_nonfinite(dphi.data(), dphi.size()) == 0) {
      r.saturated_frac = sc.saturated_frac;
      r.dead_frac = sc.dead_frac;
      r.stuck_frac = sc.stuck_frac;
    }
  } else {
    r.dphi_mean = 1.0;  // the output layer (and an input projection) is affine: no saturation
  }
  const Mat<T>& d = g.delta[l];
  const Mat<T>& W = net.layers[l].W;
  const Scan sd = scan(d.data(), d.size());
  if (sd.nonfinite == 0) r.zero_grad_frac = zero_column_frac(d);
  r.delta_norm = norm_of(sd, d.data(), d.size()) / std::sqrt(N);
  if (g.has_dw) {
    const Mat<T>& dW = g.dW[l];
    const Scan sdw = scan(dW.data(), dW.size());
    r.grad_w_norm = norm_of(sdw, dW.data(), dW.size());
    r.nonfinite_dw = sdw.nonfinite;
  } else {
    const OuterNorm o = outer_norm<T>(d, c.a[l], s);
    r.grad_w_norm = o.norm;
    r.nonfinite_dw = o.nonfinite;
  }
  r.grad_b_norm = stable_norm(g.db[l].data(), g.db[l].size());
  r.w_norm = stable_norm(W.data(), W.size());
  r.grad_w_ratio = r.grad_w_norm / r.w_norm;
  r.nonfinite_z = sz.nonfinite;
  r.nonfinite_a = sa.nonfinite;
  r.nonfinite_delta = sd.nonfinite;
  r.nonfinite = r.nonfinite_z + r.nonfinite_a + r.nonfinite_delta + r.nonfinite_dw;
  if (net.has_blocks()) block_columns(net, c, g, l, r);
  return r;
}

template <class T>
void mlp_layer_rows(const Mlp<T>& net, const MlpCache<T>& c, const MlpGrads<T>& g,
                    const ProbeConfig& probe, int64_t step, std::vector<LayerRow>& rows,
                    ProbeScratch<T>& scratch) {
  const size_t n = net.layers.size();
  const size_t first = rows.size();
  rows.resize(first + n);
  const int nt = std::min(team_threads(), static_cast<int>(n));
  if (scratch.size() < static_cast<size_t>(nt)) scratch.resize(static_cast<size_t>(nt));
  std::atomic<size_t> next{0};  // the layers go one at a time to whichever thread is free
  team_run(nt, [&](int t, int) {
    for (size_t l; (l = next++) < n;)
      rows[first + l] = layer_row(net, c, g, probe, step, l, scratch[static_cast<size_t>(t)]);
  });
  // delta_factor(l) = delta_norm(l)² / delta_norm(l+1)², hidden layers only.
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

#define GL_METRICS_INST(T)                                                                         \
  template SaturationCounts saturation_counts<T>(const Eigen::Ref<const Mat<T>>&, double, double); \
  template double zero_column_frac<T>(const Mat<T>&);                                              \
  template void mlp_layer_rows<T>(const Mlp<T>&, const MlpCache<T>&, const MlpGrads<T>&,           \
                                  const ProbeConfig&, int64_t, std::vector<LayerRow>&,             \
                                  ProbeScratch<T>&);                                               \
  template OuterNorm outer_norm<T>(const Eigen::Ref<const Mat<T>>&,                                \
                                   const Eigen::Ref<const Mat<T>>&, StatScratch<T>&);              \
  template double mlp_grads_norm_outer<T>(const MlpCache<T>&, const MlpGrads<T>&,                  \
                                          StatScratch<T>&);                                        \
  template HistEdges hist_edges_from<T>(const T*, Index, HistScale);                               \
  template void hist_rows<T>(const T*, Index, const HistEdges&, int, HistScale, int64_t, int,      \
                             HistQuantity, std::vector<HistRow>&);
GL_METRICS_INST(float)
GL_METRICS_INST(double)

}  // namespace gl
