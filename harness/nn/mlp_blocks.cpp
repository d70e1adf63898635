// Residual and norm nets (mlp.h): init, forward and backward on one thread.
//
// Forward, plain net with norm:  z_l = W_l a_{l-1} + b_l,  a_l = act_l(z_l)
// Forward, residual net:         h_1 = z_1 = W_1 x + b_1;  block b reads s = h_b, and for each of
//                                its k layers l: a_l = act_l(s), z_l = W_l a_l + b_l, s = z_l;
//                                h_{b+1} = h_b + α_b z_last;  the output layer reads h_last.
// act_l(s) = φ(s), φ(N(s)) ("before") or N(φ(s)) ("after"), N the norm layer of layer l.
// Backward, residual (g_b = ∂(Σ_k ℓ_k)/∂h_b per example, as δ):
//   g_last = W_{L+1}ᵀ δ_{L+1};  δ_last = α_b g_{b+1};  ∂L/∂α_b = (1/B) Σ_i g_{b+1,i} · z_last,i;
//   down the branch δ_{l-1} = act'(W_lᵀ δ_l);  g_b = g_{b+1} + act'(W_firstᵀ δ_first);  δ_1 = g_1.
// act' is the activation's backward: φ' ⊙ (·), then or before it the norm's (norm.h).
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "harness/core/threads.h"
#include "harness/nn/blas.h"
#include "harness/nn/mlp_blocks.h"

namespace gl {

template <class T>
int mlp_block_count(const Mlp<T>& net) {
  const int k = net.blocks.residual.block;
  return k > 0 ? static_cast<int>(net.depth() - 1) / k : 0;
}

template <class T>
bool mlp_has_act(const Mlp<T>& net, size_t l) {
  const size_t L = net.layers.size() - 1;
  return l < L && (net.blocks.residual.block == 0 || l > 0);
}

template <class T>
int mlp_stream_of(const Mlp<T>& net, size_t l) {
  const int k = net.blocks.residual.block;
  if (k == 0) return -1;
  const size_t L = net.layers.size() - 1;
  if (l == 0) return 0;
  if (l == L) return mlp_block_count(net);
  return (l - 1) % static_cast<size_t>(k) == 0 ? static_cast<int>((l - 1) / static_cast<size_t>(k))
                                               : -1;
}

template <class T>
const Mat<T>& mlp_act_input(const Mlp<T>& net, const MlpCache<T>& c, size_t l) {
  if (net.blocks.residual.block == 0) return c.z[l];
  const int b = mlp_stream_of(net, l);
  return b >= 0 ? c.h[static_cast<size_t>(b)] : c.z[l - 1];
}

template <class T>
void mlp_blocks_init(Mlp<T>& net, const BlocksSpec& spec) {
  net.blocks = spec;
  if (!net.has_blocks()) return;
  if (net.act.kind == Activation::maxout)
    throw std::invalid_argument("residual blocks and norm layers do not take maxout");
  const int k = spec.residual.block;
  const Index L = net.depth();
  if (k > 0) {
    if (L < 1 + k || (L - 1) % k != 0)
      throw std::invalid_argument("residual: the block size must divide depth - 1");
    for (Index l = 1; l < L; ++l)
      if (net.fan_out(static_cast<size_t>(l)) != net.fan_out(0))
        throw std::invalid_argument("residual: every hidden layer needs the same width");
    const int blocks = mlp_block_count(net);
    const double alpha = residual_alpha(spec.residual, blocks);
    for (int b = 0; b < blocks; ++b) net.layers[static_cast<size_t>((b + 1) * k)].alpha = alpha;
  }
  if (spec.norm.kind == NormKind::none) return;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    if (!mlp_has_act(net, l)) continue;
    const Index units = k > 0 ? net.layers[l].W.cols() : net.fan_out(l);
    net.layers[l].norm = norm_params_init<T>(units);
    if (spec.norm.kind == NormKind::batch) net.layers[l].running = norm_running_init(units);
  }
}

// ---- forward ----

// z_l = W_l a + b_l.
template <class T>
static void dense_run(const Layer<T>& layer, const Mat<T>& a, Mat<T>& z) {
  z.resize(layer.W.rows(), a.cols());
  gemm<T>(T(1), layer.W, Op::none, a, Op::none, T(0), z);
  z.colwise() += layer.b;
}

