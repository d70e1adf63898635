#include "harness/nn/optim.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "harness/core/rng.h"
#include "harness/core/threads.h"
#include "harness/measure/metrics.h"

namespace gl {

namespace {

constexpr double nan_d = std::numeric_limits<double>::quiet_NaN();

template <class T>
void tensor_add(Optim<T>& o, T* p, T* g, Index rows, Index cols, int layer, bool weight) {
  o.tensors.push_back({p, g, rows, cols, layer, weight});
}

// Shares the tensors out over a team of nt threads, largest first, each to the thread with the
// fewest values so far (W1, 2 threads: 3.0M and 2.0M values of 6.0M, its five weight
// matrices being whole; W4: 5 of its 10 equal matrices each). Once per list and team size; one
// thread for lists of fewer than 2^16 values (the team's start costs more).
template <class T>
void tensor_owners(Optim<T>& o, int nt) {
  if (o.owner.size() == o.tensors.size() && o.owner_team == nt) return;
  const size_t n = o.tensors.size();
  Index total = 0;
  for (const ParamTensor<T>& t : o.tensors) total += t.rows * t.cols;
  o.owner_team = nt;
  o.owner_threads = total < (Index(1) << 16) ? 1 : std::max(1, nt);
  o.owner.assign(n, 0);
  std::vector<size_t> order(n);
  for (size_t j = 0; j < n; ++j) order[j] = j;
  const auto size = [&](size_t j) { return o.tensors[j].rows * o.tensors[j].cols; };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return size(a) > size(b); });
  std::vector<Index> load(static_cast<size_t>(o.owner_threads), 0);
  for (const size_t j : order) {
    const auto least = std::min_element(load.begin(), load.end());
    o.owner[j] = static_cast<int>(least - load.begin());
    *least += size(j);
  }
}

}  // namespace

template <class T>
void mlp_params(Mlp<T>& net, MlpGrads<T>& grads, Optim<T>& o) {
  o.tensors.clear();
  o.scalars.clear();
  const bool has_g = grads.db.size() == net.layers.size();
  for (size_t l = 0; l < net.layers.size(); ++l) {
    Layer<T>& p = net.layers[l];
    const int li = static_cast<int>(l);
    // ∂L/∂W_l may be absent (the fused SGD backward stores none): g stays null
    T* dw = has_g && grads.dW.size() > l && grads.dW[l].size() == p.W.size() ? grads.dW[l].data()
                                                                             : nullptr;
    tensor_add(o, p.W.data(), dw, p.W.rows(), p.W.cols(), li, true);
    tensor_add(o, p.b.data(), has_g ? grads.db[l].data() : nullptr, p.b.size(), Index(1), li,
               false);
  }
  if (net.act.kind == Activation::prelu)
    for (size_t l = 0; l + 1 < net.layers.size(); ++l)
      o.scalars.push_back({&net.layers[l].slope,
                           grads.dslope.size() > l ? &grads.dslope[l] : nullptr,
                           static_cast<int>(l)});
  // residual / norm nets: each norm layer's γ and β (units), each block's learned α (ReZero)
  const bool has_gn = has_g && grads.dnorm.size() == net.layers.size();
  for (size_t l = 0; l < net.layers.size(); ++l) {
    NormParams<T>& n = net.layers[l].norm;
    const int li = static_cast<int>(l);
    if (n.gamma.size() > 0) {
      tensor_add(o, n.gamma.data(), has_gn ? grads.dnorm[l].dgamma.data() : nullptr, n.gamma.size(),
                 Index(1), li, false);
      tensor_add(o, n.beta.data(), has_gn ? grads.dnorm[l].dbeta.data() : nullptr, n.beta.size(),
                 Index(1), li, false);
    }
  }
  // (layer index l ends a block when 1 ≤ l ≤ L − 1 and k divides l: blocks are indices 1..k,
  // k+1..2k, …)
  const size_t k = static_cast<size_t>(net.blocks.residual.block);
  if (k > 0 && net.blocks.residual.alpha_kind == AlphaKind::rezero)
    for (size_t l = 1; l + 1 < net.layers.size(); ++l)
      if (l % k == 0)
        o.scalars.push_back({&net.layers[l].alpha,
                             grads.dalpha.size() > l ? &grads.dalpha[l] : nullptr,
                             static_cast<int>(l)});
}

