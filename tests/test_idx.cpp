// IDX files (harness/data/idx.h): round trips plain and gzip'd, every malformed-file error names
// the file, the Fashion-MNIST preset's missing-package message, the idx dataset's sampling and
// normalization (data.cpp); PNG files (cli/png.h): signature, IHDR, IDAT inflating to the
// right bytes.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/png.h"
#include "harness/data/data.h"
#include "harness/data/idx.h"

namespace gl {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system's temp folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("gradlab_test_idx_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

void write_plain(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(f);
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<uint8_t> bytes_pattern(size_t n, unsigned seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<uint8_t>((i * 37u + seed * 11u + (i >> 3)) & 0xffu);
  return v;
}

// Expects a UsageError whose message contains every one of `parts`.
template <class F>
void expect_usage_error(F&& f, std::vector<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no UsageError";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    for (const auto& p : parts)
      EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

TEST(Idx, RoundTripPlainAndGzip) {
  TempDir dir;
  const int n = 5, rows = 3, cols = 4;
  const auto px = bytes_pattern(n * rows * cols, 1);
  const std::vector<uint8_t> lb = {0, 3, 1, 2, 3};
  const std::string im_bytes = idx_encode_images(n, rows, cols, px.data());
  const std::string lb_bytes = idx_encode_labels(n, lb.data());
  ASSERT_EQ(im_bytes.size(), 16u + px.size());
  ASSERT_EQ(lb_bytes.size(), 8u + lb.size());
  EXPECT_EQ(im_bytes.substr(0, 8), std::string("\0\0\x08\x03\0\0\0\x05", 8));
  write_plain(dir.file("im"), im_bytes);
  write_plain(dir.file("lb"), lb_bytes);
  write_gz(dir.file("im.gz"), im_bytes);
  write_gz(dir.file("lb.gz"), lb_bytes);
  ASSERT_EQ(read_all(dir.file("im.gz")).substr(0, 2), "\x1f\x8b");  // really gzip'd

  double s1 = 0, s2 = 0;
  for (const uint8_t p : px) {
    s1 += p / 255.0;
    s2 += (p / 255.0) * (p / 255.0);
  }
  const double mean = s1 / static_cast<double>(px.size());
  const double sd = std::sqrt(s2 / static_cast<double>(px.size()) - mean * mean);
  for (const std::string suffix : {"", ".gz"}) {
    const IdxImages im = idx_read_images(dir.file("im" + suffix));
    EXPECT_EQ(im.n, n);
    EXPECT_EQ(im.rows, rows);
    EXPECT_EQ(im.cols, cols);
    EXPECT_EQ(im.pixels, px);
    EXPECT_NEAR(im.mean, mean, 1e-12);
    EXPECT_NEAR(im.std, sd, 1e-12);
    const IdxImagesHeader h = idx_read_images_header(dir.file("im" + suffix));
    EXPECT_EQ(h.n, n);
    EXPECT_EQ(h.rows, rows);
    EXPECT_EQ(h.cols, cols);
    EXPECT_EQ(idx_read_labels(dir.file("lb" + suffix)).labels, lb);
  }
}

TEST(Idx, ErrorsNameTheFile) {
  TempDir dir;
  const auto px = bytes_pattern(5 * 2 * 2, 2);
  const std::vector<uint8_t> lb = {0, 1, 1, 0, 1};
  const std::string im = idx_encode_images(5, 2, 2, px.data());

  // Missing.
  const std::string missing = dir.file("nope-images-idx3-ubyte.gz");
  expect_usage_error([&] { idx_read_images(missing); }, {missing, "no such file"});
  expect_usage_error([&] { idx_read_labels(missing); }, {missing, "no such file"});

  // Truncated data, plain and gzip'd; a truncated header; a gzip stream cut short.
  const std::string cut = dir.file("cut"), cut_gz = dir.file("cut.gz"), head = dir.file("head");
  write_plain(cut, im.substr(0, im.size() - 3));
  write_gz(cut_gz, im.substr(0, im.size() - 3));
  write_plain(head, im.substr(0, 10));
  expect_usage_error([&] { idx_read_images(cut); }, {cut, "truncated"});
  expect_usage_error([&] { idx_read_images(cut_gz); }, {cut_gz, "truncated"});
  expect_usage_error([&] { idx_read_images(head); }, {head, "truncated"});
  const std::string whole_gz = dir.file("whole.gz"), broken_gz = dir.file("broken.gz");
  write_gz(whole_gz, im);
  const std::string gz = read_all(whole_gz);
  write_plain(broken_gz, gz.substr(0, gz.size() / 2));
  expect_usage_error([&] { idx_read_images(broken_gz); }, {broken_gz, "truncated"});

  // Extra bytes after the announced data.
  const std::string extra = dir.file("extra");
  write_plain(extra, im + "xyz");
  expect_usage_error([&] { idx_read_images(extra); }, {extra, "unexpected data"});

  // Wrong magic: a label file read as images, an image file read as labels, text.
  const std::string labels = dir.file("labels"), images = dir.file("images"),
                    text = dir.file("text");
  write_plain(labels, idx_encode_labels(5, lb.data()));
  write_plain(images, im);
  write_plain(text, "hello, this is not an IDX file at all");
  expect_usage_error([&] { idx_read_images(labels); },
                     {labels, "magic", "0x00000801", "0x00000803"});
  expect_usage_error([&] { idx_read_labels(images); },
                     {images, "magic", "0x00000803", "0x00000801"});
  expect_usage_error([&] { idx_read_images(text); }, {text, "magic"});

  // Image/label count mismatch.
  const std::string four = dir.file("four-labels");
  write_plain(four, idx_encode_labels(4, lb.data()));
  expect_usage_error(
      [&] {
        idx_set_load({images, four, images, labels});
      },
      {images, four, "5", "4"});
  expect_usage_error([&] { idx_shape({images, labels, images, four}); }, {images, four});
  // A folder instead of a file.
  expect_usage_error([&] { idx_read_images(dir.path.string()); }, {dir.path.string()});
}

TEST(Idx, CacheLoadsOnceAcrossThreads) {
  TempDir dir;
  const auto px = bytes_pattern(7 * 2 * 3, 3);
  write_gz(dir.file("im.gz"), idx_encode_images(7, 2, 3, px.data()));
  std::vector<std::shared_ptr<const IdxImages>> got(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] { got[i] = idx_images_cached(dir.file("im.gz")); });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g.get(), got[0].get());
  EXPECT_EQ(got[0]->pixels, px);
}

// Sets an environment variable for the lifetime of the object, restoring the old value.
struct EnvVar {
  std::string name;
  std::optional<std::string> old;
  EnvVar(const char* n, const std::string& value) : name(n) {
    if (const char* o = std::getenv(n)) old = o;
    setenv(n, value.c_str(), 1);
  }
  ~EnvVar() {
    if (old)
      setenv(name.c_str(), old->c_str(), 1);
    else
      unsetenv(name.c_str());
  }
};

TEST(Idx, FashionMnistMissingNamesThePackage) {
  TempDir dir;
  {
    const EnvVar env("GRADLAB_FASHION_MNIST_DIR", dir.file("absent"));
    try {
      fashion_mnist_paths();
      ADD_FAILURE() << "no EnvError";
    } catch (const EnvError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("dataset-fashion-mnist"), std::string::npos) << msg;
      EXPECT_NE(msg.find("apt-get install dataset-fashion-mnist"), std::string::npos) << msg;
      EXPECT_NE(msg.find(dir.file("absent")), std::string::npos) << msg;
    }
  }
  {
    const EnvVar env("GRADLAB_FASHION_MNIST_DIR", dir.path.string());  // folder without files
    try {
      fashion_mnist_paths();
      ADD_FAILURE() << "no EnvError";
    } catch (const EnvError& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("train-images-idx3-ubyte.gz"), std::string::npos) << msg;
      EXPECT_NE(msg.find("dataset-fashion-mnist"), std::string::npos) << msg;
    }
  }
}

