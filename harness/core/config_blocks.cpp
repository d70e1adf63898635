// Reading model.residual, model.norm and probe.norm_batch (docs/reference.md §3, "Residual
// blocks and norm layers"): config.cpp calls config_read_blocks once the sections are read.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "harness/core/config.h"

namespace gl {

namespace {

// model.residual: null, or {"block": 1|2, "alpha": number ≥ 0 | "1/sqrt(L)" | "rezero"}.
ResidualSpec read_residual(const Reader& model, const ModelConfig& m) {
  ResidualSpec s;
  const json* v = model.find("residual");
  if (!v || v->is_null()) return s;
  const std::string path = at(model.path, "residual");
  if (!v->is_object()) {
    model.bad("residual", "null or an object with \"block\" and \"alpha\"", *v);
    return s;
  }
  const Reader r{v, path, model.issues};
  check_keys(r, {"block", "alpha"});
  s.block = read_int32(r, "block", 1, 2, 1);
  if (const json* a = r.find("alpha")) {
    const std::string text = a->is_string() ? a->get<std::string>() : std::string();
    if (text == alpha_kind_names[1])
      s.alpha_kind = AlphaKind::inv_sqrt_blocks;
    else if (text == alpha_kind_names[2])
      s.alpha_kind = AlphaKind::rezero;
    else if (a->is_number() && std::isfinite(a->get<double>()) && a->get<double>() >= 0)
      s.alpha = a->get<double>();
    else
      r.bad("alpha", "a number >= 0, \"1/sqrt(L)\" or \"rezero\"", *a);
  }
  if (m.hidden.empty()) return s;
  for (size_t i = 1; i < m.hidden.size(); ++i)
    if (m.hidden[i] != m.hidden[0]) {
      model.issues->push_back(
          {fmt::format("{}/hidden/{}", model.path, i),
           fmt::format("a residual net needs equal hidden widths (the stream's): expected {}, "
                       "found {}",
                       m.hidden[0], m.hidden[i])});
      return s;
    }
  const int L = static_cast<int>(m.hidden.size());
  if (L < 1 + s.block || (L - 1) % s.block != 0) {
    const std::string key = model.has("depth") ? "depth" : "hidden";
    model.add(key,
              fmt::format("a residual net with model.residual.block {0} needs depth 1 + {0}·blocks "
                          "({1}, {2}, {3}, …: the input projection, then the blocks), found {4}",
                          s.block, 1 + s.block, 1 + 2 * s.block, 1 + 3 * s.block, L));
  }
  return s;
}

// model.norm: null, or {"kind": "batch"|"layer", "placement": "before"|"after"}.
void read_norm(const Reader& model, BlocksSpec& b) {
  const json* v = model.find("norm");
  if (!v || v->is_null()) return;
  if (!v->is_object()) {
    model.bad("norm", "null or an object with \"kind\" and \"placement\"", *v);
    return;
  }
  const Reader r{v, at(model.path, "norm"), model.issues};
  check_keys(r, {"kind", "placement"});
  static constexpr std::string_view kinds[] = {"batch", "layer"};
  if (!r.has("kind"))
    r.missing("kind", choice_text(kinds));
  else
    b.norm.kind = static_cast<NormKind>(1 + read_choice(r, "kind", kinds, 0));
  b.placement = read_enum(r, "placement", norm_placement_names, NormPlacement::before);
}

}  // namespace

void config_read_blocks(const json& root, Config& c, Issues& issues) {
  const json* mj = root.contains("model") ? &root["model"] : nullptr;
  const bool mlp = mj && mj->is_object() && c.model.type == ModelType::mlp;
  const Reader model{mlp ? mj : nullptr, "/model", &issues};
  BlocksSpec& b = c.model.blocks;
  if (mlp) {
    b.residual = read_residual(model, c.model);
    read_norm(model, b);
  }
  const bool any = b.residual.block > 0 || b.norm.kind != NormKind::none;
  if (any && c.model.activation.kind == Activation::maxout)
    model.add("activation",
              "\"maxout\" is not available with model.residual or model.norm (its k pieces per "
              "unit); use another activation");
  const json* pj = root.contains("probe") ? &root["probe"] : nullptr;
  const Reader probe{pj && pj->is_object() ? pj : nullptr, "/probe", &issues};
  if (any && c.probe.jacobian)
    probe.add("jacobian",
              "not available with model.residual or model.norm (the Jacobians are "
              "of plain layers)");
  if (const json* nb = probe.find("norm_batch")) {
    int64_t n = 0;
    if (b.norm.kind != NormKind::batch)
      probe.add("norm_batch", "only with model.norm.kind \"batch\"");
    else if (nb->is_string() && nb->get<std::string>() == "all")
      c.probe.norm_batch = 0;
    else if (int_value(*nb, 2, 1'000'000, n))
      c.probe.norm_batch = static_cast<int>(n);
    else
      probe.bad("norm_batch", "an integer in 2..1000000 or \"all\"", *nb);
  }
  if (b.norm.kind == NormKind::batch && !c.probe.norm_batch)
    c.probe.norm_batch = std::min(c.train.batch_size, c.probe.samples);
  if (b.norm.kind == NormKind::batch && c.train.steps > 0 && c.train.batch_size < 2) {
    const json* tj = root.contains("train") ? &root["train"] : nullptr;
    const Reader train{tj && tj->is_object() ? tj : nullptr, "/train", &issues};
    train.add("batch_size", fmt::format("at least 2 with model.norm.kind \"batch\" (its batch "
                                        "variance), found {}",
                                        c.train.batch_size));
  }
}

void config_write_blocks(const Config& c, json& j) {
  const BlocksSpec& b = c.model.blocks;
  if (b.residual.block > 0) {
    const ResidualSpec& r = b.residual;
    j["model"]["residual"] = {{"block", r.block},
                              {"alpha", r.alpha_kind == AlphaKind::number
                                            ? json(r.alpha)
                                            : json(enum_name(alpha_kind_names, r.alpha_kind))}};
  }
  if (b.norm.kind != NormKind::none)
    j["model"]["norm"] = {{"kind", enum_name(norm_kind_names, b.norm.kind)},
                          {"placement", enum_name(norm_placement_names, b.placement)}};
  if (b.norm.kind == NormKind::batch)
    j["probe"]["norm_batch"] =
        c.probe.norm_batch.value_or(0) > 0 ? json(*c.probe.norm_batch) : json("all");
}

int probe_norm_group(const Config& c) {
  const int n = c.probe.norm_batch.value_or(0);
  return n >= c.probe.samples ? 0 : n;
}

}  // namespace gl
