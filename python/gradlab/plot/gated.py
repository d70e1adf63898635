"""Gated chains (model.type lstm, gru) beside the vanilla RNN, from timesteps.csv: the gradient
ratio against T for every chain type on one axis (with the LSTM's cell path), the LSTM's cell
gradient against its hidden-state gradient over t, and each gate's mean value over t."""

import math
from collections import OrderedDict

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from gradlab.results import finite, first_step_rows, rows_by_run, distinct_steps
from gradlab.plot.common import (aggregate, draw_series, integer_axis, legend_outside, log_axis,
                                 log_span, shown_configs)

GATES = {"lstm": ["i", "f", "g", "o"], "gru": ["r", "z", "n"]}
GATE_COLORS = {"i": "#1f77b4", "f": "#d62728", "g": "#2ca02c", "o": "#9467bd",
               "r": "#1f77b4", "z": "#d62728", "n": "#2ca02c"}
MAX_PANELS = 6


def model_type(exp, run):
    return (exp.run_json(run, "config.json").get("model") or {}).get("type", "mlp")


def config_type(exp, key):
    return model_type(exp, exp.config_runs[key][0])


def column_by_t(t, rows, column, step=None):
    """{t: value} of one run's rows (at `step`, default every row given)."""
    return {t.num(r, "t"): t.num(r, column) for r in rows
            if (step is None or t.num(r, "step") == step) and finite(t.num(r, "t"))}


def end_ratio(d):
    """value(t = 1)/value(t = T) of {t: value}, or None."""
    if not d:
        return None
    first, last = d.get(min(d)), d.get(max(d))
    if not (finite(first) and finite(last)) or last == 0:
        return None
    return first / last


def fig_gated_ratio_by_length(ctx):
    """‖∂ℓ/∂h_1‖/‖∂ℓ/∂h_T‖ at step 0 against T, one line per chain configuration (the length axis
    removed), RNN, LSTM and GRU on one axis; the LSTM's cell path dashed."""
    exp, t = ctx.exp, ctx.exp.table("timesteps")
    if t is None or not t.has("dc_norm") or not t.has_values("dh_norm"):
        return None
    rows_of_run = first_step_rows(t)
    i_len = exp.axis_ending("length")
    if i_len is None:
        return None
    keys = [k for k in exp.configs if any(r in rows_of_run for r in exp.config_runs[k])]
    types = {config_type(exp, k) for k in keys}
    if not types & {"lstm", "gru"}:
        return None
    others = [j for j in range(len(exp.axes)) if j != i_len]
    groups = OrderedDict()
    for key in keys:
        groups.setdefault(tuple(key[j] for j in others), []).append(key)
    fig, ax = plt.subplots(figsize=(8.5, 4.6))
    has_cell = False
    for group, members in groups.items():
        label = exp.label_of_axes(members[0], others) if others else exp.name()
        color = ctx.colors[members[0]]
        for column, style in (("dh_norm", "-"), ("dc_norm", "--")):
            per_run = []
            for key in members:
                T = exp.axis_value(key, i_len)
                for run in exp.config_runs[key]:
                    r = end_ratio(column_by_t(t, rows_of_run.get(run, []), column))
                    if r is not None and T is not None:
                        per_run.append({T: r})
            s = aggregate(per_run, log=True) if per_run else None
            if s is None:
                continue
            has_cell = has_cell or column == "dc_norm"
            draw_series(ax, s, color, label if column == "dh_norm" else "_", linestyle=style)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(1.0, color="0.5", linewidth=0.8)
    ax.set_xlabel("chain length T")
    ax.set_ylabel("‖∂ℓ/∂h_1‖ / ‖∂ℓ/∂h_T‖ at initialization")
    ax.grid(True, alpha=0.3, which="both")
    extra = [(Line2D([], [], color="0.3", linestyle="--"), "LSTM cell path ‖∂ℓ/∂c_1‖/‖∂ℓ/∂c_T‖")] \
        if has_cell else []
    legend_outside(ax, title="chain", extra=extra)
    fig.suptitle("How much gradient reaches the first step: RNN vs LSTM vs GRU", fontsize=12)
    fig.tight_layout()
    caption = ("The gradient with respect to the hidden state at the first step over the one at the "
               "last step (the loss is at T), RMS over the probe set, at the first probe, against the "
               "chain length T; log–log, one line per chain (geometric means over repeats, bands the "
               "min–max). A ratio that falls like a power of ρ per step is vanishing; the gated "
               "chains' lines stay flatter when their gates keep the path open.")
    if has_cell:
        caption += (" Dashed: the LSTM's cell path, ‖∂ℓ/∂c_1‖/‖∂ℓ/∂c_T‖, which the forget gate "
                    "scales by f per step (f ≈ σ(forget_bias) at initialization).")
    return ctx.save(fig, "gated_ratio_by_length", "Gradient ratio vs chain length (RNN, LSTM, GRU)",
                    caption)


def gated_keys(exp, t, rows_by, kinds=("lstm", "gru")):
    """The gated configurations with rows; with a length axis only the longest chain of each
    configuration (the other axes' values)."""
    keys = [k for k in exp.configs if any(r in rows_by for r in exp.config_runs[k])]
    keys = [k for k in keys if config_type(exp, k) in kinds]
    i_len = exp.axis_ending("length")
    if i_len is None:
        return keys
    longest = OrderedDict()
    for k in keys:
        group = tuple(v for j, v in enumerate(k) if j != i_len)
        T = exp.axis_value(k, i_len) or 0
        if group not in longest or T > (exp.axis_value(longest[group], i_len) or 0):
            longest[group] = k
    return list(longest.values())


