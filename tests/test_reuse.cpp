// Memory reused across runs (issue 17): a probe's cache, gradients and scratch that held another
// net's tensors — larger, smaller, or of the same shapes with other values — give the bits of
// freshly allocated ones; and a run gives the same rows after other runs in the same process
// (the sweep keeps freed pages in the process: experiments/sweep.cpp, allocator_keep_pages).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstring>
#include <filesystem>

#include "experiments/tables.h"
#include "harness/measure/metrics.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "tests/test_util.h"

using namespace gl;

namespace {

struct Probe {
  MlpCache<double> cache;
  MlpGrads<double> grads;
  ProbeScratch<double> scratch = ProbeScratch<double>(1);
  Mat<double> dy;
  Eigen::VectorXd lossv;
};

Mlp<double> net_of(Activation a, Index width, int depth, uint64_t seed) {
  Rng rng = rng_make(seed);
  ActivationSpec f;
  f.kind = a;
  InitSpec init;
  init.kind = Init::he_normal;
  BiasSpec bias;
  bias.kind = BiasKind::gaussian;  // non-zero biases: db and the rows' grad_b_norm matter
  bias.sigma_b2 = 0.1;
  const MlpShape shape{width, std::vector<int>(static_cast<size_t>(depth), static_cast<int>(width)),
                       3};
  return mlp_init<double>(shape, f, init, init, bias, rng);
}

// One probe as run_mlp takes it (store_dw: the histograms' ∂L/∂W), into p; its layers.csv text.
std::string probe_csv(const Mlp<double>& net, Index B, uint64_t seed, bool store_dw, Probe& p) {
  Rng rng = rng_make(seed);
  Mat<double> x(net.layers[0].W.cols(), B);
  rng_normal_fill(rng, x.data(), x.size());
  Targets<double> t;
  t.y.resize(3, B);
  rng_normal_fill(rng, t.y.data(), t.y.size());
  mlp_forward(net, x, p.cache);
  loss_forward(Loss::mse, p.cache.a.back(), t, p.lossv);
  loss_backward(Loss::mse, p.cache.a.back(), t, p.dy);
  mlp_backward(net, p.cache, p.dy, p.grads, store_dw);
  std::vector<LayerRow> rows;
  ProbeConfig probe;
  mlp_layer_rows(net, p.cache, p.grads, probe, 0, rows, p.scratch);
  return rows_csv({"run"}, {"r"}, rows, Precision::float64);
}

bool same_bits(const std::vector<Mat<double>>& a, const std::vector<Mat<double>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].rows() != b[i].rows() || a[i].cols() != b[i].cols() ||
        std::memcmp(a[i].data(), b[i].data(), sizeof(double) * static_cast<size_t>(a[i].size())))
      return false;
  return true;
}

}  // namespace

// The second probe reuses the first one's buffers: the same shapes with other values (tanh then
// relu: a stale φ' or ∂L/∂b would show), larger ones, smaller ones; each against fresh buffers.
TEST(MemoryReuse, AProbeOnReusedBuffersGivesTheBitsOfFreshOnes) {
  struct Case {
    Activation a;
    Index width;
    int depth;
    Index B;
  };
  const Case before[] = {
      {Activation::tanh, 16, 4, 12}, {Activation::tanh, 40, 7, 30}, {Activation::relu, 8, 2, 5}};
  const Case after = {Activation::relu, 16, 4, 12};
  const Mlp<double> net = net_of(after.a, after.width, after.depth, 7);
  for (bool store_dw : {false, true}) {
    Probe fresh;
    const std::string want = probe_csv(net, after.B, 11, store_dw, fresh);
    for (const Case& c : before) {
      Probe reused;
      probe_csv(net_of(c.a, c.width, c.depth, 3), c.B, 5, store_dw, reused);
      EXPECT_EQ(probe_csv(net, after.B, 11, store_dw, reused), want)
          << "after width " << c.width << " depth " << c.depth;
      EXPECT_TRUE(same_bits(reused.cache.a, fresh.cache.a));
      EXPECT_TRUE(same_bits(reused.cache.z, fresh.cache.z));
      EXPECT_TRUE(same_bits(reused.cache.dphi, fresh.cache.dphi));
      EXPECT_TRUE(same_bits(reused.grads.delta, fresh.grads.delta));
      if (store_dw) {
        EXPECT_TRUE(same_bits(reused.grads.dW, fresh.grads.dW));
      }
      for (size_t l = 0; l < net.layers.size(); ++l)
        EXPECT_TRUE(reused.grads.db[l] == fresh.grads.db[l]) << l;
    }
  }
}

// A run after larger and smaller runs in the same process writes the rows it writes first.
TEST(MemoryReuse, ARunAfterOtherRunsGivesTheSameRows) {
  const auto rows_of = [](int depth, int width) {
    const RunSpec s =
        run_spec_of(fmt::format(R"({{"model": {{"depth": {}, "width": {}, "activation": "tanh"}},
            "data": {{"name": "gaussian", "dim": {}, "outputs": 3}}, "probe": {{"samples": 20}}}})",
                                depth, width, width),
                    4, 5);
    const std::string dir = testing::TempDir() + "gradlab_reuse";
    std::filesystem::create_directories(dir);
    RunResult res = run_execute(s, dir);
    std::filesystem::remove_all(dir);
    EXPECT_EQ(res.status, "ok") << res.reason;
    return rows_csv({"run"}, {"r"}, res.layers, Precision::float64);
  };
  const std::string first = rows_of(6, 24);
  rows_of(12, 64);
  EXPECT_EQ(rows_of(6, 24), first);
  rows_of(3, 8);
  EXPECT_EQ(rows_of(6, 24), first);
}
