// Google Benchmark cases for the chain hot path (run: build/tests/gradlab_bench
// --benchmark_filter=Rnn). The argument is the OpenMP thread count (a run's `threads`): each
// thread runs its share of the batch's sequences through all T steps.
//   probe: forward + loss + BPTT + every per-step statistic (timesteps.csv rows)
//   step:  forward + loss + BPTT only (a training step without the update)
// T = 1000, hidden 256, input 32 at every step, batch 32, tanh, loss at the last step (mse): the
// shapes of docs/performance.md's W3. float32 flushes subnormals (FTZ/DAZ), as a float32 run does
// by default; the long backward chain underflows and would otherwise run on microcode assists.
#include <benchmark/benchmark.h>
#include <omp.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "harness/core/config.h"
#include "harness/nn/loss.h"
#include "harness/nn/rnn.h"

using namespace gl;

namespace {

template <class T>
struct RnnFixture {
  static constexpr Index steps = 1000, H = 256, inputs = 32, B = 32, outputs = 10;
  Rnn<T> net;
  Mat<T> x, dy;
  RnnRowScratch<T> scratch;
  Targets<T> y;
  RnnCache<T> cache;
  RnnGrads<T> grads;
  Eigen::VectorXd loss;
  std::vector<TimestepRow> rows;
  RnnFixture() {
#if defined(__x86_64__)
    if (sizeof(T) == 4)
      _mm_setcsr(_mm_getcsr() | 0x8040u);  // FTZ | DAZ
    else
      _mm_setcsr(_mm_getcsr() & ~0x8040u);
#endif
    ModelConfig m;
    m.type = ModelType::rnn;
    m.activation.kind = Activation::tanh;
    m.recurrent_init.kind = Init::orthogonal;
    m.input_init.kind = Init::glorot_uniform;
    m.output_init.kind = Init::glorot_uniform;
    Rng r = rng_make(1);
    net = rnn_init<T>({inputs, H, outputs}, m, r);
    x.resize(inputs, steps * B);
    for (Index i = 0; i < x.size(); ++i) x(i) = static_cast<T>(rng_normal(r));
    y.y = Mat<T>::Zero(outputs, B);
    rows.reserve(steps);
  }
  void fwd_bwd() {
    rnn_forward(net, x, steps, B, cache);
    loss_forward(Loss::mse, cache.yhat, y, loss);
    loss_backward(Loss::mse, cache.yhat, y, dy);
    rnn_backward(net, x, cache, dy, grads);
  }
};

template <class T>
void BM_RnnProbeT1000H256(benchmark::State& st) {
  omp_set_num_threads(static_cast<int>(st.range(0)));
  RnnFixture<T> f;
  for (auto _ : st) {
    f.fwd_bwd();
    f.rows.clear();
    rnn_timestep_rows(f.net, f.cache, f.grads, static_cast<const RnnGrads<T>*>(nullptr), 0.05, 0,
                      f.rows, f.scratch);
    benchmark::DoNotOptimize(f.rows.data());
  }
}

template <class T>
void BM_RnnFwdBwdT1000H256(benchmark::State& st) {
  omp_set_num_threads(static_cast<int>(st.range(0)));
  RnnFixture<T> f;
  for (auto _ : st) {
    f.fwd_bwd();
    benchmark::DoNotOptimize(f.grads.dW.data());
  }
}

}  // namespace

BENCHMARK(BM_RnnProbeT1000H256<float>)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RnnProbeT1000H256<double>)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RnnFwdBwdT1000H256<float>)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RnnFwdBwdT1000H256<double>)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);
