#include "harness/measure/metrics.h"
#include "harness/core/config.h"

#include <omp.h>

#include "harness/core/threads.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace gl {

// ---- one pass over a buffer ----
// Sums run in `lanes` independent accumulators (element i goes to lane i mod lanes), combined in a
// fixed order at the end: the compiler vectorizes the lanes, and the result does not depend on
// anything but the data (not on threads or alignment), though its last bits differ from a
// left-to-right sum.
constexpr int lanes = 16;

struct Scan {
  double sum = 0, sumsq = 0;  // Σx, Σx² (sumsq is NaN iff some x is NaN, +inf if some x is ±inf)
  double amax = 0;            // max |x| over the non-NaN entries
  int64_t nonfinite = 0;      // NaN or ±inf entries
};

static double lane_total(const double* v) {  // ((v0 + v1) + (v2 + v3)) + ...: a fixed tree
  double t[lanes];
  for (int k = 0; k < lanes; ++k) t[k] = v[k];
  for (int w = lanes / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; ++k) t[k] = t[k] + t[k + w];
  return t[0];
}

// Σx, Σx², max |x| and the non-finite count in one pass.
template <class T>
static Scan scan_all(const T* x, Index n) {
  double s[lanes] = {}, q[lanes] = {}, m[lanes] = {}, bad[lanes] = {};
  const Index nb = n - n % lanes;
  auto add = [&](int k, T xv) {
    const double v = static_cast<double>(xv), a = std::abs(v);
    s[k] += v;
    q[k] += v * v;
    m[k] = m[k] < a ? a : m[k];          // NaN never wins
    bad[k] += a <= DBL_MAX ? 0.0 : 1.0;  // NaN or inf
  };
  for (Index i = 0; i < nb; i += lanes)
    for (int k = 0; k < lanes; ++k) add(k, x[i + k]);
  for (Index i = nb; i < n; ++i) add(static_cast<int>(i - nb), x[i]);
  Scan r;
  r.sum = lane_total(s);
  r.sumsq = lane_total(q);
  r.nonfinite = static_cast<int64_t>(lane_total(bad));
  for (int k = 0; k < lanes; ++k) r.amax = r.amax < m[k] ? m[k] : r.amax;
  return r;
}

// float data: Σx² in double neither overflows nor loses its small terms (|x| ≤ 3.4e38, n < 1e9),
// so norm_of needs no max |x|, and Σx² is finite exactly when every x is: the two sums (the same
// lanes and order as scan_all), and the full scan only when some entry is not finite. Half the
// work per entry of the probe's most frequent pass.
template <class T>
static Scan scan(const T* x, Index n) {
  if constexpr (!std::is_same_v<T, float>) {
    return scan_all(x, n);
  } else {
    // Lanes 0–7 and 8–15 as two 8-double vectors (GCC's vector extension: its auto-vectorizer
    // left Σx² scalar here), each lane the same additions in the same order as in scan_all.
    using F8 = float __attribute__((vector_size(32)));
    using D8 = double __attribute__((vector_size(64)));
    D8 s0 = {}, s1 = {}, q0 = {}, q1 = {};
    const Index nb = n - n % lanes;
    for (Index i = 0; i < nb; i += lanes) {
      F8 lo, hi;
      std::memcpy(&lo, x + i, sizeof lo);
      std::memcpy(&hi, x + i + 8, sizeof hi);
      const D8 a = __builtin_convertvector(lo, D8), b = __builtin_convertvector(hi, D8);
      s0 += a;
      s1 += b;
      q0 += a * a;
      q1 += b * b;
    }
    double s[lanes], q[lanes];
    std::memcpy(s, &s0, sizeof s0);
    std::memcpy(s + 8, &s1, sizeof s1);
    std::memcpy(q, &q0, sizeof q0);
    std::memcpy(q + 8, &q1, sizeof q1);
    for (Index i = nb; i < n; ++i) {
      const double v = static_cast<double>(x[i]);
      s[i - nb] += v;
      q[i - nb] += v * v;
    }
    Scan r;
    r.sumsq = lane_total(q);
    if (!std::isfinite(r.sumsq)) return scan_all(x, n);
    r.sum = lane_total(s);
    r.amax = NAN;  // not computed (norm_of does not need it for float)
    return r;
  }
}

