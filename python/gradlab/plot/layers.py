"""Per-layer figures: gradient norms by layer with the mean-field prediction, activations during
training, saturation and dead units."""

import math
from collections import defaultdict

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from gradlab.results import distinct_steps, finite, first_step_rows, output_layer_of, rows_by_run
from gradlab.plot.common import (Series, bottom_step_axes, config_rows, config_series, draw_series,
                                 hidden_layers, layer_axis, layer_cmap, layer_keys, legend_outside,
                                 log_axis, log_span, log_steps, mark_output_layer, panel_grid,
                                 per_layer_step_series, shown_configs, spread_steps)


def theory_factors(exp, table, rows_of_run, key):
    """{layer k: chi_k} for a configuration: theory_delta_factor, else theory.csv."""
    per_layer = defaultdict(list)
    if table.has_values("theory_delta_factor"):
        for run in exp.config_runs[key]:
            for r in rows_of_run.get(run, []):
                k, chi = table.num(r, "layer"), table.num(r, "theory_delta_factor")
                if finite(k) and finite(chi):
                    per_layer[int(k)].append(chi)
    else:
        theory = exp.table("theory")
        if theory is None or not theory.has("layer"):
            return {}
        column = "chi" if theory.has("chi") else "theory_delta_factor"
        if theory.has("run"):
            matching = [r for r in theory.rows if theory.cell(r, "run") in exp.config_runs[key]]
        elif exp.axes and all(theory.has(a) for a in exp.axes):
            matching = [r for r in theory.rows if tuple(theory.cell(r, a) for a in exp.axes) == key]
        elif len(exp.configs) == 1:
            matching = theory.rows
        else:
            return {}
        for r in matching:
            k, chi = theory.num(r, "layer"), theory.num(r, column)
            if finite(k) and finite(chi):
                per_layer[int(k)].append(chi)
    return {k: sum(v) / len(v) for k, v in per_layer.items()}


def theory_prediction(delta_top, top_layer, chi):
    """delta(l) = delta(L) * sqrt(prod_{k=l}^{L-1} chi_k) for l = L..1, stopping at a gap."""
    xs, ys = [top_layer], [delta_top]
    product = 1.0
    for l in range(top_layer - 1, 0, -1):
        if l not in chi or not finite(chi[l]) or chi[l] < 0:
            break
        product *= chi[l]
        xs.append(l), ys.append(delta_top * math.sqrt(product))
    return np.array(xs[::-1], float), np.array(ys[::-1])


def fig_grad_norm_by_layer(ctx):
    exp, t = ctx.exp, ctx.exp.table("layers")
    if t is None or not t.has("layer") or not t.has_values("delta_norm"):
        return None
    rows_of_run = first_step_rows(t)
    keys, depth_note, depth_title = layer_keys(exp, t, rows_of_run)
    delta = config_series(exp, t, rows_of_run, keys, "layer", "delta_norm", log=True)
    gradw = config_series(exp, t, rows_of_run, keys, "layer", "grad_w_norm", log=True)
    if not delta:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4), sharex=True)
    drew_theory = False
    output_layers = set()
    for key, s in delta.items():
        color = ctx.colors[key]
        draw_series(ax1, s, color, exp.label(key))
        out = output_layer_of(t, [r for run in exp.config_runs[key] for r in rows_of_run.get(run, [])])
        output_layers.add(out)
        if out is None or out < 2 or s.state != "ok":
            continue
        top = out - 1
        anchor = s.y[s.x == top]
        chi = theory_factors(exp, t, rows_of_run, key)
        if len(anchor) and np.isfinite(anchor[0]) and chi:
            xs, ys = theory_prediction(float(anchor[0]), top, chi)
            if len(xs) > 1:
                ax1.plot(xs, ys, color=color, linestyle="--", linewidth=1.3, zorder=3)
                drew_theory = True
    for key, s in gradw.items():
        draw_series(ax2, s, ctx.colors[key], exp.label(key))
    log_y = [log_axis(ax1, delta.values()), log_axis(ax2, gradw.values())]
    ax1.set_ylabel("‖δ_l‖ = RMS over examples of ‖∂ℓ/∂z_l‖")
    ax2.set_ylabel("‖∂L/∂W_l‖_F (probe-set mean loss)")
    ax1.set_title("Back-propagated gradient per layer")
    ax2.set_title("Weight gradient per layer")
    all_layers = [x for s in delta.values() for x in s.x]
    single_output = next(iter(output_layers)) if len(output_layers) == 1 else None
    for ax, log in zip((ax1, ax2), log_y):
        ax.set_xlabel("layer l (1 = first hidden layer)")
        layer_axis(ax, all_layers)
        if log:
            log_span(ax)
        ax.grid(True, which="major", alpha=0.3)
        if single_output is not None:
            mark_output_layer(ax, single_output)
    extra = [(Line2D([], [], color="0.3", linestyle="--"), "mean-field prediction")] if drew_theory else []
    legend_outside(ax2, title="configuration", extra=extra)
    fig.suptitle("Gradient norms by layer at initialization (first probe step)"
                 + (f", {depth_title}" if depth_title else ""), fontsize=12)
    fig.tight_layout()
    caption = ("Left: the per-example back-propagated gradient ‖δ_l‖ at every layer, at the first "
               "probe step (initialization); layer L+1 is the output layer (shaded). A line falling "
               "towards layer 1 means vanishing gradients, rising means exploding; a flat line is "
               "the ideal. Log scale: equal slopes mean equal per-layer factors. Right: the Frobenius "
               "norm of the weight gradient ∂L/∂W_l (Glorot's Eq. 14 predicts it flat even when δ "
               "shrinks). Lines are means over repeats (geometric), bands the min–max over repeats.")
    if drew_theory:
        caption += (" Dashed: the mean-field prediction ‖δ_L‖·√(∏_{k=l}^{L−1} χ_k), with χ_k from "
                    "the theory_delta_factor column (or theory.csv), anchored at the measured top "
                    "hidden layer L; a measured line steeper than its dashed line decays faster "
                    "than the theory predicts.")
    return ctx.save(fig, "grad_norm_by_layer", "Gradient norms by layer", caption + depth_note)


