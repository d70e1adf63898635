"""Per-layer quantities against the training step (layers.csv at several probe steps): the
back-propagated gradient ‖δ_l‖ and the weight gradient ‖∂L/∂W_l‖, the saturated and dead shares.
Drawn only when layers.csv has at least two probe steps (a training run).

Each panel is one configuration and one quantity: one line per layer, coloured from layer 1
(dark) to the top layer (light) with a colour bar for depth, or a layer × step heat map when the
nets are deep (HEATMAP_LAYERS) or the configurations many (HEATMAP_CONFIGS).
"""

import math

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.colors import LogNorm, Normalize
from matplotlib.ticker import MaxNLocator

from gradlab.results import distinct_steps, finite, output_layer_of, rows_by_run
from gradlab.plot.common import aggregate, bottom_step_axes, colour_bar, layer_cmap, layer_keys, log_span, shown_configs

HEATMAP_LAYERS = 30     # at this many layers per net, lines become a heat map
HEATMAP_CONFIGS = 6     # more configurations shown than this: heat maps (small panels)
MAX_ROWS = 6            # configurations shown (one row each)

# (column, panel title, axis label, log scale, in % of the hidden layers only)
GRADIENT_PANELS = [("delta_norm", "‖δ_l‖", "‖δ_l‖ (RMS over examples)", True, False),
                   ("grad_w_norm", "‖∂L/∂W_l‖", "‖∂L/∂W_l‖_F", True, False)]
SATURATION_PANELS = [("saturated_frac", "saturated", "saturated (% of pairs)", False, True),
                     ("dead_frac", "dead units", "dead units (% of units)", False, True)]


def layer_step_matrix(exp, t, rows_by, key, column, log, hidden_only=False):
    """(layers, steps, Z) of one configuration: Z[i, j] = column at layers[i], steps[j], the mean
    over repeats (geometric when log); layers without a value at any step are left out (and the
    output layer L+1 when hidden_only), a missing cell is nan. None when nothing has a value."""
    per_layer = {}
    for run in exp.config_runs[key]:
        out = output_layer_of(t, rows_by.get(run, [])) if hidden_only else None
        for r in rows_by.get(run, []):
            if out is not None and t.num(r, "layer") == out:
                continue
            layer, step = t.num(r, "layer"), t.num(r, "step")
            if finite(layer) and finite(step):
                per_layer.setdefault(int(layer), {}).setdefault(run, {})[step] = t.num(r, column)
    series = {l: aggregate(list(runs.values()), log) for l, runs in per_layer.items()}
    series = {l: s for l, s in series.items() if s is not None}
    if not series:
        return None
    layers = sorted(series)
    steps = sorted({x for s in series.values() for x in s.x})
    Z = np.full((len(layers), len(steps)), np.nan)
    for i, l in enumerate(layers):
        s = series[l]
        for x, y in zip(s.x, s.y):
            Z[i, steps.index(x)] = y
    return np.array(layers), np.array(steps, float), Z


def has_signal(matrices):
    """Something finite and non-zero to draw (a column of zeros only, e.g. dead units of tanh,
    is not drawn)."""
    return any(m is not None and np.any(np.isfinite(m[2]) & (m[2] != 0)) for m in matrices)


def cell_edges(x):
    x = np.asarray(x, float)
    if len(x) == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = (x[1:] + x[:-1]) / 2
    return np.concatenate([[max(0.0, x[0] - (mid[0] - x[0]))], mid, [x[-1] + (x[-1] - mid[-1])]])


def value_norm(matrices, log):
    """One colour scale per quantity, shared by its panels: log for norms, 0..max for shares."""
    values = np.concatenate([m[2][np.isfinite(m[2])].ravel() for m in matrices if m is not None])
    if log:
        positive = values[values > 0]
        if not len(positive):
            return None
        lo, hi = positive.min(), positive.max()
        return LogNorm(lo, hi if hi > lo else lo * 10)
    hi = values.max() if len(values) else 0.0
    return Normalize(0.0, hi if hi > 0 else 1.0)


BLANK = "#9ecae1"   # heat-map cells without a positive finite norm (0: nothing flows back)


def heat_cmap(log):
    cmap = plt.get_cmap("magma" if log else "viridis").copy()
    cmap.set_bad(BLANK)
    return cmap


def draw_lines(ax, layers, steps, Z, cmap, layer_norm, percent):
    for l, row in zip(layers, Z):
        y = 100 * row if percent else row
        ax.plot(steps, y, color=cmap(layer_norm(l)), linewidth=1.2,
                marker="o" if len(steps) <= 12 else None, markersize=2.5)


def adapt_share_axis(ax, matrices):
    """A share's axis from 0 to a little above its largest value: 9 % is not a flat line at the
    bottom of 0–100 %."""
    values = [v for m in matrices if m is not None for v in m[2].ravel() if np.isfinite(v)]
    top = 100 * max(values) if values else 1.0
    ax.set_ylim(0, min(100.0, top * 1.12) if top > 0 else 1.0)


