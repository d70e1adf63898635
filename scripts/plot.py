#!/usr/bin/python3
"""Figures and a self-contained report.html for a gradlab result folder.

Usage:  scripts/plot.py RESULT_DIR [--format png|svg] [--out FIGDIR] [--hist-steps S,S,...]

Run it with Debian's /usr/bin/python3 (python3-numpy, python3-matplotlib); nothing else is needed.

Inputs (docs/reference.md § 5; every file is optional, figures whose data are absent are skipped):
  manifest.json   "config" (the resolved config), "axes" (grid axis names), "runs" (id, point,
                  repeat, seed) -- the runs' order fixes the order and colours of configurations.
  runs.csv        one row per run: status, verdict, gradient_ratio, per_layer_factor, final_*.
  layers.csv      per run, probe step and layer l = 1..L+1 (L+1 = the output layer): delta_norm,
                  grad_w_norm, act_mean/std/p98, saturated_frac, dead_frac, theory_delta_factor...
  steps.csv       per run and probe step: loss, probe_loss, probe_error, test_error, sigma_max...
  timesteps.csv   (RNN) per run, probe step and t = 1..T: dh_norm, dh_last_norm, ...
  histograms.csv  per run, step, layer, quantity (act, preact, delta, grad_w), bin, lo, hi, count;
                  bin -1 = underflow, bin `bins` = overflow, bin empty/`nonfinite` = non-finite.
  theory.csv      (optional) layer, q, chi -- used when layers.csv has no theory_delta_factor.

Every CSV starts with `run`, then one column per grid axis (full dotted path, or `variants`), then
`repeat`, `seed`. Columns are looked up by name; unknown columns are ignored. Empty cells mean "does
not apply"; `nan`, `inf`, `-inf` are skipped in lines.

A *configuration* is one grid point (the values of the axis columns); its repeats are aggregated
(arithmetic mean and min-max band, or geometric mean for quantities drawn on a log axis). Each
configuration gets one colour, used in every figure and in the report's runs table.

Outputs: RESULT_DIR/figures/<name>.<fmt> (or FIGDIR), RESULT_DIR/report.html; their paths are
printed to stdout.  Exit status: 0 ok; 1 some figure failed (the others and the report were still
written); 2 usage error or no result tables; 3 numpy/matplotlib missing or output not writable.
"""

import argparse
import base64
import csv
import datetime
import html
import json
import math
import os
import re
import sys
from collections import OrderedDict, defaultdict, namedtuple

try:
    import numpy as np
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    IMPORT_ERROR = None
except ImportError as error:  # reported by main(), so that --help still works
    IMPORT_ERROR = error

TABLES = ["runs", "layers", "steps", "timesteps", "histograms", "theory"]
DPI = 110
MAX_LEGEND = 16          # more configurations than this: no legend (the runs table has the colours)
MAX_PANEL_ROWS = 8       # small multiples show at most this many configurations
MAX_HIST_COLUMNS = 4
QUANTITY_LABELS = {
    "act": "activation a_l",
    "preact": "pre-activation z_l",
    "delta": "back-propagated gradient δ_l = ∂ℓ/∂z_l",
    "grad_w": "weight gradient ∂L/∂W_l",
}


def warn(message):
    print(f"gradlab plot: {message}", file=sys.stderr)


# ----------------------------------------------------------------------------------------------
# Reading the tables
# ----------------------------------------------------------------------------------------------

class Table:
    """A CSV table: header and rows of strings; cells are looked up by column name."""

    def __init__(self, name, header, rows):
        self.name = name
        self.header = header
        self.rows = rows
        self.index = {}
        for i, column in enumerate(header):
            self.index.setdefault(column, i)

    def has(self, column):
        return column in self.index

    def cell(self, row, column):
        i = self.index.get(column)
        if i is None or i >= len(row):
            return ""
        return row[i].strip()

    def num(self, row, column):
        """The cell as a float (nan/inf included), or None when empty or not a number."""
        text = self.cell(row, column)
        if not text:
            return None
        try:
            return float(text)
        except ValueError:
            return None

    def has_values(self, column):
        return self.has(column) and any(self.cell(r, column) for r in self.rows)


def read_table(path, name):
    if not os.path.isfile(path):
        return None
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            return None
        rows = [row for row in reader if row]
    return Table(name, [h.strip() for h in header], rows)


def read_json(path, quiet=False):
    if not os.path.isfile(path):
        return {}
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError) as error:
        if not quiet:
            warn(f"{path}: cannot read ({error}); continuing without it")
        return {}


def finite(value):
    return value is not None and math.isfinite(value)


def last_component(path):
    return path.split(".")[-1]


def int_or_none(text):
    try:
        return int(float(text))
    except (TypeError, ValueError, OverflowError):
        return None


class Experiment:
    """A result folder: manifest, tables, runs, and the ordered configurations with colours."""

    def __init__(self, folder):
        self.folder = folder
        self.manifest = self._read_manifest()
        self.config = self.manifest.get("config") or {}
        self.tables = {n: read_table(os.path.join(folder, n + ".csv"), n) for n in TABLES}
        self.axes = self._find_axes()
        self._index_runs()
        self.resolved = self._read_resolved()
        self.colors = assign_colors(self.configs)

    def _read_manifest(self):
        return read_json(os.path.join(self.folder, "manifest.json"))

    def run_json(self, run, name):
        """runs/<run>/<name> (config.json: the resolved config; summary.json), or {}."""
        return read_json(os.path.join(self.folder, "runs", run, name), quiet=True)

    def _read_resolved(self):
        """The first run's resolved config (defaults filled), for keys the manifest's lacks."""
        for run in self.run_order[:1]:
            return self.run_json(run, "config.json")
        return {}

    def table(self, name):
        return self.tables.get(name)

    def has_results(self):
        return any(self.tables[n] is not None for n in TABLES if n != "theory")

    def _find_axes(self):
        """Grid axes = the columns between `run` and `repeat` (falls back to the manifest)."""
        for name in TABLES:
            t = self.tables[name]
            if t is not None and t.has("run") and t.has("repeat"):
                start, stop = t.index["run"], t.index["repeat"]
                if stop > start:
                    return t.header[start + 1:stop]
        axes = self.manifest.get("axes")
        if not isinstance(axes, list):
            return []
        return [str(a.get("name", "")) if isinstance(a, dict) else str(a) for a in axes]

    def _index_runs(self):
        order = []
        for run in self.manifest.get("runs") or []:
            if isinstance(run, dict) and "id" in run:
                order.append(str(run["id"]))
        self.run_config, self.run_repeat = {}, {}
        for name in ["runs", "layers", "steps", "timesteps", "histograms"]:
            t = self.tables[name]
            if t is None or not t.has("run"):
                continue
            for row in t.rows:
                run = t.cell(row, "run")
                if run in self.run_config:
                    continue
                self.run_config[run] = tuple(t.cell(row, a) for a in self.axes)
                self.run_repeat[run] = t.cell(row, "repeat")
                if run not in order:
                    order.append(run)
        self.run_order = [r for r in order if r in self.run_config]
        self.configs = []
        self.config_runs = OrderedDict()
        for run in self.run_order:
            key = self.run_config[run]
            if key not in self.config_runs:
                self.configs.append(key)
                self.config_runs[key] = []
            self.config_runs[key].append(run)

    # --- names -----------------------------------------------------------------------------
    def axis_short_names(self):
        shorts = [last_component(a) for a in self.axes]
        return [s if shorts.count(s) == 1 else a for s, a in zip(shorts, self.axes)]

    def label(self, key):
        if not self.axes:
            runs = self.config_runs.get(key, [])
            if len(runs) == 1:
                return runs[0]
            return f"{self.config.get('name') or 'run'} ({len(runs)} repeats)"
        parts = []
        for axis, short, value in zip(self.axes, self.axis_short_names(), key):
            parts.append(value if axis == "variants" else f"{short}={value}")
        return ", ".join(parts)

    def axis_ending(self, suffix):
        for i, axis in enumerate(self.axes):
            if last_component(axis) == suffix:
                return i
        return None

    def axis_value(self, key, index):
        try:
            return float(key[index])
        except (TypeError, ValueError, IndexError):
            return None

    def config_value(self, dotted, default=None):
        """A config key: from the manifest's config, else from the first run's resolved one."""
        for node in (self.config, self.resolved):
            for part in dotted.split("."):
                if not isinstance(node, dict) or part not in node:
                    node = None
                    break
                node = node[part]
            if node is not None:
                return node
        return default

    def name(self):
        return self.config.get("name") or self.manifest.get("name") or os.path.basename(
            os.path.abspath(self.folder))