// ‖x‖ from a scan: Σx² directly where it can neither overflow nor lose the small entries, else a
// second pass scaled by max |x| (never for float data: 1e-140 < |x| < 1e140 always holds).
template <class T>
static double norm_of(const Scan& sc, const T* x, Index n) {
  if (sc.sumsq != sc.sumsq) return nan_v;  // some NaN
  if (sc.nonfinite > 0) return INFINITY;   // some ±inf, no NaN
  if constexpr (std::is_same_v<T, float>) return std::sqrt(sc.sumsq);
  const double amax = sc.amax;
  if (amax == 0.0) return 0.0;
  if (amax > 1e-140 && amax < 1e140) return std::sqrt(sc.sumsq);
  double s = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]) / amax;
    s += v * v;
  }
  return amax * std::sqrt(s);
}

template <class T>
double stable_norm(const T* x, Index n) {
  return norm_of(scan(x, n), x, n);
}

template <class T>
int64_t count_nonfinite(const T* x, Index n) {
  int64_t k = 0;  // |x| <= max is false for NaN and ±inf (a compare that vectorizes)
  for (Index i = 0; i < n; ++i) k += std::abs(x[i]) <= std::numeric_limits<T>::max() ? 0 : 1;
  return k;
}

// |v| as an unsigned integer: non-negative IEEE numbers order as their bit patterns (NaN > inf).
template <class U>
constexpr U abs_mask = sizeof(U) == 4 ? U(0x7fffffffu) : U(0x7fffffffffffffffu);
template <class U>
constexpr U inf_bits = sizeof(U) == 4 ? U(0x7f800000u) : U(0x7ff0000000000000u);  // bits of +inf
static uint32_t abs_bits(float v) { return std::bit_cast<uint32_t>(v) & abs_mask<uint32_t>; }
static uint64_t abs_bits(double v) { return std::bit_cast<uint64_t>(v) & abs_mask<uint64_t>; }

// 64 bytes of |x|'s bits as one vector (GCC's vector extension): 16 or 8 lanes.
using Bits32x16 = uint32_t __attribute__((vector_size(64)));
using Bits64x8 = uint64_t __attribute__((vector_size(64)));
template <class U>
struct BitsVec;
template <>
struct BitsVec<uint32_t> {
  using type = Bits32x16;
};
template <>
struct BitsVec<uint64_t> {
  using type = Bits64x8;
};

