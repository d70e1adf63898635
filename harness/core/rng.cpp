#include "harness/core/rng.h"

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

double det_log(double x) {
  // x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln x = e ln2 + 2 atanh(s), s = (m-1)/(m+1), |s| <
  // 0.1716.
  int e = 0;
  double m = std::frexp(x, &e);  // m in [0.5, 1)
  if (m < 0.70710678118654752440) {
    m *= 2.0;
    e -= 1;
  }
  const double s = (m - 1.0) / (m + 1.0);
  const double s2 = s * s;
  // atanh(s) = s (1 + s2/3 + s2^2/5 + ...); s2 < 0.0295, 13 terms reach 1e-20 relative.
  double sum = 0.0;
  for (int k = 13; k >= 1; --k) sum = sum * s2 + 1.0 / (2.0 * k + 1.0);
  const double atanh_s = s + s * s2 * sum;
  // ln2 split in a high part exact in 32 bits and a low correction, so e*ln2_hi is exact.
  const double ln2_hi = 6.93147180369123816490e-01;
  const double ln2_lo = 1.90821492927058770002e-10;
  const double de = static_cast<double>(e);
  return de * ln2_hi + (2.0 * atanh_s + de * ln2_lo);
}

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
    const double f = std::sqrt(-2.0 * det_log(s) / s);  // sqrt is exact-rounded IEEE
    r.spare = v * f;
    r.has_spare = true;
    return u * f;
  }
}

template <class T>
void rng_normal_fill(Rng& r, T* out, int64_t n) {
  int64_t i = 0;
  if (n > 0 && r.has_spare) {
    out[i++] = static_cast<T>(r.spare);
    r.has_spare = false;
  }
  // The accepted pairs (u, v, s) of the polar method, in rng_normal's order.
  const int64_t pairs = (n - i + 1) / 2;
  thread_local std::vector<double> uvs;
  if (uvs.size() < static_cast<size_t>(3 * pairs)) uvs.resize(static_cast<size_t>(3 * pairs));
  double* p = uvs.data();
  for (int64_t k = 0; k < pairs;) {
    const double u = 2.0 * rng_uniform(r) - 1.0;
    const double v = 2.0 * rng_uniform(r) - 1.0;
    const double s = u * u + v * v;
    if (s >= 1.0 || s == 0.0) continue;
    p[3 * k] = u;
    p[3 * k + 1] = v;
    p[3 * k + 2] = s;
    ++k;
  }
  // Each pair gives u·f, v·f with f = sqrt(-2 ln s / s), as rng_normal; an odd count leaves v·f
  // of the last pair as the next call's variate.
  T* o = out + i;
  const bool odd = (n - i) % 2 != 0;
  team_run(pairs >= 8192 ? team_threads() : 1, [&](int t, int nt) {
    const Range mine = split_range(pairs, t, nt);
    for (int64_t k = mine.begin; k < mine.begin + mine.size; ++k) {
      const double f = std::sqrt(-2.0 * det_log(p[3 * k + 2]) / p[3 * k + 2]);
      o[2 * k] = static_cast<T>(p[3 * k] * f);
      if (!odd || k + 1 < pairs) o[2 * k + 1] = static_cast<T>(p[3 * k + 1] * f);
    }
  });
  if (odd && pairs > 0) {
    const int64_t k = pairs - 1;
    r.spare = p[3 * k + 1] * std::sqrt(-2.0 * det_log(p[3 * k + 2]) / p[3 * k + 2]);
    r.has_spare = true;
  }
}
template void rng_normal_fill<float>(Rng&, float*, int64_t);
template void rng_normal_fill<double>(Rng&, double*, int64_t);

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
