#include "harness/core/cost.h"
#include "harness/core/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace gl {

// Input and output sizes per example (per step for sequences), from the config alone.
static void data_sizes(const Config& c, double& in, double& out) {
  const DataConfig& d = c.data;
  switch (d.name) {
    case DataName::gaussian:
      in = d.dim;
      out = c.loss == Loss::cross_entropy ? d.classes : d.outputs;
      return;
    case DataName::shapeset3x2:
      in = 1024, out = 9;
      return;
    case DataName::idx:
    case DataName::fashion_mnist:
      in = 784, out = 10;
      return;
    case DataName::temporal_order:
      in = 6, out = 4;
      return;
    case DataName::addition:
      in = 2, out = 1;
      return;
    case DataName::count:
      return;
  }
}

// A gated chain (harness/nn/gated_net.h, experiments/run_gated.cpp): one history shared by the
// probe set, the training batch and the test chunks (≤ max(N, B) sequences), each sequence step
// holding per unit the gates and h (LSTM also c, tanh c; GRU W_hn h) and in the backward ∂ℓ/∂h,
// the seed, ∂ℓ/∂a (LSTM also ∂ℓ/∂c; GRU ∂ℓ/∂r): 14·H values (LSTM) or 13·H (GRU), and 7·H or 8·H
// more for loss_at every_step's second backward. Parameters 4×: net, momentum, two gradients.
// probe.dump_tensors adds one (N, T, G·H) copy at a time.
static RunCost gated_cost(const Config& c, double in, double out, double word, double probes,
                          double test) {
  const double G = c.model.type == ModelType::lstm ? 4 : 3;
  const double H = c.model.width, N = c.probe.samples, B = c.train.batch_size;
  const double T = c.model.length > 0 ? c.model.length : c.data.length;
  const double Tb = c.data.name == DataName::addition ? T + std::floor(T / 10.0) : T;
  const bool x_every = c.model.inputs == RnnInputs::every_step;
  const bool y_every = c.model.loss_at == LossAt::every_step;
  const double per = G == 4 ? 14 : 13, back = G == 4 ? 7 : 8;
  const double rows = std::max(N * T * (per + (y_every ? back : 0)),
                               std::max(B * Tb, std::min(test, N > B ? N : B) * T) * per);
  const double params = G * H * (H + in + 2) + out * (H + 1);
  const double xs = in * ((x_every ? T : 1) * (N + std::max(N, B)) + (x_every ? Tb : 1) * B);
  const double ys =
      out * ((y_every ? T : 1) * 3 * (N + std::max(N, B)) + (y_every ? Tb : 1) * 2 * B);
  const bool dumps = c.probe.dump_tensors.all || !c.probe.dump_tensors.steps.empty();
  const double dump = dumps ? N * T * G * H : 0;  // the largest (N, T, ·) copy: gate, da
  RunCost cost;
  cost.bytes = word * (4 * params + H * rows + xs + ys + dump);
  cost.bytes += N < H ? 8.0 * (2 * N * N + 2 * H * N) : word * G * H * H;  // outer_norm scratch
  cost.bytes += 500.0 * T * probes;                                        // rows and their text
  const double steps = static_cast<double>(c.train.steps);
  const double in_steps = x_every ? 1.0 : 1.0 / std::max(T, 1.0);
  const double step_flops = 6.0 * G * H * (H + in * in_steps) + 6.0 * out * H;
  const double share_flops = T * G * std::min(4.0 * N * N * H, 2.0 * H * H * N);
  cost.flops = step_flops * (probes * T * N + steps * Tb * B) +
               probes * (share_flops + 2.0 * G * H * (H + in) * T * test);
  return cost;
}

