// Losses per example (docs/reference.md §3): mse ℓ_i = ½ Σ_k (ŷ_ik − y_ik)²; cross_entropy ℓ_i =
// −log softmax(ŷ_i)[y_i] in nats. Backward gives ∂ℓ_i/∂ŷ_i per example (not divided by the batch
// size: the per-example δ of docs/reference.md §4 is what the metrics read; ∂L/∂W divides by B
// once).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "harness/core/closed_set.h"
#include "harness/core/types.h"

namespace gl {

enum class Loss { cross_entropy, mse, count };

struct LossInfo {
  Loss kind;
  std::string_view name;
  std::string_view catalog;  // its line in `gradlab list`
};
inline constexpr LossInfo loss_table[] = {
    {Loss::cross_entropy, "cross_entropy", "-log softmax(y)[label], nats; needs class labels"},
    {Loss::mse, "mse", "1/2 sum_k (y_k - t_k)^2; needs regression targets"},
};
static_assert(rows_in_enum_order(loss_table));

// Targets of a batch: class indices (cross_entropy) or a (outputs, B) matrix (mse).
template <class T>
struct Targets {
  std::vector<int32_t> labels;  // (B)
  Mat<T> y;                     // (outputs, B)
};

// yhat: (outputs, B). loss: (B) per-example losses in double. dyhat: (outputs, B) ∂ℓ_i/∂ŷ_i.
template <class T>
void loss_forward(Loss kind, const Mat<T>& yhat, const Targets<T>& t, Eigen::VectorXd& loss);
template <class T>
void loss_backward(Loss kind, const Mat<T>& yhat, const Targets<T>& t, Mat<T>& dyhat);

// Number of examples predicted wrong: argmax ≠ label (cross_entropy). For mse, the examples whose
// squared error Σ_k (ŷ−y)² exceeds err_threshold (Pascanu's addition task: 0.04).
template <class T>
Index loss_error_count(Loss kind, const Mat<T>& yhat, const Targets<T>& t, double err_threshold);
// Their fraction, count / examples (one division: 186 wrong of 250 is exactly the double 0.744).
template <class T>
double loss_error_rate(Loss kind, const Mat<T>& yhat, const Targets<T>& t, double err_threshold);

}  // namespace gl