TEST(Idx, FashionMnistInstalled) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz") ||
      std::getenv("GRADLAB_FASHION_MNIST_DIR"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  const IdxShape s = idx_shape(fashion_mnist_paths());
  EXPECT_EQ(s.rows, 28);
  EXPECT_EQ(s.cols, 28);
  EXPECT_EQ(s.classes, 10);
  EXPECT_EQ(fashion_mnist_class_names().size(), 10u);
  EXPECT_EQ(fashion_mnist_class_names()[0], "T-shirt/top");
  EXPECT_EQ(fashion_mnist_class_names()[9], "Ankle boot");
}

// A small idx dataset: 6 train images (2×3 pixels, values 10·i + k), 4 test images.
struct SmallIdx {
  TempDir dir;
  std::vector<uint8_t> train_px, test_px, train_lb = {0, 1, 2, 0, 1, 2}, test_lb = {2, 1, 0, 1};
  SmallIdx() {
    for (int i = 0; i < 6; ++i)
      for (int k = 0; k < 6; ++k) train_px.push_back(static_cast<uint8_t>(10 * i + k));
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 6; ++k) test_px.push_back(static_cast<uint8_t>(200 + 10 * i + k));
    write_gz(dir.file("tr-im.gz"), idx_encode_images(6, 2, 3, train_px.data()));
    write_plain(dir.file("tr-lb"), idx_encode_labels(6, train_lb.data()));
    write_plain(dir.file("te-im"), idx_encode_images(4, 2, 3, test_px.data()));
    write_gz(dir.file("te-lb.gz"), idx_encode_labels(4, test_lb.data()));
  }
  Config config(int probe) const {
    json j = json::object();
    j["model"] = {{"depth", 1}, {"width", 4}};
    j["data"] = {{"name", "idx"},
                 {"test_samples", 100},
                 {"train_images", dir.file("tr-im.gz")},
                 {"train_labels", dir.file("tr-lb")},
                 {"test_images", dir.file("te-im")},
                 {"test_labels", dir.file("te-lb.gz")}};
    j["probe"] = {{"samples", probe}};
    std::vector<ConfigIssue> issues;
    Config c = config_from_json(j, issues);
    EXPECT_TRUE(issues.empty()) << (issues.empty() ? ""
                                                   : issues[0].path + ": " + issues[0].message);
    return c;
  }
};

