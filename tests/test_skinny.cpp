// The thin-batch kernels (harness/nn/skinny.h) bit for bit against their defined order of
// operations, written out element by element: z = W x as fused multiply-adds in the order of j;
// Wᵀ d as one sum per SIMD lane over the rows of that lane (the last packet zero-padded), then
// Eigen's predux; the fused SGD step as Wᵀ d from the old W, then W + α·Σ_b d a. On blocks of
// larger matrices (strides ≠ rows), every batch 1–16, sizes below, at and across a packet; a
// thread's share of rows or columns gives the same bits as the whole; NaN stays in its column;
// a net on two threads gives the one-thread bits at a batch of 10.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>

#include "harness/core/rng.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"
#include "harness/nn/skinny.h"

using namespace gl;
namespace ei = Eigen::internal;

template <class T>
static Mat<T> random_mat(Index r, Index c, Rng& g) {
  Mat<T> m(r, c);
  for (Index i = 0; i < m.size(); ++i) m(i) = static_cast<T>(rng_normal(g));
  return m;
}

// z(i, b) = Σ_j W(i, j) x(j, b) by fused multiply-adds in the order of j, from 0.
template <class T>
static Mat<T> product_ref(const Mat<T>& W, const Mat<T>& x) {
  Mat<T> z(W.rows(), x.cols());
  for (Index b = 0; b < x.cols(); ++b)
    for (Index i = 0; i < W.rows(); ++i) {
      T s = 0;
      for (Index j = 0; j < W.cols(); ++j) s = std::fma(W(i, j), x(j, b), s);
      z(i, b) = s;
    }
  return z;
}

// y(j, b): lane r sums the rows i ≡ r (mod lanes) in order (zero-padded to whole packets), then
// Eigen's predux adds the lanes.
template <class T>
static Mat<T> product_tn_ref(const Mat<T>& W, const Mat<T>& d) {
  using P = typename ei::packet_traits<T>::type;
  const Index L = skinny_lanes<T>(), m = W.rows(), padded = (m + L - 1) / L * L;
  Mat<T> y(W.cols(), d.cols());
  std::vector<T> lane(static_cast<size_t>(L));
  for (Index b = 0; b < d.cols(); ++b)
    for (Index j = 0; j < W.cols(); ++j) {
      std::fill(lane.begin(), lane.end(), T(0));
      for (Index i = 0; i < padded; ++i) {
        T& s = lane[static_cast<size_t>(i % L)];
        s = i < m ? std::fma(W(i, j), d(i, b), s) : std::fma(T(0), T(0), s);
      }
      y(j, b) = ei::predux(ei::ploadu<P>(lane.data()));
    }
  return y;
}

// W(i, j) + α·u, u = Σ_b d(i, b) a(j, b) by fused multiply-adds in the order of b, from 0.
template <class T>
static Mat<T> step_ref(const Mat<T>& W, const Mat<T>& d, const Mat<T>& a, T alpha) {
  Mat<T> out = W;
  for (Index j = 0; j < W.cols(); ++j)
    for (Index i = 0; i < W.rows(); ++i) {
      T u = 0;
      for (Index b = 0; b < d.cols(); ++b) u = std::fma(d(i, b), a(j, b), u);
      out(i, j) = std::fma(alpha, u, W(i, j));
    }
  return out;
}

// Bit-for-bit equality, NaN equal to NaN.
template <class T>
static bool same_bits(const Mat<T>& a, const Mat<T>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  for (Index i = 0; i < a.size(); ++i)
    if (!(a(i) == b(i) || (std::isnan(a(i)) && std::isnan(b(i))))) return false;
  return true;
}

template <class T>
static void check_kernels() {
  if (!skinny_enabled()) GTEST_SKIP() << "no vector FMA in this build";
  Rng g = rng_make(17);
  for (Index m : {1, 5, 16, 17, 40, 100})
    for (Index k : {1, 3, 33})
      for (Index B = 1; B <= skinny_batch; ++B) {
        SCOPED_TRACE(testing::Message() << "m " << m << " k " << k << " B " << B);
        // blocks of larger matrices: outer strides m + 3, k + 2
        Mat<T> Wbig = random_mat<T>(m + 3, k + 1, g), xbig = random_mat<T>(k + 2, B, g),
               zbig = Mat<T>::Constant(m + 3, B, T(7));
        const Mat<T> W = Wbig.topLeftCorner(m, k), x = xbig.topRows(k);
        skinny_product<T>(Wbig.topLeftCorner(m, k), xbig.topRows(k), zbig.topRows(m));
        EXPECT_TRUE(same_bits<T>(zbig.topRows(m), product_ref(W, x)));
        EXPECT_TRUE((zbig.bottomRows(3).array() == T(7)).all());  // nothing outside the block
        // y = Wᵀ d: W (m, k), d (m, B)
        Mat<T> dbig = random_mat<T>(m + 1, B, g), ybig = Mat<T>::Constant(k + 2, B, T(7));
        const Mat<T> d = dbig.topRows(m);
        skinny_product_tn<T>(Wbig.topLeftCorner(m, k), dbig.topRows(m), ybig.topRows(k));
        EXPECT_TRUE(same_bits<T>(ybig.topRows(k), product_tn_ref(W, d)));
        // the fused step, on W's columns (a: (k, B))
        const Mat<T> a = random_mat<T>(k, B, g);
        const T alpha = T(-0.01);
        Mat<T> stepped = Wbig, y(k, B);
        skinny_backward_sgd<T>(stepped.topLeftCorner(m, k), d, a, alpha, y);
        EXPECT_TRUE(same_bits<T>(y, product_tn_ref(W, d)));  // from the old W
        EXPECT_TRUE(same_bits<T>(stepped.topLeftCorner(m, k), step_ref(W, d, a, alpha)));
        EXPECT_TRUE(same_bits<T>(stepped.bottomRows(3), Wbig.bottomRows(3)));
        // no Wᵀ d (layer 1): the same step
        Mat<T> only = Wbig, none(0, B);
        skinny_backward_sgd<T>(only.topLeftCorner(m, k), d, a, alpha, none);
        EXPECT_TRUE(same_bits<T>(only, stepped));
      }
}

