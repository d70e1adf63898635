#include "harness/core/rng.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "harness/core/threads.h"

namespace gl {

static uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Rng rng_make(uint64_t seed) {
  Rng r{};
  uint64_t x = seed;
  for (auto& w : r.s) w = splitmix64(x);
  r.has_spare = false;
  r.spare = 0.0;
  return r;
}

uint64_t rng_next(Rng& r) {  // xoshiro256** (Blackman & Vigna 2018)
  uint64_t* s = r.s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double rng_uniform(Rng& r) { return static_cast<double>(rng_next(r) >> 11) * 0x1.0p-53; }

double rng_uniform(Rng& r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

uint64_t rng_below(Rng& r, uint64_t n) {
  // Lemire-free simple rejection: take the largest multiple of n below 2^64.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  for (;;) {
    const uint64_t x = rng_next(r);
    if (x < limit) return x % n;
  }
}

// ln(x 2^shift) for a positive normal x and an integer shift, from the bits of x (frexp's m and e)
// and a select for the branch, so that a loop of them vectorizes (IEEE +, −, ×, ÷ and sqrt give
// the same bits in any lane). x 2^shift = m 2^e with m in [sqrt(1/2), sqrt(2));
// ln = e ln2 + 2 atanh(s), s = (m−1)/(m+1), |s| < 0.1716.
static inline double log_normal(double x, double shift = 0.0) {
  const auto bits = std::bit_cast<uint64_t>(x);
  double e = static_cast<double>(static_cast<int64_t>(bits >> 52) - 1022) + shift;
  double m =
      std::bit_cast<double>((bits & 0x000fffffffffffffull) | 0x3fe0000000000000ull);  // [½, 1)
  const bool low = m < 0.70710678118654752440;
  m = low ? 2.0 * m : m;
  e = low ? e - 1.0 : e;
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  // atanh(s) = s (1 + s2/3 + s2^2/5 + ...); s2 < 0.0295, 13 terms reach 1e-20 relative.
  double sum = 0.0;
  for (int k = 13; k >= 1; --k) sum = sum * s2 + 1.0 / (2.0 * k + 1.0);
  const double atanh_s = s + s * s2 * sum;
  // ln2 split in a high part exact in 32 bits and a low correction, so e*ln2_hi is exact.
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  return e * ln2_hi + (2.0 * atanh_s + e * ln2_lo);
}

double det_log(double x) {
  if (x < 0x1p-1022) return log_normal(x * 0x1p54, -54.0);  // subnormal: scaled exactly
  return log_normal(x);
}

// The polar method's factor sqrt(−2 ln s / s) of an accepted pair.
static inline double polar_factor(double s) { return std::sqrt(-2.0 * log_normal(s) / s); }

double rng_normal(Rng& r) {
  if (r.has_spare) {
    r.has_spare = false;
    return r.spare;
  }
  for (;;) {  // Marsaglia polar method: (u, v) uniform in the unit disc
    const double u = 2.0 * rng_uniform(r) - 1.0;
    const double v = 2.0 * rng_uniform(r) - 1.0;
    const double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    const double f = polar_factor(s);  // sqrt is exact-rounded IEEE
    r.spare = v * f;
    r.has_spare = true;
    return u * f;
  }
}

template <class T>
void rng_normal_fill(Rng& r, T* out, int64_t n, double scale) {
  int64_t i = 0;
  if (n > 0 && r.has_spare) {
    out[i++] = static_cast<T>(scale * r.spare);
    r.has_spare = false;
  }
  // The accepted pairs (u, v, s) of the polar method, in rng_normal's order, in three arrays.
  // Without a branch: every candidate is stored, and k moves on when it is accepted (a rejection,
  // 21 % of candidates, no longer costs a mispredicted branch).
  const int64_t pairs = (n - i + 1) / 2;
  thread_local std::vector<double> buf;
  if (buf.size() < static_cast<size_t>(3 * pairs)) buf.resize(static_cast<size_t>(3 * pairs));
  double *U = buf.data(), *V = U + pairs, *S = V + pairs;
  Rng q = r;  // the state in registers
  for (int64_t k = 0; k < pairs;) {
    const double u = 2.0 * rng_uniform(q) - 1.0;
    const double v = 2.0 * rng_uniform(q) - 1.0;
    const double s = u * u + v * v;
    U[k] = u;
    V[k] = v;
    S[k] = s;
    k += (s < 1.0) & (s != 0.0);
  }
  r = q;
  // Each pair gives u·f, v·f with f = sqrt(−2 ln s / s), as rng_normal (then × scale); an odd
  // count leaves v·f of the last pair as the next call's variate. The loop vectorizes.
  T* o = out + i;
  const bool odd = (n - i) % 2 != 0;
  const int64_t whole = odd ? pairs - 1 : pairs;
  team_run(pairs >= 8192 ? team_threads() : 1, [&](int t, int nt) {
    const Range mine = split_range(whole, t, nt);
    for (int64_t k = mine.begin; k < mine.begin + mine.size; ++k) {
      const double f = polar_factor(S[k]);
      o[2 * k] = static_cast<T>(scale * (U[k] * f));
      o[2 * k + 1] = static_cast<T>(scale * (V[k] * f));
    }
  });
  if (odd) {
    const int64_t k = pairs - 1;
    const double f = polar_factor(S[k]);
    o[2 * k] = static_cast<T>(scale * (U[k] * f));
    r.spare = V[k] * f;
    r.has_spare = true;
  }
}
template void rng_normal_fill<float>(Rng&, float*, int64_t, double);
template void rng_normal_fill<double>(Rng&, double*, int64_t, double);

template <class T>
void rng_uniform_fill(Rng& r, T* out, int64_t n, double lo, double hi) {
  Rng q = r;  // the state in registers
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<T>(rng_uniform(q, lo, hi));
  r = q;
}
template void rng_uniform_fill<float>(Rng&, float*, int64_t, double, double);
template void rng_uniform_fill<double>(Rng&, double*, int64_t, double, double);

uint64_t seed_mix(uint64_t a, uint64_t b) {
  uint64_t x = a ^ rotl(b, 23) ^ 0x6a09e667f3bcc909ull;
  splitmix64(x);
  return splitmix64(x);
}

uint64_t hash_bytes(const void* data, std::size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace gl
