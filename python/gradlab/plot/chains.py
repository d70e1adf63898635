"""Back-propagation through time in RNN chains (timesteps.csv), with Pascanu et al. 2013's bound."""

import math
from collections import OrderedDict

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gradlab.results import distinct_steps, finite, first_step_rows, rows_by_run
from gradlab.plot.common import (aggregate, colour_bar, config_series, draw_series, integer_axis, legend_outside,
                                 log_axis, log_span, shown_configs, spread_steps)


def activation_name(exp, key):
    i = exp.axis_ending("activation")
    if i is not None:
        return key[i]
    a = exp.config_value("model.activation")
    return a.get("name") if isinstance(a, dict) else a


def recurrence_scale(exp, key, steps_first):
    """(value, symbol) for the bound: sigma_max of W measured at step 0, else the spectral radius
    from the grid axis or the config."""
    sigma = [steps_first.get(run) for run in exp.config_runs[key]]
    sigma = [s for s in sigma if finite(s)]
    if sigma:
        return sum(sigma) / len(sigma), "σ_max"
    i = exp.axis_ending("spectral_radius")
    if i is not None and exp.axis_value(key, i) is not None:
        return exp.axis_value(key, i), "ρ"
    rho = exp.config_value("model.recurrent_init.spectral_radius")
    if isinstance(rho, (int, float)):
        return float(rho), "ρ"
    return None, None


def draw_rnn_bound(exp, ax, key, s, color, sigma_first):
    """Pascanu's bound |dl/dh_T| (gamma s)^(T-t), dashed; returns the symbols drawn ({} or one)."""
    if s.state != "ok":
        return set()
    scale, symbol = recurrence_scale(exp, key, sigma_first)
    if scale is None:
        return set()
    gamma = 0.25 if activation_name(exp, key) == "sigmoid" else 1.0
    T = s.x.max()
    anchor = s.y[s.x == T]
    if not len(anchor) or not np.isfinite(anchor[0]):
        return set()
    with np.errstate(over="ignore", under="ignore"):
        bound = anchor[0] * (gamma * scale) ** (T - s.x)
    ax.plot(s.x, bound, color=color, linestyle="--", linewidth=1.2)
    return {symbol + ("/4" if gamma != 1 else "")}


def activation_groups(exp, keys):
    """{activation: keys} when `activation` is a grid axis, else {}."""
    i = exp.axis_ending("activation")
    if i is None:
        return {}
    groups = OrderedDict()
    for key in keys:
        groups.setdefault(key[i], []).append(key)
    return groups