TEST(Skinny, KernelsFollowTheirDefinedOrderFloat) { check_kernels<float>(); }
TEST(Skinny, KernelsFollowTheirDefinedOrderDouble) { check_kernels<double>(); }

// A thread's share: rows of z, columns of y and of the step, split anywhere, give the whole's bits.
template <class T>
static void check_shares() {
  if (!skinny_enabled()) GTEST_SKIP() << "no vector FMA in this build";
  Rng g = rng_make(4);
  const Index m = 129, k = 70, B = 10;
  const Mat<T> W = random_mat<T>(m, k, g), x = random_mat<T>(k, B, g), d = random_mat<T>(m, B, g),
               a = random_mat<T>(k, B, g);
  Mat<T> z(m, B), y(k, B), stepped = W;
  skinny_product<T>(W, x, z);
  skinny_backward_sgd<T>(stepped, d, a, T(-0.1), y);
  for (Index s : {1, 13, 32, 35, 50, 76}) {
    Mat<T> zs(m, B);
    skinny_product<T>(W.topRows(s), x, zs.topRows(s));
    skinny_product<T>(W.bottomRows(m - s), x, zs.bottomRows(m - s));
    EXPECT_TRUE(same_bits<T>(zs, z)) << "rows split at " << s;
    if (s >= k) continue;
    Mat<T> ys(k, B), steps = W;
    skinny_backward_sgd<T>(steps.leftCols(s), d, a.topRows(s), T(-0.1), ys.topRows(s));
    skinny_backward_sgd<T>(steps.rightCols(k - s), d, a.bottomRows(k - s), T(-0.1),
                           ys.bottomRows(k - s));
    EXPECT_TRUE(same_bits<T>(ys, y)) << "columns split at " << s;
    EXPECT_TRUE(same_bits<T>(steps, stepped)) << "columns split at " << s;
  }
}

TEST(Skinny, SharesGiveTheWholeBits) {
  check_shares<float>();
  check_shares<double>();
}

// A NaN in example b's column stays in that column: z(·, b) and y(·, b) are NaN, the rest finite.
TEST(Skinny, NanStaysInItsExample) {
  if (!skinny_enabled()) GTEST_SKIP() << "no vector FMA in this build";
  Rng g = rng_make(9);
  const Index m = 40, k = 33, B = 10;
  Mat<float> W = random_mat<float>(m, k, g), x = random_mat<float>(k, B, g),
             d = random_mat<float>(m, B, g), z(m, B), y(k, B);
  x(5, 3) = std::nanf("");
  d(38, 7) = std::nanf("");  // in the zero-padded last packet
  skinny_product<float>(W, x, z);
  skinny_product_tn<float>(W, d, y);
  for (Index b = 0; b < B; ++b) {
    EXPECT_EQ(z.col(b).array().isNaN().all(), b == 3) << b;
    EXPECT_EQ(z.col(b).array().isNaN().any(), b == 3) << b;
    EXPECT_EQ(y.col(b).array().isNaN().all(), b == 7) << b;
    EXPECT_EQ(y.col(b).array().isNaN().any(), b == 7) << b;
  }
}

// The Table 1 step's shape at small scale: the forward, backward and fused SGD step of a net at
// batch 10 on two threads give the one-thread bits (each element's sum is the same sequence). The
// widths split into whole packets: the element-wise activations vectorize a share's last partial
// packet otherwise, which is outside the kernels (φ' can then differ in its last bit).
template <class T>
static void check_net_threads() {
  ActivationSpec act;
  act.kind = Activation::tanh;
  InitSpec init;
  init.kind = Init::glorot_uniform;
  Rng r = rng_make(3);
  const Mlp<T> start = mlp_init<T>({70, {128, 96, 64}, 9}, act, init, init, BiasSpec{}, r);
  const Mat<T> x = random_mat<T>(70, 10, r), dy = random_mat<T>(9, 10, r);
  Mlp<T> nets[2] = {start, start};
  MlpCache<T> c[2];
  MlpGrads<T> g[2];
  for (int t = 0; t < 2; ++t) {
    omp_set_num_threads(t + 1);
    mlp_forward(nets[t], x, c[t]);
    mlp_backward_sgd(nets[t], c[t], dy, g[t], 0.05);
  }
  omp_set_num_threads(1);
  for (size_t l = 0; l < start.layers.size(); ++l) {
    EXPECT_TRUE(same_bits<T>(c[1].z[l], c[0].z[l])) << "layer " << l + 1;
    EXPECT_TRUE(same_bits<T>(g[1].delta[l], g[0].delta[l])) << "layer " << l + 1;
    EXPECT_TRUE(same_bits<T>(nets[1].layers[l].W, nets[0].layers[l].W)) << "layer " << l + 1;
    EXPECT_FALSE(same_bits<T>(nets[0].layers[l].W, start.layers[l].W)) << "layer " << l + 1;
  }
}

TEST(Skinny, NetOnTwoThreadsGivesTheOneThreadBits) {
  if (!skinny_enabled()) GTEST_SKIP() << "no vector FMA in this build";
  check_net_threads<float>();
  check_net_threads<double>();
}
