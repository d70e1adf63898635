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
  back_run(net, g, L);
  const int k = net.blocks.residual.block;
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
