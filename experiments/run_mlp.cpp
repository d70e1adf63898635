// The MLP run (docs/reference.md §4.1 layers.csv, §4.2 histograms, §4.4 summary): the network and
// data from a resolved Config, probes at the scheduled steps with training in between, and
// checkpoints (experiments/checkpoint.h) every train.checkpoint_every steps.
#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <filesystem>

#include "experiments/checkpoint.h"
#include "experiments/run.h"
#include "harness/core/io.h"
#include "harness/data/data.h"
#include "harness/measure/theory.h"
#include "harness/nn/optim.h"

namespace gl {

template <class T>
struct MlpRun {
  const RunSpec& spec;
  const Config& c;
  Dataset<T> data;
  Mlp<T> net;
  Optim<T> optim;  // the parameter list and the optimizer's state (harness/nn/optim.h)
  Mat<T> px, tx, bx, dy;
  Targets<T> pt, tt, bt;
  MlpCache<T> cache;
  MlpGrads<T> grads;
  Eigen::VectorXd lossv;
  ProbeScratch<T> scratch = ProbeScratch<T>(1);  // one per thread
  std::vector<HistEdges> edges;                  // (layer, quantity), fixed at the first probe
  TheoryLayers theory;  // step-0 predictions (empty when the theory does not apply)
  bool have_theory = false;
  RunResult out;
  json first_nonfinite;  // null until something is non-finite
  std::vector<double> probe_times, step_times;
  Clock::time_point t0 = Clock::now();

  MlpRun(const RunSpec& s) : spec(s), c(s.config) {}
};

// The first non-finite quantity of a probe, in the order the computation produced them.
template <class T>
static json locate_nonfinite(const std::vector<LayerRow>& rows, size_t first, int64_t step,
                             double loss) {
  const size_t n = rows.size() - first;
  for (size_t l = 0; l < n; ++l) {
    const LayerRow& r = rows[first + l];
    if (r.nonfinite_z) return {{"step", step}, {"layer", r.layer}, {"quantity", "preact"}};
    if (r.nonfinite_a) return {{"step", step}, {"layer", r.layer}, {"quantity", "act"}};
  }
  if (!std::isfinite(loss)) return {{"step", step}, {"layer", nullptr}, {"quantity", "loss"}};
  for (size_t l = n; l-- > 0;) {
    const LayerRow& r = rows[first + l];
    if (r.nonfinite_delta) return {{"step", step}, {"layer", r.layer}, {"quantity", "delta"}};
  }
  for (size_t l = n; l-- > 0;) {
    const LayerRow& r = rows[first + l];
    if (r.nonfinite_dw) return {{"step", step}, {"layer", r.layer}, {"quantity", "grad_w"}};
  }
  return nullptr;
}

std::string theory_reason(const Config& c) {
  if (c.model.type != ModelType::mlp) return theory_reason_chain;
  if (!theory_applies(c.model.activation)) return "mean-field theory does not apply to maxout";
  if (c.model.blocks.norm.kind != NormKind::none)
    return "no mean-field theory here for nets with norm layers";
  const ResidualSpec& res = c.model.blocks.residual;
  if (res.block > 0 && (res.alpha_kind == AlphaKind::rezero || res.alpha == 0.0))
    return "a residual net with alpha 0 (rezero at init) is its input projection";
  return "";
}

template <class T>
static TheoryInput mlp_theory_input(const Mlp<T>& net, const Config& c, const Mat<T>& px) {
  TheoryInput in;
  in.act = net.act;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const bool out_layer = l + 1 == net.layers.size();
    in.sigma_w2.push_back(init_sigma_w2(out_layer ? c.model.output_init : c.model.init,
                                        net.layers[l].W.cols(), net.fan_out(l)));
    in.sigma_b2.push_back(bias_sigma_b2(c.model.bias_init));
  }
  in.q0 = px.template cast<double>().squaredNorm() / static_cast<double>(px.size());
  in.residual_block = net.blocks.residual.block;
  in.residual_alpha = residual_alpha(net.blocks.residual, mlp_block_count(net));
  return in;
}

