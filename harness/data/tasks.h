// Sequence data for weight-shared chains (docs/reference.md §6): Pascanu et al. 2013's
// temporal_order and addition tasks, generated as in their code (pascanur/trainingRNNs
// tempOrder.py, addition.py; Pascanu et al. 2013, §4.1), and gaussian sequences. Three streams
// seeded as harness/data/data.cpp seeds them: train = seed_mix(data_seed, 1), probe = 2, test = 3
// (so every grid point of a repeat sees the same sequences).
//
// Layout (harness/nn/rnn.h): time-major blocks, x is (features, steps·B) with columns [(t-1)·B,
// t·B) holding x_t; first_step chains get x_1 only (one block). Targets are per example, or
// (loss_at every_step) per (step, example) in the same time-major order: labels[(t-1)·B + i],
// y.col(...).
//
// Tasks (L = data.length, ⌊·⌋ as Python's int(); every position is 0-based):
//   temporal_order  6 one-hot channels {A, B, c, d, e, f}; A or B (v0) at p0 ∈ [⌊L/10⌋, 2⌊L/10⌋),
//                   A or B (v1) at p1 ∈ [⌊L/2⌋, ⌊L/2⌋ + ⌊L/10⌋); every other step a random one of
//                   {c, d, e, f}. Target class v0 + 2·v1 (AA, BA, AB, BB), read at the last step.
//                   Every sequence has length L (tempOrder.py uses the length it is given).
//   addition        2 channels: channel 1 holds U(0, 1) values, channel 0 is 1 at p0 ∈ [0, ⌊l/10⌋)
//                   and p1 ∈ [⌊l/10⌋, ⌊l/10⌋ + ⌊4l/10⌋), else 0. Target (v_p0 + v_p1)/2, mse.
//                   Training minibatches have length l = L + U{0..⌊L/10⌋−1}, drawn per minibatch
//                   (addition.py); probe and test sequences have l = L.
//   gaussian        x_t ~ N(0, I_dim) at every step (first_step: t = 1 only); targets random
//                   labels in `classes` (cross_entropy) or N(0, I_outputs) vectors (mse), one per
//                   example (loss_at last) or per (step, example).
// The tasks need L ≥ 10 (so that ⌊L/10⌋ ≥ 1, as numpy's randint requires in Pascanu's code).
//
// Draw order (per stream; documented so others can replay it): training batches first draw the
// length (addition only), then per example i = 0..B-1 —
//   temporal_order: p0, v0, p1, v1, then a symbol in {c..f} for every step (markers overwrite)
//   addition:       p0, p1, then the channel-1 value of every step
//   gaussian:       x_t's entries for t = 1.. (entry-major within a step), then the target(s)
#pragma once

#include <string>

#include "harness/core/config.h"
#include "harness/core/rng.h"
#include "harness/data/data.h"
#include "harness/nn/loss.h"

namespace gl {

// One batch of sequences. x keeps room for the longest batch seen; use its first n·batch columns
// (n = steps, or 1 for first_step chains).
template <class T>
struct SeqBatch {
  Index steps = 0;  // T of this batch
  Index batch = 0;  // B
  Mat<T> x;         // (features, ≥ steps·B) time-major
  Targets<T> y;     // (B) or (outputs, B); loss_at every_step: (steps·B) or (outputs, steps·B)
};

template <class T>
struct SeqData {
  DataName name = DataName::gaussian;
  Index inputs = 0, outputs = 0;
  bool labels = true;       // cross_entropy labels, or mse target vectors
  Index length = 0;         // T of probe and test sequences
  bool first_step = false;  // x_1 only
  bool every_step = false;  // a target per step (loss_at every_step)
  Rng train_rng, probe_rng, test_rng;
  std::vector<T> normals;  // gaussian: one sequence's draws, in the stream's order
};

// Sizes from the config alone (inputs and outputs per step), as data_info gives them for the
// other datasets. Throws UsageError for a task with data.length < 10 or a dataset that is not a
// sequence dataset (gaussian, temporal_order, addition).
DataInfo seq_info(const Config& c);

template <class T>
SeqData<T> seq_data_make(const Config& c, uint64_t data_seed);
// n fresh sequences of a split (the probe and test splits: length T exactly).
template <class T>
void seq_sample(SeqData<T>& d, Split split, Index n, SeqBatch<T>& out);

// The generators on their own (tests, `gradlab data`): n sequences of length l from r.
template <class T>
void temporal_order_generate(Rng& r, Index l, Index n, SeqBatch<T>& out);
template <class T>
void addition_generate(Rng& r, Index l, Index n, SeqBatch<T>& out);

}  // namespace gl
