// Shared by the chain test suites: a small weight-shared chain with random inputs and targets.
#pragma once

#include "harness/core/config.h"
#include "harness/core/rng.h"
#include "harness/nn/loss.h"
#include "harness/nn/rnn.h"

namespace gl {

struct Chain {
  Rnn<double> net;
  Mat<double> x;  // time-major (inputs, n·B)
  Targets<double> y;
  Index steps = 0, B = 0;
  Loss loss = Loss::mse;
};

inline ModelConfig model_of(Activation a, RnnInputs in, LossAt at, const InitSpec& w) {
  ModelConfig m;
  m.type = ModelType::rnn;
  m.activation.kind = a;
  m.recurrent_init = w;
  m.input_init.kind = Init::glorot_normal;
  m.input_init.gain = 1.5;
  m.output_init.kind = Init::glorot_normal;
  m.bias_init.kind = BiasKind::gaussian;
  m.bias_init.sigma_b2 = 0.1;
  m.inputs = in;
  m.loss_at = at;
  return m;
}

inline Chain make_chain(const ModelConfig& m, Index inputs, Index H, Index outputs, Index steps,
                        Index B, Loss loss, uint64_t seed) {
  Chain ch;
  Rng r = rng_make(seed);
  ch.net = rnn_init<double>({inputs, H, outputs}, m, r);
  ch.steps = steps;
  ch.B = B;
  ch.loss = loss;
  const Index nx = m.inputs == RnnInputs::every_step ? steps : 1;
  const Index ny = m.loss_at == LossAt::every_step ? steps : 1;
  ch.x.resize(inputs, nx * B);
  for (Index k = 0; k < ch.x.size(); ++k) ch.x(k) = rng_normal(r);
  ch.y.y.resize(outputs, ny * B);
  for (Index k = 0; k < ch.y.y.size(); ++k) ch.y.y(k) = rng_normal(r);
  for (Index k = 0; k < ny * B; ++k)
    ch.y.labels.push_back(static_cast<int32_t>(rng_below(r, static_cast<uint64_t>(outputs))));
  return ch;
}

// A probe of the chain: forward, loss, backward, and the timestep rows of `step` (with the
// every-loss gradients standing in for the last step's when with_last).
struct ChainProbe {
  RnnCache<double> c;
  RnnGrads<double> g;
  Mat<double> dy;
  std::vector<TimestepRow> rows;
};
inline ChainProbe chain_probe(const Chain& ch, bool with_last, int64_t step) {
  ChainProbe p;
  rnn_forward(ch.net, ch.x, ch.steps, ch.B, p.c);
  loss_backward(ch.loss, p.c.yhat, ch.y, p.dy);
  rnn_backward(ch.net, ch.x, p.c, p.dy, p.g);
  RnnRowScratch<double> scratch;
  rnn_timestep_rows(ch.net, p.c, p.g, with_last ? &p.g : nullptr, 0.05, step, p.rows, scratch);
  return p;
}

}  // namespace gl
