// The optimizer step (optimizer_step, harness/nn/optim_rules.h) and the team-shared
// params_update (harness/nn/optim.h) against a plain per-value loop, bit for bit:
// every kind and variant, float32 and float64, with L2 / decoupled weight decay, a few steps,
// 1 and 2 threads. Then the median effective
// rate (selected on v) against the sort of every value's rate.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "harness/core/rng.h"
#include "harness/nn/optim.h"
#include "harness/nn/optim_rules.h"

using namespace gl;

namespace {

// The reference: one value at a time in storage order, each kind's rule written out as the
// equations of optim_rules.h.
template <class T>
double step_reference(const OptimizerSpec& spec, T* p, const T* grad, Index n,
                      OptimizerState<T>& st, double& param_norm) {
  using K = OptimizerKind;
  const int64_t t = ++st.step;
  const auto c = [](double x) { return static_cast<T>(x); };
  const T lr = c(spec.lr), mu = c(spec.momentum), eps = c(spec.eps);
  const T l2 = spec.kind == K::adamw ? T(0) : c(spec.weight_decay);
  const T lr_t = c(spec.lr / (1.0 + static_cast<double>(t - 1) * spec.lr_decay));
  const T step_size = c(spec.lr / (1.0 - std::pow(spec.beta1, static_cast<double>(t))));
  const T bc2_sqrt = c(std::sqrt(1.0 - std::pow(spec.beta2, static_cast<double>(t))));
  const T decay = c(1.0 - spec.lr * spec.weight_decay), damp = c(1.0 - spec.dampening);
  const T alpha = c(spec.alpha), one_a = c(1.0 - spec.alpha);
  const T b1 = c(spec.beta1), b2 = c(spec.beta2), one_b1 = c(1.0 - spec.beta1),
          one_b2 = c(1.0 - spec.beta2);
  double d2 = 0, p2 = 0;
  for (Index k = 0; k < n; ++k) {
    const T p0 = p[k];
    const T g = l2 != T(0) ? grad[k] + l2 * p0 : grad[k];
    T& q = p[k];
    switch (spec.kind) {
      case K::sgd:
        if (spec.momentum == 0) {
          q -= lr * g;
          break;
        }
        st.m[k] = t == 1 ? g : damp == T(1) ? mu * st.m[k] + g : mu * st.m[k] + damp * g;
        q -= lr * (spec.nesterov ? g + mu * st.m[k] : st.m[k]);
        break;
      case K::adagrad:
        st.v[k] += g * g;
        q -= lr_t * (g / (std::sqrt(st.v[k]) + eps));
        break;
      case K::rmsprop: {
        st.v[k] = alpha * st.v[k] + one_a * g * g;
        T den = std::sqrt(st.v[k]) + eps;
        if (spec.centered) {
          st.g_avg[k] = alpha * st.g_avg[k] + one_a * g;
          den = std::sqrt(st.v[k] - st.g_avg[k] * st.g_avg[k]) + eps;
        }
        if (spec.momentum == 0) {
          q -= lr * (g / den);
          break;
        }
        st.m[k] = mu * st.m[k] + g / den;
        q -= lr * st.m[k];
        break;
      }
      case K::adam:
      case K::adamw:
        if (spec.kind == K::adamw) q *= decay;
        st.m[k] = b1 * st.m[k] + one_b1 * g;
        st.v[k] = b2 * st.v[k] + one_b2 * g * g;
        q -= step_size * (st.m[k] / (std::sqrt(st.v[k]) / bc2_sqrt + eps));
        break;
      case K::count:
        break;
    }
    const double d = static_cast<double>(q) - static_cast<double>(p0);
    d2 += d * d;
    p2 += static_cast<double>(q) * static_cast<double>(q);
  }
  param_norm = std::sqrt(p2);
  return std::sqrt(d2);
}

// Every kind and variant the rules branch on, each with a weight decay.
std::vector<OptimizerSpec> specs() {
  using K = OptimizerKind;
  std::vector<OptimizerSpec> out;
  const auto add = [&](K k, auto edit) {
    OptimizerSpec s = optimizer_spec_default(k);
    s.weight_decay = 0.05;
    edit(s);
    out.push_back(s);
  };
  add(K::sgd, [](OptimizerSpec& s) { s.weight_decay = 0; });
  add(K::sgd, [](OptimizerSpec&) {});
  add(K::sgd, [](OptimizerSpec& s) { s.momentum = 0.9; });
  add(K::sgd, [](OptimizerSpec& s) { s.momentum = 0.9, s.dampening = 0.3; });
  add(K::sgd, [](OptimizerSpec& s) { s.momentum = 0.9, s.nesterov = true; });
  add(K::adagrad, [](OptimizerSpec& s) { s.lr_decay = 0.1, s.initial_accumulator_value = 0.2; });
  add(K::rmsprop, [](OptimizerSpec&) {});
  add(K::rmsprop, [](OptimizerSpec& s) { s.momentum = 0.8; });
  add(K::rmsprop, [](OptimizerSpec& s) { s.centered = true; });
  add(K::rmsprop, [](OptimizerSpec& s) { s.centered = true, s.momentum = 0.8; });
  add(K::adam, [](OptimizerSpec&) {});
  add(K::adam, [](OptimizerSpec& s) { s.weight_decay = 0; });
  add(K::adamw, [](OptimizerSpec&) {});
  return out;
}

template <class T>
Vec<T> random_vec(Index n, Rng& r, double scale) {
  Vec<T> v(n);
  for (Index k = 0; k < n; ++k) v[k] = static_cast<T>(scale * rng_normal(r));
  return v;
}

template <class T>
bool same_bits(const Vec<T>& a, const Vec<T>& b) {
  if (a.size() != b.size()) return false;  // (memcmp must not see an empty buffer's null)
  return a.size() == 0 ||
         std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<size_t>(a.size())) == 0;
}

