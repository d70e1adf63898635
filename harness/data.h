// Datasets (design §6). Three independent streams per run, seeded from the run's data seed only:
// training batches, the fixed probe set and the held-out test set (so every grid point of a
// repeat sees the same examples). x is (features, n), one column per example.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/config.h"
#include "harness/loss.h"
#include "harness/mlp.h"
#include "harness/rng.h"

namespace gl {

enum class Split { train, probe, test };

struct DataInfo {
  Index inputs = 0;     // features per example (per time step for sequence tasks)
  Index outputs = 0;    // network outputs (classes for cross_entropy)
  bool labels = true;   // class labels (cross_entropy) or target vectors (mse)
  std::vector<std::string> class_names;
};

// Sizes only (no data is read): what the model needs to be built, and what validation checks.
DataInfo data_info(const Config& c);

template <class T> struct Dataset {
  Config cfg;
  DataInfo info;
  Rng train_rng, probe_rng, test_rng;
  Mlp<T> teacher;  // gaussian with a teacher: targets = teacher(x)
  bool has_teacher = false;
};

// Stream seeds: train = seed_mix(data_seed, 1), probe = 2, test = 3, teacher weights = 4.
template <class T> Dataset<T> dataset_make(const Config& c, uint64_t data_seed);
// n fresh examples of a split. Draw order (gaussian): per example, x's entries, then its target.
template <class T>
void dataset_sample(Dataset<T>& d, Split split, Index n, Mat<T>& x, Targets<T>& t);

}  // namespace gl
