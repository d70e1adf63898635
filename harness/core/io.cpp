#include "harness/core/io.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gl {

std::string num_text(double v, Precision p) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (p == Precision::float64) return fmt::format("{}", v);  // shortest round trip
  // float32: the shortest text of the nearest float. A statistic accumulated in double may lie
  // outside float's normal range; it keeps 9 significant digits (float's round-trip precision).
  const double a = std::abs(v);
  if (a == 0.0 || (a >= FLT_MIN && a <= FLT_MAX)) return fmt::format("{}", static_cast<float>(v));
  return fmt::format("{}", std::strtod(fmt::format("{:.9g}", v).c_str(), nullptr));
}

std::string csv_cell(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string q = "\"";
  for (char ch : s) {
    if (ch == '"') q += '"';
    q += ch;
  }
  return q + '"';
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) line += ',';
    line += csv_cell(cells[i]);
  }
  line += '\n';
  return line;
}

json json_num(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

static void write_all(int fd, std::string_view data, const std::string& path) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    const ssize_t k = ::write(fd, p, left);
    if (k < 0) {
      if (errno == EINTR) continue;
      throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
    }
    p += k;
    left -= static_cast<size_t>(k);
  }
}

void dir_fsync(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

void file_write_atomic(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw EnvError(fmt::format("{}: cannot write: {}", path, std::strerror(errno)));
  try {
    write_all(fd, data, path);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    throw EnvError(fmt::format("{}: cannot rename: {}", path, std::strerror(errno)));
  dir_fsync(std::filesystem::path(path).parent_path().string());
}

std::string file_read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EnvError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// ---- .npy ----

template <class T>
static const char* npy_descr();
template <>
const char* npy_descr<float>() {
  return "<f4";
}
template <>
const char* npy_descr<double>() {
  return "<f8";
}
template <>
const char* npy_descr<int64_t>() {
  return "<i8";
}

static std::string npy_header(const char* descr, const std::vector<Index>& shape) {
  // Python tuple syntax: "(n,)" for one dimension, "(a, b)" otherwise.
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += fmt::format("{}{}", i ? ", " : "", shape[i]);
  s += shape.size() == 1 ? ",)" : ")";
  std::string dict =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, s);
  // magic(6) + version(2) + len(2) + dict + padding + '\n' is a multiple of 64.
  const size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::string h = "\x93NUMPY";
  h += '\x01';
  h += '\x00';
  const auto len = static_cast<uint16_t>(dict.size());
  h += static_cast<char>(len & 0xff);
  h += static_cast<char>(len >> 8);
  return h + dict;
}

template <class T>
static void npy_write_raw(const std::string& path, const T* data, size_t n,
                          const std::vector<Index>& shape) {
  std::string bytes = npy_header(npy_descr<T>(), shape);
  bytes.append(reinterpret_cast<const char*>(data), n * sizeof(T));
  file_write_atomic(path, bytes);
}

template <class T>
void npy_write_matrix(const std::string& path, const Mat<T>& m) {
  const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> r = m;
  npy_write_raw(path, r.data(), static_cast<size_t>(r.size()), {m.rows(), m.cols()});
}

template <class T>
void npy_write_examples(const std::string& path, const Mat<T>& m) {
  npy_write_raw(path, m.data(), static_cast<size_t>(m.size()), {m.cols(), m.rows()});
}

template <class T>
void npy_write_vector(const std::string& path, const Vec<T>& v) {
  npy_write_raw(path, v.data(), static_cast<size_t>(v.size()), {v.size()});
}

template <class T>
void npy_write_array(const std::string& path, const T* data, const std::vector<Index>& shape) {
  size_t n = 1;
  for (Index k : shape) n *= static_cast<size_t>(k);
  npy_write_raw(path, data, n, shape);
}

void npy_write_labels(const std::string& path, const std::vector<int32_t>& labels) {
  std::vector<int64_t> l(labels.begin(), labels.end());
  npy_write_raw(path, l.data(), l.size(), {static_cast<Index>(l.size())});
}

template void npy_write_matrix<float>(const std::string&, const Mat<float>&);
template void npy_write_matrix<double>(const std::string&, const Mat<double>&);
template void npy_write_examples<float>(const std::string&, const Mat<float>&);
template void npy_write_examples<double>(const std::string&, const Mat<double>&);
template void npy_write_vector<float>(const std::string&, const Vec<float>&);
template void npy_write_vector<double>(const std::string&, const Vec<double>&);
template void npy_write_array<float>(const std::string&, const float*, const std::vector<Index>&);
template void npy_write_array<double>(const std::string&, const double*, const std::vector<Index>&);
template void npy_write_array<int64_t>(const std::string&, const int64_t*,
                                       const std::vector<Index>&);

}  // namespace gl