// The percentile's rank near the top, by vectorized counting: max |x|, then in one pass the counts
// of entries at or above 8 thresholds a quarter octave apart below it (as bits: non-negative IEEE
// numbers order as their bits), which locate the quarter octave that holds rank lo; only its
// entries are selected among. False (the caller takes the histogram) when rank lo lies more than
// two octaves below max |x| or its quarter octave holds over n/8 entries. Exact; for the 98th
// percentile of ReLU or Gaussian activations about a quarter of the histogram's instructions, whose
// scattered increments cost ~2.5 cycles per entry.
template <class T>
static bool percentile_near_top(const T* x, Index n, Index lo, double frac,
                                std::vector<double>& scratch, double& out) {
  using U = decltype(abs_bits(T(0)));
  using V = typename BitsVec<U>::type;
  constexpr Index lanes_v = 64 / static_cast<Index>(sizeof(U));
  constexpr U quarter = U(1) << (sizeof(U) == 4 ? 21 : 50);  // a quarter of an exponent step
  constexpr int K = 8;
  const auto splat = [](U v) {
    V r;
    for (Index k = 0; k < lanes_v; ++k) r[k] = v;
    return r;
  };
  const auto load = [&](Index i) {
    V b;
    std::memcpy(&b, x + i, sizeof b);
    return b & splat(abs_mask<U>);
  };
  const Index nb = n - n % lanes_v;
  V vtop = {};
  for (Index i = 0; i < nb; i += lanes_v) {
    const V b = load(i);
    vtop = b > vtop ? b : vtop;
  }
  U top = 0;
  for (Index k = 0; k < lanes_v; ++k) top = std::max(top, U(vtop[k]));
  for (Index i = nb; i < n; ++i) top = std::max(top, abs_bits(x[i]));
  if (top > inf_bits<U>) {  // some NaN
    out = nan_v;
    return true;
  }
  std::array<U, K + 1> t;  // t[0] = max |x|, t[k] = k quarter octaves below (≥ 0)
  for (int k = 0; k <= K; ++k) {
    const U d = static_cast<U>(k) * quarter;
    t[static_cast<size_t>(k)] = top > d ? static_cast<U>(top - d) : U(0);
  }
  std::array<V, K> vc{};
  std::array<V, K> vt;
  for (int k = 0; k < K; ++k) vt[static_cast<size_t>(k)] = splat(t[static_cast<size_t>(k) + 1]);
  for (Index i = 0; i < nb; i += lanes_v) {
    const V b = load(i);
    for (size_t k = 0; k < K; ++k) vc[k] -= (V)(b >= vt[k]);  // a true comparison is −1
  }
  std::array<Index, K + 1> c{};  // c[k]: the entries ≥ t[k], k ≥ 1
  for (size_t k = 0; k < K; ++k) {
    for (Index j = 0; j < lanes_v; ++j) c[k + 1] += static_cast<Index>(vc[k][j]);
    for (Index i = nb; i < n; ++i) c[k + 1] += abs_bits(x[i]) >= t[k + 1] ? 1 : 0;
  }
  // rank lo is ≥ t[k] iff at least n − lo entries are
  int k = 1;
  while (k <= K && c[static_cast<size_t>(k)] < n - lo) ++k;
  if (k > K) return false;
  // rank lo lies in [t[k], hi): hi = t[k−1] (exclusive), or everything above t[1] for k = 1
  const U t_in = t[static_cast<size_t>(k)];
  const U t_out = k == 1 ? std::numeric_limits<U>::max() : t[static_cast<size_t>(k) - 1];
  const Index above_n = k == 1 ? 0 : c[static_cast<size_t>(k) - 1];
  const Index inside_n = c[static_cast<size_t>(k)] - above_n;
  if (inside_n > n / 8 + 64) return false;
  const Index below_n = n - c[static_cast<size_t>(k)];
  if (scratch.size() < static_cast<size_t>(inside_n)) scratch.resize(static_cast<size_t>(inside_n));
  const V vin = splat(t_in), vout = splat(t_out);
  V vabove = splat(inf_bits<U>);  // the smallest entry ≥ t_out (inf if none: then not needed)
  size_t count = 0;
  for (Index i = 0; i < nb; i += lanes_v) {
    const V b = load(i);
    vabove = (b >= vout) & (b < vabove) ? b : vabove;
    const V hit = (V)((b >= vin) & (b < vout));
    uint64_t w[8];
    std::memcpy(w, &hit, sizeof w);
    if ((w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7]) == 0) continue;
    for (Index j = 0; j < lanes_v; ++j)
      if (hit[j] != 0) scratch[count++] = std::abs(static_cast<double>(x[i + j]));
  }
  U above_bits = inf_bits<U>;
  for (Index j = 0; j < lanes_v; ++j) above_bits = std::min(above_bits, U(vabove[j]));
  for (Index i = nb; i < n; ++i) {
    const U b = abs_bits(x[i]);
    if (b >= t_out) above_bits = std::min(above_bits, b);
    if (b >= t_in && b < t_out) scratch[count++] = std::abs(static_cast<double>(x[i]));
  }
  const auto kk = static_cast<size_t>(lo - below_n);
  const auto end = scratch.begin() + static_cast<std::ptrdiff_t>(count);
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(kk), end);
  const double v_lo = scratch[kk];
  if (lo + 1 >= n || frac == 0.0) {
    out = v_lo;
    return true;
  }
  const double v_hi =
      kk + 1 < count ? *std::min_element(scratch.begin() + static_cast<std::ptrdiff_t>(kk) + 1, end)
                     : std::abs(static_cast<double>(std::bit_cast<T>(above_bits)));
  out = v_lo + frac * (v_hi - v_lo);
  return true;
}