// The normalization groups of a forward: BatchNorm on batch statistics in groups of use.group
// (the remainder joins the last group); otherwise one.
static Index group_count(NormKind kind, NormUse use, Index B) {
  if (kind != NormKind::batch || use.eval || use.group <= 0 || use.group >= B) return 1;
  return B / use.group;
}
static Range group_range(Index g, Index groups, Index size, Index B) {
  return {g * size, g + 1 == groups ? B - g * size : size};
}

// out = N_l(in) over the groups; running: update layer l's running statistics (one group).
template <class T>
static void norm_run(const Mlp<T>& net, Mlp<T>* running, size_t l, const Mat<T>& in, Mat<T>& out,
                     MlpCache<T>& c, NormUse use) {
  const Layer<T>& layer = net.layers[l];
  const NormSpec& spec = net.blocks.norm;
  const Index B = in.cols(), groups = group_count(spec.kind, use, B);
  std::vector<NormCache<T>>& caches = c.norm[l];
  caches.resize(static_cast<size_t>(groups));
  if (groups == 1) {
    if (use.eval)
      norm_forward_eval(spec, layer.norm, layer.running, in, caches[0], out);
    else
      norm_forward(spec, layer.norm, in, caches[0], out,
                   running ? &running->layers[l].running : nullptr);
    return;
  }
  out.resize(in.rows(), B);
  for (Index g = 0; g < groups; ++g) {
    const Range r = group_range(g, groups, use.group, B);
    c.gin = in.middleCols(r.begin, r.size);
    norm_forward(spec, layer.norm, c.gin, caches[static_cast<size_t>(g)], c.gout);
    out.middleCols(r.begin, r.size) = c.gout;
  }
}

// a = act_l(s): φ(s), φ(N(s)) or N(φ(s)); dphi[l] = φ' of φ's input, y[l] the value between.
template <class T>
static void act_forward(const Mlp<T>& net, Mlp<T>* running, size_t l, const Mat<T>& s, Mat<T>& a,
                        MlpCache<T>& c, Rng* rrelu_rng, NormUse use) {
  ActivationSpec f = net.act;
  if (f.kind == Activation::prelu) f.slope = net.layers[l].slope;
  const NormKind kind = net.blocks.norm.kind;
  const bool before = net.blocks.placement == NormPlacement::before;
  const Mat<T>& in = kind != NormKind::none && before ? c.y[l] : s;  // φ's input
  Mat<T>& out = kind != NormKind::none && !before ? c.y[l] : a;      // φ's output
  if (kind != NormKind::none && before) norm_run(net, running, l, s, c.y[l], c, use);
  out.resize(s.rows(), s.cols());
  c.dphi[l].resize(s.rows(), s.cols());
  activation_apply<T>(f, in, out, c.dphi[l]);
  if (rrelu_rng) rrelu_draw(f, in, out, c.dphi[l], *rrelu_rng);
  if (kind != NormKind::none && !before) norm_run(net, running, l, c.y[l], a, c, use);
}

// ---- the team ----
// With more than one thread (the run's `threads`), forward and backward run on one team, each
// thread on a share of every layer's units: rows of W_l for z_l, ∂L/∂W_l and ∂L/∂b_l, columns of
// W_l for W_lᵀ δ_l, and the same units of the stream h, of BatchNorm (per unit, over the batch) and
// of the activation. A share starts at a multiple of team_rows rows, whole row panels of Eigen's
// GEMM kernel, so each element of a product goes through the same kernel path and depth blocks as
// in the one-thread product; everything else is elementwise or per unit: the same bits for any
// thread count (tests/test_norm.cpp, BlocksTeam.*). A dense op reads every unit of its input: a
// barrier comes before each. Left to the one-thread code above: layer norm (per example over the
// units), BatchNorm in probe groups (probe.norm_batch), prelu (one slope sum), rrelu's training
// draws, hidden widths that are not multiples of 16, and nets with products large enough for
// OpenBLAS (blas.h). A learned α's sum is taken after the team, as above.

constexpr Index team_rows = 48;
static_assert(team_rows % Eigen::internal::gebp_traits<float, float>::mr == 0 &&
              team_rows % Eigen::internal::gebp_traits<double, double>::mr == 0);

static Range units_of(Index units, int t, int nt) { return split_range(units, t, nt, team_rows); }

