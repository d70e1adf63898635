// `gradlab data NAME --out DIR [--n N] [--seed S]` (docs/reference.md §2): N training examples of a
// dataset with the default config of that dataset and data seed S, written as the network sees
// them:
//   x.npy        (N, features) float32, one row per example (images: row-major pixels)
//   y.npy        (N) int64 class labels, or (N, outputs) float32 targets
//   preview.png  up to 64 examples: images as a grid of tiles with their class names; vector
//                data (gaussian) as one row of pixels per example (values in [−3, 3])
// and prints the files written and the statistics of x (mean, std, min, max) and the class counts.
// The sequence tasks (temporal_order, addition) at L = 50, Pascanu 2013 §4.1's setting, write
//   x.npy (N, T, channels), y.npy, sequences.csv (the first 20 sequences, one row per step, the
//   target on the last step's row) and preview.png (one strip of T cells per sequence).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cli/commands.h"
#include "cli/png.h"
#include "harness/core/io.h"
#include "harness/data/data.h"
#include "harness/data/idx.h"
#include "harness/data/tasks.h"

namespace gl {

namespace {

constexpr int task_length = 50;     // Pascanu 2013 §4.1 (configs/pascanu2013/temporal_order_inits)
constexpr Index csv_examples = 20;  // sequences.csv: a few sequences to read

constexpr int preview_max = 64;       // examples shown
constexpr int preview_columns = 8;    // tiles per row
constexpr int preview_tile_min = 96;  // images are scaled up to at least this width (pixels)
constexpr int preview_pad = 6;
const Rgb preview_background{38, 42, 56};
const Rgb preview_ink{235, 235, 235};

// Every dataset but idx (whose four files only a config can name).
Names data_command_names() {
  Names n;
  for (const DatasetInfo& d : dataset_table)
    if (d.kind != DataName::idx) n.push_back(d.name);
  return n;
}

Config data_command_config(const std::string& name) {
  const Names names = data_command_names();
  const std::string valid = names_text(names);
  if (name == "idx")
    throw UsageError(fmt::format(
        "data \"idx\" needs its four files (train_images, train_labels, test_images, "
        "test_labels), which only a config's \"data\" block can give; gradlab data takes one of {}",
        valid));
  if (!contains(names, name))
    throw UsageError(fmt::format("unknown dataset \"{}\"; expected one of {}", name, valid));
  bool task = false;  // a sequence task needs an rnn
  for (const DatasetInfo& d : dataset_table)
    if (d.name == name) task = d.sequence;
  json j = json::object();
  // The model is required by the config; the data ignores it (a task needs an rnn).
  if (task)
    j["model"] = {{"type", "rnn"}, {"width", 1}};
  else
    j["model"] = {{"depth", 1}, {"width", 1}};
  j["data"] = {{"name", name}};
  if (task) j["data"]["length"] = task_length;
  std::vector<ConfigIssue> issues;
  Config c = config_from_json(j, issues);
  if (!issues.empty())
    throw UsageError(
        fmt::format("data {}: {}", name, config_issue_format("default config", issues[0])));
  return c;
}

uint8_t grey_of(double v, double lo, double hi) {
  const double g = std::round((v - lo) / (hi - lo) * 255.0);
  return static_cast<uint8_t>(std::clamp(g, 0.0, 255.0));
}

// A class name in lines of at most `width` characters, broken after '+' or '/' or at a space
// where possible, else anywhere.
std::vector<std::string> label_lines(const std::string& s, size_t width) {
  std::vector<std::string> lines;
  std::string rest = s;
  while (rest.size() > width) {
    size_t cut = std::string::npos;
    for (size_t k = width; k-- > 1;)
      if (rest[k - 1] == '+' || rest[k - 1] == '/' || rest[k] == ' ') {
        cut = k;
        break;
      }
    if (cut == std::string::npos) cut = width;
    lines.push_back(rest.substr(0, cut));
    rest = rest.substr(cut);
    if (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
  }
  lines.push_back(rest);
  return lines;
}

// Image tiles: example i's column of x is a rows×cols image (row-major) mapped from [lo, hi] to
// 0..255, scaled by an integer factor, with its class name below.
Canvas preview_images(const Mat<float>& x, const std::vector<int32_t>& labels, const DataInfo& info,
                      double lo, double hi) {
  const int rows = static_cast<int>(info.image_rows), cols = static_cast<int>(info.image_cols);
  const int shown = static_cast<int>(std::min<Index>(x.cols(), preview_max));
  const int scale = std::max(1, (preview_tile_min + cols - 1) / cols);
  const int tile_w = cols * scale, tile_h = rows * scale;
  const auto chars = static_cast<size_t>((tile_w + font_advance - font_width) / font_advance);
  size_t text_lines = 1;
  for (int i = 0; i < shown; ++i)
    text_lines = std::max(
        text_lines,
        label_lines(info.class_names[static_cast<size_t>(labels[static_cast<size_t>(i)])], chars)
            .size());
  const int cell_w = tile_w + preview_pad,
            cell_h = tile_h + 3 + static_cast<int>(text_lines) * font_line + preview_pad;
  const int grid_cols = std::min(shown, preview_columns);
  const int grid_rows = (shown + preview_columns - 1) / preview_columns;
  Canvas c = canvas_make(grid_cols * cell_w + preview_pad, grid_rows * cell_h + preview_pad, 3,
                         preview_background);
  for (int i = 0; i < shown; ++i) {
    const int x0 = preview_pad + (i % preview_columns) * cell_w;
    const int y0 = preview_pad + (i / preview_columns) * cell_h;
    for (int r = 0; r < rows; ++r)
      for (int q = 0; q < cols; ++q) {
        const uint8_t g = grey_of(x(r * cols + q, i), lo, hi);
        canvas_rect(c, x0 + q * scale, y0 + r * scale, scale, scale, Rgb{g, g, g});
      }
    const auto lines =
        label_lines(info.class_names[static_cast<size_t>(labels[static_cast<size_t>(i)])], chars);
    for (size_t k = 0; k < lines.size(); ++k)
      canvas_text(c, x0, y0 + tile_h + 3 + static_cast<int>(k) * font_line, lines[k], preview_ink);
  }
  return c;
}

// Vector data: one strip per example, its features as cells mapped from [−3, 3] to 0..255 (at most
// the first 512 features), the class name at the left.
Canvas preview_vectors(const Mat<float>& x, const std::vector<int32_t>& labels,
                       const DataInfo& info) {
  const int shown = static_cast<int>(std::min<Index>(x.cols(), preview_max));
  const int features = static_cast<int>(std::min<Index>(x.rows(), 512));
  const int cell = std::max(1, std::min(8, 512 / features));
  int text_w = 0;
  if (info.labels)
    for (int i = 0; i < shown; ++i)
      text_w = std::max(
          text_w,
          canvas_text_width(info.class_names[static_cast<size_t>(labels[static_cast<size_t>(i)])]));
  const int left = preview_pad + text_w + (text_w ? preview_pad : 0);
  const int strip = font_line + 1;
  Canvas c = canvas_make(left + features * cell + preview_pad, 2 * preview_pad + shown * strip, 3,
                         preview_background);
  for (int i = 0; i < shown; ++i) {
    const int y0 = preview_pad + i * strip;
    if (info.labels)
      canvas_text(c, preview_pad, y0 + 1,
                  info.class_names[static_cast<size_t>(labels[static_cast<size_t>(i)])],
                  preview_ink);
    for (int k = 0; k < features; ++k) {
      const uint8_t g = grey_of(x(k, i), -3.0, 3.0);
      canvas_rect(c, left + k * cell, y0, cell, font_line, Rgb{g, g, g});
    }
  }
  return c;
}

// Sequences of a task: x.npy (N, T, channels), y.npy, sequences.csv, preview.png.
int task_data_command(const Config& c, const std::string& name, const std::string& out, Index n,
                      uint64_t seed) {
  SeqData<float> d = seq_data_make<float>(c, seed);
  SeqBatch<float> b;
  seq_sample(d, Split::train, n, b);  // addition: one training length L + U{0..⌊L/10⌋−1}
  const Index T = b.steps, F = b.x.rows();
  const bool order = c.data.name == DataName::temporal_order;
  const std::vector<std::string> channels =
      order ? std::vector<std::string>{"A", "B", "c", "d", "e", "f"}
            : std::vector<std::string>{"marker", "value"};
  const std::vector<std::string> classes = {"AA", "BA", "AB", "BB"};  // v0 + 2·v1 (tasks.h)

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec || !std::filesystem::is_directory(out))
    throw EnvError(fmt::format("cannot create the output folder {}: {}", out, ec.message()));
  const std::string xp = out + "/x.npy", yp = out + "/y.npy", cp = out + "/sequences.csv",
                    pp = out + "/preview.png";
  std::vector<float> x(static_cast<size_t>(n * T * F));  // (N, T, F) from time-major columns
  for (Index i = 0; i < n; ++i)
    for (Index t = 0; t < T; ++t)
      for (Index f = 0; f < F; ++f) x[static_cast<size_t>((i * T + t) * F + f)] = b.x(f, t * n + i);
  npy_write_array(xp, x.data(), {n, T, F});
  if (order)
    npy_write_labels(yp, b.y.labels);
  else
    npy_write_examples(yp, b.y.y);

  auto target_text = [&](Index i) {
    return order ? classes[static_cast<size_t>(b.y.labels[static_cast<size_t>(i)])]
                 : fmt::format("{:.9g}", b.y.y(0, i));
  };
  const Index shown_csv = std::min(n, csv_examples);
  std::string csv = "example,t";
  for (const auto& ch : channels) csv += "," + ch;
  csv += ",target\n";
  for (Index i = 0; i < shown_csv; ++i)
    for (Index t = 0; t < T; ++t) {
      csv += fmt::format("{},{}", i, t + 1);
      for (Index f = 0; f < F; ++f) csv += fmt::format(",{:.9g}", b.x(f, t * n + i));
      csv += "," + (t == T - 1 ? target_text(i) : std::string()) + "\n";
    }
  file_write_atomic(cp, csv);

  // One strip per sequence, a cell per step: temporal_order's A red, B blue, c..f greys;
  // addition's value as grey, its two marked steps orange. The target at the left.
  constexpr int cell_w = 4, cell_h = font_line;
  const int shown = static_cast<int>(std::min<Index>(n, preview_max));
  int text_w = 0;
  for (int i = 0; i < shown; ++i) text_w = std::max(text_w, canvas_text_width(target_text(i)));
  const int left = 2 * preview_pad + text_w, strip = cell_h + 1;
  Canvas pv = canvas_make(left + static_cast<int>(T) * cell_w + preview_pad,
                          2 * preview_pad + shown * strip, 3, preview_background);
  for (int i = 0; i < shown; ++i) {
    const int y0 = preview_pad + i * strip;
    canvas_text(pv, preview_pad, y0 + 1, target_text(i), preview_ink);
    for (Index t = 0; t < T; ++t) {
      Rgb colour{};
      if (order) {
        Index sym = 0;
        for (Index f = 0; f < F; ++f)
          if (b.x(f, t * n + i) > 0.5f) sym = f;
        const uint8_t g = static_cast<uint8_t>(60 + 20 * sym);
        colour = sym == 0 ? Rgb{230, 80, 70} : sym == 1 ? Rgb{70, 140, 240} : Rgb{g, g, g};
      } else if (b.x(0, t * n + i) > 0.5f) {
        colour = Rgb{245, 160, 40};
      } else {
        const uint8_t g = grey_of(b.x(1, t * n + i), 0.0, 1.0);
        colour = Rgb{g, g, g};
      }
      canvas_rect(pv, left + static_cast<int>(t) * cell_w, y0, cell_w - 1, cell_h, colour);
    }
  }
  png_write(pp, pv);

  fmt::print("{}: {} training sequences of length {}, data seed {}\n", name, n, T, seed);
  std::string names;
  for (const auto& ch : channels) names += (names.empty() ? "" : ", ") + ch;
  fmt::print("wrote {}  ({} x {} x {} float32; channels {})\n", xp, n, T, F, names);
  if (order)
    fmt::print("wrote {}  ({} int64 class labels: 0 AA, 1 BA, 2 AB, 3 BB)\n", yp, n);
  else
    fmt::print("wrote {}  ({} x 1 float32 targets: the mean of the two marked values)\n", yp, n);
  fmt::print("wrote {}  (the first {} sequences, one row per step)\n", cp, shown_csv);
  fmt::print("wrote {}  ({} x {} pixels, the first {} sequences)\n", pp, pv.width, pv.height,
             shown);
  if (order) {
    std::vector<int64_t> count(4, 0);
    for (const int32_t l : b.y.labels) ++count[static_cast<size_t>(l)];
    for (size_t k = 0; k < 4; ++k)
      fmt::print("{:>5}  {:<4}  {:>8}  {:>6.2f}%\n", k, classes[k], count[k],
                 100.0 * static_cast<double>(count[k]) / static_cast<double>(n));
  } else {
    const Eigen::ArrayXd y = b.y.y.row(0).cast<double>().array().transpose();
    const double mean = y.mean();
    fmt::print("y: mean {:.6g}  std {:.6g}  min {:.6g}  max {:.6g}\n", mean,
               std::sqrt((y - mean).square().mean()), y.minCoeff(), y.maxCoeff());
  }
  return 0;
}

}  // namespace

int data_command(const std::string& name, const std::string& out, int64_t n, uint64_t seed) {
  const Config c = data_command_config(name);
  if (n < 1) throw UsageError(fmt::format("--n {}: expected at least 1", n));
  if (is_chain(c.model.type)) return task_data_command(c, name, out, static_cast<Index>(n), seed);
  Dataset<float> d = dataset_make<float>(c, seed);
  Mat<float> x;
  Targets<float> t;
  dataset_sample(d, Split::train, static_cast<Index>(n), x, t);

  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec || !std::filesystem::is_directory(out))
    throw EnvError(fmt::format("cannot create the output folder {}: {}", out, ec.message()));
  const std::string xp = out + "/x.npy", yp = out + "/y.npy", pp = out + "/preview.png";
  npy_write_examples(xp, x);
  const DataInfo& info = d.info;
  if (info.labels)
    npy_write_labels(yp, t.labels);
  else
    npy_write_examples(yp, t.y);

