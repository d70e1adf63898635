"""Depth and phase figures: the phase diagram over (σ_w², σ_b²) and the gradient ratio against
depth, each with its mean-field prediction."""

import math
import os
from collections import OrderedDict, defaultdict

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.colors import TwoSlopeNorm
from matplotlib.lines import Line2D

from gradlab.results import finite, first_step_rows, output_layer_of, read_json
from gradlab.plot.colors import group_color
from gradlab.plot.common import depth_series, draw_depth_group, finish_depth_figure, log_axis, log_span, theory_chis


def cell_edges(values):
    v = np.asarray(values, float)
    if len(v) == 1:
        half = 0.5 * abs(v[0]) if v[0] else 0.5
        return np.array([v[0] - half, v[0] + half])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def measured_log_factor(exp):
    t = exp.table("runs")
    if t is None or not t.has_values("per_layer_factor"):
        return {}
    by_config = defaultdict(list)
    for r in t.rows:
        f = t.num(r, "per_layer_factor")
        key = exp.run_config.get(t.cell(r, "run"))
        if key is not None and f is not None:
            by_config[key].append(f)
    result = {}
    for key, values in by_config.items():
        good = [math.log(v) for v in values if finite(v) and v > 0]
        result[key] = sum(good) / len(good) if good else float("nan")
    return result


def theory_log_chi(exp):
    """{config: ln chi_1}: from theory.json (written by `gradlab theory --out`), else from
    theory_delta_factor at the deepest hidden-to-hidden layer at step 0 (where q ~ q*)."""
    by_config = defaultdict(list)
    for entry in read_json(os.path.join(exp.folder, "theory.json")).get("runs") or []:
        chi = entry.get("chi1") if isinstance(entry, dict) else None
        key = exp.run_config.get(str(entry.get("run"))) if isinstance(entry, dict) else None
        if key is not None and isinstance(chi, (int, float)) and chi > 0:
            by_config[key].append(math.log(chi))
    if by_config:
        return {k: sum(v) / len(v) for k, v in by_config.items()}
    t = exp.table("layers")
    if t is None or not t.has_values("theory_delta_factor"):
        return {}
    by_config = defaultdict(list)
    for run, rows in first_step_rows(t).items():
        out = output_layer_of(t, rows)
        if out is None:
            continue
        layer = max(1, out - 2)
        for r in rows:
            chi = t.num(r, "theory_delta_factor")
            if t.num(r, "layer") == layer and finite(chi) and chi > 0:
                by_config[exp.run_config.get(run)].append(math.log(chi))
    return {k: sum(v) / len(v) for k, v in by_config.items()}


def fig_phase_diagram(ctx):
    exp = ctx.exp
    iw, ib = exp.axis_ending("sigma_w2"), exp.axis_ending("sigma_b2")
    if iw is None or ib is None:
        return None
    measured = measured_log_factor(exp)
    if not measured:
        return None
    theory = theory_log_chi(exp)
    others = [i for i in range(len(exp.axes)) if i not in (iw, ib)]
    groups = OrderedDict()
    for key in exp.configs:
        if exp.axis_value(key, iw) is None or exp.axis_value(key, ib) is None:
            continue
        groups.setdefault(tuple(key[i] for i in others), []).append(key)
    if not groups:
        return None
    groups = list(groups.items())[:6]
    # One panel of cells only: a second panel plots each cell's measured factor against chi_1.
    compare = len(groups) == 1 and any(k in theory for k in measured)
    ncols = 2 if compare else min(3, len(groups))
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(11, max(7, 1.5 + 4.6 * ncols)), 0.6 + 4.4 * nrows),
                             squeeze=False)
    if compare:
        fig.subplots_adjust(wspace=0.6)   # room for the heat map's colour bar and its label
    finite_values = [abs(v) for v in measured.values() if math.isfinite(v)]
    vmax = max(finite_values) if finite_values else 1.0
    vmax = vmax if vmax > 0 else 1.0
    norm = TwoSlopeNorm(vmin=-vmax, vcenter=0.0, vmax=vmax)
    drew = set()
    for g, (other, keys) in enumerate(groups):
        ax = axes[g // ncols][g % ncols]
        mesh, styles = draw_phase_panel(exp, ax, keys, iw, ib, measured, theory, norm)
        drew |= styles
        title = ", ".join(f"{exp.axis_short_names()[i]}={v}" for i, v in zip(others, other))
        ax.set_title(title or "measured per-layer factor", fontsize=10)
    if compare:
        draw_phase_comparison(exp, axes[0][1], groups[0][1], iw, ib, measured, theory)
    for g in range(len(groups) + compare, nrows * ncols):
        axes[g // ncols][g % ncols].axis("off")
    cbar = fig.colorbar(mesh, ax=axes[0][0] if compare else axes.ravel().tolist(), shrink=0.9)
    cbar.set_label("ln(per-layer factor), measured\n< 0 vanishing · > 0 exploding")
    handles = []
    if "theory" in drew:
        handles.append(Line2D([], [], color="black", linewidth=2, label="χ₁ = 1 (mean-field theory)"))
    if "measured" in drew:
        handles.append(Line2D([], [], color="0.25", linestyle="--", linewidth=1.5,
                              label="measured factor = 1"))
    if handles:
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.45, 0.0), ncol=2,
                   fontsize=9, frameon=False)
    fig.suptitle("Phase diagram: gradient growth per layer over (σ_w², σ_b²)", fontsize=12)
    caption = ("Colour: the measured per-layer factor of E‖δ‖² at initialization (runs.csv "
               "per_layer_factor, natural log, geometric mean over repeats): blue cells are in the "
               "ordered phase (gradients vanish with depth), red cells in the chaotic phase (they "
               "explode); grey cells have no finite value (n/f: non-finite or zero; —: no value, e.g. "
               "a failed run). −1/ln(factor) is the depth scale ξ_∇ in layers.")
    if "theory" in drew:
        caption += (" Solid black: the edge of chaos χ₁ = 1 from mean-field theory (theory.json's "
                    "chi1, else the theory_delta_factor column at the deepest hidden layer, where q "
                    "has reached its fixed point q*).")
    if "measured" in drew:
        caption += " Dashed: where the measured factor crosses 1."
    if len(exp.configs) and len(groups) > 1:
        caption += " One panel per value of the other grid axes."
    if compare:
        caption += (" Right: every cell's measured per-layer factor against χ₁ at the fixed point q*, "
                    "coloured by σ_b²; on the diagonal the theory holds. The measured factor is a "
                    "geometric mean over layers 1..L−1, which includes the approach of q_l from the "
                    "input's q_1 to q* (ξ_q layers) and, at the critical point (σ_w², σ_b²) = (1, 0), "
                    "the sub-exponential decay of q_l → 0: points there fall below the diagonal.")
    return ctx.save(fig, "phase_diagram", "Phase diagram", caption)


