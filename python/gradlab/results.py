"""Reading a gradlab result folder (docs/reference.md § 5): manifest, tables, grid axes, runs and
their configurations. Pure Python (no numpy, no matplotlib).

Every file is optional. Every CSV starts with `run`, then one column per grid axis (full dotted
path, or `variants`), then `repeat`, `seed`. Columns are looked up by name; unknown columns are
ignored. Empty cells mean "does not apply".

A *configuration* is one grid point (the tuple of the run's axis values); the manifest's run order
fixes the order of configurations.
"""

import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import OrderedDict

TABLES = ["runs", "layers", "steps", "timesteps", "histograms", "theory"]


def warn(message):
    print(f"gradlab plot: {message}", file=sys.stderr)


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


def output_layer_of(table, rows):
    layers = [table.num(r, "layer") for r in rows]
    layers = [l for l in layers if finite(l)]
    return int(max(layers)) if layers else None


class Experiment:
    """A result folder: manifest, tables, runs, and the ordered configurations."""

    def __init__(self, folder):
        self.folder = folder
        self.manifest = read_json(os.path.join(folder, "manifest.json"))
        self.config = self.manifest.get("config") or {}
        self.tables = {n: read_table(os.path.join(folder, n + ".csv"), n) for n in TABLES}
        self.axes = self._find_axes()
        self._index_runs()
        self.resolved = self._read_resolved()
        self._depths = {}

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
        return self.label_of_axes(key, range(len(self.axes)))

    def label_of_axes(self, key, indices):
        """"short=value, ..." of the axes at `indices` (a `variants` axis shows its label only)."""
        short = self.axis_short_names()
        return ", ".join(key[j] if self.axes[j] == "variants" else f"{short[j]}={key[j]}"
                         for j in indices)

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

    # --- depth ------------------------------------------------------------------------------
    def run_depth(self, run):
        """Hidden layers L of a run: its resolved config (depth or hidden), else the depth axis."""
        if run not in self._depths:
            model = self.run_json(run, "config.json").get("model") or {}
            depth, hidden = model.get("depth"), model.get("hidden")
            i = self.axis_ending("depth")
            value = self.axis_value(self.run_config.get(run, ()), i) if i is not None else None
            if isinstance(depth, (int, float)) and not isinstance(depth, bool):
                self._depths[run] = int(depth)
            elif isinstance(hidden, list) and hidden:
                self._depths[run] = len(hidden)
            else:
                self._depths[run] = int(value) if value is not None else None
        return self._depths[run]

    def depth_groups(self, keys):
        """{label of the non-depth axes: [config keys]} in the grid's order: one line per group
        when depth is on the x axis."""
        i = self.axis_ending("depth")
        others = [j for j in range(len(self.axes)) if j != i]
        groups = OrderedDict()
        for key in keys:
            groups.setdefault(self.label_of_axes(key, others) or self.name(), []).append(key)
        return groups


def gradlab_theory(exp):
    """{run: entry of `gradlab theory --json`} (q, chi, mu1, mu2 per layer; chi1, weight_s1, ...):
    the folder's theory.json when it has the moments (`gradlab theory CONFIG --out DIR`), else the
    binary named by $GRADLAB_EXE (`gradlab plot` sets it) run on the manifest's config; {} when
    neither is available."""
    runs = read_json(os.path.join(exp.folder, "theory.json"), quiet=True).get("runs")
    if not has_moments(runs):
        runs = theory_of_config(exp.config).get("runs")
    if not isinstance(runs, list):
        return {}
    return {str(e["run"]): e for e in runs if isinstance(e, dict) and "run" in e}


def has_moments(runs):
    return isinstance(runs, list) and any(
        isinstance(layer, dict) and "mu1" in layer
        for e in runs if isinstance(e, dict) for layer in e.get("layers") or [])


def theory_of_config(config):
    """`$GRADLAB_EXE theory CONFIG --json` on a config (a dict), or {} (with a warning on failure)."""
    exe = os.environ.get("GRADLAB_EXE")
    if not exe or not config:
        return {}
    with tempfile.TemporaryDirectory(prefix="gradlab-theory-") as tmp:
        path = os.path.join(tmp, "config.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f)
        try:
            r = subprocess.run([exe, "theory", path, "--json"], capture_output=True, text=True,
                               timeout=600)
        except (OSError, subprocess.SubprocessError) as error:
            warn(f"{exe} theory: {error}; no theory moments")
            return {}
    if r.returncode != 0:
        warn(f"{exe} theory failed ({r.stderr.strip()[:300]}); no theory moments")
        return {}
    try:
        data = json.loads(r.stdout)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
