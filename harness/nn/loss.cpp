#include "harness/nn/loss.h"

#include <cmath>

namespace gl {

template <class T>
void loss_forward(Loss kind, const Mat<T>& yhat, const Targets<T>& t, Eigen::VectorXd& loss) {
  const Index B = yhat.cols();
  loss.resize(B);
  switch (kind) {
    case Loss::mse:
      for (Index i = 0; i < B; ++i)
        loss(i) = 0.5 * (yhat.col(i).template cast<double>() - t.y.col(i).template cast<double>())
                            .squaredNorm();
      return;
    case Loss::cross_entropy:
      for (Index i = 0; i < B; ++i) {
        // −log softmax[y] = logsumexp(ŷ) − ŷ_y, with the max subtracted (no overflow).
        const auto col = yhat.col(i).template cast<double>();
        const double m = col.maxCoeff();
        const double lse = m + std::log((col.array() - m).exp().sum());
        loss(i) = lse - col(t.labels[static_cast<size_t>(i)]);
      }
      return;
    case Loss::count:
      return;
  }
}

template <class T>
void loss_backward(Loss kind, const Mat<T>& yhat, const Targets<T>& t, Mat<T>& dyhat) {
  const Index B = yhat.cols();
  dyhat.resize(yhat.rows(), B);
  switch (kind) {
    case Loss::mse:
      dyhat.noalias() = yhat - t.y;
      return;
    case Loss::cross_entropy:
      // ∂ℓ/∂ŷ = softmax(ŷ) − onehot(y)
      for (Index i = 0; i < B; ++i) {
        const T m = yhat.col(i).maxCoeff();
        dyhat.col(i) = (yhat.col(i).array() - m).exp();
        dyhat.col(i) /= dyhat.col(i).sum();
        dyhat(t.labels[static_cast<size_t>(i)], i) -= T(1);
      }
      return;
    case Loss::count:
      return;
  }
}

template <class T>
Index loss_error_count(Loss kind, const Mat<T>& yhat, const Targets<T>& t, double err_threshold) {
  const Index B = yhat.cols();
  Index wrong = 0;
  for (Index i = 0; i < B; ++i) {
    if (kind == Loss::cross_entropy) {
      Index k = 0;
      yhat.col(i).maxCoeff(&k);
      // A non-finite output is never a right answer.
      if (!yhat.col(i).allFinite() || k != t.labels[static_cast<size_t>(i)]) ++wrong;
    } else {
      const double e =
          (yhat.col(i).template cast<double>() - t.y.col(i).template cast<double>()).squaredNorm();
      if (!(e <= err_threshold)) ++wrong;
    }
  }
  return wrong;
}

template <class T>
double loss_error_rate(Loss kind, const Mat<T>& yhat, const Targets<T>& t, double err_threshold) {
  const Index B = yhat.cols();
  if (B == 0) return nan_v;
  const Index wrong = loss_error_count(kind, yhat, t, err_threshold);
  return static_cast<double>(wrong) / static_cast<double>(B);
}

#define GL_LOSS_INST(T)                                                                    \
  template void loss_forward<T>(Loss, const Mat<T>&, const Targets<T>&, Eigen::VectorXd&); \
  template void loss_backward<T>(Loss, const Mat<T>&, const Targets<T>&, Mat<T>&);         \
  template Index loss_error_count<T>(Loss, const Mat<T>&, const Targets<T>&, double);      \
  template double loss_error_rate<T>(Loss, const Mat<T>&, const Targets<T>&, double);
GL_LOSS_INST(float)
GL_LOSS_INST(double)

}  // namespace gl
