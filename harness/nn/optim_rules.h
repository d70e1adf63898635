// The update rules of torch.optim, one parameter tensor at a time, with PyTorch's conventions and
// defaults, so that the same gradients give the same trajectory as PyTorch. Training runs them
// through harness/nn/optim.h (the list of a model's parameter tensors and the rules around them).
//
// g is the gradient, θ the parameter, t the step count (1 on the first step), λ the weight decay.
// Every kind but adamw first adds the L2 term to the gradient: g ← g + λθ.
//   sgd      (Sutskever et al. 2013 in PyTorch's form), with momentum μ > 0:
//              v ← g on the first step, else v ← μv + (1 − dampening)·g
//              d ← g + μv (nesterov) or d ← v;   θ ← θ − lr·d          (μ = 0: θ ← θ − lr·g)
//   adagrad  (Duchi, Hazan & Singer 2011):
//              s ← s + g²   (s starts at initial_accumulator_value)
//              θ ← θ − lr_t·g/(√s + ε),   lr_t = lr/(1 + (t − 1)·lr_decay)
//   rmsprop  (Tieleman & Hinton 2012), ε outside the square root:
//              v ← αv + (1 − α)g²;  centered: ḡ ← αḡ + (1 − α)g, den = √(v − ḡ²) + ε, else √v + ε
//              μ > 0: b ← μb + g/den, θ ← θ − lr·b;   μ = 0: θ ← θ − lr·g/den
//   adam     (Kingma & Ba 2015):
//              m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²
//              m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ),  θ ← θ − lr·m̂/(√v̂ + ε)
//   adamw    (Loshchilov & Hutter 2019): decoupled decay θ ← θ − lr·λ·θ, then the adam step on g
//              (no L2 term).
//
// PyTorch's defaults (optimizer_spec_default):
//   kind      lr     momentum  eps     other
//   sgd       0.01*  0         —       dampening 0, nesterov false, weight_decay 0
//   adagrad   0.01   —         1e-10   lr_decay 0, initial_accumulator_value 0, weight_decay 0
//   rmsprop   0.01   0         1e-8    alpha 0.99, centered false, weight_decay 0
//   adam      0.001  —         1e-8    betas (0.9, 0.999), weight_decay 0
//   adamw     0.001  —         1e-8    betas (0.9, 0.999), weight_decay 0.01
//   (* PyTorch's SGD has no default lr: 0.01 here.)
#pragma once

#include <cmath>
#include <cstdint>
#include <string_view>
#include <vector>

#include "harness/core/closed_set.h"
#include "harness/core/types.h"

