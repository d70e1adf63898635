"""The input-output Jacobian spectrum against depth (summary.json jac_io) with the
free-probability prediction of dynamical isometry (Pennington et al. 2017)."""

import math

import matplotlib.pyplot as plt

from gradlab.results import first_step_rows, gradlab_theory
from gradlab.plot.colors import group_color
from gradlab.plot.common import depth_series, draw_depth_group, finish_depth_figure, log_axis, log_span, theory_chis


def jacobian_io_of(exp, run):
    j = exp.run_json(run, "summary.json").get("jac_io")
    return j if isinstance(j, dict) else None


def jacobian_predictions(exp, layers, rows, run, theory):
    """(m1, var/(m1^2 L)) predicted for a run: m1 = prod_{l=1}^{L} chi_l from its theory columns
    (assumes layer 1 and the output layer have the same sigma_w^2), and the mean over layers of
    mu_2/mu_1^2 - 1 - s_1, with mu_k = E[phi'(sqrt(q_l) z)^(2k)] and s_1 from `gradlab theory`
    (`theory`: that run's entry). Either may be None."""
    depth = exp.run_depth(run)
    chi = theory_chis(exp, layers, rows)
    if depth is None or depth < 1:
        return None, None
    m1 = math.exp(sum(math.log(chi[l]) for l in range(1, depth + 1))) \
        if all(l in chi for l in range(1, depth + 1)) else None
    s1 = theory.get("weight_s1") if theory.get("applies") else None
    mu = {e.get("layer"): (e.get("mu1"), e.get("mu2")) for e in theory.get("layers") or []
          if isinstance(e, dict)}
    if not isinstance(s1, (int, float)):
        return m1, None
    total = 0.0
    for l in range(1, depth + 1):
        mu1, mu2 = mu.get(l, (None, None))
        if not (isinstance(mu1, (int, float)) and isinstance(mu2, (int, float))) or mu1 <= 0:
            return m1, None
        total += mu2 / mu1 ** 2 - 1 - s1
    return m1, total / depth


SPECTRUM_LABELS = [("m₁ = tr(JJᵀ)/n  (mean squared singular value)",
                    "Mean squared singular value of J = ∂a_L/∂x"),
                   ("var/(m₁² L) = (m₂ − m₁²)/(m₁² L)",
                    "Spread of the squared singular values, per layer")]


def fig_jacobian_spectrum(ctx):
    exp = ctx.exp
    have = [run for run in exp.run_order if jacobian_io_of(exp, run)]
    if not have:
        return None
    layers = exp.table("layers")
    first = first_step_rows(layers) if layers is not None and layers.has("layer") else {}
    m1_of, var_of, pred = {}, {}, {}
    theory = gradlab_theory(exp) if layers is not None else {}
    for run in have:
        j = jacobian_io_of(exp, run)
        m1, m2, depth = j.get("m1"), j.get("m2"), exp.run_depth(run)
        if not all(isinstance(v, (int, float)) for v in (m1, m2)) or not depth:
            continue
        m1_of[run] = float(m1)
        if m1 > 0 and math.isfinite(m1) and math.isfinite(m2):
            var_of[run] = (m2 - m1 * m1) / (m1 * m1 * depth)
        if layers is not None:
            pred[run] = jacobian_predictions(exp, layers, first.get(run, []), run,
                                             theory.get(run, {}))
    keys = [k for k in exp.configs if any(r in m1_of for r in exp.config_runs[k])]
    groups = exp.depth_groups(keys)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    s_m1, s_var, drew_theory = [], [], False
    for label, group in groups.items():
        color = group_color(exp, ctx.colors, label)
        for ax, values, index, log, store in ((ax1, m1_of, 0, True, s_m1), (ax2, var_of, 1, False, s_var)):
            s = depth_series(exp, group, values.get, log)
            if s is None:
                continue
            draw_depth_group(ax, exp, ctx.colors, label, group, s)
            store.append(s)
            t = depth_series(exp, group, lambda run: (pred.get(run) or (None, None))[index], log)
            if t is not None and t.state == "ok":
                ax.plot(t.x, t.y, color=color, linestyle="--", linewidth=1.2, zorder=3)
                drew_theory = True
    if not s_m1:
        plt.close(fig)
        return None
    if log_axis(ax1, s_m1):
        log_span(ax1)
    ax1.axhline(1.0, color="0.5", linewidth=0.8, zorder=1)
    ax2.axhline(0.0, color="0.5", linewidth=0.8, zorder=1)
    finish_depth_figure(fig, (ax1, ax2), SPECTRUM_LABELS, [x for s in s_m1 + s_var for x in s.x],
                        "free-probability prediction" if drew_theory else None,
                        "Input–output Jacobian spectrum at initialization (dynamical isometry)")
    caption = ("The squared singular values of the input–output Jacobian J = ∂a_L/∂x of the hidden "
               "stack (summary.json jac_io, probe.jacobian; mean over probe.jacobian_samples "
               "examples), against the depth L. Left: their mean m₁; a line that stays at 1 keeps "
               "the mean gradient norm (criticality). Right: their variance relative to m₁², per "
               "layer; dynamical isometry (Pennington et al. 2017) is a value near 0 — every "
               "singular value near √m₁. Geometric (left) or arithmetic (right) mean over repeats, "
               "band min–max.")
    if drew_theory:
        caption += (" Dashed: the mean-field / free-probability prediction: m₁ = ∏_l χ_l from the "
                    "theory columns of layers.csv (layer 1 and the output layer taken to have equal "
                    "σ_w²) and var/(m₁² L) = mean over l of μ₂/μ₁² − 1 − s₁ with μ_k = "
                    "E[φ′(√q_l z)^2k], s₁ = −1 for i.i.d. and 0 for orthogonal W (Pennington et al. "
                    "2017); μ_k and s₁ from `gradlab theory --json`.")
    return ctx.save(fig, "jacobian_spectrum", "Input–output Jacobian spectrum", caption)
