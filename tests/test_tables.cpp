// The output rows of experiments/tables.h: headers from the field lists, in the documented order
// (docs/reference.md §4), and the cells they write.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "experiments/run.h"
#include "experiments/tables.h"
#include "harness/measure/metrics.h"

using namespace gl;

namespace {

std::vector<std::string> strings_of(const std::vector<std::string_view>& v) {
  return {v.begin(), v.end()};
}

}  // namespace

// The headers are the field lists' names, in the documented order (docs/reference.md §4).
TEST(Tables, HeadersComeFromTheFieldLists) {
  EXPECT_EQ(strings_of(row_columns<LayerRow>()), (std::vector<std::string>{"step",
                                                                           "layer",
                                                                           "fan_in",
                                                                           "fan_out",
                                                                           "preact_mean",
                                                                           "preact_std",
                                                                           "preact_ms",
                                                                           "act_mean",
                                                                           "act_std",
                                                                           "act_p98",
                                                                           "dphi_mean",
                                                                           "saturated_frac",
                                                                           "dead_frac",
                                                                           "stuck_frac",
                                                                           "zero_grad_frac",
                                                                           "delta_norm",
                                                                           "delta_factor",
                                                                           "grad_w_norm",
                                                                           "grad_b_norm",
                                                                           "w_norm",
                                                                           "grad_w_ratio",
                                                                           "nonfinite",
                                                                           "jac_sv_mean",
                                                                           "theory_q",
                                                                           "theory_delta_factor",
                                                                           "act_absmax",
                                                                           "stream_grad_norm",
                                                                           "prenorm_mean",
                                                                           "prenorm_std",
                                                                           "grad_gamma_norm",
                                                                           "grad_beta_norm",
                                                                           "update_ratio",
                                                                           "update_ratio_mean",
                                                                           "effective_lr"}));
  EXPECT_EQ(
      strings_of(row_columns<StepRow>()),
      (std::vector<std::string>{
          "step", "loss", "probe_loss", "probe_error", "test_error", "grad_norm", "clipped", "lr",
          "spectral_radius", "sigma_max", "elapsed_s", "update_ratio_rec", "update_ratio_rec_mean",
          "effective_lr_rec", "update_ratio_in", "update_ratio_in_mean", "effective_lr_in"}));
  std::vector<std::string> timestep_columns = {"step",           "t",         "h_norm",
                                               "dh_norm",        "dz_norm",   "dh_last_norm",
                                               "saturated_frac", "dead_frac", "grad_w_contrib_norm",
                                               "dc_norm"};
  for (const char* g : {"i", "f", "g", "o", "r", "z", "n"})
    for (const std::string& c :
         {"gate_" + std::string(g) + "_mean", "gate_" + std::string(g) + "_saturated_frac",
          "grad_whh_" + std::string(g) + "_contrib_norm"})
      timestep_columns.push_back(c);
  EXPECT_EQ(strings_of(row_columns<TimestepRow>()), timestep_columns);
  EXPECT_EQ(strings_of(row_columns<HistRow>()),
            (std::vector<std::string>{"step", "layer", "quantity", "bin", "lo", "hi", "count"}));
}

// Cells: integers as integers, numbers by num_text, empty optionals empty, blank and nonfinite
// fields as documented, checkpoint-only fields absent.
TEST(Tables, CellsFollowTheFieldLists) {
  const auto cells_of = [](const auto& row) {
    std::vector<std::string> c;
    row_cells(row, Precision::float64, c);
    return c;
  };
  HistRow h{3, 2, HistQuantity::delta, 4, false, 0.5, 0.75, 9};
  EXPECT_EQ(cells_of(h), (std::vector<std::string>{"3", "2", "delta", "4", "0.5", "0.75", "9"}));
  h.nonfinite = true;
  EXPECT_EQ(cells_of(h), (std::vector<std::string>{"3", "2", "delta", "nonfinite", "", "", "9"}));
  StepRow s;
  s.step = 7;
  s.probe_loss = 0.25;
  s.clipped = 1;
  s.elapsed_s = 12.5;  // wall clock: never in the table
  EXPECT_EQ(cells_of(s), (std::vector<std::string>{"7", "", "0.25", "0", "", "", "1", "", "", "",
                                                   "", "", "", "", "", "", ""}));
  LayerRow l;
  l.nonfinite_z = 5;  // locates first_nonfinite; not a column
  EXPECT_EQ(cells_of(l).size(), row_columns<LayerRow>().size());
}
