// Google Benchmark cases for the training loop (run: build/tests/gradlab_bench).
//   train step:   forward + loss + backward + SGD update of Glorot's net 1024 → 5×1000 tanh → 9,
//                 batch 10, float32 — one of Table 1's 5 million updates
//   + grad norm:  the same with the global gradient norm (what clipping costs every step)
//   shapeset:     drawing a batch of 10 Shapeset-3×2 images (the online data stream)
//   test forward: forward of 1000 examples (a probe's test error runs 10 of these for 10,000)
// The probe itself (300 examples, every statistic) is BM_ProbeGlorot5x1000Tanh in bench_mlp.cpp.
#include <benchmark/benchmark.h>

#include "harness/core/config.h"
#include "harness/data/data.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/optim.h"

using namespace gl;

namespace {

struct GlorotNet {
  Mlp<float> net;
  Optim<float> optim;
  TrainConfig tc;     // plain SGD; a small lr keeps the net near its init over millions of steps
  int64_t steps = 0;  // taken (the optimizer's step count)
  Mat<float> x, dy;
  Targets<float> t;
  MlpCache<float> cache;
  MlpGrads<float> grads;
  Eigen::VectorXd loss;
  explicit GlorotNet(Index batch) {
    ActivationSpec act;
    act.kind = Activation::tanh;
    InitSpec init;
    init.kind = Init::glorot_uniform;
    Rng r = rng_make(2010);
    net = mlp_init<float>({1024, std::vector<int>(5, 1000), 9}, act, init, init, BiasSpec{}, r);
    tc.opt.lr = 1e-6;
    x.resize(1024, batch);
    for (Index i = 0; i < x.size(); ++i) x(i) = static_cast<float>(rng_uniform(r, -1.0, 1.0));
    for (Index i = 0; i < batch; ++i) t.labels.push_back(static_cast<int32_t>(i % 9));
  }
  void step(bool norm) {
    mlp_forward(net, x, cache);
    loss_forward(Loss::cross_entropy, cache.a.back(), t, loss);
    loss_backward(Loss::cross_entropy, cache.a.back(), t, dy);
    mlp_backward(net, cache, dy, grads);
    const double n = norm ? mlp_grads_norm(grads) : 1.0;
    benchmark::DoNotOptimize(n);
    mlp_params(net, grads, optim);
    if (optim.state.empty()) optim_make(tc, optim, 0);
    params_update(tc, optim, ++steps, 1.0);
  }
};

void BM_TrainStepGlorot5x1000Tanh(benchmark::State& st) {
  GlorotNet g(10);
  for (auto _ : st) {
    g.step(st.range(0) != 0);
    benchmark::DoNotOptimize(g.net.layers[0].W.data());
  }
}
BENCHMARK(BM_TrainStepGlorot5x1000Tanh)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("grad_norm")
    ->Unit(benchmark::kMillisecond);

void BM_ShapesetBatch10(benchmark::State& st) {
  std::vector<ConfigIssue> issues;
  const Config c = config_from_json(
      json::parse(R"({"model": {"depth": 1, "width": 1}, "data": {"name": "shapeset3x2"}})"),
      issues);
  Dataset<float> d = dataset_make<float>(c, 1);
  Mat<float> x;
  Targets<float> t;
  for (auto _ : st) {
    dataset_sample(d, Split::train, 10, x, t);
    benchmark::DoNotOptimize(x.data());
  }
}
BENCHMARK(BM_ShapesetBatch10)->Unit(benchmark::kMicrosecond);

void BM_TestForward1000Glorot5x1000Tanh(benchmark::State& st) {
  GlorotNet g(1000);
  for (auto _ : st) {
    mlp_forward(g.net, g.x, g.cache);
    benchmark::DoNotOptimize(g.cache.a.back().data());
  }
}
BENCHMARK(BM_TestForward1000Glorot5x1000Tanh)->Unit(benchmark::kMillisecond);

}  // namespace