template <class T>
static auto rows_of(Mat<T>& m, Range r) {
  return m.middleRows(r.begin, r.size);
}
template <class T>
static auto rows_of(const Mat<T>& m, Range r) {
  return m.middleRows(r.begin, r.size);
}

// The one-thread code runs Eigen's products on one thread too (this thread's OpenMP thread count,
// restored after): Eigen's own parallel product blocks differently, so it would change the last
// bits with `threads`.
struct EigenOneThread {
  int saved = omp_get_max_threads();
  EigenOneThread() { omp_set_num_threads(1); }
  ~EigenOneThread() { omp_set_num_threads(saved); }
  EigenOneThread(const EigenOneThread&) = delete;
  EigenOneThread& operator=(const EigenOneThread&) = delete;
};

// The units of layer l's activation (and norm) and the matrix it writes.
template <class T>
static Index act_units(const Mlp<T>& net, size_t l) {
  return net.blocks.residual.block > 0 ? net.layers[l].W.cols() : net.fan_out(l);
}
template <class T>
static Mat<T>& act_out(const Mlp<T>& net, MlpCache<T>& c, size_t l) {
  return net.blocks.residual.block > 0 ? c.a[l] : c.a[l + 1];
}

// Whether the team takes this net's forward or backward: groups = BatchNorm's groups.
template <class T>
static bool team_takes(const Mlp<T>& net, Index B, Index groups, bool random_slopes) {
  if (team_threads() <= 1 || random_slopes || net.act.kind == Activation::prelu ||
      net.blocks.norm.kind == NormKind::layer || groups > 1)
    return false;
  const double openblas = blas_route().min_madds;
  for (const Layer<T>& layer : net.layers)
    if (static_cast<double>(layer.W.size()) * static_cast<double>(B) >= openblas) return false;
  // Every column of a share starts on a 64-byte boundary as in the whole matrix, so that the
  // activation (vectorized and scalar forms of tanh etc. differ in the last bits) takes the same
  // form for each element: hidden widths in multiples of 16.
  for (size_t l = 0; l < net.layers.size(); ++l)
    if (mlp_has_act(net, l) && act_units(net, l) % 16 != 0) return false;
  return true;
}

// Every tensor the team's forward writes, at its size (one thread, before the team).
template <class T>
static void team_forward_size(const Mlp<T>& net, Index B, MlpCache<T>& c) {
  const size_t n = net.layers.size(), L = n - 1;
  const NormKind kind = net.blocks.norm.kind;
  const bool before = net.blocks.placement == NormPlacement::before;
  for (size_t l = 0; l < n; ++l) {
    c.z[l].resize(net.fan_out(l), B);
    if (!mlp_has_act(net, l)) continue;
    const Index units = act_units(net, l);
    c.dphi[l].resize(units, B);
    act_out(net, c, l).resize(units, B);
    if (kind == NormKind::none) continue;
    c.y[l].resize(units, B);
    c.norm[l].resize(1);
    norm_size(kind, units, B, c.norm[l][0], before ? c.y[l] : act_out(net, c, l));
  }
  if (net.blocks.residual.block > 0) {
    c.h.resize(static_cast<size_t>(mlp_block_count(net)) + 1);
    for (Mat<T>& h : c.h) h.resize(net.fan_out(0), B);
    c.a[L].resize(net.fan_out(0), B);
  }
  c.a[L + 1].resize(net.fan_out(L), B);
}

// z_l = W_l a + b_l on units r.
template <class T>
static void dense_rows(const Layer<T>& layer, const Mat<T>& a, Mat<T>& z, Range r) {
  if (r.size == 0) return;
  auto zr = rows_of(z, r);
  gemm<T>(T(1), layer.W.middleRows(r.begin, r.size), Op::none, a, Op::none, T(0), zr);
  zr.colwise() += layer.b.segment(r.begin, r.size);
}

// a = act_l(s) on units r (act_forward's one-group case).
template <class T>
static void act_rows(const Mlp<T>& net, Mlp<T>* running, size_t l, const Mat<T>& s, Mat<T>& a,
                     MlpCache<T>& c, NormUse use, Range r) {
  const Layer<T>& layer = net.layers[l];
  const NormSpec& spec = net.blocks.norm;
  const bool norm = spec.kind != NormKind::none;
  const bool before = net.blocks.placement == NormPlacement::before;
  NormRunning* run = running && !use.eval ? &running->layers[l].running : nullptr;
  const NormRunning* eval = use.eval ? &layer.running : nullptr;
  if (norm && before)
    batch_norm_forward_units(spec, layer.norm, s, r, c.norm[l][0], c.y[l], run, eval);
  const Mat<T>& in = norm && before ? c.y[l] : s;
  Mat<T>& out = norm && !before ? c.y[l] : a;
  activation_apply<T>(net.act, rows_of(in, r), rows_of(out, r), rows_of(c.dphi[l], r));
  if (norm && !before)
    batch_norm_forward_units(spec, layer.norm, c.y[l], r, c.norm[l][0], a, run, eval);
}

