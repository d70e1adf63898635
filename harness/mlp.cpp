#include "harness/mlp.h"

namespace gl {

template <class T>
int Mlp<T>::pieces(size_t l) const {
  return (act.kind == Activation::maxout && l + 1 < layers.size()) ? act.pieces : 1;
}

template <class T>
Index Mlp<T>::fan_out(size_t l) const {
  return layers[l].W.rows() / pieces(l);
}

template <class T>
Mlp<T> mlp_init(const MlpShape& shape, const ActivationSpec& act, const InitSpec& init,
                const InitSpec& output_init, const BiasSpec& bias, Rng& rng) {
  Mlp<T> net;
  net.act = act;
  const size_t L = shape.hidden.size();
  net.layers.resize(L + 1);
  Index fan_in = shape.inputs;
  for (size_t l = 0; l <= L; ++l) {
    const Index fan_out = l < L ? shape.hidden[l] : shape.outputs;
    const Index rows = fan_out * net.pieces(l);
    Layer<T>& layer = net.layers[l];
    layer.slope = act.slope;
    layer.W.resize(rows, fan_in);
    layer.b.resize(rows);
    init_weights(l < L ? init : output_init, layer.W, rng);
    init_bias(bias, layer.b, rng);
    fan_in = fan_out;
  }
  return net;
}

// ---- forward ----

template <class T>
void mlp_forward(const Mlp<T>& net, const Mat<T>& x, MlpCache<T>& c, Rng* train_rng) {
  const size_t n = net.layers.size();  // L + 1
  const Index B = x.cols();
  c.a.resize(n + 1);
  c.z.resize(n);
  c.dphi.resize(n - 1);
  c.win.resize(n - 1);
  c.a[0] = x;
  for (size_t l = 0; l < n; ++l) {
    const Layer<T>& layer = net.layers[l];
    const int k = net.pieces(l);
    if (k == 1) {
      c.z[l].resize(layer.W.rows(), B);
      c.z[l].noalias() = layer.W * c.a[l];
      c.z[l].colwise() += layer.b;
    } else {
      // maxout: z(j, i) = max_p zk(p·fo + j, i); ties go to the lowest piece.
      const Index fo = layer.W.rows() / k;
      c.zk.resize(layer.W.rows(), B);
      c.zk.noalias() = layer.W * c.a[l];
      c.zk.colwise() += layer.b;
      c.z[l] = c.zk.topRows(fo);
      c.win[l].setZero(fo, B);
      for (int p = 1; p < k; ++p)
        for (Index i = 0; i < B; ++i)
          for (Index j = 0; j < fo; ++j)
            if (c.zk(p * fo + j, i) > c.z[l](j, i)) {
              c.z[l](j, i) = c.zk(p * fo + j, i);
              c.win[l](j, i) = p;
            }
    }
    if (l + 1 < n) {
      // a_l = φ(z_l), dphi_l = φ'(z_l) (fan_out, B); prelu: this layer's learned slope
      ActivationSpec f = net.act;
      if (f.kind == Activation::prelu) f.slope = layer.slope;
      c.a[l + 1].resize(c.z[l].rows(), B);
      c.dphi[l].resize(c.z[l].rows(), B);
      activation_apply<T>(f, c.z[l], c.a[l + 1], c.dphi[l]);
      if (train_rng && net.act.kind == Activation::rrelu) {
        const bool paper = net.act.convention == RreluConvention::paper;
        for (Index e = 0; e < c.z[l].size(); ++e) {
          if (c.z[l](e) > T(0)) continue;
          const double u =
              paper ? 1.0 / rng_uniform(*train_rng, 1.0 / net.act.upper, 1.0 / net.act.lower)
                    : rng_uniform(*train_rng, net.act.lower, net.act.upper);
          c.dphi[l](e) = static_cast<T>(u);
          c.a[l + 1](e) = static_cast<T>(u) * c.z[l](e);
        }
      }
    } else {
      c.a[l + 1] = c.z[l];  // affine output
    }
  }
}

// ---- backward ----
constexpr Index small_batch = 16;  // up to this batch, Wᵀδ is computed column by column of W

// δ_{L+1} = ∂ℓ_i/∂ŷ;  δ_l = φ'(z_l) ⊙ W_{l+1}ᵀ δ_{l+1};  ∂L/∂W_l = (1/B) Σ_i δ_l,i a_{l-1,i}ᵀ

template <class T>
void mlp_backward(const Mlp<T>& net, const MlpCache<T>& c, const Mat<T>& dyhat, MlpGrads<T>& g) {
  const size_t n = net.layers.size();
  const Index B = dyhat.cols();
  const T inv_b = T(1) / static_cast<T>(B);
  g.dW.resize(n);
  g.db.resize(n);
  g.delta.resize(n);
  g.delta[n - 1] = dyhat;
  g.dslope.assign(n, 0.0);
  for (size_t l = n; l-- > 0;) {
    const Layer<T>& layer = net.layers[l];
    const int k = net.pieces(l);
    const Mat<T>* d = &g.delta[l];
    if (k > 1) {  // scatter δ to the winning pieces
      const Index fo = layer.W.rows() / k;
      g.dk.setZero(layer.W.rows(), B);
      for (Index i = 0; i < B; ++i)
        for (Index j = 0; j < fo; ++j) g.dk(c.win[l](j, i) * fo + j, i) = g.delta[l](j, i);
      d = &g.dk;
    }
    // dW_l = (1/B) δ_l a_{l-1}ᵀ (rows, fan_in): Eigen applies the 1/B as the GEMM's alpha, in the
    // same pass (for B ≤ the GEMM's depth block the bits equal a product followed by *= 1/B).
    g.dW[l].resize(layer.W.rows(), layer.W.cols());
    g.dW[l].noalias() = (inv_b * (*d)) * c.a[l].transpose();
    g.db[l] = d->rowwise().sum() * inv_b;
    if (l == 0) break;
    // back = W_lᵀ δ_l (fan_in, B). For a small batch, B dot products per column of W (read once,
    // in storage order) beat a GEMM, which first copies (packs) all of W: 1.5x on 1000x1024, B
    // = 10.
    g.back.resize(layer.W.cols(), B);
    if (B <= small_batch)
      for (Index col = 0; col < layer.W.cols(); ++col)
        g.back.row(col).noalias() = layer.W.col(col).transpose() * (*d);
    else
      g.back.noalias() = layer.W.transpose() * (*d);
    g.delta[l - 1].resize(layer.W.cols(), B);
    g.delta[l - 1] = c.dphi[l - 1].cwiseProduct(g.back);
    if (net.act.kind == Activation::prelu) {
      // a = slope·z for z ≤ 0: ∂L/∂slope = (1/B) Σ_{i,j} [z ≤ 0] z · ∂ℓ_i/∂a
      const Mat<T>& z = c.z[l - 1];
      double s = 0;
      for (Index e = 0; e < z.size(); ++e)
        if (z(e) <= T(0)) s += static_cast<double>(z(e)) * static_cast<double>(g.back(e));
      g.dslope[l - 1] = s / static_cast<double>(B);
    }
  }
}

// ---- Jacobians (probe.jacobian) ----

template <class T>
void mlp_layer_jacobian(const Mlp<T>& net, const MlpCache<T>& c, size_t l, Index i,
                        Mat<double>& J) {
  const Mat<T>& W = net.layers[l].W;
  const Index fo = net.fan_out(l);
  const bool hidden = l + 1 < net.layers.size();
  J.resize(fo, W.cols());
  for (Index j = 0; j < fo; ++j) {
    const Index row = net.pieces(l) > 1 ? c.win[l](j, i) * fo + j : j;
    const double d = hidden ? static_cast<double>(c.dphi[l](j, i)) : 1.0;
    J.row(j) = d * W.row(row).template cast<double>();
  }
}

template <class T>
void mlp_io_jacobian(const Mlp<T>& net, const MlpCache<T>& c, Index i, Mat<double>& J) {
  Mat<double> Jl, acc;
  mlp_layer_jacobian(net, c, 0, i, J);
  for (size_t l = 1; l + 1 < net.layers.size(); ++l) {
    mlp_layer_jacobian(net, c, l, i, Jl);
    acc.noalias() = Jl * J;
    J.swap(acc);
  }
}

#define GL_MLP_INST(T)                                                                           \
  template struct Mlp<T>;                                                                        \
  template Mlp<T> mlp_init<T>(const MlpShape&, const ActivationSpec&, const InitSpec&,           \
                              const InitSpec&, const BiasSpec&, Rng&);                           \
  template void mlp_forward<T>(const Mlp<T>&, const Mat<T>&, MlpCache<T>&, Rng*);                \
  template void mlp_backward<T>(const Mlp<T>&, const MlpCache<T>&, const Mat<T>&, MlpGrads<T>&); \
  template void mlp_layer_jacobian<T>(const Mlp<T>&, const MlpCache<T>&, size_t, Index,          \
                                      Mat<double>&);                                             \
  template void mlp_io_jacobian<T>(const Mlp<T>&, const MlpCache<T>&, Index, Mat<double>&);
GL_MLP_INST(float)
GL_MLP_INST(double)

}  // namespace gl
