#include "harness/nn/optim.h"

#include <cmath>

#include "harness/measure/metrics.h"

namespace gl {

template <class T>
Mlp<T> mlp_velocity_make(const Mlp<T>& net) {
  Mlp<T> v = net;
  for (Layer<T>& layer : v.layers) {
    layer.W.setZero();
    layer.b.setZero();
    layer.slope = 0;
    layer.alpha = 0;
    layer.norm.gamma.setZero();
    layer.norm.beta.setZero();
  }
  return v;
}

template <class T>
double mlp_grads_norm(const MlpGrads<T>& g) {
  double s = 0;
  for (size_t l = 0; l < g.dW.size(); ++l) {
    const double a = stable_norm(g.dW[l].data(), g.dW[l].size());
    const double b = stable_norm(g.db[l].data(), g.db[l].size());
    s += a * a + b * b + g.dslope[l] * g.dslope[l];
  }
  return std::sqrt(s + mlp_blocks_grads_sumsq(g));
}

template <class T>
void mlp_sgd_update(Mlp<T>& net, Mlp<T>& velocity, const MlpGrads<T>& g, double lr, double momentum,
                    double scale) {
  const T lr_t = static_cast<T>(lr), mu = static_cast<T>(momentum), s = static_cast<T>(scale);
  for (size_t l = 0; l < net.layers.size(); ++l) {
    Layer<T>& p = net.layers[l];
    if (momentum == 0.0) {  // no velocity buffers: θ ← θ − lr·(s·g), the same bits as v = s·g
      p.W -= lr_t * (s * g.dW[l]);
      p.b -= lr_t * (s * g.db[l]);
      p.slope -= lr * (scale * g.dslope[l]);
      continue;
    }
    Layer<T>& v = velocity.layers[l];
    momentum_step(p.W, v.W, s * g.dW[l], lr_t, mu);
    momentum_step(p.b, v.b, s * g.db[l], lr_t, mu);
    momentum_step(p.slope, v.slope, scale * g.dslope[l], lr, momentum);  // prelu (0 otherwise)
  }
  if (!g.dnorm.empty()) mlp_blocks_update(net, velocity, g, lr, momentum, scale);
}

template <class T>
double mlp_blocks_grads_sumsq(const MlpGrads<T>& g) {
  double s = 0;
  for (size_t l = 0; l < g.dnorm.size(); ++l) {
    const double a = stable_norm(g.dnorm[l].dgamma.data(), g.dnorm[l].dgamma.size());
    const double b = stable_norm(g.dnorm[l].dbeta.data(), g.dnorm[l].dbeta.size());
    s += a * a + b * b + g.dalpha[l] * g.dalpha[l];
  }
  return s;
}

template <class T>
void mlp_blocks_update(Mlp<T>& net, Mlp<T>& velocity, const MlpGrads<T>& g, double lr,
                       double momentum, double scale) {
  const T lr_t = static_cast<T>(lr), mu = static_cast<T>(momentum), s = static_cast<T>(scale);
  for (size_t l = 0; l < net.layers.size(); ++l) {
    Layer<T>& p = net.layers[l];
    NormParams<T>& np = p.norm;
    const NormGrads<T>& ng = g.dnorm[l];
    if (momentum == 0.0) {
      if (np.gamma.size() > 0) {
        np.gamma -= lr_t * (s * ng.dgamma);
        np.beta -= lr_t * (s * ng.dbeta);
      }
      p.alpha -= lr * (scale * g.dalpha[l]);
      continue;
    }
    Layer<T>& v = velocity.layers[l];
    if (np.gamma.size() > 0) {
      momentum_step(np.gamma, v.norm.gamma, s * ng.dgamma, lr_t, mu);
      momentum_step(np.beta, v.norm.beta, s * ng.dbeta, lr_t, mu);
    }
    momentum_step(p.alpha, v.alpha, scale * g.dalpha[l], lr, momentum);  // rezero (0 otherwise)
  }
}

template <class T>
Rnn<T> rnn_velocity_make(const Rnn<T>& net) {
  Rnn<T> v = net;
  v.W.setZero();
  v.U.setZero();
  v.b.setZero();
  v.V.setZero();
  v.c.setZero();
  v.slope = 0;
  return v;
}

template <class T>
void rnn_sgd_update(Rnn<T>& net, Rnn<T>& velocity, const RnnGrads<T>& g, double lr,
                    double momentum) {
  const T lr_t = static_cast<T>(lr), mu = static_cast<T>(momentum);
  momentum_step(net.W, velocity.W, g.dW, lr_t, mu);
  momentum_step(net.U, velocity.U, g.dU, lr_t, mu);
  momentum_step(net.b, velocity.b, g.db, lr_t, mu);
  momentum_step(net.V, velocity.V, g.dV, lr_t, mu);
  momentum_step(net.c, velocity.c, g.dc, lr_t, mu);
  momentum_step(net.slope, velocity.slope, g.dslope, lr, momentum);  // prelu (0 otherwise)
}

#define GL_OPTIM_INST(T)                                                                         \
  template double mlp_blocks_grads_sumsq<T>(const MlpGrads<T>&);                                 \
  template void mlp_blocks_update<T>(Mlp<T>&, Mlp<T>&, const MlpGrads<T>&, double, double,       \
                                     double);                                                    \
  template Mlp<T> mlp_velocity_make<T>(const Mlp<T>&);                                           \
  template double mlp_grads_norm<T>(const MlpGrads<T>&);                                         \
  template void mlp_sgd_update<T>(Mlp<T>&, Mlp<T>&, const MlpGrads<T>&, double, double, double); \
  template Rnn<T> rnn_velocity_make<T>(const Rnn<T>&);                                           \
  template void rnn_sgd_update<T>(Rnn<T>&, Rnn<T>&, const RnnGrads<T>&, double, double);
GL_OPTIM_INST(float)
GL_OPTIM_INST(double)

}  // namespace gl
