#include "cli/theory_cmd.h"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "experiments/run.h"
#include "harness/core/io.h"
#include "harness/data/data.h"

namespace gl {

namespace fs = std::filesystem;

namespace {

// σ_w², σ_b² per layer and q0 for one run, as a run would compute them (data only, no network).
TheoryInput theory_input_of(const RunSpec& r) {
  const Config& c = r.config;
  Dataset<double> data = dataset_make<double>(c, r.data_seed);
  Mat<double> px;
  Targets<double> pt;
  dataset_sample(data, Split::probe, c.probe.samples, px, pt);
  TheoryInput in;
  in.act = c.model.activation;
  Index fan_in = data.info.inputs;
  const size_t L = c.model.hidden.size();
  for (size_t l = 0; l <= L; ++l) {
    const Index fan_out = l < L ? c.model.hidden[l] : data.info.outputs;
    in.sigma_w2.push_back(
        init_sigma_w2(l < L ? c.model.init : c.model.output_init, fan_in, fan_out));
    in.sigma_b2.push_back(bias_sigma_b2(c.model.bias_init));
    fan_in = fan_out;
  }
  in.q0 = px.squaredNorm() / static_cast<double>(px.size());
  const ResidualSpec& res = c.model.blocks.residual;
  in.residual_block = res.block;
  if (res.block > 0) in.residual_alpha = residual_alpha(res, static_cast<int>(L - 1) / res.block);
  return in;
}

// Every input the theory reads except q0, exactly (shortest round-trip decimals).
std::string theory_key(const TheoryInput& in, double weight_s1) {
  const ActivationSpec& a = in.act;
  std::string k =
      fmt::format("{} {} {} {} {} {} {} {}|{}|", activation_name(a.kind), a.slope, a.lower, a.upper,
                  static_cast<int>(a.convention), a.alpha, a.beta, a.pieces, weight_s1);
  for (size_t l = 0; l < in.sigma_w2.size(); ++l)
    k += fmt::format("{},{};", in.sigma_w2[l], in.sigma_b2[l]);
  if (in.residual_block > 0)
    k += fmt::format("|residual {} {}", in.residual_block, in.residual_alpha);
  return k;
}

// "a, b, c" wrapped at 100 columns, continuation lines indented like the first.
std::string list_text(const std::vector<std::string>& items, size_t indent) {
  std::string s, line;
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string item = items[i] + (i + 1 < items.size() ? "," : "");
    if (!line.empty() && indent + line.size() + 1 + item.size() > 100) {
      s += line + "\n" + std::string(indent, ' ');
      line.clear();
    }
    line += (line.empty() ? "" : " ") + item;
  }
  return s + line;
}

// One block of the text output: which runs it covers, their inputs, the table and the fixed point.
void block_print(const TheoryPlan& p, const std::vector<size_t>& block, size_t b) {
  const TheoryRun& t = p.runs[block.front()];
  fmt::print(
      "== block {}/{}: {}{}, sigma_w2 {:.6g}, sigma_b2 {:.6g}, {} hidden layer{}, q0 {:.6g}\n",
      b + 1, p.blocks.size(), t.in.residual_block > 0 ? "residual " : "",
      activation_name(t.in.act.kind), t.in.sigma_w2[t.k], t.in.sigma_b2[t.k], t.layers.chi.size(),
      t.layers.chi.size() == 1 ? "" : "s", t.in.q0);
  std::vector<std::string> ids, q0s;
  for (size_t i : block) {
    ids.push_back(p.runs[i].run->id);
    const std::string q0 = fmt::format("{:.6g}", p.runs[i].in.q0);
    if (std::find(q0s.begin(), q0s.end(), q0) == q0s.end()) q0s.push_back(q0);
  }
  const std::string runs = fmt::format("   {} run{}: ", ids.size(), ids.size() == 1 ? "" : "s");
  fmt::print("{}{}\n", runs, list_text(ids, runs.size()));
  if (q0s.size() > 1) {
    const std::string head = "   q0 of its repeats (other probe sets): ";
    fmt::print("{}{}\n   (the numbers below are at the first; --json and --out have each run's)\n",
               head, list_text(q0s, head.size()));
  }
  if (t.in.residual_block > 0) {  // the fixed point and depth scales are of plain layers
    fmt::print(
        "{}residual blocks of {} layer{}, alpha {:.6g}: q and chi of the rows of "
        "layers.csv (docs/reference.md §4.3); no fixed point\n",
        theory_table(t.layers), t.in.residual_block, t.in.residual_block == 1 ? "" : "s",
        t.in.residual_alpha);
    return;
  }
  fmt::print("{}{}\n", theory_table(t.layers), theory_fixed_text(t.fixed));
}

// The run's entry of theory.json.
json run_json(const TheoryRun& t, size_t block) {
  json j = {{"run", t.run->id}};
  if (!t.reason.empty()) {
    j["applies"] = false;
    j["reason"] = t.reason;
    return j;
  }
  const TheoryFixed& f = t.fixed;
  j["applies"] = true;
  j["block"] = block + 1;
  j["sigma_w2"] = json_num(t.in.sigma_w2[t.k]);
  j["sigma_b2"] = json_num(t.in.sigma_b2[t.k]);
  j["q0"] = json_num(t.in.q0);
  if (t.in.residual_block > 0)
    j["residual"] = {{"block", t.in.residual_block}, {"alpha", json_num(t.in.residual_alpha)}};
  j["q_star"] = json_num(f.q_star);
  j["chi1"] = json_num(f.chi1);
  j["xi_q"] = json_num(f.xi_q);
  j["xi_c"] = json_num(f.xi_c);
  j["xi_grad"] = json_num(f.xi_grad);
  j["sigma_w2_crit"] = json_num(f.sigma_w2_crit);
  j["c_star"] = json_num(f.c_star);
  j["weight_s1"] = json_num(t.weight_s1);
  json notes = json::object();
  for (const auto& [name, note] : theory_notes_list(f.notes)) notes[name] = note;
  j["notes"] = notes;
  json layers = json::array();
  for (size_t l = 0; l < t.layers.q.size(); ++l) {
    const bool hidden = l < t.layers.chi.size();
    json row = {{"layer", l + 1},
                {"q", json_num(t.layers.q[l])},
                {"chi", hidden ? json_num(t.layers.chi[l]) : json(nullptr)}};
    // μ₁, μ₂ of φ′ at q_l (theory_dphi_moment), for the Jacobian-spectrum prediction.
    for (int m : {1, 2})
      row[m == 1 ? "mu1" : "mu2"] =
          hidden ? json_num(theory_dphi_moment(t.in.act, t.layers.q[l], m)) : json(nullptr);
    layers.push_back(row);
  }
  j["layers"] = layers;
  return j;
}

// theory.csv: run, the grid axes, repeat, seed, layer, q, chi; one row per layer of every run the
// theory applies to.
std::string theory_csv(const Experiment& e, const TheoryPlan& p) {
  std::string csv = "run";
  for (const GridAxis& a : e.axes) csv += "," + csv_cell(a.name);
  csv += ",repeat,seed,layer,q,chi\n";
  for (const TheoryRun& t : p.runs) {
    if (!t.reason.empty()) continue;
    const RunSpec& r = *t.run;
    for (size_t l = 0; l < t.layers.q.size(); ++l) {
      csv += csv_cell(r.id);
      for (const GridAxis& a : e.axes) csv += "," + csv_cell(axis_value_text(r.point.at(a.name)));
      csv += fmt::format(
          ",{},{},{},{},{}\n", r.repeat, r.seed, l + 1, num_text(t.layers.q[l], Precision::float64),
          l < t.layers.chi.size() ? num_text(t.layers.chi[l], Precision::float64) : "");
    }
  }
  return csv;
}

// One stderr line per reason, naming the runs it covers.
void skipped_print(const TheoryPlan& p) {
  std::vector<std::pair<std::string, std::vector<std::string>>> by_reason;
  for (const TheoryRun& t : p.runs) {
    if (t.reason.empty()) continue;
    auto it = std::find_if(by_reason.begin(), by_reason.end(),
                           [&](const auto& x) { return x.first == t.reason; });
    if (it == by_reason.end()) it = by_reason.insert(by_reason.end(), {t.reason, {}});
    it->second.push_back(t.run->id);
  }
  for (const auto& [reason, ids] : by_reason) {
    const char* detail = reason == theory_reason_chain ? " (these are chains, model.type rnn)" : "";
    fmt::print(stderr, "gradlab theory: {}{}; no prediction for {} run{}:\n    {}\n", reason,
               detail, ids.size(), ids.size() == 1 ? "" : "s", list_text(ids, 4));
  }
}

}  // namespace

