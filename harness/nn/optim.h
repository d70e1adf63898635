// The optimizer: minibatch SGD with momentum in PyTorch's convention, on every parameter of an MLP
// (W_l, b_l and, for prelu, the learned negative slope of each hidden layer):
//   v ← μ·v + s·g,   θ ← θ − lr·v
// s is the global-norm clipping factor (clip_scale in experiments/run.h; 1 without clipping).
// With μ = 0 this is Glorot's plain SGD, θ ← θ − lr·g. Nothing allocates once the buffers exist.
#pragma once

#include "harness/nn/mlp.h"

namespace gl {

// Momentum buffers: the shapes of net, every value 0 (slopes included). Not needed for μ = 0:
// mlp_sgd_update then never reads velocity (an empty Mlp will do).
template <class T>
Mlp<T> mlp_velocity_make(const Mlp<T>& net);

// Global L2 norm of all parameter gradients: sqrt(Σ_l ‖∂L/∂W_l‖²_F + ‖∂L/∂b_l‖² + (∂L/∂slope_l)²),
// each term a stable (scaled) norm accumulated in double.
template <class T>
double mlp_grads_norm(const MlpGrads<T>& g);

// One SGD step in place. W and b are updated in T (lr, μ and s rounded to T); the prelu slopes are
// doubles and updated in double (their gradient is 0 for other activations, so they stay put).
template <class T>
void mlp_sgd_update(Mlp<T>& net, Mlp<T>& velocity, const MlpGrads<T>& g, double lr, double momentum,
                    double scale);

}  // namespace gl
