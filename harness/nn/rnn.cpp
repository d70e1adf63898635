#include "harness/nn/rnn.h"

#include <Eigen/Eigenvalues>
#include <Eigen/SVD>
#include <algorithm>
#include <cmath>

#include "harness/core/config.h"
#include "harness/core/threads.h"
#include "harness/nn/blas.h"
#include "harness/nn/chain_team.h"

namespace gl {

// Room for at least `cols` columns: reallocates only when the rows change or the room is short.
template <class T>
static void fit_cols(Mat<T>& m, Index rows, Index cols) {
  if (m.rows() != rows || m.cols() < cols) m.resize(rows, cols);
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
  const bool packed = steps > 1 && gemm_pack(net.W, Op::none, B, nt, c.pack);
  if (steps > 1 && !packed) nt = 1;  // tiny or single-column products: Eigen's, one thread
  team_run(nt, [&](int k, int nk) {
    const auto [c0, nb] = chain_cols(B, k, nk);
    for (Index t = 1; t <= steps; ++t) {
      const Index o = (t - 1) * B + c0;  // this thread's columns of step t's block
      auto zt = c.z.middleCols(o, nb);   // (H, nb)
      zt.colwise() += net.b;
      if (t > 1) {  // z_t += W h_{t-1}
        if (packed)
          gemm_packed_add(c.pack, c.h.data() + o * H, zt.data(), H, nb, k);
        else
          zt.noalias() += net.W * c.h.middleCols(o, nb);
      }
      // h_t = φ(z_t), φ'(z_t): written straight into the history (no per-step copies)
      activation_apply<T>(f, zt, c.h.middleCols(o + B, nb), c.dphi.middleCols(o, nb));
      if (random_slope) {                           // nt == 1: the whole block
        const T* z = c.z.data() + (t - 1) * B * H;  // the blocks are contiguous (column-major)
        T* h = c.h.data() + t * B * H;
        T* d = c.dphi.data() + (t - 1) * B * H;
        for (Index e = 0; e < H * B; ++e) {
          if (z[e] > T(0)) continue;
          const double u =
              paper ? 1.0 / rng_uniform(*train_rng, 1.0 / net.act.upper, 1.0 / net.act.lower)
                    : rng_uniform(*train_rng, net.act.lower, net.act.upper);
          d[e] = static_cast<T>(u);
          h[e] = static_cast<T>(u) * z[e];
        }
      }
    }
  });
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
  const bool packed = steps > 1 && gemm_pack(net.W, Op::trans, B, nt, g.pack);
  if (steps > 1 && !packed) nt = 1;  // tiny or single-column products: Eigen's, one thread
  team_run(nt, [&](int k, int nk) {
    const auto [c0, nb] = chain_cols(B, k, nk);
    for (Index t = steps; t >= 1; --t) {
      const Index o = (t - 1) * B + c0;  // this thread's columns of step t's block
      auto dh = g.dh.middleCols(o, nb);  // (H, nb)
      if (t < steps) {                   // ∂ℓ/∂h_t (+)= Wᵀ δ_{t+1}
        const auto dnext = g.dz.middleCols(o + B, nb);
        if (packed) {
          if (!every) dh.setZero();  // as Eigen's product does for =
          gemm_packed_add(g.pack, dnext.data(), dh.data(), H, nb, k);
        } else if (every) {
          dh.noalias() += net.W.transpose() * dnext;
        } else {
          dh.noalias() = net.W.transpose() * dnext;
        }
      }
      g.dz.middleCols(o, nb) = c.dphi.middleCols(o, nb).cwiseProduct(dh);
    }
  });
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
  // Σ_t δ_t (a pass over all of δ): rows split over the threads in groups of 16 (a float packet),
  // so each row is summed as the whole-matrix sum does
  const int ntb = static_cast<int>(std::min<Index>(team_threads(), std::max<Index>(H / 64, 1)));
  if (ntb == 1) {
    g.db = g.dz.leftCols(n).rowwise().sum() * inv_b;
  } else {
    g.db.resize(H);
    team_run(ntb, [&](int k, int nk) {
      const Range r = split_range(H, k, nk, 16);
      g.db.segment(r.begin, r.size) =
          g.dz.leftCols(n).middleRows(r.begin, r.size).rowwise().sum() * inv_b;
    });
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
  team_run(nt, [&](int k, int nk) {
    const auto [c0, nb] = chain_cols(B, k, nk);  // this thread's sequences, start to end
    auto hc = h.middleCols(c0, nb);              // (H, nb)
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
  });
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
      static_cast<int>(std::clamp<Index>(team_threads(), 1, std::max<Index>(c.steps, 1)));
  if (s.parts.size() < static_cast<size_t>(nt)) s.parts.resize(static_cast<size_t>(nt));
  team_run(nt, [&](int k, int nk) {
    typename RnnRowScratch<T>::Part& sp = s.parts[static_cast<size_t>(k)];
    const Range mine = split_range(c.steps, k, nk);  // steps 1 + [begin, begin + size)
    for (Index t = 1 + mine.begin; t <= mine.begin + mine.size; ++t) {
      const Index o = (t - 1) * B;  // first column of step t's block (h: of h_{t-1})
      TimestepRow& r = rows[first + static_cast<size_t>(t - 1)];
      r.step = step;
      r.t = static_cast<int>(t);
      // per-example RMS: sqrt(mean_i ‖v_i‖²) = ‖block‖_F / √B
      r.h_norm = stable_norm(c.h.data() + (o + B) * H, hb) / rb;
      r.dh_norm = stable_norm(g.dh.data() + o * H, hb) / rb;
      r.dz_norm = stable_norm(g.dz.data() + o * H, hb) / rb;
      if (last) r.dh_last_norm = stable_norm(last->dh.data() + o * H, hb) / rb;
      // NaN is neither saturated nor dead: the fractions are empty where z_t or φ' is not finite
      if (count_nonfinite(c.z.data() + o * H, hb) == 0 &&
          count_nonfinite(c.dphi.data() + o * H, hb) == 0) {
        const SaturationCounts sc = saturation_counts<T>(c.dphi.middleCols(o, B), tau, sup);
        r.saturated_frac = sc.saturated_frac;
        r.dead_frac = sc.dead_frac;
      }
      // step t's share of ∂L/∂W: ‖Σ_i δ_t,i h_{t-1,i}ᵀ‖_F / B (0 at t = 1: h_0 = 0)
      if (t > 1)
        r.grad_w_contrib_norm =
            outer_norm<T>(g.dz.middleCols(o, B), c.h.middleCols(o, B), sp.outer).norm;
    }
  });
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