template <class T>
double abs_percentile(const T* x, Index n, double q, std::vector<double>& scratch) {
  if (n == 0) return nan_v;
  // numpy "linear": h = (n-1)·q/100, value = v[⌊h⌋] + (h-⌊h⌋)(v[⌊h⌋+1] - v[⌊h⌋]), v = sorted |x|.
  const double h = static_cast<double>(n - 1) * q / 100.0;
  const auto lo = static_cast<Index>(std::floor(h));
  double near_top;
  if (n >= 256 && percentile_near_top(x, n, lo, h - static_cast<double>(lo), scratch, near_top))
    return near_top;
  // Else exact selection without sorting everything: a histogram of the top 11 bits of |x| finds
  // the bucket that holds rank ⌊h⌋; only that bucket's entries are selected among.
  using U = decltype(abs_bits(T(0)));
  constexpr int shift = static_cast<int>(8 * sizeof(U)) - 12;  // 2048 buckets
  // Four interleaved histograms: runs of equal values (ReLU's zeros, tanh's ±1) would otherwise
  // chain every increment on the previous one through memory.
  // Zero between calls (one set per thread): each call clears only the buckets it can have used,
  // those up to max |x|'s, not all 4 × 2048.
  thread_local std::array<std::array<uint32_t, 2048>, 4> part{};
  U top = 0;
  const Index n4 = n - n % 4;
  for (Index i = 0; i < n4; i += 4)
    for (int k = 0; k < 4; ++k) {
      const U b = abs_bits(x[i + k]);
      top = b > top ? b : top;
      ++part[static_cast<size_t>(k)][static_cast<size_t>(b >> shift)];
    }
  for (Index i = n4; i < n; ++i) {
    const U b = abs_bits(x[i]);
    top = b > top ? b : top;
    ++part[0][static_cast<size_t>(b >> shift)];
  }
  const auto hist = [&](size_t j) {
    return Index(part[0][j]) + Index(part[1][j]) + Index(part[2][j]) + Index(part[3][j]);
  };
  const auto clear = [&] {
    for (auto& p : part) std::fill_n(p.begin(), static_cast<size_t>(top >> shift) + 1, 0u);
  };
  if (top > inf_bits<U>) {
    clear();
    return nan_v;
  }
  size_t bucket = 0;
  Index below = 0;  // entries in the buckets before `bucket`
  while (below + hist(bucket) <= lo) below += hist(bucket++);
  const Index in_bucket_n = hist(bucket);
  clear();
  // The bucket's entries (a few % of n: a well-predicted branch) and the smallest |x| beyond the
  // bucket, compared as bits (they order as the values; a conditional move, no branch).
  if (scratch.size() < static_cast<size_t>(in_bucket_n))
    scratch.resize(static_cast<size_t>(in_bucket_n));
  size_t count = 0;
  const auto in_the_bucket = [&](Index i) {
    return static_cast<size_t>(abs_bits(x[i]) >> shift) == bucket;
  };
  // Blocks of 16 with none of the bucket's entries (most blocks) are passed over by one vectorized
  // test; the others are collected in order.
  constexpr Index block = 16;
  const Index nb = n - n % block;
  for (Index i0 = 0; i0 < nb; i0 += block) {
    int hit = 0;
    for (Index i = i0; i < i0 + block; ++i) hit |= in_the_bucket(i) ? 1 : 0;
    if (hit == 0) continue;
    for (Index i = i0; i < i0 + block; ++i)
      if (in_the_bucket(i)) scratch[count++] = std::abs(static_cast<double>(x[i]));
  }
  for (Index i = nb; i < n; ++i)
    if (in_the_bucket(i)) scratch[count++] = std::abs(static_cast<double>(x[i]));
  const U beyond = static_cast<U>((static_cast<U>(bucket) + 1) << shift);  // first bits past it
  U above_bits = inf_bits<U>;
  for (Index i = 0; i < n; ++i) {  // a min reduction: vectorizes
    const U b = abs_bits(x[i]);
    above_bits = std::min(above_bits, b >= beyond ? b : inf_bits<U>);
  }
  const double above = std::abs(static_cast<double>(std::bit_cast<T>(above_bits)));
  const auto in_bucket = scratch.begin() + static_cast<std::ptrdiff_t>(count);
  const auto k = static_cast<size_t>(lo - below);
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k), in_bucket);
  const double vlo = scratch[k];
  const double frac = h - static_cast<double>(lo);
  if (lo + 1 >= n || frac == 0.0) return vlo;
  const double vhi =
      k + 1 < count
          ? *std::min_element(scratch.begin() + static_cast<std::ptrdiff_t>(k) + 1, in_bucket)
          : above;
  return vlo + frac * (vhi - vlo);
}

