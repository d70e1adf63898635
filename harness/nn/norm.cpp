#include "harness/nn/norm.h"

#include <cmath>
#include <stdexcept>

#include "harness/measure/scan.h"

namespace gl {

template <class T>
NormParams<T> norm_params_init(Index units) {
  return {Vec<T>::Ones(units), Vec<T>::Zero(units)};
}

NormRunning norm_running_init(Index units) {
  return {Vec<double>::Zero(units), Vec<double>::Ones(units)};
}

// y = γ ⊙ x̂ + β per column, on units r; y, x̂ (n, B), γ, β (n).
template <class T>
static void affine_forward(const NormParams<T>& p, const Mat<T>& xhat, Range r, Mat<T>& y) {
  y.middleRows(r.begin, r.size).array() = (xhat.middleRows(r.begin, r.size).array().colwise() *
                                           p.gamma.segment(r.begin, r.size).array())
                                              .colwise() +
                                          p.beta.segment(r.begin, r.size).array();
}

// dβ = (1/B) Σ_i g_i, dγ = (1/B) Σ_i g_i ⊙ x̂_i on units r, summed in double (grads.sum_g, sum_gx).
template <class T>
static void affine_backward(const Mat<T>& xhat, const Mat<T>& g, Range r, NormGrads<T>& grads) {
  const double inv_b = 1.0 / static_cast<double>(g.cols());
  const auto gr = g.middleRows(r.begin, r.size);
  auto sum_g = grads.sum_g.segment(r.begin, r.size);
  auto sum_gx = grads.sum_gx.segment(r.begin, r.size);
  sum_g = gr.template cast<double>().rowwise().sum();
  sum_gx = gr.template cast<double>()
               .cwiseProduct(xhat.middleRows(r.begin, r.size).template cast<double>())
               .rowwise()
               .sum();
  grads.dbeta.segment(r.begin, r.size) = (sum_g * inv_b).template cast<T>();
  grads.dgamma.segment(r.begin, r.size) = (sum_gx * inv_b).template cast<T>();
}

// x̂_ji = (z_ji − μ_j) s_j with per-unit μ, s (BatchNorm: the batch's or the running ones), units r.
template <class T>
static void xhat_by_unit(const Mat<T>& z, Range r, NormCache<T>& c) {
  const Index B = z.cols(), j0 = r.begin, j1 = r.begin + r.size;
  const double* mu = c.mean.data();
  const double* s = c.inv_std.data();
  for (Index i = 0; i < B; ++i) {
    const T* zi = z.col(i).data();
    T* xi = c.xhat.col(i).data();
    for (Index j = j0; j < j1; ++j)
      xi[j] = static_cast<T>((static_cast<double>(zi[j]) - mu[j]) * s[j]);
  }
}

// ---- batch: per unit over the batch ----

// μ_j, σ²_j (two passes over z), s_j, x̂; then the running statistics; units r.
template <class T>
static void batch_forward(const NormSpec& spec, const Mat<T>& z, Range r, NormCache<T>& c,
                          NormRunning* running) {
  const Index B = z.cols();
  const auto zr = z.middleRows(r.begin, r.size);
  auto mean = c.mean.segment(r.begin, r.size);
  auto var = c.var.segment(r.begin, r.size);
  mean = zr.template cast<double>().rowwise().mean();
  var = (zr.template cast<double>().colwise() - mean).cwiseAbs2().rowwise().mean();
  c.inv_std.segment(r.begin, r.size) = (var.array() + spec.eps).sqrt().inverse();
  xhat_by_unit(z, r, c);
  if (!running) return;
  if (B < 2)
    throw std::invalid_argument("batch norm: the running variance needs at least 2 examples");
  // PyTorch: running ← (1 − m) running + m·batch, with the unbiased variance σ² B/(B − 1).
  const double m = spec.momentum;
  const double unbiased = static_cast<double>(B) / static_cast<double>(B - 1);
  auto rmean = running->mean.segment(r.begin, r.size);
  auto rvar = running->var.segment(r.begin, r.size);
  rmean = (1.0 - m) * rmean + m * mean;
  rvar = (1.0 - m) * rvar + (m * unbiased) * var;
}

// Eval mode: μ_j, σ²_j are the running statistics (its backward: batch_backward, uncoupled).
template <class T>
static void batch_eval_forward(const NormSpec& spec, const NormRunning& running, const Mat<T>& z,
                               Range r, NormCache<T>& c) {
  c.mean.segment(r.begin, r.size) = running.mean.segment(r.begin, r.size);
  c.var.segment(r.begin, r.size) = running.var.segment(r.begin, r.size);
  c.inv_std.segment(r.begin, r.size) =
      (c.var.segment(r.begin, r.size).array() + spec.eps).sqrt().inverse();
  xhat_by_unit(z, r, c);
}

// dz_i = γ ⊙ s ⊙ (g_i − dβ − x̂_i ⊙ dγ) on the batch's statistics (dβ, dγ: the
// batch means of g and g ⊙ x̂, the paths through μ and σ²), dz_i = γ ⊙ s ⊙ g_i on the running ones
// (eval mode: no coupling); units r.
template <class T>
static void batch_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g, Range r,
                           const NormGrads<T>& grads, Mat<T>& dz) {
  const Index B = g.cols(), j0 = r.begin, j1 = r.begin + r.size;
  const double w = c.coupled ? 1.0 / static_cast<double>(B) : 0.0;
  const double* sg = grads.sum_g.data();
  const double* sgx = grads.sum_gx.data();
  const double* s = c.inv_std.data();
  const T* gamma = p.gamma.data();
  for (Index i = 0; i < B; ++i) {
    const T* gi = g.col(i).data();
    const T* xi = c.xhat.col(i).data();
    T* di = dz.col(i).data();
    for (Index j = j0; j < j1; ++j) {
      const double centered =
          static_cast<double>(gi[j]) - sg[j] * w - static_cast<double>(xi[j]) * (sgx[j] * w);
      di[j] = static_cast<T>(static_cast<double>(gamma[j]) * s[j] * centered);
    }
  }
}

