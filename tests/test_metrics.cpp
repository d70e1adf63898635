// Metrics on hand-built cases whose answers are known in closed form.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "experiments/run.h"
#include "harness/core/config.h"
#include "harness/core/io.h"
#include "harness/core/rng.h"
#include "harness/measure/metrics.h"
#include "harness/nn/init.h"
#include "harness/nn/loss.h"
#include "tests/test_util.h"

using namespace gl;

TEST(Metrics, StableNormNeitherOverflowsNorUnderflows) {
  const double big[] = {3e200, 4e200};
  EXPECT_DOUBLE_EQ(stable_norm(big, 2), 5e200);
  const double tiny[] = {3e-200, 4e-200};
  EXPECT_DOUBLE_EQ(stable_norm(tiny, 2), 5e-200);
  const float f[] = {3e-30f, 4e-30f};  // squares underflow float32, not double
  EXPECT_NEAR(stable_norm(f, 2) / 5e-30, 1.0, 1e-6);
  const double withnan[] = {1.0, NAN, INFINITY};
  EXPECT_TRUE(std::isnan(stable_norm(withnan, 3)));
  const double withinf[] = {1.0, -INFINITY};
  EXPECT_EQ(stable_norm(withinf, 2), INFINITY);
  EXPECT_EQ(count_nonfinite(withnan, 3), 2);
}

// float data takes a shorter scan (Σx, Σx² only; the full one when Σx² is not finite): the same
// norm, bit for bit, as the same values in double, and NaN, ±inf and their count as there.
TEST(Metrics, FloatScanIsTheDoubleScan) {
  Rng r = rng_make(8);
  for (Index n : {1, 15, 16, 1000, 8195}) {  // tails of every length mod 16
    std::vector<float> f(static_cast<size_t>(n));
    for (float& v : f) v = static_cast<float>(rng_normal(r) * 1e-3);
    const std::vector<double> d(f.begin(), f.end());
    EXPECT_EQ(stable_norm(f.data(), n), stable_norm(d.data(), n)) << "n " << n;
  }
  StatScratch<float> s;
  Mat<float> dl(30, 20), a(25, 20);  // the product's path (2B(m+n) ≥ mn), its scan
  for (Index i = 0; i < dl.size(); ++i) dl(i) = static_cast<float>(rng_normal(r));
  for (Index i = 0; i < a.size(); ++i) a(i) = static_cast<float>(rng_normal(r));
  const Mat<double> p = dl.cast<double>() * a.cast<double>().transpose() / 20.0;
  EXPECT_NEAR(outer_norm<float>(dl, a, s).norm / p.norm(), 1.0, 1e-6);
  dl(4, 3) = INFINITY;  // one row of the product is ±inf (a's column 3 has no zero)
  OuterNorm o = outer_norm<float>(dl, a, s);
  EXPECT_EQ(o.norm, INFINITY);
  EXPECT_EQ(o.nonfinite, 25);
  dl(6, 3) = NAN;  // and a second row NaN
  o = outer_norm<float>(dl, a, s);
  EXPECT_TRUE(std::isnan(o.norm));
  EXPECT_EQ(o.nonfinite, 50);
}

TEST(Metrics, PercentileInterpolatesLikeNumpy) {
  std::vector<double> s;
  const double x[] = {5, -1, 3, -4, 2};  // |x| sorted: 1 2 3 4 5
  // h = 4·0.98 = 3.92 → 4 + 0.92·(5 − 4)
  EXPECT_DOUBLE_EQ(abs_percentile(x, 5, 98.0, s), 4.92);
  EXPECT_DOUBLE_EQ(abs_percentile(x, 5, 50.0, s), 3.0);
  EXPECT_DOUBLE_EQ(abs_percentile(x, 5, 100.0, s), 5.0);
  EXPECT_DOUBLE_EQ(abs_percentile(x, 1, 98.0, s), 5.0);
  const double n[] = {1, NAN};
  EXPECT_TRUE(std::isnan(abs_percentile(n, 2, 98.0, s)));
}

