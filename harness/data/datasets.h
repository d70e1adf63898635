// The closed set of datasets and sequence tasks (data.name, docs/reference.md §3): one row each,
// with the keys it takes beside name and test_samples (config reading checks them) and its line
// in `gradlab list`.
#pragma once

#include <span>
#include <string_view>

#include "harness/core/closed_set.h"

namespace gl {

enum class DataName { gaussian, shapeset3x2, idx, fashion_mnist, temporal_order, addition, count };

inline constexpr std::string_view gaussian_keys[] = {"dim", "classes", "outputs", "teacher"};
inline constexpr std::string_view idx_keys[] = {"train_images", "train_labels", "test_images",
                                                "test_labels"};
inline constexpr std::string_view task_keys[] = {"length"};

struct DatasetInfo {
  DataName kind;
  std::string_view name;
  std::span<const std::string_view> keys;
  bool sequence;             // a sequence task for an rnn (T = data.length)
  std::string_view catalog;  // its line in `gradlab list`
};

// clang-format off
inline constexpr DatasetInfo dataset_table[] = {
    {DataName::gaussian,       "gaussian",       gaussian_keys, false,
     "dim=100  classes=10 (cross_entropy)  outputs=10 (mse)  teacher=null"},
    {DataName::shapeset3x2,    "shapeset3x2",    {},            false, "Glorot's 32x32 shapes, 9 classes"},
    {DataName::idx,            "idx",            idx_keys,      false,
     "train_images  train_labels  test_images  test_labels (MNIST-format files)"},
    {DataName::fashion_mnist,  "fashion_mnist",  {},            false,
     "idx preset to /usr/share/datasets/fashion-mnist/ (dataset-fashion-mnist)"},
    {DataName::temporal_order, "temporal_order", task_keys,     true,
     "length (required, >= 10): classify the order of two marked symbols"},
    {DataName::addition,       "addition",       task_keys,     true,
     "length (required, >= 10): add the two marked numbers (mse)"},
};
// clang-format on
static_assert(rows_in_enum_order(dataset_table));

constexpr const DatasetInfo& dataset_info(DataName d) {
  return dataset_table[static_cast<size_t>(d)];
}
constexpr std::string_view data_name_text(DataName d) { return dataset_info(d).name; }
constexpr bool is_sequence_task(DataName d) { return dataset_info(d).sequence; }

}  // namespace gl