def rnn_small_multiples(ctx, by_activation, dh, sigma_first):
    """One panel per activation (many configurations), lines in the configurations' colours."""
    exp = ctx.exp
    groups = list(by_activation.items())[:6]
    ncols = 2 if len(groups) in (2, 4) else 3
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(11 if ncols == 3 else 9.5, 0.8 + 3.3 * nrows),
                             squeeze=False, sharex=True)
    symbols = set()
    for g, (activation, keys) in enumerate(groups):
        ax = axes[g // ncols][g % ncols]
        series = [dh[k] for k in keys if k in dh]
        lowest = min((np.nanmin(s.lo) for s in series if s.state == "ok"), default=None)
        for key in keys:
            if key not in dh:
                continue
            draw_series(ax, dh[key], ctx.colors[key], exp.label(key))
            symbols |= draw_rnn_bound(exp, ax, key, dh[key], ctx.colors[key], sigma_first)
        if log_axis(ax, series) and lowest is not None and lowest > 0:
            if ax.get_ylim()[0] < lowest / 1e3:
                ax.set_ylim(bottom=lowest / 1e3)
            log_span(ax)
        ax.set_title(f"activation = {activation}")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
        ax.grid(True, alpha=0.3)
        if g // ncols == nrows - 1 or g + ncols >= len(groups):
            ax.set_xlabel("time step t (T = last)")
        if g % ncols == 0:
            ax.set_ylabel("‖∂ℓ/∂h_t‖ (RMS over examples)")
    for g in range(len(groups), nrows * ncols):
        axes[g // ncols][g % ncols].axis("off")
    extra = []
    if symbols:
        text = " or ".join(sorted(symbols))
        extra = [(Line2D([], [], color="0.3", linestyle="--"), f"bound ‖∂ℓ/∂h_T‖·({text})^(T−t)")]
    legend_outside(axes[0][ncols - 1], title="configuration", extra=extra, source=axes.ravel())
    fig.suptitle("Back-propagation through time at initialization, one panel per activation",
                 fontsize=12)
    fig.tight_layout()
    caption = ("Norm of the gradient of the loss with respect to the hidden state h_t, against the "
               "time step t, at the first probe step, one panel per activation (each with its own "
               "log scale); each configuration has its colour of the runs table. "
               "Exponential decay (vanishing) or growth (exploding) backwards in time is a straight "
               "line. Lines are geometric means over repeats, bands the min–max.")
    if symbols:
        caption += (" Dashed: Pascanu et al. 2013's bound ‖∂ℓ/∂h_t‖ ≤ (γ·s)^(T−t)‖∂ℓ/∂h_T‖, with s the "
                    "largest singular value σ_max of W when steps.csv has it (else the spectral radius "
                    "ρ) and γ = 1/4 for sigmoid, 1 otherwise; the measured line must stay below it.")
    return ctx.save(fig, "rnn_dh_by_t", "Gradient through time (RNN)", caption)


def fig_rnn_dh_by_t(ctx):
    exp, t = ctx.exp, ctx.exp.table("timesteps")
    if t is None or not t.has("t") or not t.has_values("dh_norm"):
        return None
    rows_of_run = first_step_rows(t)
    keys = [k for k in exp.configs if any(r in rows_of_run for r in exp.config_runs[k])]
    sigma_first = {}
    steps = exp.table("steps")
    if steps is not None and steps.has_values("sigma_max"):
        for run, rows in first_step_rows(steps).items():
            sigma_first[run] = steps.num(rows[0], "sigma_max")
    dh = config_series(exp, t, rows_of_run, keys, "t", "dh_norm", log=True)
    last = config_series(exp, t, rows_of_run, keys, "t", "dh_last_norm", log=True)
    separate = any(s.state == "ok" and key in dh and (s.x.shape != dh[key].x.shape or
                                                      not np.allclose(s.y, dh[key].y, equal_nan=True))
                   for key, s in last.items())
    by_activation = activation_groups(exp, keys)
    if not separate and len(by_activation) >= 2 and len(keys) > 8:
        return rnn_small_multiples(ctx, by_activation, dh, sigma_first)
    panels = [("dh_norm", dh)] + ([("dh_last_norm", last)] if separate else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(11 if separate else 8.5, 4.5), squeeze=False)
    bound_panel = len(panels) - 1
    symbols = set()
    for p, (column, series) in enumerate(panels):
        ax = axes[0][p]
        lowest = min((np.nanmin(s.lo) for s in series.values() if s.state == "ok"), default=None)
        for key, s in series.items():
            color = ctx.colors[key]
            draw_series(ax, s, color, exp.label(key))
            if p == bound_panel:
                symbols |= draw_rnn_bound(exp, ax, key, s, color, sigma_first)
        if log_axis(ax, series.values()):
            if ax.get_ylim()[0] < lowest / 1e3:
                ax.set_ylim(bottom=lowest / 1e3)   # a steep bound leaves the panel; data stay readable
            log_span(ax)
        ax.set_xlabel("time step t  (T = last step, where the loss is)")
        integer_axis(ax.xaxis)
        ax.grid(True, alpha=0.3)
    axes[0][0].set_ylabel("‖∂ℓ/∂h_t‖ (RMS over examples)")
    axes[0][0].set_title("Gradient w.r.t. the hidden state")
    if separate:
        axes[0][1].set_title("… from the last step's loss only")
    extra = []
    if symbols:
        text = " or ".join(sorted(symbols))
        extra = [(Line2D([], [], color="0.3", linestyle="--"), f"bound ‖∂ℓ/∂h_T‖·({text})^(T−t)")]
    legend_outside(axes[0][-1], title="configuration", extra=extra)
    fig.suptitle("Back-propagation through time at initialization", fontsize=12)
    fig.tight_layout()
    caption = ("Norm of the gradient of the loss with respect to the hidden state h_t, against the "
               "time step t, at the first probe step; log scale, so exponential decay (vanishing) or "
               "growth (exploding) backwards in time is a straight line. Lines are geometric means over "
               "repeats, bands the min–max.")
    if symbols:
        caption += (" Dashed: Pascanu et al. 2013's bound ‖∂ℓ/∂h_t‖ ≤ (γ·s)^(T−t)‖∂ℓ/∂h_T‖, with s the "
                    "largest singular value σ_max of W when steps.csv has it (else the spectral radius "
                    "ρ, which equals σ_max for W = ρQ with Q orthogonal) and γ = 1/4 for sigmoid, 1 "
                    "otherwise; the measured line must stay below it.")
    if separate:
        caption += (" Right: the part that comes from the last step's loss only (loss at every step), "
                    "which is the long-range signal the bound applies to.")
    return ctx.save(fig, "rnn_dh_by_t", "Gradient through time (RNN)", caption)


MAX_CHAIN_PANELS = 6
SHOWN_STEPS = 5   # first, last and three between


def dh_at_steps(exp, t, rows_by, key, steps):
    """{step: Series of dh_norm against t} of one configuration (geometric mean over repeats)."""
    result = OrderedDict()
    for step in steps:
        per_run = []
        for run in exp.config_runs[key]:
            d = {t.num(r, "t"): t.num(r, "dh_norm") for r in rows_by.get(run, [])
                 if t.num(r, "step") == step and finite(t.num(r, "t"))}
            if d:
                per_run.append(d)
        s = aggregate(per_run, log=True) if per_run else None
        if s is not None:
            result[step] = s
    return result


def fig_rnn_dh_over_training(ctx):
    """‖∂ℓ/∂h_t‖ against t at several training steps, one panel per configuration."""
    exp, t = ctx.exp, ctx.exp.table("timesteps")
    if t is None or not t.has("t") or not t.has_values("dh_norm") or len(distinct_steps(t)) < 2:
        return None
    steps = spread_steps(distinct_steps(t), SHOWN_STEPS)
    rows_by = rows_by_run(t)
    keys = [k for k in exp.configs if any(r in rows_by for r in exp.config_runs[k])]
    shown, note = shown_configs(keys, MAX_CHAIN_PANELS)
    ncols = min(3, len(shown))
    nrows = math.ceil(len(shown) / ncols)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False, sharex=True, layout="constrained",
                             figsize=(1.8 + 3.6 * ncols, 0.9 + 3.0 * nrows))
    norm = Normalize(steps[0], steps[-1])
    cmap = plt.cm.plasma
    for p, key in enumerate(shown):
        ax = axes[p // ncols][p % ncols]
        series = dh_at_steps(exp, t, rows_by, key, steps)
        for step, s in series.items():
            if s.state == "ok":
                ax.plot(s.x, s.y, color=cmap(0.85 * norm(step)), linewidth=1.4)
        if log_axis(ax, series.values()):
            log_span(ax)
        ax.set_title(exp.label(key), fontsize=9, color=ctx.colors[key], loc="left")
        ax.grid(True, alpha=0.3)
        integer_axis(ax.xaxis)
        if p % ncols == 0:
            ax.set_ylabel("‖∂ℓ/∂h_t‖ (RMS over examples)")
        if p + ncols >= len(shown):
            ax.set_xlabel("time step t (T = last)")
            ax.xaxis.set_tick_params(labelbottom=True)
    for p in range(len(shown), nrows * ncols):
        axes[p // ncols][p % ncols].axis("off")
    bar = colour_bar(fig, plt.cm.ScalarMappable(norm=norm, cmap=ListedColormap(cmap(np.linspace(0, 0.85, 256)))),
                     axes.ravel().tolist(), "training step", shrink=0.8, pad=0.02)
    bar.set_ticks(steps)
    bar.set_ticklabels([f"{s:g}" for s in steps])
    fig.suptitle("Gradient through time during training", fontsize=12)
    caption = ("‖∂ℓ/∂h_t‖ against the time step t at the training steps "
               + ", ".join(f"{s:g}" for s in steps) + " (dark: first probe, light: last), one panel "
               "per configuration (title in its colour); log scale, geometric means over repeats. "
               "A line that tilts over training shows the gradient through time vanishing or "
               "exploding as the chain learns.")
    return ctx.save(fig, "rnn_dh_over_training", "Gradient through time during training", caption + note)
