"""Training figures: learning curves (steps.csv) and the final test error per configuration
(runs.csv), which the report also shows as a table."""

import math
from collections import OrderedDict

import numpy as np
import matplotlib.pyplot as plt

from gradlab.results import distinct_steps, finite, rows_by_run
from gradlab.plot.common import as_percent, config_series, draw_series, legend_outside, spans_decades, step_axis


def draw_pair(ax, exp, t, rows_by, key, color, solid, dotted, scale=1.0):
    """One configuration's `solid` column as a line with its band, `dotted` as a dotted line."""
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
            draw_pair(axes["error"], exp, t, rows_by, key, ctx.colors[key], "test_error", "probe_error",
                      100.0 if percent else 1.0)
        if "loss" in axes:
            loss_values += draw_pair(axes["loss"], exp, t, rows_by, key, ctx.colors[key], "loss", "probe_loss")
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


def summary_layout(exp, colors, rows):
    """(header, [(row label, row colour or None, [(cell text, colour)])]): a pivot table
    (first axis down, second across, as Glorot's Table 1) for a two-axis grid, else a list."""
    percent = rows[0][4]
    unit = " (%)" if percent else ""
    if len(exp.axes) == 2:
        down = list(OrderedDict.fromkeys(k[0] for k, *_ in rows))
        across = list(OrderedDict.fromkeys(k[1] for k, *_ in rows))
        if len(down) > 1 and len(across) > 1:
            short = exp.axis_short_names()
            cells = {k: (format_mean_std(m, sd, p), colors[k]) for k, n, m, sd, p in rows}
            header = [f"{short[0]} ↓  {short[1]} →"] + across
            body = [(d, None, [cells.get((d, a), ("", None)) for a in across]) for d in down]
            return header, body, ("in %, " if percent else "") + "mean ± std over repeats"
    header = ["configuration", "repeats", f"final test error{unit}"]
    body = [(exp.label(k), colors[k], [(str(n), None), (format_mean_std(m, sd, p), None)])
            for k, n, m, sd, p in rows]
    return header, body, "mean ± std over repeats"


def fig_summary_table(ctx):
    exp = ctx.exp
    rows = summary_rows(exp)
    if not rows:
        return None
    header, body, note = summary_layout(exp, ctx.colors, rows)
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
