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

// The i.i.d. kinds: fo × fi entries into out in column-major order (the documented fill order, so
// others can replay it), each drawn and scaled in double, then rounded to T once — the same
// values for both precisions. False (nothing drawn) for the kinds whose entries are not i.i.d.
template <class T>
static bool draw_iid(const InitSpec& s, Index fo, Index fi, T* out, Rng& rng) {
  const int64_t n = static_cast<int64_t>(fo) * fi;
  const double g = s.gain, fan = fan_of(s, fi, fo);
  const auto uniform = [&](double r) { rng_uniform_fill(rng, out, n, -r, r); };
  const auto normal = [&](double sd) { rng_normal_fill(rng, out, n, sd); };  // sd·N(0, 1)
  switch (s.kind) {
    case Init::glorot_standard:
      uniform(g / std::sqrt(static_cast<double>(fi)));
      return true;
    case Init::glorot_uniform:
      uniform(g * std::sqrt(6.0 / static_cast<double>(fi + fo)));
      return true;
    case Init::glorot_normal:
      normal(g * std::sqrt(2.0 / static_cast<double>(fi + fo)));
      return true;
    case Init::he_normal:
      normal(g * std::sqrt(2.0 / fan));
      return true;
    case Init::he_uniform:
      uniform(g * std::sqrt(6.0 / fan));
      return true;
    case Init::lecun_normal:
      normal(g * std::sqrt(1.0 / fan));
      return true;
    case Init::lecun_uniform:
      uniform(g * std::sqrt(3.0 / fan));
      return true;
    case Init::gaussian:
      normal(std::sqrt(entry_variance(s, fi, fo)));
      return true;
    case Init::uniform:
      uniform(g * s.scale);
      return true;
    case Init::orthogonal:
    case Init::sparse:
    case Init::identity:
      return false;
    case Init::count:
      break;
  }
  throw std::logic_error("unreachable");
}

template <class T>
void init_weights(const InitSpec& s, Mat<T>& Wt, Rng& rng) {
  const Index fo = Wt.rows(), fi = Wt.cols();
  const bool rescaled = !std::isnan(s.spectral_radius) || !std::isnan(s.spectral_norm);
  if (!rescaled && draw_iid(s, fo, fi, Wt.data(), rng)) return;  // straight into Wt
  Eigen::MatrixXd W(fo, fi);  // generate in double: the same draws for both precisions
  const double g = s.gain;
  if (!draw_iid(s, fo, fi, W.data(), rng)) {
    switch (s.kind) {
      case Init::orthogonal:
        fill_orthogonal(W, rng);
        W *= g;
        break;
      case Init::sparse: {
        // Each row: nonzero_per_row distinct columns (partial Fisher–Yates), N(0, std²)·gain
        // entries.
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
      default:
        throw std::logic_error("unreachable");
    }
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
