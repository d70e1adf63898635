// Google Benchmark cases for the MLP hot path (run: build/tests/gradlab_bench).
//   probe:   forward + loss + backward + every per-layer statistic, 5×1000 tanh, 300 examples
//   step:    forward + backward of a depth-100 width-128 ReLU MLP on 64 examples
//   small batch: forward + backward of the 1024-5x1000-10 tanh net on 10 examples (W1 of
//            docs/performance.md: Wᵀδ column by column of W instead of a GEMM)
#include <benchmark/benchmark.h>

#include "harness/core/config.h"
#include "harness/measure/metrics.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"

using namespace gl;

template <class T>
struct Fixture {
  Mlp<T> net;
  Mat<T> x, dy;
  Targets<T> t;
  MlpCache<T> cache;
  MlpGrads<T> grads;
  Eigen::VectorXd loss;
  std::vector<LayerRow> rows;
  ProbeScratch<T> scratch;
  Loss kind;
  Fixture(Index inputs, int width, int depth, Index outputs, Index n, Activation a, Init init,
          Loss k)
      : kind(k) {
    ActivationSpec act;
    act.kind = a;
    InitSpec s;
    s.kind = init;
    Rng r = rng_make(1);
    net = mlp_init<T>({inputs, std::vector<int>(static_cast<size_t>(depth), width), outputs}, act,
                      s, s, BiasSpec{}, r);
    x.resize(inputs, n);
    for (Index i = 0; i < x.size(); ++i) x(i) = static_cast<T>(rng_normal(r));
    t.y = Mat<T>::Zero(outputs, n);
    for (Index i = 0; i < n; ++i) t.labels.push_back(static_cast<int32_t>(i % outputs));
  }
  void fwd_bwd() {
    mlp_forward(net, x, cache);
    loss_forward(kind, cache.a.back(), t, loss);
    loss_backward(kind, cache.a.back(), t, dy);
    mlp_backward(net, cache, dy, grads);
  }
};

template <class T>
static void BM_ProbeGlorot5x1000Tanh(benchmark::State& st) {
  Fixture<T> f(1024, 1000, 5, 10, 300, Activation::tanh, Init::glorot_uniform, Loss::cross_entropy);
  for (auto _ : st) {
    f.fwd_bwd();
    f.rows.clear();
    mlp_layer_rows(f.net, f.cache, f.grads, ProbeConfig{}, 0, f.rows, f.scratch);
    benchmark::DoNotOptimize(f.rows.data());
  }
}
BENCHMARK(BM_ProbeGlorot5x1000Tanh<float>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ProbeGlorot5x1000Tanh<double>)->Unit(benchmark::kMillisecond);

template <class T>
static void BM_FwdBwdDepth100Width128Relu(benchmark::State& st) {
  Fixture<T> f(128, 128, 100, 10, 64, Activation::relu, Init::he_normal, Loss::mse);
  for (auto _ : st) {
    f.fwd_bwd();
    benchmark::DoNotOptimize(f.grads.dW.data());
  }
}
BENCHMARK(BM_FwdBwdDepth100Width128Relu<float>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FwdBwdDepth100Width128Relu<double>)->Unit(benchmark::kMillisecond);

template <class T>
static void BM_FwdBwdGlorot5x1000Batch10(benchmark::State& st) {
  Fixture<T> f(1024, 1000, 5, 10, 10, Activation::tanh, Init::glorot_uniform, Loss::cross_entropy);
  for (auto _ : st) {
    f.fwd_bwd();
    benchmark::DoNotOptimize(f.grads.dW.data());
  }
}
BENCHMARK(BM_FwdBwdGlorot5x1000Batch10<float>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FwdBwdGlorot5x1000Batch10<double>)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
