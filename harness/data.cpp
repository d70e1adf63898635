#include "harness/data.h"

#include <fmt/format.h>

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
    case DataName::idx:
    case DataName::fashion_mnist:
    case DataName::temporal_order:
    case DataName::addition:
      throw UsageError(fmt::format("data \"{}\" is not available in this build",
                                   d.name == DataName::shapeset3x2 ? "shapeset3x2" : "?"));
  }
  throw std::logic_error("unreachable");
}

template <class T> Dataset<T> dataset_make(const Config& c, uint64_t data_seed) {
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
    if (!issues.empty()) throw UsageError("data.teacher: " + issues[0].path + ": " + issues[0].message);
    MlpShape shape{d.info.inputs, tc.model.hidden, d.info.outputs};
    d.teacher = mlp_init<T>(shape, tc.model.activation, tc.model.init, tc.model.output_init,
                            tc.model.bias_init, r);
    d.has_teacher = true;
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
      for (Index i = 0; i < n; ++i) {
        for (Index k = 0; k < info.inputs; ++k) x(k, i) = static_cast<T>(rng_normal(r));
        if (info.labels)
          t.labels[static_cast<size_t>(i)] =
              static_cast<int32_t>(rng_below(r, static_cast<uint64_t>(info.outputs)));
        else if (!d.has_teacher)
          for (Index k = 0; k < info.outputs; ++k) t.y(k, i) = static_cast<T>(rng_normal(r));
      }
      if (d.has_teacher) {
        MlpCache<T> cache;
        mlp_forward(d.teacher, x, cache);
        t.y = cache.a.back();
      }
      return;
    default: throw UsageError("dataset not available in this build");
  }
}

template Dataset<float> dataset_make<float>(const Config&, uint64_t);
template Dataset<double> dataset_make<double>(const Config&, uint64_t);
template void dataset_sample<float>(Dataset<float>&, Split, Index, Mat<float>&, Targets<float>&);
template void dataset_sample<double>(Dataset<double>&, Split, Index, Mat<double>&,
                                     Targets<double>&);

}  // namespace gl
