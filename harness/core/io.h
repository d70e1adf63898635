// Writing results: numbers as text (nan/inf spelled the same everywhere), CSV rows, JSON with
// non-finite numbers as strings, NumPy .npy files, and crash-safe files (write, fsync, rename).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/core/json_read.h"
#include "harness/core/types.h"

namespace gl {

// The shortest text that reads back to the same number of the run's precision (float32 runs: the
// nearest float; outside float's normal range, 9 significant digits); "nan", "inf", "-inf" (never
// "-nan").
std::string num_text(double v, Precision p);
// A CSV cell, RFC 4180-quoted when it holds a comma, quote, CR or LF.
std::string csv_cell(std::string_view s);
// One CSV line (cells joined by ',', quoted as needed, '\n' at the end).
std::string csv_line(const std::vector<std::string>& cells);

// JSON numbers with NaN/Inf as the strings "nan", "inf", "-inf" (docs/reference.md §4.4).
json json_num(double v);

// Writes `data` to `path` crash-safely: path.tmp, fsync, rename, fsync of the folder.
void file_write_atomic(const std::string& path, std::string_view data);
void dir_fsync(const std::string& dir);
std::string file_read(const std::string& path);  // throws EnvError naming the file

// NumPy .npy files (format 1.0, C order, little-endian), written crash-safely.
template <class T>
void npy_write_matrix(const std::string& path, const Mat<T>& m);  // (rows, cols)
// An (examples, features) array from a (features, examples) column-major matrix: same bytes.
template <class T>
void npy_write_examples(const std::string& path, const Mat<T>& m);
void npy_write_labels(const std::string& path, const std::vector<int32_t>& labels);  // int64
template <class T>
void npy_write_vector(const std::string& path, const Vec<T>& v);
// An array of any shape whose data is already in C order (last index fastest); T is float,
// double or int64_t.
template <class T>
void npy_write_array(const std::string& path, const T* data, const std::vector<Index>& shape);

}  // namespace gl