TEST(Idx, DatasetSamplingAndNormalization) {
  const SmallIdx s;
  const Config c = s.config(3);
  const DataInfo info = data_info(c);
  EXPECT_EQ(info.inputs, 6);
  EXPECT_EQ(info.outputs, 3);
  EXPECT_EQ(info.image_rows, 2);
  EXPECT_EQ(info.image_cols, 3);
  Dataset<double> d = dataset_make<double>(c, 11);
  double s1 = 0, s2 = 0;
  for (const uint8_t p : s.train_px) {
    s1 += p / 255.0;
    s2 += (p / 255.0) * (p / 255.0);
  }
  const double mean = s1 / 36, sd = std::sqrt(s2 / 36 - mean * mean);
  // Column → which example it is (pixel 0 is 10·i or 200 + 10·i), and the exact normalization.
  auto example_of = [&](const Mat<double>& x, Index col, int base) {
    const double p0 = x(0, col) * sd + mean;
    const int i = static_cast<int>(std::lround((p0 * 255.0 - base) / 10.0));
    for (int k = 0; k < 6; ++k)
      EXPECT_NEAR(x(k, col), (static_cast<double>(base + 10 * i + k) / 255.0 - mean) / sd, 1e-12);
    return i;
  };

  Mat<double> x;
  Targets<double> t;
  dataset_sample(d, Split::train, 600, x, t);  // with replacement: all 6 appear, labels match
  std::set<int> seen;
  for (Index col = 0; col < x.cols(); ++col) {
    const int i = example_of(x, col, 0);
    ASSERT_GE(i, 0);
    ASSERT_LT(i, 6);
    EXPECT_EQ(t.labels[static_cast<size_t>(col)], s.train_lb[static_cast<size_t>(i)]);
    seen.insert(i);
  }
  EXPECT_EQ(seen.size(), 6u);

  dataset_sample(d, Split::probe, 3, x, t);  // 3 distinct test examples
  ASSERT_EQ(x.cols(), 3);
  seen.clear();
  for (Index col = 0; col < 3; ++col) {
    const int i = example_of(x, col, 200);
    EXPECT_EQ(t.labels[static_cast<size_t>(col)], s.test_lb[static_cast<size_t>(i)]);
    seen.insert(i);
  }
  EXPECT_EQ(seen.size(), 3u);

  dataset_sample(d, Split::test, 100, x, t);  // clamped to the 4 test examples, each once
  ASSERT_EQ(x.cols(), 4);
  ASSERT_EQ(t.labels.size(), 4u);
  seen.clear();
  for (Index col = 0; col < 4; ++col) seen.insert(example_of(x, col, 200));
  EXPECT_EQ(seen.size(), 4u);

  // Same data seed → same sets; the streams depend on the seed only.
  Dataset<double> d2 = dataset_make<double>(c, 11);
  Mat<double> x2;
  Targets<double> t2;
  dataset_sample(d2, Split::train, 600, x2, t2);
  Dataset<double> d3 = dataset_make<double>(c, 11);
  dataset_sample(d3, Split::train, 600, x, t);
  EXPECT_EQ(x, x2);
  EXPECT_EQ(d2.idx->train_images.get(), d3.idx->train_images.get());  // files shared via the cache
}

