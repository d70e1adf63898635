#include "harness/nn/activations.h"

#include <cmath>
#include <stdexcept>

namespace gl {

std::string_view activation_name(Activation f) { return activation_info(f).name; }

std::optional<Activation> activation_from_name(std::string_view name) {
  return kind_from_name(activation_table, name);
}

std::string activation_names_list() {
  std::string s;
  for (const ActivationInfo& a : activation_table)
    s += (s.empty() ? "" : ", ") + std::string(a.name);
  for (const ActivationInfo& a : activation_table)
    for (auto alias : a.aliases) s += ", " + std::string(alias);
  return s;
}

double activation_probe_slope(const ActivationSpec& f) {
  switch (f.kind) {
    case Activation::leaky_relu:
    case Activation::prelu:
      return f.slope;
    case Activation::rrelu:
      // pytorch: E[U(lower, upper)] = 11/48 for the defaults; paper: 1/mean(U(3, 8)) = 2/11.
      return f.convention == RreluConvention::pytorch ? 0.5 * (f.lower + f.upper)
                                                      : 2.0 / (1.0 / f.lower + 1.0 / f.upper);
    default:
      return 0.0;
  }
}

double activation_sup_deriv(const ActivationSpec& f) {
  const double sup = activation_info(f.kind).sup_deriv;
  switch (f.kind) {
    case Activation::leaky_relu:
    case Activation::prelu:
    case Activation::rrelu:
      return std::max(sup, std::abs(activation_probe_slope(f)));
    case Activation::elu:
      return std::max(sup, f.alpha);
    default:
      return sup;
  }
}

// ---- scalar forms ----

template <class T>
static T sigmoid_stable(T z) {
  // 1/(1+e^-z) for z >= 0, e^z/(1+e^z) otherwise: no overflow for any finite z.
  const T e = std::exp(-std::abs(z));
  return z >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
}

// tanh(softplus(z)) and sech²(softplus(z)) from e = e^{-2 softplus(z)} ∈ (0, 1]: no overflow, and
// expm1 keeps tanh's relative precision where softplus(z) → 0 (z → −∞).
template <class T>
static void mish_parts(T z, T& t, T& sech2) {
  const T sp = std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)));
  const T e = std::exp(T(-2) * sp);
  t = -std::expm1(T(-2) * sp) / (T(1) + e);
  sech2 = T(4) * e / ((T(1) + e) * (T(1) + e));
}

template <class T>
T activation_value(const ActivationSpec& f, T z) {
  switch (f.kind) {
    case Activation::identity:
      return z;
    case Activation::sigmoid:
      return sigmoid_stable(z);
    case Activation::tanh:
      return std::tanh(z);
    case Activation::softsign:
      return z / (T(1) + std::abs(z));
    case Activation::arctan:
      return std::atan(z);
    case Activation::relu:
      return z > T(0) ? z : T(0);
    case Activation::relu6:
      return z > T(0) ? (z < T(6) ? z : T(6)) : T(0);
    case Activation::leaky_relu:
    case Activation::prelu:
    case Activation::rrelu:
      return z > T(0) ? z : static_cast<T>(activation_probe_slope(f)) * z;
    case Activation::elu:
      return z > T(0) ? z : static_cast<T>(f.alpha) * std::expm1(z);
    case Activation::selu:
      return static_cast<T>(selu_lambda) *
             (z > T(0) ? z : static_cast<T>(selu_alpha) * std::expm1(z));
    case Activation::softplus: {
      // (1/β) log(1 + e^{βz}) = max(z, 0) + (1/β) log1p(e^{-β|z|})
      const T b = static_cast<T>(f.beta);
      return std::max(z, T(0)) + std::log1p(std::exp(-b * std::abs(z))) / b;
    }
    case Activation::swish:
      return z * sigmoid_stable(z);
    case Activation::gelu:
      return T(0.5) * z * (T(1) + std::erf(z * static_cast<T>(0.70710678118654752440)));
    case Activation::mish: {
      T t, sech2;
      mish_parts(z, t, sech2);
      return z * t;
    }
    case Activation::hard_tanh:
      return z > T(1) ? T(1) : (z < T(-1) ? T(-1) : z);
    case Activation::hard_sigmoid:  // relu6(z + 3)/6
      return z > T(3) ? T(1) : (z <= T(-3) ? T(0) : z / T(6) + T(0.5));
    case Activation::binary_step:
      return z > T(0) ? T(1) : T(0);
    case Activation::maxout:
      return z;
    case Activation::count:
      break;
  }
  throw std::logic_error("unreachable");
}

