// One pass over a buffer (scan.h): sums, norms, non-finite counts and percentiles of the tensors a
// probe reads (metrics.h declares the public ones: stable_norm, count_nonfinite, abs_percentile).
#include "harness/measure/scan.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "harness/measure/metrics.h"

namespace gl {

constexpr int lanes = 16;  // scan.h

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
// so norm_of needs no scaling, and Σx² is finite exactly when every x is: the sums and max |x|
// (the same lanes and order as scan_all), and the full scan only when some entry is not finite.
template <class T>
Scan scan(const T* x, Index n) {
  if constexpr (!std::is_same_v<T, float>) {
    return scan_all(x, n);
  } else {
    // Lanes 0–7 and 8–15 as two 8-double vectors (GCC's vector extension: its auto-vectorizer
    // left Σx² scalar here), each lane the same additions in the same order as in scan_all.
    using F8 = float __attribute__((vector_size(32)));
    using D8 = double __attribute__((vector_size(64)));
    D8 s0 = {}, s1 = {}, q0 = {}, q1 = {}, m0 = {}, m1 = {};
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
      const D8 aa = a < 0 ? -a : a, ab = b < 0 ? -b : b;
      m0 = m0 < aa ? aa : m0;
      m1 = m1 < ab ? ab : m1;
    }
    double s[lanes], q[lanes], m[lanes];
    std::memcpy(s, &s0, sizeof s0);
    std::memcpy(s + 8, &s1, sizeof s1);
    std::memcpy(q, &q0, sizeof q0);
    std::memcpy(q + 8, &q1, sizeof q1);
    std::memcpy(m, &m0, sizeof m0);
    std::memcpy(m + 8, &m1, sizeof m1);
    for (Index i = nb; i < n; ++i) {
      const double v = static_cast<double>(x[i]);
      s[i - nb] += v;
      q[i - nb] += v * v;
      m[i - nb] = std::max(m[i - nb], std::abs(v));
    }
    Scan r;
    r.sumsq = lane_total(q);
    if (!std::isfinite(r.sumsq)) return scan_all(x, n);
    r.sum = lane_total(s);
    for (int k = 0; k < lanes; ++k) r.amax = std::max(r.amax, m[k]);
    return r;
  }
}

// ‖x‖ from a scan: Σx² directly where it can neither overflow nor lose the small entries, else a
// second pass scaled by max |x| (never for float data: 1e-140 < |x| < 1e140 always holds).
template <class T>
double norm_of(const Scan& sc, const T* x, Index n) {
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
double std_around(const T* x, Index n, double mean) {
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

#define GL_SCAN_INST(T)                                                             \
  template Scan scan<T>(const T*, Index);                                           \
  template double norm_of<T>(const Scan&, const T*, Index);                         \
  template double std_around<T>(const T*, Index, double);                           \
  template double stable_norm<T>(const T*, Index);                                  \
  template double abs_percentile<T>(const T*, Index, double, std::vector<double>&); \
  template int64_t count_nonfinite<T>(const T*, Index);
GL_SCAN_INST(float)
GL_SCAN_INST(double)

}  // namespace gl
