// MNIST-format IDX files (LeCun's format): a big-endian header, then unsigned bytes.
//   images: magic 0x00000803, n, rows, cols (int32 each), then n·rows·cols pixels, row-major per
//   image labels: magic 0x00000801, n, then n labels
// Files may be gzip'd or plain: zlib's gzread recognizes the gzip magic (1f 8b) and reads plain
// files as they are. Every problem (missing file, wrong magic, truncated or trailing data, count
// mismatch) is a UsageError naming the file.
//
// Files are loaded once per process and shared (idx_images_cached, idx_labels_cached): runs execute
// in parallel threads and all read the same arrays.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gl {

struct DataConfig;   // harness/core/config.h
struct ConfigIssue;  // harness/core/json_read.h

constexpr uint32_t idx_magic_images = 0x00000803;  // ubyte, 3 dimensions
constexpr uint32_t idx_magic_labels = 0x00000801;  // ubyte, 1 dimension

struct IdxImages {
  std::string path;
  int64_t n = 0;
  int rows = 0, cols = 0;
  std::vector<uint8_t> pixels;  // (n, rows·cols): image i at [i·rows·cols], row-major within
  double mean = 0, std = 0;     // of pixel/255 over every pixel of every image (population std)
};

struct IdxLabels {
  std::string path;
  std::vector<uint8_t> labels;  // (n)
};

// Header only (magic checked): n, rows, cols. For sizes without reading the pixels.
struct IdxImagesHeader {
  int64_t n = 0;
  int rows = 0, cols = 0;
};
IdxImagesHeader idx_read_images_header(const std::string& path);

IdxImages idx_read_images(const std::string& path);
IdxLabels idx_read_labels(const std::string& path);
// The same, read once per process (thread-safe; keyed by the path as given).
std::shared_ptr<const IdxImages> idx_images_cached(const std::string& path);
std::shared_ptr<const IdxLabels> idx_labels_cached(const std::string& path);

// Raw bytes of an IDX file (as written by idx_read_*): header + data, plain (not gzip'd).
std::string idx_encode_images(int64_t n, int rows, int cols, const uint8_t* pixels);
std::string idx_encode_labels(int64_t n, const uint8_t* labels);

// The four files of a dataset (data.name "idx", or the fashion_mnist preset).
struct IdxPaths {
  std::string train_images, train_labels, test_images, test_labels;
};

// Fashion-MNIST from Debian's package dataset-fashion-mnist: the folder is
// /usr/share/datasets/fashion-mnist/, or $GRADLAB_FASHION_MNIST_DIR when set (tests, other
// installs), holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz. A missing folder or file is an EnvError
// naming the package.
std::string fashion_mnist_dir();
IdxPaths fashion_mnist_paths();
// "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
// "Ankle boot" (labels 0..9).
std::vector<std::string> fashion_mnist_class_names();

// The files of data "idx" (as configured) or "fashion_mnist" (the preset).
IdxPaths idx_paths(const DataConfig& d);

// Checks the data files of a config before anything runs (docs/reference.md §6). data "idx":
// a relative path becomes absolute against base_dir (the config file's folder), and each file
// must be readable, else an issue at its key ("/data/train_images: cannot read \"/abs/x.gz\":
// No such file or directory"); data "fashion_mnist": the preset's files must exist, else an
// issue at /data/name naming the package. Other datasets: nothing to do.
void idx_files_check(DataConfig& d, const std::string& base_dir, std::vector<ConfigIssue>& issues);

// A loaded dataset: the four files, checked against each other. Training examples come from the
// train files; the probe and test sets from the test files.
struct IdxSet {
  std::shared_ptr<const IdxImages> train_images, test_images;
  std::shared_ptr<const IdxLabels> train_labels, test_labels;
  int classes = 0;  // 1 + the largest label in either label file
  // Normalization x = (pixel/255 − mean)/std with the train split's global mean and std
  // (one scalar each, the same for every pixel).
  double mean = 0, std = 1;
};

// Loads (through the cache) and checks: image and label counts agree per split, train and test
// images have the same size, at least one example per split.
IdxSet idx_set_load(const IdxPaths& p);
// Sizes only, for data_info: rows, cols (from the image headers) and the number of classes
// (from the label files, which are small). Same checks on what it reads.
struct IdxShape {
  int rows = 0, cols = 0, classes = 0;
};
IdxShape idx_shape(const IdxPaths& p);

}  // namespace gl
