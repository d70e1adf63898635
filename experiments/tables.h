// The column lists of the output tables (docs/reference.md §4, §5). Order changes only by
// appending.
#pragma once

#include <array>
#include <string_view>

namespace gl {

inline constexpr std::array<std::string_view, 25> layer_columns = {
    "step",         "layer",          "fan_in",      "fan_out",     "preact_mean",
    "preact_std",   "preact_ms",      "act_mean",    "act_std",     "act_p98",
    "dphi_mean",    "saturated_frac", "dead_frac",   "stuck_frac",  "zero_grad_frac",
    "delta_norm",   "delta_factor",   "grad_w_norm", "grad_b_norm", "w_norm",
    "grad_w_ratio", "nonfinite",      "jac_sv_mean", "theory_q",    "theory_delta_factor"};

inline constexpr std::array<std::string_view, 11> step_columns = {
    "step",    "loss", "probe_loss",      "probe_error", "test_error", "grad_norm",
    "clipped", "lr",   "spectral_radius", "sigma_max",   "elapsed_s"};

inline constexpr std::array<std::string_view, 9> timestep_columns = {
    "step",           "t",         "h_norm",
    "dh_norm",        "dz_norm",   "dh_last_norm",
    "saturated_frac", "dead_frac", "grad_w_contrib_norm"};

inline constexpr std::array<std::string_view, 7> hist_columns = {"step", "layer", "quantity", "bin",
                                                                 "lo",   "hi",    "count"};

inline constexpr std::array<std::string_view, 9> run_columns = {
    "status",     "reason",           "verdict",           "gradient_ratio",  "per_layer_factor",
    "final_loss", "final_probe_loss", "final_probe_error", "final_test_error"};

}  // namespace gl
