// The experiment config (docs/reference.md §3): typed, resolved (every default filled), validated.
//
// Reading is strict (harness/core/json_read.h): unknown keys are errors, and every problem is
// reported at once as "<file>: <JSON pointer>: <what was expected>, found <what was found>"
// (ConfigError).
// The JSON form is the source of truth for grids and --set: a grid point is the base JSON with
// the axis values applied, then validated into a Config. config_to_json(config_from_json(j)) is
// the resolved config written beside every run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/core/json_read.h"
#include "harness/core/probe_keys.h"
#include "harness/core/types.h"
#include "harness/data/datasets.h"
#include "harness/measure/metrics.h"
#include "harness/nn/activations.h"
#include "harness/nn/gated.h"
#include "harness/nn/init.h"
#include "harness/nn/loss.h"
#include "harness/nn/optim_rules.h"
#include "harness/nn/rnn.h"

namespace gl {

enum class ModelType { mlp, rnn, lstm, gru, count };
inline constexpr std::string_view model_type_names[] = {"mlp", "rnn", "lstm", "gru"};
static_assert(std::size(model_type_names) == count_of<ModelType>);
// A weight-shared chain over t = 1..T (rnn, lstm, gru): the chain keys, tasks and timesteps.csv.
constexpr bool is_chain(ModelType t) { return t != ModelType::mlp; }
// A gated chain (harness/nn/gated.h, experiments/run_gated.cpp).
constexpr bool is_gated(ModelType t) { return t == ModelType::lstm || t == ModelType::gru; }
constexpr CellKind cell_kind_of(ModelType t) {
  return t == ModelType::gru ? CellKind::gru : CellKind::lstm;
}
enum class Schedule { linear, log, count };  // of the probe steps
inline constexpr std::string_view schedule_names[] = {"linear", "log"};
static_assert(std::size(schedule_names) == count_of<Schedule>);

struct ModelConfig {
  ModelType type = ModelType::mlp;
  std::vector<int> hidden;  // mlp: hidden widths l = 1..L (from depth × width, or "hidden")
  int width = 0;            // chains: hidden size
  int length = 0;           // chains: chain length T (sequence tasks: from data.length)
  ActivationSpec activation;
  InitSpec init;            // mlp hidden layers
  InitSpec output_init;     // the output layer (default: = init)
  InitSpec recurrent_init;  // rnn: W (shared)
  InitSpec input_init;      // rnn: U
  BiasSpec bias_init;
  RnnInputs inputs = RnnInputs::every_step;
  LossAt loss_at = LossAt::last;
  BlocksSpec blocks;  // mlp: model.residual, model.norm (config_blocks.cpp)
  // lstm, gru (config_gated.cpp): per-gate overrides of input_init / recurrent_init, by gate in
  // the cell's order (gated.h), and the LSTM's forget-gate bias (added to b_ih's f slice).
  std::array<std::optional<InitSpec>, max_gates> input_init_gates, recurrent_init_gates;
  double forget_bias = 0;
};

struct DataConfig {
  DataName name = DataName::gaussian;
  int dim = 0;               // gaussian: input size
  int classes = 0;           // gaussian + cross_entropy: number of random labels
  int outputs = 0;           // gaussian + mse: target size
  json teacher;              // gaussian: null, or model keys of a random teacher network
  int64_t test_samples = 0;  // held-out examples for test_error
  std::string train_images, train_labels, test_images, test_labels;  // idx
  int length = 0;  // temporal_order, addition: sequence length T
};

// Pascanu's task generators draw marker positions below ⌊L/10⌋ (numpy's randint needs a bound
// ≥ 1), so temporal_order and addition need data.length ≥ 10.
inline constexpr int task_min_length = 10;

// The learning-rate schedule over the steps t = 1..steps (harness/nn/optim.h lr_factor).
enum class LrSchedule { constant, step, cosine, count };
inline constexpr std::string_view lr_schedule_names[] = {"constant", "step", "cosine"};
static_assert(std::size(lr_schedule_names) == count_of<LrSchedule>);

struct LrScheduleSpec {
  LrSchedule kind = LrSchedule::constant;
  int64_t step_size = 1;  // step: lr·gamma^⌊(t − 1)/step_size⌋
  double gamma = 0.1;
  double eta_min = 0;  // cosine: eta_min + (lr − eta_min)(1 + cos(π(t − 1)/steps))/2
};

// The training-time rules of docs/reference.md §3 (train), beyond the optimizer's own (opt).
// Every "off" is 0 (or empty).
struct TrainConfig {
  int64_t steps = 0;  // 0 = a study at initialization only
  int batch_size = 10;
  OptimizerSpec opt;                // train.optimizer, lr and the optimizer's keys
  std::optional<double> clip_norm;  // global-norm clipping threshold (Pascanu's Algorithm 1)
  double clip_value = 0;            // element-wise gradient clipping to [−c, c]
  double max_norm = 0;              // per-unit incoming weight-vector norm ≤ c after each step
  std::vector<double> lr_layers;    // per-layer multipliers (weight layers l = 1..L+1)
  double lr_ramp = 0;               // or layer l gets lr_ramp^(L+1−l)
  double lars = 0;                  // LARS trust coefficient η
  double noise_eta = 0, noise_gamma = 0.55;  // gradient noise N(0, η/(1 + t)^γ)
  int64_t warmup = 0;                        // linear warm-up over this many steps
  LrScheduleSpec schedule;
  int64_t checkpoint_every = 0;
};

// The verdict rule's thresholds (docs/reference.md §4.4): `vanishing` when gradient_ratio <
// vanishing_ratio or per_layer_factor < vanishing_factor, `exploding` when gradient_ratio >
// exploding_ratio or per_layer_factor > exploding_factor. Each vanishing one is in (0, 1), each
// exploding one > 1.
struct VerdictThresholds {
  double vanishing_ratio = 1e-2, exploding_ratio = 1e2;
  double vanishing_factor = 0.25, exploding_factor = 4.0;
};

struct ProbeConfig {
  int samples = 300;
  int64_t every = 1000;
  Schedule schedule = Schedule::linear;
  int per_decade = 10;
  bool histograms = false;
  int bins = 50;
  HistRanges hist_range;  // per quantity (probe_keys.h); none = the step-0 range
  HistScale hist_scale = HistScale::linear;
  double saturation_tau = 0.05;
  bool jacobian = false;
  int jacobian_samples = 10;
  TensorDump dump_tensors;  // the probe steps that write tensors/step_<k>/ (probe_keys.h)
  std::optional<bool> flush_subnormals;  // nullopt = the precision's default
  VerdictThresholds verdict;
  // model.norm.kind "batch": the probe's normalization group size (0 = "all"); resolved to
  // min(train.batch_size, samples) when not given. Unset otherwise.
  std::optional<int> norm_batch;
};

struct Config {
  std::string name;
  std::string description;
  uint64_t seed = 0;
  int repeats = 1;
  Precision precision = Precision::float64;
  int threads = 1;  // 0 = "auto" (all CPUs)
  ModelConfig model;
  DataConfig data;
  Loss loss = Loss::cross_entropy;
  TrainConfig train;
  ProbeConfig probe;
};

// Rewrite shorthands into object form so that dotted grid paths apply to any config:
// "activation": "relu" → {"name": "relu"}, "init": "he_normal" → {"name": "he_normal"},
// "bias_init": 0.1 → {"name": "constant", "value": 0.1}, "data": {"name": ...} stays.
json config_normalize(const json& j);

// The train block (harness/core/config_optim.cpp): read into t, checked against the model
// (lr_layers' length is L + 1 of an mlp; chains have no per-layer rates).
void read_train(const Reader& r, const ModelConfig& model, TrainConfig& t);
json train_to_json(const TrainConfig& t);

// Validate and fill defaults. Issues are appended (with JSON-pointer paths); on any issue the
// returned Config is unspecified.
Config config_from_json(const json& j, std::vector<ConfigIssue>& issues);
// The resolved config: every key present with its value or default, objects in canonical form.
json config_to_json(const Config& c);

// config_blocks.cpp: model.residual, model.norm and probe.norm_batch, read from the normalized
// root after the sections (issues appended), and written into the resolved form (only when set,
// so plain configs resolve as before).
void config_read_blocks(const json& root, Config& c, std::vector<ConfigIssue>& issues);
void config_write_blocks(const Config& c, json& j);
// The probe's BatchNorm group size for NormUse (0: the whole probe set as one batch).
int probe_norm_group(const Config& c);

}  // namespace gl
