// Google Benchmark cases for the MLP workloads of docs/performance.md (W3, the RNN chain, is in
// bench_rnn.cpp), each in float32 and float64, on 1 and 2 OpenMP threads (the Arg):
//   W1: 1024 → 5×1000 tanh → 10, Glorot-uniform, cross-entropy, batch 10
//   W2: 128 → 99×128 ReLU → 128, He-normal, MSE, batch 64
//   W4: 2048 → 9×2048 ReLU → 2048, He-normal, MSE, batch 256
// step:  what a training step of `gradlab run` does between probes, without drawing the minibatch:
//        forward, loss, and the fused plain-SGD backward (mlp_backward_sgd).
// probe: what timing.probe_s measures on probe.samples = batch examples: forward, loss, backward
//        (no ∂L/∂W stored) and every per-layer statistic of layers.csv (mlp_layer_rows).
// Run: build/tests/gradlab_bench --benchmark_filter=W2 (2 threads need 2 idle cores).
#include <benchmark/benchmark.h>
#include <omp.h>

#include "harness/core/config.h"
#include "harness/measure/metrics.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"

using namespace gl;

namespace {

struct Workload {
  Index inputs;
  int width, depth;
  Index outputs, batch;
  Activation act;
  Init init;
  Loss loss;
};
const Workload W1{
    1024, 1000, 5, 10, 10, Activation::tanh, Init::glorot_uniform, Loss::cross_entropy};
const Workload W2{128, 128, 99, 128, 64, Activation::relu, Init::he_normal, Loss::mse};
const Workload W4{2048, 2048, 9, 2048, 256, Activation::relu, Init::he_normal, Loss::mse};

template <class T>
struct Bench {
  Workload w;
  Mlp<T> net;
  Mat<T> x, dy;
  Targets<T> t;
  MlpCache<T> cache;
  MlpGrads<T> grads;
  Eigen::VectorXd loss;
  std::vector<LayerRow> rows;
  ProbeScratch<T> scratch;
  explicit Bench(const Workload& wl) : w(wl) {
    ActivationSpec act;
    act.kind = w.act;
    InitSpec init;
    init.kind = w.init;
    Rng r = rng_make(1);
    net =
        mlp_init<T>({w.inputs, std::vector<int>(static_cast<size_t>(w.depth), w.width), w.outputs},
                    act, init, init, BiasSpec{}, r);
    x.resize(w.inputs, w.batch);
    for (Index i = 0; i < x.size(); ++i) x(i) = static_cast<T>(rng_normal(r));
    t.y.resize(w.outputs, w.batch);
    for (Index i = 0; i < t.y.size(); ++i) t.y(i) = static_cast<T>(rng_normal(r));
    for (Index i = 0; i < w.batch; ++i) t.labels.push_back(static_cast<int32_t>(i % w.outputs));
  }
  void forward_loss() {
    mlp_forward(net, x, cache);
    loss_forward(w.loss, cache.a.back(), t, loss);
    loss_backward(w.loss, cache.a.back(), t, dy);
  }
  // A tiny lr keeps the net near its init however many iterations run.
  void step() {
    forward_loss();
    mlp_backward_sgd(net, cache, dy, grads, 1e-9);
  }
  void probe() {
    forward_loss();
    mlp_backward(net, cache, dy, grads, false);
    rows.clear();
    mlp_layer_rows(net, cache, grads, ProbeConfig{}, 0, rows, scratch);
  }
};

template <class T>
void run_step(benchmark::State& st, const Workload& w) {
  omp_set_num_threads(static_cast<int>(st.range(0)));
  Bench<T> b(w);
  for (auto _ : st) {
    b.step();
    benchmark::DoNotOptimize(b.net.layers[0].W.data());
  }
  omp_set_num_threads(1);
}

template <class T>
void run_probe(benchmark::State& st, const Workload& w) {
  omp_set_num_threads(static_cast<int>(st.range(0)));
  Bench<T> b(w);
  for (auto _ : st) {
    b.probe();
    benchmark::DoNotOptimize(b.rows.data());
  }
  omp_set_num_threads(1);
}

#define GL_WORKLOAD(W)                                                        \
  void BM_##W##_step_f32(benchmark::State& st) { run_step<float>(st, W); }    \
  void BM_##W##_step_f64(benchmark::State& st) { run_step<double>(st, W); }   \
  void BM_##W##_probe_f32(benchmark::State& st) { run_probe<float>(st, W); }  \
  void BM_##W##_probe_f64(benchmark::State& st) { run_probe<double>(st, W); } \
  BENCHMARK(BM_##W##_step_f32)                                                \
      ->Arg(1)                                                                \
      ->Arg(2)                                                                \
      ->ArgName("threads")                                                    \
      ->UseRealTime()                                                         \
      ->Unit(benchmark::kMillisecond);                                        \
  BENCHMARK(BM_##W##_step_f64)                                                \
      ->Arg(1)                                                                \
      ->Arg(2)                                                                \
      ->ArgName("threads")                                                    \
      ->UseRealTime()                                                         \
      ->Unit(benchmark::kMillisecond);                                        \
  BENCHMARK(BM_##W##_probe_f32)                                               \
      ->Arg(1)                                                                \
      ->Arg(2)                                                                \
      ->ArgName("threads")                                                    \
      ->UseRealTime()                                                         \
      ->Unit(benchmark::kMillisecond);                                        \
  BENCHMARK(BM_##W##_probe_f64)                                               \
      ->Arg(1)                                                                \
      ->Arg(2)                                                                \
      ->ArgName("threads")                                                    \
      ->UseRealTime()                                                         \
      ->Unit(benchmark::kMillisecond);
GL_WORKLOAD(W1)
GL_WORKLOAD(W2)
GL_WORKLOAD(W4)

}  // namespace