// Thread t of nt's units of mlp_blocks_forward.
template <class T>
static void team_forward(const Mlp<T>& net, Mlp<T>* running, MlpCache<T>& c, NormUse use, int t,
                         int nt) {
  const size_t n = net.layers.size(), L = n - 1;
  const int k = net.blocks.residual.block;
  if (k == 0) {
    for (size_t l = 0; l < L; ++l) {
      if (l > 0) {
#pragma omp barrier
      }
      const Range r = units_of(net.fan_out(l), t, nt);
      dense_rows(net.layers[l], c.a[l], c.z[l], r);
      act_rows(net, running, l, c.z[l], c.a[l + 1], c, use, r);
    }
  } else {
    const size_t blocks = static_cast<size_t>(mlp_block_count(net)), kk = static_cast<size_t>(k);
    const Range r = units_of(net.fan_out(0), t, nt);
    dense_rows(net.layers[0], c.a[0], c.z[0], r);
    rows_of(c.h[0], r) = rows_of(c.z[0], r);
    for (size_t b = 0; b < blocks; ++b) {
      const Mat<T>* s = &c.h[b];
      for (size_t l = 1 + b * kk; l <= (b + 1) * kk; ++l) {
        act_rows(net, running, l, *s, c.a[l], c, use, r);
#pragma omp barrier
        dense_rows(net.layers[l], c.a[l], c.z[l], r);
        s = &c.z[l];
      }
      const T alpha = static_cast<T>(net.layers[(b + 1) * kk].alpha);
      rows_of(c.h[b + 1], r) = rows_of(c.h[b], r) + alpha * rows_of(*s, r);
    }
    rows_of(c.a[L], r) = rows_of(c.h[blocks], r);
  }
#pragma omp barrier
  const Range r = units_of(net.fan_out(L), t, nt);
  dense_rows(net.layers[L], c.a[L], c.z[L], r);
  rows_of(c.a[L + 1], r) = rows_of(c.z[L], r);
}

// Every tensor the team's backward writes, at its size (one thread, before the team).
template <class T>
static void team_backward_size(const Mlp<T>& net, Index B, bool store_dw, MlpGrads<T>& g) {
  const size_t n = net.layers.size(), L = n - 1;
  Index widest = 0;
  for (size_t l = 0; l < n; ++l) {
    const Layer<T>& layer = net.layers[l];
    if (store_dw) g.dW[l].resize(layer.W.rows(), layer.W.cols());
    g.db[l].resize(layer.W.rows());
    if (l < L) g.delta[l].resize(layer.W.rows(), B);
    widest = std::max(widest, layer.W.cols());
    if (mlp_has_act(net, l) && net.blocks.norm.kind != NormKind::none)
      norm_grads_size(act_units(net, l), g.dnorm[l]);
  }
  g.back.resize(widest, B);
  g.gy.resize(widest, B);
  if (net.blocks.residual.block == 0) return;
  g.gd.resize(net.fan_out(0), B);
  g.dh.resize(static_cast<size_t>(mlp_block_count(net)) + 1);
  for (Mat<T>& dh : g.dh) dh.resize(net.fan_out(0), B);
}

// g.back = W_lᵀ δ_l on units r of layer l's input.
template <class T>
static void back_rows(const Mlp<T>& net, MlpGrads<T>& g, size_t l, Range r) {
  if (r.size == 0) return;
  gemm<T>(T(1), net.layers[l].W.middleCols(r.begin, r.size), Op::trans, g.delta[l], Op::none, T(0),
          rows_of(g.back, r));
}

