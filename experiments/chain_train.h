// What the chain runs (run_rnn.cpp, run_gated.cpp) share: the training loop and the update-ratio
// columns of a probe row. A chain run R has the members spec, c, data (a SeqData), batch, optim
// (harness/nn/optim.h), lossi, out, first_nonfinite and step_times; the model-specific work comes
// in as callables.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "experiments/checkpoint.h"
#include "experiments/run.h"
#include "harness/data/tasks.h"
#include "harness/nn/loss.h"
#include "harness/nn/optim.h"

namespace gl {

// steps.csv's update columns of a chain: W_hh (rec) is the optimizer's weight 1, W_ih (in) its
// weight 0, as layers.csv's W_l of an MLP (docs/reference.md §4.3). Restarts the probe window.
template <class T>
void chain_update_stats(StepRow& s, const TrainConfig& tc, Optim<T>& o) {
  const UpdateStats rec = optim_stats(tc, o, optim_weight_of(o, 1));
  const UpdateStats in = optim_stats(tc, o, optim_weight_of(o, 0));
  s.update_ratio_rec = rec.ratio, s.update_ratio_rec_mean = rec.ratio_mean;
  s.effective_lr_rec = rec.effective_lr;
  s.update_ratio_in = in.ratio, s.update_ratio_in_mean = in.ratio_mean;
  s.effective_lr_in = in.effective_lr;
  optim_probe_reset(o);
}

// A probe's passes on r.probe: forward() into r.cache, the loss, backward(dy, grads) into g (every
// loss) and, with the loss at every step, a second backward into last seeded by the last step's
// loss only (the long-range part that gradient_ratio measures).
template <class R, class G, class Fwd, class Bwd>
void chain_probe_pass(R& r, G& g, G& last, bool every, Fwd&& forward, Bwd&& backward) {
  const Index N = r.probe.batch, steps = r.probe.steps;
  forward();
  loss_forward(r.c.loss, r.cache.yhat, r.probe.y, r.lossv);
  example_losses(r.lossv, N, r.lossi);
  loss_backward(r.c.loss, r.cache.yhat, r.probe.y, r.dy);
  backward(r.dy, g);
  if (every) {
    r.dy_last = r.dy;
    r.dy_last.leftCols((steps - 1) * N).setZero();
    backward(r.dy_last, last);
  }
}

// Trains r from its checkpoint (or from step 1) to train.steps, probing on the schedule, with
// checkpoints every train.checkpoint_every steps, and ends the summary.
//   forward()     the net on r.batch into r.cache (r.cache.yhat: outputs, steps × batch)
//   backward()    from r.dy into the gradients, then lists the parameters in r.optim
//                 (rnn_params / gated_params: the gradient buffers may have moved)
//   grads_norm()  ‖∇θ‖ over every parameter, before clipping
//   tensors(ck)   the parameters through the checkpoint, in a fixed order
//   probe(step)   the probe at `step`
// The checkpoint holds, in this order: the loop state and run rng, the training stream, the
// parameters, the optimizer's state (the test stream restarts from its start at every probe).
template <class R, class Fwd, class Bwd, class Norm, class Tensors, class Probe>
RunResult chain_train(R& r, Rng& rng, const std::string& run_dir, TrainProgress* progress,
                      Fwd&& forward, Bwd&& backward, Norm&& grads_norm, Tensors&& tensors,
                      Probe&& probe) {
  const Config& c = r.c;
  const std::vector<int64_t> schedule = probe_schedule(c.train, c.probe);
  LoopState ls;
  ls.progress = progress;
  const std::string ckpt = run_dir + "/checkpoint.bin";
  const uint64_t key = checkpoint_key(r.spec);
  const auto state = [&](Ckpt& ck) {
    loop_state_io(ck, ls, rng, r.out, r.first_nonfinite);
    ck.io(r.data.train_rng);
    tensors(ck);
    optim_io(ck, r.optim);
  };
  train_begin(ls, c.train, ckpt, key, state, probe);

  step_times_reserve(r.step_times, c.train.steps);
  for (int64_t step = ls.step + 1; step <= c.train.steps; ++step) {
    const auto ts = Clock::now();
    seq_sample(r.data, Split::train, c.train.batch_size, r.batch);
    forward();
    loss_forward(c.loss, r.cache.yhat, r.batch.y, r.lossv);
    example_losses(r.lossv, r.batch.batch, r.lossi);  // ℓ_i = Σ_t ℓ_{i,t}
    loss_backward(c.loss, r.cache.yhat, r.batch.y, r.dy);
    backward();
    grads_perturb(c.train, r.optim, step);
    const double gnorm = grads_norm();
    const double scale = clip_scale(gnorm, c.train.clip_norm);
    const bool clip = scale < 1.0;
    const double lr = params_update(c.train, r.optim, step, scale);
    step_time_record(r.step_times, step, seconds_since(ts));
    if (!train_step_end(ls, r.out, r.first_nonfinite, c.train, schedule,
                        {step, r.lossi.mean(), gnorm, clip, lr}, "t", probe,
                        [&] { checkpoint_save(ckpt, key, state); }))
      break;
  }
  if (c.train.checkpoint_every > 0) std::filesystem::remove(ckpt);
  summary_finalize(r.out, r.first_nonfinite, r.step_times, r.probe_times, seconds_since(r.t0));
  return std::move(r.out);
}

}  // namespace gl
