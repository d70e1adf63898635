#include "harness/data/data.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "harness/data/idx.h"
#include "harness/data/shapeset.h"

namespace gl {

DataInfo data_info(const Config& c) {
  DataInfo info;
  const DataConfig& d = c.data;
  switch (d.name) {
    case DataName::gaussian:
      info.inputs = d.dim;
      info.labels = c.loss == Loss::cross_entropy;
      info.outputs = info.labels ? d.classes : d.outputs;
      if (info.labels)
        for (int k = 0; k < d.classes; ++k) info.class_names.push_back(fmt::format("class {}", k));
      return info;
    case DataName::shapeset3x2:
      info.inputs = shapeset_pixels;
      info.outputs = shapeset_classes;
      info.labels = true;
      info.class_names = shapeset_class_names();
      info.image_rows = info.image_cols = shapeset_side;
      return info;
    case DataName::idx:
    case DataName::fashion_mnist: {
      // Reads the image headers and the (small) label files only.
      const IdxShape s = idx_shape(idx_paths(d));
      info.inputs = Index{s.rows} * s.cols;
      info.outputs = s.classes;
      info.labels = true;
      info.image_rows = s.rows;
      info.image_cols = s.cols;
      if (d.name == DataName::fashion_mnist) {
        info.class_names = fashion_mnist_class_names();
        if (s.classes != static_cast<int>(info.class_names.size()))
          throw UsageError(fmt::format("Fashion-MNIST in {}: labels give {} classes, expected 10",
                                       fashion_mnist_dir(), s.classes));
      } else {
        for (int k = 0; k < s.classes; ++k) info.class_names.push_back(fmt::format("class {}", k));
      }
      return info;
    }
    case DataName::temporal_order:
    case DataName::addition:
      throw UsageError(
          fmt::format("data \"{}\" is not available in this build", data_name_text(d.name)));
    case DataName::count:
      break;
  }
  throw std::logic_error("unreachable");
}

template <class T>
Dataset<T> dataset_make(const Config& c, uint64_t data_seed) {
  Dataset<T> d;
  d.cfg = c;
  d.info = data_info(c);
  d.train_rng = rng_make(seed_mix(data_seed, 1));
  d.probe_rng = rng_make(seed_mix(data_seed, 2));
  d.test_rng = rng_make(seed_mix(data_seed, 3));
  if (c.data.name == DataName::gaussian && c.data.teacher.is_object()) {
    // The teacher is built by the caller-independent rule: its own keys, default glorot_uniform.
    Rng r = rng_make(seed_mix(data_seed, 4));
    std::vector<ConfigIssue> issues;
    json tj = json::object();
    tj["model"] = c.data.teacher;
    tj["loss"] = "mse";
    tj["data"] = {{"name", "gaussian"}, {"dim", c.data.dim}, {"outputs", c.data.outputs}};
    const Config tc = config_from_json(tj, issues);
    if (!issues.empty())
      throw UsageError("data.teacher: " + issues[0].path + ": " + issues[0].message);
    MlpShape shape{d.info.inputs, tc.model.hidden, d.info.outputs};
    d.teacher = mlp_init<T>(shape, tc.model.activation, tc.model.init, tc.model.output_init,
                            tc.model.bias_init, r);
    d.has_teacher = true;
  }
  if (c.data.name == DataName::idx || c.data.name == DataName::fashion_mnist) {
    d.idx = std::make_shared<const IdxSet>(idx_set_load(idx_paths(c.data)));
    d.idx_value.resize(256);
    for (int g = 0; g < 256; ++g)
      d.idx_value[static_cast<size_t>(g)] = static_cast<T>((g / 255.0 - d.idx->mean) / d.idx->std);
  }
  return d;
}

template <class T>
void dataset_sample(Dataset<T>& d, Split split, Index n, Mat<T>& x, Targets<T>& t) {
  Rng& r = split == Split::train ? d.train_rng : (split == Split::probe ? d.probe_rng : d.test_rng);
  const DataInfo& info = d.info;
  x.resize(info.inputs, n);
  if (info.labels)
    t.labels.assign(static_cast<size_t>(n), 0);
  else
    t.y.resize(info.outputs, n);
  switch (d.cfg.data.name) {
    case DataName::gaussian:
      if (info.labels) {
        for (Index i = 0; i < n; ++i) {
          rng_normal_fill(r, x.col(i).data(), info.inputs);
          t.labels[static_cast<size_t>(i)] =
              static_cast<int32_t>(rng_below(r, static_cast<uint64_t>(info.outputs)));
        }
      } else if (d.has_teacher) {
        rng_normal_fill(r, x.data(), x.size());  // x_1, x_2, ...: storage order
      } else {
        // x_1, y_1, x_2, y_2, ... in one fill, then each to its place
        const Index per = info.inputs + info.outputs;
        d.normals.resize(per, n);
        rng_normal_fill(r, d.normals.data(), d.normals.size());
        x = d.normals.topRows(info.inputs);
        t.y = d.normals.bottomRows(info.outputs);
      }
      if (d.has_teacher) {
        mlp_forward(d.teacher, x, d.teacher_cache);
        t.y = d.teacher_cache.a.back();
      }
      return;
    case DataName::shapeset3x2: {
      // Online: every example of every split is a fresh image from that split's stream.
      uint8_t grey[shapeset_pixels];
      for (Index i = 0; i < n; ++i) {
        t.labels[static_cast<size_t>(i)] = shapeset_sample(r, grey);
        for (Index k = 0; k < shapeset_pixels; ++k)
          x(k, i) = static_cast<T>(shapeset_value(grey[k]));
      }
      return;
    }
    case DataName::idx:
    case DataName::fashion_mnist: {
      const IdxSet& s = *d.idx;
      const IdxImages& im = split == Split::train ? *s.train_images : *s.test_images;
      const IdxLabels& lb = split == Split::train ? *s.train_labels : *s.test_labels;
      const Index pixels = Index{im.rows} * im.cols;
      const auto put = [&](Index i, int64_t e) {  // example e of the file into column i
        const uint8_t* p = im.pixels.data() + e * pixels;
        for (Index k = 0; k < pixels; ++k) x(k, i) = d.idx_value[p[k]];
        t.labels[static_cast<size_t>(i)] = lb.labels[static_cast<size_t>(e)];
      };
      if (split == Split::train) {  // uniform with replacement
        for (Index i = 0; i < n; ++i)
          put(i, static_cast<int64_t>(rng_below(r, static_cast<uint64_t>(im.n))));
        return;
      }
      // Probe, test: the first m of a partial Fisher–Yates shuffle of the test split (without
      // replacement), m = min(n, size).
      const Index m = std::min<Index>(n, im.n);
      x.resize(pixels, m);
      t.labels.resize(static_cast<size_t>(m));
      std::vector<int64_t> order(static_cast<size_t>(im.n));
      std::iota(order.begin(), order.end(), int64_t{0});
      for (Index i = 0; i < m; ++i) {
        const auto j = static_cast<size_t>(i) + rng_below(r, static_cast<uint64_t>(im.n - i));
        std::swap(order[static_cast<size_t>(i)], order[j]);
        put(i, order[static_cast<size_t>(i)]);
      }
      return;
    }
    case DataName::temporal_order:
    case DataName::addition:
    case DataName::count:
      throw UsageError("dataset not available in this build");
  }
}

template Dataset<float> dataset_make<float>(const Config&, uint64_t);
template Dataset<double> dataset_make<double>(const Config&, uint64_t);
template void dataset_sample<float>(Dataset<float>&, Split, Index, Mat<float>&, Targets<float>&);
template void dataset_sample<double>(Dataset<double>&, Split, Index, Mat<double>&,
                                     Targets<double>&);

}  // namespace gl
