// Datasets (docs/reference.md §6). Three independent streams per run, seeded from the run's data
// seed only: training batches, the fixed probe set and the held-out test set (so every grid point
// of a repeat sees the same examples). x is (features, n), one column per example; an image is one
// column in row-major pixel order (feature index = row·cols + col).
//
// What the network sees:
//   gaussian     N(0, I) inputs (targets: labels, N(0, I) vectors or a teacher's outputs)
//   shapeset3x2  32×32 grey levels g as g/255·2 − 1 ∈ [−1, 1] (Glorot's neg=True; shapeset.h),
//                drawn online from each stream: training, probe and test images are all fresh
//   idx, fashion_mnist
//                (p/255 − μ)/σ, μ and σ the mean and std of p/255 over every pixel of the train
//                split (one scalar each; Fashion-MNIST: μ = 0.286041, σ = 0.353024). Training
//                examples are drawn uniformly with replacement from the train split (an online
//                stream, as for Shapeset); the probe set is probe.samples test examples drawn
//                without replacement by the probe stream, the test set data.test_samples test
//                examples drawn without replacement by the test stream (both clamped to the test
//                split's size; the two sets may share examples).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/core/config.h"
#include "harness/core/rng.h"
#include "harness/nn/loss.h"
#include "harness/nn/mlp.h"

namespace gl {

struct IdxSet;  // harness/data/idx.h

enum class Split { train, probe, test };

struct DataInfo {
  Index inputs = 0;    // features per example (per time step for sequence tasks)
  Index outputs = 0;   // network outputs (classes for cross_entropy)
  bool labels = true;  // class labels (cross_entropy) or target vectors (mse)
  std::vector<std::string> class_names;
  Index image_rows = 0, image_cols = 0;  // image datasets: x holds a rows×cols image (else 0)
};

// Sizes only: what the model needs to be built, and what validation checks. No data is read,
// except for idx/fashion_mnist: the image headers and the (small) label files, whose problems
// (missing, malformed, counts) throw here; a missing Fashion-MNIST package is an EnvError.
DataInfo data_info(const Config& c);

template <class T>
struct Dataset {
  Config cfg;
  DataInfo info;
  Rng train_rng, probe_rng, test_rng;
  Mlp<T> teacher;             // gaussian with a teacher: targets = teacher(x)
  MlpCache<T> teacher_cache;  // reused by every batch: sampling allocates nothing after the first
  bool has_teacher = false;
  Mat<T> normals;  // gaussian: one batch's draws (inputs + outputs, n), in the stream's order
  std::shared_ptr<const IdxSet> idx;  // idx, fashion_mnist: the loaded files (shared between runs)
  std::vector<T> idx_value;           // idx, fashion_mnist: network input of pixel level 0..255
};

// Stream seeds: train = seed_mix(data_seed, 1), probe = 2, test = 3, teacher weights = 4.
template <class T>
Dataset<T> dataset_make(const Config& c, uint64_t data_seed);
// n fresh examples of a split. Draw order (gaussian): per example, x's entries, then its target.
// idx/fashion_mnist probe and test splits return min(n, test split size) examples.
template <class T>
void dataset_sample(Dataset<T>& d, Split split, Index n, Mat<T>& x, Targets<T>& t);

}  // namespace gl
