#include "harness/data/idx.h"
#include "harness/core/config.h"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

namespace gl {

namespace {

namespace fs = std::filesystem;

// An open IDX file, gzip'd or plain (gzread passes plain files through), closed on scope exit.
struct IdxFile {
  gzFile f = nullptr;
  std::string path;

  explicit IdxFile(const std::string& p) : path(p) {
    std::error_code ec;
    if (!fs::exists(p, ec)) throw UsageError(fmt::format("{}: no such file", p));
    if (fs::is_directory(p, ec))
      throw UsageError(fmt::format("{}: is a folder, expected an IDX file", p));
    f = gzopen(p.c_str(), "rb");
    if (!f) throw UsageError(fmt::format("{}: cannot open: {}", p, std::strerror(errno)));
    gzbuffer(f, 1u << 20);
  }
  ~IdxFile() {
    if (f) gzclose(f);
  }
  IdxFile(const IdxFile&) = delete;
  IdxFile& operator=(const IdxFile&) = delete;

  // Up to n bytes; fewer only at the end of the data. A damaged gzip stream is an error.
  size_t read(void* dst, size_t n) {
    auto* out = static_cast<unsigned char*>(dst);
    size_t done = 0;
    while (done < n) {
      const auto chunk = static_cast<unsigned>(std::min<size_t>(n - done, size_t{1} << 30));
      const int got = gzread(f, out + done, chunk);
      if (got < 0) gz_fail();
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    // zlib may report a gzip stream cut short only through gzerror, after a short read.
    int code = Z_OK;
    gzerror(f, &code);
    if (code != Z_OK && code != Z_STREAM_END) gz_fail();
    return done;
  }

  [[noreturn]] void gz_fail() {
    int code = 0;
    std::string msg = gzerror(f, &code);
    if (msg.rfind(path + ": ", 0) == 0) msg.erase(0, path.size() + 2);  // zlib prefixes the path
    if (code == Z_BUF_ERROR)
      throw UsageError(fmt::format("{}: truncated gzip stream ({})", path, msg));
    throw UsageError(fmt::format("{}: damaged gzip data ({})", path, msg));
  }

  void read_exact(void* dst, size_t n, const char* what) {
    const size_t got = read(dst, n);
    if (got != n)
      throw UsageError(
          fmt::format("{}: truncated: expected {} bytes of {}, found {}", path, n, what, got));
  }

  // The file must end here: extra bytes mean the header's sizes do not describe the file.
  void expect_end(const char* what) {
    unsigned char extra;
    if (read(&extra, 1) != 0)
      throw UsageError(
          fmt::format("{}: unexpected data after the {} that the header announces", path, what));
  }

  uint32_t read_u32(const char* what) {
    unsigned char b[4];
    read_exact(b, 4, what);
    return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
  }
};

const char* magic_meaning(uint32_t magic) {
  switch (magic) {
    case idx_magic_images:
      return "IDX images";
    case idx_magic_labels:
      return "IDX labels";
    case 0x1f8b0800u:
    case 0x1f8b0808u:
      return "a gzip stream inside a gzip stream";
    default:
      return "not an IDX file of unsigned bytes";
  }
}

void check_magic(const IdxFile& file, uint32_t magic, uint32_t expected, const char* kind) {
  if (magic == expected) return;
  throw UsageError(fmt::format("{}: wrong magic number 0x{:08x} ({}), expected 0x{:08x} ({})",
                               file.path, magic, magic_meaning(magic), expected, kind));
}

int32_t dim_read(IdxFile& file, const char* name, int64_t lo) {
  const uint32_t v = file.read_u32("header");
  if (v > 0x7fffffffu || static_cast<int64_t>(v) < lo)
    throw UsageError(fmt::format("{}: bad header: {} = {}", file.path, name, v));
  return static_cast<int32_t>(v);
}

IdxImagesHeader images_header_read(IdxFile& file) {
  check_magic(file, file.read_u32("header"), idx_magic_images,
              "IDX images: unsigned bytes, 3 dimensions");
  IdxImagesHeader h;
  h.n = dim_read(file, "images", 0);
  h.rows = dim_read(file, "rows", 1);
  h.cols = dim_read(file, "cols", 1);
  if (static_cast<int64_t>(h.rows) * h.cols > (int64_t{1} << 24))
    throw UsageError(
        fmt::format("{}: bad header: {}×{} pixels per image", file.path, h.rows, h.cols));
  return h;
}

std::mutex cache_mutex;
std::map<std::string, std::shared_ptr<const IdxImages>> images_cache;
std::map<std::string, std::shared_ptr<const IdxLabels>> labels_cache;

}  // namespace

IdxImagesHeader idx_read_images_header(const std::string& path) {
  IdxFile file(path);
  return images_header_read(file);
}

IdxImages idx_read_images(const std::string& path) {
  IdxFile file(path);
  const IdxImagesHeader h = images_header_read(file);
  IdxImages im;
  im.path = path;
  im.n = h.n;
  im.rows = h.rows;
  im.cols = h.cols;
  const size_t bytes =
      static_cast<size_t>(h.n) * static_cast<size_t>(h.rows) * static_cast<size_t>(h.cols);
  im.pixels.resize(bytes);
  file.read_exact(im.pixels.data(), bytes, "pixel data");
  file.expect_end("images");
  // Global mean and population std of pixel/255, from the histogram of the 256 levels.
  uint64_t hist[256] = {};
  for (const uint8_t p : im.pixels) ++hist[p];
  double s1 = 0, s2 = 0;
  for (int g = 0; g < 256; ++g) {
    const double v = g / 255.0, c = static_cast<double>(hist[g]);
    s1 += c * v;
    s2 += c * v * v;
  }
  const double count = static_cast<double>(std::max<size_t>(bytes, 1));
  im.mean = s1 / count;
  im.std = std::sqrt(std::max(0.0, s2 / count - im.mean * im.mean));
  return im;
}

IdxLabels idx_read_labels(const std::string& path) {
  IdxFile file(path);
  check_magic(file, file.read_u32("header"), idx_magic_labels,
              "IDX labels: unsigned bytes, 1 dimension");
  const int32_t n = dim_read(file, "labels", 0);
  IdxLabels lb;
  lb.path = path;
  lb.labels.resize(static_cast<size_t>(n));
  file.read_exact(lb.labels.data(), lb.labels.size(), "labels");
  file.expect_end("labels");
  return lb;
}

std::shared_ptr<const IdxImages> idx_images_cached(const std::string& path) {
  const std::lock_guard<std::mutex> lock(cache_mutex);  // held while loading: each file once
  auto& slot = images_cache[path];
  if (!slot) slot = std::make_shared<const IdxImages>(idx_read_images(path));
  return slot;
}

std::shared_ptr<const IdxLabels> idx_labels_cached(const std::string& path) {
  const std::lock_guard<std::mutex> lock(cache_mutex);
  auto& slot = labels_cache[path];
  if (!slot) slot = std::make_shared<const IdxLabels>(idx_read_labels(path));
  return slot;
}

static void put_u32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xffu));
}