// One probe step's tensors (docs/reference.md §5): the parameters and the gradients of L for
// l = 1..L+1; per probe example δ_l, z_l and a_l (examples × units) for the hidden layers.
template <class T>
static void dump_mlp_tensors(MlpRun<T>& r, const std::string& dir) {
  std::filesystem::create_directories(dir);
  const auto& net = r.net;
  for (size_t l = 0; l < net.layers.size(); ++l) {
    const std::string k = std::to_string(l + 1);
    npy_write_matrix(dir + "/W_" + k + ".npy", net.layers[l].W);
    npy_write_vector(dir + "/b_" + k + ".npy", net.layers[l].b);
    npy_write_matrix(dir + "/dW_" + k + ".npy", r.grads.dW[l]);
    npy_write_vector(dir + "/db_" + k + ".npy", r.grads.db[l]);
    if (l + 1 < net.layers.size()) {
      npy_write_examples(dir + "/delta_" + k + ".npy", r.grads.delta[l]);
      npy_write_examples(dir + "/z_" + k + ".npy", r.cache.z[l]);
      npy_write_examples(dir + "/a_" + k + ".npy", r.cache.a[l + 1]);
    }
  }
  npy_write_examples(dir + "/x.npy", r.px);
  if (r.data.info.labels)
    npy_write_labels(dir + "/y.npy", r.pt.labels);
  else
    npy_write_examples(dir + "/y.npy", r.pt.y);
}

template <class T>
static void mlp_probe(MlpRun<T>& r, int64_t step, const std::string& tensor_dir) {
  const Config& c = r.c;
  const auto tp = Clock::now();
  mlp_forward(r.net, r.px, r.cache, nullptr, NormUse{false, probe_norm_group(c)});
  loss_forward(c.loss, r.cache.a.back(), r.pt, r.lossv);
  loss_backward(c.loss, r.cache.a.back(), r.pt, r.dy);
  // ∂L/∂W itself only for what reads it (histograms, a dump); its norm comes from δ and a
  const bool dump = dump_at(c.probe.dump_tensors, step);
  const bool store_dw = c.probe.histograms || dump;
  mlp_backward(r.net, r.cache, r.dy, r.grads, store_dw);
  const size_t first = r.out.layers.size();
  mlp_layer_rows(r.net, r.cache, r.grads, c.probe, step, r.out.layers, r.scratch);
  for (size_t l = 0; l < r.net.layers.size(); ++l) {  // the steps since the previous probe
    const int k = optim_weight_of(r.optim, static_cast<int>(l));
    const UpdateStats u = optim_stats(c.train, r.optim, k);
    LayerRow& row = r.out.layers[first + l];
    row.update_ratio = u.ratio, row.update_ratio_mean = u.ratio_mean;
    row.effective_lr = u.effective_lr;
  }
  optim_probe_reset(r.optim);
  r.probe_times.push_back(seconds_since(tp));

  if (c.probe.jacobian) {  // not part of probe_s (docs/reference.md §4.4): SVDs cost more than the
                           // probe
    const Index ns = std::min<Index>(c.probe.jacobian_samples, r.px.cols());
    Mat<double> J;
    for (size_t l = 0; l < r.net.layers.size(); ++l) {
      double sum = 0;
      for (Index i = 0; i < ns; ++i) {
        mlp_layer_jacobian(r.net, r.cache, l, i, J);
        sum += singular_value_mean(J);
      }
      r.out.layers[first + l].jac_sv_mean = sum / static_cast<double>(ns);
    }
    if (step == 0 && r.net.layers.size() > 1) {
      // Input–output Jacobian of the hidden stack: moments of its squared singular values.
      double m1 = 0, m2 = 0;
      for (Index i = 0; i < ns; ++i) {
        mlp_io_jacobian(r.net, r.cache, i, J);
        double a = 0, b = 0;
        squared_sv_moments(J, a, b);
        m1 += a / static_cast<double>(ns);
        m2 += b / static_cast<double>(ns);
      }
      const double L = static_cast<double>(r.net.layers.size() - 1);
      r.out.summary["jac_io"] = {{"m1", json_num(m1)},
                                 {"m2", json_num(m2)},
                                 {"var_over_L", json_num((m2 - m1 * m1) / L)},
                                 {"samples", ns}};
    }
  }

  StepRow s;
  s.step = step;
  s.probe_loss = r.lossv.mean();
  s.probe_error = loss_error_rate(c.loss, r.cache.a.back(), r.pt, 0.04);

  if (step == 0 && r.have_theory) {
    for (size_t l = 0; l + 1 < r.net.layers.size(); ++l) {
      r.out.layers[first + l].theory_q = r.theory.q[l];
      r.out.layers[first + l].theory_delta_factor = r.theory.chi[l];
    }
    r.out.layers[first + r.net.layers.size() - 1].theory_q = r.theory.q.back();
  }

  if (c.probe.histograms) {
    const size_t n = r.net.layers.size();
    if (r.edges.empty()) r.edges.resize(n * 4);
    for (size_t l = 0; l < n; ++l) {
      const Mat<T>* q[4] = {&r.cache.a[l + 1], &r.cache.z[l], &r.grads.delta[l], &r.grads.dW[l]};
      for (size_t k = 0; k < 4; ++k) {
        HistEdges& e = r.edges[l * 4 + k];
        // edges fixed for the run: the quantity's hist_range, else its step-0 range
        if (step == 0) {
          const auto& fixed = c.probe.hist_range[k];
          e = fixed ? HistEdges{fixed->first, fixed->second}
                    : hist_edges_from(q[k]->data(), q[k]->size(), c.probe.hist_scale);
        }
        hist_rows(q[k]->data(), q[k]->size(), e, c.probe.bins, c.probe.hist_scale, step,
                  static_cast<int>(l + 1), static_cast<HistQuantity>(k), r.out.hists);
      }
    }
  }

  if (r.first_nonfinite.is_null())
    r.first_nonfinite = locate_nonfinite<T>(r.out.layers, first, step, s.probe_loss);

  // docs/reference.md §4.4: gradient_ratio = delta_norm(1)/delta_norm(L) over hidden layers, at
  // step 0 and (final_*) at every probe, the last one's staying.
  const size_t L = r.net.layers.size() - 1;
  const double d1 = r.out.layers[first].delta_norm, dL = r.out.layers[first + L - 1].delta_norm;
  if (step == 0) {
    summary_gradient<T>(r.out.summary, d1, dL, static_cast<Index>(L), r.grads.delta[0],
                        r.grads.delta[L - 1], c.probe.verdict);
  }
  summary_final_gradient(r.out.summary, d1, dL, static_cast<Index>(L), c.probe.verdict);
  if (dump) dump_mlp_tensors(r, tensor_dir + "/step_" + std::to_string(step));

  if (c.train.steps > 0) {       // test error on the held-out set, in chunks of ≤ 1000 examples
    MlpCache<T>& tc = r.cache;   // the probe's values are taken: no second cache (W4: 63 MB)
    Index wrong = 0, total = 0;  // counts: the error rate is one division (0.744, not a sum)
    for (Index i0 = 0; i0 < r.tx.cols(); i0 += 1000) {
      const Index nb = std::min<Index>(1000, r.tx.cols() - i0);
      const Mat<T> xb = r.tx.middleCols(i0, nb);
      Targets<T> tb;
      if (r.data.info.labels)
        tb.labels.assign(r.tt.labels.begin() + i0, r.tt.labels.begin() + i0 + nb);
      else
        tb.y = r.tt.y.middleCols(i0, nb);
      mlp_forward(r.net, xb, tc, nullptr, NormUse{true, 0});  // BatchNorm: running statistics
      wrong += loss_error_count(c.loss, tc.a.back(), tb, 0.04);
      total += nb;
    }
    s.test_error = static_cast<double>(wrong) / static_cast<double>(total);
  }
  s.elapsed_s = seconds_since(r.t0);
  r.out.steps.push_back(s);
}