def assign_colors(configs):
    n = len(configs)
    if n <= 10:
        colors = [plt.cm.tab10(i) for i in range(n)]
    elif n <= 20:
        colors = [plt.cm.tab20(i) for i in range(n)]
    else:
        colors = [plt.cm.turbo(x) for x in np.linspace(0.05, 0.95, n)]
    return {key: colors[i] for i, key in enumerate(configs)}


def rows_by_run(table):
    grouped = OrderedDict()
    for row in table.rows:
        grouped.setdefault(table.cell(row, "run"), []).append(row)
    return grouped


def first_step_rows(table):
    """For every run, its rows at the first probe step (step 0 when present)."""
    result = OrderedDict()
    for run, rows in rows_by_run(table).items():
        steps = [table.num(r, "step") for r in rows]
        known = [s for s in steps if finite(s)]
        if not known:
            result[run] = rows
            continue
        first = min(known)
        result[run] = [r for r, s in zip(rows, steps) if s == first]
    return result


def distinct_steps(table):
    return sorted({s for s in (table.num(r, "step") for r in table.rows) if finite(s)})


# ----------------------------------------------------------------------------------------------
# Aggregation over repeats
# ----------------------------------------------------------------------------------------------

Series = namedtuple("Series", "x y lo hi state")   # state: ok | nonfinite | nonpositive


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


def legend_outside(ax, title=None, extra=()):
    handles, labels = ax.get_legend_handles_labels()
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


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------

Figure = namedtuple("Figure", "name path title caption")


class Context:
    def __init__(self, exp, outdir, fmt, hist_steps):
        self.exp, self.outdir, self.fmt, self.hist_steps = exp, outdir, fmt, hist_steps

    def save(self, fig, name, title, caption):
        path = os.path.join(self.outdir, f"{name}.{self.fmt}")
        metadata = {"Date": None} if self.fmt == "svg" else None   # reproducible files
        fig.savefig(path, dpi=DPI, bbox_inches="tight", metadata=metadata)
        plt.close(fig)
        return Figure(name, path, title, caption)


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


def output_layer_of(table, rows):
    layers = [table.num(r, "layer") for r in rows]
    layers = [l for l in layers if finite(l)]
    return int(max(layers)) if layers else None


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
        color = exp.colors[key]
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
        draw_series(ax2, s, exp.colors[key], exp.label(key))
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


def layer_palette(n):
    return [plt.cm.viridis(x) for x in np.linspace(0.0, 0.88, max(n, 1))]


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


