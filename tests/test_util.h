// Shared by the test suites: a run of one config text (no grid), built as the sweep builds it,
// with the config's problems reported as test failures.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "experiments/run.h"
#include "harness/core/config.h"
#include "harness/nn/loss.h"
#include "harness/nn/optim.h"

namespace gl {

inline RunSpec run_spec_of(const std::string& text, uint64_t seed, uint64_t data_seed) {
  std::vector<ConfigIssue> issues;
  RunSpec s{};
  s.index = 0;
  s.id = "run";
  s.point = json::object();
  s.repeat = 0;
  s.seed = seed;
  s.data_seed = data_seed;
  s.config = config_from_json(json::parse(text), issues);
  for (const auto& i : issues) ADD_FAILURE() << i.path << ": " << i.message;
  s.resolved = config_to_json(s.config);
  return s;
}

// One update of net through the training path (harness/nn/optim.h) with gradients g (which it
// may scale in place): the state of o is made at the first call. Returns the step's base rate.
template <class T>
double mlp_update(const TrainConfig& tc, Mlp<T>& net, MlpGrads<T>& g, Optim<T>& o, int64_t step,
                  double scale = 1.0) {
  mlp_params(net, g, o);
  if (o.state.empty()) optim_make(tc, o, 0);
  return params_update(tc, o, step, scale);
}

// A TrainConfig with the optimizer of kind (PyTorch's defaults), lr and momentum.
inline TrainConfig train_of(OptimizerKind kind, double lr, double momentum = 0) {
  TrainConfig tc;
  tc.steps = 100;
  tc.opt = optimizer_spec_default(kind);
  tc.opt.lr = lr;
  tc.opt.momentum = momentum;
  return tc;
}

// The probe's layer rows of net on x (columns are examples), with mse against zero targets.
template <class T>
std::vector<LayerRow> probe_rows_of(const Mlp<T>& net, const Mat<T>& x) {
  MlpCache<T> cache;
  MlpGrads<T> grads;
  Targets<T> t;
  t.y = Mat<T>::Zero(net.layers.back().W.rows(), x.cols());
  Mat<T> dy;
  mlp_forward(net, x, cache);
  loss_backward(Loss::mse, cache.a.back(), t, dy);
  mlp_backward(net, cache, dy, grads);
  std::vector<LayerRow> rows;
  ProbeScratch<T> scratch(1);
  mlp_layer_rows(net, cache, grads, ProbeConfig{}, 0, rows, scratch);
  return rows;
}

}  // namespace gl
