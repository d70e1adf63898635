#include "harness/nn/mlp.h"

#include <algorithm>

#include "harness/core/threads.h"
#include "harness/nn/blas.h"

namespace gl {

template <class T>
int Mlp<T>::pieces(size_t l) const {
  return (act.kind == Activation::maxout && l + 1 < layers.size()) ? act.pieces : 1;
}

template <class T>
Index Mlp<T>::fan_out(size_t l) const {
  return layers[l].W.rows() / pieces(l);
}

template <class T>
Mlp<T> mlp_init(const MlpShape& shape, const ActivationSpec& act, const InitSpec& init,
                const InitSpec& output_init, const BiasSpec& bias, Rng& rng) {
  Mlp<T> net;
  net.act = act;
  const size_t L = shape.hidden.size();
  net.layers.resize(L + 1);
  Index fan_in = shape.inputs;
  for (size_t l = 0; l <= L; ++l) {
    const Index fan_out = l < L ? shape.hidden[l] : shape.outputs;
    const Index rows = fan_out * net.pieces(l);
    Layer<T>& layer = net.layers[l];
    layer.slope = act.slope;
    layer.W.resize(rows, fan_in);
    layer.b.resize(rows);
    init_weights(l < L ? init : output_init, layer.W, rng);
    init_bias(bias, layer.b, rng);
    fan_in = fan_out;
  }
  return net;
}

// ---- threads ----
// With more than one OpenMP thread (the run's `threads`) the team splits the work of every layer,
// one of two ways:
//   units:   thread t of nt takes rows [n·t/nt, n·(t+1)/nt) of W_l for z_l, ∂L/∂W_l and the
//            update, and that share of W_l's columns for W_lᵀ δ_l. Each thread streams only its
//            share of W (W1: batch 10, bound by reading W; W4: large products). A barrier per
//            layer orders the layers.
//   batch:   for small W and a large batch (W2: 128×128, 64 examples, whose units' shares would
//            be too thin for the GEMM's 48-row tiles), each thread takes a share of the examples
//            through every layer with no barrier; then ∂L/∂W_l and the update by rows, as units.
// Each thread of a team computes in the caller's floating-point mode (threads.h: a float32 run's
// flushed subnormals). Not split (one thread): maxout (winning pieces), rrelu's training-time
// random slopes (drawn in storage order), prelu's slope gradient (one sum). A split changes which
// thread computes an element, not the operations; Eigen's blocking of a product can depend on its
// size, so another thread count can change the last bits (the same count gives the same bits).

namespace {
enum class LayerSplit { units, batch };  // (not data.h's Split, the data set's part)
// Thread t of nt's block of a layer's (rows, B) values: a share of the rows (units) or of the
// examples (batch).
struct Tile {
  Index r0, nr, c0, nc;
};
}  // namespace

template <class T>
static bool team_splits(const Mlp<T>& net, bool random_slopes) {
  const Activation k = net.act.kind;
  return team_threads() > 1 && k != Activation::maxout && k != Activation::prelu && !random_slopes;
}

// batch when every W_l fits in a core's L2 next to its packed copy (≤ 1 MB) and each thread gets
// at least 32 examples.
template <class T>
static LayerSplit split_of(const Mlp<T>& net, Index B) {
  Index most = 0;
  for (const Layer<T>& layer : net.layers) most = std::max(most, layer.W.size());
  const Index nt = team_threads();
  const bool batch =
      nt > 1 && B >= 32 * nt && most * static_cast<Index>(sizeof(T)) <= (Index(1) << 20);
  return batch ? LayerSplit::batch : LayerSplit::units;
}

static Tile tile_of(LayerSplit split, Index rows, Index B, int t, int nt) {
  if (split == LayerSplit::units) {
    const Range r = split_range(rows, t, nt);
    return {r.begin, r.size, 0, B};
  }
  const Range e = split_range(B, t, nt);
  return {0, rows, e.begin, e.size};
}

// ---- forward ----

template <class T>
static void cache_size(const Mlp<T>& net, Index B, MlpCache<T>& c) {
  const size_t n = net.layers.size();  // L + 1
  c.a.resize(n + 1);
  c.z.resize(n);
  c.dphi.resize(n - 1);
  c.win.resize(n - 1);
  for (size_t l = 0; l < n; ++l) {
    const Index fo = net.fan_out(l);
    c.z[l].resize(fo, B);
    c.a[l + 1].resize(fo, B);
    if (l + 1 < n) c.dphi[l].resize(fo, B);
  }
}

// rrelu in training: a random negative slope per (unit, example) of layer l, in storage order —
// U(lower, upper), or 1/U(1/upper, 1/lower) in the paper's convention.
template <class T>
static void rrelu_draw(const Mlp<T>& net, MlpCache<T>& c, size_t l, Rng& rng) {
  const bool paper = net.act.convention == RreluConvention::paper;
  for (Index e = 0; e < c.z[l].size(); ++e) {
    if (c.z[l](e) > T(0)) continue;
    const double u = paper ? 1.0 / rng_uniform(rng, 1.0 / net.act.upper, 1.0 / net.act.lower)
                           : rng_uniform(rng, net.act.lower, net.act.upper);
    c.dphi[l](e) = static_cast<T>(u);
    c.a[l + 1](e) = static_cast<T>(u) * c.z[l](e);
  }
}

// This thread's share of every layer (all of it outside a parallel region). train_rng: rrelu's
// training-time slopes (one thread only).
template <class T>
static void forward_share(const Mlp<T>& net, MlpCache<T>& c, Rng* train_rng, LayerSplit split,
                          int t, int nt) {
  const size_t n = net.layers.size();
  const Index B = c.a[0].cols();
  for (size_t l = 0; l < n; ++l) {
    const Layer<T>& layer = net.layers[l];
    const Tile k = tile_of(split, layer.W.rows(), B, t, nt);
    auto z = c.z[l].block(k.r0, k.c0, k.nr, k.nc);  // (share of fan_out, share of B)
    gemm<T>(T(1), layer.W.middleRows(k.r0, k.nr), Op::none, c.a[l].middleCols(k.c0, k.nc), Op::none,
            T(0), z);
    z.colwise() += layer.b.segment(k.r0, k.nr);
    auto a = c.a[l + 1].block(k.r0, k.c0, k.nr, k.nc);
    if (l + 1 < n) {
      // a_l = φ(z_l), dphi_l = φ'(z_l); prelu: this layer's learned slope
      ActivationSpec f = net.act;
      if (f.kind == Activation::prelu) f.slope = layer.slope;
      activation_apply<T>(f, z, a, c.dphi[l].block(k.r0, k.c0, k.nr, k.nc));
      if (train_rng) rrelu_draw(net, c, l, *train_rng);
    } else {
      a = z;  // affine output
    }
    if (split == LayerSplit::units) {
#pragma omp barrier
    }
  }
}

template <class T>
void mlp_forward(const Mlp<T>& net, const Mat<T>& x, MlpCache<T>& c, Rng* train_rng) {
  const size_t n = net.layers.size();  // L + 1
  const Index B = x.cols();
  const bool random_slopes = train_rng && net.act.kind == Activation::rrelu;
  cache_size(net, B, c);
  c.a[0] = x;
  if (net.act.kind != Activation::maxout) {
    if (team_splits(net, random_slopes)) {
      const LayerSplit split = split_of(net, B);
      team_run(team_threads(),
               [&](int t, int nt) { forward_share<T>(net, c, nullptr, split, t, nt); });
    } else {
      forward_share(net, c, random_slopes ? train_rng : nullptr, LayerSplit::units, 0, 1);
    }
    return;
  }
  for (size_t l = 0; l < n; ++l) {
    const Layer<T>& layer = net.layers[l];
    if (net.pieces(l) == 1) {  // the affine output
      c.z[l].noalias() = layer.W * c.a[l];
      c.z[l].colwise() += layer.b;
      c.a[l + 1] = c.z[l];
      continue;
    }
    // maxout: z(j, i) = max_p zk(p·fo + j, i); ties go to the lowest piece; φ = identity.
    const int k = net.pieces(l);
    const Index fo = layer.W.rows() / k;
    c.zk.resize(layer.W.rows(), B);
    c.zk.noalias() = layer.W * c.a[l];
    c.zk.colwise() += layer.b;
    c.z[l] = c.zk.topRows(fo);
    c.win[l].setZero(fo, B);
    for (int p = 1; p < k; ++p)
      for (Index i = 0; i < B; ++i)
        for (Index j = 0; j < fo; ++j)
          if (c.zk(p * fo + j, i) > c.z[l](j, i)) {
            c.z[l](j, i) = c.zk(p * fo + j, i);
            c.win[l](j, i) = p;
          }
    c.a[l + 1] = c.z[l];
    c.dphi[l].setOnes();
  }
}

// ---- backward ----
constexpr Index small_batch = 16;  // up to this batch, Wᵀδ is computed column by column of W

// δ_{L+1} = ∂ℓ_i/∂ŷ;  δ_l = φ'(z_l) ⊙ W_{l+1}ᵀ δ_{l+1};  ∂L/∂W_l = (1/B) Σ_i δ_l,i a_{l-1,i}ᵀ
//
// sgd (plain SGD fused into the backward, mlp_backward_sgd): once W_lᵀ δ_l has been taken from
// the old W_l, W_l ← W_l − (lr/B) δ_l a_{l-1}ᵀ as one product accumulating into W_l, so ∂L/∂W_l
// is never stored; b_l and the prelu slope get θ ← θ − lr·g. Without sgd, dW_l is stored.

template <class T>
static void grads_size(const Mlp<T>& net, Index B, bool store_dw, MlpGrads<T>& g) {
  const size_t n = net.layers.size();
  g.dW.resize(n);
  g.db.resize(n);
  g.delta.resize(n);
  g.dslope.assign(n, 0.0);
  Index widest = 0;
  for (size_t l = 0; l < n; ++l) {
    const Layer<T>& layer = net.layers[l];
    if (store_dw) g.dW[l].resize(layer.W.rows(), layer.W.cols());
    g.db[l].resize(layer.W.rows());
    if (l > 0) g.delta[l - 1].resize(layer.W.cols(), B);
    widest = std::max(widest, layer.W.cols());
  }
  if (g.back.rows() < widest || g.back.cols() != B) g.back.resize(widest, B);
}

// δ_{l-1} = φ'(z_{l-1}) ⊙ W_lᵀ δ_l for this thread's tile: a share of W_l's columns (units) or of
// the examples (batch). d: δ_l (maxout: scattered to the pieces).
template <class T>
static void layer_back_share(const Mlp<T>& net, const MlpCache<T>& c, MlpGrads<T>& g, size_t l,
                             const Mat<T>& d, LayerSplit split, int t, int nt) {
  const Mat<T>& W = net.layers[l].W;
  const Index B = d.cols();
  const Tile k = tile_of(split, W.cols(), B, t, nt);
  auto back = g.back.block(k.r0, k.c0, k.nr, k.nc);  // W_lᵀ δ_l (fan_in, B)
  const auto dk = d.middleCols(k.c0, k.nc);
  // For a small batch, B dot products per column of W (read once, in storage order) beat a GEMM,
  // which first copies (packs) all of W: 1.5x on 1000x1024, B = 10.
  if (B <= small_batch)
    for (Index col = k.r0; col < k.r0 + k.nr; ++col)
      back.row(col - k.r0).noalias() = W.col(col).transpose() * dk;
  else
    gemm<T>(T(1), W.middleCols(k.r0, k.nr), Op::trans, dk, Op::none, T(0), back);
  g.delta[l - 1].block(k.r0, k.c0, k.nr, k.nc) =
      c.dphi[l - 1].block(k.r0, k.c0, k.nr, k.nc).cwiseProduct(back);
}

// ∂L/∂b_l and ∂L/∂W_l, or the fused update of W_l and b_l, for this thread's share of W_l's rows.
template <class T>
static void layer_weights_share(const Mlp<T>& net, Mlp<T>* sgd, T lr, const MlpCache<T>& c,
                                MlpGrads<T>& g, size_t l, const Mat<T>& d, int t, int nt) {
  const Range r = split_range(net.layers[l].W.rows(), t, nt);
  const T inv_b = T(1) / static_cast<T>(d.cols());
  const auto dr = d.middleRows(r.begin, r.size);  // (share of rows, B)
  auto db = g.db[l].segment(r.begin, r.size);
  db.setZero();
  for (Index i = 0; i < d.cols(); ++i) db += dr.col(i);
  db *= inv_b;
  if (sgd) {
    Layer<T>& p = sgd->layers[l];
    gemm<T>(-lr * inv_b, dr, Op::none, c.a[l], Op::trans, T(1), p.W.middleRows(r.begin, r.size));
    p.b.segment(r.begin, r.size) -= lr * db;
  } else if (g.has_dw) {
    // dW_l = (1/B) δ_l a_{l-1}ᵀ (rows, fan_in): Eigen applies the 1/B as the GEMM's alpha, in the
    // same pass (for B ≤ the GEMM's depth block the bits equal a product followed by *= 1/B).
    gemm<T>(inv_b, dr, Op::none, c.a[l], Op::trans, T(0), g.dW[l].middleRows(r.begin, r.size));
  }
}

// This thread's share of the backward, from the top.
template <class T>
static void backward_share(const Mlp<T>& net, Mlp<T>* sgd, T lr, const MlpCache<T>& c,
                           MlpGrads<T>& g, LayerSplit split, int t, int nt) {
  const size_t n = net.layers.size();
  const Index B = g.delta[n - 1].cols();
  for (size_t l = n; l-- > 0;) {
    const Layer<T>& layer = net.layers[l];
    const int k = net.pieces(l);
    const Mat<T>* d = &g.delta[l];
    if (k > 1) {  // scatter δ to the winning pieces (one thread)
      const Index fo = layer.W.rows() / k;
      g.dk.setZero(layer.W.rows(), B);
      for (Index i = 0; i < B; ++i)
        for (Index j = 0; j < fo; ++j) g.dk(c.win[l](j, i) * fo + j, i) = g.delta[l](j, i);
      d = &g.dk;
    }
    if (l > 0) layer_back_share(net, c, g, l, *d, split, t, nt);
    if (l > 0 && net.act.kind == Activation::prelu) {  // one thread (team_splits)
      // a = slope·z for z ≤ 0: ∂L/∂slope = (1/B) Σ_{i,j} [z ≤ 0] z · ∂ℓ_i/∂a
      const Mat<T>& z = c.z[l - 1];
      double sum = 0;
      for (Index j = 0; j < z.cols(); ++j)
        for (Index i = 0; i < z.rows(); ++i)
          if (z(i, j) <= T(0))
            sum += static_cast<double>(z(i, j)) * static_cast<double>(g.back(i, j));
      g.dslope[l - 1] = sum / static_cast<double>(B);
    }
    if (split == LayerSplit::units) {
#pragma omp barrier
      // every thread is past W_lᵀ δ_l (W_l may change) and δ_{l-1} is whole
      layer_weights_share(net, sgd, lr, c, g, l, *d, t, nt);
    }
  }
  if (split == LayerSplit::batch) {
#pragma omp barrier
    for (size_t l = 0; l < n; ++l) layer_weights_share(net, sgd, lr, c, g, l, g.delta[l], t, nt);
  }
}

// Sizes grads, seeds δ_{L+1} and runs backward_share on the team (or on this thread alone).
template <class T>
static void backward_run(const Mlp<T>& net, Mlp<T>* sgd, T lr, const MlpCache<T>& c,
                         const Mat<T>& dyhat, bool store_dw, MlpGrads<T>& g) {
  g.has_dw = store_dw;
  grads_size(net, dyhat.cols(), store_dw, g);
  g.delta[net.layers.size() - 1] = dyhat;
  if (team_splits(net, false)) {
    const LayerSplit split = split_of(net, dyhat.cols());
    team_run(team_threads(),
             [&](int t, int nt) { backward_share<T>(net, sgd, lr, c, g, split, t, nt); });
  } else {
    backward_share<T>(net, sgd, lr, c, g, LayerSplit::units, 0, 1);
  }
}

template <class T>
void mlp_backward(const Mlp<T>& net, const MlpCache<T>& c, const Mat<T>& dyhat, MlpGrads<T>& g,
                  bool store_dw) {
  backward_run<T>(net, nullptr, T(0), c, dyhat, store_dw || net.act.kind == Activation::maxout, g);
}

template <class T>
void mlp_backward_sgd(Mlp<T>& net, const MlpCache<T>& c, const Mat<T>& dyhat, MlpGrads<T>& g,
                      double lr) {
  backward_run<T>(net, &net, static_cast<T>(lr), c, dyhat, false, g);
  for (size_t l = 0; l < net.layers.size(); ++l) net.layers[l].slope -= lr * g.dslope[l];
}

// ---- Jacobians (probe.jacobian) ----

template <class T>
void mlp_layer_jacobian(const Mlp<T>& net, const MlpCache<T>& c, size_t l, Index i,
                        Mat<double>& J) {
  const Mat<T>& W = net.layers[l].W;
  const Index fo = net.fan_out(l);
  const bool hidden = l + 1 < net.layers.size();
  J.resize(fo, W.cols());
  for (Index j = 0; j < fo; ++j) {
    const Index row = net.pieces(l) > 1 ? c.win[l](j, i) * fo + j : j;
    const double d = hidden ? static_cast<double>(c.dphi[l](j, i)) : 1.0;
    J.row(j) = d * W.row(row).template cast<double>();
  }
}

template <class T>
void mlp_io_jacobian(const Mlp<T>& net, const MlpCache<T>& c, Index i, Mat<double>& J) {
  Mat<double> Jl, acc;
  mlp_layer_jacobian(net, c, 0, i, J);
  for (size_t l = 1; l + 1 < net.layers.size(); ++l) {
    mlp_layer_jacobian(net, c, l, i, Jl);
    acc.noalias() = Jl * J;
    J.swap(acc);
  }
}

#define GL_MLP_INST(T)                                                                          \
  template struct Mlp<T>;                                                                       \
  template Mlp<T> mlp_init<T>(const MlpShape&, const ActivationSpec&, const InitSpec&,          \
                              const InitSpec&, const BiasSpec&, Rng&);                          \
  template void mlp_forward<T>(const Mlp<T>&, const Mat<T>&, MlpCache<T>&, Rng*);               \
  template void mlp_backward<T>(const Mlp<T>&, const MlpCache<T>&, const Mat<T>&, MlpGrads<T>&, \
                                bool);                                                          \
  template void mlp_backward_sgd<T>(Mlp<T>&, const MlpCache<T>&, const Mat<T>&, MlpGrads<T>&,   \
                                    double);                                                    \
  template void mlp_layer_jacobian<T>(const Mlp<T>&, const MlpCache<T>&, size_t, Index,         \
                                      Mat<double>&);                                            \
  template void mlp_io_jacobian<T>(const Mlp<T>&, const MlpCache<T>&, Index, Mat<double>&);
GL_MLP_INST(float)
GL_MLP_INST(double)

}  // namespace gl