template <class T>
void rnn_params(Rnn<T>& net, RnnGrads<T>& g, Optim<T>& o) {
  o.tensors.clear();
  o.scalars.clear();
  const auto gp = [](auto& m, const auto& p) { return m.size() == p.size() ? m.data() : nullptr; };
  tensor_add(o, net.U.data(), gp(g.dU, net.U), net.U.rows(), net.U.cols(), 0, true);
  tensor_add(o, net.W.data(), gp(g.dW, net.W), net.W.rows(), net.W.cols(), 1, true);
  tensor_add(o, net.b.data(), gp(g.db, net.b), net.b.size(), Index(1), 1, false);
  tensor_add(o, net.V.data(), gp(g.dV, net.V), net.V.rows(), net.V.cols(), 2, true);
  tensor_add(o, net.c.data(), gp(g.dc, net.c), net.c.size(), Index(1), 2, false);
  if (net.act.kind == Activation::prelu) o.scalars.push_back({&net.slope, &g.dslope, 1});
}

template <class T>
void gated_params(GatedNet<T>& net, GatedNetGrads<T>& g, Optim<T>& o) {
  o.tensors.clear();
  o.scalars.clear();
  const auto gp = [](auto& m, const auto& p) { return m.size() == p.size() ? m.data() : nullptr; };
  Gated<T>& cell = net.cell;
  GatedGrads<T>& d = g.cell;
  tensor_add(o, cell.W_ih.data(), gp(d.dW_ih, cell.W_ih), cell.W_ih.rows(), cell.W_ih.cols(), 0,
             true);
  tensor_add(o, cell.W_hh.data(), gp(d.dW_hh, cell.W_hh), cell.W_hh.rows(), cell.W_hh.cols(), 1,
             true);
  tensor_add(o, cell.b_ih.data(), gp(d.db_ih, cell.b_ih), cell.b_ih.size(), Index(1), 1, false);
  tensor_add(o, cell.b_hh.data(), gp(d.db_hh, cell.b_hh), cell.b_hh.size(), Index(1), 1, false);
  tensor_add(o, net.V.data(), gp(g.dV, net.V), net.V.rows(), net.V.cols(), 2, true);
  tensor_add(o, net.c.data(), gp(g.dc, net.c), net.c.size(), Index(1), 2, false);
}

template <class T>
void optim_make(const TrainConfig& tc, Optim<T>& o, uint64_t seed) {
  const size_t n = o.tensors.size();
  o.state.clear();
  for (const ParamTensor<T>& t : o.tensors)
    o.state.push_back(optimizer_state_make<T>(tc.opt, t.rows * t.cols));
  o.scalar_state.assign(o.scalars.size(), optimizer_state_make<double>(tc.opt, 1));
  o.lr.assign(n, nan_d);
  o.ratio.assign(n, nan_d);
  o.ratio_sum.assign(n, 0.0);
  o.ratio_n = 0;
  int layers = 0;
  Index rows = 0;
  for (const ParamTensor<T>& t : o.tensors) {
    layers = std::max(layers, t.layer + 1);
    rows = std::max(rows, t.rows);
  }
  o.trust.assign(static_cast<size_t>(layers), 1.0);
  o.scratch.reserve(static_cast<size_t>(rows));
  o.noise_key = seed_mix(seed, 0x6e6f697365ull);  // "noise"
}

double lr_factor(const TrainConfig& tc, int64_t t) {
  const LrScheduleSpec& s = tc.schedule;
  const double e = static_cast<double>(t - 1);  // steps taken before this one
  double f = 1;
  switch (s.kind) {
    case LrSchedule::constant:
    case LrSchedule::count:
      break;
    case LrSchedule::step:
      f = std::pow(s.gamma, static_cast<double>((t - 1) / s.step_size));
      break;
    case LrSchedule::cosine: {
      const double m = s.eta_min / tc.opt.lr;
      f = m + (1 - m) * 0.5 * (1 + std::cos(std::numbers::pi * e / static_cast<double>(tc.steps)));
      break;
    }
  }
  if (tc.warmup > 0 && t < tc.warmup) f *= static_cast<double>(t) / static_cast<double>(tc.warmup);
  return f;
}

bool fused_sgd(const TrainConfig& tc) {
  const OptimizerSpec& o = tc.opt;
  return o.kind == OptimizerKind::sgd && o.momentum == 0 && o.weight_decay == 0 && !tc.clip_norm &&
         tc.clip_value == 0 && tc.max_norm == 0 && tc.lr_layers.empty() && tc.lr_ramp == 0 &&
         tc.lars == 0 && tc.noise_eta == 0;
}

