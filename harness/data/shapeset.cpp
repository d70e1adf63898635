#include "harness/data/shapeset.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace gl {

namespace {

constexpr int resolution = 255;  // rotations sit on the grid k·2π/255
constexpr int type_vertices[3] = {3, 4, 20};
constexpr double scale_min = 0.2, scale_max = 0.8;  // × 32 pixels
constexpr int dark_lo = 0, dark_hi = 114;           // int(0.45·255)
constexpr int light_lo = 140, light_hi = 255;       // int(0.55·255)

// Rotation as the original's gen_rot: R = [[c, s], [−s, c]] acting on row vectors,
// (x, y)·R = (x c − y s, x s + y c): counter-clockwise by θ in (x, y) coordinates.
struct Rot {
  double c, s;
};

void rot_apply(double& x, double& y, Rot r) {
  const double nx = x * r.c + y * -r.s;
  const double ny = x * r.s + y * r.c;
  x = nx;
  y = ny;
}

struct Tables {
  double base_x[3][shapeset_max_vertices];  // regular n-gons of radius 1/2 whose bottom edge is
  double base_y[3][shapeset_max_vertices];  // horizontal (vertex t at angle 2π(t/n + 1/(2n) + 1/4))
  double area_ratio[3];                     // n sin(2π/n)/(2π): n-gon area / circle area
  double rad[resolution];                   // k·2π/255
  Rot rot[resolution];
};

Tables tables_make() {
  Tables t{};
  const double pi = std::numbers::pi;
  for (int k = 0; k < 3; ++k) {
    const int n = type_vertices[k];
    for (int v = 0; v < n; ++v) {
      const double angle = ((1.0 * v) / n + 1.0 / (2 * n) + 1.0 / 4) * pi * 2.0;
      t.base_x[k][v] = 0.5 * std::cos(angle);
      t.base_y[k][v] = 0.5 * std::sin(angle);
    }
    t.area_ratio[k] = n * std::sin(2 * pi / n) / (2 * pi);
  }
  const double step = 2 * pi / resolution;
  for (int k = 0; k < resolution; ++k) {
    t.rad[k] = k * step;
    t.rot[k] = {std::cos(t.rad[k]), std::sin(t.rad[k])};
  }
  return t;
}

const Tables& tables() {
  static const Tables t = tables_make();  // thread-safe initialization
  return t;
}

int type_index(ShapeType t) { return static_cast<int>(t); }

int uniform_int(Rng& r, int lo, int hi) {  // lo..hi inclusive
  return lo + static_cast<int>(rng_below(r, static_cast<uint64_t>(hi - lo + 1)));
}

// The rotation indices of a new shape, as the original's _corners draws them.
// k1: an index uniform on 0..255//n − 1, mapped to signed angles around 0 (upper half to
// 255 − 254//n + k1, clipped at 254): triangle −41..42 (−1 twice as likely, from the clip),
// parallelogram −31..31, ellipse −5..6. k3: uniform on 0..253 (randint(0, 254)).
void rotations_sample(Rng& r, int n, int& k1, int& k3) {
  k1 = static_cast<int>(rng_below(r, static_cast<uint64_t>(resolution / n)));
  if (k1 > (resolution - 1) / (2 * n))
    k1 = std::min(resolution - (resolution - 1) / n + k1, resolution - 1);
  k3 = static_cast<int>(rng_below(r, resolution - 1));
}

// A candidate placement of a shape of given type and rotations: scale, then position.
void candidate_sample(Rng& r, ShapesetShape& sh) {
  const Tables& tb = tables();
  const int k = type_index(sh.type);
  double s0 = rng_uniform(r, scale_min, scale_max) * shapeset_side;
  double s1 = rng_uniform(r, scale_min, scale_max) * shapeset_side;
  if (s1 > s0) std::swap(s0, s1);  // the longer axis along the base
  Rot r2;
  if (sh.rot1 == 0) {
    r2 = tb.rot[0];
  } else if (s0 == s1) {
    r2 = tb.rot[resolution - sh.rot1];
  } else {
    // The exact inverse rotation after the stretch: brings the image of the base back to 0 rad.
    const double rot2 = -std::atan(s1 / s0 * std::tan(tb.rad[sh.rot1]));
    r2 = {std::cos(rot2), std::sin(rot2)};
  }
  const Rot r1 = tb.rot[sh.rot1], r3 = tb.rot[sh.rot3];
  double lo_x = 1e300, lo_y = 1e300, hi_x = -1e300, hi_y = -1e300;
  for (int v = 0; v < sh.nvert; ++v) {
    double x = tb.base_x[k][v], y = tb.base_y[k][v];
    rot_apply(x, y, r1);
    x *= s0;
    y *= s1;
    rot_apply(x, y, r2);
    rot_apply(x, y, r3);
    sh.vx[v] = x;
    sh.vy[v] = y;
    lo_x = std::min(lo_x, x);
    lo_y = std::min(lo_y, y);
    hi_x = std::max(hi_x, x);
    hi_y = std::max(hi_y, y);
  }
  // Uniform translation (in units of the image side) keeping every vertex in [1, 31).
  const double side = shapeset_side;
  const double max_x = (hi_x + 1) / side, max_y = (hi_y + 1) / side;
  const double min_x = (lo_x - 1) / side, min_y = (lo_y - 1) / side;
  sh.cx = rng_uniform(r, std::max(0.0, -min_x), std::min(1.0, 1 - max_x)) * side;
  sh.cy = rng_uniform(r, std::max(0.0, -min_y), std::min(1.0, 1 - max_y)) * side;
  for (int v = 0; v < sh.nvert; ++v) {
    sh.vx[v] += sh.cx;
    sh.vy[v] += sh.cy;
  }
  sh.s0 = s0;
  sh.s1 = s1;
}

}  // namespace

