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

// y = γ ⊙ x̂ + β per column; y, x̂ (n, B), γ, β (n).
template <class T>
static void affine_forward(const NormParams<T>& p, const Mat<T>& xhat, Mat<T>& y) {
  y.resize(xhat.rows(), xhat.cols());
  y.array() = (xhat.array().colwise() * p.gamma.array()).colwise() + p.beta.array();
}

// dβ = (1/B) Σ_i g_i, dγ = (1/B) Σ_i g_i ⊙ x̂_i, summed in double (grads.sum_g, sum_gx).
template <class T>
static void affine_backward(const Mat<T>& xhat, const Mat<T>& g, NormGrads<T>& grads) {
  const Index n = g.rows(), B = g.cols();
  grads.sum_g.setZero(n);
  grads.sum_gx.setZero(n);
  double* sg = grads.sum_g.data();
  double* sgx = grads.sum_gx.data();
  for (Index i = 0; i < B; ++i) {
    const T* gi = g.col(i).data();
    const T* xi = xhat.col(i).data();
    for (Index j = 0; j < n; ++j) {
      const double gj = static_cast<double>(gi[j]);
      sg[j] += gj;
      sgx[j] += gj * static_cast<double>(xi[j]);
    }
  }
  const double inv_b = 1.0 / static_cast<double>(B);
  grads.dbeta = (grads.sum_g * inv_b).template cast<T>();
  grads.dgamma = (grads.sum_gx * inv_b).template cast<T>();
}

// x̂_ji = (z_ji − μ_j) s_j with per-unit μ, s (BatchNorm: the batch's or the running ones).
template <class T>
static void xhat_by_unit(const Mat<T>& z, NormCache<T>& c) {
  const Index n = z.rows(), B = z.cols();
  c.xhat.resize(n, B);
  const double* mu = c.mean.data();
  const double* s = c.inv_std.data();
  for (Index i = 0; i < B; ++i) {
    const T* zi = z.col(i).data();
    T* xi = c.xhat.col(i).data();
    for (Index j = 0; j < n; ++j)
      xi[j] = static_cast<T>((static_cast<double>(zi[j]) - mu[j]) * s[j]);
  }
}

// ---- batch, training: per unit over the batch ----

// μ_j, σ²_j (two passes over z, column by column), s_j, x̂, y; then the running statistics.
template <class T>
static void batch_forward(const NormSpec& spec, const NormParams<T>& p, const Mat<T>& z,
                          NormCache<T>& c, Mat<T>& y, NormRunning* running) {
  const Index n = z.rows(), B = z.cols();
  const double inv_b = 1.0 / static_cast<double>(B);
  c.mean.setZero(n);
  c.var.setZero(n);
  double* mu = c.mean.data();
  double* var = c.var.data();
  for (Index i = 0; i < B; ++i) {
    const T* zi = z.col(i).data();
    for (Index j = 0; j < n; ++j) mu[j] += static_cast<double>(zi[j]);
  }
  c.mean *= inv_b;
  for (Index i = 0; i < B; ++i) {
    const T* zi = z.col(i).data();
    for (Index j = 0; j < n; ++j) {
      const double d = static_cast<double>(zi[j]) - mu[j];
      var[j] += d * d;
    }
  }
  c.var *= inv_b;
  c.inv_std = (c.var.array() + spec.eps).sqrt().inverse();
  xhat_by_unit(z, c);
  affine_forward(p, c.xhat, y);
  if (!running) return;
  if (B < 2)
    throw std::invalid_argument("batch norm: the running variance needs at least 2 examples");
  // PyTorch: running ← (1 − m) running + m·batch, with the unbiased variance σ² B/(B − 1).
  const double m = spec.momentum;
  const double unbiased = static_cast<double>(B) / static_cast<double>(B - 1);
  running->mean = (1.0 - m) * running->mean + m * c.mean;
  running->var = (1.0 - m) * running->var + (m * unbiased) * c.var;
}

// dγ, dβ, then dz_i = γ ⊙ s ⊙ (g_i − dβ − x̂_i ⊙ dγ): the batch means of g and g ⊙ x̂ are dβ, dγ.
template <class T>
static void batch_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g,
                           Mat<T>& dz, NormGrads<T>& grads) {
  const Index n = g.rows(), B = g.cols();
  affine_backward(c.xhat, g, grads);
  const double inv_b = 1.0 / static_cast<double>(B);
  dz.resize(n, B);
  const double* sg = grads.sum_g.data();
  const double* sgx = grads.sum_gx.data();
  const double* s = c.inv_std.data();
  const T* gamma = p.gamma.data();
  for (Index i = 0; i < B; ++i) {
    const T* gi = g.col(i).data();
    const T* xi = c.xhat.col(i).data();
    T* di = dz.col(i).data();
    for (Index j = 0; j < n; ++j) {
      const double centered = static_cast<double>(gi[j]) - sg[j] * inv_b -
                              static_cast<double>(xi[j]) * (sgx[j] * inv_b);
      di[j] = static_cast<T>(static_cast<double>(gamma[j]) * s[j] * centered);
    }
  }
}

