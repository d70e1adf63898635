// Checkpoints (train.checkpoint_every, docs/reference.md §5): everything a training run needs to
// continue as if it had never stopped — parameters, momentum, the RNG states, the loss accumulator
// and the rows already measured — in raw little-endian bytes.
//
// File layout: magic "gradlab\0", format version (uint32), row layout (uint64: a hash of every
// row field list, so that adding a column makes older checkpoints unreadable rather than
// misread), run key (uint64: hash of the resolved config and seeds), then the run's state.
// A checkpoint of another format version or row layout (an older or newer gradlab) is refused:
// the run fails with a reason naming the file and both versions (the sweep exits 1), and its
// checkpoint is removed, so the next `gradlab run` starts that run over. A checkpoint of another
// run key (another config) is ignored: the run starts over.
#pragma once

#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "experiments/run.h"
#include "harness/nn/optim.h"

namespace gl {

// 1: unversioned (gradlab before the format carried a version); 2: magic, version, row layout;
// RNN runs checkpoint too.
inline constexpr uint32_t checkpoint_version = 2;

template <class V>
concept EigenDense = requires(V v) {
  typename V::Scalar;
  v.rows();
  v.cols();
  v.data();
};
template <class V>
concept HasFields = requires(V v) {
  row_fields(v, [](std::string_view, auto&, Cell = Cell::value) {});
};

// A checkpoint being written (writing) or read: io(x) puts or gets x, so one function lists a
// run's state for both directions.
struct Ckpt {
  std::string buf;
  size_t pos = 0;
  bool writing = true;

  template <class V>
  void io(V& v) {
    if constexpr (std::is_same_v<V, std::string>) {
      uint64_t n = v.size();
      io(n);
      if (writing) return void(buf += v);
      need(n);
      v = buf.substr(pos, n);
      pos += n;
    } else if constexpr (std::is_same_v<V, json>) {
      std::string s = writing ? v.dump() : std::string();
      io(s);
      if (!writing) v = json::parse(s);
    } else if constexpr (EigenDense<V>) {
      int64_t rows = v.rows(), cols = v.cols();
      io(rows), io(cols);
      if (!writing) v.resize(rows, cols);
      raw(v.data(), sizeof(typename V::Scalar) * static_cast<size_t>(v.size()));
    } else if constexpr (HasFields<V>) {
      row_fields(v, [&](std::string_view, auto& x, Cell = Cell::value) { io(x); });
    } else if constexpr (requires {
                           v.has_value();
                           *v;
                         }) {  // an optional
      uint8_t has = v.has_value();
      typename V::value_type x = v.value_or(typename V::value_type{});
      io(has), io(x);
      v = has ? V(x) : std::nullopt;
    } else if constexpr (requires {
                           v.resize(0);
                           v.begin();
                         }) {  // a vector
      uint64_t n = v.size();
      io(n);
      if (!writing) v.resize(n);
      for (auto& x : v) io(x);
    } else {
      static_assert(std::is_trivially_copyable_v<V>);
      raw(&v, sizeof(V));
    }
  }

 private:
  void need(size_t n) const {
    if (pos + n > buf.size()) throw std::runtime_error("checkpoint truncated");
  }
  void raw(void* p, size_t n) {
    if (writing) return void(buf.append(static_cast<const char*>(p), n));
    need(n);
    std::memcpy(p, buf.data() + pos, n);
    pos += n;
  }
};

// The bookkeeping every training run shares: where the loop is, the training-loss accumulator
// since the last probe, and everything measured so far.
struct LoopState {
  int64_t step = 0;       // steps taken
  size_t next_probe = 0;  // index into the probe schedule
  double loss_sum = 0;    // training losses since the previous probe
  int64_t loss_n = 0;
  TrainProgress* progress = nullptr;  // where each step is reported (not checkpointed; may be null)
};
void loop_state_io(Ckpt& ck, LoopState& s, Rng& rng, RunResult& out, json& first_nonfinite);

// The optimizer's state (moments, step counts) and the update-ratio bookkeeping. The gradient
// noise needs no position: its stream is indexed by the step.
template <class T>
void optim_io(Ckpt& ck, Optim<T>& o) {
  for (auto& s : o.state) ck.io(s.m), ck.io(s.v), ck.io(s.g_avg), ck.io(s.step);
  for (auto& s : o.scalar_state) ck.io(s.m), ck.io(s.v), ck.io(s.g_avg), ck.io(s.step);
  ck.io(o.lr), ck.io(o.ratio), ck.io(o.ratio_sum), ck.io(o.ratio_n);
}

// The start of every training run: resume from ckpt when train.checkpoint_every > 0 and it holds
// this run's checkpoint (state(ck) reads it), else probe step 0; then starts ls.progress's clock.
void train_begin(LoopState& ls, const TrainConfig& train, const std::string& ckpt, uint64_t key,
                 const std::function<void(Ckpt&)>& state,
                 const std::function<void(int64_t)>& probe);

// What one training step produced, for train_step_end.
struct StepEnd {
  int64_t step = 0;
  double loss = 0;       // the batch's mean loss
  double grad_norm = 0;  // ‖∂L/∂θ‖ (0 when not taken: no clipping and no probe this step)
  bool clipped = false;
  double lr = 0;  // the step's base rate lr·f(step) (harness/nn/optim.h lr_factor)
};

// The end of a training step, the same for every model kind: the loss joins the accumulator; a
// probe, probe(step), when the schedule says so or the step diverged (non-finite loss or norm),
// whose steps.csv row then gets the training columns; ls.progress gets the step and its loss; a
// diverged run is marked (its first non-finite `position`, "layer" or "t") and the loop stops
// (false); every train.checkpoint_every steps before the last, save() writes the checkpoint.
bool train_step_end(LoopState& ls, RunResult& out, json& first_nonfinite, const TrainConfig& train,
                    const std::vector<int64_t>& schedule, const StepEnd& e, const char* position,
                    const std::function<void(int64_t)>& probe, const std::function<void()>& save);

// The key of a run's checkpoint: hash of its resolved config and seeds.
uint64_t checkpoint_key(const RunSpec& spec);

// Reads path (when it exists) into the run's state by state(ck): true when resumed. Throws
// std::runtime_error naming path and the versions when the file is of another format version or
// row layout; returns false (nothing read) for another run key.
bool checkpoint_resume(const std::string& path, uint64_t key,
                       const std::function<void(Ckpt&)>& state);
// Writes the run's state by state(ck) to path, atomically.
void checkpoint_save(const std::string& path, uint64_t key,
                     const std::function<void(Ckpt&)>& state);

}  // namespace gl