int shapeset_label(int triangles, int parallelograms, int ellipses) {
  const int t = triangles, p = parallelograms, e = ellipses;
  if (t == 1 && p == 0 && e == 0) return 0;
  if (t == 0 && p == 1 && e == 0) return 1;
  if (t == 0 && p == 0 && e == 1) return 2;
  if (t == 1 && p == 1 && e == 0) return 3;
  if (t == 0 && p == 1 && e == 1) return 4;
  if (t == 1 && p == 0 && e == 1) return 5;
  if (t == 2 && p == 0 && e == 0) return 6;
  if (t == 0 && p == 2 && e == 0) return 7;
  if (t == 0 && p == 0 && e == 2) return 8;
  return -1;
}

const char* shapeset_class_name(int label) {
  static const char* const names[shapeset_classes] = {"triangle",
                                                      "parallelogram",
                                                      "ellipse",
                                                      "triangle+parallelogram",
                                                      "parallelogram+ellipse",
                                                      "triangle+ellipse",
                                                      "triangle+triangle",
                                                      "parallelogram+parallelogram",
                                                      "ellipse+ellipse"};
  return label >= 0 && label < shapeset_classes ? names[label] : "?";
}

std::vector<std::string> shapeset_class_names() {
  std::vector<std::string> v;
  for (int k = 0; k < shapeset_classes; ++k) v.emplace_back(shapeset_class_name(k));
  return v;
}

double shapeset_class_prior(int label) {
  // P(1 shape) = 1/2, × 1/3 per type; P(2 shapes) = 1/2, × 2/9 per unordered mixed pair, 1/9 per
  // same-type pair.
  if (label < 3) return 1.0 / 6;
  if (label < 6) return 1.0 / 9;
  return 1.0 / 18;
}

double shapeset_overlap(const ShapesetShape& first, const ShapesetShape& second) {
  const Tables& tb = tables();
  // The original keeps the first centre as int32 (truncation; centres are positive).
  const double c1x = std::trunc(first.cx), c1y = std::trunc(first.cy);
  const double ux = second.cx - c1x, uy = second.cy - c1y;  // (d·u), first → second
  const double d = std::sqrt(ux * ux + uy * uy);
  const double a1 = first.s0 * first.s1 * tb.area_ratio[type_index(first.type)];
  const double a2 = second.s0 * second.s1 * tb.area_ratio[type_index(second.type)];
  if (d == 0) return a2 / a1;
  double h1 = -1e300, h2 = -1e300;  // supports: of the first along u, of the second along −u
  for (int v = 0; v < first.nvert; ++v)
    h1 = std::max(h1, ((first.vx[v] - c1x) * ux + (first.vy[v] - c1y) * uy) / d);
  for (int v = 0; v < second.nvert; ++v)
    h2 = std::max(h2, ((second.vx[v] - second.cx) * -ux + (second.vy[v] - second.cy) * -uy) / d);
  const double proj = h1 + h2;
  if (!(proj >= d)) return 0.0;
  const double factor = 1 - std::exp(-(proj - d) / (d / std::numbers::ln2));  // 1 − 2^(−(proj−d)/d)
  return a2 * factor / a1;
}

