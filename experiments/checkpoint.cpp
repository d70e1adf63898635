#include "experiments/checkpoint.h"

#include <fmt/format.h>
#include <cmath>
#include <filesystem>

#include "harness/core/io.h"

namespace gl {

namespace {

constexpr char magic[8] = {'g', 'r', 'a', 'd', 'l', 'a', 'b', '\0'};

// A hash of every checkpointed row's field names and sizes, in order.
template <class Row>
uint64_t layout_of(uint64_t h) {
  Row r{};
  row_fields(r, [&](std::string_view name, const auto& v, Cell = Cell::value) {
    const uint64_t size = sizeof(v);
    h = hash_bytes(name.data(), name.size(), h);
    h = hash_bytes(&size, sizeof(size), h);
  });
  return h;
}

uint64_t row_layout() {
  uint64_t h = hash_bytes("rows", 4);
  h = layout_of<LayerRow>(h);
  h = layout_of<StepRow>(h);
  h = layout_of<HistRow>(h);
  return layout_of<TimestepRow>(h);
}

}  // namespace

void loop_state_io(Ckpt& ck, LoopState& s, Rng& rng, RunResult& out, json& first_nonfinite) {
  ck.io(s.step), ck.io(s.next_probe), ck.io(s.loss_sum), ck.io(s.loss_n), ck.io(rng);
  ck.io(out.layers), ck.io(out.steps), ck.io(out.hists), ck.io(out.timesteps);
  ck.io(out.summary), ck.io(first_nonfinite);
}

void train_begin(LoopState& ls, const TrainConfig& train, const std::string& ckpt, uint64_t key,
                 const std::function<void(Ckpt&)>& state,
                 const std::function<void(int64_t)>& probe) {
  if (train.checkpoint_every == 0 || !checkpoint_resume(ckpt, key, state)) {
    probe(0);
    ls.next_probe = 1;
  }
  if (TrainProgress* p = ls.progress) {
    p->start_step = ls.step;
    p->step = ls.step;
    p->total = train.steps;
    p->start_s = steady_seconds();
  }
}

bool train_step_end(LoopState& ls, RunResult& out, json& first_nonfinite, const TrainConfig& train,
                    const std::vector<int64_t>& schedule, const StepEnd& e, const char* position,
                    const std::function<void(int64_t)>& probe, const std::function<void()>& save) {
  ls.loss_sum += e.loss;
  ++ls.loss_n;
  if (ls.progress) {
    ls.progress->loss = e.loss;
    ls.progress->step = e.step;
  }
  const bool diverged = !std::isfinite(e.loss) || !std::isfinite(e.grad_norm);
  if (diverged || (ls.next_probe < schedule.size() && schedule[ls.next_probe] == e.step)) {
    probe(e.step);
    step_row_train(out.steps.back(), ls.loss_sum, ls.loss_n, e.grad_norm, e.clipped, e.lr);
    ++ls.next_probe;
  }
  if (diverged) {
    run_mark_diverged(out, first_nonfinite, e.step, position);
    return false;
  }
  if (train.checkpoint_every > 0 && e.step % train.checkpoint_every == 0 && e.step < train.steps) {
    ls.step = e.step;
    save();
  }
  return true;
}

uint64_t checkpoint_key(const RunSpec& spec) {
  const std::string k =
      spec.resolved.dump() + "|" + std::to_string(spec.seed) + "|" + std::to_string(spec.data_seed);
  return hash_bytes(k.data(), k.size());
}

bool checkpoint_resume(const std::string& path, uint64_t key,
                       const std::function<void(Ckpt&)>& state) {
  if (!std::filesystem::exists(path)) return false;
  Ckpt ck{file_read(path), 0, false};
  char m[sizeof(magic)] = {};
  uint32_t version = 1;
  uint64_t layout = 0, k = 0;
  if (ck.buf.size() >= sizeof(magic)) std::memcpy(m, ck.buf.data(), sizeof(magic));
  if (std::memcmp(m, magic, sizeof(magic)) == 0) {
    ck.pos = sizeof(magic);
    ck.io(version), ck.io(layout);
  }
  if (version != checkpoint_version || layout != row_layout()) {
    const std::string found = version == 1                    ? "1 (unversioned: an older gradlab)"
                              : version == checkpoint_version ? "2 with other table columns"
                                                              : std::to_string(version);
    throw std::runtime_error(fmt::format(
        "{}: checkpoint format version {}, this gradlab reads version {}: refused, not read; "
        "run again to start this run over",
        path, found, checkpoint_version));
  }
  ck.io(k);
  if (k != key) return false;
  state(ck);
  return true;
}

void checkpoint_save(const std::string& path, uint64_t key,
                     const std::function<void(Ckpt&)>& state) {
  Ckpt ck;
  ck.buf.append(magic, sizeof(magic));
  uint32_t version = checkpoint_version;
  uint64_t layout = row_layout();
  ck.io(version), ck.io(layout), ck.io(key);
  state(ck);
  file_write_atomic(path, ck.buf);
}

}  // namespace gl