template <class T>
SaturationCounts saturation_counts(const Eigen::Ref<const Mat<T>>& dphi, double tau, double sup) {
  SaturationCounts s;
  const Index units = dphi.rows(), N = dphi.cols();
  if (units == 0 || N == 0) return s;
  const double thr = tau * sup;
  // Column by column (the storage order), with per-unit counters: unit j is dead if φ' is
  // exactly 0 for all N examples, stuck if saturated for all N.
  // Counters in double (exact below 2^53) like the sums, so that the loop vectorizes.
  thread_local std::vector<double> sat, zero, sum;
  sat.assign(static_cast<size_t>(units), 0.0);
  zero.assign(static_cast<size_t>(units), 0.0);
  sum.assign(static_cast<size_t>(units), 0.0);
  double* ps = sat.data();
  double* pz = zero.data();
  double* pm = sum.data();
  for (Index i = 0; i < N; ++i) {
    const T* col = dphi.col(i).data();
    for (Index j = 0; j < units; ++j) {
      const double d = static_cast<double>(col[j]);
      pm[j] += d;
      pz[j] += d == 0.0 ? 1.0 : 0.0;
      ps[j] += (d == 0.0 || std::abs(d) < thr) ? 1.0 : 0.0;
    }
  }
  int64_t nsat = 0, dead = 0, stuck = 0;
  double total_sum = 0.0;
  const double n_ex = static_cast<double>(N);
  for (size_t u = 0; u < static_cast<size_t>(units); ++u) {
    const double su = sup == 0.0 ? n_ex : sat[u];  // φ' ≡ 0: all saturated
    nsat += static_cast<int64_t>(su);
    dead += zero[u] == n_ex;
    stuck += su == n_ex;
    total_sum += sum[u];
  }
  const double total = static_cast<double>(units) * static_cast<double>(N);
  s.saturated_frac = static_cast<double>(nsat) / total;
  s.dead_frac = static_cast<double>(dead) / static_cast<double>(units);
  s.stuck_frac = static_cast<double>(stuck) / static_cast<double>(units);
  s.dphi_mean = total_sum / total;
  return s;
}

template <class T>
double zero_column_frac(const Mat<T>& m) {
  if (m.cols() == 0) return nan_v;
  Index zero = 0;
  for (Index i = 0; i < m.cols(); ++i) zero += (m.col(i).array() == T(0)).all();
  return static_cast<double>(zero) / static_cast<double>(m.cols());
}

