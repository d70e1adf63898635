#include "harness/nn/activations.h"

#include <cmath>
#include <stdexcept>

namespace gl {

std::string_view activation_name(Activation f) { return activation_names[static_cast<size_t>(f)]; }

std::optional<Activation> activation_from_name(std::string_view name) {
  if (name == "silu") return Activation::swish;
  for (int i = 0; i < activation_count; ++i)
    if (activation_names[static_cast<size_t>(i)] == name) return static_cast<Activation>(i);
  return std::nullopt;
}

std::string activation_names_list() {
  std::string s;
  for (auto n : activation_names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s + ", silu";
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
  switch (f.kind) {
    case Activation::identity:
      return 1.0;
    case Activation::sigmoid:
      return 0.25;
    case Activation::tanh:
      return 1.0;
    case Activation::softsign:
      return 1.0;
    case Activation::arctan:
      return 1.0;
    case Activation::relu:
      return 1.0;
    case Activation::relu6:
      return 1.0;
    case Activation::leaky_relu:
    case Activation::prelu:
    case Activation::rrelu:
      return std::max(1.0, std::abs(activation_probe_slope(f)));
    case Activation::elu:
      return std::max(1.0, f.alpha);
    case Activation::selu:
      return selu_lambda * std::max(1.0, selu_alpha);
    case Activation::softplus:
      return 1.0;
    case Activation::swish:
      return 1.0998393201288669;  // max of σ(z)(1 + z(1-σ(z))), at z ≈ 2.39936
    case Activation::gelu:
      return 1.1289041451851548;  // max of Φ(z) + zφ(z) = Φ(√2) + √2φ(√2)
    case Activation::hard_tanh:
      return 1.0;
    case Activation::binary_step:
      return 0.0;  // φ' ≡ 0: every unit counts as saturated
    case Activation::maxout:
      return 1.0;
  }
  throw std::logic_error("unreachable");
}

// ---- scalar forms ----

template <class T>
static T sigmoid_stable(T z) {
  // 1/(1+e^-z) for z >= 0, e^z/(1+e^z) otherwise: no overflow for any finite z.
  const T e = std::exp(-std::abs(z));
  return z >= T(0) ? T(1) / (T(1) + e) : e / (T(1) + e);
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
    case Activation::hard_tanh:
      return z > T(1) ? T(1) : (z < T(-1) ? T(-1) : z);
    case Activation::binary_step:
      return z > T(0) ? T(1) : T(0);
    case Activation::maxout:
      return z;
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
    case Activation::hard_tanh:
      return (z > T(-1) && z <= T(1)) ? T(1) : T(0);
    case Activation::binary_step:
      return T(0);
    case Activation::maxout:
      return T(1);
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
void activation_forward(const ActivationSpec& f, const Mat<T>& z, Mat<T>& a) {
  a.resize(z.rows(), z.cols());
  forward_into<T>(f, z, a);
}

template <class T>
void activation_deriv(const ActivationSpec& f, const Mat<T>& z, Mat<T>& dphi) {
  dphi.resize(z.rows(), z.cols());
  deriv_into<T>(f, z, dphi);
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
template void activation_forward<float>(const ActivationSpec&, const Mat<float>&, Mat<float>&);
template void activation_forward<double>(const ActivationSpec&, const Mat<double>&, Mat<double>&);
template void activation_deriv<float>(const ActivationSpec&, const Mat<float>&, Mat<float>&);
template void activation_deriv<double>(const ActivationSpec&, const Mat<double>&, Mat<double>&);
template void activation_apply<float>(const ActivationSpec&, const CRef<float>&, MRef<float>,
                                      MRef<float>);
template void activation_apply<double>(const ActivationSpec&, const CRef<double>&, MRef<double>,
                                       MRef<double>);

}  // namespace gl