std::string idx_encode_images(int64_t n, int rows, int cols, const uint8_t* pixels) {
  std::string s;
  put_u32(s, idx_magic_images);
  put_u32(s, static_cast<uint32_t>(n));
  put_u32(s, static_cast<uint32_t>(rows));
  put_u32(s, static_cast<uint32_t>(cols));
  s.append(reinterpret_cast<const char*>(pixels), static_cast<size_t>(n * rows * cols));
  return s;
}

std::string idx_encode_labels(int64_t n, const uint8_t* labels) {
  std::string s;
  put_u32(s, idx_magic_labels);
  put_u32(s, static_cast<uint32_t>(n));
  s.append(reinterpret_cast<const char*>(labels), static_cast<size_t>(n));
  return s;
}

// ---- Fashion-MNIST preset ----

std::string fashion_mnist_dir() {
  const char* env = std::getenv("GRADLAB_FASHION_MNIST_DIR");
  return env && *env ? std::string(env) : std::string("/usr/share/datasets/fashion-mnist");
}

IdxPaths fashion_mnist_paths() {
  const std::string dir = fashion_mnist_dir();
  const char* env = std::getenv("GRADLAB_FASHION_MNIST_DIR");
  const std::string from = env && *env ? " (from $GRADLAB_FASHION_MNIST_DIR)" : "";
  const std::string hint =
      "install the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist)";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw EnvError(fmt::format("Fashion-MNIST not found: no folder {}{}; {}", dir, from, hint));
  const IdxPaths p{dir + "/train-images-idx3-ubyte.gz", dir + "/train-labels-idx1-ubyte.gz",
                   dir + "/t10k-images-idx3-ubyte.gz", dir + "/t10k-labels-idx1-ubyte.gz"};
  for (const std::string* f : {&p.train_images, &p.train_labels, &p.test_images, &p.test_labels})
    if (!fs::exists(*f, ec))
      throw EnvError(fmt::format("Fashion-MNIST not found: no file {}{}; {}", *f, from, hint));
  return p;
}

