// The closed set of activations (docs/reference.md §3.1): forward φ(z) and derivative φ'(z),
// numerically stable. At a kink the derivative is the left one (relu'(0) = 0, hard_tanh'(1) = 1).
// maxout is a layer-level operation (harness/mlp.cpp): here it is the identity on the winning
// piece.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "harness/core/types.h"

namespace gl {

enum class Activation {
  identity,
  sigmoid,
  tanh,
  softsign,
  arctan,
  relu,
  relu6,
  leaky_relu,
  prelu,
  rrelu,
  elu,
  selu,
  softplus,
  swish,
  gelu,
  hard_tanh,
  binary_step,
  maxout,
};
inline constexpr int activation_count = 18;
inline constexpr std::array<std::string_view, activation_count> activation_names = {
    "identity", "sigmoid",    "tanh",  "softsign",  "arctan",      "relu",
    "relu6",    "leaky_relu", "prelu", "rrelu",     "elu",         "selu",
    "softplus", "swish",      "gelu",  "hard_tanh", "binary_step", "maxout"};

enum class RreluConvention { pytorch, paper };

// An activation and its parameters (only those of its kind are meaningful).
struct ActivationSpec {
  Activation kind = Activation::tanh;
  double slope = 0.01;     // leaky_relu (default 0.01), prelu (initial slope, default 0.25)
  double lower = 1.0 / 8;  // rrelu, pytorch convention: slope ~ U(lower, upper)
  double upper = 1.0 / 3;
  RreluConvention convention = RreluConvention::pytorch;
  double alpha = 1.0;  // elu
  double beta = 1.0;   // softplus
  int pieces = 2;      // maxout
};

inline constexpr double selu_lambda = 1.0507009873554804934;
inline constexpr double selu_alpha = 1.6732632423543772848;

std::string_view activation_name(Activation f);
// Accepts the canonical names and the alias "silu" (= swish).
std::optional<Activation> activation_from_name(std::string_view name);
std::string activation_names_list();  // "identity, sigmoid, ..." for error messages

// The negative-side slope a piecewise-linear unit uses at probe time (leaky, prelu, rrelu's mean).
double activation_probe_slope(const ActivationSpec& f);
// sup |φ'| over the real line: the scale of the saturation rule |φ'(z)| < τ·sup|φ'|.
double activation_sup_deriv(const ActivationSpec& f);

// Scalar forms, in double (reference and mean-field theory) and in T (the matrix forms use them).
template <class T>
T activation_value(const ActivationSpec& f, T z);
template <class T>
T activation_deriv(const ActivationSpec& f, T z);

// Matrix forms, elementwise over (units, batch): a = φ(z); dphi = φ'(z).
// Both use the probe-time slope for rrelu (training's random slopes are applied by the model).
template <class T>
void activation_forward(const ActivationSpec& f, const Mat<T>& z, Mat<T>& a);
template <class T>
void activation_deriv(const ActivationSpec& f, const Mat<T>& z, Mat<T>& dphi);
// Both at once into blocks of z's shape (e.g. a step's columns of an RNN's history), no
// allocation: a = φ(z), dphi = φ'(z), bit for bit as the two functions above.
template <class T>
void activation_apply(const ActivationSpec& f, const Eigen::Ref<const Mat<T>>& z,
                      Eigen::Ref<Mat<T>> a, Eigen::Ref<Mat<T>> dphi);

}  // namespace gl