TEST(Metrics, SaturatedDeadAndStuckFractions) {
  // 3 units × 4 examples of φ'; sup = 1, τ = 0.05.
  Mat<double> d(3, 4);
  d << 0, 0, 0, 0,           // dead (φ' exactly 0 everywhere): dead and stuck
      0.01, 0.02, 0.5, 1,    // saturated on 2 of 4
      0.04, 0.001, 0.03, 0;  // saturated on all 4 (stuck), not dead
  const SaturationCounts s = saturation_counts<double>(d, 0.05, 1.0);
  EXPECT_DOUBLE_EQ(s.saturated_frac, 10.0 / 12.0);
  EXPECT_DOUBLE_EQ(s.dead_frac, 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.stuck_frac, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(s.dphi_mean, (0.01 + 0.02 + 0.5 + 1 + 0.04 + 0.001 + 0.03) / 12.0);
  // φ' ≡ 0 (binary_step, sup = 0): everything saturated.
  EXPECT_DOUBLE_EQ(
      saturation_counts<double>(Mat<double>(Mat<double>::Constant(2, 2, 0.7)), 0.05, 0.0)
          .saturated_frac,
      1.0);
}

TEST(Metrics, ZeroGradientColumns) {
  Mat<float> m = Mat<float>::Zero(3, 4);
  m(1, 2) = 1e-30f;
  EXPECT_DOUBLE_EQ(zero_column_frac(m), 0.75);
}

TEST(Metrics, HistogramBinsEdgesAndOutliers) {
  const double x[] = {0.0, 0.1, 0.5, 0.99, 1.0, -0.5, 2.0, NAN, INFINITY};
  std::vector<HistRow> rows;
  hist_rows(x, 9, HistEdges{0.0, 1.0}, 4, HistScale::linear, 7, 2, HistQuantity::act, rows);
  ASSERT_EQ(rows.size(), 4u + 3u);
  EXPECT_EQ(rows[0].bin, -1);
  EXPECT_EQ(rows[0].count, 1);  // -0.5
  EXPECT_EQ(rows[1].count, 2);  // [0, .25): 0, 0.1
  EXPECT_EQ(rows[2].count, 0);
  EXPECT_EQ(rows[3].count, 1);  // [.5, .75): 0.5
  EXPECT_EQ(rows[4].count, 2);  // [.75, 1]: 0.99, 1.0 (the top edge is in the last bin)
  EXPECT_EQ(rows[5].bin, 4);
  EXPECT_EQ(rows[5].count, 1);  // 2.0
  EXPECT_TRUE(rows[6].nonfinite);
  EXPECT_EQ(rows[6].count, 2);
  EXPECT_DOUBLE_EQ(rows[2].lo, 0.25);
  EXPECT_DOUBLE_EQ(rows[2].hi, 0.5);
  // log10|x| binning of values spanning decades; 0 falls in the underflow bin.
  const double y[] = {1e-8, 1e-4, 1.0, 0.0};
  const HistEdges e = hist_edges_from(y, 4, HistScale::log10abs);
  EXPECT_DOUBLE_EQ(e.lo, -8.0);
  EXPECT_DOUBLE_EQ(e.hi, 0.0);
  rows.clear();
  hist_rows(y, 4, e, 8, HistScale::log10abs, 0, 1, HistQuantity::delta, rows);
  EXPECT_EQ(rows[0].count, 1);  // log10(0) = -inf
  EXPECT_EQ(rows[1].count, 1);  // -8
  EXPECT_EQ(rows[5].count, 1);  // -4
  EXPECT_EQ(rows[8].count, 1);  // 0: top edge
}

TEST(Output, NumbersCsvAndJson) {
  EXPECT_EQ(num_text(NAN, Precision::float64), "nan");
  EXPECT_EQ(num_text(-NAN, Precision::float64), "nan");
  EXPECT_EQ(num_text(-INFINITY, Precision::float32), "-inf");
  // The shortest text that reads back to the same number of the run's precision.
  EXPECT_EQ(num_text(0.1, Precision::float64), "0.1");
  EXPECT_EQ(num_text(186.0 / 250.0, Precision::float64), "0.744");  // %.17g: 0.74399999999999999
  EXPECT_EQ(num_text(1.0 / 3.0, Precision::float64), "0.3333333333333333");
  EXPECT_EQ(num_text(1e-300, Precision::float64), "1e-300");
  EXPECT_EQ(num_text(static_cast<double>(0.1f), Precision::float32), "0.1");
  EXPECT_EQ(num_text(186.0 / 250.0, Precision::float32), "0.744");
  EXPECT_EQ(num_text(1.0 / 3.0, Precision::float32), "0.33333334");
  // a float32 run's statistic outside float's normal range keeps 9 significant digits
  EXPECT_EQ(num_text(1.0 / 3.0 * 1e-50, Precision::float32), "3.33333333e-51");
  EXPECT_EQ(num_text(1.0 / 3.0 * 1e50, Precision::float32), "3.33333333e+49");
  for (const double v : {0.744, 1.0 / 3.0, 6.02214076e23, -2.5e-310, 123456.0})
    EXPECT_EQ(std::strtod(num_text(v, Precision::float64).c_str(), nullptr), v);
  EXPECT_EQ(csv_line({"a", "b,c", "d\"e"}), "a,\"b,c\",\"d\"\"e\"\n");
  EXPECT_EQ(json_num(INFINITY), "inf");
  EXPECT_EQ(json_num(2.5), 2.5);
}

TEST(Metrics, JacobianOfAnOrthogonalLinearLayerHasMeanSingularValueEqualToTheGain) {
  InitSpec s;
  s.kind = Init::orthogonal;
  s.gain = 1.7;
  Mat<double> W(40, 60);
  Rng r = rng_make(2);
  init_weights(s, W, r);
  EXPECT_NEAR(singular_value_mean(W), 1.7, 1e-12);
  double m1 = 0, m2 = 0;
  squared_sv_moments(W, m1, m2);  // every squared singular value is 1.7²
  EXPECT_NEAR(m1, 1.7 * 1.7, 1e-12);
  EXPECT_NEAR(m2, std::pow(1.7, 4), 1e-11);
  // diag(d) W with d = 0.5 everywhere scales every singular value by 0.5.
  EXPECT_NEAR(singular_value_mean(Mat<double>(0.5 * W)), 0.85, 1e-12);
}

// ‖(1/B) Σ_i d_i a_iᵀ‖_F by the Gram identity against the product's norm; the product itself
// where it is cheaper, where an entry is not finite (its non-finite entries counted), and where
// the Gram sum cancels.
TEST(Metrics, OuterNormIsTheNormOfTheProduct) {
  StatScratch<double> s;
  Rng r = rng_make(3);
  auto random = [&r](Index m, Index n) {
    Mat<double> x(m, n);
    for (Index i = 0; i < x.size(); ++i) x(i) = rng_normal(r);
    return x;
  };
  for (Index B : {1, 3, 10, 40}) {  // Gram for B ≤ 10 (m = 90, n = 70); the product for B = 40
    const Mat<double> d = random(90, B) * 1e150, a = random(70, B) * 1e-160;  // scaled: no overflow
    const Mat<double> p = d * a.transpose() / static_cast<double>(B);
    const OuterNorm o = outer_norm<double>(d, a, s);
    EXPECT_NEAR(o.norm / p.norm(), 1.0, 1e-13) << "B " << B;
    EXPECT_EQ(o.nonfinite, 0);
  }
  // Opposite signs: d_2 = -d_1, a_2 = a_1 — the product is 0 (up to the GEMM's fused rounding)
  // and the Gram sum cancels completely: the product is formed instead of sqrt(rounding noise).
  Mat<double> d = random(50, 2), a = random(60, 2);
  d.col(1) = -d.col(0);
  a.col(1) = a.col(0);
  EXPECT_LT(outer_norm<double>(d, a, s).norm, 1e-14 * d.norm() * a.norm());
  d.col(1) = -0.999 * d.col(0);  // 1e-3 of the terms is left: still cancels, still the product
  const double p999 = (d * a.transpose()).norm() / 2.0;
  EXPECT_NEAR(outer_norm<double>(d, a, s).norm / p999, 1.0, 1e-12);
  // A NaN in δ: the product's NaN entries (one row of it) are counted, the norm is NaN.
  d = random(50, 2);
  d(7, 1) = NAN;
  const OuterNorm o = outer_norm<double>(d, a, s);
  EXPECT_TRUE(std::isnan(o.norm));
  EXPECT_EQ(o.nonfinite, 60);
  // An inf in a (no NaN): one column of the product is ±inf, the norm is inf.
  d = random(50, 2);
  a(11, 0) = INFINITY;
  const OuterNorm oi = outer_norm<double>(d, a, s);
  EXPECT_EQ(oi.norm, INFINITY);
  EXPECT_EQ(oi.nonfinite, 50);
  // float: within float rounding of the double product
  StatScratch<float> sf;
  const Mat<double> d64 = random(300, 8), a64 = random(200, 8);
  const Mat<float> d32 = d64.cast<float>(), a32 = a64.cast<float>();
  const double ref = (d32.cast<double>() * a32.cast<double>().transpose()).norm() / 8.0;
  EXPECT_NEAR(outer_norm<float>(d32, a32, sf).norm / ref, 1.0, 1e-12);
}

// abs_percentile against sorting, on data with many ties (ReLU's zeros, saturated ±1) and
// values spread over many octaves, small and large n (both bucket widths), float and double.
template <class T>
static void check_percentiles(uint64_t seed) {
  Rng r = rng_make(seed);
  std::vector<double> scratch;
  for (Index n : {1, 2, 7, 100, 8192, 70000}) {
    std::vector<T> x(static_cast<size_t>(n));
    for (T& v : x) {
      const double u = rng_uniform(r);
      v = u < 0.4   ? T(0)
          : u < 0.5 ? T(u < 0.45 ? 1 : -1)
                    : static_cast<T>(rng_normal(r) * std::exp(10 * rng_normal(r)));
    }
    std::vector<double> sorted;
    for (T v : x) sorted.push_back(std::abs(static_cast<double>(v)));
    std::sort(sorted.begin(), sorted.end());
    for (double q : {0.0, 50.0, 98.0, 99.9, 100.0}) {
      const double h = static_cast<double>(n - 1) * q / 100.0;
      const auto lo = static_cast<size_t>(std::floor(h));
      const double frac = h - static_cast<double>(lo);
      const double want = lo + 1 < sorted.size() && frac > 0
                              ? sorted[lo] + frac * (sorted[lo + 1] - sorted[lo])
                              : sorted[lo];
      EXPECT_EQ(abs_percentile(x.data(), n, q, scratch), want) << "n " << n << " q " << q;
    }
  }
}

TEST(Metrics, PercentileEqualsSortingOnTiesAndWideRanges) {
  check_percentiles<float>(1);
  check_percentiles<double>(2);
}

template <class T>
static double sorted_percentile(const std::vector<T>& x, double q) {
  std::vector<double> v;
  for (T e : x) v.push_back(std::abs(static_cast<double>(e)));
  std::sort(v.begin(), v.end());
  const double h = static_cast<double>(v.size() - 1) * q / 100.0;
  const auto lo = static_cast<size_t>(std::floor(h));
  const double frac = h - static_cast<double>(lo);
  return lo + 1 < v.size() && frac > 0 ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
}

// Larger n: a bucket of one repeated value (99.5 % zeros, one value everywhere), ReLU-like and
// sorted data, infinities and NaN — each equal to sorting.
template <class T>
static void check_large_percentiles(uint64_t seed) {
  Rng r = rng_make(seed);
  std::vector<double> scratch;
  const Index n = 20000;
  std::vector<std::vector<T>> cases;
  std::vector<T> x(static_cast<size_t>(n));
  for (T& v : x) v = rng_uniform(r) < 0.995 ? T(0) : T(3);  // the 98th percentile is a zero
  cases.push_back(x);
  for (T& v : x) v = T(-2);  // one value
  cases.push_back(x);
  for (T& v : x) v = static_cast<T>(std::max(0.0, rng_normal(r)));  // ReLU
  cases.push_back(x);
  std::sort(x.begin(), x.end());
  cases.push_back(x);
  x[77] = static_cast<T>(INFINITY);
  x[5000] = static_cast<T>(-INFINITY);
  cases.push_back(x);
  for (size_t c = 0; c < cases.size(); ++c)
    for (double q : {0.0, 2.0, 50.0, 98.0, 99.99, 100.0})
      EXPECT_EQ(abs_percentile(cases[c].data(), n, q, scratch), sorted_percentile(cases[c], q))
          << "case " << c << " q " << q;
  x[12345] = static_cast<T>(NAN);
  EXPECT_TRUE(std::isnan(abs_percentile(x.data(), n, 98.0, scratch)));
}

TEST(Metrics, LargePercentilesEqualSorting) {
  check_large_percentiles<float>(3);
  check_large_percentiles<double>(4);
}

// ---- empty cells (docs/reference.md §4.1): what does not apply, and NaN, are not 0 ----

// A ReLU net 2 → 2 → 2 → 1 with W_1 = diag(1, −1), b = 0, on x = (1, 1), (−1, 2): z_1 = [[1, −1],
// [−1, −2]], so φ'(z_1) = [[1, 0], [0, 0]]: 3 of 4 pairs saturated, unit 2 dead and stuck (½ each).
// With W_2 = I every row is finite; the output layer's saturation cells are empty (it is affine).
// With W_2(0, 0) = NaN, z_2 holds NaN: layer 1 keeps its fractions, layer 2 has none.
TEST(Probe, NonFiniteAndOutputLayersHaveEmptyFractions) {
  Mlp<double> net;
  net.act.kind = Activation::relu;
  net.layers.resize(3);
  net.layers[0].W = Mat<double>{{1, 0}, {0, -1}};
  net.layers[1].W = Mat<double>::Identity(2, 2);
  net.layers[2].W = Mat<double>{{1, 1}};
  for (Layer<double>& l : net.layers) l.b = Vec<double>::Zero(l.W.rows());
  const Mat<double> x{{1, -1}, {1, 2}};  // columns are examples
  std::vector<LayerRow> rows = probe_rows_of(net, x);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].saturated_frac, 0.75);
  EXPECT_EQ(rows[0].dead_frac, 0.5);
  EXPECT_EQ(rows[0].stuck_frac, 0.5);
  EXPECT_TRUE(rows[0].zero_grad_frac.has_value());
  EXPECT_TRUE(rows[1].saturated_frac.has_value());
  for (const auto& cell : {rows[2].saturated_frac, rows[2].dead_frac, rows[2].stuck_frac})
    EXPECT_FALSE(cell.has_value());
  EXPECT_EQ(rows[2].zero_grad_frac, 0.5);  // ŷ − y = (1, 0): δ_3 is 0 for example 2
  EXPECT_EQ(rows[2].dphi_mean, 1.0);

  net.layers[1].W(0, 0) = NAN;
  rows = probe_rows_of(net, x);
  EXPECT_EQ(rows[0].saturated_frac, 0.75);
  EXPECT_EQ(rows[0].dead_frac, 0.5);
  EXPECT_EQ(rows[0].stuck_frac, 0.5);
  for (size_t l : {1, 2})
    for (const auto& cell : {rows[l].saturated_frac, rows[l].dead_frac, rows[l].stuck_frac})
      EXPECT_FALSE(cell.has_value()) << "layer " << l + 1;
  EXPECT_GT(rows[1].nonfinite_z, 0);
  // δ_1 = φ'(z_1) ⊙ W_2ᵀ δ_2 is NaN (W_2 holds a NaN): its zero_grad_frac is empty too; a layer's
  // is empty exactly when its δ is not finite
  EXPECT_GT(rows[0].nonfinite_delta, 0);
  for (const LayerRow& r : rows)
    EXPECT_EQ(r.zero_grad_frac.has_value(), r.nonfinite_delta == 0) << r.layer;
}

