// The output tables (docs/reference.md §4, §5) as CSV text, generated from the row field lists
// (row_fields: harness/measure/metrics.h, experiments/run.h). Each table row starts with the run
// columns (run, the grid axes, repeat, seed) given as `lead`.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "experiments/run.h"
#include "harness/core/io.h"

namespace gl {

// The summary.json keys that runs.csv shows, in column order (appending only).
// clang-format off
inline constexpr std::array<std::string_view, 12> run_columns = {
    "status", "reason", "verdict", "gradient_ratio", "per_layer_factor",
    "final_loss", "final_probe_loss", "final_probe_error", "final_test_error",
    "final_gradient_ratio", "final_per_layer_factor", "final_verdict"};
// clang-format on

// The column names of a row type, in order (fields with Cell::none are not columns).
template <class Row>
std::vector<std::string_view> row_columns() {
  std::vector<std::string_view> names;
  const Row r{};
  row_fields(r, [&](std::string_view name, const auto&, Cell cell = Cell::value) {
    if (cell != Cell::none) names.push_back(name);
  });
  return names;
}

// The text of one cell holding v.
template <class V>
std::string cell_text(const V& v, Precision p) {
  if constexpr (std::is_same_v<V, double>)
    return num_text(v, p);
  else if constexpr (std::is_same_v<V, HistQuantity>)
    return std::string(hist_quantity_names[static_cast<size_t>(v)]);
  else if constexpr (std::is_integral_v<V>)
    return std::to_string(v);
  else  // an optional: empty when it holds nothing
    return v ? cell_text(*v, p) : "";
}

// The cells of one row after the lead cells.
template <class Row>
void row_cells(const Row& r, Precision p, std::vector<std::string>& cells) {
  row_fields(r, [&](std::string_view, const auto& v, Cell cell = Cell::value) {
    switch (cell) {
      case Cell::value:
        cells.push_back(cell_text(v, p));
        break;
      case Cell::blank:
        cells.emplace_back();
        break;
      case Cell::nonfinite:
        cells.emplace_back("nonfinite");
        break;
      case Cell::none:
        break;
    }
  });
}

// A whole table: the header (lead_names, then the row's columns) and one line per row.
template <class Row>
std::string rows_csv(const std::vector<std::string>& lead_names,
                     const std::vector<std::string>& lead, const std::vector<Row>& rows,
                     Precision p) {
  std::vector<std::string> cells = lead_names;
  for (std::string_view c : row_columns<Row>()) cells.emplace_back(c);
  std::string s = csv_line(cells);
  for (const Row& r : rows) {
    cells = lead;
    row_cells(r, p, cells);
    s += csv_line(cells);
  }
  return s;
}

}  // namespace gl