// ds = act_l's backward of ga on units r (act_backward's one-group case).
template <class T>
static void act_back_rows(const Mlp<T>& net, const MlpCache<T>& c, size_t l, const Mat<T>& ga,
                          Mat<T>& ds, MlpGrads<T>& g, Range r) {
  const NormParams<T>& p = net.layers[l].norm;
  if (net.blocks.norm.kind == NormKind::none) {
    rows_of(ds, r) = rows_of(c.dphi[l], r).cwiseProduct(rows_of(ga, r));
  } else if (net.blocks.placement == NormPlacement::before) {  // s → N → φ
    rows_of(g.gy, r) = rows_of(c.dphi[l], r).cwiseProduct(rows_of(ga, r));
    batch_norm_backward_units(p, c.norm[l][0], g.gy, r, ds, g.dnorm[l]);
  } else {  // s → φ → N
    batch_norm_backward_units(p, c.norm[l][0], ga, r, g.gy, g.dnorm[l]);
    rows_of(ds, r) = rows_of(c.dphi[l], r).cwiseProduct(rows_of(g.gy, r));
  }
}

// ∂L/∂b_l and (store_dw) ∂L/∂W_l on thread t's rows of W_l.
template <class T>
static void params_rows(const MlpCache<T>& c, MlpGrads<T>& g, size_t l, bool store_dw, int t,
                        int nt) {
  const Mat<T>& d = g.delta[l];
  const Range r = units_of(d.rows(), t, nt);
  if (r.size == 0) return;
  const T inv = T(1) / static_cast<T>(d.cols());
  auto db = g.db[l].segment(r.begin, r.size);
  db.setZero();
  for (Index i = 0; i < d.cols(); ++i) db += d.col(i).segment(r.begin, r.size);
  db *= inv;
  if (store_dw) gemm<T>(inv, rows_of(d, r), Op::none, c.a[l], Op::trans, T(0), rows_of(g.dW[l], r));
}

// Thread t of nt's units of mlp_blocks_backward (but a learned α's sum).
template <class T>
static void team_backward(const Mlp<T>& net, const MlpCache<T>& c, MlpGrads<T>& g, bool store_dw,
                          int t, int nt) {
  const size_t n = net.layers.size(), L = n - 1;
  const int k = net.blocks.residual.block;
  if (k == 0) {
    Range r = units_of(net.layers[L].W.cols(), t, nt);
    back_rows(net, g, L, r);
    for (size_t l = L; l-- > 0;) {
      act_back_rows(net, c, l, g.back, g.delta[l], g, r);
      if (l == 0) break;
#pragma omp barrier
      r = units_of(net.layers[l].W.cols(), t, nt);
      back_rows(net, g, l, r);
    }
  } else {
    const size_t blocks = static_cast<size_t>(mlp_block_count(net)), kk = static_cast<size_t>(k);
    const Range r = units_of(net.fan_out(0), t, nt);
    back_rows(net, g, L, r);
    rows_of(g.dh[blocks], r) = rows_of(g.back, r);
    for (size_t b = blocks; b-- > 0;) {
      const size_t last = (b + 1) * kk;
      const Mat<T>& gh = g.dh[b + 1];
      rows_of(g.delta[last], r) = static_cast<T>(net.layers[last].alpha) * rows_of(gh, r);
      for (size_t l = last; l > b * kk; --l) {
#pragma omp barrier
        back_rows(net, g, l, r);
        act_back_rows(net, c, l, g.back, l > 1 + b * kk ? g.delta[l - 1] : g.gd, g, r);
      }
      rows_of(g.dh[b], r) = rows_of(gh, r) + rows_of(g.gd, r);
    }
    rows_of(g.delta[0], r) = rows_of(g.dh[0], r);
  }
#pragma omp barrier
  for (size_t l = 0; l < n; ++l) params_rows(c, g, l, store_dw, t, nt);
}

