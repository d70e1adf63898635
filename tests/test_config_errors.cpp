// Config errors: every bad config of the table gives exactly the lines a user sees (file, JSON
// pointer, what was expected, what was found).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/config_test_util.h"

namespace gl {
namespace {

struct BadCase {
  const char* label;
  std::string text;
  std::vector<std::string> expected;  // every line, in order
};

const std::string all_activations =
    "identity, sigmoid, tanh, softsign, arctan, relu, relu6, leaky_relu, prelu, rrelu, elu, selu, "
    "softplus, swish, gelu, mish, hard_tanh, hard_sigmoid, binary_step, maxout, silu";

std::vector<BadCase> bad_cases() {
  return {
      {"unknown key with suggestion",
       with_model(R"("seeed": 1)"),
       {R"(x.json: /seeed: unknown key; did you mean "seed"?)"}},
      {"unknown key far from any", with_model(R"("zzzzzz": 1)"), {"x.json: /zzzzzz: unknown key"}},
      {"unknown model key (transposition)",
       R"({"model": {"depth": 2, "widht": 3}})",
       {R"(x.json: /model/widht: unknown key; did you mean "width"?)",
        R"(x.json: /model/width: missing (expected an integer in 1..10000000))"}},
      {"wrong type",
       R"({"model": {"depth": "five", "width": 3}})",
       {R"(x.json: /model/depth: expected an integer in 1..100000, found "five")"}},
      {"negative",
       with_model(R"("seed": -1)"),
       {"x.json: /seed: expected an integer >= 0, found -1"}},
      {"zero",
       R"({"model": {"depth": 2, "width": 0}})",
       {"x.json: /model/width: expected an integer in 1..10000000, found 0"}},
      {"huge",
       with_model(R"("repeats": 1000000000)"),
       {"x.json: /repeats: expected an integer in 1..100000, found 1000000000"}},
      {"float where an integer is expected",
       with_model(R"("train": {"batch_size": 2.5})"),
       {"x.json: /train/batch_size: expected an integer in 1..1000000, found 2.5"}},
      {"boolean where a number is expected",
       with_model(R"("train": {"lr": true})"),
       {"x.json: /train/lr: expected a number > 0, found true"}},
      {"string where a number is expected",
       with_model(R"("train": {"momentum": "0.9"})"),
       {R"(x.json: /train/momentum: expected a number in [0, 1), found "0.9")"}},
      {"NaN-like string",
       with_model(R"("train": {"lr": "nan"})"),
       {R"(x.json: /train/lr: expected a number > 0, found "nan")"}},
      {"number too large to represent",
       with_model(R"("train": {"lr": 1e999})"),
       {"x.json: malformed JSON: number overflow parsing '1e999'"}},
      {"unknown activation lists every name",
       R"({"model": {"depth": 2, "width": 3, "activation": "tahn"}})",
       {R"(x.json: /model/activation: unknown activation "tahn" (did you mean "tanh"?); expected one of )" +
        all_activations}},
      {"unknown initializer",
       R"({"model": {"depth": 2, "width": 3, "init": "xavier"}})",
       {R"(x.json: /model/init: unknown initializer "xavier"; expected one of glorot_standard, )"
        R"(glorot_uniform, glorot_normal, he_normal, he_uniform, lecun_normal, lecun_uniform, )"
        R"(orthogonal, gaussian, uniform, sparse, identity (aliases: standard, xavier_uniform, )"
        R"(normalized, xavier_normal, kaiming_normal, kaiming_uniform))"}},
      {"parameter of another activation",
       R"({"model": {"depth": 2, "width": 3, "activation": {"name": "tanh", "slope": 0.1}}})",
       {"x.json: /model/activation/slope: not a parameter of tanh"}},
      {"misspelt activation parameter",
       R"({"model": {"depth": 2, "width": 3, "activation": {"name": "leaky_relu", "slop": 0.1}}})",
       {R"(x.json: /model/activation/slop: unknown key; did you mean "slope"?)"}},
      {"parameter of another initializer",
       R"({"model": {"depth": 2, "width": 3, "init": {"name": "glorot_uniform", "mode": "fan_out"}}})",
       {"x.json: /model/init/mode: not a parameter of glorot_uniform"}},
      {"sigma_w2 and std together",
       R"({"model": {"depth": 2, "width": 3, "init": {"name": "gaussian", "sigma_w2": 2, "std": 0.1}}})",
       {R"(x.json: /model/init/std: expected either "sigma_w2" or "std", found both)"}},
      {"spectral_radius and spectral_norm together",
       R"({"model": {"depth": 2, "width": 3,
            "init": {"name": "orthogonal", "spectral_radius": 1.1, "spectral_norm": 1}}})",
       {R"(x.json: /model/init/spectral_norm: expected either "spectral_radius" or )"
        R"("spectral_norm", found both)"}},
      {"depth and hidden together",
       R"({"model": {"depth": 2, "width": 3, "hidden": [4, 5]}})",
       {R"(x.json: /model/hidden: expected either "hidden" or "depth" + "width", found both)"}},
      {"a bad width in hidden",
       R"({"model": {"hidden": [4, -5, 6.5]}})",
       {"x.json: /model/hidden/1: expected an integer in 1..10000000, found -5",
        "x.json: /model/hidden/2: expected an integer in 1..10000000, found 6.5"}},
      {"no model",
       "{}",
       {R"(x.json: /model: missing (expected an object with "depth" and "width", or "hidden"))"}},
      {"rnn-only key in an mlp",
       R"({"model": {"depth": 2, "width": 3, "length": 10}})",
       {R"(x.json: /model/length: only for model.type "rnn")"}},
      {"mlp-only key in an rnn",
       R"({"model": {"type": "rnn", "depth": 2, "width": 3, "length": 10}})",
       {R"(x.json: /model/depth: only for model.type "mlp")"}},
      {"rnn without its sizes",
       R"({"model": {"type": "rnn"}})",
       {"x.json: /model/width: missing (expected an integer in 1..10000000)",
        "x.json: /model/length: missing (expected an integer in 1..100000)"}},
      {"cross_entropy on a regression task",
       R"({"model": {"type": "rnn", "width": 8}, "data": {"name": "addition", "length": 20},
           "loss": "cross_entropy"})",
       {R"(x.json: /loss: cross_entropy needs class labels, but data "addition" gives )"
        R"(regression targets (use "mse"))"}},
      {"mse on a classification dataset",
       with_model(R"("data": {"name": "shapeset3x2"}, "loss": "mse")"),
       {R"(x.json: /loss: mse needs regression targets, but data "shapeset3x2" gives class )"
        R"(labels (use "cross_entropy"))"}},
      {"cross_entropy with a teacher",
       with_model(R"("data": {"teacher": {"depth": 1, "width": 4}}, "loss": "cross_entropy")"),
       {R"(x.json: /loss: cross_entropy needs class labels, but data "gaussian" with a teacher )"
        R"(gives regression targets (use "mse"))"}},
      {"a sequence task needs an rnn",
       with_model(R"("data": {"name": "temporal_order", "length": 20})"),
       {R"(x.json: /data/name: "temporal_order" is a sequence task; it needs model.type "rnn")"}},
      {"an rnn cannot read images",
       R"({"model": {"type": "rnn", "width": 8, "length": 4}, "data": {"name": "shapeset3x2"}})",
       {R"(x.json: /data/name: expected a dataset for model.type "rnn" (gaussian, temporal_order )"
        R"(or addition), found "shapeset3x2")"}},
      {"model.length with a sequence task",
       R"({"model": {"type": "rnn", "width": 8, "length": 4}, "data": {"name": "addition", "length": 20}})",
       {R"(x.json: /model/length: not allowed with data "addition": the chain length is data.length)"}},
      {"malformed JSON with line and column",
       "{\n  \"seed\": 1,\n  \"model\": }\n",
       {"x.json:3:12: malformed JSON: syntax error while parsing value - unexpected '}'; expected "
        "'[', '{', or a literal"}},
      {"trailing comma",
       "{\"seed\": 1,}",
       {"x.json:1:12: malformed JSON: syntax error while parsing object key - unexpected '}'; "
        "expected string literal"}},
      {"duplicate key",
       R"({"model": {"depth": 2, "width": 3, "depth": 4}})",
       {"x.json: /model/depth: duplicate key"}},
      {"not an object", "[1, 2]", {"x.json: expected a JSON object at the top level, found [1,2]"}},
      {"hist_range lo >= hi",
       with_model(R"("probe": {"hist_range": [1, 1]})"),
       {"x.json: /probe/hist_range: expected [lo, hi] with lo < hi, found [1,1]"}},
      {"hist_range not a pair",
       with_model(R"("probe": {"hist_range": [1, "a", 3]})"),
       {R"(x.json: /probe/hist_range: expected null, [lo, hi] (two numbers) or an object of ranges per quantity {"act": [lo, hi], ...}, found [1,"a",3])"}},
      {"hist_range per quantity: unknown quantity, bad range, lo >= hi",
       with_model(R"("probe": {"hist_range": {"acts": [0, 1], "grad_w": 3, "delta": [1, -1]}})"),
       {R"(x.json: /probe/hist_range/acts: unknown key; did you mean "act"?)",
        "x.json: /probe/hist_range/delta: expected [lo, hi] with lo < hi, found [1,-1]",
        "x.json: /probe/hist_range/grad_w: expected [lo, hi] (two numbers), found 3"}},
      {"dump_tensors of another type",
       with_model(R"("probe": {"dump_tensors": "some"})"),
       {R"(x.json: /probe/dump_tensors: expected false, true (step 0), "all" or a list of probe steps, found "some")"}},
      {"dump_tensors lists steps that are not probed",
       with_model(
           R"("train": {"steps": 100}, "probe": {"every": 25, "dump_tensors": [0, 30, -1, 100]})"),
       {"x.json: /probe/dump_tensors/2: expected a probe step (an integer >= 0), found -1",
        "x.json: /probe/dump_tensors/1: expected a probe step (0, 25, 50, 75, 100), found 30"}},
      {"dump_tensors: a long schedule is shown by its ends",
       with_model(R"("train": {"steps": 10000}, "probe": {"every": 10, "dump_tensors": [15]})"),
       {"x.json: /probe/dump_tensors/0: expected a probe step (0, 10, 20, 30, ..., 10000), found "
        "15"}},
      {"dump_tensors: a log schedule",
       with_model(
           R"("train": {"steps": 50}, "probe": {"schedule": "log", "per_decade": 2, "dump_tensors": [4]})"),
       {"x.json: /probe/dump_tensors/0: expected a probe step (0, 1, 3, 10, 32, 50), found 4"}},
      {"missing idx paths",
       with_model(R"("data": {"name": "idx", "train_images": "a.idx"})"),
       {"x.json: /data/train_labels: missing (expected a non-empty string)",
        "x.json: /data/test_images: missing (expected a non-empty string)",
        "x.json: /data/test_labels: missing (expected a non-empty string)"}},
      {"parameter of another dataset",
       with_model(R"("data": {"name": "shapeset3x2", "dim": 5})"),
       {R"(x.json: /data/dim: not a parameter of dataset "shapeset3x2")"}},
      {"unknown dataset",
       with_model(R"("data": {"name": "mnist"})"),
       {R"(x.json: /data/name: unknown dataset "mnist"; expected one of gaussian, shapeset3x2, )"
        R"(idx, fashion_mnist, temporal_order, addition)"}},
      {"bad teacher block",
       with_model(
           R"("data": {"teacher": {"depth": 1, "width": 4, "activation": "tahn", "type": "mlp"}}, "loss": "mse")"),
       {R"(x.json: /data/teacher/type: unknown key)",
        R"(x.json: /data/teacher/activation: unknown activation "tahn" (did you mean "tanh"?); expected one of ...)"}},
      {"threads",
       with_model(R"("threads": 0)"),
       {R"(x.json: /threads: expected an integer in 1..1024 or "auto", found 0)"}},
      {"precision",
       with_model(R"("precision": "float16")"),
       {R"(x.json: /precision: expected "float32" or "float64", found "float16")"}},
      {"per_decade needs the log schedule",
       with_model(R"("probe": {"per_decade": 5})"),
       {R"(x.json: /probe/per_decade: only with probe.schedule "log")"}},
      {"clip_norm zero",
       with_model(R"("train": {"clip_norm": 0})"),
       {"x.json: /train/clip_norm: expected null or a number > 0, found 0"}},
      {"saturation_tau out of (0, 1)",
       with_model(R"("probe": {"saturation_tau": 1})"),
       {"x.json: /probe/saturation_tau: expected a number in (0, 1), found 1"}},
      {"maxout pieces",
       R"({"model": {"depth": 2, "width": 3, "activation": {"name": "maxout", "pieces": 1}}})",
       {"x.json: /model/activation/pieces: expected an integer in 2..64, found 1"}},
      {"rrelu upper below lower",
       R"({"model": {"depth": 2, "width": 3, "activation": {"name": "rrelu", "lower": 0.5, "upper": 0.25}}})",
       {"x.json: /model/activation/upper: expected a number >= lower (0.5), found 0.25"}},
      {"gaussian bias without its variance",
       R"({"model": {"depth": 2, "width": 3, "bias_init": {"name": "gaussian"}}})",
       {"x.json: /model/bias_init/sigma_b2: missing (expected a number >= 0)"}},
      {"found is truncated to 60 characters",
       with_model(
           R"("description": ["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"])"),
       {"x.json: /description: expected a string, found [\"" + std::string(55, 'a') + "..."}},
      {"block of the wrong type",
       with_model(R"("train": [1])"),
       {"x.json: /train: expected an object, found [1]"}},
      {"sequence task inputs",
       R"({"model": {"type": "rnn", "width": 8, "inputs": "first_step"},
                                  "data": {"name": "addition", "length": 20}})",
       {R"(x.json: /model/inputs: expected "every_step" for data "addition" (a sequence task), )"
        R"(found "first_step")"}},
      {"maxout in an rnn",
       R"({"model": {"type": "rnn", "width": 8, "length": 4,
                     "activation": {"name": "maxout", "pieces": 3}}})",
       {R"(x.json: /model/activation: "maxout" is not supported for model.type "rnn": a maxout )"
        R"(unit has k affine pieces, so the shared W could not map the hidden state to itself; )"
        R"(use another activation, or maxout with model.type "mlp")"}},
      {"temporal_order shorter than 10",
       R"({"model": {"type": "rnn", "width": 8}, "data": {"name": "temporal_order", "length": 9}})",
       {R"(x.json: /data/length: expected an integer in 10..100000 ("temporal_order" places its )"
        R"(markers in windows of ⌊L/10⌋ steps), found 9)"}},
      {"addition shorter than 10",
       R"({"model": {"type": "rnn", "width": 8}, "data": {"name": "addition", "length": 5}})",
       {R"(x.json: /data/length: expected an integer in 10..100000 ("addition" places its )"
        R"(markers in windows of ⌊L/10⌋ steps), found 5)"}},
      {"task length of the wrong type",
       R"({"model": {"type": "rnn", "width": 8}, "data": {"name": "addition", "length": "50"}})",
       {R"(x.json: /data/length: expected an integer in 10..100000, found "50")"}},
      {"task without a length",
       R"({"model": {"type": "rnn", "width": 8}, "data": {"name": "temporal_order"}})",
       {"x.json: /data/length: missing (expected an integer in 10..100000)"}},
      // A misspelt value of a closed set gets a suggestion: case, "_" and "-" first, then the
      // one closest name within two edits (none on a tie, as "float16" above).
      {"value typo: case",
       R"({"model": {"depth": 2, "width": 3, "activation": "Relu"}})",
       {R"(x.json: /model/activation: unknown activation "Relu" (did you mean "relu"?); expected one of ...)"}},
      {"value typo: a missing underscore",
       R"({"model": {"depth": 2, "width": 3, "activation": "leakyrelu"}})",
       {R"(x.json: /model/activation: unknown activation "leakyrelu" (did you mean "leaky_relu"?); expected one of ...)"}},
      {"value typo: one edit",
       R"({"model": {"depth": 2, "width": 3, "init": "he_norml"}})",
       {R"(x.json: /model/init: unknown initializer "he_norml" (did you mean "he_normal"?); expected one of ...)"}},
      {"value typo: an alias",
       R"({"model": {"depth": 2, "width": 3, "init": "Kaiming_Normal"}})",
       {R"(x.json: /model/init: unknown initializer "Kaiming_Normal" (did you mean "kaiming_normal"?); expected one of ...)"}},
      {"value typo: bias initializer",
       R"({"model": {"depth": 2, "width": 3, "bias_init": {"name": "Gaussian", "sigma_b2": 1}}})",
       {R"(x.json: /model/bias_init: unknown bias initializer "Gaussian" (did you mean "gaussian"?); expected one of constant, gaussian)"}},
      {"value typo: an init parameter's choice",
       R"({"model": {"depth": 2, "width": 3, "init": {"name": "he_normal", "mode": "fan-in"}}})",
       {R"(x.json: /model/init/mode: expected "fan_in" or "fan_out", found "fan-in" (did you mean "fan_in"?))"}},
      {"value typo: model type",
       R"({"model": {"type": "RNN", "width": 3, "length": 4}})",
       {R"(x.json: /model/type: expected one of "mlp", "rnn", "lstm", "gru", found "RNN" (did you mean "rnn"?))"}},
      {"value typo: inputs and loss_at",
       R"({"model": {"type": "rnn", "width": 3, "length": 4, "inputs": "every-step", "loss_at": "Last"}})",
       {R"(x.json: /model/inputs: expected "every_step" or "first_step", found "every-step" (did you mean "every_step"?))",
        R"(x.json: /model/loss_at: expected "last" or "every_step", found "Last" (did you mean "last"?))"}},
      {"value typo: dataset",
       with_model(R"("data": {"name": "Shapeset3x2"})"),
       {R"(x.json: /data/name: unknown dataset "Shapeset3x2" (did you mean "shapeset3x2"?); expected one of gaussian, shapeset3x2, )"
        R"(idx, fashion_mnist, temporal_order, addition)"}},
      {"value typo: task",
       R"({"model": {"type": "rnn", "width": 3, "length": 4}, "data": {"name": "temporal-order"}})",
       {R"(x.json: /data/name: unknown dataset "temporal-order" (did you mean "temporal_order"?); expected one of ...)"}},
      {"value typo: loss",
       with_model(R"("loss": "MSE", "data": {"dim": 3})"),
       {R"(x.json: /loss: expected "cross_entropy" or "mse", found "MSE" (did you mean "mse"?))"}},
      {"value typo: optimizer and precision",
       with_model(R"("train": {"optimizer": "SGD"}, "precision": "Float32")"),
       {R"(x.json: /precision: expected "float32" or "float64", found "Float32" (did you mean "float32"?))",
        R"(x.json: /train/optimizer: expected one of "sgd", "adagrad", "rmsprop", "adam", "adamw", found "SGD" (did you mean "sgd"?))"}},
      // train: the optimizers and the rules around them (harness/core/config_optim.cpp)
      {"unknown optimizer",
       with_model(R"("train": {"optimizer": "adma"})"),
       {R"(x.json: /train/optimizer: expected one of "sgd", "adagrad", "rmsprop", "adam", "adamw", found "adma" (did you mean "adam"?))"}},
      {"beta outside [0, 1)",
       with_model(R"("train": {"optimizer": "adam", "betas": [0.9, 1.0]})"),
       {"x.json: /train/betas/1: expected a number in [0, 1), found 1.0"}},
      {"betas not a pair",
       with_model(R"("train": {"optimizer": "adamw", "betas": [0.9]})"),
       {"x.json: /train/betas: expected an array of two numbers in [0, 1), found [0.9]"}},
      {"negative eps",
       with_model(R"("train": {"optimizer": "adam", "eps": -1e-8})"),
       {"x.json: /train/eps: expected a number >= 0, found -1e-08"}},
      {"negative weight decay",
       with_model(R"("train": {"weight_decay": -0.1})"),
       {"x.json: /train/weight_decay: expected a number >= 0, found -0.1"}},
      {"lr_layers of the wrong length",
       with_model(R"("train": {"lr_layers": [1, 2]})"),
       {"x.json: /train/lr_layers: expected 3 multipliers (one per weight layer 1..3, the output "
        "layer included), found 2"}},
      {"lr_layers ramp not positive",
       with_model(R"("train": {"lr_layers": {"ramp": 0}})"),
       {"x.json: /train/lr_layers/ramp: expected a number > 0, found 0"}},
      {"a key of another optimizer",
       with_model(R"("train": {"betas": [0.9, 0.99]})"),
       {R"(x.json: /train/betas: does not apply to optimizer "sgd" (only to adam, adamw))"}},
      {"momentum for adam",
       with_model(R"("train": {"optimizer": "adam", "momentum": 0.9})"),
       {R"(x.json: /train/momentum: does not apply to optimizer "adam" (only to sgd, rmsprop))"}},
      {"nesterov without momentum",
       with_model(R"("train": {"nesterov": true})"),
       {"x.json: /train/nesterov: needs momentum > 0 and dampening 0, found momentum 0 and "
        "dampening 0"}},
      {"grad_noise without eta",
       with_model(R"("train": {"grad_noise": {"gamma": 0.5}})"),
       {"x.json: /train/grad_noise/eta: missing (expected a number > 0)"}},
      {"schedule typo",
       with_model(R"("train": {"schedule": "cosin"})"),
       {R"(x.json: /train/schedule: expected one of "constant", "step", "cosine", found "cosin" (did you mean "cosine"?))"}},
      {"step schedule without step_size",
       with_model(R"("train": {"schedule": {"name": "step"}})"),
       {"x.json: /train/schedule/step_size: missing (expected an integer >= 1)"}},
      {"lr_layers on a chain",
       R"({"model": {"type": "rnn", "width": 3, "length": 4}, "data": {"dim": 2},
           "train": {"lr_layers": [1]}})",
       {R"(x.json: /train/lr_layers: not available for model.type "rnn": a chain's steps share one weight matrix (use lr, or lars))"}},
      {"value typo: probe schedule and hist_scale",
       with_model(R"("probe": {"schedule": "Log", "hist_scale": "log10_abs"})"),
       {R"(x.json: /probe/schedule: expected "linear" or "log", found "Log" (did you mean "log"?))",
        R"(x.json: /probe/hist_scale: expected "linear" or "log10abs", found "log10_abs" (did you mean "log10abs"?))"}},
      {"per-layer probes in an rnn",
       R"({"model": {"type": "rnn", "width": 8, "length": 4},
           "probe": {"histograms": true, "jacobian": true}})",
       {R"(x.json: /probe/histograms: not available for model.type "rnn": histograms are per )"
        R"(layer (an mlp's); a chain's per-step view is timesteps.csv)",
        R"(x.json: /probe/jacobian: not available for model.type "rnn": the Jacobian spectra are )"
        R"(per layer (an mlp's); a chain's per-step view is timesteps.csv)"}},
      // probe.verdict (docs/reference.md §4.4): vanishing thresholds in (0, 1), exploding > 1.
      {"verdict thresholds out of range",
       with_model(R"("probe": {"verdict": {"vanishing_ratio": 1.5, "exploding_ratio": 0.5,
                                            "vanishing_factor": 0, "exploding_factor": -4}})"),
       {"x.json: /probe/verdict/vanishing_ratio: expected a number in (0, 1), found 1.5",
        "x.json: /probe/verdict/exploding_ratio: expected a number > 1, found 0.5",
        "x.json: /probe/verdict/vanishing_factor: expected a number in (0, 1), found 0",
        "x.json: /probe/verdict/exploding_factor: expected a number > 1, found -4"}},
      {"verdict threshold of the wrong type",
       with_model(R"("probe": {"verdict": {"exploding_factor": "4"}})"),
       {R"(x.json: /probe/verdict/exploding_factor: expected a number > 1, found "4")"}},
      {"verdict: unknown threshold",
       with_model(R"("probe": {"verdict": {"vanishing_fator": 0.1}})"),
       {R"(x.json: /probe/verdict/vanishing_fator: unknown key; did you mean "vanishing_factor"?)"}},
      {"verdict not an object",
       with_model(R"("probe": {"verdict": 0.01})"),
       {"x.json: /probe/verdict: expected an object, found 0.01"}},
      // gated chains (docs/reference.md §3 "LSTM and GRU")
      {"gated: an activation other than tanh",
       R"({"model": {"type": "lstm", "width": 8, "length": 4, "activation": "relu"}})",
       {R"(x.json: /model/activation: model.type "lstm" takes only "tanh" (or no activation): its )"
        R"(gates are σ by definition and its candidate and cell nonlinearity is tanh; other )"
        R"(activations are for model.type "rnn")"}},
      {"gated: maxout",
       R"({"model": {"type": "gru", "width": 8, "length": 4, "activation": "maxout"}})",
       {R"(x.json: /model/activation: model.type "gru" takes only "tanh" (or no activation): its )"
        R"(gates are σ by definition and its candidate nonlinearity is tanh; other activations )"
        R"(are for model.type "rnn")"}},
      {"gated: forget_bias on a gru",
       R"({"model": {"type": "gru", "width": 8, "length": 4, "forget_bias": 1}})",
       {R"(x.json: /model/forget_bias: only for model.type "lstm" (its forget gate); a GRU has )"
        R"(none (0 or absent))"}},
      {"gated: forget_bias not a number",
       R"({"model": {"type": "lstm", "width": 8, "length": 4, "forget_bias": "1"}})",
       {R"(x.json: /model/forget_bias: expected a number, found "1")"}},
      {"gated keys on an rnn and an mlp",
       R"({"model": {"type": "rnn", "width": 8, "length": 4, "forget_bias": 1,
                     "recurrent_init_gates": {}}})",
       {R"(x.json: /model/forget_bias: only for model.type "lstm" or "gru")",
        R"(x.json: /model/recurrent_init_gates: only for model.type "lstm" or "gru")"}},
      {"gated: unknown gate and bad per-gate init",
       R"({"model": {"type": "gru", "width": 8, "length": 4,
                     "recurrent_init_gates": {"f": "orthogonal", "z": "orthogonl"},
                     "input_init_gates": ["r"]}})",
       {R"(x.json: /model/input_init_gates: expected an object keyed by gate name (gru: gates r, z, )"
        R"(n), found ["r"])",
        R"(x.json: /model/recurrent_init_gates/f: unknown gate; model.type "gru" has gates r, z, n)",
        R"(x.json: /model/recurrent_init_gates/z: unknown initializer "orthogonl" ...)"}},
      {"gated: per-layer probes",
       R"({"model": {"type": "gru", "width": 8, "length": 4}, "probe": {"histograms": true}})",
       {R"(x.json: /probe/histograms: not available for model.type "gru": histograms are per )"
        R"(layer (an mlp's); a chain's per-step view is timesteps.csv)"}},
      {"gated: a dataset for chains",
       R"({"model": {"type": "lstm", "width": 8, "length": 4}, "data": {"name": "shapeset3x2"}})",
       {R"(x.json: /data/name: expected a dataset for model.type "lstm" (gaussian, temporal_order ...)"}},
  };
}