TheoryPlan theory_plan(const Experiment& e) {
  TheoryPlan p;
  std::map<std::string, size_t> computed;  // key with the run's own q0 → a run holding it
  std::map<std::string, double> point_q0;  // point → q0 of its first repeat
  std::map<std::string, size_t> block_of;  // key → block
  for (const RunSpec& r : e.runs) {
    TheoryRun t;
    t.run = &r;
    t.reason = theory_reason(r.config);
    if (t.reason.empty()) {
      t.in = theory_input_of(r);
      if (!std::all_of(t.in.sigma_w2.begin(), t.in.sigma_w2.end(),
                       [](double v) { return std::isfinite(v); }))
        t.reason = "the init is not i.i.d. (sparse, identity or spectrally rescaled)";  // no σ_w²
    }
    if (!t.reason.empty()) {
      p.runs.push_back(std::move(t));
      continue;
    }
    // The fixed point uses the hidden layers' (σ_w², σ_b²): layer 2's when there is one (layer 1
    // and the output layer may have other fan-ins).
    t.k = t.in.sigma_w2.size() > 2 ? 1 : 0;
    t.weight_s1 = theory_weight_s1(r.config.model.init.kind);
    const std::string inputs = theory_key(t.in, t.weight_s1);
    const std::string exact = inputs + fmt::format("{}", t.in.q0);
    if (auto it = computed.find(exact); it != computed.end()) {
      t.layers = p.runs[it->second].layers;
      t.fixed = p.runs[it->second].fixed;
    } else {
      t.layers = theory_layers(t.in);
      // The map of layer k + 1 starts from q_k (q_1 when k = 1), so a q* that depends on where
      // the iteration starts (V(q) = q) is the network's own.
      const double q_start = t.k > 0 ? t.layers.q[t.k - 1] : t.in.q0;
      t.fixed = theory_fixed(t.in.act, t.in.sigma_w2[t.k], t.in.sigma_b2[t.k], q_start);
      computed.emplace(exact, p.runs.size());
    }
    const double q0 = point_q0.emplace(r.point.dump(), t.in.q0).first->second;
    t.key = inputs + fmt::format("{}", q0);
    auto [b, fresh] = block_of.emplace(t.key, p.blocks.size());
    if (fresh) p.blocks.emplace_back();
    p.blocks[b->second].push_back(p.runs.size());
    p.runs.push_back(std::move(t));
  }
  return p;
}

