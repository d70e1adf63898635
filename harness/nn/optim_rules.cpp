#include "harness/nn/optim_rules.h"

#include <algorithm>
#include <limits>

#include "harness/measure/metrics.h"

namespace gl {

OptimizerSpec optimizer_spec_default(OptimizerKind kind) {
  OptimizerSpec s;
  s.kind = kind;
  switch (kind) {
    case OptimizerKind::sgd:
      break;
    case OptimizerKind::adagrad:
      s.eps = 1e-10;
      break;
    case OptimizerKind::rmsprop:
      break;
    case OptimizerKind::adam:
      s.lr = 1e-3;
      break;
    case OptimizerKind::adamw:
      s.lr = 1e-3;
      s.weight_decay = 0.01;
      break;
    case OptimizerKind::count:
      break;
  }
  return s;
}

template <class T>
OptimizerState<T> optimizer_state_make(const OptimizerSpec& spec, Index n) {
  using K = OptimizerKind;
  OptimizerState<T> st;
  const K k = spec.kind;
  const bool m = (k == K::sgd && spec.momentum != 0) || (k == K::rmsprop && spec.momentum != 0) ||
                 k == K::adam || k == K::adamw;
  if (m) st.m = Vec<T>::Zero(n);
  if (k == K::adagrad) st.v = Vec<T>::Constant(n, static_cast<T>(spec.initial_accumulator_value));
  if (k == K::rmsprop || k == K::adam || k == K::adamw) st.v = Vec<T>::Zero(n);
  if (k == K::rmsprop && spec.centered) st.g_avg = Vec<T>::Zero(n);
  return st;
}

double optimizer_step(const OptimizerSpec& spec, double& param, double grad,
                      OptimizerState<double>& state) {
  Eigen::Map<Eigen::Matrix<double, 1, 1>> p(&param);
  return optimizer_step(spec, p, Eigen::Matrix<double, 1, 1>::Constant(grad), state);
}

template <class T>
double update_ratio(double delta_norm, const T* param, Index n) {
  const double norm = stable_norm(param, n);
  if (norm == 0) return delta_norm == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return delta_norm / norm;
}

template <class T>
double effective_lr_median(const OptimizerSpec& spec, const OptimizerState<T>& state,
                           std::vector<double>& scratch) {
  using K = OptimizerKind;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double t = static_cast<double>(state.step);
  double lr = spec.lr, v_scale = 1;  // η/(√(v·v_scale) + ε)
  switch (spec.kind) {
    case K::sgd:
    case K::count:
      return nan;
    case K::adagrad:
      lr = spec.lr / (1.0 + std::max(t - 1, 0.0) * spec.lr_decay);
      break;
    case K::rmsprop:
      break;
    case K::adam:
    case K::adamw:
      if (state.step == 0) return nan;
      v_scale = 1.0 / (1.0 - std::pow(spec.beta2, t));
      break;
  }
  const Index n = state.v.size();
  if (n == 0) return nan;
  const bool centered = spec.kind == K::rmsprop && spec.centered;
  scratch.resize(static_cast<size_t>(n));
  for (Index k = 0; k < n; ++k) {
    double v = static_cast<double>(state.v[k]);
    if (centered) v -= static_cast<double>(state.g_avg[k]) * static_cast<double>(state.g_avg[k]);
    scratch[static_cast<size_t>(k)] = lr / (std::sqrt(v * v_scale) + spec.eps);
  }
  const auto mid = scratch.begin() + n / 2;
  std::nth_element(scratch.begin(), mid, scratch.end());
  if (n % 2 == 1) return *mid;
  return 0.5 * (*mid + *std::max_element(scratch.begin(), mid));
}

#define GL_OPTIM_RULES_INST(T)                                                           \
  template OptimizerState<T> optimizer_state_make<T>(const OptimizerSpec&, Index);       \
  template double update_ratio<T>(double, const T*, Index);                              \
  template double effective_lr_median<T>(const OptimizerSpec&, const OptimizerState<T>&, \
                                         std::vector<double>&);
GL_OPTIM_RULES_INST(float)
GL_OPTIM_RULES_INST(double)

}  // namespace gl