// Each case gives exactly its expected lines.
void expect_lines(const std::vector<BadCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.label);
    const auto lines = problems(c.text);
    ASSERT_EQ(lines.size(), c.expected.size()) << join(lines);
    for (size_t i = 0; i < lines.size(); ++i)
      EXPECT_TRUE(line_matches(c.expected[i], lines[i]))
          << "expected: " << c.expected[i] << "\n   found: " << lines[i];
  }
}

TEST(Config, BadConfigsGiveExactLines) {
  const auto cases = bad_cases();
  ASSERT_GE(cases.size(), 25u);
  expect_lines(cases);
}

// model.residual, model.norm, probe.norm_batch (harness/core/config_blocks.cpp).
TEST(Config, ResidualAndNormErrorsGiveExactLines) {
  const std::string D = R"("data": {"name": "gaussian", "dim": 3, "classes": 2})";
  auto cfg = [&](const std::string& model, const std::string& rest = "") {
    return R"({"model": {)" + model + "}, " + D + (rest.empty() ? "" : ", " + rest) + "}";
  };
  const std::vector<BadCase> cases = {
      {"residual with unequal widths",
       cfg(R"("hidden": [4, 5, 4], "residual": {"block": 1})"),
       {"x.json: /model/hidden/1: a residual net needs equal hidden widths (the stream's): "
        "expected 4, found 5"}},
      {"block size not dividing depth - 1",
       cfg(R"("depth": 4, "width": 4, "residual": {"block": 2})"),
       {"x.json: /model/depth: a residual net with model.residual.block 2 needs depth 1 + "
        "2·blocks (3, 5, 7, …: the input projection, then the blocks), found 4"}},
      {"negative alpha",
       cfg(R"("depth": 3, "width": 4, "residual": {"block": 1, "alpha": -1})"),
       {R"x(x.json: /model/residual/alpha: expected a number >= 0, "1/sqrt(L)" or "rezero", found -1)x"}},
      {"block 3 and a misspelt alpha",
       cfg(R"("depth": 3, "width": 4, "residual": {"block": 3, "alpha": "1/sqrtL"})"),
       {"x.json: /model/residual/block: expected an integer in 1..2, found 3",
        R"x(x.json: /model/residual/alpha: expected a number >= 0, "1/sqrt(L)" or "rezero", found "1/sqrtL")x"}},
      {"residual not an object",
       cfg(R"("depth": 3, "width": 4, "residual": true)"),
       {R"(x.json: /model/residual: expected null or an object with "block" and "alpha", found true)"}},
      {"unknown placement",
       cfg(R"("depth": 3, "width": 4, "norm": {"kind": "batch", "placement": "inside"})"),
       {R"(x.json: /model/norm/placement: expected "before" or "after", found "inside")"}},
      {"unknown norm kind",
       cfg(R"("depth": 3, "width": 4, "norm": {"kind": "group"})"),
       {R"(x.json: /model/norm/kind: expected "batch" or "layer", found "group")"}},
      {"norm without kind",
       cfg(R"("depth": 3, "width": 4, "norm": {})"),
       {R"(x.json: /model/norm/kind: missing (expected "batch" or "layer"))"}},
      {"norm on an rnn",
       cfg(R"("type": "rnn", "width": 4, "length": 3, "norm": {"kind": "layer"})"),
       {R"(x.json: /model/norm: only for model.type "mlp")"}},
      {"residual on an rnn",
       cfg(R"("type": "rnn", "width": 4, "length": 3, "residual": {"block": 1})"),
       {R"(x.json: /model/residual: only for model.type "mlp")"}},
      {"norm_batch without batch norm",
       cfg(R"("depth": 3, "width": 4, "norm": {"kind": "layer"})", R"("probe": {"norm_batch": 8})"),
       {R"(x.json: /probe/norm_batch: only with model.norm.kind "batch")"}},
      {"norm_batch of 1",
       cfg(R"("depth": 3, "width": 4, "norm": {"kind": "batch"})", R"("probe": {"norm_batch": 1})"),
       {R"(x.json: /probe/norm_batch: expected an integer in 2..1000000 or "all", found 1)"}},
      {"batch norm training on batches of 1",
       cfg(R"("depth": 3, "width": 4, "norm": {"kind": "batch"})",
           R"("train": {"steps": 3, "batch_size": 1})"),
       {R"(x.json: /train/batch_size: at least 2 with model.norm.kind "batch" (its batch variance), found 1)"}},
      {"maxout with norm",
       cfg(R"("depth": 3, "width": 4, "activation": "maxout", "norm": {"kind": "batch"})"),
       {R"(x.json: /model/activation: "maxout" is not available with model.residual or model.norm (its k pieces per unit); use another activation)"}},
      {"jacobian with a residual net",
       cfg(R"("depth": 3, "width": 4, "residual": {"block": 1})", R"("probe": {"jacobian": true})"),
       {"x.json: /probe/jacobian: not available with model.residual or model.norm (the Jacobians "
        "are of plain layers)"}},
  };
  expect_lines(cases);
}

