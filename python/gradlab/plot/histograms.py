"""Normalized histograms per layer (histograms.csv): bins -1 and `bins` are under/overflow, an
empty or `nonfinite` bin counts non-finite values."""

from collections import defaultdict

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.colors import Normalize
from matplotlib.ticker import MaxNLocator

from gradlab.results import distinct_steps, finite, int_or_none, output_layer_of, rows_by_run
from gradlab.plot.common import depth_selection, layer_cmap, legend_outside, spread_steps

MAX_HIST_ROWS = 6     # rows (configuration, step) of the grid: it fits a page
MAX_HIST_LAYERS = 6   # histograms overlaid in one panel
PEAK_RATIO = 30.0     # layers' peak densities differing more than this: log density axis


QUANTITY_LABELS = {
    "act": "activation a_l",
    "preact": "pre-activation z_l",
    "delta": "back-propagated gradient δ_l = ∂ℓ/∂z_l",
    "grad_w": "weight gradient ∂L/∂W_l",
}


QUANTITY_SYMBOLS = {"act": "a_l", "preact": "z_l", "delta": "δ_l", "grad_w": "∂L/∂W_l"}


def classify_bin(table, row, bins):
    """'regular', 'under', 'over' or 'nonfinite' for a histograms.csv row."""
    text = table.cell(row, "bin")
    b = int_or_none(text)
    if b is None:
        return "nonfinite"
    if b < 0:
        return "under"
    lo, hi = table.num(row, "lo"), table.num(row, "hi")
    if (bins is not None and b >= bins) or not (finite(lo) and finite(hi) and hi > lo):
        return "over"
    return "regular"


def histogram_data(exp, t, steps):
    """{(quantity, step, config, layer): (sorted (lo, hi) list, counts, count outside the bins)},
    summed over the configuration's repeats when their edges agree (else the first repeat)."""
    bins = int_or_none(exp.config_value("probe.bins"))
    raw = defaultdict(lambda: {"bins": {}, "out": 0.0})
    for row in t.rows:
        step = t.num(row, "step")
        if step not in steps:
            continue
        run = t.cell(row, "run")
        key = (t.cell(row, "quantity"), step, run, int_or_none(t.cell(row, "layer")))
        count = t.num(row, "count")
        if not finite(count):
            continue
        kind = classify_bin(t, row, bins)
        if kind == "regular":
            raw[key]["bins"][(t.num(row, "lo"), t.num(row, "hi"))] = count
        else:
            raw[key]["out"] += count
    merged = {}
    for (quantity, step, run, layer), d in raw.items():
        if not d["bins"]:
            continue
        edges = sorted(d["bins"])
        counts = np.array([d["bins"][e] for e in edges])
        config = exp.run_config.get(run)
        target = (quantity, step, config, layer)
        if target in merged:
            old_edges, old_counts, old_out = merged[target]
            if old_edges == edges:
                merged[target] = (edges, old_counts + counts, old_out + d["out"])
            continue
        merged[target] = (edges, counts, d["out"])
    return merged


def draw_histogram(ax, edges, counts, out, color, label):
    """Draws one layer's density; returns (share outside the bins, peak density)."""
    total = counts.sum() + out
    if total <= 0:
        return 0.0, 0.0
    lo = np.array([e[0] for e in edges])
    hi = np.array([e[1] for e in edges])
    density = counts / total / (hi - lo)
    contiguous = np.allclose(lo[1:], hi[:-1])
    if contiguous:
        ax.stairs(density, np.append(lo, hi[-1]), color=color, label=label, linewidth=1.3)
    else:
        ax.bar(lo, density, width=hi - lo, align="edge", fill=False, edgecolor=color, label=label)
    return out / total, float(density.max())


def log_density_axis(ax, peaks):
    """Log density axis when the layers' peaks differ by more than PEAK_RATIO (vanishing
    gradients: the deep layers' narrow spike would flatten the others); True when set."""
    peaks = [p for p in peaks if p > 0]
    if len(peaks) < 2 or max(peaks) / min(peaks) <= PEAK_RATIO:
        return False
    ax.set_yscale("log")
    ax.set_ylim(max(peaks) * 1e-4, max(peaks) * 2)
    return True


def shown_layers(layers, n=MAX_HIST_LAYERS):
    """Up to n layers, evenly spaced from the first to the top one (a deep net's 30 overlaid
    histograms would be unreadable)."""
    return spread_steps(sorted(layers), n)


