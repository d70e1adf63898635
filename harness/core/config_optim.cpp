// The train block of the config (docs/reference.md §3, train): the optimizer and its own keys
// (PyTorch's names and defaults, harness/nn/optim_rules.h), and the training-time rules around it
// (harness/nn/optim.h). A key of another optimizer is an error naming the optimizers it applies
// to; the resolved form writes only the chosen optimizer's keys, so that it reads back.
#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "harness/core/config.h"

namespace gl {

namespace {

using K = OptimizerKind;

// The optimizer-specific keys and the kinds each applies to.
struct OptKey {
  std::string_view name;
  std::initializer_list<K> kinds;
};
const OptKey opt_keys[] = {
    {"momentum", {K::sgd, K::rmsprop}},
    {"dampening", {K::sgd}},
    {"nesterov", {K::sgd}},
    {"alpha", {K::rmsprop}},
    {"centered", {K::rmsprop}},
    {"eps", {K::adagrad, K::rmsprop, K::adam, K::adamw}},
    {"betas", {K::adam, K::adamw}},
    {"lr_decay", {K::adagrad}},
    {"initial_accumulator_value", {K::adagrad}},
};
const Names common_keys = {
    "steps",      "batch_size",      "optimizer", "lr",   "weight_decay", "clip_norm",
    "clip_value", "max_norm",        "lr_layers", "lars", "grad_noise",   "warmup",
    "schedule",   "checkpoint_every"};

bool applies(const OptKey& k, K kind) {
  for (K x : k.kinds)
    if (x == kind) return true;
  return false;
}

std::string kinds_text(const OptKey& k) {
  std::string s;
  for (K x : k.kinds)
    s += (s.empty() ? "" : ", ") + std::string(optimizer_kind_names[static_cast<size_t>(x)]);
  return s;
}

constexpr NumRange unit_open{0.0, 1.0, false, true};  // [0, 1)

// betas: [β₁, β₂], each in [0, 1).
void read_betas(const Reader& r, OptimizerSpec& o) {
  const json* v = r.find("betas");
  if (!v) return;
  if (!v->is_array() || v->size() != 2) {
    r.bad("betas", "an array of two numbers in [0, 1)", *v);
    return;
  }
  double* b[2] = {&o.beta1, &o.beta2};
  for (size_t i = 0; i < 2; ++i)
    if (!num_value((*v)[i], unit_open, *b[i]))
      r.issues->push_back(
          {at(r.path, "betas") + "/" + std::to_string(i),
           fmt::format("expected {}, found {}", num_text(unit_open), config_value_text((*v)[i]))});
}

void read_optimizer(const Reader& r, OptimizerSpec& o) {
  const K kind = read_enum(r, "optimizer", optimizer_kind_names, K::sgd);
  o = optimizer_spec_default(kind);
  for (const OptKey& k : opt_keys)
    if (r.has(k.name) && !applies(k, kind))
      r.add(k.name, fmt::format("does not apply to optimizer \"{}\" (only to {})",
                                optimizer_kind_names[static_cast<size_t>(kind)], kinds_text(k)));
  o.lr = read_num(r, "lr", positive, o.lr);
  o.weight_decay = read_num(r, "weight_decay", non_negative, o.weight_decay);
  if (kind == K::sgd || kind == K::rmsprop) o.momentum = read_num(r, "momentum", unit_open, 0.0);
  if (kind == K::sgd) {
    o.dampening = read_num(r, "dampening", NumRange{0.0, 1.0}, 0.0);
    o.nesterov = read_bool(r, "nesterov", false);
    if (o.nesterov && (o.momentum == 0 || o.dampening != 0))
      r.add("nesterov", fmt::format("needs momentum > 0 and dampening 0, found momentum {} and "
                                    "dampening {}",
                                    o.momentum, o.dampening));
  }
  if (kind == K::rmsprop) {
    o.alpha = read_num(r, "alpha", unit_open, o.alpha);
    o.centered = read_bool(r, "centered", false);
  }
  if (kind != K::sgd) o.eps = read_num(r, "eps", non_negative, o.eps);
  if (kind == K::adagrad) {
    o.lr_decay = read_num(r, "lr_decay", non_negative, 0.0);
    o.initial_accumulator_value = read_num(r, "initial_accumulator_value", non_negative, 0.0);
  }
  if (kind == K::adam || kind == K::adamw) read_betas(r, o);
}

// lr_layers: a list of L + 1 positive multipliers, or {"ramp": r}.
void read_lr_layers(const Reader& r, const ModelConfig& model, TrainConfig& t) {
  const json* v = r.find("lr_layers");
  if (!v || v->is_null()) return;
  const std::string path = at(r.path, "lr_layers");
  if (is_chain(model.type)) {
    r.add("lr_layers", fmt::format("not available for model.type \"{}\": a chain's steps share "
                                   "one weight matrix (use lr, or lars)",
                                   enum_name(model_type_names, model.type)));
    return;
  }
  const size_t n = model.hidden.size() + 1;  // weight layers 1..L+1
  if (v->is_object()) {
    const Reader o{v, path, r.issues};
    check_keys(o, {"ramp"});
    t.lr_ramp = read_num(o, "ramp", positive, 0.0, true);
    return;
  }
  if (!v->is_array()) {
    r.bad("lr_layers", "a list of positive multipliers (one per weight layer) or {\"ramp\": r}",
          *v);
    return;
  }
  if (v->size() != n) {
    r.add("lr_layers", fmt::format("expected {} multipliers (one per weight layer 1..{}, the "
                                   "output layer included), found {}",
                                   n, n, v->size()));
    return;
  }
  t.lr_layers.resize(n);
  for (size_t i = 0; i < n; ++i)
    if (!num_value((*v)[i], positive, t.lr_layers[i]))
      r.issues->push_back(
          {path + "/" + std::to_string(i),
           fmt::format("expected {}, found {}", num_text(positive), config_value_text((*v)[i]))});
}

void read_schedule(const Reader& r, TrainConfig& t) {
  const json* v = r.find("schedule");
  if (!v) return;
  if (v->is_string()) {
    t.schedule.kind = read_enum(r, "schedule", lr_schedule_names, LrSchedule::constant);
    return;
  }
  const std::string path = at(r.path, "schedule");
  if (!v->is_object()) {
    r.bad("schedule", fmt::format("{} or an object with \"name\"", choice_text(lr_schedule_names)),
          *v);
    return;
  }
  const Reader o{v, path, r.issues};
  LrScheduleSpec& s = t.schedule;
  s.kind = read_enum(o, "name", lr_schedule_names, LrSchedule::constant);
  switch (s.kind) {
    case LrSchedule::constant:
      check_keys(o, {"name"});
      break;
    case LrSchedule::step:
      check_keys(o, {"name", "step_size", "gamma"});
      s.step_size = read_int(o, "step_size", 1, int_max, 1, true);
      s.gamma = read_num(o, "gamma", NumRange{0.0, 1.0, true, false}, 0.1);
      break;
    case LrSchedule::cosine:
      check_keys(o, {"name", "eta_min"});
      s.eta_min = read_num(o, "eta_min", NumRange{0.0, t.opt.lr, false, true}, 0.0);
      break;
    case LrSchedule::count:
      break;
  }
}

}  // namespace

void read_train(const Reader& r, const ModelConfig& model, TrainConfig& t) {
  Names known = common_keys;
  for (const OptKey& k : opt_keys) known.push_back(k.name);
  check_keys(r, known);
  t.steps = read_int(r, "steps", 0, int_max, 0);
  t.batch_size = read_int32(r, "batch_size", 1, 1'000'000, 10);
  read_optimizer(r, t.opt);
  t.clip_norm = read_opt_num(r, "clip_norm", positive);
  t.clip_value = read_opt_num(r, "clip_value", positive).value_or(0.0);
  t.max_norm = read_opt_num(r, "max_norm", positive).value_or(0.0);
  read_lr_layers(r, model, t);
  if (const json* v = r.find("lars");
      v && !v->is_null() && block_ok(v, at(r.path, "lars"), *r.issues)) {
    const Reader o{v, at(r.path, "lars"), r.issues};
    check_keys(o, {"eta"});
    t.lars = read_num(o, "eta", positive, 0.001);
  }
  if (const json* v = r.find("grad_noise");
      v && !v->is_null() && block_ok(v, at(r.path, "grad_noise"), *r.issues)) {
    const Reader o{v, at(r.path, "grad_noise"), r.issues};
    check_keys(o, {"eta", "gamma"});
    t.noise_eta = read_num(o, "eta", positive, 0.0, true);
    t.noise_gamma = read_num(o, "gamma", non_negative, 0.55);
  }
  t.warmup = read_int(r, "warmup", 0, int_max, 0);
  read_schedule(r, t);
  t.checkpoint_every = read_int(r, "checkpoint_every", 0, int_max, 0);
}

json train_to_json(const TrainConfig& t) {
  const OptimizerSpec& o = t.opt;
  json j = {{"steps", t.steps},
            {"batch_size", t.batch_size},
            {"optimizer", optimizer_kind_names[static_cast<size_t>(o.kind)]},
            {"lr", o.lr}};
  switch (o.kind) {
    case K::sgd:
      j["momentum"] = o.momentum;
      j["dampening"] = o.dampening;
      j["nesterov"] = o.nesterov;
      break;
    case K::adagrad:
      j["eps"] = o.eps;
      j["lr_decay"] = o.lr_decay;
      j["initial_accumulator_value"] = o.initial_accumulator_value;
      break;
    case K::rmsprop:
      j["momentum"] = o.momentum;
      j["alpha"] = o.alpha;
      j["eps"] = o.eps;
      j["centered"] = o.centered;
      break;
    case K::adam:
    case K::adamw:
      j["betas"] = {o.beta1, o.beta2};
      j["eps"] = o.eps;
      break;
    case K::count:
      break;
  }
  j["weight_decay"] = o.weight_decay;
  j["clip_norm"] = t.clip_norm ? json(*t.clip_norm) : json(nullptr);
  j["clip_value"] = t.clip_value > 0 ? json(t.clip_value) : json(nullptr);
  j["max_norm"] = t.max_norm > 0 ? json(t.max_norm) : json(nullptr);
  if (t.lr_ramp > 0)
    j["lr_layers"] = {{"ramp", t.lr_ramp}};
  else
    j["lr_layers"] = t.lr_layers.empty() ? json(nullptr) : json(t.lr_layers);
  j["lars"] = t.lars > 0 ? json{{"eta", t.lars}} : json(nullptr);
  j["grad_noise"] =
      t.noise_eta > 0 ? json{{"eta", t.noise_eta}, {"gamma", t.noise_gamma}} : json(nullptr);
  j["warmup"] = t.warmup;
  json s = {{"name", lr_schedule_names[static_cast<size_t>(t.schedule.kind)]}};
  if (t.schedule.kind == LrSchedule::step) {
    s["step_size"] = t.schedule.step_size;
    s["gamma"] = t.schedule.gamma;
  }
  if (t.schedule.kind == LrSchedule::cosine) s["eta_min"] = t.schedule.eta_min;
  j["schedule"] = s;
  j["checkpoint_every"] = t.checkpoint_every;
  return j;
}

}  // namespace gl
