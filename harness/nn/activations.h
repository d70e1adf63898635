// The closed set of activations (docs/reference.md §3.1): forward φ(z) and derivative φ'(z),
// numerically stable. At a kink the derivative is the left one (relu'(0) = 0, hard_tanh'(1) = 1).
// maxout is a layer-level operation (harness/nn/mlp.cpp): here it is the identity on the winning
// piece.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "harness/core/closed_set.h"
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
  mish,
  hard_tanh,
  hard_sigmoid,
  binary_step,
  maxout,
  count
};
inline constexpr int activation_count = static_cast<int>(count_of<Activation>);

enum class RreluConvention { pytorch, paper, count };
inline constexpr std::string_view rrelu_convention_names[] = {"pytorch", "paper"};
static_assert(std::size(rrelu_convention_names) == count_of<RreluConvention>);

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

// ---- the table: one row per activation ----

using ActivationParam = Param<ActivationSpec>;
inline constexpr ActivationParam leaky_relu_params[] = {
    {.name = "slope", .at = member<&ActivationSpec::slope>, .def = 0.01}};
inline constexpr ActivationParam prelu_params[] = {
    {.name = "slope", .at = member<&ActivationSpec::slope>, .def = 0.25}};
inline constexpr ActivationParam rrelu_params[] = {
    {.name = "lower",
     .at = member<&ActivationSpec::lower>,
     .def = 1.0 / 8,
     .range_of =
         [](const ActivationSpec& f) {  // the paper draws 1/slope: lower > 0
           return f.convention == RreluConvention::paper ? positive : non_negative;
         }},
    {.name = "upper",
     .at = member<&ActivationSpec::upper>,
     .def = 1.0 / 3,
     .range = non_negative,
     .at_least = "lower"},
    {.name = "convention",
     .at = member<&ActivationSpec::convention>,
     .def = 0,
     .type = ParamType::choice,
     .choices = rrelu_convention_names}};
inline constexpr ActivationParam elu_params[] = {
    {.name = "alpha", .at = member<&ActivationSpec::alpha>, .def = 1.0, .range = non_negative}};
inline constexpr ActivationParam softplus_params[] = {
    {.name = "beta", .at = member<&ActivationSpec::beta>, .def = 1.0, .range = positive}};
inline constexpr ActivationParam maxout_params[] = {{.name = "pieces",
                                                     .at = member<&ActivationSpec::pieces>,
                                                     .def = 2,
                                                     .type = ParamType::integer,
                                                     .range = {2, 64}}};

// Kinks: the z where φ or φ′ is not smooth (φ′ takes the left derivative there). The theory's
// quadrature splits at them (and at 0); the finite-difference tests keep away from them.
inline constexpr double kinks_zero[] = {0.0};
inline constexpr double kinks_relu6[] = {0.0, 6.0};
inline constexpr double kinks_hard_tanh[] = {-1.0, 1.0};
inline constexpr double kinks_hard_sigmoid[] = {-3.0, 3.0};
inline constexpr std::string_view swish_aliases[] = {"silu"};

struct ActivationInfo {
  Activation kind;
  std::string_view name;
  std::span<const ActivationParam> params;
  // sup |φ′| over the real line at these parameters' defaults; for the piecewise-linear units and
  // elu, activation_sup_deriv takes the larger of it and the negative side's slope.
  double sup_deriv;
  std::span<const double> kinks;
  std::string_view catalog;  // its line in `gradlab list`
  std::span<const std::string_view> aliases = {};
};

// clang-format off
inline constexpr ActivationInfo activation_table[] = {
    {Activation::identity,     "identity",     {},                1.0, {},              ""},
    {Activation::sigmoid,      "sigmoid",      {},               0.25, {},              "1/(1+e^-z)"},
    {Activation::tanh,         "tanh",         {},                1.0, {},              ""},
    {Activation::softsign,     "softsign",     {},                1.0, {},              "z/(1+|z|)"},
    {Activation::arctan,       "arctan",       {},                1.0, {},              "atan(z)"},
    {Activation::relu,         "relu",         {},                1.0, kinks_zero,      "max(z, 0)"},
    {Activation::relu6,        "relu6",        {},                1.0, kinks_relu6,     "min(max(z, 0), 6)"},
    {Activation::leaky_relu,   "leaky_relu",   leaky_relu_params, 1.0, kinks_zero,      "slope=0.01"},
    {Activation::prelu,        "prelu",        prelu_params,      1.0, kinks_zero,
     "slope=0.25 (the initial slope; learned in training)"},
    {Activation::rrelu,        "rrelu",        rrelu_params,      1.0, kinks_zero,
     "lower=1/8  upper=1/3  convention=pytorch | paper (paper: slope 1/U(3, 8))"},
    {Activation::elu,          "elu",          elu_params,        1.0, kinks_zero,      "alpha=1 (>= 0)"},
    {Activation::selu,         "selu",         {},  selu_lambda * selu_alpha, kinks_zero,
     "lambda=1.0507009873554805  alpha=1.6732632423543772 (fixed)"},
    {Activation::softplus,     "softplus",     softplus_params,   1.0, {},
     "beta=1 (> 0): (1/beta) log(1 + e^(beta z))"},
    // max of σ(z)(1 + z(1-σ(z))), at z ≈ 2.39936
    {Activation::swish,        "swish",        {}, 1.0998393201288669, {},            "z sigmoid(z)", swish_aliases},
    // max of Φ(z) + zφ(z) = Φ(√2) + √2φ(√2)
    {Activation::gelu,         "gelu",         {}, 1.1289041451851548, {},            "exact: z Phi(z)"},
    // max of φ′ = t + z(1 - t²)σ(z), t = tanh(softplus(z)), at z ≈ 1.4905711794854285: the root
    // of φ″ found by mpmath.findroot at 40 digits (the minimum, -0.1125 at z ≈ -2.2564, is smaller)
    {Activation::mish,         "mish",         {}, 1.0884981612517279, {},            "z tanh(softplus(z))"},
    {Activation::hard_tanh,    "hard_tanh",    {},                1.0, kinks_hard_tanh, "clip(z, -1, 1)"},
    {Activation::hard_sigmoid, "hard_sigmoid", {},          1.0 / 6, kinks_hard_sigmoid,
     "relu6(z + 3)/6 (PyTorch's): clip(z/6 + 1/2, 0, 1)"},
    {Activation::binary_step,  "binary_step",  {},                0.0, kinks_zero,
     "1[z > 0], derivative 0 everywhere"},  // φ′ ≡ 0: every unit counts as saturated
    {Activation::maxout,       "maxout",       maxout_params,     1.0, {},
     "pieces=2 (2..64): the largest of k affine pieces"},
};
// clang-format on
static_assert(rows_in_enum_order(activation_table));

constexpr const ActivationInfo& activation_info(Activation f) {
  return activation_table[static_cast<size_t>(f)];
}

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

// Matrix form, elementwise over blocks (units, batch) of z's shape (e.g. a step's columns of an
// RNN's history), no allocation: a = φ(z), dphi = φ'(z), as the scalar forms (tanh: Eigen's
// vectorized form). Uses the probe-time slope for rrelu (training's random slopes are applied by
// the model).
template <class T>
void activation_apply(const ActivationSpec& f, const Eigen::Ref<const Mat<T>>& z,
                      Eigen::Ref<Mat<T>> a, Eigen::Ref<Mat<T>> dphi);

}  // namespace gl