template <class T>
void check_step_equals_reference() {
  const Index n = 805;
  for (const OptimizerSpec& spec : specs()) {
    SCOPED_TRACE(std::string(enum_name(optimizer_kind_names, spec.kind)));
    Rng r = rng_make(7);
    Vec<T> p = random_vec<T>(n, r, 0.5), q = p;
    OptimizerState<T> sp = optimizer_state_make<T>(spec, n), sq = sp;
    for (int step = 0; step < 4; ++step) {
      const Vec<T> g = random_vec<T>(n, r, 1.0);
      double norm_p = 0, norm_q = 0;
      const double dp = optimizer_step(spec, p, g, sp, &norm_p);
      const double dq = step_reference(spec, q.data(), g.data(), n, sq, norm_q);
      ASSERT_TRUE(same_bits(p, q)) << "θ, step " << step + 1;
      ASSERT_TRUE(same_bits(sp.m, sq.m) && same_bits(sp.v, sq.v) && same_bits(sp.g_avg, sq.g_avg))
          << "state, step " << step + 1;
      ASSERT_EQ(dp, dq) << "‖Δθ‖, step " << step + 1;
      ASSERT_EQ(norm_p, norm_q) << "‖θ‖, step " << step + 1;
    }
  }
}

}  // namespace

TEST(OptimFast, StepEqualsPerValueLoopFloat32) { check_step_equals_reference<float>(); }
TEST(OptimFast, StepEqualsPerValueLoopFloat64) { check_step_equals_reference<double>(); }

namespace {

// A list of tensors of the given sizes (≥ 2^16 values in all, so that a team of 2 shares them).
template <class T>
struct Params {
  std::vector<Vec<T>> p, g;
  Optim<T> o;
};

template <class T>
Params<T> params_make(const TrainConfig& tc, const std::vector<Index>& sizes) {
  Params<T> s;
  Rng r = rng_make(3);
  for (const Index n : sizes) s.p.push_back(random_vec<T>(n, r, 0.5)), s.g.emplace_back(n);
  for (size_t j = 0; j < sizes.size(); ++j)
    s.o.tensors.push_back(
        {s.p[j].data(), s.g[j].data(), sizes[j], Index(1), static_cast<int>(j), true});
  optim_make(tc, s.o, 1);
  return s;
}

// Three steps of params_update on a team of `threads`.
template <class T>
Params<T> params_steps(const TrainConfig& tc, const std::vector<Index>& sizes, int threads) {
  Params<T> s = params_make<T>(tc, sizes);
  const int before = omp_get_max_threads();
  omp_set_num_threads(threads);
  Rng r = rng_make(11);
  for (int64_t step = 1; step <= 3; ++step) {
    for (Vec<T>& g : s.g) {  // in place: the list points at g's values
      const Vec<T> x = random_vec<T>(g.size(), r, 1.0);
      g = x;
    }
    params_update(tc, s.o, step, 1.0);
  }
  omp_set_num_threads(before);
  return s;
}

template <class T>
void check_team_update() {
  const std::vector<Index> sizes = {40000, 30001, 257, 9, 25000};
  for (const OptimizerKind k :
       {OptimizerKind::sgd, OptimizerKind::rmsprop, OptimizerKind::adam, OptimizerKind::adamw}) {
    SCOPED_TRACE(std::string(enum_name(optimizer_kind_names, k)));
    TrainConfig tc;
    tc.steps = 3;
    tc.opt = optimizer_spec_default(k);
    tc.opt.momentum = k == OptimizerKind::sgd ? 0.9 : 0.0;
    tc.opt.weight_decay = 0.02;
    const Params<T> one = params_steps<T>(tc, sizes, 1), two = params_steps<T>(tc, sizes, 2);
    EXPECT_EQ(two.o.owner_threads, 2);
    // each tensor as the per-value loop steps it alone
    Params<T> ref = params_make<T>(tc, sizes);
    Rng r = rng_make(11);
    std::vector<double> ratio(sizes.size());
    for (int64_t step = 1; step <= 3; ++step)
      for (size_t j = 0; j < sizes.size(); ++j) {
        ref.g[j] = random_vec<T>(sizes[j], r, 1.0);
        double norm = 0;
        const double d = step_reference(tc.opt, ref.p[j].data(), ref.g[j].data(), sizes[j],
                                        ref.o.state[j], norm);
        ratio[j] = d / norm;
      }
    for (size_t j = 0; j < sizes.size(); ++j) {
      EXPECT_TRUE(same_bits(one.p[j], ref.p[j])) << "1 thread, tensor " << j;
      EXPECT_TRUE(same_bits(two.p[j], ref.p[j])) << "2 threads, tensor " << j;
      EXPECT_TRUE(same_bits(two.o.state[j].m, ref.o.state[j].m)) << "tensor " << j;
      EXPECT_TRUE(same_bits(two.o.state[j].v, ref.o.state[j].v)) << "tensor " << j;
      EXPECT_EQ(one.o.ratio[j], ratio[j]) << "tensor " << j;
      EXPECT_EQ(two.o.ratio[j], ratio[j]) << "tensor " << j;
      EXPECT_EQ(two.o.ratio_sum[j], one.o.ratio_sum[j]) << "tensor " << j;
    }
  }
}

}  // namespace

