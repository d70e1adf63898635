// The optimizer: minibatch SGD with momentum in PyTorch's convention, on every parameter of an MLP
// (W_l, b_l, for prelu the learned negative slope of each hidden layer, and for residual / norm
// nets γ, β and a learned α) or of an RNN chain
// (W, U, b, V, c and the prelu slope):
//   v ← μ·v + s·g,   θ ← θ − lr·v
// s is the global-norm clipping factor (clip_scale in experiments/run.h; 1 without clipping).
// With μ = 0 this is Glorot's plain SGD, θ ← θ − lr·g. Nothing allocates once the buffers exist.
#pragma once

#include "harness/nn/mlp.h"
#include "harness/nn/rnn.h"

namespace gl {

// Momentum buffers: the shapes of net, every value 0 (slopes included). Not needed for μ = 0:
// mlp_sgd_update then never reads velocity (an empty Mlp will do).
// The update of one parameter tensor (or the prelu slope, a double): v ← μ·v + g, θ ← θ − lr·v,
// g already scaled by the clipping factor (an Eigen expression: evaluated in place, no
// temporaries). Both models' updates are made of it.
template <class P, class G, class S>
inline void momentum_step(P& p, P& v, const G& g, S lr, S mu) {
  v = mu * v + g;
  p -= lr * v;
}

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

// Residual / norm nets: Σ_l ‖∂L/∂γ_l‖² + ‖∂L/∂β_l‖² + (∂L/∂α_l)² (0 for grads without them), a
// term of mlp_grads_norm; and their step, as mlp_sgd_update's for b (γ, β in T, α in double; α
// moves only where it is learned: its gradient is 0 elsewhere). mlp_sgd_update calls it.
template <class T>
double mlp_blocks_grads_sumsq(const MlpGrads<T>& g);
template <class T>
void mlp_blocks_update(Mlp<T>& net, Mlp<T>& velocity, const MlpGrads<T>& g, double lr,
                       double momentum, double scale);

// Momentum buffers of a chain: the shapes of net, every value 0.
template <class T>
Rnn<T> rnn_velocity_make(const Rnn<T>& net);

// One SGD step of a chain in place, g already clipped (rnn_grads_scale): every parameter through
// velocity, μ = 0 included (v = g). W, U, b, V, c in T; the prelu slope in double.
template <class T>
void rnn_sgd_update(Rnn<T>& net, Rnn<T>& velocity, const RnnGrads<T>& g, double lr,
                    double momentum);

}  // namespace gl