// ---- layer: per example over the units ----

template <class T>
static void layer_forward(const NormSpec& spec, const Mat<T>& z, NormCache<T>& c) {
  const Index n = z.rows(), B = z.cols();
  const double inv_n = 1.0 / static_cast<double>(n);
  c.mean.resize(B);
  c.var.resize(B);
  c.inv_std.resize(B);
  c.xhat.resize(n, B);
  for (Index i = 0; i < B; ++i) {
    const T* zi = z.col(i).data();
    double mu = 0, var = 0;
    for (Index j = 0; j < n; ++j) mu += static_cast<double>(zi[j]);
    mu *= inv_n;
    for (Index j = 0; j < n; ++j) {
      const double d = static_cast<double>(zi[j]) - mu;
      var += d * d;
    }
    var *= inv_n;
    const double s = 1.0 / std::sqrt(var + spec.eps);
    T* xi = c.xhat.col(i).data();
    for (Index j = 0; j < n; ++j) xi[j] = static_cast<T>((static_cast<double>(zi[j]) - mu) * s);
    c.mean[i] = mu;
    c.var[i] = var;
    c.inv_std[i] = s;
  }
}

// Per example dz_i = s_i (h_i − mean_j h_ji − x̂_i · mean_j h_ji x̂_ji), h_i = γ ⊙ g_i.
template <class T>
static void layer_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g,
                           Mat<T>& dz) {
  const Index n = g.rows(), B = g.cols();
  const double inv_n = 1.0 / static_cast<double>(n);
  const T* gamma = p.gamma.data();
  for (Index i = 0; i < B; ++i) {
    const T* gi = g.col(i).data();
    const T* xi = c.xhat.col(i).data();
    double mh = 0, mhx = 0;
    for (Index j = 0; j < n; ++j) {
      const double h = static_cast<double>(gamma[j]) * static_cast<double>(gi[j]);
      mh += h;
      mhx += h * static_cast<double>(xi[j]);
    }
    mh *= inv_n;
    mhx *= inv_n;
    const double s = c.inv_std[i];
    T* di = dz.col(i).data();
    for (Index j = 0; j < n; ++j) {
      const double h = static_cast<double>(gamma[j]) * static_cast<double>(gi[j]);
      di[j] = static_cast<T>(s * (h - mh - static_cast<double>(xi[j]) * mhx));
    }
  }
}

// ---- the kinds ----

template <class T>
void norm_size(NormKind kind, Index units, Index B, NormCache<T>& c, Mat<T>& y) {
  const Index stats = kind == NormKind::layer ? B : units;
  c.mean.resize(stats);
  c.var.resize(stats);
  c.inv_std.resize(stats);
  c.xhat.resize(units, B);
  y.resize(units, B);
}

template <class T>
void norm_grads_size(Index units, NormGrads<T>& grads) {
  grads.sum_g.resize(units);
  grads.sum_gx.resize(units);
  grads.dgamma.resize(units);
  grads.dbeta.resize(units);
}

