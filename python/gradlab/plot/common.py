"""Drawing helpers shared by the figure modules: aggregation over repeats, series, axes, legends,
panel grids, and the Context every figure function receives.

A configuration's repeats are aggregated: arithmetic mean and min-max band, or geometric mean for
quantities drawn on a log axis.
"""

import math
import os
from collections import OrderedDict, namedtuple

import numpy as np
import matplotlib.pyplot as plt
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from gradlab.results import finite, output_layer_of
from gradlab.plot.colors import depth_only, group_color

DPI = 110
MAX_LEGEND = 16          # more configurations than this: no legend (the runs table has the colours)
MAX_PANEL_ROWS = 8       # small multiples show at most this many configurations

Series = namedtuple("Series", "x y lo hi state")   # state: ok | nonfinite | nonpositive
# figure: the matplotlib Figure, kept (not saved) when the Context has no outdir (gradlab.plot())
Figure = namedtuple("Figure", "name path title caption figure", defaults=(None,))


class Context:
    """What a figure function gets: the experiment, its colours ({config: rgba}, one assignment
    for every figure and the report), where and how to save (outdir None: keep the figure in
    memory), the histogram steps."""

    def __init__(self, exp, colors, outdir, fmt, hist_steps):
        self.exp, self.colors = exp, colors
        self.outdir, self.fmt, self.hist_steps = outdir, fmt, hist_steps

    def save(self, fig, name, title, caption):
        if self.outdir is None:
            plt.close(fig)   # closed for pyplot, still drawable and savable
            return Figure(name, None, title, caption, fig)
        path = os.path.join(self.outdir, f"{name}.{self.fmt}")
        metadata = {"Date": None} if self.fmt == "svg" else None   # reproducible files
        fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata=metadata)
        plt.close(fig)
        return Figure(name, path, title, caption)


def aggregate(per_run, log=False):
    """per_run: list of {x: value}. Mean (geometric if log) and min-max over runs at each x."""
    xs = sorted({x for d in per_run for x, v in d.items() if v is not None})  # empty: n/a
    y, lo, hi = [], [], []
    any_value = any_finite = False
    for x in xs:
        values = [d[x] for d in per_run if d.get(x) is not None]
        any_value = any_value or bool(values)
        good = [v for v in values if math.isfinite(v)]
        any_finite = any_finite or bool(good)
        if log:
            good = [v for v in good if v > 0]
        if not good:
            y.append(np.nan), lo.append(np.nan), hi.append(np.nan)
            continue
        center = math.exp(sum(math.log(v) for v in good) / len(good)) if log else sum(good) / len(good)
        y.append(center), lo.append(min(good)), hi.append(max(good))
    if not any_value:
        return None
    if np.all(np.isnan(y)):
        state = "nonpositive" if any_finite else "nonfinite"
    else:
        state = "ok"
    return Series(np.array(xs, float), np.array(y), np.array(lo), np.array(hi), state)


def config_series(exp, table, rows_of_run, keys, xcol, ycol, log=False):
    """{config: Series} of ycol vs xcol, aggregated over the config's runs."""
    result = OrderedDict()
    for key in keys:
        per_run = []
        for run in exp.config_runs[key]:
            rows = rows_of_run.get(run)
            if not rows:
                continue
            d = {}
            for r in rows:
                x = table.num(r, xcol)
                if finite(x):
                    d[x] = table.num(r, ycol)
            per_run.append(d)
        s = aggregate(per_run, log) if per_run else None
        if s is not None:
            result[key] = s
    return result


def draw_series(ax, s, color, label, linestyle="-", band=True, marker="o"):
    """A line (gaps at non-finite points) with its min-max band; notes an all-non-finite series."""
    if s.state != "ok":
        note = " (non-finite)" if s.state == "nonfinite" else " (all ≤ 0)"
        ax.plot([], [], color=color, linestyle=linestyle, label=label + note)
        return
    ms = 4 if len(s.x) <= 40 else 0
    ax.plot(s.x, s.y, color=color, linestyle=linestyle, marker=marker if ms else None,
            markersize=ms, label=label, linewidth=1.6)
    if band and np.any(np.nan_to_num(s.hi - s.lo) > 0):
        ax.fill_between(s.x, s.lo, s.hi, color=color, alpha=0.18, linewidth=0)


def spans_decades(values, decades=1.5):
    v = [x for x in values if finite(x) and x > 0]
    return len(v) >= 2 and math.log10(max(v) / min(v)) >= decades