// ---- batch, eval: the running statistics, no coupling ----

template <class T>
static void batch_eval_forward(const NormSpec& spec, const NormParams<T>& p,
                               const NormRunning& running, const Mat<T>& z, NormCache<T>& c,
                               Mat<T>& y) {
  c.mean = running.mean;
  c.var = running.var;
  c.inv_std = (c.var.array() + spec.eps).sqrt().inverse();
  xhat_by_unit(z, c);
  affine_forward(p, c.xhat, y);
}

// dz_i = γ ⊙ s ⊙ g_i.
template <class T>
static void batch_eval_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g,
                                Mat<T>& dz, NormGrads<T>& grads) {
  const Index n = g.rows(), B = g.cols();
  affine_backward(c.xhat, g, grads);
  dz.resize(n, B);
  const double* s = c.inv_std.data();
  const T* gamma = p.gamma.data();
  for (Index i = 0; i < B; ++i) {
    const T* gi = g.col(i).data();
    T* di = dz.col(i).data();
    for (Index j = 0; j < n; ++j)
      di[j] = static_cast<T>(static_cast<double>(gamma[j]) * s[j] * static_cast<double>(gi[j]));
  }
}

// ---- layer: per example over the units ----

template <class T>
static void layer_forward(const NormSpec& spec, const NormParams<T>& p, const Mat<T>& z,
                          NormCache<T>& c, Mat<T>& y) {
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
  affine_forward(p, c.xhat, y);
}

// dγ, dβ, then per example dz_i = s_i (h_i − mean_j h_ji − x̂_i · mean_j h_ji x̂_ji), h_i = γ ⊙ g_i.
template <class T>
static void layer_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g,
                           Mat<T>& dz, NormGrads<T>& grads) {
  const Index n = g.rows(), B = g.cols();
  affine_backward(c.xhat, g, grads);
  const double inv_n = 1.0 / static_cast<double>(n);
  dz.resize(n, B);
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
void norm_forward(const NormSpec& spec, const NormParams<T>& p, const Mat<T>& z, NormCache<T>& c,
                  Mat<T>& y, NormRunning* running) {
  c.kind = spec.kind;
  c.coupled = spec.kind == NormKind::batch;
  switch (spec.kind) {
    case NormKind::batch:
      return batch_forward(spec, p, z, c, y, running);
    case NormKind::layer:
      return layer_forward(spec, p, z, c, y);
    case NormKind::none:
    case NormKind::count:
      y = z;
      return;
  }
}

template <class T>
void norm_forward_eval(const NormSpec& spec, const NormParams<T>& p, const NormRunning& running,
                       const Mat<T>& z, NormCache<T>& c, Mat<T>& y) {
  if (spec.kind != NormKind::batch) return norm_forward(spec, p, z, c, y);
  c.kind = spec.kind;
  c.coupled = false;
  batch_eval_forward(spec, p, running, z, c, y);
}

template <class T>
void norm_backward(const NormParams<T>& p, const NormCache<T>& c, const Mat<T>& g, Mat<T>& dz,
                   NormGrads<T>& grads) {
  switch (c.kind) {
    case NormKind::batch:
      if (c.coupled) return batch_backward(p, c, g, dz, grads);
      return batch_eval_backward(p, c, g, dz, grads);
    case NormKind::layer:
      return layer_backward(p, c, g, dz, grads);
    case NormKind::none:
    case NormKind::count:
      dz = g;
      grads.dgamma.setZero(p.gamma.size());
      grads.dbeta.setZero(p.beta.size());
      return;
  }
}

template <class T>
Moments moments_of(const Mat<T>& z) {
  const Index n = z.size();
  if (n == 0) return {nan_v, nan_v};
  const double mean = scan(z.data(), n).sum / static_cast<double>(n);
  return {mean, std_around(z.data(), n, mean)};
}

#define GL_NORM_INST(T)                                                                         \
  template NormParams<T> norm_params_init<T>(Index);                                            \
  template void norm_forward<T>(const NormSpec&, const NormParams<T>&, const Mat<T>&,           \
                                NormCache<T>&, Mat<T>&, NormRunning*);                          \
  template void norm_forward_eval<T>(const NormSpec&, const NormParams<T>&, const NormRunning&, \
                                     const Mat<T>&, NormCache<T>&, Mat<T>&);                    \
  template void norm_backward<T>(const NormParams<T>&, const NormCache<T>&, const Mat<T>&,      \
                                 Mat<T>&, NormGrads<T>&);                                       \
  template Moments moments_of<T>(const Mat<T>&);
GL_NORM_INST(float)
GL_NORM_INST(double)

}  // namespace gl
