"""report.html: one self-contained page (figures inlined) with the runs table, the final-error
table and the configuration."""

import base64
import datetime
import html
import json
import math
import os
import re
from collections import OrderedDict

from gradlab.plot.colors import css_color
from gradlab.plot.training import summary_layout, summary_rows, trained


CSS = """
body { font-family: sans-serif; margin: 1.5em auto; max-width: 1150px; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } .muted { color: #666; font-size: 0.9em; } code { overflow-wrap: anywhere; }
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
.changed { color: #8a4b00; font-weight: bold; }
"""


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


# The runs table's columns of runs.csv, in this order; a folder without some of them (an older
# gradlab) shows the others. The final verdict sits beside the initial one, for a training run only
# (without training they are equal).
FINAL_VERDICT = ["final_verdict", "final_gradient_ratio", "final_per_layer_factor"]
RUNS_COLUMNS = ["status", "verdict", "gradient_ratio", "per_layer_factor"] + FINAL_VERDICT + \
    ["final_loss", "final_probe_error", "final_test_error", "reason"]
NUMERIC = {"gradient_ratio", "per_layer_factor", "final_gradient_ratio", "final_per_layer_factor",
           "final_loss", "final_probe_error", "final_test_error"}


def runs_table_html(exp, colors):
    t = exp.table("runs")
    if t is None:
        if not exp.run_order:
            return "<p>No runs.csv in this folder.</p>"
        return "<p>No runs.csv in this folder (runs seen in the other tables: " + \
            html.escape(", ".join(exp.run_order)) + ").</p>"
    columns = [c for c in RUNS_COLUMNS if t.has(c) and (trained(exp) or c not in FINAL_VERDICT)]
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
        color = css_color(colors[key]) if key in colors else "#fff"
        cells = [f'<td><span class="swatch" style="background:{color}"></span></td>',
                 f"<td>{html.escape(run)}</td>"]
        cells += [f"<td>{html.escape(t.cell(r, a))}</td>" for a in exp.axes]
        if show_repeat:
            cells.append(f"<td>{html.escape(t.cell(r, 'repeat'))}</td>")
        for c in columns:
            text = nonfinite[run] if c == "first non-finite" else t.cell(r, c)
            if c in NUMERIC:
                cells.append(f'<td class="num">{html.escape(format_cell(t.num(r, c), text))}</td>')
            elif c in ("verdict", "final_verdict"):
                cells.append(f'<td class="v-{html.escape(text)}">{html.escape(text)}</td>')
            elif c == "status":
                cells.append(f'<td class="s-{html.escape(text)}">{html.escape(text)}</td>')
            else:
                cells.append(f"<td>{html.escape(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "".join(out)


def summary_html(exp, colors):
    rows = summary_rows(exp)
    if not rows:
        return ""
    header, body, note = summary_layout(exp, colors, rows)
    out = [f"<h2>Final test error</h2><p class=\"muted\">{html.escape(note)}</p>"
           '<div class="scroll"><table><thead><tr>']
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
    out.append("</tbody></table></div>")
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
    final = trained(exp) and t.has("final_verdict")
    for column, prefix in (("status", ""), ("verdict", "at initialization " if final else ""),
                           ("final_verdict", "final ")):
        if t.has(column) and (column != "final_verdict" or final):
            counts = OrderedDict()
            for r in t.rows:
                v = t.cell(r, column) or "—"
                counts[v] = counts.get(v, 0) + 1
            parts.append(prefix + ", ".join(f"{n} {v}" for v, n in counts.items()))
    return f"{len(t.rows)} runs" + (": " + "; ".join(parts) if parts else "")


def grid_runs(exp):
    """Runs of the whole grid: the product of the manifest's axis lengths times the repeats (a
    `--only` run's manifest may list only the runs it selected); 0 when unknown."""
    repeats = exp.config.get("repeats", 1)
    n = repeats if isinstance(repeats, int) and not isinstance(repeats, bool) else 0
    for axis in exp.manifest.get("axes") or []:
        values = axis.get("values") if isinstance(axis, dict) else None
        n *= len(values) if isinstance(values, list) else 0
    return n


def description_html(exp):
    """The config's description, and what changed the experiment since it was written: the
    `--set` overrides (manifest.json "set", in order) and a `--only` selection (fewer runs
    present than the manifest or the grid lists)."""
    description = exp.config.get("description") or ""
    overrides = [str(s) for s in exp.manifest.get("set") or []]
    listed = max(len(exp.manifest.get("runs") or []), grid_runs(exp))
    present = len(exp.run_order)
    notes = []
    if overrides:
        notes.append("overridden by --set: " + ", ".join(overrides))
    if listed and present < listed:
        notes.append(f"{present} of {listed} runs present")
    if not description and not notes:
        return []
    text = html.escape(description)
    if notes:
        text = (f"Config description: {text} " if description else "") + \
            f'<span class="changed">({html.escape("; ".join(notes))})</span>'
    return [f"<p>{text}</p>"]


def write_report(exp, colors, figures, path):
    name = exp.name()
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           f"<title>gradlab — {html.escape(name)}</title><style>{CSS}</style></head><body>",
           f"<h1>{html.escape(name)}</h1>"]
    out += description_html(exp)
    axes = ", ".join(exp.axes) if exp.axes else "none (a single configuration)"
    out.append(f'<p class="muted">Result folder <code>{html.escape(os.path.abspath(exp.folder))}</code>'
               f" · grid axes: {html.escape(axes)} · {html.escape(status_summary(exp))} · "
               f"report written {datetime.datetime.now():%Y-%m-%d %H:%M} by gradlab plot</p>")
    if figures:
        links = " · ".join(f'<a href="#{f.name}">{html.escape(f.title)}</a>' for f in figures)
        out.append(f"<p>Figures: {links}</p>")
    out.append("<h2>Runs</h2>")
    out.append('<p class="muted">verdict, gradient_ratio, per_layer_factor: at initialization (the '
               "first probe step). gradient_ratio = ‖δ_1‖/‖δ_L‖ (RNN: t = 1 vs T); "
               "per_layer_factor = its 2/(L−1) power, the per-layer factor of E‖δ‖²; the verdict "
               "rule is in docs/reference.md §4.4."
               + (" final_verdict, final_gradient_ratio, final_per_layer_factor: the same at the "
                  "last probe step of training; final_loss, final_test_error: at the last probe."
                  if trained(exp) else "")
               + " The swatch is the configuration's colour in every figure.</p>")
    out.append(runs_table_html(exp, colors))
    out.append(summary_html(exp, colors))
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