double lr_multiplier(const TrainConfig& tc, size_t l, size_t n) {
  if (tc.lr_ramp > 0) return std::pow(tc.lr_ramp, static_cast<double>(n - 1 - l));
  return tc.lr_layers.empty() ? 1.0 : tc.lr_layers[l];
}

template <class T>
void grads_perturb(const TrainConfig& tc, Optim<T>& o, int64_t step) {
  if (tc.noise_eta > 0) {  // tensor j's draws: its own stream, seeded by (run seed, step, j)
    const double sigma =
        std::sqrt(tc.noise_eta / std::pow(static_cast<double>(step), tc.noise_gamma));
    const uint64_t key = seed_mix(o.noise_key, static_cast<uint64_t>(step));
    double z[256];
    for (size_t j = 0; j <= o.tensors.size(); ++j) {  // j = size: the scalars (prelu slopes)
      Rng r = rng_make(seed_mix(key, j));
      if (j == o.tensors.size()) {
        for (const ParamScalar& sc : o.scalars) *sc.g += sigma * rng_normal(r);
        break;
      }
      const ParamTensor<T>& t = o.tensors[j];
      const Index n = t.rows * t.cols;
      for (Index k0 = 0; k0 < n; k0 += 256) {
        const Index m = std::min<Index>(256, n - k0);
        rng_normal_fill(r, z, m);
        for (Index k = 0; k < m; ++k) t.g[k0 + k] += static_cast<T>(sigma * z[k]);
      }
    }
  }
  if (tc.clip_value > 0) {
    const T c = static_cast<T>(tc.clip_value);
    for (const ParamTensor<T>& t : o.tensors)
      for (Index k = 0; k < t.rows * t.cols; ++k) t.g[k] = std::clamp(t.g[k], -c, c);
    for (const ParamScalar& s : o.scalars) *s.g = std::clamp(*s.g, -tc.clip_value, tc.clip_value);
  }
}

template <class T>
double params_update(const TrainConfig& tc, Optim<T>& o, int64_t step, double scale) {
  const double base = tc.opt.lr * lr_factor(tc, step);
  const size_t layers = o.trust.size();
  // LARS (You, Gitman & Ginsburg 2017): τ_l = η‖W_l‖/(‖∇W_l‖ + λ‖W_l‖), 1 where either is 0.
  if (tc.lars > 0)
    for (const ParamTensor<T>& t : o.tensors) {
      if (!t.weight) continue;
      const Index n = t.rows * t.cols;
      const double w = stable_norm(t.p, n), g = scale * stable_norm(t.g, n);
      const double tau = tc.lars * w / (g + tc.opt.weight_decay * w);
      o.trust[static_cast<size_t>(t.layer)] = w > 0 && g > 0 ? tau : 1.0;
    }
  const auto rate = [&](int layer) {
    return base * lr_multiplier(tc, static_cast<size_t>(layer), layers) *
           o.trust[static_cast<size_t>(layer)];
  };
  // The optimizer on each tensor, the tensors shared out over the team (tensor_owners): a tensor's
  // values are stepped by one thread in storage order, so the bits do not depend on the threads.
  tensor_owners(o, team_threads());
  const T s = static_cast<T>(scale);
  team_run(o.owner_threads, [&](int th, int) {
    OptimizerSpec spec = tc.opt;
    for (size_t j = 0; j < o.tensors.size(); ++j) {
      if (o.owner[j] != th) continue;
      const ParamTensor<T>& t = o.tensors[j];
      Eigen::Map<Mat<T>> p(t.p, t.rows, t.cols), g(t.g, t.rows, t.cols);
      if (scale < 1.0) g *= s;  // the same bits as s·g in the expression
      spec.lr = o.lr[j] = rate(t.layer);
      double norm = 0;
      const double d = optimizer_step(spec, p, g, o.state[j], &norm);
      o.ratio[j] = norm > 0 ? d / norm : (d == 0 ? 0.0 : std::numeric_limits<double>::infinity());
    }
  });
  OptimizerSpec spec = tc.opt;
  for (size_t j = 0; j < o.tensors.size(); ++j) {
    const ParamTensor<T>& t = o.tensors[j];
    o.ratio_sum[j] += o.ratio[j];
    if (tc.max_norm > 0 && t.weight) {  // rows of p: Σ_j p(i, j)² in one column-major pass
      Eigen::Map<Mat<T>> p(t.p, t.rows, t.cols);
      o.scratch.assign(static_cast<size_t>(t.rows), 0.0);
      for (Index c = 0; c < t.cols; ++c)
        for (Index i = 0; i < t.rows; ++i)
          o.scratch[static_cast<size_t>(i)] += static_cast<double>(p(i, c)) * p(i, c);
      for (Index i = 0; i < t.rows; ++i) {
        const double r = std::sqrt(o.scratch[static_cast<size_t>(i)]);
        if (r > tc.max_norm) p.row(i) *= static_cast<T>(tc.max_norm / r);
      }
    }
  }
  ++o.ratio_n;
  for (size_t j = 0; j < o.scalars.size(); ++j) {
    spec.lr = rate(o.scalars[j].layer);
    optimizer_step(spec, *o.scalars[j].p, scale * *o.scalars[j].g, o.scalar_state[j]);
  }
  return base;
}