def draw_phase_comparison(exp, ax, keys, iw, ib, measured, theory):
    """Measured per-layer factor against chi_1, one point per cell, coloured by sigma_b^2."""
    points = [(math.exp(theory[k]), math.exp(measured[k]), exp.axis_value(k, ib)) for k in keys
              if k in theory and k in measured and math.isfinite(measured[k])]
    if not points:
        ax.axis("off")
        return
    x, y, c = (np.array(v, float) for v in zip(*points))
    sc = ax.scatter(x, y, c=c, cmap="viridis", s=18, zorder=3)
    lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
    ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, zorder=2, label="measured = χ₁")
    ax.axhline(1.0, color="0.6", linewidth=0.8, zorder=1)
    ax.axvline(1.0, color="0.6", linewidth=0.8, zorder=1)
    if hi / lo > 10:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel("χ₁ = σ_w² E[φ′(√q* z)²] (mean-field theory)")
    ax.set_ylabel("measured per-layer factor of E‖δ‖²")
    ax.set_title("measured factor against χ₁", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    cbar = ax.figure.colorbar(sc, ax=ax, shrink=0.9)
    cbar.set_label("σ_b²")


def draw_phase_panel(exp, ax, keys, iw, ib, measured, theory, norm):
    wv = sorted({exp.axis_value(k, iw) for k in keys})
    bv = sorted({exp.axis_value(k, ib) for k in keys})
    Z = np.full((len(bv), len(wv)), np.nan)
    C = np.full((len(bv), len(wv)), np.nan)
    present = np.zeros(Z.shape, bool)
    for k in keys:
        j, i = wv.index(exp.axis_value(k, iw)), bv.index(exp.axis_value(k, ib))
        Z[i, j] = measured.get(k, np.nan)
        C[i, j] = theory.get(k, np.nan)
        present[i, j] = k in measured
    cmap = plt.cm.RdBu_r.copy()
    cmap.set_bad("0.8")
    mesh = ax.pcolormesh(cell_edges(wv), cell_edges(bv), np.ma.masked_invalid(Z), cmap=cmap, norm=norm)
    if Z.size <= 80:
        for i in range(len(bv)):
            for j in range(len(wv)):
                text = f"{Z[i, j]:.2f}" if np.isfinite(Z[i, j]) else "n/f" if present[i, j] else "—"
                ax.text(wv[j], bv[i], text, ha="center", va="center", fontsize=6.5,
                        color="white" if np.isfinite(Z[i, j]) and abs(Z[i, j]) > 0.6 * norm.vmax else "black")
    styles = set()
    if len(wv) >= 2 and len(bv) >= 2:
        X, Y = np.meshgrid(wv, bv)
        if np.isfinite(C).sum() >= 4 and np.nanmin(C) < 0 < np.nanmax(C):
            ax.contour(X, Y, np.ma.masked_invalid(C), levels=[0.0], colors="black", linewidths=2)
            styles.add("theory")
        if np.isfinite(Z).sum() >= 4 and np.nanmin(Z) < 0 < np.nanmax(Z):
            ax.contour(X, Y, np.ma.masked_invalid(Z), levels=[0.0], colors="0.25",
                       linestyles="--", linewidths=1.5)
            styles.add("measured")
    ax.set_xlabel("σ_w² (weight variance × fan_in)")
    ax.set_ylabel("σ_b² (bias variance)")
    return mesh, styles


RATIO_LABELS = [("gradient ratio ‖δ_1‖ / ‖δ_L‖", "First over last hidden layer's gradient"),
                ("per-layer factor of E‖δ‖²  (ratio^(2/(L−1)))", "Per-layer factor")]


def fig_gradient_ratio_vs_depth(ctx):
    """Glorot-style depth study: gradient_ratio and per_layer_factor (runs.csv) against depth."""
    exp, runs, layers = ctx.exp, ctx.exp.table("runs"), ctx.exp.table("layers")
    i = exp.axis_ending("depth")
    if runs is None or i is None or not runs.has_values("gradient_ratio"):
        return None
    if len({exp.axis_value(k, i) for k in exp.configs} - {None}) < 3:
        return None
    by_run = {runs.cell(r, "run"): r for r in runs.rows}
    first = first_step_rows(layers) if layers is not None and layers.has("layer") else {}

    def column(name):
        return lambda run: runs.num(by_run[run], name) if run in by_run else None

    def predicted_factor(run):
        """(prod_{l=1}^{L-1} chi_l)^(1/(L-1)): the theory of per_layer_factor."""
        depth, chi = exp.run_depth(run), theory_chis(exp, layers, first.get(run, []))
        if depth is None or depth < 2 or any(l not in chi for l in range(1, depth)):
            return None
        return math.exp(sum(math.log(chi[l]) for l in range(1, depth)) / (depth - 1))

    def predicted_ratio(run):
        """(prod_{l=1}^{L-1} chi_l)^(1/2): the theory of gradient_ratio."""
        factor, depth = predicted_factor(run), exp.run_depth(run)
        return None if factor is None else factor ** ((depth - 1) / 2)

    groups = exp.depth_groups(exp.configs)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    ratios, factors, drew_theory = [], [], False
    for label, keys in groups.items():
        color = group_color(exp, ctx.colors, label)
        s = depth_series(exp, keys, column("gradient_ratio"))
        if s is not None:
            draw_depth_group(ax1, exp, ctx.colors, label, keys, s)
            ratios.append(s)
        s = depth_series(exp, keys, column("per_layer_factor"))
        if s is not None:
            draw_depth_group(ax2, exp, ctx.colors, label, keys, s)
            factors.append(s)
        for ax, predicted in ((ax1, predicted_ratio), (ax2, predicted_factor)):
            t = depth_series(exp, keys, predicted) if layers is not None else None
            if t is not None and t.state == "ok":
                ax.plot(t.x, t.y, color=color, linestyle="--", linewidth=1.2, zorder=3)
                drew_theory = True
    if not ratios:
        plt.close(fig)
        return None
    for ax, series in ((ax1, ratios), (ax2, factors)):
        if log_axis(ax, series):
            log_span(ax)
        ax.axhline(1.0, color="0.5", linewidth=0.8, zorder=1)
    depths = [x for s in ratios + factors for x in s.x]
    finish_depth_figure(fig, (ax1, ax2), RATIO_LABELS, depths,
                        "mean-field (∏χ_l)^(1/2), ∏χ_l^(1/(L−1))" if drew_theory else None,
                        "Gradient ratio against depth at initialization")
    caption = ("Left: the ratio ‖δ_1‖/‖δ_L‖ of the back-propagated gradient at the first and the "
               "last hidden layer at initialization (runs.csv gradient_ratio), against the depth L; "
               "log scale, so a straight falling line is exponential vanishing and a flat line at 1 "
               "the ideal (by default the verdict calls a ratio < 1e-2 or a per-layer factor < 0.25 "
               "vanishing, > 1e2 or > 4 exploding). Right: the same as "
               "a per-layer factor of E‖δ‖², ratio^(2/(L−1)); a depth-independent factor is a "
               "horizontal line. One line per configuration of the other grid axes (dark when depth "
               "is the only axis), one marker per configuration in its colour; geometric mean "
               "over repeats, band min–max.")
    if drew_theory:
        caption += (" Dashed: the mean-field prediction, from theory_delta_factor χ_l over "
                    "l = 1..L−1: (∏χ_l)^(1/2) left, the geometric mean of χ_l right (for a residual "
                    "net χ_l comes from the residual recursion; nets with norm layers have none).")
    return ctx.save(fig, "gradient_ratio_vs_depth", "Gradient ratio against depth", caption)
