#include "harness/nn/init.h"

#include <Eigen/Dense>
#include <Eigen/Eigenvalues>
#include <stdexcept>

namespace gl {

std::string_view init_name(Init k) { return init_info(k).name; }

std::optional<Init> init_from_name(std::string_view n) { return kind_from_name(init_table, n); }

std::string init_names_list() {
  std::string s, aliases;
  for (const InitInfo& i : init_table) {
    s += (s.empty() ? "" : ", ") + std::string(i.name);
    for (auto alias : i.aliases) aliases += (aliases.empty() ? "" : ", ") + std::string(alias);
  }
  return s + " (aliases: " + aliases + ")";
}

static double fan_of(const InitSpec& s, Index fan_in, Index fan_out) {
  return static_cast<double>(s.mode == FanMode::fan_in ? fan_in : fan_out);
}

// Var W of each entry before spectral rescaling (NaN where entries are not i.i.d.).
static double entry_variance(const InitSpec& s, Index fan_in, Index fan_out) {
  const double fi = static_cast<double>(fan_in), fo = static_cast<double>(fan_out);
  const double g2 = s.gain * s.gain;
  switch (s.kind) {
    case Init::glorot_standard:
      return g2 / (3.0 * fi);  // U[±1/√fi]: bound²/3
    case Init::glorot_uniform:
    case Init::glorot_normal:
      return g2 * 2.0 / (fi + fo);
    case Init::he_normal:
    case Init::he_uniform:
      return g2 * 2.0 / fan_of(s, fan_in, fan_out);
    case Init::lecun_normal:
    case Init::lecun_uniform:
      return g2 / fan_of(s, fan_in, fan_out);
    case Init::orthogonal:
      return g2 / std::max(fi, fo);  // rows or columns orthonormal
    case Init::gaussian:
      return g2 *
             (std::isnan(s.std) ? (std::isnan(s.sigma_w2) ? 1.0 : s.sigma_w2) / fi : s.std * s.std);
    case Init::uniform:
      return g2 * s.scale * s.scale / 3.0;
    case Init::sparse:
    case Init::identity:
      return nan_v;
    case Init::count:
      break;
  }
  throw std::logic_error("unreachable");
}

double init_sigma_w2(const InitSpec& s, Index fan_in, Index fan_out) {
  if (!std::isnan(s.spectral_radius) || !std::isnan(s.spectral_norm)) return nan_v;
  return static_cast<double>(fan_in) * entry_variance(s, fan_in, fan_out);
}

double bias_sigma_b2(const BiasSpec& s) {
  return s.kind == BiasKind::constant ? s.value * s.value : s.sigma_b2;
}

// W ← Q with orthonormal rows (fan_out <= fan_in) or columns, from the QR of a Gaussian matrix,
// with R's diagonal made positive so Q is Haar-distributed (Mezzadri 2007).
static void fill_orthogonal(Eigen::MatrixXd& W, Rng& rng) {
  const bool tall = W.rows() >= W.cols();
  Eigen::MatrixXd G(tall ? W.rows() : W.cols(), tall ? W.cols() : W.rows());
  for (Index j = 0; j < G.cols(); ++j)
    for (Index i = 0; i < G.rows(); ++i) G(i, j) = rng_normal(rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(G);
  Eigen::MatrixXd Q = qr.householderQ() * Eigen::MatrixXd::Identity(G.rows(), G.cols());
  const Eigen::MatrixXd R = qr.matrixQR();
  for (Index j = 0; j < Q.cols(); ++j)
    if (R(j, j) < 0) Q.col(j) = -Q.col(j);
  if (tall)
    W = Q;
  else
    W = Q.transpose();
}

static double spectral_radius_of(const Eigen::MatrixXd& W) {
  Eigen::EigenSolver<Eigen::MatrixXd> es(W, /*computeEigenvectors=*/false);
  return es.eigenvalues().cwiseAbs().maxCoeff();
}

template <class T>
void init_weights(const InitSpec& s, Mat<T>& Wt, Rng& rng) {
  const Index fo = Wt.rows(), fi = Wt.cols();
  const double fan = fan_of(s, fi, fo);
  Eigen::MatrixXd W(fo, fi);  // generate in double: the same draws for both precisions
  // Column-major fill order over (fan_out, fan_in), documented so others can replay it.
  auto fill = [&](auto draw) {
    for (Index j = 0; j < fi; ++j)
      for (Index i = 0; i < fo; ++i) W(i, j) = draw();
  };
  // sd·N(0, 1) in that order: the normals in one batch (rng_normal_fill: the same values as one
  // rng_normal after another, its transforms in a separate pass), then scaled.
  auto fill_normal = [&](double sd) {
    rng_normal_fill(rng, W.data(), W.size());
    W *= sd;
  };
  const double g = s.gain;
  switch (s.kind) {
    case Init::glorot_standard: {
      const double r = g / std::sqrt(static_cast<double>(fi));
      fill([&] { return rng_uniform(rng, -r, r); });
      break;
    }
    case Init::glorot_uniform: {
      const double r = g * std::sqrt(6.0 / static_cast<double>(fi + fo));
      fill([&] { return rng_uniform(rng, -r, r); });
      break;
    }
    case Init::glorot_normal: {
      const double sd = g * std::sqrt(2.0 / static_cast<double>(fi + fo));
      fill_normal(sd);
      break;
    }
    case Init::he_normal: {
      const double sd = g * std::sqrt(2.0 / fan);
      fill_normal(sd);
      break;
    }
    case Init::he_uniform: {
      const double r = g * std::sqrt(6.0 / fan);
      fill([&] { return rng_uniform(rng, -r, r); });
      break;
    }
    case Init::lecun_normal: {
      const double sd = g * std::sqrt(1.0 / fan);
      fill_normal(sd);
      break;
    }
    case Init::lecun_uniform: {
      const double r = g * std::sqrt(3.0 / fan);
      fill([&] { return rng_uniform(rng, -r, r); });
      break;
    }
    case Init::orthogonal:
      fill_orthogonal(W, rng);
      W *= g;
      break;
    case Init::gaussian:
    case Init::uniform: {
      const double var = entry_variance(s, fi, fo);
      if (s.kind == Init::gaussian) {
        const double sd = std::sqrt(var);
        fill_normal(sd);
      } else {
        const double r = g * s.scale;
        fill([&] { return rng_uniform(rng, -r, r); });
      }
      break;
    }
    case Init::sparse: {
      // Each row: nonzero_per_row distinct columns (partial Fisher–Yates), N(0, std²)·gain entries.
      W.setZero();
      const double sd = g * (std::isnan(s.std) ? 1.0 : s.std);
      const Index k = std::min<Index>(s.nonzero_per_row, fi);
      std::vector<Index> cols(static_cast<size_t>(fi));
      for (Index i = 0; i < fo; ++i) {
        for (Index j = 0; j < fi; ++j) cols[static_cast<size_t>(j)] = j;
        for (Index j = 0; j < k; ++j) {
          const auto pick = j + static_cast<Index>(rng_below(rng, static_cast<uint64_t>(fi - j)));
          std::swap(cols[static_cast<size_t>(j)], cols[static_cast<size_t>(pick)]);
          W(i, cols[static_cast<size_t>(j)]) = sd * rng_normal(rng);
        }
      }
      break;
    }
    case Init::identity:
      W = g * Eigen::MatrixXd::Identity(fo, fi);
      break;
    case Init::count:
      throw std::logic_error("unreachable");
  }
  if (!std::isnan(s.spectral_radius)) {
    if (fo != fi) throw UsageError("spectral_radius rescaling needs a square matrix");
    const double rho = spectral_radius_of(W);
    if (rho > 0) W *= s.spectral_radius / rho;
  }
  if (!std::isnan(s.spectral_norm)) {
    Eigen::JacobiSVD<Eigen::MatrixXd> svd(W);
    const double smax = svd.singularValues()(0);
    if (smax > 0) W *= s.spectral_norm / smax;
  }
  Wt = W.cast<T>();
}

template <class T>
void init_bias(const BiasSpec& s, Vec<T>& b, Rng& rng) {
  if (s.kind == BiasKind::constant) {
    b.setConstant(static_cast<T>(s.value));
    return;
  }
  const double sd = std::sqrt(s.sigma_b2);
  for (Index i = 0; i < b.size(); ++i) b(i) = static_cast<T>(sd * rng_normal(rng));
}

template void init_weights<float>(const InitSpec&, Mat<float>&, Rng&);
template void init_weights<double>(const InitSpec&, Mat<double>&, Rng&);
template void init_bias<float>(const BiasSpec&, Vec<float>&, Rng&);
template void init_bias<double>(const BiasSpec&, Vec<double>&, Rng&);

}  // namespace gl
