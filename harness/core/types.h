// Scalars, matrices and the layout rule shared by the whole harness.
//
// Layout: column-major, one column per example. A batch of B inputs of size n is an (n, B) matrix;
// a weight matrix is (fan_out, fan_in), as PyTorch's Linear.weight.
// Every numeric routine is a template over the run's precision T (float or double) and is
// instantiated for both; statistics always accumulate in double.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

namespace gl {

using Index = Eigen::Index;

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
template <class T>
using Vec = Eigen::Matrix<T, Eigen::Dynamic, 1>;
using MatI = Eigen::Matrix<int32_t, Eigen::Dynamic, Eigen::Dynamic>;

inline constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

enum class Precision { float32, float64, count };
inline constexpr std::string_view precision_names[] = {"float32", "float64"};
static_assert(std::size(precision_names) == static_cast<size_t>(Precision::count));

// An error in what the user gave us (config, command line, files): exit status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// An error of the environment (unwritable folder, missing package): exit status 3.
struct EnvError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace gl