double singular_value_mean(const Mat<double>& J) {
  const Mat<double> G =
      J.rows() <= J.cols() ? Mat<double>(J * J.transpose()) : Mat<double>(J.transpose() * J);
  Eigen::SelfAdjointEigenSolver<Mat<double>> es(G, Eigen::EigenvaluesOnly);
  return es.eigenvalues().cwiseMax(0.0).cwiseSqrt().mean();
}

void squared_sv_moments(const Mat<double>& J, double& m1, double& m2) {
  const Mat<double> G = J * J.transpose();
  const double n = static_cast<double>(J.rows());
  m1 = G.trace() / n;
  m2 = G.squaredNorm() / n;  // tr(G²) = ‖G‖_F² for symmetric G
}

// Population std of x around its mean (a second pass: no cancellation), in lanes as scan.
template <class T>
static double std_around(const T* x, Index n, double mean) {
  double v[lanes] = {};
  const Index nb = n - n % lanes;
  for (Index i = 0; i < nb; i += lanes)
    for (int k = 0; k < lanes; ++k) {
      const double d = static_cast<double>(x[i + k]) - mean;
      v[k] += d * d;
    }
  for (Index i = nb; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - mean;
    v[i - nb] += d * d;
  }
  return std::sqrt(lane_total(v) / static_cast<double>(n));
}

// ---- ∂L/∂W without storing it ----

template <class T>
OuterNorm outer_norm(const Eigen::Ref<const Mat<T>>& d, const Eigen::Ref<const Mat<T>>& a,
                     StatScratch<T>& s) {
  const Index m = d.rows(), n = a.rows(), B = d.cols();
  const T inv_b = T(1) / static_cast<T>(B);
  auto product = [&]() {  // the product itself, as mlp_backward stores it
    s.product.resize(m, n);
    s.product.noalias() = (inv_b * d) * a.transpose();
    const Scan sc = scan(s.product.data(), s.product.size());
    return OuterNorm{norm_of(sc, s.product.data(), s.product.size()), sc.nonfinite};
  };
  if (2 * B * (m + n) >= m * n) return product();
  // max |x| with NaN propagated: one pass gives the scale and whether every entry is finite
  const double sd = static_cast<double>(d.cwiseAbs().template maxCoeff<Eigen::PropagateNaN>());
  const double sa = static_cast<double>(a.cwiseAbs().template maxCoeff<Eigen::PropagateNaN>());
  if (!(sd <= DBL_MAX) || !(sa <= DBL_MAX)) return product();  // NaN or ±inf somewhere
  if (sd == 0.0 || sa == 0.0) return {};
  s.d = d.template cast<double>() / sd;
  s.a = a.template cast<double>() / sa;
  s.gd.resize(B, B);
  s.ga.resize(B, B);
  s.gd.noalias() = s.d.transpose() * s.d;
  s.ga.noalias() = s.a.transpose() * s.a;
  const double sum = s.gd.cwiseProduct(s.ga).sum();
  if (!(sum >= 0.5 * s.gd.cwiseProduct(s.ga).cwiseAbs().sum())) return product();
  return {sd * sa * std::sqrt(sum) / static_cast<double>(B), 0};
}

template <class T>
double mlp_grads_norm_outer(const MlpCache<T>& c, const MlpGrads<T>& g, StatScratch<T>& s) {
  double sum = 0;
  for (size_t l = 0; l < g.delta.size(); ++l) {
    const double w = outer_norm<T>(g.delta[l], c.a[l], s).norm;
    const double b = stable_norm(g.db[l].data(), g.db[l].size());
    sum += w * w + b * b + g.dslope[l] * g.dslope[l];
  }
  return std::sqrt(sum);
}

// ---- the probe ----