def layer_step_figure(ctx, name, title, panels, caption):
    """The grid of panels (rows: configurations, columns: the quantities of `panels` that have
    something to show); None when no quantity has."""
    exp, t = ctx.exp, ctx.exp.table("layers")
    if t is None or not t.has("layer") or not t.has("step") or len(distinct_steps(t)) < 2:
        return None
    rows_by = rows_by_run(t)
    keys, depth_note, depth_title = layer_keys(exp, t, rows_by)
    shown, note = shown_configs(keys, MAX_ROWS)
    data = {(key, p[0]): layer_step_matrix(exp, t, rows_by, key, p[0], p[3], hidden_only=p[4])
            if t.has(p[0]) else None for key in shown for p in panels}
    drawn = [p for p in panels if has_signal([data[(k, p[0])] for k in shown])]
    if not drawn:
        return None
    shown = [k for k in shown if any(data[(k, p[0])] is not None for p in drawn)]
    n_layers = max(len(data[(k, p[0])][0]) for k in shown for p in drawn if data[(k, p[0])] is not None)
    heat = n_layers >= HEATMAP_LAYERS or len(shown) > HEATMAP_CONFIGS
    steps = distinct_steps(t)
    # Rows: configurations, columns: quantities; a single quantity wraps its configurations.
    cells = [(key, p) for key in shown for p in drawn]
    ncols = len(drawn) if len(drawn) > 1 else min(3, len(shown))
    nrows = math.ceil(len(cells) / ncols)
    fig, grid = plt.subplots(nrows, ncols, squeeze=False, sharex=True, layout="constrained",
                             figsize=(4.6 * ncols + 1.6, 0.9 + 2.3 * nrows))
    axes = list(grid.ravel())
    for ax in axes[len(cells):]:
        ax.axis("off")
    top_layer = max(int(data[(k, p[0])][0].max()) for k in shown for p in drawn
                    if data[(k, p[0])] is not None)
    cmap, layer_norm = layer_cmap(), Normalize(1, max(2, top_layer))
    for p in drawn:
        column, short, label, log, percent = p
        norm = value_norm([data[(k, column)] for k in shown], log) if heat else None
        mesh, own = None, [ax for ax, (_, q) in zip(axes, cells) if q is p]
        for ax, key in zip(own, shown):
            m = data[(key, column)]
            if m is not None and heat and norm is not None:
                layers, x, Z = m
                mesh = ax.pcolormesh(cell_edges(x), cell_edges(layers), 100 * Z if percent else Z,
                                     cmap=heat_cmap(log),
                                     norm=Normalize(0, 100 * norm.vmax) if percent else norm)
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                ax.set_ylabel("layer l")
            elif m is not None:
                draw_lines(ax, *m, cmap, layer_norm, percent)
                if log and np.any(np.isfinite(m[2]) & (m[2] > 0)):
                    ax.set_yscale("log")
                    log_span(ax, 1.0)
                if percent:
                    adapt_share_axis(ax, [m])
                ax.set_ylabel(label, fontsize=8)
                ax.grid(True, alpha=0.3)
            if m is None or not np.any(np.nan_to_num(m[2]) != 0):
                ax.text(0.5, 0.5, "0 at every layer and step" if m is not None else "no values",
                        transform=ax.transAxes, ha="center", va="center", color="0.4", fontsize=8)
            ax.set_title(f"{exp.label(key)}: {short}", fontsize=8.5, color=ctx.colors[key],
                         loc="left")
        if heat and mesh is not None:
            colour_bar(fig, mesh, own, label + (" (log colour scale)" if log else ""),
                       shrink=0.9, pad=0.02)
    bottom_step_axes(grid, len(cells), steps, exp)
    if not heat:
        bar = colour_bar(fig, plt.cm.ScalarMappable(norm=layer_norm, cmap=cmap), axes[:len(cells)],
                         "layer l (1 = first hidden layer)", shrink=0.6, pad=0.02)
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    fig.suptitle(title + (f", {depth_title}" if depth_title else ""), fontsize=12)
    dropped = [p[1] for p in panels if p not in drawn]
    if dropped:
        caption += f" Not drawn because they are 0 or empty everywhere: {', '.join(dropped)}."
    style = ("Each panel is a layer × step heat map (one colour scale per quantity"
             + (", logarithmic for norms; light blue: 0 or not finite" if any(p[3] for p in drawn)
                else "") + ")."
             if heat else "One line per layer, from layer 1 (dark) to the top layer (light).")
    return ctx.save(fig, name, title, f"{caption} {style}" + note + depth_note)


def fig_gradients_over_training(ctx):
    caption = ("One row per configuration, against the training step: the back-propagated "
               "gradient ‖δ_l‖ of every layer (the output layer L+1 included) and the Frobenius "
               "norm of the weight gradient ∂L/∂W_l. Layers that spread apart over training are "
               "gradients vanishing or exploding as the net learns. Means over repeats (geometric).")
    return layer_step_figure(ctx, "gradients_over_training", "Per-layer gradients during training",
                             GRADIENT_PANELS, caption)


def fig_saturation_over_training(ctx):
    caption = ("One panel per configuration and quantity, against the training step: the share of "
               "(example, unit) "
               "pairs of each hidden layer whose |φ′(z)| is below τ·sup|φ′| (saturated; tanh: "
               "|a| > 0.975; ReLU: inactive), and the share of units whose φ′ is 0 for every probe "
               "example (dead units). Each axis runs from 0 to a little above its largest value. "
               "Means over repeats.")
    return layer_step_figure(ctx, "saturation_over_training", "Saturation and dead units during training",
                             SATURATION_PANELS, caption)


UPDATE_PANELS = [("update_ratio", "update ratio", "‖ΔW_l‖/‖W_l‖ (last step)", True, False),
                 ("effective_lr", "effective rate", "effective learning rate", True, False)]


def fig_update_ratio_over_training(ctx):
    caption = ("One row per configuration, against the training step: the update ratio "
               "‖ΔW_l‖/‖W_l‖ of the step before each probe, for every weight layer (the output "
               "layer L+1 included), and the layer's effective learning rate (the median over its "
               "weights of lr/(√v̂ + ε) for an adaptive optimizer, the rate itself for SGD). A "
               "layer whose ratio stays orders of magnitude below the others is not learning, "
               "whatever its gradient. Means over repeats (geometric).")
    return layer_step_figure(ctx, "update_ratio_over_training", "Per-layer update ratio during training",
                             UPDATE_PANELS, caption)
