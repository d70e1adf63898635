// Google Benchmark cases for the batch-10 training step of Glorot's Table 1 nets (run:
// build/tests/gradlab_bench --benchmark_filter=Skinny): the five 1000×1000-ish layers of the
// 1024-5×1000 net (20 MB in float32, more than this machine's share of L3), B = 10, each pass
// through all five in turn so that every W comes from memory, as in training.
//   Forward:      z_l = W_l x (skinny_product)            against Eigen's product (gemm)
//   BackwardSgd:  W_lᵀ δ, then W_l += α δ aᵀ, fused      against Eigen's column dots + gemm
//   Step:         forward + loss + fused SGD backward of the whole net (mlp_backward_sgd)
//   Stream:       the memory floor: reading the five W (Read), and reading and writing them (Rw)
// Bytes per iteration are W's bytes moved at the least (Forward, Read: one read; BackwardSgd, Rw:
// a read and a write; Step: two reads and a write), so the "bytes_per_second" column is W's
// traffic against the Stream cases' rate.
#include <benchmark/benchmark.h>
#include <omp.h>

#include "harness/core/rng.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/skinny.h"

using namespace gl;

namespace {

constexpr Index batch = 10;

template <class T>
struct Layers {
  std::vector<Mat<T>> W;
  std::vector<Mat<T>> a;  // each layer's input (fan_in, B)
  Mat<T> d, z, back;      // (1000, B)
  Layers() {
    Rng r = rng_make(7);
    for (Index fan_in : {1024, 1000, 1000, 1000, 1000}) {
      W.push_back(Mat<T>(1000, fan_in));
      for (Index i = 0; i < W.back().size(); ++i)
        W.back()(i) = static_cast<T>(rng_uniform(r, -0.05, 0.05));
      a.push_back(Mat<T>(fan_in, batch));
      for (Index i = 0; i < a.back().size(); ++i)
        a.back()(i) = static_cast<T>(rng_uniform(r, -1.0, 1.0));
    }
    d = Mat<T>::Constant(1000, batch, T(1e-3));
    z.resize(1000, batch);
    back.resize(1024, batch);
  }
  int64_t bytes() const {
    int64_t n = 0;
    for (const Mat<T>& w : W) n += static_cast<int64_t>(w.size() * sizeof(T));
    return n;
  }
};

template <class T>
void BM_SkinnyForward(benchmark::State& st) {
  omp_set_num_threads(1);  // one thread, as each run of Table 1 side by side
  Layers<T> s;
  for (auto _ : st)
    for (size_t l = 0; l < s.W.size(); ++l) {
      if (st.range(0))
        skinny_product<T>(s.W[l], s.a[l], s.z);
      else
        s.z.noalias() = s.W[l] * s.a[l];
      benchmark::DoNotOptimize(s.z.data());
    }
  st.SetBytesProcessed(st.iterations() * s.bytes());
  st.SetLabel(st.range(0) ? "skinny" : "eigen");
}
BENCHMARK(BM_SkinnyForward<float>)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SkinnyForward<double>)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

template <class T>
void BM_SkinnyBackwardSgd(benchmark::State& st) {
  omp_set_num_threads(1);
  Layers<T> s;
  const T alpha = T(-1e-7);  // keeps W near its start over many iterations
  for (auto _ : st)
    for (size_t l = 0; l < s.W.size(); ++l) {
      Mat<T>& W = s.W[l];
      auto y = s.back.topRows(W.cols());
      if (st.range(0)) {
        skinny_backward_sgd<T>(W, s.d, s.a[l], alpha, y);
      } else {
        for (Index j = 0; j < W.cols(); ++j) y.row(j).noalias() = W.col(j).transpose() * s.d;
        W.noalias() += (alpha * s.d) * s.a[l].transpose();
      }
      benchmark::DoNotOptimize(y.data());
    }
  st.SetBytesProcessed(st.iterations() * 2 * s.bytes());
  st.SetLabel(st.range(0) ? "skinny" : "eigen");
}
BENCHMARK(BM_SkinnyBackwardSgd<float>)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SkinnyBackwardSgd<double>)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

template <class T>
void BM_SkinnyStep(benchmark::State& st) {
  omp_set_num_threads(1);
  ActivationSpec act;
  act.kind = Activation::tanh;
  InitSpec init;
  init.kind = Init::glorot_uniform;
  Rng r = rng_make(2010);
  Mlp<T> net = mlp_init<T>({1024, std::vector<int>(5, 1000), 9}, act, init, init, BiasSpec{}, r);
  Mat<T> x(1024, batch), dy;
  for (Index i = 0; i < x.size(); ++i) x(i) = static_cast<T>(rng_uniform(r, -1.0, 1.0));
  Targets<T> t;
  for (Index i = 0; i < batch; ++i) t.labels.push_back(static_cast<int32_t>(i % 9));
  MlpCache<T> c;
  MlpGrads<T> g;
  Eigen::VectorXd loss;
  int64_t bytes = 0;
  for (const Layer<T>& layer : net.layers)
    bytes += static_cast<int64_t>(layer.W.size() * sizeof(T));
  for (auto _ : st) {
    mlp_forward(net, x, c);
    loss_forward(Loss::cross_entropy, c.a.back(), t, loss);
    loss_backward(Loss::cross_entropy, c.a.back(), t, dy);
    mlp_backward_sgd(net, c, dy, g, 1e-6);
    benchmark::DoNotOptimize(net.layers[0].W.data());
  }
  st.SetBytesProcessed(st.iterations() * 3 * bytes);
}
BENCHMARK(BM_SkinnyStep<float>)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SkinnyStep<double>)->Unit(benchmark::kMillisecond);

template <class T>
void BM_SkinnyStream(benchmark::State& st) {
  Layers<T> s;
  for (auto _ : st)
    for (Mat<T>& W : s.W) {
      if (st.range(0)) {
        W.array() += T(1e-30);
        benchmark::DoNotOptimize(W.data());
      } else {
        benchmark::DoNotOptimize(W.sum());
      }
    }
  st.SetBytesProcessed(st.iterations() * (st.range(0) ? 2 : 1) * s.bytes());
  st.SetLabel(st.range(0) ? "read+write" : "read");
}
BENCHMARK(BM_SkinnyStream<float>)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
