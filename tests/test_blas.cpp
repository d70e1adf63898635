// gemm (harness/nn/blas.h): the OpenBLAS path against Eigen's product computed in double, for every
// transpose, β ∈ {0, 1}, strided blocks and both precisions; the Eigen path bit for bit; that
// OpenBLAS is in use wherever Debian's libopenblas0-pthread is installed (scripts/setup.sh installs
// it), and NaN in and out.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "harness/core/rng.h"
#include "harness/nn/blas.h"

using namespace gl;

// Restores the default route when a test ends.
struct RouteGuard {
  BlasRoute saved = blas_route();
  ~RouteGuard() { blas_route_set(saved); }
};

template <class T>
static Mat<T> random_mat(Index r, Index c, Rng& g) {
  Mat<T> m(r, c);
  for (Index i = 0; i < m.size(); ++i) m(i) = static_cast<T>(rng_normal(g));
  return m;
}

TEST(Blas, OpenBlasIsUsedWhereInstalled) {
  if (std::getenv("GRADLAB_BLAS") || !std::filesystem::exists(blas_openblas_path()))
    GTEST_SKIP() << blas_name();
  EXPECT_TRUE(blas_openblas()) << blas_name();
  EXPECT_NE(blas_name().find("OpenBLAS"), std::string::npos) << blas_name();
}

// C = α op(A) op(B) + β C on blocks of larger matrices (outer stride ≠ rows), m·n·k above the
// route's threshold, against the product in double.
template <class T>
static void check_products(double tol) {
  Rng g = rng_make(3);
  const Index m = 70, n = 45, k = 90;  // 283,500 multiply-adds
  RouteGuard guard;
  blas_route_set({m * n * k - 1.0, 32});
  for (Op oa : {Op::none, Op::trans})
    for (Op ob : {Op::none, Op::trans})
      for (T beta : {T(0), T(1)}) {
        const T alpha = T(-0.375);
        const Index ar = oa == Op::none ? m : k, ac = oa == Op::none ? k : m;
        const Index br = ob == Op::none ? k : n, bc = ob == Op::none ? n : k;
        const Mat<T> Abig = random_mat<T>(ar + 5, ac, g), Bbig = random_mat<T>(br + 3, bc, g);
        Mat<T> Cbig = random_mat<T>(m + 7, n, g);
        const auto A = Abig.middleRows(2, ar);
        const auto B = Bbig.middleRows(1, br);
        const Mat<double> Ad = A.template cast<double>(), Bd = B.template cast<double>();
        const Mat<double> opA = oa == Op::none ? Ad : Mat<double>(Ad.transpose());
        const Mat<double> opB = ob == Op::none ? Bd : Mat<double>(Bd.transpose());
        const Mat<double> want = double(alpha) * opA * opB +
                                 double(beta) * Cbig.middleRows(4, m).template cast<double>();
        const Mat<T> before = Cbig;
        gemm<T>(alpha, A, oa, B, ob, beta, Cbig.middleRows(4, m));
        const Mat<double> got = Cbig.middleRows(4, m).template cast<double>();
        EXPECT_LE((got - want).norm() / want.norm(), tol)
            << "op(A) " << int(oa) << " op(B) " << int(ob) << " beta " << beta;
        // rows outside the block are untouched
        EXPECT_EQ(Cbig.topRows(4), before.topRows(4));
        EXPECT_EQ(Cbig.bottomRows(3), before.bottomRows(3));
      }
}

TEST(Blas, LargeProductsMatchEigenInDouble) {
  check_products<float>(2e-6);
  check_products<double>(1e-14);
}

// Below the threshold gemm is Eigen's own product: the same bits as the expression written out.
TEST(Blas, SmallProductsAreEigensBitForBit) {
  Rng g = rng_make(4);
  RouteGuard guard;
  blas_route_set({1e30, 32});
  const Mat<float> W = random_mat<float>(130, 120, g), a = random_mat<float>(120, 64, g),
                   d = random_mat<float>(130, 64, g);
  Mat<float> z(130, 64), back(120, 64), upd = W, want_upd = W;
  gemm<float>(1.0f, W, Op::none, a, Op::none, 0.0f, z);
  EXPECT_EQ(z, Mat<float>(W * a));
  gemm<float>(1.0f, W, Op::trans, d, Op::none, 0.0f, back);
  EXPECT_EQ(back, Mat<float>(W.transpose() * d));
  const float c = -0.01f / 64.0f;
  gemm<float>(c, d, Op::none, a, Op::trans, 1.0f, upd);
  want_upd.noalias() += (c * d) * a.transpose();
  EXPECT_EQ(upd, want_upd);
}

