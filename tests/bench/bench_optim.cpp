// Google Benchmark cases for the optimizer update (run: build/tests/gradlab_bench
// --benchmark_filter=Optim), each reporting the bytes it must move per iteration as bytes/second:
//   triad:        a ← b + s·c over 6M floats (W1's parameter count): the machine's bandwidth,
//                 3 passes of 24 MB (STREAM's triad; 4 with the write-allocate read of a)
//   adam step:    optimizer_step on one tensor of 6M floats: reads g, m, v, θ and writes m, v, θ,
//                 7 passes of 24 MB; also sgd (2 passes + g: 3) and rmsprop (5)
//   adam update:  params_update on W1's list (1024 → 5×1000 → 10: 6.0M values in 12 tensors) on
//                 a team of 1 or 2 threads (the tensors shared out whole)
//   median rate:  effective_lr_median of one 1000×1000 Adam state (what a probe takes per layer)
#include <benchmark/benchmark.h>
#include <omp.h>

#include <vector>

#include "harness/core/rng.h"
#include "harness/nn/optim.h"
#include "harness/nn/optim_rules.h"

using namespace gl;

namespace {

constexpr Index w1_values = 6'035'010;  // 1024·1000 + 4·1000·1000 + 1000·10 + 5·1000 + 10

Vec<float> random_floats(Index n, Rng& r, double scale) {
  Vec<float> v(n);
  for (Index k = 0; k < n; ++k) v[k] = static_cast<float>(scale * rng_normal(r));
  return v;
}

void BM_OptimTriad(benchmark::State& state) {
  const Index n = w1_values;
  Vec<float> a = Vec<float>::Zero(n), b = Vec<float>::Ones(n), c = Vec<float>::Ones(n);
  for (auto _ : state) {
    a = b + 0.5f * c;
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 3 * n * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_OptimTriad)->Unit(benchmark::kMillisecond);

// One tensor of W1's size through kind's rule; passes = the arrays read plus those written.
void optim_step_bench(benchmark::State& state, OptimizerKind kind, int passes) {
  const Index n = w1_values;
  Rng r = rng_make(1);
  Vec<float> p = random_floats(n, r, 0.03), g = random_floats(n, r, 1e-3);
  OptimizerSpec spec = optimizer_spec_default(kind);
  spec.lr = 1e-9;  // θ barely moves over the benchmark's steps
  OptimizerState<float> st = optimizer_state_make<float>(spec, n);
  double norm = 0;
  for (auto _ : state) benchmark::DoNotOptimize(optimizer_step(spec, p, g, st, &norm));
  state.SetBytesProcessed(state.iterations() * passes * n * static_cast<int64_t>(sizeof(float)));
}
void BM_OptimStepAdam(benchmark::State& s) { optim_step_bench(s, OptimizerKind::adam, 7); }
void BM_OptimStepRmsprop(benchmark::State& s) { optim_step_bench(s, OptimizerKind::rmsprop, 5); }
void BM_OptimStepSgd(benchmark::State& s) { optim_step_bench(s, OptimizerKind::sgd, 3); }
BENCHMARK(BM_OptimStepAdam)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OptimStepRmsprop)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_OptimStepSgd)->Unit(benchmark::kMillisecond);

// W1's parameter list through params_update with Adam on a team of state.range(0) threads.
void BM_OptimUpdateAdamW1(benchmark::State& state) {
  const std::vector<std::pair<Index, Index>> shapes = {
      {1000, 1024}, {1000, 1}, {1000, 1000}, {1000, 1}, {1000, 1000}, {1000, 1},
      {1000, 1000}, {1000, 1}, {1000, 1000}, {1000, 1}, {10, 1000},   {10, 1}};
  Rng r = rng_make(2);
  std::vector<Vec<float>> p, g;
  Optim<float> o;
  for (const auto& [rows, cols] : shapes)
    p.push_back(random_floats(rows * cols, r, 0.03)),
        g.push_back(random_floats(rows * cols, r, 1e-3));
  for (size_t j = 0; j < shapes.size(); ++j)
    o.tensors.push_back({p[j].data(), g[j].data(), shapes[j].first, shapes[j].second,
                         static_cast<int>(j / 2), j % 2 == 0});
  TrainConfig tc;
  tc.steps = 1'000'000;
  tc.opt = optimizer_spec_default(OptimizerKind::adam);
  tc.opt.lr = 1e-9;
  optim_make(tc, o, 1);
  const int before = omp_get_max_threads();
  omp_set_num_threads(static_cast<int>(state.range(0)));
  int64_t step = 0;
  for (auto _ : state) benchmark::DoNotOptimize(params_update(tc, o, ++step, 1.0));
  omp_set_num_threads(before);
  state.SetBytesProcessed(state.iterations() * 7 * w1_values * static_cast<int64_t>(sizeof(float)));
}
BENCHMARK(BM_OptimUpdateAdamW1)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_OptimMedianRate(benchmark::State& state) {
  const Index n = 1000 * 1000;
  Rng r = rng_make(3);
  Vec<float> p = random_floats(n, r, 0.03);
  const Vec<float> g = random_floats(n, r, 1e-3);
  const OptimizerSpec spec = optimizer_spec_default(OptimizerKind::adam);
  OptimizerState<float> st = optimizer_state_make<float>(spec, n);
  for (int k = 0; k < 3; ++k) optimizer_step(spec, p, g, st);
  std::vector<double> scratch;
  for (auto _ : state) benchmark::DoNotOptimize(effective_lr_median(spec, st, scratch));
}
BENCHMARK(BM_OptimMedianRate)->Unit(benchmark::kMillisecond);

}  // namespace
