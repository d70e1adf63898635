// Residual and norm nets (mlp.h, "residual blocks and normalization layers"): their forward and
// backward, on one thread, and the pieces of mlp.cpp they share. mlp_forward / mlp_backward call
// these for a net with blocks; other code calls those.
#pragma once

#include "harness/nn/mlp.h"

namespace gl {

// running: the net whose BatchNorm running statistics a training step updates (nullptr: none).
template <class T>
void mlp_blocks_forward(const Mlp<T>& net, Mlp<T>* running, const Mat<T>& x, MlpCache<T>& c,
                        Rng* train_rng, NormUse use);
template <class T>
void mlp_blocks_backward(const Mlp<T>& net, const MlpCache<T>& c, const Mat<T>& dyhat,
                         MlpGrads<T>& g, bool store_dw);

// rrelu in training: a random negative slope per (unit, example) where z ≤ 0, in storage order,
// written into a = φ(z) and dphi = φ'(z).
template <class T>
void rrelu_draw(const ActivationSpec& f, const Mat<T>& z, Mat<T>& a, Mat<T>& dphi, Rng& rng);
// prelu: ∂L/∂slope = (1/B) Σ [z ≤ 0] z · ga, ga = ∂ℓ/∂φ(z) per example (at least z's rows).
template <class T>
double prelu_slope_grad(const Mat<T>& z, const Mat<T>& ga);

// The hidden layers whose activation holds a norm layer (and, residual, whose W reads φ(·)):
// plain l = 0..L−1, residual l = 1..L−1 (0-based layer indices).
template <class T>
bool mlp_has_act(const Mlp<T>& net, size_t l);
// The value s that layer l's activation reads (φ([norm] s)): plain z_l; residual the stream value
// its block reads (first layer of a block) or the branch's previous z.
template <class T>
const Mat<T>& mlp_act_input(const Mlp<T>& net, const MlpCache<T>& c, size_t l);
// Residual: the stream value index b (c.h[b]) that layer l reads, or -1 (not a block's first
// layer); the input projection gives 0 (its output h_1) and the output layer the last one.
template <class T>
int mlp_stream_of(const Mlp<T>& net, size_t l);

}  // namespace gl
