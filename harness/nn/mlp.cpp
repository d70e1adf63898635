#include "harness/nn/mlp.h"

#include <algorithm>

#include "harness/core/threads.h"
#include "harness/nn/blas.h"
#include "harness/nn/mlp_blocks.h"
#include "harness/nn/skinny.h"

#include <stdexcept>

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

// ---- the sequence ----

template <class T>
size_t mlp_op_count(const Mlp<T>& net) {
  return 2 * net.layers.size();
}

template <class T>
LayerOp mlp_op(const Mlp<T>& net, size_t i) {
  const size_t l = i / 2;
  if (i % 2 == 0) return {LayerKind::dense, l};
  if (l + 1 == net.layers.size()) return {LayerKind::output, l};
  return {net.act.kind == Activation::maxout ? LayerKind::maxout : LayerKind::activation, l};
}

// ---- threads ----
// With more than one OpenMP thread (the run's `threads`) the team runs every op on its tile of the
// op's (units, B) values, split one of two ways:
//   units:   thread t of nt takes units [n·t/nt, n·(t+1)/nt): rows of W_l for z_l, ∂L/∂W_l and
//            the update, that share of W_l's columns for W_lᵀ δ_l, and the same units of the
//            activation after it. Each thread streams only its share of W (W1: batch 10, bound by
//            reading W; W4: large products). A dense op reads every unit of its input, so a
//            barrier comes before each dense op but the first (backward: but the top one).
//   batch:   for small W and a large batch (W2: 128×128, 64 examples, whose units' shares would
//            be too thin for the GEMM's 48-row tiles), each thread takes a share of the examples
//            through every op with no barrier; then ∂L/∂W_l and the update by rows, as units.
// Each thread of a team computes in the caller's floating-point mode (threads.h: a float32 run's
// flushed subnormals). Not split (one thread): maxout (winning pieces), rrelu's training-time
// random slopes (drawn in storage order), prelu's slope gradient (one sum). A split changes which
// thread computes an element, not the operations; Eigen's blocking of a product can depend on its
// size, so another thread count can change the last bits (the same count gives the same bits).