template <class T>
void batch_norm_forward_units(const NormSpec& spec, const NormParams<T>& p, const Mat<T>& z,
                              Range units, NormCache<T>& c, Mat<T>& y, NormRunning* running,
                              const NormRunning* eval) {
  c.kind = NormKind::batch;
  c.coupled = !eval;
  if (eval)
    batch_eval_forward(spec, *eval, z, units, c);
  else
    batch_forward(spec, z, units, c, running);
  affine_forward(p, c.xhat, units, y);
}

template <class T>
void batch_norm_backward_units(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g,
                               Range units, Mat<T>& dz, NormGrads<T>& grads) {
  affine_backward(c.xhat, g, units, grads);  // first: dz may be g
  batch_backward(p, c, g, units, grads, dz);
}

template <class T>
void norm_forward(const NormSpec& spec, const NormParams<T>& p, const Mat<T>& z, NormCache<T>& c,
                  Mat<T>& y, NormRunning* running) {
  c.kind = spec.kind;
  c.coupled = spec.kind == NormKind::batch;
  const Range all{0, z.rows()};
  switch (spec.kind) {
    case NormKind::batch:
      norm_size(spec.kind, z.rows(), z.cols(), c, y);
      return batch_norm_forward_units(spec, p, z, all, c, y, running, nullptr);
    case NormKind::layer:
      layer_forward(spec, z, c);
      break;
    case NormKind::none:
    case NormKind::count:
      y = z;
      return;
  }
  y.resize(z.rows(), z.cols());
  affine_forward(p, c.xhat, all, y);
}

template <class T>
void norm_forward_eval(const NormSpec& spec, const NormParams<T>& p, const NormRunning& running,
                       const Mat<T>& z, NormCache<T>& c, Mat<T>& y) {
  if (spec.kind != NormKind::batch) return norm_forward(spec, p, z, c, y);
  norm_size(spec.kind, z.rows(), z.cols(), c, y);
  batch_norm_forward_units(spec, p, z, Range{0, z.rows()}, c, y, nullptr, &running);
}

template <class T>
void norm_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g, Mat<T>& dz,
                   NormGrads<T>& grads) {
  if (c.kind == NormKind::none) {
    dz = g;
    grads.dgamma.setZero(p.gamma.size());
    grads.dbeta.setZero(p.beta.size());
    return;
  }
  const Range all{0, g.rows()};
  norm_grads_size(g.rows(), grads);
  affine_backward(c.xhat, g, all, grads);  // first: dz may be g
  dz.resize(g.rows(), g.cols());
  if (c.kind == NormKind::batch)
    batch_backward(p, c, g, all, grads, dz);
  else
    layer_backward(p, c, g, dz);
}

template <class T>
Moments moments_of(const Mat<T>& z) {
  const Index n = z.size();
  if (n == 0) return {nan_v, nan_v};
  const double mean = scan(z.data(), n).sum / static_cast<double>(n);
  return {mean, std_around(z.data(), n, mean)};
}

#define GL_NORM_INST(T)                                                                           \
  template NormParams<T> norm_params_init<T>(Index);                                              \
  template void norm_forward<T>(const NormSpec&, const NormParams<T>&, const Mat<T>&,             \
                                NormCache<T>&, Mat<T>&, NormRunning*);                            \
  template void norm_forward_eval<T>(const NormSpec&, const NormParams<T>&, const NormRunning&,   \
                                     const Mat<T>&, NormCache<T>&, Mat<T>&);                      \
  template void norm_backward<T>(const NormParams<T>&, const NormCache<T>&, const Mat<T>&,        \
                                 Mat<T>&, NormGrads<T>&);                                         \
  template Moments moments_of<T>(const Mat<T>&);                                                  \
  template void norm_size<T>(NormKind, Index, Index, NormCache<T>&, Mat<T>&);                     \
  template void norm_grads_size<T>(Index, NormGrads<T>&);                                         \
  template void batch_norm_forward_units<T>(const NormSpec&, const NormParams<T>&, const Mat<T>&, \
                                            Range, NormCache<T>&, Mat<T>&, NormRunning*,          \
                                            const NormRunning*);                                  \
  template void batch_norm_backward_units<T>(const NormParams<T>&, const NormCache<T>&,           \
                                             const Mat<T>&, Range, Mat<T>&, NormGrads<T>&);
GL_NORM_INST(float)
GL_NORM_INST(double)

}  // namespace gl