def legend_outside(ax, title=None, extra=(), source=None):
    """The legend of ax's lines (or of every axes in `source`) and `extra` (handle, label) pairs,
    right of ax; only the extras when there are more than MAX_LEGEND lines."""
    handles, labels = [], []
    for a in (ax,) if source is None else source:
        h, l = a.get_legend_handles_labels()
        handles, labels = handles + list(h), labels + list(l)
    handles, labels = list(handles) + [h for h, _ in extra], list(labels) + [l for _, l in extra]
    if not handles:
        return
    n_entries = len(handles) - len(extra)
    if n_entries > MAX_LEGEND:
        handles, labels = [h for h, _ in extra], [l for _, l in extra]
        title = f"{n_entries} {title or 'entries'}s\n(colours: see the report's runs table)"
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,
              title=title, title_fontsize=8, frameon=False)


def integer_axis(axis):
    axis.set_major_locator(MaxNLocator(integer=True))


def layer_axis(ax, layers):
    """Integer layer ticks: every layer when there are few, else a nice integer spacing."""
    layers = [int(l) for l in layers if finite(l)]
    if not layers:
        return
    lo, hi = min(layers), max(layers)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    if hi - lo <= 12:
        ax.set_xticks(range(lo, hi + 1))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))


def mark_output_layer(ax, out):
    """Shade the output layer L+1 and say so in its tick label."""
    ax.axvspan(out - 0.5, out + 0.5, color="0.92", zorder=0)
    lo, hi = ax.get_xlim()
    too_close = 1.0 if hi - lo <= 13.5 else (hi - lo) / 12   # every layer has a tick up to 13
    ticks = [int(t) for t in ax.get_xticks() if lo <= t <= hi and not 0 < abs(t - out) < too_close]
    if out not in ticks:
        ticks.append(out)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t}\n(output)" if t == out else str(t) for t in ticks])


def log_axis(ax, series):
    """Log y axis when something positive and finite is drawn; else say that nothing is."""
    if any(s.state == "ok" for s in series):
        ax.set_yscale("log")
        return True
    ax.text(0.5, 0.5, "no finite positive values", transform=ax.transAxes, ha="center",
            va="center", color="0.4")
    return False


def log_span(ax, decades=2.0):
    """Widen a log y axis to at least `decades`, so that a flat line looks flat and noise small."""
    lo, hi = ax.get_ylim()
    if lo <= 0 or hi <= 0 or not (math.isfinite(lo) and math.isfinite(hi)):
        return
    span = math.log10(hi / lo)
    if span < decades:
        pad = (decades - span) / 2
        ax.set_ylim(lo / 10 ** pad, hi * 10 ** pad)


def log_steps(steps, exp):
    """True when the probe steps are log-spaced (a log schedule, or gaps that span decades)."""
    positive = sorted(s for s in steps if s > 0)
    if not positive:
        return False
    if exp.config_value("probe.schedule") == "log":
        return True
    if len(positive) >= 4:
        diffs = np.diff(positive)
        return bool(diffs.min() > 0 and diffs.max() / diffs.min() > 20)
    return False


def step_axis(ax, steps, exp):
    """Linear step axis, or symlog (from step 0, no negative side) when the steps are log-spaced."""
    if log_steps(steps, exp):
        positive = sorted(s for s in steps if s > 0)
        ax.set_xscale("symlog", linthresh=max(1.0, positive[0]))
        ax.set_xlim(left=0)
    ax.set_xlabel("training step (updates)")


def as_percent(values):
    """True when the error values look like fractions (then they are drawn in %)."""
    v = [x for x in values if finite(x)]
    return bool(v) and max(v) <= 1.0 and min(v) >= 0.0


def depth_selection(exp, keys):
    """With several depths in the grid, per-layer figures show only the deepest configurations:
    (kept keys, caption note, title note)."""
    i = exp.axis_ending("depth")
    depths = {exp.axis_value(k, i) for k in keys} - {None} if i is not None else set()
    if len(depths) <= 1:
        return keys, "", ""
    deepest = max(depths)
    kept = [k for k in keys if exp.axis_value(k, i) == deepest]
    shown = f"depth = {deepest:g}"
    return kept, (f" Only the deepest networks of the grid are shown ({shown}; other depths: "
                  "see the runs table)."), shown


def layer_keys(exp, table, runs_rows):
    keys = [k for k in exp.configs if any(r in runs_rows for r in exp.config_runs[k])]
    return depth_selection(exp, keys)


LAYER_CMAP_TOP = 0.88   # viridis beyond this is too light on white


def layer_palette(n):
    """n colours from layer 1 (dark) to the top layer (light)."""
    return [plt.cm.viridis(x) for x in np.linspace(0.0, LAYER_CMAP_TOP, max(n, 1))]


def layer_cmap():
    """The colour map of layer_palette, for a colour bar of depth."""
    return ListedColormap(layer_palette(256), name="layers")


def hidden_layers(table, rows):
    out = output_layer_of(table, rows)
    return list(range(1, out)) if out else []


