// The project's random numbers: the same bits for a seed on every platform and standard library.
//
// Engine: xoshiro256** seeded through splitmix64 (both fully specified by their reference code).
// Transforms are our own (no std::*_distribution): uniform doubles from the top 53 bits, normals
// by Marsaglia's polar method with a log written in +,-,*,/ only (det_log), so no libm result
// enters a variate. rng.cpp is compiled with -ffp-contract=off, so no FMA changes a bit, and
// -fno-math-errno, so that sqrt (IEEE, exactly rounded either way) vectorizes.
#pragma once

#include <cstdint>

namespace gl {

struct Rng {
  uint64_t s[4];
  double spare;  // the second variate of the last polar pair
  bool has_spare;
};

Rng rng_make(uint64_t seed);
uint64_t rng_next(Rng& r);                         // 64 random bits
double rng_uniform(Rng& r);                        // [0, 1), 53-bit resolution
double rng_uniform(Rng& r, double lo, double hi);  // [lo, hi)
double rng_normal(Rng& r);                         // N(0, 1)
// n normals into out: exactly the values, and the state after, of n calls of rng_normal, each
// times scale (in double) and cast to T. The polar pairs are drawn in order on the calling thread;
// their transforms (a log, a square root and a division each, vectorized) run on the OpenMP
// threads when there are many: the stream, and so the data, never depends on the thread count.
template <class T>
void rng_normal_fill(Rng& r, T* out, int64_t n, double scale = 1.0);
// n draws of rng_uniform(r, lo, hi) into out, cast to T: the same values and state after.
template <class T>
void rng_uniform_fill(Rng& r, T* out, int64_t n, double lo, double hi);
uint64_t rng_below(Rng& r, uint64_t n);  // uniform integer in [0, n), unbiased (rejection)

// Hash-combine for seeds: splitmix64 of a ^ rotated b. Used for the documented run-seed rule.
uint64_t seed_mix(uint64_t a, uint64_t b);
// FNV-1a 64-bit of bytes: stable ids and hashes of strings.
uint64_t hash_bytes(const void* data, std::size_t n, uint64_t h = 0xcbf29ce484222325ull);

// ln(x) for finite x > 0 from IEEE +,-,*,/ and the bits of x only (|error| < 2 ulp);
// bit-identical everywhere.
double det_log(double x);

}  // namespace gl
