#include "harness/nn/optim_rules.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <optional>
#include <type_traits>

#include "harness/measure/metrics.h"

namespace gl {

namespace {

// The values of rank n − 1 − ⌊n/2⌋ (lo) and ⌊n/2⌋ (hi) of x[0..n) in ascending order (one value
// for odd n), or nothing if some x is NaN or negative. Non-negative IEEE values order as their bit
// patterns: a histogram of the leading 16 bits (in scratch[0..2^16)) finds the bucket holding rank
// ⌊n/2⌋; nth_element then sorts out that bucket's values (copied after the histogram), and the
// rank below it is the largest of the bucket's lower part or of the buckets below.
struct Middle {
  double lo, hi;
};

template <class T>
std::optional<Middle> middle_of(const T* x, Index n, std::vector<double>& scratch) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  constexpr int shift = 8 * sizeof(T) - 16;
  const auto key = [](T v) { return static_cast<size_t>(std::bit_cast<U>(v) >> shift); };
  constexpr size_t buckets = size_t(1) << 16;
  scratch.assign(buckets, 0.0);
  bool ok = true;
  for (Index i = 0; i < n; ++i) {
    ok &= !std::signbit(x[i]) && !std::isnan(x[i]);  // (−0 has the sign bit: the slow path)
    scratch[key(x[i])] += 1;
  }
  if (!ok) return std::nullopt;
  const Index k = n / 2;
  size_t b = 0;
  Index below = 0;  // values in buckets < b
  for (; below + static_cast<Index>(scratch[b]) <= k; ++b) below += static_cast<Index>(scratch[b]);
  double lower = -1;  // the largest value in buckets < b
  scratch.resize(buckets + static_cast<size_t>(scratch[b]));
  size_t c = buckets;
  for (Index i = 0; i < n; ++i) {
    const size_t kb = key(x[i]);
    if (kb == b)
      scratch[c++] = static_cast<double>(x[i]);
    else if (kb < b)
      lower = std::max(lower, static_cast<double>(x[i]));
  }
  const auto first = scratch.begin() + static_cast<std::ptrdiff_t>(buckets);
  const auto at = first + static_cast<std::ptrdiff_t>(k - below);
  std::nth_element(first, at, scratch.end());
  const double hi = *at;
  if (n % 2 == 1) return Middle{hi, hi};
  return Middle{at == first ? lower : *std::max_element(first, at), hi};
}

}  // namespace

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
  const auto rate = [&](double v) { return lr / (std::sqrt(v * v_scale) + spec.eps); };
  // rate(v) does not increase with v when lr > 0 and v ≥ 0, so the i-th smallest rate is the rate
  // of the i-th largest v: select on v, then take two rates (the same values as sorting n rates;
  // 4x faster on W1's 1000x1000 matrices). Centered rmsprop, NaN or negative v: every rate.
  const bool centered = spec.kind == K::rmsprop && spec.centered;
  if (!centered && lr > 0 && spec.eps >= 0) {
    const std::optional<Middle> mid = middle_of(state.v.data(), n, scratch);
    if (mid) return n % 2 == 1 ? rate(mid->hi) : 0.5 * (rate(mid->lo) + rate(mid->hi));
  }
  scratch.resize(static_cast<size_t>(n));
  for (Index k = 0; k < n; ++k) {
    double v = static_cast<double>(state.v[k]);
    if (centered) v -= static_cast<double>(state.g_avg[k]) * static_cast<double>(state.g_avg[k]);
    scratch[static_cast<size_t>(k)] = rate(v);
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