int shapeset_scene_sample(Rng& r, ShapesetScene& sc) {
  sc = ShapesetScene{};
  // Default roles: dark shapes on a light background; swapped with probability 1/2.
  sc.light_on_dark = rng_uniform(r) > 0.5;
  const int fg_lo = sc.light_on_dark ? light_lo : dark_lo,
            fg_hi = sc.light_on_dark ? light_hi : dark_hi;
  const int bg_lo = sc.light_on_dark ? dark_lo : light_lo,
            bg_hi = sc.light_on_dark ? dark_hi : light_hi;
  const int wanted = uniform_int(r, 1, 2);
  sc.background = uniform_int(r, bg_lo, bg_hi);
  int count[3] = {0, 0, 0};
  for (int i = 0; i < wanted; ++i) {
    ShapesetShape sh;
    sh.type = static_cast<ShapeType>(rng_below(r, 3));
    sh.nvert = type_vertices[type_index(sh.type)];
    rotations_sample(r, sh.nvert, sh.rot1, sh.rot3);
    // Rejection: only the scale and the position are redrawn. The original gives up once 50
    // candidates were rejected (it draws one or two more candidates before noticing; they cannot
    // change the outcome, so we stop at the 50th).
    bool placed = false;
    while (!placed) {
      candidate_sample(r, sh);
      if (i == 0 || shapeset_overlap(sc.shapes[0], sh) <= shapeset_overlap_max) {
        placed = true;
      } else if (++sc.rejections >= shapeset_rejection_max) {
        sc.dropped = true;
        break;
      }
    }
    if (!placed) break;
    sh.grey = uniform_int(r, fg_lo, fg_hi);
    sc.shapes[sc.n_shapes++] = sh;
    ++count[type_index(sh.type)];
  }
  sc.label = shapeset_label(count[0], count[1], count[2]);
  return sc.label;
}

void shapeset_fill_polygon(const ShapesetShape& sh, uint8_t grey, uint8_t* image) {
  const int n = sh.nvert;
  int xs[shapeset_max_vertices], ys[shapeset_max_vertices];
  for (int v = 0; v < n; ++v) {  // pygame's int(): truncation toward zero
    xs[v] = static_cast<int>(sh.vx[v]);
    ys[v] = static_cast<int>(sh.vy[v]);
  }
  const int miny = *std::min_element(ys, ys + n), maxy = *std::max_element(ys, ys + n);
  int ints[shapeset_max_vertices];
  for (int y = miny; y <= maxy; ++y) {
    int m = 0;
    for (int i = 0; i < n; ++i) {
      const int i1 = i == 0 ? n - 1 : i - 1, i2 = i;  // edge (i1 → i2), oriented downwards
      int x1, y1, x2, y2;
      if (ys[i1] < ys[i2]) {
        x1 = xs[i1], y1 = ys[i1], x2 = xs[i2], y2 = ys[i2];
      } else if (ys[i1] > ys[i2]) {
        x1 = xs[i2], y1 = ys[i2], x2 = xs[i1], y2 = ys[i1];
      } else {
        continue;  // horizontal edges give no crossing
      }
      if ((y >= y1 && y < y2) || (y == maxy && y > y1 && y <= y2))
        ints[m++] = (y - y1) * (x2 - x1) / (y2 - y1) + x1;  // C division: truncates toward 0
    }
    std::sort(ints, ints + m);
    if (y < 0 || y >= shapeset_side) continue;
    for (int i = 0; i + 1 < m; i += 2) {
      const int a = std::max(ints[i], 0), b = std::min(ints[i + 1], shapeset_side - 1);
      for (int x = a; x <= b; ++x) image[y * shapeset_side + x] = grey;
    }
  }
}

void shapeset_render(const ShapesetScene& sc, uint8_t* image) {
  std::fill(image, image + shapeset_pixels, static_cast<uint8_t>(sc.background));
  for (int i = 0; i < sc.n_shapes; ++i)
    shapeset_fill_polygon(sc.shapes[i], static_cast<uint8_t>(sc.shapes[i].grey), image);
}

int shapeset_sample(Rng& r, uint8_t* grey, ShapesetScene* scene) {
  ShapesetScene local;
  ShapesetScene& sc = scene ? *scene : local;
  shapeset_scene_sample(r, sc);
  shapeset_render(sc, grey);
  return sc.label;
}

int shapeset_sample(Rng& r, float* image, ShapesetScene* scene) {
  uint8_t grey[shapeset_pixels];
  const int label = shapeset_sample(r, grey, scene);
  for (int k = 0; k < shapeset_pixels; ++k) image[k] = static_cast<float>(shapeset_value(grey[k]));
  return label;
}

}  // namespace gl