template <class T>
int optim_weight_of(const Optim<T>& o, int layer) {
  for (size_t j = 0; j < o.tensors.size(); ++j)
    if (o.tensors[j].weight && o.tensors[j].layer == layer) return static_cast<int>(j);
  return -1;
}

template <class T>
UpdateStats optim_stats(const TrainConfig& tc, Optim<T>& o, int k) {
  UpdateStats u;
  const size_t j = static_cast<size_t>(k);
  if (k < 0 || std::isnan(o.lr[j])) return u;  // no step yet
  u.ratio = o.ratio[j];
  if (o.ratio_n > 0) u.ratio_mean = o.ratio_sum[j] / static_cast<double>(o.ratio_n);
  if (tc.opt.kind == OptimizerKind::sgd) {
    u.effective_lr = o.lr[j];
    return u;
  }
  OptimizerSpec spec = tc.opt;
  spec.lr = o.lr[j];
  const double e = effective_lr_median(spec, o.state[j], o.scratch);
  if (!std::isnan(e)) u.effective_lr = e;
  return u;
}

template <class T>
void optim_probe_reset(Optim<T>& o) {
  std::fill(o.ratio_sum.begin(), o.ratio_sum.end(), 0.0);
  o.ratio_n = 0;
}

template <class T>
double mlp_blocks_grads_sumsq(const MlpGrads<T>& g) {
  double s = 0;
  for (size_t l = 0; l < g.dnorm.size(); ++l) {
    const double a = stable_norm(g.dnorm[l].dgamma.data(), g.dnorm[l].dgamma.size());
    const double b = stable_norm(g.dnorm[l].dbeta.data(), g.dnorm[l].dbeta.size());
    s += a * a + b * b;
  }
  for (const double da : g.dalpha) s += da * da;
  return s;
}

template <class T>
double mlp_grads_norm(const MlpGrads<T>& g) {
  double s = 0;
  for (size_t l = 0; l < g.dW.size(); ++l) {
    const double a = stable_norm(g.dW[l].data(), g.dW[l].size());
    const double b = stable_norm(g.db[l].data(), g.db[l].size());
    s += a * a + b * b + g.dslope[l] * g.dslope[l];
  }
  return std::sqrt(s + mlp_blocks_grads_sumsq(g));
}

#define GL_OPTIM_INST(T)                                                            \
  template void mlp_params<T>(Mlp<T>&, MlpGrads<T>&, Optim<T>&);                    \
  template void rnn_params<T>(Rnn<T>&, RnnGrads<T>&, Optim<T>&);                    \
  template void gated_params<T>(GatedNet<T>&, GatedNetGrads<T>&, Optim<T>&);        \
  template void optim_make<T>(const TrainConfig&, Optim<T>&, uint64_t);             \
  template void grads_perturb<T>(const TrainConfig&, Optim<T>&, int64_t);           \
  template double params_update<T>(const TrainConfig&, Optim<T>&, int64_t, double); \
  template int optim_weight_of<T>(const Optim<T>&, int);                            \
  template UpdateStats optim_stats<T>(const TrainConfig&, Optim<T>&, int);          \
  template void optim_probe_reset<T>(Optim<T>&);                                    \
  template double mlp_blocks_grads_sumsq<T>(const MlpGrads<T>&);                    \
  template double mlp_grads_norm<T>(const MlpGrads<T>&);
GL_OPTIM_INST(float)
GL_OPTIM_INST(double)

}  // namespace gl
