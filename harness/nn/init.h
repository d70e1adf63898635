// The closed set of weight initializers (docs/reference.md §3.2) and bias initializers.
// fan_in / fan_out are the layer's input / output sizes; W is (fan_out, fan_in).
#pragma once

#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "harness/core/rng.h"
#include "harness/core/types.h"

namespace gl {

enum class Init {
  glorot_standard,
  glorot_uniform,
  glorot_normal,
  he_normal,
  he_uniform,
  lecun_normal,
  lecun_uniform,
  orthogonal,
  gaussian,
  uniform,
  sparse,
  identity,
};
inline constexpr int init_count = 12;
inline constexpr std::array<std::string_view, init_count> init_names = {
    "glorot_standard", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal",
    "lecun_uniform",   "orthogonal",     "gaussian",      "uniform",   "sparse",     "identity"};

enum class FanMode { fan_in, fan_out };

inline constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

struct InitSpec {
  Init kind = Init::glorot_uniform;
  double gain = 1.0;
  FanMode mode = FanMode::fan_in;  // he_*, lecun_*
  double sigma_w2 = nan_v;         // gaussian: Var W = sigma_w2 / fan_in (default 1) ...
  double std = nan_v;              // ... or Var W = std² (gaussian; sparse's non-zeros, default 1)
  double scale = 0.05;             // uniform: U[-scale, scale]
  int nonzero_per_row = 15;        // sparse
  double spectral_radius = nan_v;  // rescale W (square) to this spectral radius
  double spectral_norm = nan_v;    // rescale W to this largest singular value
};

enum class BiasKind { constant, gaussian };
struct BiasSpec {
  BiasKind kind = BiasKind::constant;
  double value = 0.0;     // constant
  double sigma_b2 = 0.0;  // gaussian: b ~ N(0, sigma_b2)
};

std::string_view init_name(Init k);
// Canonical names and aliases: standard, xavier_uniform, normalized, xavier_normal, kaiming_normal,
// kaiming_uniform.
std::optional<Init> init_from_name(std::string_view name);
std::string init_names_list();

// Fill W (already sized (fan_out, fan_in)) and b.
template <class T>
void init_weights(const InitSpec& s, Mat<T>& W, Rng& rng);
template <class T>
void init_bias(const BiasSpec& s, Vec<T>& b, Rng& rng);

// The variance the scheme gives each entry of a (fan_out, fan_in) W, as σ_w² = fan_in·Var W
// (the mean-field parametrization); NaN where it is not i.i.d.-like (sparse, identity, rescaled).
double init_sigma_w2(const InitSpec& s, Index fan_in, Index fan_out);
double bias_sigma_b2(const BiasSpec& s);  // E[b²]

}  // namespace gl