// ---- histogram edges per quantity (docs/reference.md §4.2) ----

// probe.hist_range {"delta": [-1, 1]} fixes exactly the delta histograms' edges: the other three
// quantities' rows are those of a run without hist_range (their step-0 ranges), bit for bit.
TEST(Histograms, ARangePerQuantityAppliesToThatQuantityOnly) {
  const auto hists_of = [](const std::string& range) {
    const RunSpec s = run_spec_of(R"({"model": {"depth": 2, "width": 6, "activation": "sigmoid"},
        "data": {"name": "gaussian", "dim": 4, "classes": 3, "test_samples": 10},
        "train": {"steps": 4, "batch_size": 5}, "probe": {"samples": 9, "every": 2,
        "histograms": true, "bins": 4, "hist_range": )" +
                                      range + "}}",
                                  1, 2);
    const std::string dir = testing::TempDir() + "gradlab_hist_range";
    std::filesystem::create_directories(dir);
    RunResult res = run_execute(s, dir);
    std::filesystem::remove_all(dir);
    EXPECT_EQ(res.status, "ok") << res.reason;
    return res.hists;
  };
  const std::vector<HistRow> fixed = hists_of(R"({"delta": [-1, 1]})"), free = hists_of("null");
  ASSERT_EQ(fixed.size(), free.size());
  ASSERT_EQ(fixed.size(), 3u * 3 * 4 * (4 + 3));  // probes × layers × quantities × rows
  int delta_rows = 0;
  for (size_t i = 0; i < fixed.size(); ++i) {
    const HistRow &a = fixed[i], &b = free[i];
    ASSERT_EQ(a.quantity, b.quantity);
    if (a.quantity != HistQuantity::delta) {
      EXPECT_TRUE(a.lo == b.lo && a.hi == b.hi && a.count == b.count) << i;
      continue;
    }
    ++delta_rows;
    if (a.nonfinite) continue;  // the NaN/Inf count: no edges
    if (a.bin == 0) {
      EXPECT_EQ(a.lo, -1.0);
    } else if (a.bin == 1) {
      EXPECT_EQ(a.hi, 0.0);
    } else if (a.bin == 3) {
      EXPECT_EQ(a.hi, 1.0);
    }
  }
  EXPECT_EQ(delta_rows, 3 * 3 * 7);
}

// An error rate is one division of two counts: 186 wrong of 250 is the double nearest 0.744, and
// steps.csv writes it as 0.744 (not %.17g's 0.74399999999999999).
TEST(Output, ErrorRateOf186In250Reads0744) {
  Mat<double> yhat = Mat<double>::Zero(2, 250);
  Targets<double> t;
  for (int i = 0; i < 250; ++i) {
    yhat(1, i) = 1.0;                     // predicts class 1
    t.labels.push_back(i < 186 ? 0 : 1);  // the first 186 are class 0: wrong
  }
  EXPECT_EQ(loss_error_count(Loss::cross_entropy, yhat, t, 0.04), 186);
  const double rate = loss_error_rate(Loss::cross_entropy, yhat, t, 0.04);
  EXPECT_EQ(rate, 0.744);
  EXPECT_EQ(num_text(rate, Precision::float64), "0.744");
  EXPECT_EQ(num_text(rate, Precision::float32), "0.744");
}
