// An experiment: one config file expanded into its runs (docs/reference.md §2, §3 grid, §5 run
// ids).
//
// experiment_load reads the file, expands shorthands, applies --set, takes out the grid, builds
// every grid point × repeat, validates each point's config and gives every run its id and seeds.
// Every problem of every point is reported at once, mapped back to where the user wrote it
// ("/grid/model.activation/1: unknown activation ..."), in one ConfigError.
//
// Seeds (documented in the README, Config → Seeds; never change them, results depend on them):
//   point      = {axis name: value, ...} in axis order (variants: "variants": label), without
//                the axes listed in common_random_numbers (common random numbers: runs that
//                differ only in those axes get the same seed, so the same initial weights)
//   point_hash = hash_bytes(point.dump())          (FNV-1a 64 of the compact JSON text)
//   seed       = seed_mix(seed_mix(config.seed, point_hash), repeat) & (2^53 − 1)
//   data_seed  = seed_mix(config.seed, 0x9e3779b97f4a7c15 + repeat) & (2^53 − 1)
// Both fit in 53 bits, so any JSON or float64 reader keeps them exact. data_seed does not depend
// on the point: all grid points of a repeat see the same data stream, probe set and test set,
// and adding a value to an axis never changes another run's seed or id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/config.h"

namespace gl {

// One grid axis: a dotted config path and its values, or "variants" (values: objects with a
// "label", deep-merged into the config as one unit).
struct GridAxis {
  std::string name;
  std::vector<json> values;
};

struct RunSpec {
  int index;           // position in the full expansion (stable under --only; --shard uses it)
  std::string id;      // the folder name under runs/ (docs/reference.md §5)
  json point;          // axis name → value (variants: the label), in axis order
  int repeat;          // 0 .. repeats − 1
  uint64_t seed;       // the run's own randomness (weights, minibatch order)
  uint64_t data_seed;  // data stream, probe and test sets: the same for every point of a repeat
  Config config;       // validated, defaults filled
  json resolved;       // config_to_json(config): written beside the run
};

struct Experiment {
  std::string file;                 // the path as given
  std::string name;                 // "name", or the file stem
  std::string hash;                 // 16 hex digits of the canonical input (see experiment_load)
  json input;                       // the config after shorthand expansion and --set, grid included
  std::vector<std::string> sets;    // the --set arguments "KEY=VALUE", as given, in order
  std::vector<GridAxis> axes;       // in the order written
  std::vector<std::string> common;  // common_random_numbers: axes whose values leave the seed
  std::vector<RunSpec> runs;        // point-major, repeat fastest; only those --only keeps
};

inline constexpr int64_t experiment_max_runs = 1'000'000;

// Throws ConfigError (every problem, "<file>: <path>: <message>" per line).
Experiment experiment_load(const std::string& path, const std::vector<std::string>& sets,
                           const std::vector<std::string>& onlys);

// The manifest body: name, file, hash, set (the --set arguments), config (input incl. grid,
// after --set), axes [{name, values}], runs [{index, id, point, repeat, seed}].
json experiment_to_json(const Experiment& e);

// The text of an axis value in CSV cells and run ids: compact JSON, strings unquoted (a variant's
// point value is its label, a string).
std::string axis_value_text(const json& v);

// The characters a variant's label may hold: those a run id keeps, so that a label is written
// the same way in ids, folders, --only and table cells.
bool label_char_ok(char ch);

// The seed rule above, for one run (point: without the common_random_numbers axes).
uint64_t run_seed(uint64_t config_seed, const json& point, int repeat);
uint64_t run_data_seed(uint64_t config_seed, int repeat);

}  // namespace gl