def shown_configs(keys):
    shown = keys[:MAX_PANEL_ROWS]
    omitted = len(keys) - len(shown)
    return shown, (f" {omitted} further configurations are not shown." if omitted else "")


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
    logx = log_steps(steps, exp)
    for row, key in enumerate(shown):
        ax_mean, ax_p98 = panels[2 * row], panels[2 * row + 1]
        layers = hidden_layers(t, config_rows(exp, t, rows_by, key))
        every = max(1, len(steps) // 12)
        for i, (layer, color) in enumerate(zip(layers, layer_palette(len(layers)))):
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
        ax_mean.set_title(exp.label(key), fontsize=9.5, color=exp.colors[key], loc="left")
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
    return ctx.save(fig, "activations_over_training", "Activations during training",
                    caption + note + depth_note)


SATURATION_PANELS = [("saturated_frac", "saturated", "% of (example, unit) pairs"),
                     ("dead_frac", "dead units", "% of units")]


def fig_saturation_over_training(ctx):
    t = ctx.exp.table("layers")
    if t is None or not t.has("layer"):
        return None
    if not (t.has_values("saturated_frac") or t.has_values("dead_frac")):
        return None
    if t.has("step") and len(distinct_steps(t)) >= 2:
        return saturation_vs_step(ctx, t)
    return saturation_by_layer(ctx, t)


def nonzero_columns(t, candidates):
    """The candidates with some non-zero value (a panel of zeros only is dropped)."""
    kept = [c for c in candidates
            if any((v := t.num(r, c[0])) is not None and v != 0 for r in t.rows)]
    return kept or candidates[:1]


def saturation_vs_step(ctx, t):
    exp = ctx.exp
    rows_by = rows_by_run(t)
    keys, depth_note, _ = layer_keys(exp, t, rows_by)
    shown, note = shown_configs(keys)
    quantities = nonzero_columns(t, SATURATION_PANELS)
    fig, panels, grid = panel_grid(len(shown) * len(quantities), 2, height=2.4)
    for k, key in enumerate(shown):
        layers = hidden_layers(t, config_rows(exp, t, rows_by, key))
        for j, (column, what, unit) in enumerate(quantities):
            ax = panels[k * len(quantities) + j]
            for layer, color in zip(layers, layer_palette(len(layers))):
                s = per_layer_step_series(exp, t, rows_by, key, layer, column)
                if s is not None:
                    s = s._replace(y=100 * s.y, lo=100 * s.y, hi=100 * s.y)
                    draw_series(ax, s, color, f"layer {layer}", marker=None)
            ax.set_title(f"{exp.label(key)}: {what}", fontsize=9, color=exp.colors[key])
            ax.set_ylabel(unit)
            ax.set_ylim(-2, 102)
            ax.grid(True, alpha=0.3)
    legend_outside(panels[min(1, len(panels) - 1)], title="hidden layer")
    bottom_step_axes(grid, len(panels), distinct_steps(t), exp)
    fig.suptitle("Saturation and dead units during training", fontsize=12)
    fig.tight_layout()
    caption = ("One panel per configuration and quantity. saturated: the share of (example, unit) "
               "pairs of each hidden layer whose |φ′(z)| is below τ·sup|φ′| (tanh: |a| > 0.975; "
               "ReLU: inactive). dead units: the share of units whose φ′ is exactly 0 for every "
               "probe example (dead ReLUs). Colours run from layer 1 (dark) to the top hidden layer.")
    dropped = [panel[1] for panel in SATURATION_PANELS if panel not in quantities]
    if dropped:
        caption += f" Not drawn because they are 0 everywhere: {', '.join(dropped)}."
    return ctx.save(fig, "saturation_over_training", "Saturation and dead units",
                    caption + note + depth_note)


def saturation_by_layer(ctx, t):
    exp = ctx.exp
    rows_of_run = first_step_rows(t)
    keys, depth_note, _ = layer_keys(exp, t, rows_of_run)
    quantities = nonzero_columns(t, SATURATION_PANELS)
    fig, axes = plt.subplots(1, len(quantities), figsize=(5.2 * len(quantities) + 1, 4.2),
                             squeeze=False, sharex=True)
    axes = axes[0]
    bars = len(keys) <= 8
    width = 0.8 / max(len(keys), 1)
    all_layers = []
    for i, key in enumerate(keys):
        hidden = set(hidden_layers(t, config_rows(exp, t, rows_of_run, key)))
        all_layers += list(hidden)
        for ax, (column, _, _) in zip(axes, quantities):
            s = config_series(exp, t, rows_of_run, [key], "layer", column).get(key)
            if s is None:
                continue
            keep = np.array([x in hidden for x in s.x])
            s = Series(s.x[keep], 100 * s.y[keep], 100 * s.lo[keep], 100 * s.hi[keep], s.state)
            label = exp.label(key)
            if s.state != "ok" or not bars:
                draw_series(ax, s, exp.colors[key], label)
                continue
            x = s.x - 0.4 + width * (i + 0.5)
            err = np.nan_to_num(np.vstack([s.y - s.lo, s.hi - s.y]))
            ax.bar(x, np.nan_to_num(s.y), width=width, color=exp.colors[key], label=label,
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
    fig.tight_layout()
    caption = ("Per hidden layer at the first probe step: the share of (example, unit) pairs in the "
               "saturated regime of the activation (tanh: |a| > 0.975; ReLU: inactive) and the share "
               "of units that are off for every probe example (dead ReLUs). Bars are means over "
               "repeats, whiskers the min–max.")
    dropped = [panel[1] for panel in SATURATION_PANELS if panel not in quantities]
    if dropped:
        caption += f" Not drawn because they are 0 everywhere: {', '.join(dropped)}."
    return ctx.save(fig, "saturation_over_training", "Saturation and dead units",
                    caption + depth_note)


# --- histograms -----------------------------------------------------------------------------

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
    total = counts.sum() + out
    if total <= 0:
        return 0.0
    lo = np.array([e[0] for e in edges])
    hi = np.array([e[1] for e in edges])
    density = counts / total / (hi - lo)
    contiguous = np.allclose(lo[1:], hi[:-1])
    if contiguous:
        ax.stairs(density, np.append(lo, hi[-1]), color=color, label=label, linewidth=1.3)
    else:
        ax.bar(lo, density, width=hi - lo, align="edge", fill=False, edgecolor=color, label=label)
    return out / total


QUANTITY_SYMBOLS = {"act": "a_l", "preact": "z_l", "delta": "δ_l", "grad_w": "∂L/∂W_l"}


def fig_histograms(ctx):
    exp, t = ctx.exp, ctx.exp.table("histograms")
    if t is None or not all(t.has(c) for c in ("step", "layer", "quantity", "count")):
        return None
    available = distinct_steps(t)
    if not available:
        return None
    steps = sorted({s for s in (ctx.hist_steps or [available[0], available[-1]]) if s in available})
    data = histogram_data(exp, t, set(steps))
    if not data:
        return None
    quantities = [q for q in ("act", "preact", "delta", "grad_w") if any(k[0] == q for k in data)]
    quantities += sorted({k[0] for k in data} - set(quantities))
    keys = [k for k in exp.configs if any(d[2] == k for d in data)]
    keys, depth_note, _ = depth_selection(exp, keys)
    shown = keys[:MAX_HIST_COLUMNS]
    top = top_hidden_layer(exp)
    rows = [(q, s) for q in quantities for s in steps if any(k[0] == q and k[1] == s for k in data)]
    fig, axes = plt.subplots(len(rows), len(shown), squeeze=False,
                             figsize=(min(11.0, 1.6 + 2.6 * len(shown)), 0.9 + 2.0 * len(rows)))
    log_scale = exp.config_value("probe.hist_scale") == "log10abs"
    for r, (quantity, step) in enumerate(rows):
        for c, key in enumerate(shown):
            ax = axes[r][c]
            layers = sorted({k[3] for k in data if k[0] == quantity and k[1] == step and k[2] == key
                             and k[3] is not None and (top.get(key) is None or k[3] <= top[key])})
            outside = 0.0
            for layer, color in zip(layers, layer_palette(len(layers))):
                edges, counts, out = data[(quantity, step, key, layer)]
                outside = max(outside, draw_histogram(ax, edges, counts, out, color, f"layer {layer}"))
            symbol = QUANTITY_SYMBOLS.get(quantity, quantity)
            ax.set_xlabel(f"log10 |{symbol}|" if log_scale else symbol, fontsize=8, labelpad=1)
            if r == 0:
                ax.set_title(exp.label(key).replace(", ", "\n"), fontsize=8.5, color=exp.colors[key])
            if c == 0:
                ax.set_ylabel(f"{quantity}, step {step:g}\n\ndensity", fontsize=8.5)
            if outside > 0.001:
                ax.text(0.98, 0.97, f"{100 * outside:.1f}%\noutside", transform=ax.transAxes,
                        ha="right", va="top", fontsize=6.5, color="0.3",
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})
            ax.tick_params(labelsize=7)
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.ticklabel_format(axis="both", style="sci", scilimits=(-2, 3))
            ax.xaxis.get_offset_text().set_fontsize(7)
            ax.yaxis.get_offset_text().set_fontsize(7)
            if r == 0 and c == len(shown) - 1:
                legend_outside(ax, title="hidden layer")
    fig.suptitle("Normalized histograms per layer (probe set)", fontsize=12)
    fig.tight_layout()
    omitted = len(keys) - len(shown)
    names = ", ".join(f"{q} = {QUANTITY_LABELS.get(q, q)}" for q in quantities)
    caption = ("Normalized histograms (probability density) of the probe-set values of each hidden "
               "layer — colours run from layer 1 (dark) to the top hidden layer (light) — one row per "
               "quantity and probe step (first and last by default; --hist-steps chooses), one column "
               f"per configuration. Quantities: {names}. Compare Glorot & Bengio 2010 Figs. 4 and 6–8 "
               "(activations at the end of training; activations, back-propagated gradients and "
               "weight gradients at initialization, standard vs normalized init). Each bin is drawn "
               "over [lo, hi); the share of values outside the fixed bin range (under/overflow and "
               "non-finite) is noted in the corner. Repeats are pooled when their bins agree.")
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


# --- RNN ------------------------------------------------------------------------------------

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
    """One panel per activation (many configurations): lines coloured by their position within
    the panel, so the same value of the other axes has the same colour in every panel."""
    exp = ctx.exp
    i = exp.axis_ending("activation")
    others = [j for j in range(len(exp.axes)) if j != i]
    short = exp.axis_short_names()
    groups = list(by_activation.items())[:6]
    ncols = 2 if len(groups) in (2, 4) else 3
    nrows = math.ceil(len(groups) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(11 if ncols == 3 else 9.5, 0.8 + 3.3 * nrows),
                             squeeze=False, sharex=True)
    n_lines = max(len(keys) for _, keys in groups)
    palette = [plt.cm.tab10(k) for k in range(10)] if n_lines <= 10 else \
        [plt.cm.viridis(x) for x in np.linspace(0, 0.95, n_lines)]
    symbols = set()
    for g, (activation, keys) in enumerate(groups):
        ax = axes[g // ncols][g % ncols]
        series = [dh[k] for k in keys if k in dh]
        lowest = min((np.nanmin(s.lo) for s in series if s.state == "ok"), default=None)
        for n, key in enumerate(keys):
            if key not in dh:
                continue
            label = ", ".join(key[j] if exp.axes[j] == "variants" else f"{short[j]}={key[j]}"
                              for j in others)
            draw_series(ax, dh[key], palette[n], label or exp.label(key))
            symbols |= draw_rnn_bound(exp, ax, key, dh[key], palette[n], sigma_first)
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
    legend_outside(axes[0][ncols - 1], title="configuration", extra=extra)
    fig.suptitle("Back-propagation through time at initialization, one panel per activation",
                 fontsize=12)
    fig.tight_layout()
    caption = ("Norm of the gradient of the loss with respect to the hidden state h_t, against the "
               "time step t, at the first probe step, one panel per activation (each with its own "
               "log scale); the same colour is the same value of the other grid axes in every panel. "
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
            color = exp.colors[key]
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


# --- training curves ------------------------------------------------------------------------

def draw_pair(ax, exp, t, rows_by, key, solid, dotted, scale=1.0):
    """One configuration's `solid` column as a line with its band, `dotted` as a dotted line."""
    color = exp.colors[key]
    values = []
    for column, style in ((solid, "-"), (dotted, ":")):
        s = config_series(exp, t, rows_by, [key], "step", column).get(key)
        if s is None:
            continue
        s = s._replace(y=scale * s.y, lo=scale * s.lo, hi=scale * s.hi)
        values += list(s.y)
        if style == "-":
            draw_series(ax, s, color, exp.label(key), marker=None)
        elif s.state == "ok":
            ax.plot(s.x, s.y, color=color, linestyle=style, linewidth=1.2)
    return values


def fig_test_error(ctx):
    exp, t = ctx.exp, ctx.exp.table("steps")
    if t is None or not t.has("step") or len(distinct_steps(t)) < 2:
        return None
    panels = []
    if t.has_values("test_error") or t.has_values("probe_error"):
        panels.append("error")
    if t.has_values("loss") or t.has_values("probe_loss"):
        panels.append("loss")
    if not panels:
        return None
    rows_by = rows_by_run(t)
    keys = [k for k in exp.configs if any(r in rows_by for r in exp.config_runs[k])]
    fig, axes = plt.subplots(1, len(panels), figsize=(11 if len(panels) == 2 else 8, 4.4),
                             squeeze=False)
    axes = dict(zip(panels, axes[0]))
    percent = as_percent([t.num(r, c) for r in t.rows for c in ("test_error", "probe_error")])
    loss_values = []
    for key in keys:
        if "error" in axes:
            draw_pair(axes["error"], exp, t, rows_by, key, "test_error", "probe_error",
                      100.0 if percent else 1.0)
        if "loss" in axes:
            loss_values += draw_pair(axes["loss"], exp, t, rows_by, key, "loss", "probe_loss")
    captions = []
    if "error" in axes:
        axes["error"].set_ylabel("error (%)" if percent else "error")
        axes["error"].set_title("Test error (solid) and probe error (dotted)")
        captions.append("error on the held-out test set (solid) and on the probe set (dotted) "
                        "against the number of updates (Glorot & Bengio 2010, Fig. 11)")
    if "loss" in axes:
        ax = axes["loss"]
        cross_entropy = exp.config_value("loss", "cross_entropy") == "cross_entropy"
        ax.set_ylabel("loss (nats)" if cross_entropy else "loss (½ squared error)")
        ax.set_title("Training loss (solid) and probe loss (dotted)")
        if spans_decades(loss_values) and all(v > 0 for v in loss_values if finite(v)):
            ax.set_yscale("log")
        captions.append("the mean training loss since the previous probe (solid) and the loss on "
                        "the probe set (dotted)")
    for ax in axes.values():
        step_axis(ax, distinct_steps(t), exp)
        ax.grid(True, alpha=0.3)
    legend_outside(axes[panels[-1]], title="configuration")
    fig.suptitle("Learning curves", fontsize=12)
    fig.tight_layout()
    parts = [f"{side}: {text}" for side, text in zip(("Left", "Right"), captions)] \
        if len(captions) == 2 else [captions[0][0].upper() + captions[0][1:]]
    caption = (". ".join(parts) + ". One colour per configuration; means over repeats with "
               "min–max bands; non-finite values (a diverged run) leave gaps.")
    return ctx.save(fig, "test_error", "Learning curves", caption)


# --- summary table --------------------------------------------------------------------------

def trained(exp):
    steps = exp.config_value("train.steps")
    if isinstance(steps, (int, float)):
        return steps > 0
    t = exp.table("steps")
    return t is None or any(s > 0 for s in distinct_steps(t))


def summary_rows(exp):
    """[(config, n, mean, std, percent)] of final_test_error over repeats, or [] without data
    (or for a study at initialization, where the final error is the chance error)."""
    t = exp.table("runs")
    if t is None or not t.has_values("final_test_error") or not trained(exp):
        return []
    by_run = {t.cell(r, "run"): t.num(r, "final_test_error") for r in t.rows}
    percent = as_percent(by_run.values())
    result = []
    for key in exp.configs:
        values = [by_run.get(run) for run in exp.config_runs[key]]
        good = [v for v in values if finite(v)]
        if not values or all(v is None for v in values):
            continue
        scale = 100.0 if percent else 1.0
        mean = scale * sum(good) / len(good) if good else float("nan")
        std = scale * float(np.std(good, ddof=1)) if len(good) > 1 else float("nan")
        result.append((key, len(good), mean, std, percent))
    return result


def format_mean_std(mean, std, percent):
    if not math.isfinite(mean):
        return "n/a"
    text = f"{mean:.2f}" if percent else f"{mean:.4g}"
    if math.isfinite(std):
        text += f" ± {std:.2f}" if percent else f" ± {std:.2g}"
    return text


def summary_layout(exp, rows):
    """(header, [(row label, row colour or None, [(cell text, colour)])]): a pivot table
    (first axis down, second across, as Glorot's Table 1) for a two-axis grid, else a list."""
    percent = rows[0][4]
    unit = " (%)" if percent else ""
    if len(exp.axes) == 2:
        down = list(OrderedDict.fromkeys(k[0] for k, *_ in rows))
        across = list(OrderedDict.fromkeys(k[1] for k, *_ in rows))
        if len(down) > 1 and len(across) > 1:
            short = exp.axis_short_names()
            cells = {k: (format_mean_std(m, sd, p), exp.colors[k]) for k, n, m, sd, p in rows}
            header = [f"{short[0]} ↓  {short[1]} →"] + across
            body = [(d, None, [cells.get((d, a), ("", None)) for a in across]) for d in down]
            return header, body, ("in %, " if percent else "") + "mean ± std over repeats"
    header = ["configuration", "repeats", f"final test error{unit}"]
    body = [(exp.label(k), exp.colors[k], [(str(n), None), (format_mean_std(m, sd, p), None)])
            for k, n, m, sd, p in rows]
    return header, body, "mean ± std over repeats"


def fig_summary_table(ctx):
    exp = ctx.exp
    rows = summary_rows(exp)
    if not rows:
        return None
    header, body, note = summary_layout(exp, rows)
    text = [[label] + [c for c, _ in cells] for label, _, cells in body]
    fig, ax = plt.subplots(figsize=(min(11, 2.2 + 2.0 * len(header)), 0.7 + 0.32 * (len(text) + 1)))
    ax.axis("off")
    first = 0.45 if len(header) == 3 and header[0] == "configuration" else 0.3
    widths = [first] + [(1 - first) / (len(header) - 1)] * (len(header) - 1)
    table = ax.table(cellText=text, colLabels=header, loc="center", cellLoc="center",
                     colWidths=widths)
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.3)
    for i, (label, color, cells) in enumerate(body, start=1):
        if color is not None:
            table[i, 0].get_text().set_color(color)
        for j, (_, cell_color) in enumerate(cells, start=1):
            if cell_color is not None:
                table[i, j].get_text().set_color(cell_color)
    for j in range(len(header)):
        table[0, j].set_facecolor("0.9")
    ax.set_title(f"Final test error per configuration ({note})", fontsize=10)
    fig.tight_layout()
    caption = ("Test error at the end of training for each configuration, mean ± sample standard "
               "deviation over repeats (laid out like Glorot & Bengio 2010, Table 1, when the grid "
               "has two axes); the text colour is the configuration's colour in the other figures.")
    return ctx.save(fig, "summary_table", "Final test error", caption)


# --- phase diagram --------------------------------------------------------------------------

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


# --- depth studies --------------------------------------------------------------------------

def run_depth(exp, run):
    """Hidden layers L of a run: from its resolved config (depth or hidden), else the depth axis."""
    cache = exp.__dict__.setdefault("_run_depth", {})
    if run not in cache:
        model = exp.run_json(run, "config.json").get("model") or {}
        depth, hidden = model.get("depth"), model.get("hidden")
        i = exp.axis_ending("depth")
        value = exp.axis_value(exp.run_config.get(run, ()), i) if i is not None else None
        if isinstance(depth, (int, float)) and not isinstance(depth, bool):
            cache[run] = int(depth)
        elif isinstance(hidden, list) and hidden:
            cache[run] = len(hidden)
        else:
            cache[run] = int(value) if value is not None else None
    return cache[run]


def depth_groups(exp, keys):
    """{label of the non-depth axes: [config keys]} in the grid's order: one line per group
    when depth is on the x axis."""
    i = exp.axis_ending("depth")
    others = [j for j in range(len(exp.axes)) if j != i]
    short = exp.axis_short_names()
    groups = OrderedDict()
    for key in keys:
        parts = [key[j] if exp.axes[j] == "variants" else f"{short[j]}={key[j]}" for j in others]
        groups.setdefault(", ".join(parts) or exp.name(), []).append(key)
    return groups


def depth_series(exp, keys, value_of_run, log=True):
    """Series of value_of_run(run) against the run's depth, aggregated over repeats and
    configurations of the group (None when no run has a value)."""
    per_run = []
    for key in keys:
        for run in exp.config_runs[key]:
            depth, value = run_depth(exp, run), value_of_run(run)
            if depth is not None and value is not None:
                per_run.append({float(depth): value})
    return aggregate(per_run, log) if per_run else None


def theory_chis(exp, table, rows):
    """{layer l: chi_l} (theory_delta_factor) of one run's rows at the first probe step."""
    chi = {}
    for r in rows:
        layer, value = table.num(r, "layer"), table.num(r, "theory_delta_factor")
        if finite(layer) and finite(value) and value > 0:
            chi[int(layer)] = value
    return chi


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
        depth, chi = run_depth(exp, run), theory_chis(exp, layers, first.get(run, []))
        if depth is None or depth < 2 or any(l not in chi for l in range(1, depth)):
            return None
        return math.exp(sum(math.log(chi[l]) for l in range(1, depth)) / (depth - 1))

    groups = depth_groups(exp, exp.configs)
    colors = assign_colors(list(groups))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    ratios, factors, drew_theory = [], [], False
    for label, keys in groups.items():
        color = colors[label]
        s = depth_series(exp, keys, column("gradient_ratio"))
        if s is not None:
            draw_series(ax1, s, color, label)
            ratios.append(s)
        s = depth_series(exp, keys, column("per_layer_factor"))
        if s is not None:
            draw_series(ax2, s, color, label)
            factors.append(s)
        t = depth_series(exp, keys, predicted_factor) if layers is not None else None
        if t is not None and t.state == "ok":
            ax2.plot(t.x, t.y, color=color, linestyle="--", linewidth=1.2, zorder=3)
            drew_theory = True
    if not ratios:
        plt.close(fig)
        return None
    depths = [x for s in ratios + factors for x in s.x]
    for ax, series in ((ax1, ratios), (ax2, factors)):
        if log_axis(ax, series):
            log_span(ax)
        ax.axhline(1.0, color="0.5", linewidth=0.8, zorder=1)
        depth_axis(ax, depths)
        ax.grid(True, which="major", alpha=0.3)
    ax1.set_ylabel("gradient ratio ‖δ_1‖ / ‖δ_L‖")
    ax2.set_ylabel("per-layer factor of E‖δ‖²  (ratio^(2/(L−1)))")
    ax1.set_title("First over last hidden layer's gradient")
    ax2.set_title("Per-layer factor")
    extra = [(Line2D([], [], color="0.3", linestyle="--"), "mean-field ∏χ_l^(1/(L−1))")] if drew_theory else []
    legend_outside(ax2, title="configuration", extra=extra)
    fig.suptitle("Gradient ratio against depth at initialization", fontsize=12)
    fig.tight_layout()
    caption = ("Left: the ratio ‖δ_1‖/‖δ_L‖ of the back-propagated gradient at the first and the "
               "last hidden layer at initialization (runs.csv gradient_ratio), against the depth L; "
               "log scale, so a straight falling line is exponential vanishing and a flat line at 1 "
               "the ideal (the verdict calls < 1e-2 vanishing, > 1e2 exploding). Right: the same as "
               "a per-layer factor of E‖δ‖², ratio^(2/(L−1)); a depth-independent factor is a "
               "horizontal line. One line per configuration of the other grid axes; geometric mean "
               "over repeats, band min–max.")
    if drew_theory:
        caption += (" Dashed: the mean-field prediction of the per-layer factor, the geometric mean "
                    "of theory_delta_factor χ_l over l = 1..L−1.")
    return ctx.save(fig, "gradient_ratio_vs_depth", "Gradient ratio against depth", caption)


# --- input-output Jacobian spectrum (dynamical isometry) -------------------------------------

def dphi_of(activation):
    """phi' as a numpy function for the activations with a closed form here, else None."""
    spec = activation if isinstance(activation, dict) else {"name": activation}
    name = spec.get("name", "tanh")
    if name == "identity":
        return lambda z: np.ones_like(z)
    if name == "tanh":
        return lambda z: 1.0 / np.cosh(z) ** 2
    if name in ("relu", "leaky_relu", "prelu"):
        slope = float(spec.get("slope", 0.0 if name == "relu" else 0.01 if name == "leaky_relu" else 0.25))
        return lambda z: np.where(z > 0, 1.0, slope)
    if name == "hard_tanh":
        return lambda z: (np.abs(z) < 1).astype(float)
    if name == "sigmoid":
        return lambda z: 0.25 / np.cosh(z / 2) ** 2
    if name == "softsign":
        return lambda z: 1.0 / (1 + np.abs(z)) ** 2
    if name == "arctan":
        return lambda z: 1.0 / (1 + z * z)
    return None


def gauss_moments(dphi, q, ks=(1, 2)):
    """mu_k = E[phi'(sqrt(q) z)^(2k)], z ~ N(0, 1): trapezoid on [-12, 12] with 48001 points (the
    kink of relu at 0 costs ~1e-4 relative; plenty for a dashed line)."""
    z = np.linspace(-12, 12, 48001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    d2 = dphi(math.sqrt(max(q, 0.0)) * z) ** 2
    return [float(np.sum(w * d2 ** k)) for k in ks]


def weight_s1(init):
    """s_1 of W Wᵀ (papers.md §6.2): -1 for i.i.d. (Marchenko-Pastur) weights, 0 for orthogonal;
    None where neither applies (sparse, identity, spectrally rescaled)."""
    spec = init if isinstance(init, dict) else {"name": init}
    if any(k in spec for k in ("spectral_radius", "spectral_norm")):
        return None
    name = spec.get("name")
    if name == "orthogonal":
        return 0.0
    if name in ("sparse", "identity", None):
        return None
    return -1.0


def jacobian_io_of(exp, run):
    j = exp.run_json(run, "summary.json").get("jac_io")
    return j if isinstance(j, dict) else None


def jacobian_predictions(exp, layers, rows, run):
    """(m1, var/(m1^2 L)) predicted from the run's theory columns: m1 = prod_{l=1}^{L} chi_l
    (assumes layer 1 and the output layer have the same sigma_w^2), and the mean over layers of
    mu_2/mu_1^2 - 1 - s_1 at q_l. Either may be None."""
    depth = run_depth(exp, run)
    chi = theory_chis(exp, layers, rows)
    if depth is None or depth < 1:
        return None, None
    m1 = math.exp(sum(math.log(chi[l]) for l in range(1, depth + 1))) \
        if all(l in chi for l in range(1, depth + 1)) else None
    model = exp.run_json(run, "config.json").get("model") or {}
    dphi, s1 = dphi_of(model.get("activation", "tanh")), weight_s1(model.get("init", "glorot_uniform"))
    qs = {int(layers.num(r, "layer")): layers.num(r, "theory_q") for r in rows
          if finite(layers.num(r, "layer")) and finite(layers.num(r, "theory_q"))}
    if dphi is None or s1 is None or any(l not in qs for l in range(1, depth + 1)):
        return m1, None
    total = 0.0
    for l in range(1, depth + 1):
        mu1, mu2 = gauss_moments(dphi, qs[l])
        if mu1 <= 0:
            return m1, None
        total += mu2 / mu1 ** 2 - 1 - s1
    return m1, total / depth


def fig_jacobian_spectrum(ctx):
    exp = ctx.exp
    have = [run for run in exp.run_order if jacobian_io_of(exp, run)]
    if not have:
        return None
    layers = exp.table("layers")
    first = first_step_rows(layers) if layers is not None and layers.has("layer") else {}
    m1_of, var_of, pred = {}, {}, {}
    for run in have:
        j = jacobian_io_of(exp, run)
        m1, m2, depth = j.get("m1"), j.get("m2"), run_depth(exp, run)
        if not all(isinstance(v, (int, float)) for v in (m1, m2)) or not depth:
            continue
        m1_of[run] = float(m1)
        if m1 > 0 and math.isfinite(m1) and math.isfinite(m2):
            var_of[run] = (m2 - m1 * m1) / (m1 * m1 * depth)
        if layers is not None and layers.has_values("theory_q"):
            pred[run] = jacobian_predictions(exp, layers, first.get(run, []), run)
    keys = [k for k in exp.configs if any(r in m1_of for r in exp.config_runs[k])]
    groups = depth_groups(exp, keys)
    colors = assign_colors(list(groups))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4))
    s_m1, s_var, drew_theory = [], [], False
    for label, group in groups.items():
        color = colors[label]
        for ax, values, index, log, store in ((ax1, m1_of, 0, True, s_m1), (ax2, var_of, 1, False, s_var)):
            s = depth_series(exp, group, values.get, log)
            if s is None:
                continue
            draw_series(ax, s, color, label)
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
    depths = [x for s in s_m1 + s_var for x in s.x]
    for ax in (ax1, ax2):
        depth_axis(ax, depths)
        ax.grid(True, which="major", alpha=0.3)
    ax1.set_ylabel("m₁ = tr(JJᵀ)/n  (mean squared singular value)")
    ax2.set_ylabel("var/(m₁² L) = (m₂ − m₁²)/(m₁² L)")
    ax1.set_title("Mean squared singular value of J = ∂a_L/∂x")
    ax2.set_title("Spread of the squared singular values, per layer")
    extra = [(Line2D([], [], color="0.3", linestyle="--"), "free-probability prediction")] if drew_theory else []
    legend_outside(ax2, title="configuration", extra=extra)
    fig.suptitle("Input–output Jacobian spectrum at initialization (dynamical isometry)", fontsize=12)
    fig.tight_layout()
    caption = ("The squared singular values of the input–output Jacobian J = ∂a_L/∂x of the hidden "
               "stack (summary.json jac_io, probe.jacobian; mean over probe.jacobian_samples "
               "examples), against the depth L. Left: their mean m₁; a line that stays at 1 keeps "
               "the mean gradient norm (criticality). Right: their variance relative to m₁², per "
               "layer; dynamical isometry (Pennington et al. 2017) is a value near 0 — every "
               "singular value near √m₁. Geometric (left) or arithmetic (right) mean over repeats, "
               "band min–max.")
    if drew_theory:
        caption += (" Dashed: the mean-field / free-probability prediction from the theory columns "
                    "of layers.csv: m₁ = ∏_l χ_l (layer 1 and the output layer taken to have equal "
                    "σ_w²) and var/(m₁² L) = mean over l of μ₂/μ₁² − 1 − s₁ with μ_k = E[φ′(√q_l z)^2k], "
                    "s₁ = −1 for i.i.d. and 0 for orthogonal W (references papers.md §6.2).")
    return ctx.save(fig, "jacobian_spectrum", "Input–output Jacobian spectrum", caption)


FIGURES = [fig_grad_norm_by_layer, fig_activations_over_training, fig_saturation_over_training,
           fig_histograms, fig_rnn_dh_by_t, fig_test_error, fig_summary_table, fig_phase_diagram,
           fig_gradient_ratio_vs_depth, fig_jacobian_spectrum]


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------

CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } .muted { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 7px; text-align: left; white-space: nowrap; }
th { background: #eee; position: sticky; top: 0; } td.num { text-align: right; font-family: monospace; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px; vertical-align: middle; }
.v-stable { background: #dcedc8; } .v-vanishing { background: #bbdefb; } .v-exploding { background: #ffcdd2; }
.v-dead { background: #cfcfcf; } .v-nonfinite { background: #e1bee7; }
.s-failed, .s-diverged { color: #b71c1c; font-weight: bold; }
figure { margin: 1.5em 0; border-top: 1px solid #ddd; padding-top: 0.8em; }
figure img, figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; max-width: 60em; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.scroll { max-height: 32em; overflow: auto; }
"""


def css_color(rgba):
    r, g, b = (int(round(255 * c)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def format_cell(value, text):
    if value is None:
        return text
    if not math.isfinite(value):
        return text.lower()
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def first_nonfinite(exp, run):
    """'step 0, layer 3, delta' from runs/<run>/summary.json, or '' when nothing was non-finite."""
    where = exp.run_json(run, "summary.json").get("first_nonfinite")
    if not isinstance(where, dict):
        return ""
    return ", ".join(f"{k} {where[k]}" for k in ("step", "layer", "t") if k in where) + \
        (f", {where['quantity']}" if "quantity" in where else "")


def runs_table_html(exp):
    t = exp.table("runs")
    if t is None:
        if not exp.run_order:
            return "<p>No runs.csv in this folder.</p>"
        return "<p>No runs.csv in this folder (runs seen in the other tables: " + \
            html.escape(", ".join(exp.run_order)) + ").</p>"
    numeric = ["gradient_ratio", "per_layer_factor", "final_loss", "final_probe_error",
               "final_test_error"]
    columns = [c for c in ["status", "verdict"] + numeric + ["reason"] if t.has(c)]
    show_repeat = len({t.cell(r, "repeat") for r in t.rows}) > 1
    nonfinite = {t.cell(r, "run"): first_nonfinite(exp, t.cell(r, "run")) for r in t.rows}
    if any(nonfinite.values()):
        columns.insert(len(columns) - (columns[-1] == "reason"), "first non-finite")
    head = ["", "run"] + exp.axis_short_names() + (["repeat"] if show_repeat else []) + columns
    out = ['<div class="scroll"><table><thead><tr>']
    out += [f"<th>{html.escape(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for r in t.rows:
        run = t.cell(r, "run")
        key = exp.run_config.get(run)
        color = css_color(exp.colors[key]) if key in exp.colors else "#fff"
        cells = [f'<td><span class="swatch" style="background:{color}"></span></td>',
                 f"<td>{html.escape(run)}</td>"]
        cells += [f"<td>{html.escape(t.cell(r, a))}</td>" for a in exp.axes]
        if show_repeat:
            cells.append(f"<td>{html.escape(t.cell(r, 'repeat'))}</td>")
        for c in columns:
            text = nonfinite[run] if c == "first non-finite" else t.cell(r, c)
            if c in numeric:
                cells.append(f'<td class="num">{html.escape(format_cell(t.num(r, c), text))}</td>')
            elif c == "verdict":
                cells.append(f'<td class="v-{html.escape(text)}">{html.escape(text)}</td>')
            elif c == "status":
                cells.append(f'<td class="s-{html.escape(text)}">{html.escape(text)}</td>')
            else:
                cells.append(f"<td>{html.escape(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def summary_html(exp):
    rows = summary_rows(exp)
    if not rows:
        return ""
    header, body, note = summary_layout(exp, rows)
    out = [f"<h2>Final test error</h2><p class=\"muted\">{html.escape(note)}</p><table><thead><tr>"]
    out += [f"<th>{html.escape(h)}</th>" for h in header]
    out.append("</tr></thead><tbody>")
    for label, color, cells in body:
        swatch = (f'<span class="swatch" style="background:{css_color(color)}"></span> '
                  if color is not None else "")
        out.append(f"<tr><td>{swatch}{html.escape(label)}</td>")
        for text, cell_color in cells:
            swatch = (f'<span class="swatch" style="background:{css_color(cell_color)}"></span> '
                      if cell_color is not None else "")
            out.append(f'<td class="num">{swatch}{html.escape(text)}</td>')
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def inline_svg(path, prefix):
    """The SVG's <svg> element with ids made unique (several SVGs share one page)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    # Inline SVG in HTML needs neither namespace declarations nor the RDF metadata (whose URIs
    # would be the page's only http:// strings); the size follows the page width.
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, count=1, flags=re.S)
    text = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", text)
    text = re.sub(r'<svg([^>]*?)\swidth="([\d.]+)pt"\s+height="[\d.]+pt"',
                  r'<svg\1 style="width:100%;max-width:\2pt;height:auto"', text, count=1)
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}-{m.group(1)}"', text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}-{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}-{m.group(1)})", text)
    return text


def figure_html(number, fig):
    if fig.path.endswith(".svg"):
        body = inline_svg(fig.path, f"f{number}")
    else:
        with open(fig.path, "rb") as f:
            data = base64.b64encode(f.read()).decode("ascii")
        body = f'<img alt="{html.escape(fig.title)}" src="data:image/png;base64,{data}">'
    return (f'<figure id="{fig.name}">{body}<figcaption><b>Figure {number}. {html.escape(fig.title)}.'
            f"</b> {html.escape(fig.caption)} <span class=\"muted\">File: "
            f"{html.escape(os.path.basename(fig.path))}</span></figcaption></figure>")


def status_summary(exp):
    t = exp.table("runs")
    if t is None:
        return f"{len(exp.run_order)} runs"
    parts = []
    for column in ("status", "verdict"):
        if t.has(column):
            counts = OrderedDict()
            for r in t.rows:
                v = t.cell(r, column) or "—"
                counts[v] = counts.get(v, 0) + 1
            parts.append(", ".join(f"{n} {v}" for v, n in counts.items()))
    return f"{len(t.rows)} runs" + (": " + "; ".join(parts) if parts else "")


def write_report(exp, figures, path):
    name = exp.name()
    description = exp.config.get("description") or ""
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>gradlab — {html.escape(name)}</title><style>{CSS}</style></head><body>",
           f"<h1>{html.escape(name)}</h1>"]
    if description:
        out.append(f"<p>{html.escape(description)}</p>")
    axes = ", ".join(exp.axes) if exp.axes else "none (a single configuration)"
    out.append(f'<p class="muted">Result folder <code>{html.escape(os.path.abspath(exp.folder))}</code>'
               f" · grid axes: {html.escape(axes)} · {html.escape(status_summary(exp))} · "
               f"report written {datetime.datetime.now():%Y-%m-%d %H:%M} by scripts/plot.py</p>")
    if figures:
        links = " · ".join(f'<a href="#{f.name}">{html.escape(f.title)}</a>' for f in figures)
        out.append(f"<p>Figures: {links}</p>")
    out.append("<h2>Runs</h2>")
    out.append('<p class="muted">gradient_ratio = ‖δ_1‖/‖δ_L‖ at initialization (RNN: t = 1 vs T); '
               "per_layer_factor = its 2/(L−1) power, the per-layer factor of E‖δ‖²; verdict: "
               "vanishing below 1e-2, exploding above 1e2. The swatch is the configuration's colour "
               "in every figure.</p>")
    out.append(runs_table_html(exp))
    out.append(summary_html(exp))
    out.append("<h2>Figures</h2>")
    if not figures:
        out.append("<p>No figure applies to the tables in this folder.</p>")
    for number, fig in enumerate(figures, start=1):
        out.append(figure_html(number, fig))
    out.append("<h2>Configuration</h2>")
    if exp.config:
        out.append('<p class="muted">As given (manifest.json), with the grid.</p>')
        out.append(f"<pre>{html.escape(json.dumps(exp.config, indent=2, ensure_ascii=False))}</pre>")
    if exp.resolved:
        first = exp.run_order[0]
        out.append(f'<p class="muted">Resolved (defaults filled) for run {html.escape(first)} '
                   f"(runs/{html.escape(first)}/config.json).</p>")
        out.append(f"<pre>{html.escape(json.dumps(exp.resolved, indent=2, ensure_ascii=False))}</pre>")
    if not exp.config and not exp.resolved:
        out.append("<p>manifest.json is absent or has no config.</p>")
    out.append("</body></html>")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------

def parse_args(argv):
    p = argparse.ArgumentParser(prog="plot.py", description=__doc__.split("\n")[0])
    p.add_argument("result_dir", metavar="RESULT_DIR", help="a gradlab result folder")
    p.add_argument("--format", choices=["png", "svg"], default="png", help="figure format (png)")
    p.add_argument("--out", metavar="FIGDIR", help="where figures go (default RESULT_DIR/figures)")
    p.add_argument("--hist-steps", metavar="S,S,...",
                   help="probe steps for the histograms figure (default: first and last)")
    args = p.parse_args(argv)
    if args.hist_steps:
        try:
            args.hist_steps = [float(s) for s in args.hist_steps.split(",") if s.strip()]
        except ValueError:
            p.error(f"--hist-steps: expected comma-separated step numbers, got {args.hist_steps!r}")
    return args


def remove_stale_figures(outdir, fmt):
    """Delete this script's own figures of an earlier call, so none outlives its data."""
    for make in FIGURES:
        path = os.path.join(outdir, f"{make.__name__[4:]}.{fmt}")
        if os.path.isfile(path):
            os.remove(path)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if IMPORT_ERROR is not None:
        warn("needs python3-numpy and python3-matplotlib "
             "(apt-get install python3-numpy python3-matplotlib)")
        return 3
    folder = args.result_dir
    if not os.path.isdir(folder):
        warn(f"{folder}: no such result folder")
        return 2
    exp = Experiment(folder)
    if not exp.has_results():
        warn(f"{folder}: no result tables (runs.csv, layers.csv, steps.csv, timesteps.csv, "
             "histograms.csv) in this folder; run `gradlab run` first, or `gradlab collect` "
             "for an incomplete sweep")
        return 2
    outdir = args.out or os.path.join(folder, "figures")
    try:
        os.makedirs(outdir, exist_ok=True)
        probe = os.path.join(outdir, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as error:
        warn(f"{outdir}: cannot write figures ({error.strerror})")
        return 3
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "svg.hashsalt": "gradlab"})
    ctx = Context(exp, outdir, args.format, args.hist_steps)
    remove_stale_figures(outdir, args.format)
    figures, failed = [], 0
    for make in FIGURES:
        try:
            fig = make(ctx)
        except Exception as error:  # one bad figure must not lose the others or the report
            plt.close("all")
            failed += 1
            warn(f"figure {make.__name__[4:]} failed: {type(error).__name__}: {error}")
            continue
        if fig is not None:
            figures.append(fig)
            print(fig.path)
    report = os.path.join(folder, "report.html")
    try:
        write_report(exp, figures, report)
    except OSError as error:
        warn(f"{report}: cannot write ({error.strerror})")
        return 3
    print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