std::vector<std::string> fashion_mnist_class_names() {
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

void idx_files_check(DataConfig& d, const std::string& base_dir, std::vector<ConfigIssue>& issues) {
  if (d.name == DataName::fashion_mnist) {
    try {
      fashion_mnist_paths();
    } catch (const EnvError& e) {
      issues.push_back({"/data/name", e.what()});
    }
    return;
  }
  if (d.name != DataName::idx) return;
  const std::pair<const char*, std::string*> files[] = {{"train_images", &d.train_images},
                                                        {"train_labels", &d.train_labels},
                                                        {"test_images", &d.test_images},
                                                        {"test_labels", &d.test_labels}};
  for (const auto& [key, path] : files) {
    if (path->empty()) continue;  // reported by the config reader
    if (fs::path(*path).is_relative())
      *path = (fs::path(base_dir) / *path).lexically_normal().string();
    std::error_code ec;
    int err = 0;
    if (fs::is_directory(*path, ec)) {
      err = EISDIR;
    } else if (std::FILE* f = std::fopen(path->c_str(), "rb")) {
      std::fclose(f);
    } else {
      err = errno;
    }
    if (err)
      issues.push_back({fmt::format("/data/{}", key),
                        fmt::format("cannot read \"{}\": {}", *path, std::strerror(err))});
  }
}

IdxPaths idx_paths(const DataConfig& d) {
  switch (d.name) {
    case DataName::idx:
      return {d.train_images, d.train_labels, d.test_images, d.test_labels};
    case DataName::fashion_mnist:
      return fashion_mnist_paths();
    case DataName::gaussian:
    case DataName::shapeset3x2:
    case DataName::temporal_order:
    case DataName::addition:
    case DataName::count:
      break;
  }
  throw std::logic_error("idx_paths: not an IDX dataset");
}

// ---- a dataset of four files ----

static void check_pair(const std::string& images, int64_t n_images, const IdxLabels& labels) {
  if (n_images != static_cast<int64_t>(labels.labels.size()))
    throw UsageError(fmt::format("{} holds {} images but {} holds {} labels", images, n_images,
                                 labels.path, labels.labels.size()));
  if (n_images == 0) throw UsageError(fmt::format("{}: holds no images", images));
}

static int classes_of(const IdxLabels& train, const IdxLabels& test) {
  int top = 0;
  for (const uint8_t l : train.labels) top = std::max(top, int{l});
  for (const uint8_t l : test.labels) top = std::max(top, int{l});
  if (top < 1)
    throw UsageError(fmt::format("{} and {}: every label is 0; expected at least 2 classes",
                                 train.path, test.path));
  return top + 1;
}

IdxShape idx_shape(const IdxPaths& p) {
  const IdxImagesHeader tr = idx_read_images_header(p.train_images);
  const IdxImagesHeader te = idx_read_images_header(p.test_images);
  const auto trl = idx_labels_cached(p.train_labels);
  const auto tel = idx_labels_cached(p.test_labels);
  check_pair(p.train_images, tr.n, *trl);
  check_pair(p.test_images, te.n, *tel);
  if (tr.rows != te.rows || tr.cols != te.cols)
    throw UsageError(fmt::format("{} holds {}×{} images but {} holds {}×{} images", p.train_images,
                                 tr.rows, tr.cols, p.test_images, te.rows, te.cols));
  return {tr.rows, tr.cols, classes_of(*trl, *tel)};
}

IdxSet idx_set_load(const IdxPaths& p) {
  IdxSet s;
  s.train_images = idx_images_cached(p.train_images);
  s.train_labels = idx_labels_cached(p.train_labels);
  s.test_images = idx_images_cached(p.test_images);
  s.test_labels = idx_labels_cached(p.test_labels);
  check_pair(p.train_images, s.train_images->n, *s.train_labels);
  check_pair(p.test_images, s.test_images->n, *s.test_labels);
  const IdxImages &tr = *s.train_images, &te = *s.test_images;
  if (tr.rows != te.rows || tr.cols != te.cols)
    throw UsageError(fmt::format("{} holds {}×{} images but {} holds {}×{} images", p.train_images,
                                 tr.rows, tr.cols, p.test_images, te.rows, te.cols));
  s.classes = classes_of(*s.train_labels, *s.test_labels);
  s.mean = tr.mean;
  s.std = tr.std > 0 ? tr.std : 1.0;  // a constant train split: centre only
  return s;
}

}  // namespace gl