RunCost run_cost(const Config& c) {
  double in = 0, out = 0;
  data_sizes(c, in, out);
  const double word = c.precision == Precision::float32 ? 4.0 : 8.0;
  const double N = c.probe.samples, B = c.train.batch_size;
  const double rows = std::max(N, B);
  const double steps = static_cast<double>(c.train.steps);
  const double probes =
      2.0 + (c.probe.schedule == Schedule::linear ? steps / static_cast<double>(c.probe.every)
                                                  : c.probe.per_decade * 7.0);
  const double test = steps > 0 ? static_cast<double>(c.data.test_samples) : 0.0;
  if (is_gated(c.model.type)) return gated_cost(c, in, out, word, probes, test);
  RunCost cost;
  if (c.model.type == ModelType::mlp) {
    double params = 0, units = 0, prev = in;
    const double pieces =
        c.model.activation.kind == Activation::maxout ? c.model.activation.pieces : 1;
    for (int w : c.model.hidden) {
      params += pieces * w * (prev + 1);
      units += pieces * w;
      prev = w;
    }
    params += out * (prev + 1);
    units += out;
    // W, dW, velocity; z, a, φ', δ (and maxout's pieces) per unit per example; probe, test and
    // batch inputs; statistics scratch (doubles) of the largest layer.
    cost.bytes = word * (3 * params + 5 * units * rows + in * (N + B + test)) + 8.0 * units * N / 2;
    cost.flops = 6.0 * params * (probes * N + steps * B) + 2.0 * params * probes * test;
  } else {
    // A chain (harness/nn/rnn.h, experiments/run_rnn.cpp). A forward + backward over n sequences
    // of length T keeps h_0..h_T, z_t, φ'(z_t), ∂ℓ/∂h_t and δ_t: 5·T·H·n values, 7 with
    // loss_at every_step (the probe's second backward, seeded by the last step's loss). The probe
    // set and the training batch each have their own; addition's training sequences are up to
    // L + ⌊L/10⌋ − 1 long (addition.py). The test set runs without history, ≤ 1000 at a time.
    const double H = c.model.width;
    const double T = c.model.length > 0 ? c.model.length : c.data.length;
    const double Tb = c.data.name == DataName::addition ? T + std::floor(T / 10.0) : T;
    const bool x_every = c.model.inputs == RnnInputs::every_step;
    const bool y_every = c.model.loss_at == LossAt::every_step;
    const double params = H * H + H * in + H + out * H + out;  // W, U, b, V, c
    const double chunk = std::min(test, 1000.0);
    const double caches = (y_every ? 7 : 5) * T * H * N + 5 * Tb * H * B + 2 * H * chunk;
    const double xs = in * ((x_every ? T : 1) * (N + chunk) + (x_every ? Tb : 1) * B);
    const double ys = out * ((y_every ? T : 1) * (3 * N + chunk) + (y_every ? Tb : 1) * 2 * B);
    const bool dumps = c.probe.dump_tensors.all || !c.probe.dump_tensors.steps.empty();
    const double dump = dumps ? N * T * (in + 3 * H) : 0;  // (N, T, ·) copies
    // parameters 5×: net, momentum, gradients of the probe, of its last step, of the batch
    cost.bytes = word * (5 * params + caches + xs + ys + dump);
    // rnn_timestep_rows' scratch (two N×N Gram matrices in double when N < H, else H×H), the
    // float64 copies of W inside the eigen- and singular-value solvers, and the table rows held
    // until the run is written (TimestepRow and its CSV text).
    cost.bytes += N < H ? 8.0 * (2 * N * N + 2 * H * N) : word * H * H;
    cost.bytes += 8.0 * 4 * H * H;
    cost.bytes += 350.0 * T * probes;
    // forward 2·(H² + H·in) per example and step, backward about twice that; per probe the
    // per-step ∂L/∂W shares (Gram or outer products), ~20 H³ for ρ(W) and σ_max(W), and the
    // forward pass over the test set.
    const double in_steps = x_every ? 1.0 : 1.0 / std::max(T, 1.0);
    const double out_steps = y_every ? 1.0 : 1.0 / std::max(T, 1.0);
    const double step_flops = 6.0 * (H * H + H * in * in_steps + out * H * out_steps);
    const double share_flops = T * std::min(4.0 * N * N * H, 2.0 * H * H * N);
    cost.flops = step_flops * (probes * T * N + steps * Tb * B) +
                 probes * (share_flops + 20.0 * H * H * H + 2.0 * (H * H + H * in) * T * test);
  }
  return cost;
}

double memory_available() {
  std::ifstream f("/proc/meminfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("MemAvailable:", 0) == 0) {
      std::istringstream s(line.substr(13));
      double kb = 0;
      s >> kb;
      return kb * 1024.0;
    }
  }
  return 0.0;
}

}  // namespace gl