// ---- PNG ----

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t{static_cast<uint8_t>(s[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(s[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(s[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(s[at + 3])};
}

void check_png(const Canvas& c) {
  const std::string png = png_encode(c);
  ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  ASSERT_EQ(be32(png, 8), 13u);
  ASSERT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(png, 16), static_cast<uint32_t>(c.width));
  EXPECT_EQ(be32(png, 20), static_cast<uint32_t>(c.height));
  EXPECT_EQ(png[24], 8);                        // bit depth
  EXPECT_EQ(png[25], c.channels == 3 ? 2 : 0);  // colour type
  const auto* p = reinterpret_cast<const Bytef*>(png.data());
  EXPECT_EQ(be32(png, 29), static_cast<uint32_t>(crc32(0, p + 12, 17)));  // CRC of "IHDR" + data
  // IDAT: inflates to height rows of (filter byte 0, width·channels bytes) equal to the canvas.
  const size_t idat_len = be32(png, 33);
  ASSERT_EQ(png.substr(37, 4), "IDAT");
  const size_t row = static_cast<size_t>(c.width * c.channels);
  std::vector<Bytef> raw((row + 1) * static_cast<size_t>(c.height) + 16);
  uLongf got = raw.size();
  ASSERT_EQ(uncompress(raw.data(), &got, p + 41, static_cast<uLong>(idat_len)), Z_OK);
  ASSERT_EQ(got, (row + 1) * static_cast<size_t>(c.height));
  for (int y = 0; y < c.height; ++y) {
    const size_t at = static_cast<size_t>(y) * (row + 1);
    ASSERT_EQ(raw[at], 0);
    ASSERT_EQ(std::memcmp(raw.data() + at + 1, c.px.data() + static_cast<size_t>(y) * row, row), 0);
  }
  EXPECT_EQ(be32(png, 41 + idat_len),
            static_cast<uint32_t>(crc32(0, p + 37, static_cast<uInt>(4 + idat_len))));
  EXPECT_EQ(png.substr(png.size() - 8, 4), "IEND");
}

TEST(Png, GreyAndRgb) {
  Canvas g = canvas_make(7, 5, 1, Rgb{10, 0, 0});
  canvas_pixel(g, 3, 2, Rgb{250, 0, 0});
  EXPECT_EQ(g.px[2 * 7 + 3], 250);
  check_png(g);
  Canvas c = canvas_make(61, 23, 3, Rgb{1, 2, 3});
  canvas_text(c, 2, 2, "T-shirt/top +", Rgb{255, 255, 255});
  EXPECT_EQ(canvas_text_width("abc"), 17);
  int ink = 0;
  for (size_t i = 0; i < c.px.size(); i += 3) ink += c.px[i] == 255;
  EXPECT_GT(ink, 40);
  check_png(c);
  TempDir dir;
  png_write(dir.file("a.png"), c);
  EXPECT_EQ(read_all(dir.file("a.png")), png_encode(c));
}

}  // namespace
}  // namespace gl