namespace gl {

enum class OptimizerKind { sgd, adagrad, rmsprop, adam, adamw, count };
inline constexpr std::string_view optimizer_kind_names[] = {"sgd", "adagrad", "rmsprop", "adam",
                                                            "adamw"};
static_assert(std::size(optimizer_kind_names) == count_of<OptimizerKind>);

struct OptimizerSpec {
  OptimizerKind kind = OptimizerKind::sgd;
  double lr = 0.01;
  double momentum = 0;                   // sgd, rmsprop
  double dampening = 0;                  // sgd
  bool nesterov = false;                 // sgd (needs momentum > 0 and dampening 0, as in PyTorch)
  double alpha = 0.99;                   // rmsprop smoothing
  bool centered = false;                 // rmsprop
  double eps = 1e-8;                     // adagrad 1e-10
  double beta1 = 0.9, beta2 = 0.999;     // adam, adamw
  double weight_decay = 0;               // L2 (adamw: decoupled, default 0.01)
  double lr_decay = 0;                   // adagrad
  double initial_accumulator_value = 0;  // adagrad
};

// The spec with PyTorch's defaults for kind (the table above).
OptimizerSpec optimizer_spec_default(OptimizerKind kind);

// The state of one parameter tensor of n values, linear in Eigen's (column-major) order:
//   m: sgd momentum buffer, rmsprop momentum buffer, adam/adamw first moment
//   v: adagrad sum of squares, rmsprop/adam/adamw second moment
//   g_avg: rmsprop centered mean gradient
// Buffers a kind does not use stay empty. step = number of steps taken.
template <class T>
struct OptimizerState {
  Vec<T> m, v, g_avg;
  int64_t step = 0;
};

// State for a tensor of n values: the buffers spec's kind uses, v of adagrad at
// initial_accumulator_value, the others 0.
template <class T>
OptimizerState<T> optimizer_state_make(const OptimizerSpec& spec, Index n);

// One step of spec's rule on param (a matrix or vector of T) with gradient grad (the same shape;
// any Eigen expression, read once per value). Every value is updated in T, the per-step scalars
// (bias corrections, lr_t) in double then rounded to T. Allocates nothing. Returns ‖Δθ‖, the
// norm of the change actually applied, accumulated in double; param_norm (if given) receives ‖θ‖
// after the step from the same pass (naive sum of squares in double).
template <class P, class G, class T>
double optimizer_step(const OptimizerSpec& spec, Eigen::MatrixBase<P>& param,
                      const Eigen::MatrixBase<G>& grad, OptimizerState<T>& state,
                      double* param_norm = nullptr) {
  using K = OptimizerKind;
  const int64_t t = ++state.step;
  const auto c = [](double x) { return static_cast<T>(x); };
  const T lr = c(spec.lr), wd = c(spec.weight_decay), mu = c(spec.momentum), eps = c(spec.eps);
  const T l2 = spec.kind == K::adamw ? T(0) : wd;  // L2 term added to g
  const double b1 = spec.beta1, b2 = spec.beta2;
  // Per-step scalars: adagrad's decayed rate; adam's step size lr/(1 − β₁ᵗ) and √(1 − β₂ᵗ).
  const T lr_t = c(spec.lr / (1.0 + static_cast<double>(t - 1) * spec.lr_decay));
  const T step_size = c(spec.lr / (1.0 - std::pow(b1, static_cast<double>(t))));
  const T bc2_sqrt = c(std::sqrt(1.0 - std::pow(b2, static_cast<double>(t))));
  const T decay = c(1.0 - spec.lr * spec.weight_decay);  // adamw's θ ← (1 − lr·λ)θ
  const T damp = c(1.0 - spec.dampening), alpha = c(spec.alpha), one_a = c(1.0 - spec.alpha);
  const T b1t = c(b1), b2t = c(b2), one_b1 = c(1.0 - b1), one_b2 = c(1.0 - b2);
  // The loop over values, once per kind with that kind's rule (p the value, g its gradient with
  // the L2 term, k its index in the state buffers) inlined into it.
  const Index rows = param.rows();
  double d2 = 0, p2 = 0;  // Σ Δθ², Σ θ² after the step
  // Without decay g is the gradient itself (not g + 0·θ, which is NaN where θ is infinite).
  const auto each = [&](auto rule) {
    for (Index j = 0; j < param.cols(); ++j)
      for (Index i = 0; i < rows; ++i) {
        T& p = param.coeffRef(i, j);
        const T p0 = p;
        const T g = static_cast<T>(grad.coeff(i, j));
        rule(p, l2 != T(0) ? g + l2 * p0 : g, j * rows + i);
        const double d = static_cast<double>(p) - static_cast<double>(p0);
        d2 += d * d;
        p2 += static_cast<double>(p) * static_cast<double>(p);
      }
  };
  const bool momentum = spec.momentum != 0;
  switch (spec.kind) {
    case K::sgd:
      if (!momentum) {
        each([&](T& p, T g, Index) { p -= lr * g; });
        break;
      }
      each([&](T& p, T g, Index k) {
        T& v = state.m[k];
        v = t == 1 ? g : damp == T(1) ? mu * v + g : mu * v + damp * g;
        p -= lr * (spec.nesterov ? g + mu * v : v);
      });
      break;
    case K::adagrad:
      each([&](T& p, T g, Index k) {
        T& s = state.v[k];
        s += g * g;
        p -= lr_t * (g / (std::sqrt(s) + eps));
      });
      break;
    case K::rmsprop:
      each([&](T& p, T g, Index k) {
        T& v = state.v[k];
        v = alpha * v + one_a * g * g;
        T den = std::sqrt(v) + eps;
        if (spec.centered) {
          T& ga = state.g_avg[k];
          ga = alpha * ga + one_a * g;
          den = std::sqrt(v - ga * ga) + eps;
        }
        if (!momentum) {
          p -= lr * (g / den);
          return;
        }
        T& b = state.m[k];
        b = mu * b + g / den;
        p -= lr * b;
      });
      break;
    case K::adam:
    case K::adamw:
      each([&](T& p, T g, Index k) {
        if (spec.kind == K::adamw) p *= decay;
        T& m = state.m[k];
        T& v = state.v[k];
        m = b1t * m + one_b1 * g;
        v = b2t * v + one_b2 * g * g;
        p -= step_size * (m / (std::sqrt(v) / bc2_sqrt + eps));
      });
      break;
    case K::count:
      break;
  }
  if (param_norm) *param_norm = std::sqrt(p2);
  return std::sqrt(d2);
}

// The prelu slope, a double parameter with a double gradient, through the same rule.
double optimizer_step(const OptimizerSpec& spec, double& param, double grad,
                      OptimizerState<double>& state);

// ‖Δθ‖/‖θ‖ of a step: delta_norm as optimizer_step returns it, ‖θ‖ of param after the step
// (stable norm, in double). 0/0 (a zero tensor that did not move) is 0; Δ > 0 on θ = 0 is +inf.
template <class T>
double update_ratio(double delta_norm, const T* param, Index n);

// Median over the tensor of the effective learning rate of an adaptive kind, from its state after
// `state.step` steps: lr/(√v̂ + ε) with v̂ = v/(1 − β₂ᵗ) (adam, adamw), lr/(√v + ε) (rmsprop;
// centered: √(v − ḡ²)), lr_t/(√s + ε) (adagrad, lr_t of the last step). Even n: the mean of the
// two middle values. scratch receives n doubles (no allocation when its capacity suffices).
// NaN for sgd and before the first step (adam, adamw).
template <class T>
double effective_lr_median(const OptimizerSpec& spec, const OptimizerState<T>& state,
                           std::vector<double>& scratch);

}  // namespace gl
