// The closed set of weight initializers (docs/reference.md §3.2) and bias initializers.
// fan_in / fan_out are the layer's input / output sizes; W is (fan_out, fan_in).
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "harness/core/closed_set.h"
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
  count
};
inline constexpr int init_count = static_cast<int>(count_of<Init>);

enum class FanMode { fan_in, fan_out, count };
inline constexpr std::string_view fan_mode_names[] = {"fan_in", "fan_out"};
static_assert(std::size(fan_mode_names) == count_of<FanMode>);

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

enum class BiasKind { constant, gaussian, count };
struct BiasSpec {
  BiasKind kind = BiasKind::constant;
  double value = 0.0;     // constant
  double sigma_b2 = 0.0;  // gaussian: b ~ N(0, sigma_b2)
};

// ---- the tables: one row per initializer ----

using InitParam = Param<InitSpec>;
// Every initializer takes gain first and the spectral rescalings last.
inline constexpr InitParam init_params_first[] = {
    {.name = "gain", .at = member<&InitSpec::gain>, .def = 1.0, .range = positive}};
inline constexpr InitParam init_params_last[] = {{.name = "spectral_radius",
                                                  .at = member<&InitSpec::spectral_radius>,
                                                  .def = nan_v,
                                                  .range = positive},
                                                 {.name = "spectral_norm",
                                                  .at = member<&InitSpec::spectral_norm>,
                                                  .def = nan_v,
                                                  .range = positive,
                                                  .excludes = "spectral_radius"}};
inline constexpr InitParam fan_params[] = {{.name = "mode",
                                            .at = member<&InitSpec::mode>,
                                            .def = 0,
                                            .type = ParamType::choice,
                                            .choices = fan_mode_names}};
inline constexpr InitParam gaussian_params[] = {
    {.name = "sigma_w2", .at = member<&InitSpec::sigma_w2>, .def = 1.0, .range = positive},
    {.name = "std",
     .at = member<&InitSpec::std>,
     .def = nan_v,
     .range = positive,
     .excludes = "sigma_w2"}};
inline constexpr InitParam uniform_params[] = {
    {.name = "scale", .at = member<&InitSpec::scale>, .def = 0.05, .range = positive}};
inline constexpr InitParam sparse_params[] = {
    {.name = "nonzero_per_row",
     .at = member<&InitSpec::nonzero_per_row>,
     .def = 15,
     .type = ParamType::integer,
     .range = {1, 10'000'000}},
    {.name = "std", .at = member<&InitSpec::std>, .def = 1.0, .range = positive}};
inline constexpr std::string_view glorot_standard_aliases[] = {"standard"};
inline constexpr std::string_view glorot_uniform_aliases[] = {"xavier_uniform", "normalized"};
inline constexpr std::string_view glorot_normal_aliases[] = {"xavier_normal"};
inline constexpr std::string_view he_normal_aliases[] = {"kaiming_normal"};
inline constexpr std::string_view he_uniform_aliases[] = {"kaiming_uniform"};

struct InitInfo {
  Init kind;
  std::string_view name;
  std::span<const InitParam> params;  // between init_params_first and init_params_last
  std::string_view catalog;           // its line in `gradlab list`
  std::span<const std::string_view> aliases = {};
};

// clang-format off
inline constexpr InitInfo init_table[] = {
    {Init::glorot_standard, "glorot_standard", {},              "U[-1/sqrt(fan_in), 1/sqrt(fan_in)]",
     glorot_standard_aliases},
    {Init::glorot_uniform,  "glorot_uniform",  {},              "U[+-sqrt(6/(fan_in+fan_out))]",
     glorot_uniform_aliases},
    {Init::glorot_normal,   "glorot_normal",   {},              "N(0, 2/(fan_in+fan_out))",
     glorot_normal_aliases},
    {Init::he_normal,       "he_normal",       fan_params,      "N(0, 2/fan)  mode=fan_in | fan_out",
     he_normal_aliases},
    {Init::he_uniform,      "he_uniform",      fan_params,      "U[+-sqrt(6/fan)]  mode=fan_in | fan_out",
     he_uniform_aliases},
    {Init::lecun_normal,    "lecun_normal",    fan_params,      "N(0, 1/fan)  mode=fan_in | fan_out"},
    {Init::lecun_uniform,   "lecun_uniform",   fan_params,      "U[+-sqrt(3/fan)]  mode=fan_in | fan_out"},
    {Init::orthogonal,      "orthogonal",      {},              "(semi-)orthogonal, from the QR of a Gaussian matrix"},
    {Init::gaussian,        "gaussian",        gaussian_params, "N(0, sigma_w2/fan_in)  sigma_w2=1, or std (N(0, std^2))"},
    {Init::uniform,         "uniform",         uniform_params,  "U[-scale, scale]  scale=0.05"},
    {Init::sparse,          "sparse",          sparse_params,   "nonzero_per_row=15 Gaussian entries per row (std=1), rest 0"},
    {Init::identity,        "identity",        {},              "the identity, for square W"},
};
// clang-format on
static_assert(rows_in_enum_order(init_table));

constexpr const InitInfo& init_info(Init k) { return init_table[static_cast<size_t>(k)]; }

using BiasParam = Param<BiasSpec>;
inline constexpr BiasParam bias_constant_params[] = {
    {.name = "value", .at = member<&BiasSpec::value>, .def = 0.0}};
inline constexpr BiasParam bias_gaussian_params[] = {{.name = "sigma_b2",
                                                      .at = member<&BiasSpec::sigma_b2>,
                                                      .def = 0.0,
                                                      .range = non_negative,
                                                      .required = true}};

struct BiasInfo {
  BiasKind kind;
  std::string_view name;
  std::span<const BiasParam> params;
  std::string_view catalog;
};
inline constexpr BiasInfo bias_table[] = {
    {BiasKind::constant, "constant", bias_constant_params, "value=0"},
    {BiasKind::gaussian, "gaussian", bias_gaussian_params,
     "sigma_b2 (>= 0, required): b ~ N(0, sigma_b2)"},
};
static_assert(rows_in_enum_order(bias_table));

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
