#include "harness/nn/rnn.h"
#include "harness/core/config.h"
#include "harness/core/threads.h"

#include <omp.h>

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>

namespace gl {

// Room for at least `cols` columns: reallocates only when the rows change or the room is short.
template <class T>
static void fit_cols(Mat<T>& m, Index rows, Index cols) {
  if (m.rows() != rows || m.cols() < cols) m.resize(rows, cols);
}

// Batch-split threading of the recurrence: the B sequences of a batch are independent, so each
// thread runs every step on its own columns of each block, start to end with no barrier.
// Products inside a parallel region run single-threaded (Eigen does not nest). Threads take whole
// panels of 4 columns (the column panel nr of Eigen's kernel for float and double), so every
// column goes the same way through the kernel as in the product over the whole block: the bits do
// not depend on the thread count.
constexpr Index panel = 4;

// Threads for B columns: one per panel at most.
static int chain_threads(Index B) {
  return static_cast<int>(
      std::min<Index>(omp_get_max_threads(), std::max<Index>((B + panel - 1) / panel, 1)));
}

struct Cols {
  Index c0, nb;  // first column within a block, column count
};
// Thread k of n's columns of a block of B.
static Cols split_cols(Index B, Index k, Index n) {
  const Index g = (B + panel - 1) / panel;
  const Index c0 = std::min(B, panel * (g * k / n)), c1 = std::min(B, panel * (g * (k + 1) / n));
  return {c0, c1 - c0};
}
static Cols thread_cols(Index B) {
  return split_cols(B, omp_get_thread_num(), omp_get_num_threads());
}

// dst = a·b with dst's columns split over the threads, each running Eigen's product on its own
// columns single-threaded. Eigen's own threaded product spin-waits for its threads at every depth
// block: on a busy machine that costs a scheduler slice per block (dW: T·B/kc blocks). One
// thread: Eigen's product as is.
template <class A, class Bm, class D>
static void split_product(const A& a, const Bm& b, D dst) {
  const int nt =
      static_cast<int>(std::min<Index>(omp_get_max_threads(), std::max<Index>(dst.cols() / 8, 1)));
  if (nt == 1) {
    dst.noalias() = a * b;
    return;
  }
  const FpMode fp;  // threads.h: each team thread computes in the caller's mode
#pragma omp parallel num_threads(nt)
  {
    fp.apply();
    const auto [c0, nc] = thread_cols(dst.cols());
    dst.middleCols(c0, nc).noalias() = a * b.middleCols(c0, nc);
  }
}

// ---- per-step products with W packed once ----
//
// Eigen's product repacks its left operand on every call: for the per-step products W h_{t-1}
// ((H, H)·(H, B/2)) that copy of W costs a third of the product. So W (Wᵀ in backward) is packed
// once per pass with Eigen's own packing routine and blocking, and each step packs only its slice
// and calls Eigen's kernel (gebp) on the same blocks as Eigen's product: the same arithmetic, the
// same bits. Where Eigen would not use that kernel (tiny sizes, matrix-vector), the steps use
// Eigen's product, on one thread.

namespace ei = Eigen::internal;
template <class T>
using Gebp = ei::gebp_traits<T, T>;

// Packed blocks start 64-byte aligned (the kernel's loads are aligned).
static Index padded(Index n) { return (n + 15) / 16 * 16; }

// Eigen's (kc, mc) for the product of an (m, k) by a (k, n) matrix; (0, 0) if Eigen would not use
// its GEMM kernel in one column block (coefficient-wise when m + n + k < 20; matrix-vector).
template <class T>
static std::pair<Index, Index> gemm_blocking(Index m, Index n, Index k) {
  if (m + n + k < EIGEN_GEMM_TO_COEFFBASED_THRESHOLD || m <= 1 || n <= 1 || k == 0) return {0, 0};
  ei::gemm_blocking_space<Eigen::ColMajor, T, T, Eigen::Dynamic, Eigen::Dynamic, Eigen::Dynamic> b(
      m, n, k, 1, true);
  if (b.nc() < n) return {0, 0};
  return {b.kc(), std::min(m, b.mc())};
}

// p.a ← A packed as Eigen's product of A by (k, n) matrices packs it, block (i2, k2) after block;
// A = W (Order ColMajor) or Wᵀ (RowMajor: W's storage read by rows). p.b: room for `threads`
// packed (k, ≤ n) slices. p.kc = 0 where Eigen's product would not use its GEMM kernel.
template <class T, int Order>
static void pack_w(const Mat<T>& W, Index n, int threads, RnnPack<T>& p) {
  const Index m = Order == Eigen::ColMajor ? W.rows() : W.cols(),
              k = W.size() / std::max<Index>(m, 1);
  static_assert(Gebp<T>::nr == panel);
  std::tie(p.kc, p.mc) = gemm_blocking<T>(m, n, k);
  if (p.kc == 0) return;
  Index na = 0, nb = 0;
  for (Index k2 = 0; k2 < k; k2 += p.kc) {
    const Index kc = std::min(p.kc, k - k2);
    nb += padded(kc * n);
    for (Index i2 = 0; i2 < m; i2 += p.mc) na += padded(std::min(p.mc, m - i2) * kc);
  }
  if (p.a.size() < na) p.a.resize(na);
  if (p.b.rows() < nb || p.b.cols() < threads)
    p.b.resize(std::max(nb, p.b.rows()), std::max<Index>(threads, p.b.cols()));
  using Map = ei::const_blas_data_mapper<T, Index, Order>;
  ei::gemm_pack_lhs<T, Index, Map, Gebp<T>::mr, Gebp<T>::LhsProgress,
                    typename Gebp<T>::LhsPacket4Packing, Order>
      pack;
  const Map lhs(W.data(), W.outerStride());
  T* a = p.a.data();
  for (Index i2 = 0; i2 < m; i2 += p.mc) {
    const Index mc = std::min(p.mc, m - i2);
    for (Index k2 = 0; k2 < k; k2 += p.kc) {
      const Index kc = std::min(p.kc, k - k2);
      pack(a, lhs.getSubMapper(i2, k2), kc, mc);
      a += padded(mc * kc);
    }
  }
}

// dst (m, n) += A·src (src (k, n)), A packed in p; src and dst: column stride ld; b: this thread's
// room in p.b. Eigen's sequential GEMM loop, with the one packed A and the slice packed once.
template <class T>
static void packed_add(const RnnPack<T>& p, Index m, Index k, const T* src, T* dst, Index ld,
                       Index n, T* b) {
  using RhsMap = ei::const_blas_data_mapper<T, Index, Eigen::ColMajor>;
  using ResMap = ei::blas_data_mapper<T, Index, Eigen::ColMajor, Eigen::Unaligned, 1>;
  ei::gemm_pack_rhs<T, Index, RhsMap, Gebp<T>::nr, Eigen::ColMajor> pack_rhs;
  ei::gebp_kernel<T, T, Index, ResMap, Gebp<T>::mr, Gebp<T>::nr, false, false> gebp;
  const RhsMap rhs(src, ld);
  const ResMap res(dst, ld);
  T* bk = b;
  for (Index k2 = 0; k2 < k; k2 += p.kc) {
    const Index kc = std::min(p.kc, k - k2);
    pack_rhs(bk, rhs.getSubMapper(k2, 0), kc, n);
    bk += padded(kc * n);
  }
  const T* a = p.a.data();
  for (Index i2 = 0; i2 < m; i2 += p.mc) {
    const Index mc = std::min(p.mc, m - i2);
    bk = b;
    for (Index k2 = 0; k2 < k; k2 += p.kc) {
      const Index kc = std::min(p.kc, k - k2);
      gebp(res.getSubMapper(i2, 0), a, bk, mc, kc, n, T(1));
      a += padded(mc * kc);
      bk += padded(kc * n);
    }
  }
}

// Whether Eigen's products of an (m, k) matrix by each of nt threads' columns of a (k, B) block
// take the kernel path of the product by the whole block, column for column.
template <class T>
static bool splits_alike(Index m, Index k, Index B, int nt) {
  const std::pair<Index, Index> whole = gemm_blocking<T>(m, B, k);
  if (whole.first == 0) return false;
  for (int t = 0; t < nt; ++t)
    if (gemm_blocking<T>(m, split_cols(B, t, nt).nb, k) != whole) return false;
  return true;
}

// The activation as the chain applies it (prelu: the learned slope).
template <class T>
static ActivationSpec chain_act(const Rnn<T>& net) {
  ActivationSpec f = net.act;
  if (f.kind == Activation::prelu) f.slope = net.slope;
  return f;
}

template <class T>
Rnn<T> rnn_init(const RnnShape& s, const ModelConfig& m, Rng& rng) {
  if (m.activation.kind == Activation::maxout)
    throw UsageError(
        "model.activation \"maxout\" is not supported for model.type \"rnn\": a maxout unit has "
        "k affine pieces, so the shared W could not map the hidden state to itself; use another "
        "activation, or maxout with model.type \"mlp\"");
  Rnn<T> net;
  net.act = m.activation;
  net.slope = m.activation.slope;
  net.inputs = m.inputs;
  net.loss_at = m.loss_at;
  net.W.resize(s.width, s.width);
  net.U.resize(s.width, s.inputs);
  net.b.resize(s.width);
  net.V.resize(s.outputs, s.width);
  net.c.resize(s.outputs);
  init_weights(m.recurrent_init, net.W, rng);
  init_weights(m.input_init, net.U, rng);
  init_bias(m.bias_init, net.b, rng);
  init_weights(m.output_init, net.V, rng);
  init_bias(m.bias_init, net.c, rng);
  return net;
}

// ---- forward ----

template <class T>
void rnn_forward(const Rnn<T>& net, const Mat<T>& x, Index steps, Index B, RnnCache<T>& c,
                 Rng* train_rng) {
  const Index H = net.width(), n = steps * B;
  c.steps = steps;
  c.batch = B;
  fit_cols(c.h, H, n + B);
  fit_cols(c.z, H, n);
  fit_cols(c.dphi, H, n);
  c.h.leftCols(B).setZero();  // h_0
  // z_t ← U x_t for every t at once (first_step: x_t = 0 for t > 1); + b in the step loop
  if (net.inputs == RnnInputs::every_step) {
    split_product(net.U, x.leftCols(n), c.z.leftCols(n));
  } else {
    c.z.leftCols(B).noalias() = net.U * x.leftCols(B);
    c.z.middleCols(B, n - B).setZero();
  }
  const ActivationSpec f = chain_act(net);
  const bool random_slope = train_rng && net.act.kind == Activation::rrelu;
  const bool paper = net.act.convention == RreluConvention::paper;
  // rrelu draws its slopes from one Rng in a fixed order: one thread
  int nt = random_slope ? 1 : chain_threads(B);
  c.pack.kc = 0;
  if (steps > 1) pack_w<T, Eigen::ColMajor>(net.W, B, nt, c.pack);
  const bool packed = c.pack.kc > 0;
  if (steps > 1 && !packed) nt = 1;  // tiny or single-column products: Eigen's, one thread
  const FpMode fp;
#pragma omp parallel num_threads(nt)
  {
    fp.apply();
    const auto [c0, nb] = thread_cols(B);
    T* pb = packed ? c.pack.b.col(omp_get_thread_num()).data() : nullptr;
    for (Index t = 1; t <= steps; ++t) {
      const Index o = (t - 1) * B + c0;  // this thread's columns of step t's block
      auto zt = c.z.middleCols(o, nb);   // (H, nb)
      zt.colwise() += net.b;
      if (t > 1) {  // z_t += W h_{t-1}
        if (packed)
          packed_add(c.pack, H, H, c.h.data() + o * H, zt.data(), H, nb, pb);
        else
          zt.noalias() += net.W * c.h.middleCols(o, nb);
      }
      // h_t = φ(z_t), φ'(z_t): written straight into the history (no per-step copies)
      activation_apply<T>(f, zt, c.h.middleCols(o + B, nb), c.dphi.middleCols(o, nb));
      if (random_slope) {                           // nt == 1: the whole block
        const T* z = c.z.data() + (t - 1) * B * H;  // the blocks are contiguous (column-major)
        T* h = c.h.data() + t * B * H;
        T* d = c.dphi.data() + (t - 1) * B * H;
        for (Index k = 0; k < H * B; ++k) {
          if (z[k] > T(0)) continue;
          const double u =
              paper ? 1.0 / rng_uniform(*train_rng, 1.0 / net.act.upper, 1.0 / net.act.lower)
                    : rng_uniform(*train_rng, net.act.lower, net.act.upper);
          d[k] = static_cast<T>(u);
          h[k] = static_cast<T>(u) * z[k];
        }
      }
    }
  }
  // ŷ_t = V h_t + c: at T only (loss_at last), or at every t
  if (net.loss_at == LossAt::last) {
    c.yhat.resize(net.V.rows(), B);
    c.yhat.noalias() = net.V * c.h.middleCols(n, B);
  } else {
    c.yhat.resize(net.V.rows(), n);
    split_product(net.V, c.h.middleCols(B, n), c.yhat.leftCols(n));
  }
  c.yhat.colwise() += net.c;
}

// ---- backward (through time) ----

template <class T>
void rnn_backward(const Rnn<T>& net, const Mat<T>& x, const RnnCache<T>& c, const Mat<T>& dy,
                  RnnGrads<T>& g) {
  const Index H = net.width(), steps = c.steps, B = c.batch, n = steps * B;
  const T inv_b = T(1) / static_cast<T>(B);
  const bool every = net.loss_at == LossAt::every_step;
  fit_cols(g.dh, H, n);
  fit_cols(g.dz, H, n);
  // ∂L/∂V = (1/B) Σ_t dŷ_t h_tᵀ,  ∂L/∂c = (1/B) Σ_t dŷ_t  (t = T only for loss_at last)
  g.dV.resize(net.V.rows(), H);
  if (every)
    split_product(dy, c.h.middleCols(B, n).transpose(), g.dV.leftCols(H));
  else
    g.dV.noalias() = dy * c.h.middleCols(n, B).transpose();
  g.dV *= inv_b;
  g.dc = dy.rowwise().sum() * inv_b;
  // the outputs' share of ∂ℓ/∂h_t: Vᵀ dŷ_t
  if (every)
    split_product(net.V.transpose(), dy, g.dh.leftCols(n));
  else
    g.dh.middleCols(n - B, B).noalias() = net.V.transpose() * dy;
  int nt = chain_threads(B);
  g.pack.kc = 0;
  if (steps > 1) pack_w<T, Eigen::RowMajor>(net.W, B, nt, g.pack);
  const bool packed = g.pack.kc > 0;
  if (steps > 1 && !packed) nt = 1;  // tiny or single-column products: Eigen's, one thread
  const FpMode fp;
#pragma omp parallel num_threads(nt)
  {
    fp.apply();
    const auto [c0, nb] = thread_cols(B);
    T* pb = packed ? g.pack.b.col(omp_get_thread_num()).data() : nullptr;
    for (Index t = steps; t >= 1; --t) {
      const Index o = (t - 1) * B + c0;  // this thread's columns of step t's block
      auto dh = g.dh.middleCols(o, nb);  // (H, nb)
      if (t < steps) {                   // ∂ℓ/∂h_t (+)= Wᵀ δ_{t+1}
        const auto dnext = g.dz.middleCols(o + B, nb);
        if (packed) {
          if (!every) dh.setZero();  // as Eigen's product does for =
          packed_add(g.pack, H, H, dnext.data(), dh.data(), H, nb, pb);
        } else if (every) {
          dh.noalias() += net.W.transpose() * dnext;
        } else {
          dh.noalias() = net.W.transpose() * dnext;
        }
      }
      g.dz.middleCols(o, nb) = c.dphi.middleCols(o, nb).cwiseProduct(dh);
    }
  }
  // ∂L/∂W = (1/B) Σ_{t≥2} δ_t h_{t-1}ᵀ (h_0 = 0): one GEMM over the time-major blocks
  g.dW.resize(H, H);
  if (steps > 1)
    split_product(g.dz.middleCols(B, n - B), c.h.middleCols(B, n - B).transpose(),
                  g.dW.leftCols(H));
  else
    g.dW.setZero();
  g.dW *= inv_b;
  // ∂L/∂U = (1/B) Σ_t δ_t x_tᵀ (first_step: t = 1 only);  ∂L/∂b = (1/B) Σ_t δ_t
  const Index nx = net.inputs == RnnInputs::every_step ? n : B;
  g.dU.resize(H, net.U.cols());
  split_product(g.dz.leftCols(nx), x.leftCols(nx).transpose(), g.dU.leftCols(net.U.cols()));
  g.dU *= inv_b;
  // Σ_t δ_t (a pass over all of δ): rows split over the threads in whole 64-byte packets, so each
  // row is summed as the whole-matrix sum does
  const int ntb =
      static_cast<int>(std::min<Index>(omp_get_max_threads(), std::max<Index>(H / 64, 1)));
  if (ntb == 1) {
    g.db = g.dz.leftCols(n).rowwise().sum() * inv_b;
  } else {
    g.db.resize(H);
#pragma omp parallel num_threads(ntb)
    {
      fp.apply();
      const Index rows = (H + 15) / 16, k = omp_get_thread_num(), nk = omp_get_num_threads();
      const Index r0 = std::min(H, 16 * (rows * k / nk)),
                  r1 = std::min(H, 16 * (rows * (k + 1) / nk));
      g.db.segment(r0, r1 - r0) = g.dz.leftCols(n).middleRows(r0, r1 - r0).rowwise().sum() * inv_b;
    }
  }
  g.dslope = 0;
  if (net.act.kind == Activation::prelu) {
    // h = slope·z for z ≤ 0: ∂L/∂slope = (1/B) Σ_{t,i,j} [z ≤ 0] z · ∂ℓ_i/∂h_t
    double s = 0;
    const T* z = c.z.data();
    const T* dh = g.dh.data();
    for (Index k = 0; k < H * n; ++k)
      if (z[k] <= T(0)) s += static_cast<double>(z[k]) * static_cast<double>(dh[k]);
    g.dslope = s / static_cast<double>(B);
  }
}

template <class T>
void rnn_predict(const Rnn<T>& net, const Mat<T>& x, Index steps, Index B, Mat<T>& yhat, Mat<T>& h,
                 Mat<T>& hn) {
  const Index H = net.width(), O = net.V.rows();
  const ActivationSpec f = chain_act(net);
  const bool every_in = net.inputs == RnnInputs::every_step;
  const bool every_out = net.loss_at == LossAt::every_step;
  yhat.resize(O, every_out ? steps * B : B);
  h.setZero(H, B);
  hn.resize(H, B);
  // split only where each thread's products take the whole batch's kernel path (the same bits)
  int nt = chain_threads(B);
  if (!splits_alike<T>(H, H, B, nt) || !splits_alike<T>(H, net.U.cols(), B, nt) ||
      (every_out && !splits_alike<T>(O, H, B, nt)))
    nt = 1;
  const FpMode fp;
#pragma omp parallel num_threads(nt)
  {
    fp.apply();
    const auto [c0, nb] = thread_cols(B);  // this thread's sequences, start to end
    auto hc = h.middleCols(c0, nb);        // (H, nb)
    auto hnc = hn.middleCols(c0, nb);
    for (Index t = 1; t <= steps; ++t) {
      if (every_in || t == 1)
        hnc.noalias() = net.U * x.middleCols((every_in ? t - 1 : 0) * B + c0, nb);
      else
        hnc.setZero();
      if (t > 1) hnc.noalias() += net.W * hc;
      hnc.colwise() += net.b;
      activation_apply<T>(f, hnc, hc, hnc);  // h = φ(hn); φ' (unused) overwrites hn
      if (every_out) {
        auto y = yhat.middleCols((t - 1) * B + c0, nb);
        y.noalias() = net.V * hc;
        y.colwise() += net.c;
      }
    }
  }
  if (!every_out) {
    yhat.noalias() = net.V * h;
    yhat.colwise() += net.c;
  }
}

// ---- gradients as one vector (clipping) ----

template <class T>
double rnn_grads_norm(const RnnGrads<T>& g) {
  double s = g.dslope * g.dslope;
  for (const Mat<T>* m : {&g.dW, &g.dU, &g.dV}) {
    const double v = stable_norm(m->data(), m->size());
    s += v * v;
  }
  for (const Vec<T>* m : {&g.db, &g.dc}) {
    const double v = stable_norm(m->data(), m->size());
    s += v * v;
  }
  return std::sqrt(s);
}

template <class T>
void rnn_grads_scale(RnnGrads<T>& g, double s) {
  const T k = static_cast<T>(s);
  g.dW *= k;
  g.dU *= k;
  g.db *= k;
  g.dV *= k;
  g.dc *= k;
  g.dslope *= s;
}

// ---- spectra of W ----

template <class T>
double rnn_spectral_radius(const Mat<T>& W) {
  if (!W.allFinite()) return nan_v;
  Eigen::EigenSolver<Mat<double>> es(W.template cast<double>(), /*computeEigenvectors=*/false);
  if (es.info() != Eigen::Success) return nan_v;
  return es.eigenvalues().cwiseAbs().maxCoeff();
}

template <class T>
double rnn_sigma_max(const Mat<T>& W) {
  if (!W.allFinite()) return nan_v;
  Eigen::BDCSVD<Mat<double>> svd(W.template cast<double>());
  return svd.singularValues()(0);
}

// ---- per-step statistics (docs/reference.md §4.2) ----

template <class T>
void rnn_timestep_rows(const Rnn<T>& net, const RnnCache<T>& c, const RnnGrads<T>& g,
                       const RnnGrads<T>* last, double tau, int64_t step,
                       std::vector<TimestepRow>& rows, RnnRowScratch<T>& s) {
  const Index H = net.width(), B = c.batch, hb = H * B;
  const double rb = std::sqrt(static_cast<double>(B));
  const double sup = activation_sup_deriv(chain_act(net));
  const size_t first = rows.size();
  rows.resize(first + static_cast<size_t>(c.steps));
  const int nt =
      static_cast<int>(std::clamp<Index>(omp_get_max_threads(), 1, std::max<Index>(c.steps, 1)));
  if (s.parts.size() < static_cast<size_t>(nt)) s.parts.resize(static_cast<size_t>(nt));
  const FpMode fp;
#pragma omp parallel num_threads(nt)
  {
    fp.apply();
    typename RnnRowScratch<T>::Part& sp = s.parts[static_cast<size_t>(omp_get_thread_num())];
#pragma omp for schedule(static)
    for (Index t = 1; t <= c.steps; ++t) {
      const Index o = (t - 1) * B;  // first column of step t's block (h: of h_{t-1})
      TimestepRow& r = rows[first + static_cast<size_t>(t - 1)];
      r.step = step;
      r.t = static_cast<int>(t);
      // per-example RMS: sqrt(mean_i ‖v_i‖²) = ‖block‖_F / √B
      r.h_norm = stable_norm(c.h.data() + (o + B) * H, hb) / rb;
      r.dh_norm = stable_norm(g.dh.data() + o * H, hb) / rb;
      r.dz_norm = stable_norm(g.dz.data() + o * H, hb) / rb;
      if (last) r.dh_last_norm = stable_norm(last->dh.data() + o * H, hb) / rb;
      const SaturationCounts sc = saturation_counts<T>(c.dphi.middleCols(o, B), tau, sup);
      r.saturated_frac = sc.saturated_frac;
      r.dead_frac = sc.dead_frac;
      // step t's share of ∂L/∂W: ‖Σ_i δ_t,i h_{t-1,i}ᵀ‖_F / B (0 at t = 1: h_0 = 0)
      if (t > 1)
        r.grad_w_contrib_norm =
            outer_norm<T>(g.dz.middleCols(o, B), c.h.middleCols(o, B), sp.outer).norm;
    }
  }
}

#define GL_RNN_INST(T)                                                                           \
  template struct Rnn<T>;                                                                        \
  template Rnn<T> rnn_init<T>(const RnnShape&, const ModelConfig&, Rng&);                        \
  template void rnn_forward<T>(const Rnn<T>&, const Mat<T>&, Index, Index, RnnCache<T>&, Rng*);  \
  template void rnn_backward<T>(const Rnn<T>&, const Mat<T>&, const RnnCache<T>&, const Mat<T>&, \
                                RnnGrads<T>&);                                                   \
  template void rnn_predict<T>(const Rnn<T>&, const Mat<T>&, Index, Index, Mat<T>&, Mat<T>&,     \
                               Mat<T>&);                                                         \
  template double rnn_grads_norm<T>(const RnnGrads<T>&);                                         \
  template void rnn_grads_scale<T>(RnnGrads<T>&, double);                                        \
  template double rnn_spectral_radius<T>(const Mat<T>&);                                         \
  template double rnn_sigma_max<T>(const Mat<T>&);                                               \
  template void rnn_timestep_rows<T>(const Rnn<T>&, const RnnCache<T>&, const RnnGrads<T>&,      \
                                     const RnnGrads<T>*, double, int64_t,                        \
                                     std::vector<TimestepRow>&, RnnRowScratch<T>&);
GL_RNN_INST(float)
GL_RNN_INST(double)

}  // namespace gl
