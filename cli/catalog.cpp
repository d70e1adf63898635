#include "cli/catalog.h"

#include <fmt/format.h>

#include <span>
#include <string_view>

#include "harness/core/config.h"

namespace gl {

namespace {

// "  name              text" (the name padded to 18), and the aliases from column `alias_at` of
// the text.
void catalog_line(std::string& s, std::string_view name, std::string_view text,
                  std::span<const std::string_view> aliases = {}, size_t alias_at = 0) {
  std::string rest(text);
  if (!aliases.empty()) {
    std::string list;
    for (auto a : aliases) list += (list.empty() ? "" : ", ") + std::string(a);
    rest =
        fmt::format("{:<{}}{}: {}", rest, alias_at, aliases.size() > 1 ? "aliases" : "alias", list);
  }
  s += rest.empty() ? fmt::format("  {}\n", name) : fmt::format("  {:<18}{}\n", name, rest);
}

}  // namespace

std::string catalog_text() {
  std::string s;
  s += "activations (model.activation: a name, or {\"name\": ..., parameters}; default tanh)\n";
  for (const ActivationInfo& a : activation_table)
    catalog_line(s, a.name, a.catalog, a.aliases, 45);
  s += "\ninitializers (model.init, output_init, recurrent_init, input_init: a name, or "
       "{\"name\": ..., parameters}; default glorot_uniform, recurrent_init orthogonal)\n"
       "  every one takes gain=1, spectral_radius (> 0) or spectral_norm (> 0)\n";
  for (const InitInfo& i : init_table) catalog_line(s, i.name, i.catalog, i.aliases, 46);
  s += "\nbias initializers (model.bias_init: a number, or an object)\n";
  for (const BiasInfo& b : bias_table) catalog_line(s, b.name, b.catalog);
  s += "\ndatasets (data.name; every one takes test_samples=1000)\n";
  for (const DatasetInfo& d : dataset_table)
    if (!d.sequence) catalog_line(s, d.name, d.catalog);
  s += "\ntasks (model.type \"rnn\"; T = data.length)\n";
  for (const DatasetInfo& d : dataset_table)
    if (d.sequence) catalog_line(s, d.name, d.catalog);
  s += "\nlosses (loss)\n";
  for (const LossInfo& l : loss_table) catalog_line(s, l.name, l.catalog);
  return s;
}

}  // namespace gl