MAX_ACTIVATION_LAYERS = 6   # error bars of more layers overlap


def fig_activations_over_training(ctx):
    exp, t = ctx.exp, ctx.exp.table("layers")
    if t is None or not t.has("step") or len(distinct_steps(t)) < 2:
        return None
    if not (t.has_values("act_mean") or t.has_values("act_p98")):
        return None
    rows_by = rows_by_run(t)
    keys, depth_note, _ = layer_keys(exp, t, rows_by)
    shown, note = shown_configs(keys)
    steps = distinct_steps(t)
    fig, panels, grid = panel_grid(2 * len(shown), 2, height=2.7)
    spacing = float(np.median(np.diff(steps)))
    subset = False
    logx = log_steps(steps, exp)
    for row, key in enumerate(shown):
        ax_mean, ax_p98 = panels[2 * row], panels[2 * row + 1]
        hidden = hidden_layers(t, config_rows(exp, t, rows_by, key))
        layers = spread_steps(hidden, MAX_ACTIVATION_LAYERS)   # a deep net: evenly spaced layers
        subset = subset or len(layers) < len(hidden)
        colors = [layer_cmap()((l - 1) / max(hidden[-1] - 1, 1)) for l in layers]
        every = max(1, len(steps) // 12)
        for i, (layer, color) in enumerate(zip(layers, colors)):
            mean = per_layer_step_series(exp, t, rows_by, key, layer, "act_mean")
            std = per_layer_step_series(exp, t, rows_by, key, layer, "act_std")
            p98 = per_layer_step_series(exp, t, rows_by, key, layer, "act_p98")
            if mean is not None and mean.state == "ok":
                # Layers' error bars side by side: shifted by a fraction of the probe spacing, or
                # on a log step axis by a factor (step 0 stays at 0).
                dodge = 0.06 * (i - (len(layers) - 1) / 2)
                x = mean.x * (1 + dodge) if logx else mean.x + spacing * dodge
                err = std.y if std is not None and std.state == "ok" else None
                ax_mean.errorbar(x, mean.y, yerr=err, color=color, linewidth=1.4,
                                 elinewidth=0.9, capsize=2, errorevery=every, label=f"layer {layer}")
            if p98 is not None and p98.state == "ok":
                ax_p98.plot(p98.x, p98.y, color=color, marker="o", markersize=3.5, linewidth=0.6,
                            label=f"layer {layer}")
            if std is not None and std.state == "ok":
                ax_p98.plot(std.x, std.y, color=color, linewidth=1.6)
        ax_mean.set_title(exp.label(key), fontsize=9.5, color=ctx.colors[key], loc="left")
        ax_mean.set_ylabel("a_l: mean ± std")
        ax_p98.set_ylabel("|a_l|: 98th pct. (•), std (—)")
        top = max(1.05, ax_p98.get_ylim()[1])
        ax_p98.set_ylim(0, top)
        for ax in (ax_mean, ax_p98):
            ax.grid(True, alpha=0.3)
        if row == 0:
            legend_outside(ax_p98, title="hidden layer")
    bottom_step_axes(grid, len(panels), steps, exp)
    fig.suptitle("Activations during training (probe set)", fontsize=12)
    fig.tight_layout()
    caption = ("Each row is one configuration. Left: mean of each hidden layer's activations over the "
               "fixed probe set, with ±1 std bars (Glorot & Bengio 2010, Fig. 2: with sigmoid the top "
               "hidden layer is driven to saturation at 0 early in training). Right: the 98th "
               "percentile of |a_l| (markers) and the std (lines), as in Figs. 3 and 10: for tanh a "
               "percentile near 1 means the layer is saturated. Colours run from layer 1 (dark) to "
               "the top hidden layer (light); repeats are averaged.")
    if subset:
        caption += (f" Deep nets: {MAX_ACTIVATION_LAYERS} hidden layers evenly spaced from layer 1 "
                    "to the top (gradients_over_training shows every layer).")
    return ctx.save(fig, "activations_over_training", "Activations during training",
                    caption + note + depth_note)


BAR_LIMIT = 60   # bars (configurations × hidden layers) beyond which lines are drawn
BAR_DEPTH = 30   # hidden layers from which lines are drawn
SATURATION_PANELS = [("saturated_frac", "saturated", "% of (example, unit) pairs"),
                     ("dead_frac", "dead units", "% of units")]


def fig_saturation_by_layer(ctx):
    """Saturation and dead units per hidden layer at initialization: a study without training
    (a training run has saturation_over_training instead)."""
    t = ctx.exp.table("layers")
    if t is None or not t.has("layer") or (t.has("step") and len(distinct_steps(t)) >= 2):
        return None
    if not (t.has_values("saturated_frac") or t.has_values("dead_frac")):
        return None
    return saturation_by_layer(ctx, t)


def nonzero_columns(t, candidates):
    """The candidates with some non-zero value (a panel of zeros only is dropped)."""
    kept = [c for c in candidates
            if any((v := t.num(r, c[0])) is not None and v != 0 for r in t.rows)]
    return kept or candidates[:1]


def saturation_by_layer(ctx, t):
    exp = ctx.exp
    rows_of_run = first_step_rows(t)
    keys, depth_note, _ = layer_keys(exp, t, rows_of_run)
    quantities = nonzero_columns(t, SATURATION_PANELS)
    fig, axes = plt.subplots(1, len(quantities), figsize=(5.2 * len(quantities) + 1, 4.2),
                             squeeze=False, sharex=True)
    axes = axes[0]
    hidden_of = {key: set(hidden_layers(t, config_rows(exp, t, rows_of_run, key))) for key in keys}
    all_layers = [l for hidden in hidden_of.values() for l in hidden]
    # Bars side by side while they stay readable; deep nets or many configurations: lines.
    n_layers = len(set(all_layers))
    bars = len(keys) <= 8 and n_layers < BAR_DEPTH and len(keys) * n_layers <= BAR_LIMIT
    width = 0.8 / max(len(keys), 1)
    for i, key in enumerate(keys):
        hidden = hidden_of[key]
        for ax, (column, _, _) in zip(axes, quantities):
            s = config_series(exp, t, rows_of_run, [key], "layer", column).get(key)
            if s is None:
                continue
            keep = np.array([x in hidden for x in s.x])
            s = Series(s.x[keep], 100 * s.y[keep], 100 * s.lo[keep], 100 * s.hi[keep], s.state)
            label = exp.label(key)
            if s.state != "ok" or not bars:
                draw_series(ax, s, ctx.colors[key], label)
                continue
            x = s.x - 0.4 + width * (i + 0.5)
            err = np.nan_to_num(np.vstack([s.y - s.lo, s.hi - s.y]))
            ax.bar(x, np.nan_to_num(s.y), width=width, color=ctx.colors[key], label=label,
                   yerr=err if err.any() else None, error_kw={"elinewidth": 0.8, "capsize": 0})
    titles = {"saturated_frac": "Saturated: |φ′(z)| < τ·sup|φ′|",
              "dead_frac": "Dead units: φ′ = 0 on every probe example"}
    for ax, (column, what, unit) in zip(axes, quantities):
        ax.set_xlabel("hidden layer l")
        ax.set_ylabel(unit)
        ax.set_title(titles[column])
        layer_axis(ax, all_layers)
        ax.set_ylim(0, max(5.0, ax.get_ylim()[1]))
        ax.grid(True, axis="y", alpha=0.3)
    legend_outside(axes[-1], title="configuration")
    fig.suptitle("Saturation and dead units by layer at initialization", fontsize=12)
    caption = ("Per hidden layer at the first probe step: the share of (example, unit) pairs in the "
               "saturated regime of the activation (tanh: |a| > 0.975; ReLU: inactive) and the share "
               "of units that are off for every probe example (dead ReLUs). "
               + ("Bars are means over repeats, whiskers the min–max." if bars else
                  "Lines are means over repeats, bands the min–max."))
    fig.tight_layout()
    dropped = [panel[1] for panel in SATURATION_PANELS if panel not in quantities]
    if dropped:
        caption += f" Not drawn because they are 0 everywhere: {', '.join(dropped)}."
    return ctx.save(fig, "saturation_by_layer", "Saturation and dead units by layer",
                    caption + depth_note)