int theory_command(const std::string& path, const std::vector<std::string>& sets,
                   const std::vector<std::string>& onlys, const std::string& out, bool as_json) {
  const Experiment e = experiment_load(path, sets, onlys);
  const TheoryPlan p = theory_plan(e);
  std::vector<size_t> block_index(p.runs.size(), 0);
  for (size_t b = 0; b < p.blocks.size(); ++b)
    for (size_t i : p.blocks[b]) block_index[i] = b;
  json all = json::array();
  for (size_t i = 0; i < p.runs.size(); ++i) all.push_back(run_json(p.runs[i], block_index[i]));
  const json doc = {{"name", e.name}, {"hash", e.hash}, {"runs", all}};
  if (as_json) {
    fmt::print("{}\n", doc.dump(2));
  } else {
    for (size_t b = 0; b < p.blocks.size(); ++b) block_print(p, p.blocks[b], b);
  }
  skipped_print(p);
  if (!out.empty()) {
    fs::create_directories(out);
    file_write_atomic(out + "/theory.csv", theory_csv(e, p));
    file_write_atomic(out + "/theory.json", doc.dump(2) + "\n");
    if (!as_json) fmt::print("wrote {0}/theory.csv and {0}/theory.json\n", out);
  }
  return 0;
}

}  // namespace gl
