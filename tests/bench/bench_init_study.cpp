// W5 (docs/performance.md): the GEMM rate an init-study probe is measured against, and the probe
// itself, on one thread as in a sweep's run. Run: build/tests/gradlab_bench
// --benchmark_filter='Gemm|InitProbe'.
//   BM_Gemm<T>/n/k:  C (n, k) = W (n, n) · A (n, k) through gemm() — one layer's forward product;
//                    the FLOPS counter is 2·n²·k per iteration (the products' rate).
//   BM_InitProbe<T>/depth: a quickstart run's probe (width 256, 256 examples, tanh, Glorot
//                    uniform): forward, loss, backward without ∂L/∂W and every layers.csv column,
//                    on buffers kept from the previous iteration (a warm probe). Its large
//                    products are 3·depth − 1 of BM_Gemm/256/256: W_l a_{l−1} for l = 1..L,
//                    W_lᵀ δ_l for l = 2..L, and ‖∂L/∂W_l‖ from the product δ_l a_{l−1}ᵀ for
//                    l = 1..L (metrics.h outer_norm: at B = 256 the product is the cheaper way);
//                    with the sweep's allocator settings (experiments/sweep.h);
//                    the output layer's (10 rows) are small. The GEMM floor is (3·depth − 1) ×
//                    BM_Gemm/256/256.
//   BM_InitProbeFirst<T>/depth: the same probe as a run's first: cache, gradients, scratch and
//                    rows allocated afresh every iteration (and freed), with the sweep's
//                    allocator settings (experiments/sweep.h allocator_keep_pages) — in an init
//                    study every probe is such a probe. Against BM_InitProbe: the first-probe cost.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "experiments/sweep.h"
#include "harness/core/config.h"
#include "harness/measure/metrics.h"
#include "harness/nn/blas.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"

using namespace gl;

template <class T>
static void BM_Gemm(benchmark::State& st) {
  omp_set_num_threads(1);  // as a sweep's run (threads: 1)
  const Index n = st.range(0), k = st.range(1);
  Rng r = rng_make(3);
  Mat<T> W(n, n), A(n, k), C(n, k);
  rng_normal_fill(r, W.data(), W.size());
  rng_normal_fill(r, A.data(), A.size());
  for (auto _ : st) {
    gemm<T>(T(1), W, Op::none, A, Op::none, T(0), C);
    benchmark::DoNotOptimize(C.data());
  }
  st.counters["FLOPS"] = benchmark::Counter(2.0 * static_cast<double>(n * n * k),
                                            benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Gemm<double>)->Args({256, 256})->Args({512, 200})->UseRealTime();
BENCHMARK(BM_Gemm<float>)->Args({256, 256})->Args({512, 200})->UseRealTime();

// The quickstart net of BM_InitProbe's comment and its probe inputs.
template <class T>
struct InitProbeCase {
  Mlp<T> net;
  Mat<T> x;
  Targets<T> t;
};
template <class T>
static InitProbeCase<T> init_probe_case(int depth) {
  const Index width = 256, n = 256;
  ActivationSpec act;
  act.kind = Activation::tanh;
  InitSpec init;
  init.kind = Init::glorot_uniform;
  Rng r = rng_make(1);
  InitProbeCase<T> c{mlp_init<T>({width, std::vector<int>(static_cast<size_t>(depth), 256), 10},
                                 act, init, init, BiasSpec{}, r),
                     Mat<T>(width, n),
                     {}};
  rng_normal_fill(r, c.x.data(), c.x.size());
  c.t.y = Mat<T>::Zero(10, n);
  return c;
}

// What a probe writes: kept between probes in a run, allocated afresh by a run's first.
template <class T>
struct ProbeBuffers {
  MlpCache<T> cache;
  MlpGrads<T> grads;
  Mat<T> dy;
  Eigen::VectorXd loss;
  std::vector<LayerRow> rows;
  ProbeScratch<T> scratch = ProbeScratch<T>(1);
};

// One probe: forward, loss, backward without ∂L/∂W, every layers.csv column.
template <class T>
static void init_probe(const InitProbeCase<T>& c, ProbeBuffers<T>& b) {
  const ProbeConfig probe;
  mlp_forward(c.net, c.x, b.cache);
  loss_forward(Loss::mse, b.cache.a.back(), c.t, b.loss);
  loss_backward(Loss::mse, b.cache.a.back(), c.t, b.dy);
  mlp_backward(c.net, b.cache, b.dy, b.grads, false);
  b.rows.clear();
  mlp_layer_rows(c.net, b.cache, b.grads, probe, 0, b.rows, b.scratch);
  benchmark::DoNotOptimize(b.rows.data());
}

template <class T>
static void BM_InitProbe(benchmark::State& st) {
  omp_set_num_threads(1);
  allocator_keep_pages();  // as in a sweep
  const InitProbeCase<T> c = init_probe_case<T>(static_cast<int>(st.range(0)));
  ProbeBuffers<T> b;
  for (auto _ : st) init_probe(c, b);
}
BENCHMARK(BM_InitProbe<double>)->Arg(30)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InitProbe<float>)->Arg(30)->UseRealTime()->Unit(benchmark::kMillisecond);

template <class T>
static void BM_InitProbeFirst(benchmark::State& st) {
  omp_set_num_threads(1);
  allocator_keep_pages();
  const InitProbeCase<T> c = init_probe_case<T>(static_cast<int>(st.range(0)));
  for (auto _ : st) {
    ProbeBuffers<T> b;
    init_probe(c, b);
  }
}
BENCHMARK(BM_InitProbeFirst<double>)->Arg(30)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_InitProbeFirst<float>)->Arg(30)->UseRealTime()->Unit(benchmark::kMillisecond);