def histogram_layout(exp, data, hist_steps):
    """(steps, quantities, configurations shown, configurations with data): rows of the grid are
    (configuration, step), columns the quantities; at most MAX_HIST_ROWS rows."""
    available = sorted({k[1] for k in data})
    steps = spread_steps(available, 3) if not hist_steps else \
        spread_steps(sorted({s for s in hist_steps if s in available}), MAX_HIST_ROWS)
    quantities = [q for q in QUANTITY_LABELS if any(k[0] == q for k in data)]
    quantities += sorted({k[0] for k in data} - set(quantities))
    keys = [k for k in exp.configs if any(d[2] == k for d in data)]
    keys, depth_note, _ = depth_selection(exp, keys)
    shown = keys[:max(1, MAX_HIST_ROWS // max(1, len(steps)))]
    return steps, quantities, shown, keys, depth_note


def fig_histograms(ctx):
    exp, t = ctx.exp, ctx.exp.table("histograms")
    if t is None or not all(t.has(c) for c in ("step", "layer", "quantity", "count")):
        return None
    data = histogram_data(exp, t, set(distinct_steps(t)))
    if not data:
        return None
    steps, quantities, shown, keys, depth_note = histogram_layout(exp, data, ctx.hist_steps)
    if not steps:
        return None
    top = top_hidden_layer(exp)
    rows = [(key, s) for key in shown for s in steps]
    fig, axes = plt.subplots(len(rows), len(quantities), squeeze=False,
                             figsize=(1.6 + 2.45 * len(quantities), 0.9 + 1.85 * len(rows)))
    log_scale = exp.config_value("probe.hist_scale") == "log10abs"
    cmap, log_density = layer_cmap(), False
    for r, (key, step) in enumerate(rows):
        all_layers = {k[3] for k in data if k[2] == key and k[3] is not None
                      and (top.get(key) is None or k[3] <= top[key])}
        layer_norm = Normalize(1, max(2, max(all_layers, default=2)))
        for c, quantity in enumerate(quantities):
            ax = axes[r][c]
            present = [l for l in all_layers if (quantity, step, key, l) in data]
            outside, peaks = 0.0, []
            for layer in shown_layers(present):
                edges, counts, out = data[(quantity, step, key, layer)]
                share, peak = draw_histogram(ax, edges, counts, out, cmap(layer_norm(layer)),
                                             f"layer {layer}")
                outside, peaks = max(outside, share), peaks + [peak]
            symbol = QUANTITY_SYMBOLS.get(quantity, quantity)
            ax.set_xlabel(f"log10 |{symbol}|" if log_scale else symbol, fontsize=8, labelpad=1)
            if c == 0:
                ax.set_title(f"{exp.label(key)}: step {step:g}", fontsize=8.5,
                             color=ctx.colors[key], loc="left")
                ax.set_ylabel("density", fontsize=8)
            if not present:
                ax.text(0.5, 0.5, "no histogram", transform=ax.transAxes, ha="center", va="center",
                        color="0.4", fontsize=8)
            if outside > 0.001:
                ax.text(0.98, 0.97, f"{100 * outside:.1f}%\noutside", transform=ax.transAxes,
                        ha="right", va="top", fontsize=6.5, color="0.3",
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            if log_density_axis(ax, peaks):
                log_density = True
                ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
            else:
                ax.ticklabel_format(axis="both", style="sci", scilimits=(-2, 3))
            ax.xaxis.get_offset_text().set_fontsize(7)
            ax.yaxis.get_offset_text().set_fontsize(7)
            if r == 0 and c == len(quantities) - 1:
                legend_outside(ax, title="hidden layer")
    fig.suptitle("Normalized histograms per layer (probe set)", fontsize=12)
    fig.tight_layout()
    omitted = len(keys) - len(shown)
    names = ", ".join(f"{q} = {QUANTITY_LABELS.get(q, q)}" for q in quantities)
    caption = ("Normalized histograms (probability density) of the probe-set values of the hidden "
               f"layers (up to {MAX_HIST_LAYERS}, evenly spaced; colours run from layer 1 (dark) to "
               "the top hidden layer (light)): one column per quantity, one row per configuration "
               "(title in its colour) and probe step (first, middle and last by default; "
               f"--hist-steps chooses). Quantities: {names}. Compare Glorot & Bengio 2010 Figs. 4, "
               "6–7 and 9–10 (activations at the end of training; activations, back-propagated "
               "gradients and weight gradients at initialization, standard vs normalized init). "
               "Each bin is drawn over [lo, hi); the share of values outside the bin range "
               "(under/overflow and non-finite) is noted in the corner. Repeats are pooled when "
               "their bins agree.")
    if log_density:
        caption += (" Panels with a log density axis: the layers' peak densities differ by more "
                    f"than {PEAK_RATIO:g}× (a narrow spike of small values would hide the others).")
    if omitted:
        caption += f" {omitted} further configurations are not shown."
    return ctx.save(fig, "histograms", "Histograms per layer", caption + depth_note)


def top_hidden_layer(exp):
    """{config: L} from layers.csv (the output layer L+1 is excluded from histogram panels)."""
    t = exp.table("layers")
    if t is None or not t.has("layer"):
        return {}
    result = {}
    for run, rows in rows_by_run(t).items():
        out = output_layer_of(t, rows)
        if out is not None:
            result[exp.run_config.get(run)] = out - 1
    return result