TEST(OptimFast, TeamUpdateEqualsPerValueLoopFloat32) { check_team_update<float>(); }
TEST(OptimFast, TeamUpdateEqualsPerValueLoopFloat64) { check_team_update<double>(); }

namespace {

// The median of every value's rate, sorted (the definition, docs/reference.md §4.1).
template <class T>
double median_by_sort(const OptimizerSpec& spec, const OptimizerState<T>& st) {
  const double t = static_cast<double>(st.step);
  const bool adam = spec.kind == OptimizerKind::adam || spec.kind == OptimizerKind::adamw;
  const double lr =
      spec.kind == OptimizerKind::adagrad ? spec.lr / (1.0 + (t - 1) * spec.lr_decay) : spec.lr;
  const double scale = adam ? 1.0 / (1.0 - std::pow(spec.beta2, t)) : 1.0;
  std::vector<double> r;
  for (Index k = 0; k < st.v.size(); ++k)
    r.push_back(lr / (std::sqrt(static_cast<double>(st.v[k]) * scale) + spec.eps));
  std::sort(r.begin(), r.end());
  const size_t n = r.size();
  return n % 2 == 1 ? r[n / 2] : 0.5 * (r[n / 2] + r[n / 2 - 1]);
}

template <class T>
void check_median(OptimizerKind kind, Vec<T> v) {
  OptimizerSpec spec = optimizer_spec_default(kind);
  spec.lr_decay = 0.1;
  OptimizerState<T> st = optimizer_state_make<T>(spec, v.size());
  st.v = v;
  st.step = 3;
  std::vector<double> scratch;
  EXPECT_EQ(effective_lr_median(spec, st, scratch), median_by_sort(spec, st))
      << enum_name(optimizer_kind_names, kind) << ", n = " << v.size();
}

template <class T>
void check_medians() {
  Rng r = rng_make(5);
  for (const Index n : {Index(1), Index(2), Index(7), Index(1000), Index(1001), Index(4096)}) {
    Vec<T> spread(n), close(n), ties(n);
    for (Index k = 0; k < n; ++k) {
      spread[k] = static_cast<T>(std::exp(10 * rng_normal(r)));    // many buckets
      close[k] = static_cast<T>(1 + 1e-3 * rng_uniform(r, 0, 1));  // one bucket
      ties[k] = static_cast<T>(k % 3 == 0 ? 0.0 : k % 3 == 1 ? 2.0 : 1e-30);
    }
    if (n > 2) spread[1] = std::numeric_limits<T>::infinity(), spread[2] = T(0);
    for (const OptimizerKind k :
         {OptimizerKind::adam, OptimizerKind::adagrad, OptimizerKind::rmsprop}) {
      check_median<T>(k, spread);
      check_median<T>(k, close);
      check_median<T>(k, ties);
    }
  }
}

}  // namespace

TEST(OptimFast, MedianRateSelectedOnVEqualsSortedRatesFloat32) { check_medians<float>(); }
TEST(OptimFast, MedianRateSelectedOnVEqualsSortedRatesFloat64) { check_medians<double>(); }