template <class T>
static LayerRow layer_row(const Mlp<T>& net, const MlpCache<T>& c, const MlpGrads<T>& g,
                          const ProbeConfig& probe, int64_t step, size_t l, StatScratch<T>& s) {
  const size_t n = net.layers.size();
  const double N = static_cast<double>(c.a[0].cols());
  LayerRow r;
  r.step = step;
  r.layer = static_cast<int>(l + 1);
  r.fan_in = net.layers[l].W.cols();
  r.fan_out = net.fan_out(l);
  // One scan per tensor gives its sum, norm and non-finite count; mean and std of z and a take a
  // second pass each.
  const Mat<T>& z = c.z[l];
  const Mat<T>& a = c.a[l + 1];
  const Index nz = z.size();
  const Scan sz = scan(z.data(), nz), sa = scan(a.data(), nz);
  r.preact_mean = sz.sum / static_cast<double>(nz);
  r.preact_std = std_around(z.data(), nz, r.preact_mean);
  const double zn = norm_of(sz, z.data(), nz);
  r.preact_ms = zn * zn / static_cast<double>(nz);
  r.act_mean = sa.sum / static_cast<double>(nz);
  r.act_std = std_around(a.data(), nz, r.act_mean);
  r.act_p98 = abs_percentile(a.data(), nz, 98.0, s.sorted);
  if (l + 1 < n) {
    const SaturationCounts sc =
        saturation_counts<T>(c.dphi[l], probe.saturation_tau, activation_sup_deriv(net.act));
    r.dphi_mean = sc.dphi_mean;
    r.saturated_frac = sc.saturated_frac;
    r.dead_frac = sc.dead_frac;
    r.stuck_frac = sc.stuck_frac;
  } else {
    r.dphi_mean = 1.0;  // the output layer is affine
  }
  const Mat<T>& d = g.delta[l];
  const Mat<T>& W = net.layers[l].W;
  const Scan sd = scan(d.data(), d.size());
  r.zero_grad_frac = zero_column_frac(d);
  r.delta_norm = norm_of(sd, d.data(), d.size()) / std::sqrt(N);
  if (g.has_dw) {
    const Mat<T>& dW = g.dW[l];
    const Scan sdw = scan(dW.data(), dW.size());
    r.grad_w_norm = norm_of(sdw, dW.data(), dW.size());
    r.nonfinite_dw = sdw.nonfinite;
  } else {
    const OuterNorm o = outer_norm<T>(d, c.a[l], s);
    r.grad_w_norm = o.norm;
    r.nonfinite_dw = o.nonfinite;
  }
  r.grad_b_norm = stable_norm(g.db[l].data(), g.db[l].size());
  r.w_norm = stable_norm(W.data(), W.size());
  r.grad_w_ratio = r.grad_w_norm / r.w_norm;
  r.nonfinite_z = sz.nonfinite;
  r.nonfinite_a = sa.nonfinite;
  r.nonfinite_delta = sd.nonfinite;
  r.nonfinite = r.nonfinite_z + r.nonfinite_a + r.nonfinite_delta + r.nonfinite_dw;
  return r;
}

template <class T>
void mlp_layer_rows(const Mlp<T>& net, const MlpCache<T>& c, const MlpGrads<T>& g,
                    const ProbeConfig& probe, int64_t step, std::vector<LayerRow>& rows,
                    ProbeScratch<T>& scratch) {
  const size_t n = net.layers.size();
  const size_t first = rows.size();
  rows.resize(first + n);
  const int nt = std::min(omp_get_max_threads(), static_cast<int>(n));
  if (scratch.size() < static_cast<size_t>(nt)) scratch.resize(static_cast<size_t>(nt));
  const FpMode fp;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    fp.apply();
#pragma omp for schedule(dynamic, 1)
    for (size_t l = 0; l < n; ++l)
      rows[first + l] =
          layer_row(net, c, g, probe, step, l, scratch[static_cast<size_t>(omp_get_thread_num())]);
  }
  // delta_factor(l) = delta_norm(l)² / delta_norm(l+1)², hidden layers only.
  for (size_t l = 0; l + 1 < n; ++l) {
    const double q = rows[first + l].delta_norm / rows[first + l + 1].delta_norm;
    rows[first + l].delta_factor = q * q;
  }
}

