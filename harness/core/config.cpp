// Reading the experiment config (docs/reference.md §3): expand shorthands, validate every section
// strictly with the readers of harness/core/json_read.h, and write the resolved form back.
// Closed sets (datasets, losses, the enumerated values, and through config_sets.h activations and
// initializers) are read and written from their tables.
#include "harness/core/config.h"
#include "harness/core/config_gated.h"
#include "harness/core/config_sets.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

namespace gl {

namespace {

// ---- model ----

InitSpec init_of(Init k) {
  InitSpec s;
  s.kind = k;
  return s;
}

const Names mlp_keys = {"type", "depth",       "width",     "hidden",   "activation",
                        "init", "output_init", "bias_init", "residual", "norm"};
const Names rnn_keys = {"type",       "width",       "length",    "activation", "recurrent_init",
                        "input_init", "output_init", "bias_init", "inputs",     "loss_at"};
const Names teacher_keys = {"depth", "width",       "hidden",   "activation",
                            "init",  "output_init", "bias_init"};
constexpr int64_t max_width = 10'000'000;
constexpr int64_t max_depth = 100'000;
constexpr int64_t max_length = 100'000;

// What the model block needs to know of the data: its name (when valid) and a task's length.
struct DataFacts {
  std::optional<DataName> name;
  int length = 0;
};

ActivationSpec read_activation_key(const Reader& r, std::string_view key) {
  const json* v = r.find(key);
  return v ? read_activation(*v, at(r.path, key), *r.issues) : ActivationSpec{};
}

InitSpec read_init_key(const Reader& r, std::string_view key, const InitSpec& def) {
  const json* v = r.find(key);
  return v ? read_init(*v, at(r.path, key), def.kind, *r.issues) : def;
}

// An mlp's hidden widths: "depth" × "width", or "hidden".
void read_mlp_shape(const Reader& r, ModelConfig& m) {
  const bool has_hidden = r.has("hidden"), has_depth = r.has("depth"), has_width = r.has("width");
  const std::string width_text = int_text(1, max_width);
  if (has_hidden && (has_depth || has_width)) {
    r.add("hidden", "expected either \"hidden\" or \"depth\" + \"width\", found both");
    return;
  }
  if (has_hidden) {
    const json& h = *r.find("hidden");
    if (!h.is_array() || h.empty()) {
      r.bad("hidden", "a non-empty list of widths (integers in 1..10000000)", h);
      return;
    }
    if (h.size() > static_cast<size_t>(max_depth)) {
      r.bad("hidden", fmt::format("at most {} widths", max_depth), h);
      return;
    }
    for (size_t i = 0; i < h.size(); ++i) {
      int64_t w = 0;
      if (int_value(h[i], 1, max_width, w))
        m.hidden.push_back(static_cast<int>(w));
      else
        r.issues->push_back(
            {fmt::format("{}/hidden/{}", r.path, i),
             fmt::format("expected {}, found {}", width_text, config_value_text(h[i]))});
    }
    return;
  }
  if (!has_depth && !has_width) {
    r.issues->push_back(
        {r.path, "missing \"depth\" and \"width\" (expected \"depth\" + \"width\" or \"hidden\")"});
    return;
  }
  const int depth = read_int32(r, "depth", 1, max_depth, 0, true);
  const int width = read_int32(r, "width", 1, max_width, 0, true);
  if (depth > 0 && width > 0) m.hidden.assign(static_cast<size_t>(depth), width);
}

// The model block, or (teacher = true) a gaussian teacher's mlp block.
ModelConfig read_model(const json* v, const std::string& path, const DataFacts& data, bool teacher,
                       Issues& issues) {
  ModelConfig m;
  if (!v) {
    issues.push_back({path,
                      "missing (expected an object with \"depth\" and \"width\", or "
                      "\"hidden\")"});
    return m;
  }
  if (!block_ok(v, path, issues)) return m;
  const Reader r{v, path, &issues};
  if (!teacher) {
    const json* t = r.find("type");
    const std::span<const std::string_view> types = model_type_names;
    if (t && !(t->is_string() && contains(types, t->get_ref<const std::string&>()))) {
      r.add("type", choice_issue(types, *t));
      return m;  // the other keys depend on the type
    }
    m.type = read_enum(r, "type", model_type_names, ModelType::mlp);
  }
  // Keys: those of another type are named as such; the rest are unknown.
  const bool rnn = is_chain(m.type), gated = is_gated(m.type);
  Names own = teacher ? teacher_keys : (rnn ? rnn_keys : mlp_keys);
  if (gated) own.insert(own.end(), gated_keys.begin(), gated_keys.end());
  const Names& other = rnn ? mlp_keys : rnn_keys;
  Names all = own;
  if (!teacher)
    for (const Names* o : {&other, &gated_keys})
      for (auto k : *o)
        if (!contains(all, k)) all.push_back(k);
  for (const auto& [key, value] : v->items()) {
    if (contains(own, key)) continue;
    if (!teacher && contains(other, key))
      r.add(key, fmt::format("only for model.type \"{}\"",
                             enum_name(model_type_names, rnn ? ModelType::mlp : ModelType::rnn)));
    else if (!teacher && contains(gated_keys, key))
      r.add(key, "only for model.type \"lstm\" or \"gru\"");
    else
      r.add(key, unknown_key_message(key, all));
  }

  m.activation = read_activation_key(r, "activation");
  if (m.type == ModelType::rnn && m.activation.kind == Activation::maxout)
    r.add("activation",
          "\"maxout\" is not supported for model.type \"rnn\": a maxout unit has k affine pieces, "
          "so the shared W could not map the hidden state to itself; use another activation, or "
          "maxout with model.type \"mlp\"");
  if (const json* b = r.find("bias_init"))
    m.bias_init = read_bias(*b, at(path, "bias_init"), issues);

  if (!rnn) {
    read_mlp_shape(r, m);
    m.init = read_init_key(r, "init", init_of(Init::glorot_uniform));
    m.output_init = read_init_key(r, "output_init", m.init);
    return m;
  }

  m.width = read_int32(r, "width", 1, max_width, 0, true);
  if (data.name && is_sequence_task(*data.name)) {
    if (r.has("length"))
      r.add("length", fmt::format("not allowed with data \"{}\": the chain length is data.length",
                                  data_name_text(*data.name)));
    m.length = data.length;
  } else {
    m.length = read_int32(r, "length", 1, max_length, 0, true);
  }
  m.recurrent_init = read_init_key(r, "recurrent_init", init_of(Init::orthogonal));
  m.input_init = read_init_key(r, "input_init", init_of(Init::glorot_uniform));
  m.output_init = read_init_key(r, "output_init", init_of(Init::glorot_uniform));
  m.inputs = read_enum(r, "inputs", rnn_inputs_names, RnnInputs::every_step);
  m.loss_at = read_enum(r, "loss_at", loss_at_names, LossAt::last);
  if (data.name && is_sequence_task(*data.name)) {
    // Pascanu's tasks feed a symbol at every step and score only the last one.
    if (m.inputs == RnnInputs::first_step)
      r.bad("inputs",
            fmt::format("\"every_step\" for data \"{}\" (a sequence task)",
                        data_name_text(*data.name)),
            *r.find("inputs"));
    if (m.loss_at == LossAt::every_step)
      r.bad("loss_at",
            fmt::format("\"last\" for data \"{}\" (its target is at the last step)",
                        data_name_text(*data.name)),
            *r.find("loss_at"));
  }
  if (gated) read_gated_model(r, m);
  return m;
}

json model_to_json(const ModelConfig& m, const DataConfig& d, bool teacher) {
  json j = json::object();
  if (m.type == ModelType::mlp) {
    if (!teacher) j["type"] = enum_name(model_type_names, m.type);
    const bool uniform =
        !m.hidden.empty() &&
        std::all_of(m.hidden.begin(), m.hidden.end(), [&](int w) { return w == m.hidden.front(); });
    if (uniform) {
      j["depth"] = m.hidden.size();
      j["width"] = m.hidden.front();
    } else {
      j["hidden"] = m.hidden;
    }
    j["activation"] = activation_to_json(m.activation);
    j["init"] = init_to_json(m.init);
    j["output_init"] = init_to_json(m.output_init);
    j["bias_init"] = bias_to_json(m.bias_init);
    return j;
  }
  j["type"] = enum_name(model_type_names, m.type);
  j["width"] = m.width;
  if (!is_sequence_task(d.name)) j["length"] = m.length;  // a task's T lives in data.length
  j["activation"] = activation_to_json(m.activation);
  j["recurrent_init"] = init_to_json(m.recurrent_init);
  j["input_init"] = init_to_json(m.input_init);
  j["output_init"] = init_to_json(m.output_init);
  j["bias_init"] = bias_to_json(m.bias_init);
  j["inputs"] = enum_name(rnn_inputs_names, m.inputs);
  j["loss_at"] = enum_name(loss_at_names, m.loss_at);
  if (is_gated(m.type)) gated_model_to_json(m, j);
  return j;
}

// ---- data ----

const Names data_names = table_names(dataset_table);

// Every key a dataset takes beside name and test_samples, in table order, each once.
const Names all_data_params = [] {
  Names all;
  for (const DatasetInfo& d : dataset_table)
    for (auto k : d.keys)
      if (!contains(all, k)) all.push_back(k);
  return all;
}();

DataFacts peek_data(const json& root) {
  DataFacts f;
  auto d = root.find("data");
  if (d == root.end() || !d->is_object()) {
    if (d == root.end()) f.name = DataName::gaussian;
    return f;
  }
  auto n = d->find("name");
  if (n == d->end()) {
    f.name = DataName::gaussian;
  } else if (n->is_string()) {
    for (size_t i = 0; i < data_names.size(); ++i)
      if (data_names[i] == n->get_ref<const std::string&>()) f.name = static_cast<DataName>(i);
  }
  auto l = d->find("length");
  int64_t len = 0;
  if (l != d->end() && int_value(*l, 1, max_length, len)) f.length = static_cast<int>(len);
  return f;
}

DataConfig read_data(const json* v, const DataFacts& facts, ModelType model_type, Issues& issues) {
  DataConfig d;
  const std::string path = "/data";
  if (!block_ok(v, path, issues)) return d;
  const Reader r{v, path, &issues};
  if (const json* n = r.find("name"); n && !facts.name)
    issues.push_back({at(path, "name"),
                      fmt::format("unknown dataset {}{}; expected one of {}", config_value_text(*n),
                                  did_you_mean(*n, data_names), names_text(data_names))});
  d.test_samples = read_int(r, "test_samples", 1, 10'000'000, 1000);
  if (!facts.name) {
    Names known = {"name", "test_samples"};
    known.insert(known.end(), all_data_params.begin(), all_data_params.end());
    check_keys(r, known);
    return d;
  }
  d.name = *facts.name;
  const std::span<const std::string_view> own = dataset_info(d.name).keys;
  if (v) {
    Names known = {"name", "test_samples"};
    known.insert(known.end(), all_data_params.begin(), all_data_params.end());
    for (const auto& [key, value] : v->items()) {
      if (key == "name" || key == "test_samples" || contains(own, key)) continue;
      if (contains(all_data_params, key))
        r.add(key, fmt::format("not a parameter of dataset \"{}\"", data_name_text(d.name)));
      else
        r.add(key, unknown_key_message(key, known));
    }
  }
  switch (d.name) {
    case DataName::gaussian: {
      d.dim = read_int32(r, "dim", 1, 10'000'000, 100);
      d.classes = read_int32(r, "classes", 2, 10'000'000, 10);
      d.outputs = read_int32(r, "outputs", 1, 10'000'000, 10);
      d.teacher = nullptr;
      const json* t = r.find("teacher");
      if (t && !t->is_null()) {
        if (!t->is_object()) {
          r.bad("teacher", "null or an object of model keys (depth, width, activation, ...)", *t);
        } else {
          const ModelConfig tm = read_model(t, at(path, "teacher"), facts, true, issues);
          d.teacher = model_to_json(tm, d, true);
        }
        if (is_chain(model_type)) r.add("teacher", "only for model.type \"mlp\"");
      }
      break;
    }
    case DataName::idx:
      d.train_images = read_string(r, "train_images", "", true, true);
      d.train_labels = read_string(r, "train_labels", "", true, true);
      d.test_images = read_string(r, "test_images", "", true, true);
      d.test_labels = read_string(r, "test_labels", "", true, true);
      break;
    case DataName::temporal_order:
    case DataName::addition: {
      const std::string what = int_text(task_min_length, max_length);
      const json* l = r.find("length");
      int64_t len = 0;
      if (!l)
        r.missing("length", what);
      else if (int_value(*l, task_min_length, max_length, len))
        d.length = static_cast<int>(len);
      else if (int_value(*l, 1, task_min_length - 1, len))
        r.bad("length",
              fmt::format("{} (\"{}\" places its markers in windows of ⌊L/10⌋ steps)", what,
                          data_name_text(d.name)),
              *l);
      else
        r.bad("length", what, *l);
      break;
    }
    case DataName::shapeset3x2:
    case DataName::fashion_mnist:
    case DataName::count:
      break;
  }
  // What the model type can consume.
  if (model_type == ModelType::mlp && is_sequence_task(d.name))
    r.add("name", fmt::format("\"{}\" is a sequence task; it needs model.type \"rnn\"",
                              data_name_text(d.name)));
  if (is_chain(model_type) && !is_sequence_task(d.name) && d.name != DataName::gaussian)
    r.bad("name",
          fmt::format("a dataset for model.type \"{}\" (gaussian, temporal_order or addition)",
                      enum_name(model_type_names, model_type)),
          *r.find("name"));
  return d;
}

json data_to_json(const DataConfig& d) {
  json j = {{"name", data_name_text(d.name)}, {"test_samples", d.test_samples}};
  switch (d.name) {
    case DataName::gaussian:
      j["dim"] = d.dim;
      j["classes"] = d.classes;
      j["outputs"] = d.outputs;
      j["teacher"] = d.teacher.is_object() ? d.teacher : json(nullptr);
      break;
    case DataName::idx:
      j["train_images"] = d.train_images;
      j["train_labels"] = d.train_labels;
      j["test_images"] = d.test_images;
      j["test_labels"] = d.test_labels;
      break;
    case DataName::temporal_order:
    case DataName::addition:
      j["length"] = d.length;
      break;
    case DataName::shapeset3x2:
    case DataName::fashion_mnist:
    case DataName::count:
      break;
  }
  return j;
}

bool data_gives_labels(const DataConfig& d) {
  return d.name != DataName::addition && !(d.name == DataName::gaussian && d.teacher.is_object());
}
bool data_gives_targets(const DataConfig& d) {
  return d.name == DataName::gaussian || d.name == DataName::addition;
}
std::string data_text(const DataConfig& d) {
  if (d.name == DataName::gaussian && d.teacher.is_object()) return "\"gaussian\" with a teacher";
  return fmt::format("\"{}\"", data_name_text(d.name));
}

// ---- train, probe ----

// probe.verdict: every threshold optional; a vanishing one in (0, 1), an exploding one > 1, so
// that a ratio or factor is never both.
VerdictThresholds read_verdict(const json* v, Issues& issues) {
  VerdictThresholds t;
  const std::string path = "/probe/verdict";
  if (!block_ok(v, path, issues)) return t;
  const Reader r{v, path, &issues};
  check_keys(r, {"vanishing_ratio", "exploding_ratio", "vanishing_factor", "exploding_factor"});
  constexpr NumRange below_one{0.0, 1.0, true, true};
  constexpr NumRange above_one{1.0, std::numeric_limits<double>::infinity(), true, false};
  t.vanishing_ratio = read_num(r, "vanishing_ratio", below_one, t.vanishing_ratio);
  t.exploding_ratio = read_num(r, "exploding_ratio", above_one, t.exploding_ratio);
  t.vanishing_factor = read_num(r, "vanishing_factor", below_one, t.vanishing_factor);
  t.exploding_factor = read_num(r, "exploding_factor", above_one, t.exploding_factor);
  return t;
}

ProbeConfig read_probe(const json* v, Issues& issues) {
  ProbeConfig p;
  const std::string path = "/probe";
  if (!block_ok(v, path, issues)) return p;
  const Reader r{v, path, &issues};
  check_keys(r, {"samples", "every", "schedule", "per_decade", "histograms", "bins", "hist_range",
                 "hist_scale", "saturation_tau", "jacobian", "jacobian_samples", "dump_tensors",
                 "flush_subnormals", "verdict", "norm_batch"});
  p.samples = read_int32(r, "samples", 1, 1'000'000, 300);
  p.every = read_int(r, "every", 1, int_max, 1000);
  p.schedule = read_enum(r, "schedule", schedule_names, Schedule::linear);
  if (p.schedule == Schedule::linear && r.has("per_decade"))
    r.add("per_decade", "only with probe.schedule \"log\"");
  else
    p.per_decade = read_int32(r, "per_decade", 1, 1000, 10);
  p.histograms = read_bool(r, "histograms", false);
  p.bins = read_int32(r, "bins", 1, 10000, 50);
  p.hist_range = read_hist_ranges(r);
  p.hist_scale = read_enum(r, "hist_scale", hist_scale_names, HistScale::linear);
  p.saturation_tau = read_num(r, "saturation_tau", NumRange{0.0, 1.0, true, true}, 0.05);
  p.jacobian = read_bool(r, "jacobian", false);
  p.jacobian_samples = read_int32(r, "jacobian_samples", 1, 10000, 10);
  p.dump_tensors = read_dump_tensors(r);
  p.flush_subnormals = read_opt_bool(r, "flush_subnormals");
  p.verdict = read_verdict(r.find("verdict"), issues);
  return p;
}

// "grid" and "common_random_numbers" are read by experiment_load (experiments/grid.cpp).
const Names top_keys = {"name",
                        "description",
                        "seed",
                        "repeats",
                        "precision",
                        "threads",
                        "model",
                        "data",
                        "loss",
                        "train",
                        "probe",
                        "grid",
                        "common_random_numbers"};

// The shorthand forms of one model block, rewritten in place.
void normalize_model(json& m) {
  if (!m.is_object()) return;
  for (const char* key : {"activation", "init", "output_init", "recurrent_init", "input_init"}) {
    auto it = m.find(key);
    if (it != m.end() && it->is_string()) *it = json{{"name", *it}};
  }
  auto b = m.find("bias_init");
  if (b != m.end() && b->is_number()) *b = json{{"name", "constant"}, {"value", *b}};
  normalize_gate_inits(m);
}

}  // namespace

// ---- public ----

json config_normalize(const json& j) {
  json out = j;
  if (!out.is_object()) return out;
  auto m = out.find("model");
  if (m != out.end()) normalize_model(*m);
  auto d = out.find("data");
  if (d != out.end() && d->is_object()) {
    auto t = d->find("teacher");
    if (t != d->end()) normalize_model(*t);
  }
  return out;
}

Config config_from_json(const json& j_in, std::vector<ConfigIssue>& issues) {
  Config c;
  if (!j_in.is_object()) {
    issues.push_back({"", "expected a JSON object, found " + config_value_text(j_in)});
    return c;
  }
  const json j = config_normalize(j_in);
  const Reader r{&j, "", &issues};
  check_keys(r, top_keys);

  if (const json* n = r.find("name")) {
    const bool ok = n->is_string() &&
                    n->get_ref<const std::string&>().find_first_of("/\\") == std::string::npos &&
                    *n != "." && *n != "..";
    if (ok)
      c.name = n->get<std::string>();
    else
      r.bad("name", "a string without \"/\" (it names the folder results/<name>/)", *n);
  }
  c.description = read_string(r, "description", "");
  if (const json* s = r.find("seed")) {
    if (s->is_number_unsigned() || (s->is_number_integer() && s->get<int64_t>() >= 0))
      c.seed = s->get<uint64_t>();
    else if (s->is_number_float() && std::floor(s->get<double>()) == s->get<double>() &&
             s->get<double>() >= 0 && s->get<double>() < 18446744073709551616.0)
      c.seed = static_cast<uint64_t>(s->get<double>());
    else
      r.bad("seed", "an integer >= 0", *s);
  }
  c.repeats = read_int32(r, "repeats", 1, 100'000, 1);
  c.precision = read_enum(r, "precision", precision_names, Precision::float64);
  if (const json* t = r.find("threads")) {
    int64_t n = 0;
    if (t->is_string() && *t == "auto")
      c.threads = 0;
    else if (int_value(*t, 1, 1024, n))
      c.threads = static_cast<int>(n);
    else
      r.bad("threads", "an integer in 1..1024 or \"auto\"", *t);
  }

  // The model needs the data's name (a sequence task sets T), the data needs the model's type.
  const DataFacts facts = peek_data(j);
  c.model = read_model(r.find("model"), "/model", facts, false, issues);
  c.data = read_data(r.find("data"), facts, c.model.type, issues);

  const bool data_known = facts.name.has_value();
  if (const json* l = r.find("loss")) {
    const Names losses = table_names(loss_table);
    c.loss = static_cast<Loss>(read_choice(r, "loss", losses, 0));
    const bool valid = l->is_string() && contains(losses, l->get_ref<const std::string&>());
    if (valid && data_known && c.loss == Loss::cross_entropy && !data_gives_labels(c.data))
      r.add("loss", fmt::format("cross_entropy needs class labels, but data {} gives regression "
                                "targets (use \"mse\")",
                                data_text(c.data)));
    if (valid && data_known && c.loss == Loss::mse && !data_gives_targets(c.data))
      r.add("loss", fmt::format("mse needs regression targets, but data {} gives class labels "
                                "(use \"cross_entropy\")",
                                data_text(c.data)));
  } else {
    c.loss = data_gives_labels(c.data) ? Loss::cross_entropy : Loss::mse;
  }
  if (const json* t = r.find("train"); block_ok(t, "/train", issues))
    read_train(Reader{t, "/train", &issues}, c.model, c.train);  // config_optim.cpp
  c.probe = read_probe(r.find("probe"), issues);
  check_dump_steps(c.train, c.probe, Reader{r.find("probe"), "/probe", &issues});
  config_read_blocks(j, c, issues);
  if (is_chain(c.model.type)) {
    const std::string type(enum_name(model_type_names, c.model.type));
    // Per-layer quantities (docs/reference.md §4.1, §4.3): a chain's run does not compute them, so
    // asking for them is an error rather than a silently missing table.
    const Reader pr{r.find("probe"), "/probe", &issues};
    if (c.probe.histograms)
      pr.add("histograms", fmt::format("not available for model.type \"{}\": histograms are per "
                                       "layer (an mlp's); a chain's per-step view is timesteps.csv",
                                       type));
    if (c.probe.jacobian)
      pr.add("jacobian",
             fmt::format("not available for model.type \"{}\": the Jacobian spectra are "
                         "per layer (an mlp's); a chain's per-step view is "
                         "timesteps.csv",
                         type));
  }
  return c;
}

json config_to_json(const Config& c) {
  json j = json::object();
  j["name"] = c.name;
  j["description"] = c.description;
  j["seed"] = c.seed;
  j["repeats"] = c.repeats;
  j["precision"] = enum_name(precision_names, c.precision);
  if (c.threads == 0)
    j["threads"] = "auto";
  else
    j["threads"] = c.threads;
  j["model"] = model_to_json(c.model, c.data, false);
  j["data"] = data_to_json(c.data);
  j["loss"] = loss_table[static_cast<size_t>(c.loss)].name;

  j["train"] = train_to_json(c.train);

  const ProbeConfig& p = c.probe;
  json pj = {{"samples", p.samples},
             {"every", p.every},
             {"schedule", enum_name(schedule_names, p.schedule)}};
  if (p.schedule == Schedule::log) pj["per_decade"] = p.per_decade;
  pj["histograms"] = p.histograms;
  pj["bins"] = p.bins;
  pj["hist_range"] = hist_ranges_to_json(p.hist_range);
  pj["hist_scale"] = enum_name(hist_scale_names, p.hist_scale);
  pj["saturation_tau"] = p.saturation_tau;
  pj["jacobian"] = p.jacobian;
  pj["jacobian_samples"] = p.jacobian_samples;
  pj["dump_tensors"] = dump_tensors_to_json(p.dump_tensors);
  pj["flush_subnormals"] = p.flush_subnormals ? json(*p.flush_subnormals) : json(nullptr);
  pj["verdict"] = {{"vanishing_ratio", p.verdict.vanishing_ratio},
                   {"exploding_ratio", p.verdict.exploding_ratio},
                   {"vanishing_factor", p.verdict.vanishing_factor},
                   {"exploding_factor", p.verdict.exploding_factor}};
  j["probe"] = pj;
  config_write_blocks(c, j);
  return j;
}

}  // namespace gl
