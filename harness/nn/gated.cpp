#include "harness/nn/gated.h"

#include <algorithm>
#include <cmath>

#include "harness/nn/chain_team.h"

namespace gl {

// Room for at least `cols` columns: reallocates only when the rows change or the room is short.
template <class T>
static void fit_cols(Mat<T>& m, Index rows, Index cols) {
  if (m.rows() != rows || m.cols() < cols) m.resize(rows, cols);
}

// σ(z) without overflow for either sign of z.
template <class T>
static T sigmoid(T z) {
  if (z >= T(0)) return T(1) / (T(1) + std::exp(-z));
  const T e = std::exp(z);
  return e / (T(1) + e);
}

GatedInit gate_inits_shared(const InitSpec& input, const InitSpec& recurrent, const BiasSpec& bias,
                            double forget_bias) {
  GatedInit g;
  g.input.fill(input);
  g.recurrent.fill(recurrent);
  g.bias = bias;
  g.forget_bias = forget_bias;
  return g;
}

// Each gate's (H, cols) block of W drawn from its own spec: fan_out = H, fan_in = cols.
template <class T>
static void init_gate_blocks(const std::array<InitSpec, max_gates>& specs, int gates, Index H,
                             Mat<T>& W, Rng& rng) {
  Mat<T> block(H, W.cols());
  for (int k = 0; k < gates; ++k) {
    init_weights(specs[static_cast<size_t>(k)], block, rng);
    W.middleRows(k * H, H) = block;
  }
}

template <class T>
Gated<T> gated_init(CellKind kind, const GatedShape& s, const GatedInit& init, RnnInputs inputs,
                    Rng& rng) {
  if (kind == CellKind::gru && init.forget_bias != 0)
    throw UsageError("forget_bias applies to the LSTM's forget gate only; a GRU needs 0");
  Gated<T> net;
  net.kind = kind;
  net.inputs = inputs;
  const Index H = s.width, GH = cell_gates(kind) * H;
  net.W_ih.resize(GH, s.inputs);
  net.W_hh.resize(GH, H);
  net.b_ih.resize(GH);
  net.b_hh.resize(GH);
  init_gate_blocks(init.input, net.gates(), H, net.W_ih, rng);
  init_gate_blocks(init.recurrent, net.gates(), H, net.W_hh, rng);
  init_bias(init.bias, net.b_ih, rng);
  init_bias(init.bias, net.b_hh, rng);
  if (kind == CellKind::lstm)
    net.b_ih.segment(lstm_forget_gate * H, H).array() += static_cast<T>(init.forget_bias);
  return net;
}

// ---- forward ----

template <class T>
void gated_forward(const Gated<T>& net, const Mat<T>& x, Index steps, Index B, GatedCache<T>& c) {
  const Index H = net.width(), GH = net.gates() * H, n = steps * B;
  const bool lstm = net.kind == CellKind::lstm;
  c.steps = steps;
  c.batch = B;
  fit_cols(c.gate, GH, n);
  fit_cols(c.h, H, n + B);
  fit_cols(c.rec, GH, B);
  if (lstm) {
    fit_cols(c.c, H, n + B);
    fit_cols(c.tc, H, n);
    c.c.leftCols(B).setZero();  // c_0
  } else {
    fit_cols(c.hn, H, n);
  }
  c.h.leftCols(B).setZero();  // h_0
  // gate ← W_ih x_t + b_ih for every t at once (first_step: x_t = 0 for t > 1); each step then
  // turns its block into the gates' activations in place
  if (net.inputs == RnnInputs::every_step) {
    split_product(net.W_ih, x.leftCols(n), c.gate.leftCols(n));
  } else {
    c.gate.leftCols(B).noalias() = net.W_ih * x.leftCols(B);
    c.gate.middleCols(B, n - B).setZero();
  }
  c.gate.leftCols(n).colwise() += net.b_ih;
  const auto sig = [](T v) { return sigmoid(v); };
  const auto th = [](T v) { return std::tanh(v); };
  // each thread runs its own sequences through every step (chain_team.h)
  int nt = chain_threads(B);
  if (steps > 1 && !splits_alike<T>(GH, H, B, nt)) nt = 1;
  team_run(nt, [&](int k, int nk) {
    const auto [c0, nb] = chain_cols(B, k, nk);
    for (Index t = 1; t <= steps; ++t) {
      const Index o = (t - 1) * B + c0;     // this thread's first column of step t's block
      auto rec = c.rec.middleCols(c0, nb);  // (G·H, nb): W_hh h_{t-1} + b_hh
      if (t > 1)
        rec.noalias() = net.W_hh * c.h.middleCols(o, nb);
      else
        rec.setZero();  // h_0 = 0
      rec.colwise() += net.b_hh;
      auto gate = c.gate.middleCols(o, nb);  // (G·H, nb): W_ih x_t + b_ih → activations
      const auto hprev = c.h.middleCols(o, nb);
      auto h = c.h.middleCols(o + B, nb);
      if (lstm) {
        // i, f, o: σ; g: tanh. c_t = f ⊙ c_{t-1} + i ⊙ g, h_t = o ⊙ tanh(c_t)
        gate += rec;
        gate.topRows(2 * H) = gate.topRows(2 * H).unaryExpr(sig);
        gate.middleRows(2 * H, H) = gate.middleRows(2 * H, H).unaryExpr(th);
        gate.bottomRows(H) = gate.bottomRows(H).unaryExpr(sig);
        auto ct = c.c.middleCols(o + B, nb);
        ct.array() = gate.middleRows(H, H).array() * c.c.middleCols(o, nb).array() +
                     gate.topRows(H).array() * gate.middleRows(2 * H, H).array();
        auto tc = c.tc.middleCols(o, nb);
        tc = ct.unaryExpr(th);
        h.array() = gate.bottomRows(H).array() * tc.array();
      } else {
        // r, z: σ; n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)); h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
        gate.topRows(2 * H) = (gate.topRows(2 * H) + rec.topRows(2 * H)).unaryExpr(sig);
        c.hn.middleCols(o, nb) = rec.bottomRows(H);
        gate.bottomRows(H) =
            (gate.bottomRows(H).array() + gate.topRows(H).array() * rec.bottomRows(H).array())
                .matrix()
                .unaryExpr(th);
        const auto z = gate.middleRows(H, H).array();
        h.array() = (T(1) - z) * gate.bottomRows(H).array() + z * hprev.array();
      }
    }
  });
}

// ---- backward (through time) ----

template <class T>
void gated_backward(const Gated<T>& net, const Mat<T>& x, const GatedCache<T>& c,
                    const Mat<T>& seed, GatedGrads<T>& g) {
  const Index H = net.width(), GH = net.gates() * H, steps = c.steps, B = c.batch, n = steps * B;
  const bool lstm = net.kind == CellKind::lstm;
  const T inv_b = T(1) / static_cast<T>(B);
  fit_cols(g.dh, H, n);
  fit_cols(g.da, GH, n);
  if (lstm)
    fit_cols(g.dc, H, n);
  else
    fit_cols(g.dr, GH, n);
  Mat<T>& dr = lstm ? g.da : g.dr;  // ∂ℓ/∂(W_hh h_{t-1} + b_hh): the LSTM's equals da
  g.dh.leftCols(n) = seed.leftCols(n);
  int nt = chain_threads(B);
  if (steps > 1 && !splits_alike<T>(H, GH, B, nt)) nt = 1;
  team_run(nt, [&](int k, int nk) {
    const auto [c0, nb] = chain_cols(B, k, nk);
    for (Index t = steps; t >= 1; --t) {
      const Index o = (t - 1) * B + c0;  // this thread's first column of step t's block
      auto dh = g.dh.middleCols(o, nb);  // (H, nb)
      if (t < steps) dh.noalias() += net.W_hh.transpose() * dr.middleCols(o + B, nb);
      const auto gate = c.gate.middleCols(o, nb);
      auto da = g.da.middleCols(o, nb);  // (G·H, nb)
      if (lstm) {
        const auto i = gate.topRows(H).array(), f = gate.middleRows(H, H).array(),
                   gg = gate.middleRows(2 * H, H).array(), og = gate.bottomRows(H).array();
        const auto tc = c.tc.middleCols(o, nb).array();
        auto dc = g.dc.middleCols(o, nb);
        dc.array() = dh.array() * og * (T(1) - tc * tc);
        if (t < steps)
          dc.array() += c.gate.middleCols(o + B, nb).middleRows(H, H).array() *
                        g.dc.middleCols(o + B, nb).array();
        const auto dca = dc.array();
        da.topRows(H).array() = dca * gg * i * (T(1) - i);
        da.middleRows(H, H).array() = dca * c.c.middleCols(o, nb).array() * f * (T(1) - f);
        da.middleRows(2 * H, H).array() = dca * i * (T(1) - gg * gg);
        da.bottomRows(H).array() = dh.array() * tc * og * (T(1) - og);
      } else {
        if (t < steps)
          dh.array() += c.gate.middleCols(o + B, nb).middleRows(H, H).array() *
                        g.dh.middleCols(o + B, nb).array();
        const auto r = gate.topRows(H).array(), z = gate.middleRows(H, H).array(),
                   nn = gate.bottomRows(H).array();
        const auto dha = dh.array();
        da.bottomRows(H).array() = dha * (T(1) - z) * (T(1) - nn * nn);
        da.middleRows(H, H).array() = dha * (c.h.middleCols(o, nb).array() - nn) * z * (T(1) - z);
        da.topRows(H).array() =
            da.bottomRows(H).array() * c.hn.middleCols(o, nb).array() * r * (T(1) - r);
        auto drt = g.dr.middleCols(o, nb);
        drt.topRows(2 * H) = da.topRows(2 * H);
        drt.bottomRows(H).array() = r * da.bottomRows(H).array();
      }
    }
  });
  // ∂L/∂W_ih = (1/B) Σ_t ∂a_t x_tᵀ (first_step: t = 1 only);  ∂L/∂b_ih = (1/B) Σ_t ∂a_t
  const Index nx = net.inputs == RnnInputs::every_step ? n : B;
  g.dW_ih.resize(GH, net.W_ih.cols());
  split_product(g.da.leftCols(nx), x.leftCols(nx).transpose(), g.dW_ih.leftCols(net.W_ih.cols()));
  g.dW_ih *= inv_b;
  g.db_ih = g.da.leftCols(n).rowwise().sum() * inv_b;
  // ∂L/∂W_hh = (1/B) Σ_{t≥2} r_t h_{t-1}ᵀ (h_0 = 0);  ∂L/∂b_hh = (1/B) Σ_t r_t
  g.dW_hh.resize(GH, H);
  if (steps > 1)
    split_product(dr.middleCols(B, n - B), c.h.middleCols(B, n - B).transpose(),
                  g.dW_hh.leftCols(H));
  else
    g.dW_hh.setZero();
  g.dW_hh *= inv_b;
  g.db_hh = dr.leftCols(n).rowwise().sum() * inv_b;
  // ∂ℓ_i/∂x_t = W_ihᵀ ∂a_t
  g.dx.noalias() = net.W_ih.transpose() * g.da.leftCols(nx);
}

// ---- per-step diagnostics ----

// Mean and saturated share of one gate's (H, B) block of activations.
template <class T>
static GateStepStats gate_stats(const Eigen::Ref<const Mat<T>>& a, bool is_tanh, double tau) {
  GateStepStats s;
  double sum = 0;
  Index sat = 0;
  const double thr = tau * (is_tanh ? 1.0 : 0.25);  // τ·sup φ'
  for (Index j = 0; j < a.cols(); ++j)
    for (Index k = 0; k < a.rows(); ++k) {
      const double v = static_cast<double>(a(k, j));
      if (!std::isfinite(v)) return s;
      sum += v;
      const double d = is_tanh ? 1 - v * v : v * (1 - v);  // φ' from the value
      if (d < thr) ++sat;
    }
  const double m = static_cast<double>(a.size());
  s.mean = sum / m;
  s.saturated_frac = static_cast<double>(sat) / m;
  return s;
}

template <class T>
void gated_step_rows(const Gated<T>& net, const GatedCache<T>& c, const GatedGrads<T>& g,
                     double tau, std::vector<GatedStepRow>& rows, ProbeScratch<T>& scratch) {
  const Index H = net.width(), GH = net.gates() * H, B = c.batch, hb = H * B;
  const bool lstm = net.kind == CellKind::lstm;
  const Mat<T>& dr = lstm ? g.da : g.dr;
  const double rb = std::sqrt(static_cast<double>(B));
  const size_t first = rows.size();
  rows.resize(first + static_cast<size_t>(c.steps));
  const int nt =
      static_cast<int>(std::clamp<Index>(team_threads(), 1, std::max<Index>(c.steps, 1)));
  if (scratch.size() < static_cast<size_t>(nt)) scratch.resize(static_cast<size_t>(nt));
  team_run(nt, [&](int k, int nk) {
    StatScratch<T>& sp = scratch[static_cast<size_t>(k)];
    const Range mine = split_range(c.steps, k, nk);  // steps 1 + [begin, begin + size)
    for (Index t = 1 + mine.begin; t <= mine.begin + mine.size; ++t) {
      const Index o = (t - 1) * B;
      GatedStepRow& r = rows[first + static_cast<size_t>(t - 1)];
      r.t = static_cast<int>(t);
      for (int q = 0; q < net.gates(); ++q)
        r.gate[static_cast<size_t>(q)] =
            gate_stats<T>(c.gate.middleCols(o, B).middleRows(q * H, H), gate_is_tanh(q), tau);
      r.dh_norm = stable_norm(g.dh.data() + o * H, hb) / rb;
      if (lstm) r.dc_norm = stable_norm(g.dc.data() + o * H, hb) / rb;
      r.da_norm = stable_norm(g.da.data() + o * GH, GH * B) / rb;
      // ‖whole‖² = Σ_gates ‖block‖² (h_0 = 0: every share is 0 at t = 1)
      double whole = 0;
      for (int q = 0; q < net.gates(); ++q) {
        const double v = t > 1 ? outer_norm<T>(dr.middleCols(o, B).middleRows(q * H, H),
                                               c.h.middleCols(o, B), sp)
                                     .norm
                               : 0.0;
        r.grad_whh_gate_contrib_norm[static_cast<size_t>(q)] = v;
        whole = std::hypot(whole, v);
      }
      r.grad_whh_contrib_norm = whole;
    }
  });
}

#define GL_GATED_INST(T)                                                                           \
  template struct Gated<T>;                                                                        \
  template Gated<T> gated_init<T>(CellKind, const GatedShape&, const GatedInit&, RnnInputs, Rng&); \
  template void gated_forward<T>(const Gated<T>&, const Mat<T>&, Index, Index, GatedCache<T>&);    \
  template void gated_backward<T>(const Gated<T>&, const Mat<T>&, const GatedCache<T>&,            \
                                  const Mat<T>&, GatedGrads<T>&);                                  \
  template void gated_step_rows<T>(const Gated<T>&, const GatedCache<T>&, const GatedGrads<T>&,    \
                                   double, std::vector<GatedStepRow>&, ProbeScratch<T>&);
GL_GATED_INST(float)
GL_GATED_INST(double)

}  // namespace gl