// ---- histograms ----

static double hist_var(double x, HistScale s) {
  return s == HistScale::linear ? x : std::log10(std::abs(x));
}

template <class T>
HistEdges hist_edges_from(const T* x, Index n, HistScale scale) {
  double lo = INFINITY, hi = -INFINITY;
  for (Index i = 0; i < n; ++i) {
    const double v = hist_var(static_cast<double>(x[i]), scale);
    if (!std::isfinite(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!(lo <= hi)) return {0.0, 1.0};  // no finite value
  if (lo == hi) {
    const double w = lo == 0.0 ? 0.5 : std::abs(lo) * 0.5;
    return {lo - w, hi + w};
  }
  return {lo, hi};
}

template <class T>
void hist_rows(const T* x, Index n, const HistEdges& e, int bins, HistScale scale, int64_t step,
               int layer, HistQuantity q, std::vector<HistRow>& out) {
  std::vector<int64_t> counts(static_cast<size_t>(bins) + 2, 0);  // [under, bins..., over]
  int64_t nonfinite = 0;
  const double width = (e.hi - e.lo) / bins;
  for (Index i = 0; i < n; ++i) {
    const double raw = static_cast<double>(x[i]);
    if (!std::isfinite(raw)) {
      ++nonfinite;
      continue;
    }
    const double v = hist_var(raw, scale);  // log10|0| = -inf: underflow
    int b;
    if (v < e.lo)
      b = -1;
    else if (v > e.hi)
      b = bins;
    else
      b = std::min(bins - 1, static_cast<int>((v - e.lo) / width));  // hi itself is in the last bin
    ++counts[static_cast<size_t>(b + 1)];
  }
  for (int b = -1; b <= bins; ++b) {
    HistRow r;
    r.step = step;
    r.layer = layer;
    r.quantity = q;
    r.bin = b;
    r.lo = b < 0 ? -INFINITY : (b == bins ? e.hi : e.lo + width * b);
    r.hi = b < 0 ? e.lo : (b >= bins - 1 ? (b == bins ? INFINITY : e.hi) : e.lo + width * (b + 1));
    r.count = counts[static_cast<size_t>(b + 1)];
    out.push_back(r);
  }
  HistRow r;
  r.step = step;
  r.layer = layer;
  r.quantity = q;
  r.nonfinite = true;
  r.count = nonfinite;
  out.push_back(r);
}

#define GL_METRICS_INST(T)                                                                         \
  template double stable_norm<T>(const T*, Index);                                                 \
  template double abs_percentile<T>(const T*, Index, double, std::vector<double>&);                \
  template int64_t count_nonfinite<T>(const T*, Index);                                            \
  template SaturationCounts saturation_counts<T>(const Eigen::Ref<const Mat<T>>&, double, double); \
  template double zero_column_frac<T>(const Mat<T>&);                                              \
  template void mlp_layer_rows<T>(const Mlp<T>&, const MlpCache<T>&, const MlpGrads<T>&,           \
                                  const ProbeConfig&, int64_t, std::vector<LayerRow>&,             \
                                  ProbeScratch<T>&);                                               \
  template OuterNorm outer_norm<T>(const Eigen::Ref<const Mat<T>>&,                                \
                                   const Eigen::Ref<const Mat<T>>&, StatScratch<T>&);              \
  template double mlp_grads_norm_outer<T>(const MlpCache<T>&, const MlpGrads<T>&,                  \
                                          StatScratch<T>&);                                        \
  template HistEdges hist_edges_from<T>(const T*, Index, HistScale);                               \
  template void hist_rows<T>(const T*, Index, const HistEdges&, int, HistScale, int64_t, int,      \
                             HistQuantity, std::vector<HistRow>&);
GL_METRICS_INST(float)
GL_METRICS_INST(double)

}  // namespace gl
