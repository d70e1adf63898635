// probe.dump_tensors for the chain runs (run_rnn.cpp, run_gated.cpp; docs/reference.md §5):
// time-major (F, T·N) matrices written as examples × T × F arrays, and the probe set's x and y.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/io.h"
#include "harness/data/tasks.h"
#include "harness/nn/rnn.h"

namespace gl {

// (N, T, F) in C order from a time-major (F, ≥ n·N) matrix holding n ≤ T blocks (the rest 0).
template <class T>
std::vector<T> examples_by_step(const Eigen::Ref<const Mat<T>>& m, Index blocks, Index steps,
                                Index N) {
  const Index F = m.rows();
  std::vector<T> out(static_cast<size_t>(N * steps * F), T(0));
  for (Index i = 0; i < N; ++i)
    for (Index t = 0; t < blocks; ++t)
      for (Index f = 0; f < F; ++f)
        out[static_cast<size_t>((i * steps + t) * F + f)] = m(f, t * N + i);
  return out;
}

// The first T blocks of a time-major (F, ≥ T·N) matrix as an (N, T, F) .npy file.
template <class T>
void npy_write_steps(const std::string& path, const Eigen::Ref<const Mat<T>>& m, Index steps,
                     Index N) {
  const std::vector<T> v = examples_by_step<T>(m, steps, steps, N);
  npy_write_array(path, v.data(), {N, steps, m.rows()});
}

// x.npy (N × T × features; first_step: zero after t = 1) and y.npy: loss at the last step (N)
// int64 labels or (N, outputs) targets; at every step (N, T) labels or (N, T, outputs) targets.
template <class T>
void chain_dump_xy(const std::string& dir, const SeqBatch<T>& probe, bool labels, RnnInputs inputs,
                   LossAt loss_at) {
  const Index N = probe.batch, steps = probe.steps;
  const Index xblocks = inputs == RnnInputs::every_step ? steps : 1;
  const std::vector<T> x = examples_by_step<T>(probe.x, xblocks, steps, N);
  npy_write_array(dir + "/x.npy", x.data(), {N, steps, probe.x.rows()});
  const Targets<T>& y = probe.y;
  if (loss_at == LossAt::last) {
    if (labels)
      npy_write_labels(dir + "/y.npy", y.labels);
    else
      npy_write_examples(dir + "/y.npy", y.y);
  } else if (labels) {
    std::vector<int64_t> l(static_cast<size_t>(N * steps));
    for (Index i = 0; i < N; ++i)
      for (Index t = 0; t < steps; ++t)
        l[static_cast<size_t>(i * steps + t)] = y.labels[static_cast<size_t>(t * N + i)];
    npy_write_array(dir + "/y.npy", l.data(), {N, steps});
  } else {
    npy_write_steps<T>(dir + "/y.npy", y.y, steps, N);
  }
}

}  // namespace gl
