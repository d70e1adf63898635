// Mean-field theory of a residual MLP at initialization (Yang & Schoenholz 2017; the blocks of He
// et al. 2016's pre-activation ResNet): the stream's mean square q_l and its backward factor per
// block, and each branch layer's own q and χ, by the quadrature of theory.h; and the large-batch
// gradient growth of a plain BatchNorm net (Yang et al. 2019), at the end.
//
// The net: an input layer gives the stream h_1 (width n, mean square q_1 = σ_w,in² q_x +
// σ_b,in²), then L blocks of k = 1 or 2 weight layers, all n × n, W ~ N(0, σ_w²/n), b ~ N(0, σ_b²),
// in the "full residual" pre-activation form with branch scale α:
//   k = 1:  z_l = W_l φ(h_l) + b_l,                             h_{l+1} = h_l + α z_l
//   k = 2:  z_{l,1} = W_{l,1} φ(h_l) + b_{l,1},
//           z_{l,2} = W_{l,2} φ(z_{l,1}) + b_{l,2},             h_{l+1} = h_l + α z_{l,2}
// Wide limit (entries of h_l, z_{l,j} Gaussian, mean 0): with V_j(q) = σ_w,j² E[φ(√q z)²] + σ_b,j²
// and μ(q) = E[φ′(√q z)²] (z ~ N(0, 1)),
//   k = 1:  q_{l+1} = q_l + α² V(q_l),
//           E‖∂ℓ/∂h_l‖² = E‖∂ℓ/∂h_{l+1}‖² (1 + α² σ_w² μ(q_l));
//   k = 2:  p_l = V_1(q_l) (mean square of z_{l,1}),  q_{l+1} = q_l + α² V_2(p_l),
//           E‖∂ℓ/∂h_l‖² = E‖∂ℓ/∂h_{l+1}‖² (1 + α² σ_w,1² μ(q_l) σ_w,2² μ(p_l)).
// The forward cross term 2 E[h_l · α z] is 0 because the block's W and b have mean 0 and are
// independent of h_l. The backward, with g = ∂ℓ/∂h_{l+1} and D = diag φ′:
//   ∂ℓ/∂h_l = g + α D(h_l) W_1ᵀ D(z_1) W_2ᵀ g   (k = 1: g + α D(h_l) W_lᵀ g).
// Its cross term 2α E[gᵀ D W_1ᵀ D W_2ᵀ g] is 0 and its square factorizes under the gradient
// independence assumption of these papers (the Wᵀ of the backward treated as independent of the
// forward's W and of g): W_2ᵀg has i.i.d. entries of variance σ_w,2²‖g‖²/n, independent of the
// mask D(z_1), whose mean square over the n units concentrates on μ(p) (the units of z_1 are
// i.i.d. N(0, p) in the limit), so E‖D(z_1) W_2ᵀ g‖² = σ_w,2² μ(p) ‖g‖²; then the same through
// D(h_l) W_1ᵀ with μ(q). Each mask meets a fresh Wᵀ, so only each mask's own mean enters, never a
// joint moment of φ′(h_l) and φ′(z_1) (which are not independent). tests/test_theory_residual.cpp
// checks this against a width-2000 net: using μ(q) or μ(p) twice is off by 20–30% there.
//
// Accuracy: every expectation is within theory.h's bound (1e-10 relative; ≤ 1.2e-14 measured),
// so q_l and the growth over L blocks are within ~L·1e-10 relative of the exact recursion; the
// closed forms of tests/test_theory_residual.cpp are met to 1e-12 over 1000 blocks. q = +inf once
// the stream overflows; the factors are then their q → ∞ limits.
//
// Not for the "reduced" form h + α φ(W h): its mask depends on the block's own W, and the
// recursion does not hold there.
#pragma once

#include <vector>

#include "harness/nn/activations.h"

namespace gl {

// sigma_w2, sigma_b2: one value for every branch layer, or k·blocks values, branch layer j of
// block l at [(l−1)k + j−1].
struct ResidualTheoryInput {
  ActivationSpec act;
  int k = 1;       // weight layers per block: 1 or 2
  int blocks = 1;  // L ≥ 1
  double alpha = 1.0;
  std::vector<double> sigma_w2{1.0};
  std::vector<double> sigma_b2{0.0};
  double q1 = 1.0;  // mean square of h_1, the stream after the input layer
};

struct TheoryResidual {
  std::vector<double> q;  // q[l-1] = q_l, mean square of h_l, l = 1..L+1
  std::vector<double> factor;  // factor[l-1] = E‖∂ℓ/∂h_l‖² / E‖∂ℓ/∂h_{l+1}‖², l = 1..L
  // Branch layer j of block l at [(l−1)k + j−1]: branch_q = mean square of z_{l,j} (before α);
  // branch_chi = E‖∂ℓ/∂z_{l,j}‖² / E‖∂ℓ/∂z_{l,j+1}‖² as in a plain net (σ_w,j+1² μ(q of z_{l,j})),
  // and for the last layer of the block E‖∂ℓ/∂z_{l,k}‖² / E‖∂ℓ/∂h_{l+1}‖² = α².
  std::vector<double> branch_q;
  std::vector<double> branch_chi;
};

// Throws std::invalid_argument for maxout, k ∉ {1, 2}, blocks < 1, sigma sizes other than 1 or
// k·blocks, and negative or non-finite α, σ², q1.
TheoryResidual theory_residual(const ResidualTheoryInput& in);

// E‖∂ℓ/∂h_1‖² / E‖∂ℓ/∂h_{L+1}‖²: the product of the factors (+inf on overflow).
double theory_residual_growth(const TheoryResidual& t);

// ---- BatchNorm, large batch (Yang et al. 2019) ----

// The per-layer growth of E‖δ‖² at initialization in a plain (no skip) net of Linear → BN → φ
// layers, z_l = W_l x_{l−1}, y_l = BN(z_l) (γ = 1, β = 0, ε ≪ the batch variance), x_l = φ(y_l),
// in the wide, large-batch limit:
//   E‖∂ℓ/∂z_l‖² / E‖∂ℓ/∂z_{l+1}‖² = E[φ′(u)²] / Var[φ(u)],  u ~ N(0, 1),
// for every σ_w² and from the second layer on. Per unit, BN's backward is (1/σ̂) P g with σ̂² the
// unit's batch variance and P the projection off the batch's constant vector and ẑ: P drops 2 of
// B directions, so P ≈ I for large B. Then ‖∂ℓ/∂x_l‖² = σ_w² ‖∂ℓ/∂z_{l+1}‖² (fresh Wᵀ),
// ‖∂ℓ/∂y_l‖² = E[φ′(u)²] ‖∂ℓ/∂x_l‖² (y_l is standardized over the batch: u), and
// σ̂_l² = σ_w² · (mean over units of the batch variance of x_{l−1} = φ(y_{l−1})) = σ_w² Var[φ(u)]:
// σ_w² cancels. ReLU: (1/2)/(1/2 − 1/(2π)) = π/(π − 1) ≈ 1.467; identity: 1; tanh ≈ 1.18.
// Finite batches add O(1/B) (tests/test_theory_residual.cpp: ~1% above at B = 128). +inf where
// Var[φ(u)] = 0.
double theory_batchnorm_rate(const ActivationSpec& f);

}  // namespace gl