def config_panels(ctx, keys, ylabel, xlabel):
    """One panel per configuration (title in its colour), at most 3 a row; yields (ax, key) and
    hides the unused cells. Returns the figure."""
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, figsize=(1.5 + 3.6 * ncols, 0.9 + 2.9 * nrows))
    for p in range(len(keys), nrows * ncols):
        axes[p // ncols][p % ncols].axis("off")
    panels = []
    for p, key in enumerate(keys):
        ax = axes[p // ncols][p % ncols]
        ax.set_title(ctx.exp.label(key), fontsize=9, color=ctx.colors[key], loc="left")
        ax.grid(True, alpha=0.3)
        integer_axis(ax.xaxis)
        if p % ncols == 0:
            ax.set_ylabel(ylabel)
        if p + ncols >= len(keys):
            ax.set_xlabel(xlabel)
        panels.append((ax, key))
    return fig, panels


def mean_by_t(exp, t, rows_by, key, column, step):
    per_run = [column_by_t(t, rows_by.get(run, []), column, step) for run in exp.config_runs[key]]
    per_run = [d for d in per_run if d]
    return aggregate(per_run) if per_run else None


def fig_gated_gates_by_t(ctx):
    """Each gate's mean value against t, at the first (solid) and last (dashed) probe, one panel
    per gated configuration."""
    exp, t = ctx.exp, ctx.exp.table("timesteps")
    if t is None or not t.has("gate_i_mean"):
        return None
    rows_by = rows_by_run(t)
    keys = gated_keys(exp, t, rows_by)
    if not keys:
        return None
    steps = distinct_steps(t)
    first, last = steps[0], steps[-1]
    shown, note = shown_configs(keys, MAX_PANELS)
    fig, panels = config_panels(ctx, shown, "gate mean (over units, examples)", "time step t")
    for ax, key in panels:
        for width, gate in zip((3.2, 2.5, 1.8, 1.2), GATES[config_type(exp, key)]):
            for step, style in ((first, "-"), (last, "--")) if last != first else ((first, "-"),):
                s = mean_by_t(exp, t, rows_by, key, f"gate_{gate}_mean", step)
                if s is not None:
                    ax.plot(s.x, s.y, color=GATE_COLORS[gate], linestyle=style, linewidth=width,
                            label=gate if style == "-" else "_")
        ax.set_ylim(-1.05, 1.05)
        ax.legend(fontsize=7, loc="lower right", frameon=False, ncols=4)
    fig.suptitle("Gates over time", fontsize=12)
    fig.tight_layout()
    caption = ("Mean value of each gate (over hidden units and probe examples) against the time "
               "step t: LSTM input i, forget f, candidate g (tanh, in [−1, 1]), output o; GRU reset "
               "r, update z (z multiplies the old state), candidate n (tanh); one panel per "
               "configuration (the longest chain of each). Lines of equal value overlap: the "
               "wider one is underneath. Solid: first probe")
    caption += (f" (step {first:g}); dashed: last probe (step {last:g})." if last != first else ".")
    caption += (" An LSTM forget gate near 1 keeps the cell's gradient; a GRU update gate near 1 "
                "carries the state and its gradient unchanged. timesteps.csv also has each gate's "
                "saturated share.")
    return ctx.save(fig, "gated_gates_by_t", "Gates over time (LSTM, GRU)", caption + note)


def fig_gated_cell_vs_hidden(ctx):
    """The LSTM's ‖∂ℓ/∂c_t‖ (dashed) and ‖∂ℓ/∂h_t‖ (solid) at the first probe, one panel per LSTM
    configuration."""
    exp, t = ctx.exp, ctx.exp.table("timesteps")
    if t is None or not t.has_values("dc_norm"):
        return None
    rows_by = first_step_rows(t)
    keys = gated_keys(exp, t, rows_by, ("lstm",))
    if not keys:
        return None
    shown, note = shown_configs(keys, MAX_PANELS)
    fig, panels = config_panels(ctx, shown, "RMS over examples", "time step t (T = last)")
    for ax, key in panels:
        series = []
        for column, style, name in (("dh_norm", "-", "‖∂ℓ/∂h_t‖"), ("dc_norm", "--", "‖∂ℓ/∂c_t‖")):
            per_run = [column_by_t(t, rows_by.get(run, []), column) for run in exp.config_runs[key]]
            per_run = [d for d in per_run if d]
            s = aggregate(per_run, log=True) if per_run else None
            if s is not None:
                draw_series(ax, s, ctx.colors[key], name, linestyle=style, marker=None)
                series.append(s)
        if log_axis(ax, series):
            log_span(ax)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle("LSTM: the cell path against the hidden path, at initialization", fontsize=12)
    fig.tight_layout()
    caption = ("For each LSTM configuration (the longest chain of each), the gradient with respect to "
               "the cell c_t (dashed) and to the hidden state h_t (solid) against t, at the first "
               "probe; log scale. Backwards in time ∂ℓ/∂c_t is multiplied by the forget gate f at "
               "each step (plus terms through h), so with f ≈ 1 it stays level: the constant error "
               "carousel.")
    return ctx.save(fig, "gated_cell_vs_hidden", "LSTM cell path vs hidden path", caption + note)
