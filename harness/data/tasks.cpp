#include "harness/data/tasks.h"

#include <fmt/format.h>

namespace gl {

// Room for at least `cols` columns: reallocates only when the rows change or the room is short.
template <class T>
static void fit_cols(Mat<T>& m, Index rows, Index cols) {
  if (m.rows() != rows || m.cols() < cols) m.resize(rows, cols);
}

static Index draw_below(Rng& r, Index n) {
  return static_cast<Index>(rng_below(r, static_cast<uint64_t>(n)));
}

DataInfo seq_info(const Config& c) {
  DataInfo info;
  const DataConfig& d = c.data;
  auto need_length = [&](const char* name, const char* where) {
    if (d.length < task_min_length)
      throw UsageError(fmt::format(
          "data.length = {}: {} needs a length of at least {} (Pascanu's generator places its "
          "markers in {}, which needs ⌊L/10⌋ ≥ 1)",
          d.length, name, task_min_length, where));
  };
  switch (d.name) {
    case DataName::gaussian:
      return data_info(c);  // the MLP's gaussian data, per step
    case DataName::temporal_order:
      need_length("temporal_order", "[L/10, 2L/10) and [L/2, L/2 + L/10)");
      info.inputs = 6;
      info.outputs = 4;
      info.labels = true;
      info.class_names = {"AA", "BA", "AB", "BB"};  // class v0 + 2·v1, A = 0, B = 1
      return info;
    case DataName::addition:
      need_length("addition", "[0, L/10) and [L/10, L/2)");
      info.inputs = 2;
      info.outputs = 1;
      info.labels = false;
      return info;
    case DataName::shapeset3x2:
    case DataName::idx:
    case DataName::fashion_mnist:
    case DataName::count:
      break;
  }
  throw UsageError(
      "model.type \"rnn\" reads sequences: data \"gaussian\", \"temporal_order\" or "
      "\"addition\"");
}

template <class T>
SeqData<T> seq_data_make(const Config& c, uint64_t data_seed) {
  const DataInfo info = seq_info(c);
  SeqData<T> d;
  d.name = c.data.name;
  d.inputs = info.inputs;
  d.outputs = info.outputs;
  d.labels = info.labels;
  d.length = c.model.length;
  d.first_step = c.model.inputs == RnnInputs::first_step;
  d.every_step = c.model.loss_at == LossAt::every_step;
  d.train_rng = rng_make(seed_mix(data_seed, 1));
  d.probe_rng = rng_make(seed_mix(data_seed, 2));
  d.test_rng = rng_make(seed_mix(data_seed, 3));
  return d;
}

template <class T>
void temporal_order_generate(Rng& r, Index l, Index n, SeqBatch<T>& out) {
  out.steps = l;
  out.batch = n;
  fit_cols(out.x, 6, l * n);
  out.x.leftCols(l * n).setZero();
  out.y.labels.assign(static_cast<size_t>(n), 0);
  const Index k = l / 10, half = l / 2;
  for (Index i = 0; i < n; ++i) {
    const Index p0 = k + draw_below(r, k);
    const Index v0 = draw_below(r, 2);
    const Index p1 = half + draw_below(r, k);
    const Index v1 = draw_below(r, 2);
    for (Index t = 0; t < l; ++t) {
      Index sym = 2 + draw_below(r, 4);  // c, d, e, f
      if (t == p0) sym = v0;             // A = 0, B = 1
      if (t == p1) sym = v1;
      out.x(sym, t * n + i) = T(1);
    }
    out.y.labels[static_cast<size_t>(i)] = static_cast<int32_t>(v0 + 2 * v1);
  }
}

template <class T>
void addition_generate(Rng& r, Index l, Index n, SeqBatch<T>& out) {
  out.steps = l;
  out.batch = n;
  fit_cols(out.x, 2, l * n);
  out.y.y.resize(1, n);
  const Index k = l / 10, m = 4 * l / 10;
  for (Index i = 0; i < n; ++i) {
    const Index p0 = draw_below(r, k);
    const Index p1 = k + draw_below(r, m);
    for (Index t = 0; t < l; ++t) {
      out.x(0, t * n + i) = (t == p0 || t == p1) ? T(1) : T(0);
      out.x(1, t * n + i) = static_cast<T>(rng_uniform(r));
    }
    out.y.y(0, i) = (out.x(1, p0 * n + i) + out.x(1, p1 * n + i)) / T(2);
  }
}

template <class T>
static void gaussian_generate(SeqData<T>& d, Rng& r, Index n, SeqBatch<T>& out) {
  const Index l = d.length;
  const Index nx = d.first_step ? 1 : l;  // blocks of x
  const Index ny = d.every_step ? l : 1;  // targets per example
  out.steps = l;
  out.batch = n;
  fit_cols(out.x, d.inputs, nx * n);
  if (d.labels)
    out.y.labels.assign(static_cast<size_t>(ny * n), 0);
  else
    out.y.y.resize(d.outputs, ny * n);
  // Per example: its x_t for every t, then its targets — drawn as one fill where they are all
  // normals (rng_normal_fill: the same values as one rng_normal after another), then placed.
  const Index nxe = nx * d.inputs, nye = d.labels ? 0 : ny * d.outputs;
  d.normals.resize(static_cast<size_t>(nxe + nye));
  const T* v = d.normals.data();
  for (Index i = 0; i < n; ++i) {
    rng_normal_fill(r, d.normals.data(), nxe + nye);
    for (Index t = 0; t < nx; ++t)
      for (Index k = 0; k < d.inputs; ++k) out.x(k, t * n + i) = v[t * d.inputs + k];
    for (Index t = 0; t < ny; ++t) {
      if (d.labels)
        out.y.labels[static_cast<size_t>(t * n + i)] =
            static_cast<int32_t>(rng_below(r, static_cast<uint64_t>(d.outputs)));
      else
        for (Index k = 0; k < d.outputs; ++k) out.y.y(k, t * n + i) = v[nxe + t * d.outputs + k];
    }
  }
}

template <class T>
void seq_sample(SeqData<T>& d, Split split, Index n, SeqBatch<T>& out) {
  Rng& r = split == Split::train ? d.train_rng : (split == Split::probe ? d.probe_rng : d.test_rng);
  switch (d.name) {
    case DataName::temporal_order:
      temporal_order_generate(r, d.length, n, out);
      return;
    case DataName::addition: {
      // addition.py: l = length + randint(int(length·0.1)) per training minibatch
      const Index l = split == Split::train ? d.length + draw_below(r, d.length / 10) : d.length;
      addition_generate(r, l, n, out);
      return;
    }
    case DataName::gaussian:
      gaussian_generate(d, r, n, out);
      return;
    case DataName::shapeset3x2:
    case DataName::idx:
    case DataName::fashion_mnist:
    case DataName::count:
      break;
  }
  throw UsageError("not a sequence dataset");
}

#define GL_TASKS_INST(T)                                                      \
  template SeqData<T> seq_data_make<T>(const Config&, uint64_t);              \
  template void seq_sample<T>(SeqData<T>&, Split, Index, SeqBatch<T>&);       \
  template void temporal_order_generate<T>(Rng&, Index, Index, SeqBatch<T>&); \
  template void addition_generate<T>(Rng&, Index, Index, SeqBatch<T>&);
GL_TASKS_INST(float)
GL_TASKS_INST(double)

}  // namespace gl
