// Shapeset-3×2 generator (harness/data/shapeset.h): class frequencies, scenes against their labels
// and pixels, the overlap rule, the value range, determinism; the pygame fill rule on known
// polygons; the dataset wiring (data.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "harness/data/data.h"
#include "harness/data/shapeset.h"

namespace gl {
namespace {

constexpr int n_samples = 20000;

// The overlap heuristic written out again from docs/shapeset.md (not from shapeset.cpp):
// proj = support of shape 1 along the line of centres + support of shape 2 along the reverse;
// estimate (A2/A1)(1 − 2^(−(proj−d)/d)) if proj ≥ d, with the first centre truncated to integers.
double overlap_reference(const ShapesetShape& a, const ShapesetShape& b) {
  const double pi = 3.14159265358979323846;
  auto area = [&](const ShapesetShape& s) {
    return s.s0 * s.s1 * s.nvert * std::sin(2 * pi / s.nvert) / (2 * pi);
  };
  const double ax = std::floor(a.cx), ay = std::floor(a.cy);
  const double dx = b.cx - ax, dy = b.cy - ay, d = std::hypot(dx, dy);
  double h1 = -INFINITY, h2 = -INFINITY;
  for (int v = 0; v < a.nvert; ++v)
    h1 = std::max(h1, ((a.vx[v] - ax) * dx + (a.vy[v] - ay) * dy) / d);
  for (int v = 0; v < b.nvert; ++v)
    h2 = std::max(h2, -((b.vx[v] - b.cx) * dx + (b.vy[v] - b.cy) * dy) / d);
  const double proj = h1 + h2;
  if (proj < d) return 0.0;
  return area(b) / area(a) * (1 - std::pow(2.0, -(proj - d) / d));
}

std::vector<uint8_t> mask_of(const ShapesetShape& s) {
  std::vector<uint8_t> m(shapeset_pixels, 0);
  shapeset_fill_polygon(s, 1, m.data());
  return m;
}

const char* type_name(ShapeType t) {
  switch (t) {
    case ShapeType::triangle:
      return "triangle";
    case ShapeType::parallelogram:
      return "parallelogram";
    case ShapeType::ellipse:
      return "ellipse";
  }
  return "?";
}

// One pass over n_samples scenes from a fixed seed, shared by the tests below.
struct Sampled {
  std::vector<ShapesetScene> scenes;
  std::vector<std::vector<uint8_t>> images;
  std::vector<int> labels;
};

const Sampled& sampled() {
  static const Sampled s = [] {
    Sampled r;
    Rng rng = rng_make(20100513);
    for (int i = 0; i < n_samples; ++i) {
      ShapesetScene sc;
      std::vector<uint8_t> img(shapeset_pixels);
      r.labels.push_back(shapeset_sample(rng, img.data(), &sc));
      r.scenes.push_back(sc);
      r.images.push_back(std::move(img));
    }
    return r;
  }();
  return s;
}

TEST(Shapeset, ClassFrequenciesMatchThePrior) {
  // A second shape is only given up after 50 rejections (never seen in 100k images), so the class
  // frequencies after rejection are the prior 1/6, 1/9, 1/18. Tolerance: 5 binomial sd.
  const Sampled& s = sampled();
  std::vector<int> count(shapeset_classes, 0);
  int dropped = 0;
  for (size_t i = 0; i < s.labels.size(); ++i) {
    ASSERT_GE(s.labels[i], 0);
    ASSERT_LT(s.labels[i], shapeset_classes);
    ++count[static_cast<size_t>(s.labels[i])];
    dropped += s.scenes[i].dropped;
  }
  EXPECT_LT(dropped, n_samples / 1000);
  double total = 0;
  for (int k = 0; k < shapeset_classes; ++k) {
    const double p = shapeset_class_prior(k);
    total += p;
    const double f = count[static_cast<size_t>(k)] / double{n_samples};
    const double sd = std::sqrt(p * (1 - p) / n_samples);
    EXPECT_NEAR(f, p, 5 * sd) << shapeset_class_name(k);
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST(Shapeset, EachClassContainsItsShapes) {
  const Sampled& s = sampled();
  for (size_t i = 0; i < s.scenes.size(); ++i) {
    const ShapesetScene& sc = s.scenes[i];
    const std::vector<uint8_t>& img = s.images[i];
    ASSERT_TRUE(sc.n_shapes == 1 || sc.n_shapes == 2);
    int count[3] = {0, 0, 0};
    for (int k = 0; k < sc.n_shapes; ++k) ++count[static_cast<int>(sc.shapes[k].type)];
    ASSERT_EQ(sc.label, s.labels[i]);
    ASSERT_EQ(sc.label, shapeset_label(count[0], count[1], count[2]));
    // The class name names exactly the shapes drawn.
    const std::string name = shapeset_class_name(sc.label);
    std::string expect = type_name(sc.shapes[0].type);
    if (sc.n_shapes == 2) {
      const std::string other = type_name(sc.shapes[1].type);
      ASSERT_TRUE(name == expect + "+" + other || name == other + "+" + expect) << name;
    } else {
      ASSERT_EQ(name, expect);
    }
    // Pixels: every shape is visible in its own grey level; the rest is background.
    const auto m0 = mask_of(sc.shapes[0]);
    const auto m1 =
        sc.n_shapes == 2 ? mask_of(sc.shapes[1]) : std::vector<uint8_t>(shapeset_pixels, 0);
    int visible0 = 0, visible1 = 0;
    for (int p = 0; p < shapeset_pixels; ++p) {
      const auto q = static_cast<size_t>(p);
      if (m1[q]) {
        ++visible1;
        ASSERT_EQ(img[q], sc.shapes[1].grey);
      } else if (m0[q]) {
        ++visible0;
        ASSERT_EQ(img[q], sc.shapes[0].grey);
      } else {
        ASSERT_EQ(img[q], sc.background);
      }
    }
    EXPECT_GT(visible0, 0) << "sample " << i;
    if (sc.n_shapes == 2) {
      EXPECT_GT(visible1, 0) << "sample " << i;
    }
  }
}

TEST(Shapeset, OverlapRuleHoldsOnEverySample) {
  const Sampled& s = sampled();
  int two = 0;
  for (const ShapesetScene& sc : s.scenes) {
    if (sc.n_shapes < 2) continue;
    ++two;
    const double ref = overlap_reference(sc.shapes[0], sc.shapes[1]);
    EXPECT_LE(ref, shapeset_overlap_max);
    EXPECT_NEAR(shapeset_overlap(sc.shapes[0], sc.shapes[1]), ref, 1e-9);
    // Redrawing keeps the type and the rotations: only scale and position change.
    EXPECT_LT(sc.rejections, shapeset_rejection_max);
  }
  EXPECT_GT(two, n_samples / 3);
}

TEST(Shapeset, GeometryAndGreyLevels) {
  const Sampled& s = sampled();
  int light = 0;
  for (size_t i = 0; i < s.scenes.size(); ++i) {
    const ShapesetScene& sc = s.scenes[i];
    light += sc.light_on_dark;
    const int fg_lo = sc.light_on_dark ? 140 : 0, fg_hi = sc.light_on_dark ? 255 : 114;
    const int bg_lo = sc.light_on_dark ? 0 : 140, bg_hi = sc.light_on_dark ? 114 : 255;
    ASSERT_GE(sc.background, bg_lo);
    ASSERT_LE(sc.background, bg_hi);
    for (int k = 0; k < sc.n_shapes; ++k) {
      const ShapesetShape& sh = sc.shapes[k];
      ASSERT_GE(sh.grey, fg_lo);
      ASSERT_LE(sh.grey, fg_hi);
      ASSERT_GE(sh.s0, sh.s1);
      ASSERT_GE(sh.s1, 0.2 * 32 - 1e-9);
      ASSERT_LE(sh.s0, 0.8 * 32 + 1e-9);
      ASSERT_LE(sh.rot3, 253);
      for (int v = 0; v < sh.nvert; ++v) {  // 1-pixel margin: every vertex in [1, 31]
        ASSERT_GE(sh.vx[v], 1.0 - 1e-9);
        ASSERT_LE(sh.vx[v], 31.0 + 1e-9);
        ASSERT_GE(sh.vy[v], 1.0 - 1e-9);
        ASSERT_LE(sh.vy[v], 31.0 + 1e-9);
      }
    }
  }
  const double f = light / double{n_samples};
  EXPECT_NEAR(f, 0.5, 5 * std::sqrt(0.25 / n_samples));
}

TEST(Shapeset, ValuesInMinusOneOne) {
  Rng r = rng_make(3);
  float img[shapeset_pixels];
  double lo = 1, hi = -1;
  for (int i = 0; i < 200; ++i) {
    shapeset_sample(r, img);
    for (const float v : img) {
      ASSERT_GE(v, -1.0f);
      ASSERT_LE(v, 1.0f);
      // v = g/255·2 − 1 for an integer g.
      const double g = (v + 1.0) / 2.0 * 255.0;
      ASSERT_NEAR(g, std::round(g), 1e-4);
      lo = std::min(lo, double{v});
      hi = std::max(hi, double{v});
    }
  }
  EXPECT_LT(lo, -0.9);
  EXPECT_GT(hi, 0.9);
  EXPECT_EQ(shapeset_value(0), -1.0);
  EXPECT_EQ(shapeset_value(255), 1.0);
}

TEST(Shapeset, SameSeedSameBitsOtherSeedOtherImages) {
  auto draw = [](uint64_t seed) {
    Rng r = rng_make(seed);
    std::vector<float> v(100 * shapeset_pixels);
    for (int i = 0; i < 100; ++i) shapeset_sample(r, v.data() + i * shapeset_pixels);
    return v;
  };
  const auto a = draw(42), b = draw(42), c = draw(43);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  int differ = 0;
  for (int i = 0; i < 100; ++i)
    differ += std::memcmp(a.data() + i * shapeset_pixels, c.data() + i * shapeset_pixels,
                          shapeset_pixels * sizeof(float)) != 0;
  EXPECT_EQ(differ, 100);
}

ShapesetShape polygon(std::initializer_list<std::pair<double, double>> pts) {
  ShapesetShape s;
  for (const auto& [x, y] : pts) {
    s.vx[s.nvert] = x;
    s.vy[s.nvert] = y;
    ++s.nvert;
  }
  return s;
}

std::vector<std::string> rows_of(const ShapesetShape& s, int y0, int y1, int x1) {
  const auto m = mask_of(s);
  std::vector<std::string> rows;
  for (int y = y0; y <= y1; ++y) {
    std::string row;
    for (int x = 0; x <= x1; ++x) row += m[static_cast<size_t>(y * shapeset_side + x)] ? '#' : '.';
    rows.push_back(row);
  }
  return rows;
}

TEST(Shapeset, FillFollowsPygameScanLines) {
  // Rectangle: rows 3..5 (the last row by the y == maxy rule), columns 2..6 inclusive. Vertices
  // are truncated first (6.9 → 6, 5.99 → 5).
  const auto rect = rows_of(polygon({{2, 3}, {6.9, 3}, {6.9, 5.99}, {2, 5}}), 2, 6, 7);
  EXPECT_EQ(rect,
            (std::vector<std::string>{"........", "..#####.", "..#####.", "..#####.", "........"}));
  // Right triangle (0,0), (5,0), (0,3): the hypotenuse crosses row y at 5 + trunc(−5y/3) =
  // 5, 4, 2, 0 (truncation toward zero rounds the negative offset up: one pixel more than an
  // inclusive point-in-polygon test on rows 1 and 2).
  const auto tri = rows_of(polygon({{0, 0}, {5, 0}, {0, 3}}), 0, 3, 6);
  EXPECT_EQ(tri, (std::vector<std::string>{"######.", "#####..", "###....", "#......"}));
}

Config shapeset_config() {
  json j = json::object();
  j["model"] = {{"depth", 1}, {"width", 4}};
  j["data"] = {{"name", "shapeset3x2"}, {"test_samples", 50}};
  std::vector<ConfigIssue> issues;
  Config c = config_from_json(j, issues);
  EXPECT_TRUE(issues.empty()) << (issues.empty() ? "" : issues[0].path + ": " + issues[0].message);
  return c;
}

TEST(Shapeset, DatasetStreams) {
  const Config c = shapeset_config();
  const DataInfo info = data_info(c);
  EXPECT_EQ(info.inputs, 1024);
  EXPECT_EQ(info.outputs, 9);
  EXPECT_TRUE(info.labels);
  EXPECT_EQ(info.image_rows, 32);
  ASSERT_EQ(info.class_names.size(), 9u);
  EXPECT_EQ(info.class_names[5], "triangle+ellipse");

  Dataset<double> a = dataset_make<double>(c, 7), b = dataset_make<double>(c, 7);
  Mat<double> xa, xb, xp;
  Targets<double> ta, tb, tp;
  dataset_sample(a, Split::train, 20, xa, ta);
  dataset_sample(b, Split::train, 20, xb, tb);
  dataset_sample(a, Split::probe, 20, xp, tp);
  ASSERT_EQ(xa.rows(), 1024);
  ASSERT_EQ(xa.cols(), 20);
  EXPECT_EQ(xa, xb);
  EXPECT_EQ(ta.labels, tb.labels);
  EXPECT_NE(xa, xp);  // the probe stream is not the training stream
  EXPECT_LE(xa.maxCoeff(), 1.0);
  EXPECT_GE(xa.minCoeff(), -1.0);
  // The dataset column is the generator's image: the training stream is seed_mix(seed, 1).
  Rng r = rng_make(seed_mix(7, 1));
  uint8_t grey[shapeset_pixels];
  const int label = shapeset_sample(r, grey);
  EXPECT_EQ(ta.labels[0], label);
  for (int k = 0; k < shapeset_pixels; ++k) ASSERT_EQ(xa(k, 0), shapeset_value(grey[k]));
}

}  // namespace
}  // namespace gl
