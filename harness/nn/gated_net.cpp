#include "harness/nn/gated_net.h"

#include <array>
#include <cmath>

#include "harness/core/config.h"
#include "harness/nn/chain_team.h"
#include "harness/nn/optim.h"

namespace gl {

template <class T>
GatedNet<T> gated_net_init(const RnnShape& s, const ModelConfig& m, Rng& rng) {
  GatedInit init = gate_inits_shared(m.input_init, m.recurrent_init, m.bias_init, m.forget_bias);
  for (size_t k = 0; k < max_gates; ++k) {
    if (m.input_init_gates[k]) init.input[k] = *m.input_init_gates[k];
    if (m.recurrent_init_gates[k]) init.recurrent[k] = *m.recurrent_init_gates[k];
  }
  GatedNet<T> net;
  net.cell = gated_init<T>(cell_kind_of(m.type), {s.inputs, s.width}, init, m.inputs, rng);
  net.loss_at = m.loss_at;
  net.V.resize(s.outputs, s.width);
  net.c.resize(s.outputs);
  init_weights(m.output_init, net.V, rng);
  init_bias(m.bias_init, net.c, rng);
  return net;
}

template <class T>
void gated_net_forward(const GatedNet<T>& net, const Mat<T>& x, Index steps, Index B,
                       GatedNetCache<T>& c) {
  gated_forward(net.cell, x, steps, B, c.cell);
  // ŷ_t = V h_t + c: at T only (loss_at last), or at every t
  const Index n = steps * B;
  if (net.loss_at == LossAt::last) {
    c.yhat.resize(net.V.rows(), B);
    c.yhat.noalias() = net.V * c.cell.h.middleCols(n, B);
  } else {
    c.yhat.resize(net.V.rows(), n);
    split_product(net.V, c.cell.h.middleCols(B, n), c.yhat.leftCols(n));
  }
  c.yhat.colwise() += net.c;
}

template <class T>
void gated_net_backward(const GatedNet<T>& net, const Mat<T>& x, const GatedNetCache<T>& c,
                        const Mat<T>& dy, GatedNetGrads<T>& g) {
  const Index H = net.width(), steps = c.cell.steps, B = c.cell.batch, n = steps * B;
  const T inv_b = T(1) / static_cast<T>(B);
  const bool every = net.loss_at == LossAt::every_step;
  const auto h = c.cell.h.middleCols(B, n);  // h_1..h_T
  g.dV.resize(net.V.rows(), H);
  if (every)
    split_product(dy, h.transpose(), g.dV.leftCols(H));
  else
    g.dV.noalias() = dy * h.rightCols(B).transpose();
  g.dV *= inv_b;
  g.dc = dy.rowwise().sum() * inv_b;
  if (g.seed.rows() != H || g.seed.cols() < n) g.seed.resize(H, n);
  if (every) {
    split_product(net.V.transpose(), dy, g.seed.leftCols(n));
  } else {
    g.seed.leftCols(n - B).setZero();
    g.seed.middleCols(n - B, B).noalias() = net.V.transpose() * dy;
  }
  gated_backward(net.cell, x, c.cell, g.seed, g.cell);
}

// The tensors of a net or of its gradients as (data, size) spans, in gated_net_tensors' order.
template <class T>
using Spans = std::array<std::pair<T*, Index>, 6>;
template <class T>
static Spans<T> net_spans(GatedNet<T>& n) {
  Spans<T> s;
  size_t k = 0;
  gated_net_tensors(n, [&](const char*, auto& m) { s[k++] = {m.data(), m.size()}; });
  return s;
}
template <class T>
static Spans<T> grad_spans(GatedNetGrads<T>& g) {
  Spans<T> s;
  size_t k = 0;
  gated_grads_tensors(g, [&](const char*, auto& m) { s[k++] = {m.data(), m.size()}; });
  return s;
}

template <class T>
double gated_grads_norm(GatedNetGrads<T>& g) {
  double s = 0;
  for (const auto& [p, n] : grad_spans(g)) s = std::hypot(s, stable_norm(p, n));
  return s;
}

template <class T>
void gated_grads_scale(GatedNetGrads<T>& g, double s) {
  for (const auto& [p, n] : grad_spans(g)) Eigen::Map<Vec<T>>(p, n) *= static_cast<T>(s);
}

template <class T>
void gated_timestep_rows(const GatedNet<T>& net, const GatedNetCache<T>& c,
                         const GatedNetGrads<T>& g, const GatedNetGrads<T>* last, double tau,
                         int64_t step, std::vector<TimestepRow>& rows,
                         std::vector<GatedStepRow>& gr, ProbeScratch<T>& scratch) {
  const Index H = net.width(), B = c.cell.batch, hb = H * B;
  const double rb = std::sqrt(static_cast<double>(B));
  gr.clear();
  gated_step_rows(net.cell, c.cell, g.cell, tau, gr, scratch);
  const size_t slot0 = net.cell.kind == CellKind::lstm ? 0 : 4;  // TimestepRow's gate slots
  for (const GatedStepRow& s : gr) {
    const Index o = static_cast<Index>(s.t - 1) * B;
    TimestepRow r;
    r.step = step;
    r.t = s.t;
    r.h_norm = stable_norm(c.cell.h.data() + (o + B) * H, hb) / rb;
    r.dh_norm = s.dh_norm;
    r.dz_norm = s.da_norm;
    if (last) r.dh_last_norm = stable_norm(last->cell.dh.data() + o * H, hb) / rb;
    r.grad_w_contrib_norm = s.grad_whh_contrib_norm;
    if (net.cell.kind == CellKind::lstm) r.dc_norm = s.dc_norm;
    for (size_t k = 0; k < static_cast<size_t>(net.cell.gates()); ++k) {
      r.gate_mean[slot0 + k] = s.gate[k].mean;
      r.gate_saturated_frac[slot0 + k] = s.gate[k].saturated_frac;
      r.gate_whh_contrib_norm[slot0 + k] = s.grad_whh_gate_contrib_norm[k];
    }
    rows.push_back(r);
  }
}

#define GL_GATED_NET_INST(T)                                                                      \
  template GatedNet<T> gated_net_init<T>(const RnnShape&, const ModelConfig&, Rng&);              \
  template void gated_net_forward<T>(const GatedNet<T>&, const Mat<T>&, Index, Index,             \
                                     GatedNetCache<T>&);                                          \
  template void gated_net_backward<T>(const GatedNet<T>&, const Mat<T>&, const GatedNetCache<T>&, \
                                      const Mat<T>&, GatedNetGrads<T>&);                          \
  template double gated_grads_norm<T>(GatedNetGrads<T>&);                                         \
  template void gated_grads_scale<T>(GatedNetGrads<T>&, double);                                  \
  template void gated_timestep_rows<T>(const GatedNet<T>&, const GatedNetCache<T>&,               \
                                       const GatedNetGrads<T>&, const GatedNetGrads<T>*, double,  \
                                       int64_t, std::vector<TimestepRow>&,                        \
                                       std::vector<GatedStepRow>&, ProbeScratch<T>&);
GL_GATED_NET_INST(float)
GL_GATED_NET_INST(double)

}  // namespace gl