// The resolved form: the keys only where set (a plain config resolves as before), defaults
// filled, and it reads back to itself.
TEST(Config, ResidualAndNormResolve) {
  const Config plain = valid(with_model(""));
  const json pj = config_to_json(plain);
  EXPECT_FALSE(pj["model"].contains("residual"));
  EXPECT_FALSE(pj["model"].contains("norm"));
  EXPECT_FALSE(pj["probe"].contains("norm_batch"));
  const Config c =
      valid(R"({"model": {"depth": 5, "width": 4, "residual": {"block": 2, "alpha": "rezero"},
      "norm": {"kind": "batch"}}, "train": {"steps": 2, "batch_size": 32}, "probe": {"samples": 20}})");
  const json j = config_to_json(c);
  EXPECT_EQ(j["model"]["residual"], json::parse(R"({"block": 2, "alpha": "rezero"})"));
  EXPECT_EQ(j["model"]["norm"], json::parse(R"({"kind": "batch", "placement": "before"})"));
  EXPECT_EQ(j["probe"]["norm_batch"], 20);  // train.batch_size capped at probe.samples
  EXPECT_EQ(probe_norm_group(c), 0);        // = the whole probe set
  std::vector<ConfigIssue> issues;
  EXPECT_EQ(config_to_json(config_from_json(j, issues)), j);
  EXPECT_TRUE(issues.empty());
  const Config all = valid(R"({"model": {"depth": 3, "width": 4, "residual": {"alpha": 0.5},
      "norm": {"kind": "batch", "placement": "after"}}, "probe": {"norm_batch": "all"}})");
  EXPECT_EQ(config_to_json(all)["probe"]["norm_batch"], "all");
  EXPECT_EQ(config_to_json(all)["model"]["residual"]["alpha"], 0.5);
  EXPECT_EQ(all.model.blocks.residual.block, 1);
}

}  // namespace
}  // namespace gl