template <class T>
void mlp_blocks_forward(const Mlp<T>& net, Mlp<T>* running, const Mat<T>& x, MlpCache<T>& c,
                        Rng* train_rng, NormUse use) {
  const size_t n = net.layers.size(), L = n - 1;
  Rng* rrelu_rng = net.act.kind == Activation::rrelu ? train_rng : nullptr;
  c.a.resize(n + 1);
  c.z.resize(n);
  c.dphi.resize(n);
  c.y.resize(n);
  c.norm.resize(n);
  c.norm_batch = use.group;
  c.a[0] = x;
  const Index B = x.cols();
  if (team_takes(net, B, group_count(net.blocks.norm.kind, use, B), rrelu_rng != nullptr)) {
    team_forward_size(net, B, c);
    team_run(team_threads(), [&](int t, int nt) { team_forward(net, running, c, use, t, nt); });
    return;
  }
  const EigenOneThread one;
  const int k = net.blocks.residual.block;
  if (k == 0) {
    for (size_t l = 0; l < L; ++l) {
      dense_run(net.layers[l], c.a[l], c.z[l]);
      act_forward(net, running, l, c.z[l], c.a[l + 1], c, rrelu_rng, use);
    }
  } else {
    const size_t blocks = static_cast<size_t>(mlp_block_count(net)), kk = static_cast<size_t>(k);
    c.h.resize(blocks + 1);
    dense_run(net.layers[0], c.a[0], c.z[0]);
    c.h[0] = c.z[0];
    for (size_t b = 0; b < blocks; ++b) {
      const Mat<T>* s = &c.h[b];
      for (size_t l = 1 + b * kk; l <= (b + 1) * kk; ++l) {
        act_forward(net, running, l, *s, c.a[l], c, rrelu_rng, use);
        dense_run(net.layers[l], c.a[l], c.z[l]);
        s = &c.z[l];
      }
      const T alpha = static_cast<T>(net.layers[(b + 1) * kk].alpha);
      c.h[b + 1] = c.h[b] + alpha * *s;
    }
    c.a[L] = c.h[blocks];
  }
  dense_run(net.layers[L], c.a[L], c.z[L]);
  c.a[L + 1] = c.z[L];
}

// ---- backward ----

// out = N_l's backward of gin over the forward's groups; ∂L/∂γ, ∂L/∂β into g.dnorm[l] (each
// group's, of its own batch mean, weighted by its share of the batch).
template <class T>
static void norm_back(const Mlp<T>& net, const MlpCache<T>& c, size_t l, const Mat<T>& gin,
                      Mat<T>& out, MlpGrads<T>& g) {
  const NormParams<T>& p = net.layers[l].norm;
  const std::vector<NormCache<T>>& caches = c.norm[l];
  const Index B = gin.cols(), groups = static_cast<Index>(caches.size());
  if (groups == 1) return norm_backward(p, caches[0], gin, out, g.dnorm[l]);
  out.resize(gin.rows(), B);
  g.dnorm[l].dgamma.setZero(p.gamma.size());
  g.dnorm[l].dbeta.setZero(p.beta.size());
  for (Index k = 0; k < groups; ++k) {
    const Range r = group_range(k, groups, c.norm_batch, B);
    g.gg = gin.middleCols(r.begin, r.size);
    norm_backward(p, caches[static_cast<size_t>(k)], g.gg, g.go, g.dgroup);
    out.middleCols(r.begin, r.size) = g.go;
    const T share = static_cast<T>(static_cast<double>(r.size) / static_cast<double>(B));
    g.dnorm[l].dgamma += share * g.dgroup.dgamma;
    g.dnorm[l].dbeta += share * g.dgroup.dbeta;
  }
}

// ds = act_l's backward of ga = ∂/∂a_l; prelu: ∂L/∂slope_l.
template <class T>
static void act_backward(const Mlp<T>& net, const MlpCache<T>& c, size_t l, const Mat<T>& ga,
                         Mat<T>& ds, MlpGrads<T>& g) {
  const NormKind kind = net.blocks.norm.kind;
  const bool before = net.blocks.placement == NormPlacement::before;
  const Mat<T>& phi_in = kind != NormKind::none && before ? c.y[l] : mlp_act_input(net, c, l);
  if (kind == NormKind::none) {
    ds = c.dphi[l].cwiseProduct(ga);
  } else if (before) {  // s → N → φ
    g.gy = c.dphi[l].cwiseProduct(ga);
    norm_back(net, c, l, g.gy, ds, g);
  } else {  // s → φ → N
    norm_back(net, c, l, ga, g.gy, g);
    ds = c.dphi[l].cwiseProduct(g.gy);
  }
  if (net.act.kind == Activation::prelu)
    g.dslope[l] = prelu_slope_grad(phi_in, kind != NormKind::none && !before ? g.gy : ga);
}

// g.back = W_lᵀ δ_l.
template <class T>
static void back_run(const Mlp<T>& net, MlpGrads<T>& g, size_t l) {
  const Mat<T>& W = net.layers[l].W;
  g.back.resize(W.cols(), g.delta[l].cols());
  gemm<T>(T(1), W, Op::trans, g.delta[l], Op::none, T(0), g.back);
}

