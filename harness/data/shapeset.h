// Shapeset-3×2 (Glorot & Bengio 2010 §2.1): a port of Glorot's generator (glorotxa/Shapeset,
// polygongen.py with the "Shapeset-3*2" parameters of simpleexemple.py), drawn the way pygame 1.x
// draw.polygon fills. docs/shapeset.md lists the details followed here.
//
// A scene holds 1 or 2 filled polygons: a triangle (3 vertices), a parallelogram (4), or an
// "ellipse" (a 20-vertex polygon). Each one is a regular polygon of radius 1/2, pre-rotated by
// θ1 = k1·2π/255, stretched by (s0, s1) ~ U(0.2, 0.8)·32 with s0 ≥ s1, rotated back by
// θ2 = −atan(s1/s0 · tan θ1) so that the image of the bottom edge is horizontal again, rotated by
// θ3 = k3·2π/255 with k3 ∈ 0..253, and moved to a uniform position that keeps every vertex inside
// [1, 31]. The number of shapes is uniform on {1, 2} and each type is uniform on the 3 types, so
// the classes have the prior 1/6 (one shape), 1/9 (two different shapes), 1/18 (two equal ones).
// A second shape whose overlap estimate (shapeset_overlap) exceeds 1/2 is redrawn (new scale and
// position, same type and rotations); after 50 rejections it is given up and the image keeps one
// shape and a single-shape label.
//
// Grey levels are integers g ∈ 0..255: shapes in 0..114 on a background in 140..255, or, with
// probability 1/2, shapes in 140..255 on a background in 0..114; each shape has its own level.
// The network sees x = g/255·2 − 1 ∈ [−1, 1] (the original's neg=True).
//
// Pixel order: row-major, image[32·row + col], row = pygame's y (downwards), col = its x. (The
// original flattens pygame's [x][y] array, the transpose: a fixed permutation of the inputs that
// an MLP cannot see.)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "harness/core/rng.h"

namespace gl {

constexpr int shapeset_side = 32;                               // images are 32×32
constexpr int shapeset_pixels = shapeset_side * shapeset_side;  // 1024 inputs
constexpr int shapeset_classes = 9;
constexpr int shapeset_max_vertices = 20;
constexpr double shapeset_overlap_max = 0.5;  // overlap estimate above this → redraw
constexpr int shapeset_rejection_max = 50;    // rejected candidates before the 2nd shape is dropped

enum class ShapeType { triangle, parallelogram, ellipse };  // 3, 4, 20 vertices

// One drawn polygon, with the parameters it was generated from.
struct ShapesetShape {
  ShapeType type = ShapeType::triangle;
  int nvert = 0;
  double vx[shapeset_max_vertices] = {};  // vertices in pixels: x = column, y = row (downwards),
  double vy[shapeset_max_vertices] = {};  // before the renderer truncates them to integers
  double cx = 0, cy = 0;                  // the translation (centre of the regular polygon)
  double s0 = 0, s1 = 0;                  // stretch in pixels along the two axes, s0 ≥ s1
  int rot1 = 0;                           // pre-rotation index on the 255-angle grid (0..254)
  int rot3 = 0;                           // final rotation index (0..253)
  int grey = 0;                           // fill level 0..255
};

// A whole image: what was drawn, in drawing order (the second shape lies on top of the first).
struct ShapesetScene {
  int n_shapes = 0;  // 1 or 2
  ShapesetShape shapes[2];
  int background = 0;          // grey level 0..255
  bool light_on_dark = false;  // shapes in 140..255 on a background in 0..114
  int rejections = 0;          // second-shape candidates rejected
  bool dropped = false;        // the second shape was given up after 50 rejections
  int label = 0;               // class 0..8 (shapeset_label)
};

// Class of a scene from its shape counts: 0 T, 1 P, 2 E, 3 T+P, 4 P+E, 5 T+E, 6 T+T, 7 P+P, 8 E+E
// (the original's convertout); -1 for any other combination.
int shapeset_label(int triangles, int parallelograms, int ellipses);
// "triangle", ..., "triangle+parallelogram", ..., "ellipse+ellipse" (in the generator's type
// order).
const char* shapeset_class_name(int label);
std::vector<std::string> shapeset_class_names();
// Prior probability of a class before the (never observed) drops: 1/6, 1/9 or 1/18.
double shapeset_class_prior(int label);

// The generator's overlap estimate of a candidate `second` against the placed shape `first`
// (a heuristic, not an area). With c1 = first's centre truncated to integers (the original stores
// it as int32), c2 = second's centre, u = (c2 − c1)/d, d = |c2 − c1|, and h the largest projection
// of a shape's vertices (relative to its centre): proj = h_first(u) + h_second(−u). If proj ≥ d the
// estimate is (A2/A1)·(1 − 2^(−(proj − d)/d)), A = s0·s1·n·sin(2π/n)/(2π), else 0. d = 0 (never
// seen) counts as A2/A1.
double shapeset_overlap(const ShapesetShape& first, const ShapesetShape& second);

// Draw one scene from r (uniform on the generator's distribution; the draw order follows the
// original: inversion, count, background, then per shape: type, rotations, scale and position
// until accepted, grey level). Returns the label.
int shapeset_scene_sample(Rng& r, ShapesetScene& scene);

// Fill a polygon as pygame 1.x draw.polygon(surface, grey, points, 0): vertices truncated to
// integers, scan lines y = miny..maxy, crossings x1 + trunc((y−y1)(x2−x1)/(y2−y1)) of the edges
// with y1 ≤ y < y2 (plus y1 < y ≤ y2 on the last row), spans between sorted pairs filled inclusive.
// image: (32·32) grey levels, row-major; clipped to the image.
void shapeset_fill_polygon(const ShapesetShape& shape, uint8_t grey, uint8_t* image);
// Background, then the shapes in order. image: (32·32) grey levels, row-major.
void shapeset_render(const ShapesetScene& scene, uint8_t* image);

// The network's input for grey level g: g/255·2 − 1 ∈ [−1, 1].
inline double shapeset_value(uint8_t g) { return static_cast<double>(g) / 255.0 * 2.0 - 1.0; }

// One image and its label. grey: (32·32) levels, row-major; image: (32·32) network inputs
// (shapeset_value), row-major. scene, when given, receives what was drawn.
int shapeset_sample(Rng& r, uint8_t* grey, ShapesetScene* scene = nullptr);
int shapeset_sample(Rng& r, float* image, ShapesetScene* scene = nullptr);

}  // namespace gl