// NaN in A reaches C through either path; β = 0 ignores C's old NaN.
TEST(Blas, NonFiniteValues) {
  Rng g = rng_make(5);
  RouteGuard guard;
  for (double threshold : {0.0, 1e30}) {
    blas_route_set({threshold, 0});
    Mat<float> A = random_mat<float>(40, 40, g), B = random_mat<float>(40, 40, g), C(40, 40);
    C.setConstant(NAN);
    gemm<float>(1.0f, A, Op::none, B, Op::none, 0.0f, C);
    EXPECT_TRUE(C.allFinite()) << "threshold " << threshold;
    A(3, 7) = NAN;  // row 3 of C
    gemm<float>(1.0f, A, Op::none, B, Op::none, 0.0f, C);
    EXPECT_TRUE(C.row(3).array().isNaN().all()) << "threshold " << threshold;
    EXPECT_TRUE(C.topRows(3).allFinite()) << "threshold " << threshold;
  }
}

// One packed left operand, many products (the RNN's steps): C += op(W)·B through the packed W is
// Eigen's product bit for bit, over the whole block and over panels of gemm_panel columns (as the
// RNN's threads split it), for W and Wᵀ and both precisions.
template <class T>
static void check_packed(Index m, Index k, Index n) {
  ASSERT_EQ(m, k);  // gemm_packed_add's B and C share one column stride (the RNN's H)
  Rng g = rng_make(6);
  const Mat<T> W = random_mat<T>(m, k, g), Wt = W.transpose();
  for (Op op : {Op::none, Op::trans}) {
    const Mat<T> Bm = random_mat<T>(op == Op::none ? k : m, n, g);
    const Mat<T> C0 = random_mat<T>(op == Op::none ? m : k, n, g);
    Mat<T> want = C0;
    want.noalias() += (op == Op::none ? W : Wt) * Bm;
    PackedGemm<T> p;
    ASSERT_TRUE(gemm_pack<T>(W, op, n, 2, p)) << m << " " << k << " " << n;
    Mat<T> whole = C0;
    gemm_packed_add<T>(p, Bm.data(), whole.data(), Bm.rows(), n, 0);
    EXPECT_EQ(whole, want) << "op " << int(op);
    // two threads' panels, each through its own room
    Mat<T> split = C0;
    const Index c1 = gemm_panel * ((n / gemm_panel + 1) / 2);
    gemm_packed_add<T>(p, Bm.data(), split.data(), Bm.rows(), c1, 0);
    gemm_packed_add<T>(p, Bm.data() + c1 * Bm.rows(), split.data() + c1 * split.rows(), Bm.rows(),
                       n - c1, 1);
    EXPECT_EQ(split, want) << "op " << int(op);
  }
}

TEST(BlasPacked, EigensProductBitForBit) {
  check_packed<float>(64, 64, 32);
  check_packed<float>(256, 256, 50);  // a short last panel
  check_packed<double>(200, 200, 24);
  check_packed<float>(37, 37, 16);  // uneven blocks (B and C share a column stride: square W)
}

// Where Eigen would not use its GEMM kernel (tiny sizes, one column), nothing is packed.
TEST(BlasPacked, TinyProductsAreNotPacked) {
  Rng g = rng_make(7);
  const Mat<float> W = random_mat<float>(5, 5, g);
  PackedGemm<float> p;
  EXPECT_FALSE(gemm_pack<float>(W, Op::none, 4, 1, p));  // 5 + 5 + 4 < 20: coefficient-wise
  EXPECT_EQ(p.blocking.kc, 0);
  const Mat<float> V = random_mat<float>(64, 64, g);
  EXPECT_FALSE(gemm_pack<float>(V, Op::none, 1, 1, p));  // matrix-vector
  EXPECT_TRUE(gemm_pack<float>(V, Op::none, 8, 1, p));
  EXPECT_GT(p.blocking.kc, 0);
}