template <class T>
void mlp_blocks_backward(const Mlp<T>& net, const MlpCache<T>& c, const Mat<T>& dyhat,
                         MlpGrads<T>& g, bool store_dw) {
  const size_t n = net.layers.size(), L = n - 1;
  const Index B = dyhat.cols();
  const double inv_b = 1.0 / static_cast<double>(B);
  g.has_dw = store_dw;
  g.dW.resize(n);
  g.db.resize(n);
  g.delta.resize(n);
  g.dnorm.resize(n);
  g.dslope.assign(n, 0.0);
  g.dalpha.assign(n, 0.0);
  g.delta[L] = dyhat;
  const int k = net.blocks.residual.block;
  const size_t first = k > 0 ? 1 : 0;  // the first layer with a norm
  const size_t groups = first < c.norm.size() ? c.norm[first].size() : 0;
  if (team_takes(net, B, static_cast<Index>(groups), false)) {
    team_backward_size(net, B, store_dw, g);
    team_run(team_threads(), [&](int t, int nt) { team_backward(net, c, g, store_dw, t, nt); });
    if (net.blocks.residual.alpha_kind != AlphaKind::rezero) return;
    for (int b = 0; b < mlp_block_count(net); ++b) {
      const size_t last = static_cast<size_t>((b + 1) * k);
      g.dalpha[last] = g.dh[static_cast<size_t>(b) + 1]
                           .template cast<double>()
                           .cwiseProduct(c.z[last].template cast<double>())
                           .sum() *
                       inv_b;
    }
    return;
  }
  const EigenOneThread one;
  back_run(net, g, L);
  if (k == 0) {
    for (size_t l = L; l-- > 0;) {
      act_backward(net, c, l, g.back, g.delta[l], g);
      if (l > 0) back_run(net, g, l);
    }
  } else {
    const size_t blocks = static_cast<size_t>(mlp_block_count(net)), kk = static_cast<size_t>(k);
    const bool learn = net.blocks.residual.alpha_kind == AlphaKind::rezero;
    g.dh.resize(blocks + 1);
    g.dh[blocks] = g.back;
    for (size_t b = blocks; b-- > 0;) {
      const size_t last = (b + 1) * kk;
      const Mat<T>& gh = g.dh[b + 1];
      g.delta[last] = static_cast<T>(net.layers[last].alpha) * gh;
      if (learn)
        g.dalpha[last] =
            gh.template cast<double>().cwiseProduct(c.z[last].template cast<double>()).sum() *
            inv_b;
      for (size_t l = last; l > b * kk; --l) {
        back_run(net, g, l);
        act_backward(net, c, l, g.back, l > 1 + b * kk ? g.delta[l - 1] : g.gd, g);
      }
      g.dh[b] = gh + g.gd;
    }
    g.delta[0] = g.dh[0];
  }
  const T inv = static_cast<T>(inv_b);
  for (size_t l = 0; l < n; ++l) {
    const Mat<T>& d = g.delta[l];
    g.db[l].setZero(d.rows());
    for (Index i = 0; i < B; ++i) g.db[l] += d.col(i);
    g.db[l] *= inv;
    if (!store_dw) continue;
    g.dW[l].resize(d.rows(), c.a[l].rows());
    gemm<T>(inv, d, Op::none, c.a[l], Op::trans, T(0), g.dW[l]);
  }
}

#define GL_MLP_BLOCKS_INST(T)                                                                    \
  template int mlp_block_count<T>(const Mlp<T>&);                                                \
  template bool mlp_has_act<T>(const Mlp<T>&, size_t);                                           \
  template int mlp_stream_of<T>(const Mlp<T>&, size_t);                                          \
  template const Mat<T>& mlp_act_input<T>(const Mlp<T>&, const MlpCache<T>&, size_t);            \
  template void mlp_blocks_init<T>(Mlp<T>&, const BlocksSpec&);                                  \
  template void mlp_blocks_forward<T>(const Mlp<T>&, Mlp<T>*, const Mat<T>&, MlpCache<T>&, Rng*, \
                                      NormUse);                                                  \
  template void mlp_blocks_backward<T>(const Mlp<T>&, const MlpCache<T>&, const Mat<T>&,         \
                                       MlpGrads<T>&, bool);
GL_MLP_BLOCKS_INST(float)
GL_MLP_BLOCKS_INST(double)

}  // namespace gl