template <class T>
T activation_deriv(const ActivationSpec& f, T z) {
  switch (f.kind) {
    case Activation::identity:
      return T(1);
    case Activation::sigmoid: {
      const T e =
          std::exp(-std::abs(z));  // σ' = σ(z)σ(-z) = e^{-|z|}/(1+e^{-|z|})², no cancellation
      return e / ((T(1) + e) * (T(1) + e));
    }
    case Activation::tanh: {
      const T e = std::exp(T(-2) * std::abs(z));  // 1 - tanh² = 4e^{-2|z|}/(1+e^{-2|z|})²
      return T(4) * e / ((T(1) + e) * (T(1) + e));
    }
    case Activation::softsign: {
      const T d = T(1) + std::abs(z);
      return T(1) / (d * d);
    }
    case Activation::arctan:
      return T(1) / (T(1) + z * z);
    case Activation::relu:
      return z > T(0) ? T(1) : T(0);
    case Activation::relu6:
      return (z > T(0) && z <= T(6)) ? T(1) : T(0);
    case Activation::leaky_relu:
    case Activation::prelu:
    case Activation::rrelu:
      return z > T(0) ? T(1) : static_cast<T>(activation_probe_slope(f));
    case Activation::elu:
      return z > T(0) ? T(1) : static_cast<T>(f.alpha) * std::exp(z);
    case Activation::selu:
      return static_cast<T>(selu_lambda) *
             (z > T(0) ? T(1) : static_cast<T>(selu_alpha) * std::exp(z));
    case Activation::softplus:
      return sigmoid_stable(static_cast<T>(f.beta) * z);
    case Activation::swish: {
      const T s = sigmoid_stable(z);
      return s + z * s * (T(1) - s);
    }
    case Activation::gelu: {
      // Φ(z) + z φ(z)
      const T cdf = T(0.5) * (T(1) + std::erf(z * static_cast<T>(0.70710678118654752440)));
      const T pdf = static_cast<T>(0.39894228040143267794) * std::exp(T(-0.5) * z * z);
      return cdf + z * pdf;
    }
    case Activation::mish: {  // tanh(sp) + z sech²(sp) σ(z), sp = softplus(z)
      T t, sech2;
      mish_parts(z, t, sech2);
      return t + z * sech2 * sigmoid_stable(z);
    }
    case Activation::hard_tanh:
      return (z > T(-1) && z <= T(1)) ? T(1) : T(0);
    case Activation::hard_sigmoid:
      return (z > T(-3) && z <= T(3)) ? T(1) / T(6) : T(0);
    case Activation::binary_step:
      return T(0);
    case Activation::maxout:
      return T(1);
    case Activation::count:
      break;
  }
  throw std::logic_error("unreachable");
}

// ---- matrix forms ----
// The kernels write into blocks (Eigen::Ref): whole matrices, or a step's columns of a history.

template <class T>
using CRef = Eigen::Ref<const Mat<T>>;
template <class T>
using MRef = Eigen::Ref<Mat<T>>;

// out = g(z) elementwise, column by column: a plain loop the compiler vectorizes (Eigen 3.4's
// select and bool→T cast run one scalar at a time).
template <class T, class G>
static void for_each_column(const CRef<T>& z, MRef<T>& out, G g) {
  for (Index j = 0; j < z.cols(); ++j) {
    const T* zc = z.col(j).data();
    T* oc = out.col(j).data();
    for (Index i = 0; i < z.rows(); ++i) oc[i] = g(zc[i]);
  }
}

template <class T>
static void forward_into(const ActivationSpec& f, const CRef<T>& z, MRef<T> a) {
  switch (f.kind) {
    case Activation::identity:
    case Activation::maxout:
      a = z;
      return;
    case Activation::tanh:
      a = z.array().tanh();  // vectorized for float (Eigen's rational approximation)
      return;
    case Activation::relu:
      a = z.array().max(T(0));
      return;
    case Activation::leaky_relu:
    case Activation::prelu:
    case Activation::rrelu: {
      const T s = static_cast<T>(activation_probe_slope(f));
      for_each_column(z, a, [s](T v) { return v > T(0) ? v : s * v; });
      return;
    }
    default:
      a = z.unaryExpr([&f](T v) { return activation_value<T>(f, v); });
      return;
  }
}

template <class T>
static void deriv_into(const ActivationSpec& f, const CRef<T>& z, MRef<T> dphi) {
  switch (f.kind) {
    case Activation::identity:
    case Activation::maxout:
      dphi.setOnes();
      return;
    case Activation::tanh: {
      // 1 - a² loses all relative precision where |a| → 1; this form keeps it in deep saturation.
      const auto e = (T(-2) * z.array().abs()).exp();
      dphi = T(4) * e / (T(1) + e).square();
      return;
    }
    case Activation::relu:
      for_each_column(z, dphi, [](T v) { return v > T(0) ? T(1) : T(0); });
      return;
    case Activation::leaky_relu:
    case Activation::prelu:
    case Activation::rrelu: {
      const T s = static_cast<T>(activation_probe_slope(f));
      for_each_column(z, dphi, [s](T v) { return v > T(0) ? T(1) : s; });
      return;
    }
    default:
      dphi = z.unaryExpr([&f](T v) { return activation_deriv<T>(f, v); });
      return;
  }
}

template <class T>
void activation_apply(const ActivationSpec& f, const CRef<T>& z, MRef<T> a, MRef<T> dphi) {
  forward_into<T>(f, z, a);
  deriv_into<T>(f, z, dphi);
}

template float activation_value<float>(const ActivationSpec&, float);
template double activation_value<double>(const ActivationSpec&, double);
template float activation_deriv<float>(const ActivationSpec&, float);
template double activation_deriv<double>(const ActivationSpec&, double);
template void activation_apply<float>(const ActivationSpec&, const CRef<float>&, MRef<float>,
                                      MRef<float>);
template void activation_apply<double>(const ActivationSpec&, const CRef<double>&, MRef<double>,
                                       MRef<double>);

}  // namespace gl