  // What the values mean, and the preview's mapping back to grey levels.
  std::string meaning;
  double lo = 0, hi = 1;
  switch (c.data.name) {
    case DataName::gaussian:
      meaning = "N(0, 1) entries";
      break;
    case DataName::shapeset3x2:
      meaning = "grey level g in 0..255 as g/255*2 - 1, in [-1, 1]";
      lo = -1, hi = 1;
      break;
    case DataName::idx:
    case DataName::fashion_mnist:
      meaning = fmt::format("pixel p in 0..255 as (p/255 - {:.6f})/{:.6f} (train split mean, std)",
                            d.idx->mean, d.idx->std);
      lo = (0 - d.idx->mean) / d.idx->std, hi = (1 - d.idx->mean) / d.idx->std;
      break;
    case DataName::temporal_order:
    case DataName::addition:
    case DataName::count:
      break;
  }
  const Canvas preview = info.image_rows > 0 ? preview_images(x, t.labels, info, lo, hi)
                                             : preview_vectors(x, t.labels, info);
  png_write(pp, preview);

  fmt::print("{}: {} training examples, data seed {}\n", name, n, seed);
  fmt::print("wrote {}  ({} x {} float32; {})\n", xp, x.cols(), x.rows(), meaning);
  if (info.labels)
    fmt::print("wrote {}  ({} int64 class labels)\n", yp, t.labels.size());
  else
    fmt::print("wrote {}  ({} x {} float32 targets)\n", yp, t.y.cols(), t.y.rows());
  fmt::print("wrote {}  ({} x {} pixels, the first {} examples)\n", pp, preview.width,
             preview.height, std::min<int64_t>(n, preview_max));
  const Eigen::ArrayXd v = x.cast<double>().reshaped().array();
  const double mean = v.mean();
  const double sd = std::sqrt((v - mean).square().mean());
  fmt::print("x: mean {:.6g}  std {:.6g}  min {:.6g}  max {:.6g}\n", mean, sd, v.minCoeff(),
             v.maxCoeff());
  if (info.labels) {
    std::vector<int64_t> count(static_cast<size_t>(info.outputs), 0);
    for (const int32_t l : t.labels) ++count[static_cast<size_t>(l)];
    size_t w = 5;
    for (const auto& s : info.class_names) w = std::max(w, s.size());
    fmt::print("{:>5}  {:<{}}  {:>8}  {:>7}\n", "class", "name", w, "count", "share");
    for (size_t k = 0; k < count.size(); ++k)
      fmt::print("{:>5}  {:<{}}  {:>8}  {:>6.2f}%\n", k, info.class_names[k], w, count[k],
                 100.0 * static_cast<double>(count[k]) / static_cast<double>(n));
  }
  return 0;
}

}  // namespace gl
