// Chains on threads: 1 and 2 threads give the same bits (forward, backward, probe rows, predict),
// and every thread of a team keeps the caller's subnormal flush.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <omp.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif
#include <cmath>
#include <cstring>

#include "experiments/run.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/rnn.h"
#include "tests/rnn_test_util.h"
#include "tests/test_util.h"

using namespace gl;

namespace {

// Everything one forward, backward, probe-rows and predict pass of a chain produces.
template <class T>
struct ChainPass {
  RnnCache<T> c;
  RnnGrads<T> g;
  std::vector<TimestepRow> rows;
  Mat<T> pred;
};

template <class T>
ChainPass<T> chain_pass(const Rnn<T>& net, const Mat<T>& x, const Targets<T>& y, Index steps,
                        Index B, int threads) {
  const int was = omp_get_max_threads();
  omp_set_num_threads(threads);
  ChainPass<T> p;
  Rng r = rng_make(5);  // rrelu's training-time slopes
  rnn_forward(net, x, steps, B, p.c, &r);
  Eigen::VectorXd lv;
  Mat<T> dy;
  loss_forward(Loss::mse, p.c.yhat, y, lv);
  loss_backward(Loss::mse, p.c.yhat, y, dy);
  rnn_backward(net, x, p.c, dy, p.g);
  RnnRowScratch<T> scratch;
  rnn_timestep_rows(net, p.c, p.g, &p.g, 0.05, 0, p.rows, scratch);
  Mat<T> h, hn;
  rnn_predict(net, x, steps, B, p.pred, h, hn);
  omp_set_num_threads(was);
  return p;
}

template <class M>
bool same_bits(const M& a, const M& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() &&
         std::memcmp(a.data(), b.data(), sizeof(a(0)) * static_cast<size_t>(a.size())) == 0;
}

template <class T>
void expect_threads_agree(Activation a, RnnInputs in, LossAt at, Index H, Index steps, Index B,
                          Index O) {
  const std::string what = fmt::format(
      "{} {} H={} T={} B={} O={} inputs={} loss_at={}", sizeof(T) == 4 ? "float32" : "float64",
      activation_name(a), H, steps, B, O, in == RnnInputs::every_step ? "every" : "first",
      at == LossAt::last ? "last" : "every");
  InitSpec w;
  w.kind = Init::glorot_normal;
  w.gain = 1.2;
  const Chain ch = make_chain(model_of(a, in, at, w), 5, H, O, steps, B, Loss::mse, 11);
  Rnn<T> net;
  net.W = ch.net.W.cast<T>();
  net.U = ch.net.U.cast<T>();
  net.b = ch.net.b.cast<T>();
  net.V = ch.net.V.cast<T>();
  net.c = ch.net.c.cast<T>();
  net.act = ch.net.act;
  net.slope = 0.2;
  net.inputs = in;
  net.loss_at = at;
  const Mat<T> x = ch.x.cast<T>();
  Targets<T> y;
  y.y = ch.y.y.cast<T>();
  const ChainPass<T> p1 = chain_pass(net, x, y, steps, B, 1);
  const ChainPass<T> p2 = chain_pass(net, x, y, steps, B, 2);
  const Index n = steps * B;
  if (in == RnnInputs::every_step && a != Activation::rrelu) {
    // one thread: the bits of the plain Eigen products (W packed once changes no bit)
    Mat<T> z = net.U * x.leftCols(n), h = Mat<T>::Zero(H, n + B), d(H, n);
    z.colwise() += net.b;
    ActivationSpec f = net.act;
    f.slope = net.slope;
    for (Index t = 1; t <= steps; ++t) {
      if (t > 1) z.middleCols((t - 1) * B, B).noalias() += net.W * h.middleCols((t - 1) * B, B);
      activation_apply<T>(f, z.middleCols((t - 1) * B, B), h.middleCols(t * B, B),
                          d.middleCols((t - 1) * B, B));
    }
    EXPECT_TRUE(same_bits<Mat<T>>(p1.c.h.leftCols(n + B), h)) << what << ": h vs Eigen's product";
  }
  EXPECT_TRUE(same_bits<Mat<T>>(p1.c.h.leftCols(n + B), p2.c.h.leftCols(n + B))) << what << ": h";
  EXPECT_TRUE(same_bits<Mat<T>>(p1.c.z.leftCols(n), p2.c.z.leftCols(n))) << what << ": z";
  EXPECT_TRUE(same_bits<Mat<T>>(p1.c.dphi.leftCols(n), p2.c.dphi.leftCols(n))) << what << ": φ'";
  EXPECT_TRUE(same_bits(p1.c.yhat, p2.c.yhat)) << what << ": ŷ";
  EXPECT_TRUE(same_bits<Mat<T>>(p1.g.dh.leftCols(n), p2.g.dh.leftCols(n))) << what << ": dh";
  EXPECT_TRUE(same_bits<Mat<T>>(p1.g.dz.leftCols(n), p2.g.dz.leftCols(n))) << what << ": δ";
  EXPECT_TRUE(same_bits(p1.g.dW, p2.g.dW)) << what << ": dW";
  EXPECT_TRUE(same_bits(p1.g.dU, p2.g.dU)) << what << ": dU";
  EXPECT_TRUE(same_bits(p1.g.db, p2.g.db)) << what << ": db";
  EXPECT_TRUE(same_bits(p1.g.dV, p2.g.dV)) << what << ": dV";
  EXPECT_TRUE(same_bits(p1.g.dc, p2.g.dc)) << what << ": dc";
  EXPECT_EQ(p1.g.dslope, p2.g.dslope) << what << ": dslope";
  EXPECT_TRUE(same_bits(p1.pred, p2.pred)) << what << ": predict";
  ASSERT_EQ(p1.rows.size(), static_cast<size_t>(steps)) << what;
  ASSERT_EQ(p2.rows.size(), static_cast<size_t>(steps)) << what;
  for (size_t k = 0; k < p1.rows.size(); ++k) {
    const TimestepRow &r1 = p1.rows[k], &r2 = p2.rows[k];
    EXPECT_EQ(r1.t, static_cast<int>(k + 1)) << what;
    EXPECT_EQ(r2.t, r1.t) << what;
    EXPECT_EQ(r2.h_norm, r1.h_norm) << what << ": t=" << r1.t;
    EXPECT_EQ(r2.dh_norm, r1.dh_norm) << what << ": t=" << r1.t;
    EXPECT_EQ(r2.dz_norm, r1.dz_norm) << what << ": t=" << r1.t;
    EXPECT_EQ(r2.dh_last_norm, r1.dh_last_norm) << what << ": t=" << r1.t;
    EXPECT_EQ(r2.saturated_frac, r1.saturated_frac) << what << ": t=" << r1.t;
    EXPECT_EQ(r2.dead_frac, r1.dead_frac) << what << ": t=" << r1.t;
    EXPECT_EQ(r2.grad_w_contrib_norm, r1.grad_w_contrib_norm) << what << ": t=" << r1.t;
  }
}

// Two threads split each batch's sequences (and the products over all steps) between them: the
// same bits as one thread, for an odd batch, one step, sizes below and above Eigen's GEMM
// threshold (H = 6: coefficient-wise products; H = 40, 64: the packed-W kernel path), one output
// (matrix-vector products for ŷ), H = 136 (∂L/∂b's rows split, a partial packet at the end).
TEST(Rnn, TwoThreadsGiveTheBitsOfOne) {
  struct Case {
    Index H, steps, B, O;
  };
  for (const Case& k : {Case{6, 5, 7, 3}, Case{40, 6, 7, 3}, Case{40, 1, 7, 3}, Case{64, 7, 32, 3},
                        Case{64, 7, 32, 1}, Case{48, 5, 13, 1}, Case{64, 4, 1, 3},
                        Case{40, 3, 2, 3}, Case{9, 1, 3, 3}, Case{136, 3, 6, 2}})
    for (Activation a : {Activation::tanh, Activation::prelu, Activation::rrelu})
      for (RnnInputs in : {RnnInputs::every_step, RnnInputs::first_step})
        for (LossAt at : {LossAt::last, LossAt::every_step}) {
          expect_threads_agree<float>(a, in, at, k.H, k.steps, k.B, k.O);
          expect_threads_agree<double>(a, in, at, k.H, k.steps, k.B, k.O);
        }
}

#if defined(__x86_64__)
// A float32 run flushes subnormals on its own thread; the threads that share its chain must too.
// A contracting chain whose ∂ℓ/∂h_t sinks through the subnormal range: with FTZ/DAZ on the caller
// only, two threads give the bits of one (and flushed zeros, not subnormals).
TEST(Rnn, TwoThreadsKeepTheCallersSubnormalFlush) {
  InitSpec w;
  w.kind = Init::glorot_normal;
  w.gain = 0.1;
  const Index H = 40, steps = 60, B = 8;
  const Chain ch = make_chain(model_of(Activation::tanh, RnnInputs::first_step, LossAt::last, w), 5,
                              H, 3, steps, B, Loss::mse, 3);
  Rnn<float> net;
  net.W = ch.net.W.cast<float>();
  net.U = ch.net.U.cast<float>();
  net.b = Vec<float>::Zero(H);
  net.V = ch.net.V.cast<float>();
  net.c = ch.net.c.cast<float>();
  net.act = ch.net.act;
  net.inputs = RnnInputs::first_step;
  const Mat<float> x = ch.x.cast<float>();
  Targets<float> y;
  y.y = ch.y.y.cast<float>();
  const unsigned saved = _mm_getcsr();
  _mm_setcsr(saved | 0x8040u);  // FTZ | DAZ on this thread only
  const ChainPass<float> p1 = chain_pass(net, x, y, steps, B, 1);
  const ChainPass<float> p2 = chain_pass(net, x, y, steps, B, 2);
  _mm_setcsr(saved);
  const Index n = steps * B;
  EXPECT_TRUE(same_bits<Mat<float>>(p1.c.h.leftCols(n + B), p2.c.h.leftCols(n + B)));
  EXPECT_TRUE(same_bits<Mat<float>>(p1.g.dh.leftCols(n), p2.g.dh.leftCols(n)));
  EXPECT_TRUE(same_bits<Mat<float>>(p1.g.dz.leftCols(n), p2.g.dz.leftCols(n)));
  EXPECT_TRUE(same_bits(p1.g.dW, p2.g.dW));
  int64_t subnormal = 0, zero = 0;
  for (Index k = 0; k < H * n; ++k) {
    const float v = p2.g.dh(k);
    subnormal += v != 0.0f && std::abs(v) < std::numeric_limits<float>::min();
    zero += v == 0.0f;
  }
  EXPECT_EQ(subnormal, 0);
  EXPECT_GT(zero, 0);  // the chain did sink below float32's normal range
}
#endif

}  // namespace
