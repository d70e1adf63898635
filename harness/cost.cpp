#include "harness/cost.h"

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
  }
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
    const double H = c.model.width;
    const double T = c.model.length > 0 ? c.model.length : c.data.length;
    const double params = H * H + H * in + H + out * H + out;
    cost.bytes = word * (3 * params + 5 * T * H * rows + T * in * (N + B + test));
    cost.flops = 6.0 * (H * H + H * in) * T * (probes * N + steps * B);
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