def per_layer_step_series(exp, table, rows_by, key, layer, column):
    per_run = []
    for run in exp.config_runs[key]:
        d = {}
        for r in rows_by.get(run, []):
            if table.num(r, "layer") == layer:
                step = table.num(r, "step")
                if finite(step):
                    d[step] = table.num(r, column)
        if d:
            per_run.append(d)
    return aggregate(per_run) if per_run else None


def panel_grid(n_panels, ncols, height, width=10.5):
    """A grid of panels sharing the step axis; unused cells are hidden."""
    nrows = max(1, math.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(width, 0.9 + height * nrows), squeeze=False,
                             sharex=True)
    flat = list(axes.ravel())
    for ax in flat[n_panels:]:
        ax.axis("off")
    return fig, flat[:n_panels], axes


def shown_configs(keys, cap=MAX_PANEL_ROWS):
    shown = keys[:cap]
    omitted = len(keys) - len(shown)
    return shown, (f" {omitted} further configurations are not shown." if omitted else "")


def colour_bar(fig, mappable, axes, label, **kwargs):
    """A colour bar drawn as vectors: rasterized, two bars of one colour map would be two equal
    images with the same id in an SVG (and report.html inlines every SVG)."""
    bar = fig.colorbar(mappable, ax=axes, **kwargs)
    bar.solids.set_rasterized(False)
    bar.set_label(label, fontsize=8)
    return bar


def spread_steps(steps, n=5):
    """Up to n of the sorted steps: the first, the last and evenly spaced ones between."""
    if len(steps) <= n:
        return list(steps)
    return [steps[i] for i in sorted({round(k * (len(steps) - 1) / (n - 1)) for k in range(n)})]


def bottom_step_axes(axes, n_panels, steps, exp):
    """Step labels on the lowest visible panel of every column."""
    nrows, ncols = axes.shape
    for c in range(ncols):
        for r in range(nrows - 1, -1, -1):
            if r * ncols + c < n_panels:
                step_axis(axes[r][c], steps, exp)
                axes[r][c].xaxis.set_tick_params(labelbottom=True)
                break


def config_rows(exp, table, rows_by, key):
    return [r for run in exp.config_runs[key] for r in rows_by.get(run, [])]


def depth_series(exp, keys, value_of_run, log=True):
    """Series of value_of_run(run) against the run's depth, aggregated over repeats and
    configurations of the group (None when no run has a value)."""
    per_run = []
    for key in keys:
        for run in exp.config_runs[key]:
            depth, value = exp.run_depth(run), value_of_run(run)
            if depth is not None and value is not None:
                per_run.append({float(depth): value})
    return aggregate(per_run, log) if per_run else None


def draw_depth_group(ax, exp, colors, label, keys, s):
    """A depth group's line against depth (group_color) with one marker per configuration in its
    own colour. With depth the only axis the line is neutral and the markers carry the legend
    (one entry per configuration), so a depth sweep is never one colour named after the
    experiment."""
    solo = depth_only(exp)
    draw_series(ax, s, group_color(exp, colors, label), "_" if solo else label, marker=None)
    if s.state != "ok":
        return
    for key in keys:
        depths = {exp.run_depth(run) for run in exp.config_runs[key]} - {None}
        if len(depths) != 1:
            continue
        depth = float(depths.pop())
        y = s.y[s.x == depth]
        if len(y) and np.isfinite(y[0]):
            ax.plot([depth], [y[0]], linestyle="none", marker="o", markersize=5, color=colors[key],
                    zorder=4, label=exp.label(key) if solo else "_")


def theory_chis(exp, table, rows):
    """{layer l: chi_l} (theory_delta_factor) of one run's rows at the first probe step."""
    chi = {}
    for r in rows:
        layer, value = table.num(r, "layer"), table.num(r, "theory_delta_factor")
        if finite(layer) and finite(value) and value > 0:
            chi[int(layer)] = value
    return chi


def finish_depth_figure(fig, axes, labels, depths, theory_label, title):
    """Labels a figure of quantities against depth: labels = [(ylabel, panel title)] of axes; the
    legend of configurations (and the dashed theory line when theory_label) right of the last."""
    for ax, (ylabel, panel_title) in zip(axes, labels):
        depth_axis(ax, depths)
        ax.grid(True, which="major", alpha=0.3)
        ax.set_ylabel(ylabel)
        ax.set_title(panel_title)
    extra = [(Line2D([], [], color="0.3", linestyle="--"), theory_label)] if theory_label else []
    legend_outside(axes[-1], title="configuration", extra=extra)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()


def depth_axis(ax, depths):
    ax.set_xlabel("depth L (hidden layers)")
    depths = sorted({d for d in depths if finite(d) and d > 0})
    if len(depths) >= 3 and depths[-1] / depths[0] >= 8:
        ax.set_xscale("log")
        ax.set_xticks(depths)
        ax.set_xticklabels([f"{d:g}" for d in depths])
        ax.minorticks_off()
    elif depths:
        ax.set_xticks(depths)