namespace {
enum class LayerSplit { units, batch };  // (not data.h's Split, the data set's part)
// Thread t of nt's block of an op's (units, B) values: a share of the units or of the examples.
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

static Tile tile_of(LayerSplit split, Index units, Index B, int t, int nt) {
  if (split == LayerSplit::units) {
    const Range r = split_range(units, t, nt);
    return {r.begin, r.size, 0, B};
  }
  const Range e = split_range(B, t, nt);
  return {0, units, e.begin, e.size};
}

// ---- the layers: each kind's forward above its backward ----
//
// Backward: δ_{L+1} = ∂ℓ_i/∂ŷ;  ∂ℓ_i/∂a_{l-1} = W_lᵀ δ_l (g.back);  δ_l = φ'(z_l) ⊙ ∂ℓ_i/∂a_l;
// ∂L/∂W_l = (1/B) Σ_i δ_l,i a_{l-1,i}ᵀ.
// sgd (plain SGD fused into the backward, mlp_backward_sgd): once W_lᵀ δ_l has been taken from
// the old W_l, W_l ← W_l − (lr/B) δ_l a_{l-1}ᵀ as one product accumulating into W_l, so ∂L/∂W_l
// is never stored; b_l and the prelu slope get θ ← θ − lr·g. Without sgd, dW_l is stored.

// dense: z_l = W_l a_{l-1} + b_l on this thread's tile; z (fan_out, B). A maxout layer's k pieces
// go to the scratch zk (k·fan_out, B); a maxout net (one thread) takes Eigen's product for every
// layer, never OpenBLAS.
template <class T>
static void dense_forward(const Mlp<T>& net, MlpCache<T>& c, size_t l, const Tile& k) {
  const Layer<T>& layer = net.layers[l];
  if (net.act.kind == Activation::maxout) {
    Mat<T>& z = net.pieces(l) > 1 ? c.zk : c.z[l];
    z.resize(layer.W.rows(), c.a[l].cols());
    z.noalias() = layer.W * c.a[l];
    z.colwise() += layer.b;
    return;
  }
  auto z = c.z[l].block(k.r0, k.c0, k.nr, k.nc);  // (share of fan_out, share of B)
  if (k.nc <= skinny_batch && skinny_enabled())
    skinny_product<T>(layer.W.middleRows(k.r0, k.nr), c.a[l].middleCols(k.c0, k.nc), z);
  else
    gemm<T>(T(1), layer.W.middleRows(k.r0, k.nr), Op::none, c.a[l].middleCols(k.c0, k.nc), Op::none,
            T(0), z);
  z.colwise() += layer.b.segment(k.r0, k.nr);
}

// δ_l as the dense layer's product sees it: scattered to the winning pieces for maxout.
template <class T>
static const Mat<T>& dense_delta(const Mlp<T>& net, const MlpGrads<T>& g, size_t l) {
  return net.pieces(l) > 1 ? g.dk : g.delta[l];
}

// Whether layer l's plain SGD step is fused into its Wᵀδ (skinny.h): a batch of ≤ skinny_batch.
template <class T>
static bool skinny_sgd(const Mlp<T>* sgd, Index B) {
  return sgd && B <= skinny_batch && skinny_enabled();
}

// dense, back to its input: ∂ℓ/∂a_{l-1} = W_lᵀ δ_l (g.back) for this thread's tile of a_{l-1}'s
// units (a share of W_l's columns) or examples; nothing for l = 0. A maxout layer first scatters
// δ_l to the winning pieces (g.dk, one thread). With sgd and a small batch, the step of that
// share of W_l's columns follows in the same pass over them (skinny_backward_sgd).
template <class T>
static void dense_backward(const Mlp<T>& net, Mlp<T>* sgd, T lr, const MlpCache<T>& c,
                           MlpGrads<T>& g, size_t l, const Tile& k) {
  const Mat<T>& W = net.layers[l].W;
  const Index B = g.delta[l].cols();
  if (const int p = net.pieces(l); p > 1) {
    const Index fo = W.rows() / p;
    g.dk.setZero(W.rows(), B);
    for (Index i = 0; i < B; ++i)
      for (Index j = 0; j < fo; ++j) g.dk(c.win[l](j, i) * fo + j, i) = g.delta[l](j, i);
  }
  const Mat<T>& d = dense_delta(net, g, l);
  auto back = g.back.block(k.r0, k.c0, l == 0 ? 0 : k.nr, k.nc);  // W_lᵀ δ_l (fan_in, B)
  if (skinny_sgd(sgd, B)) {
    const T alpha = -lr / static_cast<T>(B);
    return skinny_backward_sgd<T>(sgd->layers[l].W.middleCols(k.r0, k.nr), d,
                                  c.a[l].middleRows(k.r0, k.nr), alpha, back);
  }
  if (l == 0) return;
  const auto dk = d.middleCols(k.c0, k.nc);
  // For a small batch, W read once in storage order beats a GEMM, which first copies (packs) all
  // of W (skinny.h).
  if (B <= skinny_batch && skinny_enabled())
    skinny_product_tn<T>(W.middleCols(k.r0, k.nr), dk, back);
  else
    gemm<T>(T(1), W.middleCols(k.r0, k.nr), Op::trans, dk, Op::none, T(0), back);
}

// dense, its parameters: ∂L/∂b_l and ∂L/∂W_l, or the fused update of W_l and b_l, for this
// thread's share of W_l's rows (after a barrier: every thread is past W_lᵀ δ_l). A small batch's
// step of W_l came with W_lᵀ δ_l (dense_backward).
template <class T>
static void dense_params_backward(const Mlp<T>& net, Mlp<T>* sgd, T lr, const MlpCache<T>& c,
                                  MlpGrads<T>& g, size_t l, int t, int nt) {
  const Mat<T>& d = dense_delta(net, g, l);
  const Range r = split_range(net.layers[l].W.rows(), t, nt);
  const T inv_b = T(1) / static_cast<T>(d.cols());
  const auto dr = d.middleRows(r.begin, r.size);  // (share of rows, B)
  auto db = g.db[l].segment(r.begin, r.size);
  db.setZero();
  for (Index i = 0; i < d.cols(); ++i) db += dr.col(i);
  db *= inv_b;
  if (sgd) {
    Layer<T>& p = sgd->layers[l];
    if (!skinny_sgd(sgd, d.cols()))
      gemm<T>(-lr * inv_b, dr, Op::none, c.a[l], Op::trans, T(1), p.W.middleRows(r.begin, r.size));
    p.b.segment(r.begin, r.size) -= lr * db;
  } else if (g.has_dw) {
    // dW_l = (1/B) δ_l a_{l-1}ᵀ (rows, fan_in): Eigen applies the 1/B as the GEMM's alpha, in the
    // same pass (for B ≤ the GEMM's depth block the bits equal a product followed by *= 1/B).
    gemm<T>(inv_b, dr, Op::none, c.a[l], Op::trans, T(0), g.dW[l].middleRows(r.begin, r.size));
  }
}

// rrelu in training: a random negative slope per (unit, example) of z, in storage order —
// U(lower, upper), or 1/U(1/upper, 1/lower) in the paper's convention — into a = φ(z) and φ'.
template <class T>
void rrelu_draw(const ActivationSpec& f, const Mat<T>& z, Mat<T>& a, Mat<T>& dphi, Rng& rng) {
  const bool paper = f.convention == RreluConvention::paper;
  for (Index e = 0; e < z.size(); ++e) {
    if (z(e) > T(0)) continue;
    const double u = paper ? 1.0 / rng_uniform(rng, 1.0 / f.upper, 1.0 / f.lower)
                           : rng_uniform(rng, f.lower, f.upper);
    dphi(e) = static_cast<T>(u);
    a(e) = static_cast<T>(u) * z(e);
  }
}

// prelu: a = slope·z for z ≤ 0, so ∂L/∂slope = (1/B) Σ_{i,j} [z ≤ 0] z · ∂ℓ_i/∂a (ga: (units, B)).
template <class T>
double prelu_slope_grad(const Mat<T>& z, const Mat<T>& ga) {
  double sum = 0;
  for (Index j = 0; j < z.cols(); ++j)
    for (Index i = 0; i < z.rows(); ++i)
      if (z(i, j) <= T(0)) sum += static_cast<double>(z(i, j)) * static_cast<double>(ga(i, j));
  return sum / static_cast<double>(z.cols());
}

// activation: a_l = φ(z_l), dphi_l = φ'(z_l) on this thread's tile (prelu: layer l's learned
// slope); train_rng: rrelu's training-time slopes (one thread).
template <class T>
static void activation_forward(const Mlp<T>& net, MlpCache<T>& c, size_t l, const Tile& k,
                               Rng* train_rng) {
  ActivationSpec f = net.act;
  if (f.kind == Activation::prelu) f.slope = net.layers[l].slope;
  activation_apply<T>(f, c.z[l].block(k.r0, k.c0, k.nr, k.nc),
                      c.a[l + 1].block(k.r0, k.c0, k.nr, k.nc),
                      c.dphi[l].block(k.r0, k.c0, k.nr, k.nc));
  if (train_rng) rrelu_draw(net.act, c.z[l], c.a[l + 1], c.dphi[l], *train_rng);
}

// activation: δ_l = φ'(z_l) ⊙ ∂ℓ/∂a_l on this thread's tile; prelu (one thread): ∂L/∂slope_l.
template <class T>
static void activation_backward(const Mlp<T>& net, const MlpCache<T>& c, MlpGrads<T>& g, size_t l,
                                const Tile& k) {
  g.delta[l].block(k.r0, k.c0, k.nr, k.nc) =
      c.dphi[l].block(k.r0, k.c0, k.nr, k.nc).cwiseProduct(g.back.block(k.r0, k.c0, k.nr, k.nc));
  if (net.act.kind == Activation::prelu) g.dslope[l] = prelu_slope_grad(c.z[l], g.back);
}

// maxout (one thread): z(j, i) = max_p zk(p·fo + j, i), ties to the lowest piece; a = z, φ' = 1.
template <class T>
static void maxout_forward(const Mlp<T>& net, MlpCache<T>& c, size_t l) {
  const int k = net.pieces(l);
  const Index fo = net.fan_out(l), B = c.zk.cols();
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

// maxout: δ_l = ∂ℓ/∂a_l (φ' = 1); the dense layer below scatters it to the winning pieces.
template <class T>
static void maxout_backward(const MlpCache<T>& c, MlpGrads<T>& g, size_t l, const Tile& k) {
  g.delta[l].block(k.r0, k.c0, k.nr, k.nc) =
      c.dphi[l].block(k.r0, k.c0, k.nr, k.nc).cwiseProduct(g.back.block(k.r0, k.c0, k.nr, k.nc));
}

// output: ŷ = a_{L+1} = z_{L+1} (affine); backward: δ_{L+1} = ∂ℓ/∂ŷ, seeded by backward_run.
template <class T>
static void output_forward(MlpCache<T>& c, size_t l, const Tile& k) {
  c.a[l + 1].block(k.r0, k.c0, k.nr, k.nc) = c.z[l].block(k.r0, k.c0, k.nr, k.nc);
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

// This thread's tile of every op, in order (all of it on one thread outside a team).
template <class T>
static void forward_share(const Mlp<T>& net, MlpCache<T>& c, Rng* train_rng, LayerSplit split,
                          int t, int nt) {
  const Index B = c.a[0].cols();
  for (size_t i = 0; i < mlp_op_count(net); ++i) {
    const LayerOp op = mlp_op(net, i);
    const Tile k = tile_of(split, net.fan_out(op.l), B, t, nt);
    switch (op.kind) {
      case LayerKind::dense:
        if (split == LayerSplit::units && i > 0) {
#pragma omp barrier
        }
        dense_forward(net, c, op.l, k);
        break;
      case LayerKind::activation:
        activation_forward(net, c, op.l, k, train_rng);
        break;
      case LayerKind::maxout:
        maxout_forward(net, c, op.l);
        break;
      case LayerKind::output:
        output_forward(c, op.l, k);
        break;
    }
  }
}

template <class T>
void mlp_forward(const Mlp<T>& net, const Mat<T>& x, MlpCache<T>& c, Rng* train_rng, NormUse use) {
  if (net.has_blocks()) return mlp_blocks_forward<T>(net, nullptr, x, c, train_rng, use);
  const bool random_slopes = train_rng && net.act.kind == Activation::rrelu;
  cache_size(net, x.cols(), c);
  c.a[0] = x;
  if (team_splits(net, random_slopes)) {
    const LayerSplit split = split_of(net, x.cols());
    team_run(team_threads(),
             [&](int t, int nt) { forward_share<T>(net, c, nullptr, split, t, nt); });
  } else {
    forward_share(net, c, random_slopes ? train_rng : nullptr, LayerSplit::units, 0, 1);
  }
}

template <class T>
void mlp_forward_train(Mlp<T>& net, const Mat<T>& x, MlpCache<T>& c, Rng& rng) {
  if (net.has_blocks()) return mlp_blocks_forward(net, &net, x, c, &rng, NormUse{});
  mlp_forward(net, x, c, &rng);
}

// ---- backward ----

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

// This thread's tile of every op, from the top. units: a dense layer's parameters wait for the
// barrier before the next dense op (every thread is then past W_lᵀ δ_l, and δ_{l-1} is whole);
// batch: they all come after one barrier at the end.
template <class T>
static void backward_share(const Mlp<T>& net, Mlp<T>* sgd, T lr, const MlpCache<T>& c,
                           MlpGrads<T>& g, LayerSplit split, int t, int nt) {
  const size_t n = net.layers.size(), count = mlp_op_count(net);
  const Index B = g.delta[n - 1].cols();
  size_t waiting = n;  // the dense layer whose parameters wait for the next barrier (n: none)
  for (size_t i = count; i-- > 0;) {
    const LayerOp op = mlp_op(net, i);
    const Tile k = tile_of(split, net.fan_out(op.l), B, t, nt);
    switch (op.kind) {
      case LayerKind::dense:
        if (split == LayerSplit::units && waiting < n) {
#pragma omp barrier
          dense_params_backward(net, sgd, lr, c, g, waiting, t, nt);
        }
        // the tile of a_{l-1}'s units (W_l's columns)
        dense_backward(net, sgd, lr, c, g, op.l,
                       tile_of(split, net.layers[op.l].W.cols(), B, t, nt));
        waiting = op.l;
        break;
      case LayerKind::activation:
        activation_backward(net, c, g, op.l, k);
        break;
      case LayerKind::maxout:
        maxout_backward(c, g, op.l, k);
        break;
      case LayerKind::output:
        break;
    }
  }
#pragma omp barrier
  if (split == LayerSplit::units)
    dense_params_backward(net, sgd, lr, c, g, waiting, t, nt);
  else
    for (size_t l = 0; l < n; ++l) dense_params_backward(net, sgd, lr, c, g, l, t, nt);
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
  if (net.has_blocks()) return mlp_blocks_backward(net, c, dyhat, g, store_dw);
  backward_run<T>(net, nullptr, T(0), c, dyhat, store_dw || net.act.kind == Activation::maxout, g);
}

template <class T>
void mlp_backward_sgd(Mlp<T>& net, const MlpCache<T>& c, const Mat<T>& dyhat, MlpGrads<T>& g,
                      double lr) {
  if (net.has_blocks())
    throw std::logic_error("mlp_backward_sgd: residual and norm nets take mlp_backward");
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
  template void mlp_forward<T>(const Mlp<T>&, const Mat<T>&, MlpCache<T>&, Rng*, NormUse);      \
  template void mlp_forward_train<T>(Mlp<T>&, const Mat<T>&, MlpCache<T>&, Rng&);               \
  template void rrelu_draw<T>(const ActivationSpec&, const Mat<T>&, Mat<T>&, Mat<T>&, Rng&);    \
  template double prelu_slope_grad<T>(const Mat<T>&, const Mat<T>&);                            \
  template void mlp_backward<T>(const Mlp<T>&, const MlpCache<T>&, const Mat<T>&, MlpGrads<T>&, \
                                bool);                                                          \
  template void mlp_backward_sgd<T>(Mlp<T>&, const MlpCache<T>&, const Mat<T>&, MlpGrads<T>&,   \
                                    double);                                                    \
  template void mlp_layer_jacobian<T>(const Mlp<T>&, const MlpCache<T>&, size_t, Index,         \
                                      Mat<double>&);                                            \
  template void mlp_io_jacobian<T>(const Mlp<T>&, const MlpCache<T>&, Index, Mat<double>&);     \
  template size_t mlp_op_count<T>(const Mlp<T>&);                                               \
  template LayerOp mlp_op<T>(const Mlp<T>&, size_t);
GL_MLP_INST(float)
GL_MLP_INST(double)

}  // namespace gl