// The fused SGD step stores no ∂L/∂W: its update ratio at a probe step is lr·‖∂L/∂W_l‖/‖W_l‖
// (‖ΔW_l‖ in exact arithmetic) from the batch's δ_l and a_{l−1}; no mean over the interval.
template <class T>
static void fused_update_ratios(MlpRun<T>& r, double lr) {
  for (size_t l = 0; l < r.net.layers.size(); ++l) {
    const int k = optim_weight_of(r.optim, static_cast<int>(l));
    const Mat<T>& W = r.net.layers[l].W;
    const double dw = outer_norm<T>(r.grads.delta[l], r.cache.a[l], r.scratch[0]).norm;
    r.optim.lr[static_cast<size_t>(k)] = lr;
    r.optim.ratio[static_cast<size_t>(k)] = update_ratio(lr * dw, W.data(), W.size());
  }
}

template <class T>
RunResult run_mlp(const RunSpec& spec, const std::string& run_dir, TrainProgress* progress) {
  const std::string tensor_dir = run_dir + "/tensors";
  MlpRun<T> r(spec);
  const Config& c = spec.config;
  r.data = dataset_make<T>(c, spec.data_seed);
  Rng rng = rng_make(spec.seed);
  const MlpShape shape{r.data.info.inputs, c.model.hidden, r.data.info.outputs};
  r.net = mlp_init<T>(shape, c.model.activation, c.model.init, c.model.output_init,
                      c.model.bias_init, rng);
  mlp_blocks_init(r.net, c.model.blocks);
  dataset_sample(r.data, Split::probe, c.probe.samples, r.px, r.pt);
  if (c.train.steps > 0) dataset_sample(r.data, Split::test, c.data.test_samples, r.tx, r.tt);

  const TheoryInput tin = mlp_theory_input(r.net, c, r.px);
  r.have_theory =
      theory_reason(c).empty() && std::all_of(tin.sigma_w2.begin(), tin.sigma_w2.end(),
                                              [](double v) { return std::isfinite(v); });
  if (r.have_theory) r.theory = theory_layers(tin);

  const std::vector<int64_t> schedule = probe_schedule(c.train, c.probe);
  // ---- training: the optimizer and the rules of train.* (harness/nn/optim.h) ----
  // Between probes a step allocates nothing (every buffer keeps its size from the first step) and
  // computes no statistics: the gradient norm only when clipping needs it or a probe records it.
  // Plain SGD (no momentum, decay, clipping or per-layer rule) takes the fused step,
  // mlp_backward_sgd: ∂L/∂W is not stored, each W_l is updated by one product as the backward
  // leaves it (W1: 2x fewer passes over W).
  if (c.train.steps > 0) {
    mlp_params(r.net, r.grads, r.optim);
    optim_make(c.train, r.optim, spec.seed);
  }
  const bool fused =
      fused_sgd(c.train) && c.model.activation.kind != Activation::maxout && !r.net.has_blocks();
  step_times_reserve(r.step_times, c.train.steps);
  LoopState ls;
  ls.progress = progress;
  const std::string ckpt = run_dir + "/checkpoint.bin";
  const uint64_t key = checkpoint_key(spec);
  // Everything mutable of the run beyond the rows: one list for writing and reading.
  const auto state = [&](Ckpt& ck) {
    loop_state_io(ck, ls, rng, r.out, r.first_nonfinite);
    ck.io(r.data.train_rng);
    for (Layer<T>& layer : r.net.layers) ck.io(layer.W), ck.io(layer.b), ck.io(layer.slope);
    optim_io(ck, r.optim);
    if (r.net.has_blocks())  // residual / norm nets: α, γ, β, BatchNorm's running statistics
      for (Layer<T>& layer : r.net.layers)
        ck.io(layer.alpha), ck.io(layer.norm.gamma), ck.io(layer.norm.beta),
            ck.io(layer.running.mean), ck.io(layer.running.var);
    ck.io(r.edges);
  };
  const auto probe = [&](int64_t step) { mlp_probe(r, step, tensor_dir); };
  train_begin(ls, c.train, ckpt, key, state, probe);

  for (int64_t step = ls.step + 1; step <= c.train.steps; ++step) {
    const auto ts = Clock::now();
    dataset_sample(r.data, Split::train, c.train.batch_size, r.bx, r.bt);
    mlp_forward_train(r.net, r.bx, r.cache, rng);  // rng: rrelu's training-time slopes
    loss_forward(c.loss, r.cache.a.back(), r.bt, r.lossv);
    loss_backward(c.loss, r.cache.a.back(), r.bt, r.dy);
    const bool probe_now = ls.next_probe < schedule.size() && schedule[ls.next_probe] == step;
    const bool need_norm = c.train.clip_norm.has_value() || probe_now;
    double gnorm = 0.0, lr = c.train.opt.lr * lr_factor(c.train, step);
    bool clip = false;
    if (fused) {
      mlp_backward_sgd(r.net, r.cache, r.dy, r.grads, lr);
    } else {
      mlp_backward(r.net, r.cache, r.dy, r.grads);
      mlp_params(r.net, r.grads, r.optim);
      grads_perturb(c.train, r.optim, step);
      if (need_norm) gnorm = mlp_grads_norm(r.grads);
      const double scale = clip_scale(gnorm, c.train.clip_norm);  // 1 without clipping
      clip = scale < 1.0;
      lr = params_update(c.train, r.optim, step, scale);
    }
    step_time_record(r.step_times, step, seconds_since(ts));
    if (fused && probe_now) {  // the norm the probe records, from this step's δ and a
      gnorm = mlp_grads_norm_outer(r.cache, r.grads, r.scratch[0]);
      fused_update_ratios(r, lr);
    }
    const double batch_loss = r.lossv.mean();
    // A non-finite gradient with a finite loss (no norm taken) makes the parameters non-finite,
    // and the next step's loss shows it; a diverged step's probe records the norm.
    if (!std::isfinite(batch_loss) && !need_norm)
      gnorm =
          fused ? mlp_grads_norm_outer(r.cache, r.grads, r.scratch[0]) : mlp_grads_norm(r.grads);
    if (!train_step_end(ls, r.out, r.first_nonfinite, c.train, schedule,
                        {step, batch_loss, gnorm, clip, lr}, "layer", probe,
                        [&] { checkpoint_save(ckpt, key, state); }))
      break;
  }
  if (c.train.checkpoint_every > 0) std::filesystem::remove(ckpt);

  summary_finalize(r.out, r.first_nonfinite, r.step_times, r.probe_times, seconds_since(r.t0));
  return std::move(r.out);
}

template RunResult run_mlp<float>(const RunSpec&, const std::string&, TrainProgress*);
template RunResult run_mlp<double>(const RunSpec&, const std::string&, TrainProgress*);

}  // namespace gl
