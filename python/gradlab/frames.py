"""gradlab.load(DIR): a result folder (docs/reference.md § 5) as pandas DataFrames, for notebooks.

    r = gradlab.load("results/he2015-init-depth")
    r.layers.groupby(["model.depth", "layer"], observed=True)["delta_norm"].mean()

Types, fixed by the column's name so that they do not change with the data:
  - `run` and every grid axis: ordered categoricals in the manifest's order (an axis whose values
    are all numbers has numeric categories, so `model.depth` sorts as 2 < 10);
  - integer columns (INTEGER: repeat, seed, step, layer, t, ...): int64 (uint64 for a seed
    beyond int64, pandas' nullable Int64 where some cell is empty);
  - TEXT columns (status, verdict, quantity, ...): categoricals, `reason` a string;
  - everything else: float64, `nan`/`inf` as themselves; a column with text that is no number
    (histograms' `bin`: -1 .. bins and `nonfinite`) a string.
An empty cell ("does not apply") is missing: NaN, or <NA> in a string or nullable column.
Every number is read with Python's float(), which is exact: the table's text reads back to the
same double that gradlab wrote (float32 runs: the same float, widened).

Needs numpy and pandas (python3-numpy, python3-pandas); the rest of gradlab (`gradlab plot`) does
not import this module.
"""

import csv
import json
import math
import os
import re

import numpy as np
import pandas as pd

from gradlab.results import TABLES
INTEGER = {"repeat", "seed", "step", "layer", "t", "fan_in", "fan_out", "bin", "count", "clipped",
           "nonfinite", "nonfinite_z", "nonfinite_a", "nonfinite_delta", "nonfinite_dw"}
TEXT = {"status", "verdict", "final_verdict", "quantity"}
STRING = {"reason"}
INT_TEXT = re.compile(r"^[+-]?[0-9]+$")


def read_rows(path):
    """(header, rows) of a CSV file, every cell a string."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader, [])]
        return header, [row for row in reader if row]


def number_or_none(text):
    try:
        return float(text)
    except ValueError:
        return None


def axis_text(value):
    """An axis value as the tables write it: compact JSON, strings unquoted, a variant's label."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "label" in value:
        return str(value["label"])
    return json.dumps(value, separators=(",", ":"))


def ordered_categorical(texts, order):
    """An ordered categorical of cell texts, categories in `order` (then any others, as met);
    numeric categories when every category is a number."""
    cats = [c for c in dict.fromkeys(order) if c in set(texts)]
    cats += [t for t in dict.fromkeys(texts) if t not in set(cats)]
    values = [number_or_none(c) for c in cats]
    if cats and all(v is not None for v in values):
        if all(INT_TEXT.match(c) for c in cats):
            values = [int(c) for c in cats]
        lookup = dict(zip(cats, values))
        return pd.Categorical([lookup[t] for t in texts], categories=values, ordered=True)
    return pd.Categorical(texts, categories=cats, ordered=True)


def integer_column(texts):
    """int64 (uint64 past int64; nullable Int64 with empty cells), or None if a cell is no
    integer."""
    if not all(t == "" or INT_TEXT.match(t) for t in texts):
        return None
    if "" in texts:
        return pd.array([int(t) if t else None for t in texts], dtype="Int64")
    values = [int(t) for t in texts]
    if values and max(values) > np.iinfo(np.int64).max:
        return np.array(values, dtype=np.uint64)
    return np.array(values, dtype=np.int64)


def float_column(texts):
    """float64 with NaN for empty cells, or None if a cell is no number."""
    values = [math.nan if t == "" else number_or_none(t) for t in texts]
    return None if any(v is None for v in values) else np.array(values, dtype=np.float64)


def typed_column(name, texts, axis_order, run_order):
    if name in axis_order:
        return ordered_categorical(texts, axis_order[name])
    if name == "run":
        return ordered_categorical(texts, run_order)
    if name in STRING:
        return string_column(texts)
    if name in TEXT:
        return pd.Categorical([t if t else None for t in texts])
    column = integer_column(texts) if name in INTEGER else None
    if column is None:
        column = float_column(texts)
    return column if column is not None else string_column(texts)


def string_column(texts):
    return pd.array([t if t else None for t in texts], dtype="string")


def manifest_order(manifest):
    """({axis: value texts in grid order}, run ids in order) of a manifest (or `validate --json`)."""
    axes = {str(a.get("name")): [axis_text(v) for v in a.get("values") or []]
            for a in manifest.get("axes") or []}
    return axes, [str(r.get("id")) for r in manifest.get("runs") or []]


def read_frame(path, axis_order, run_order):
    """A gradlab CSV table as a DataFrame with the types above."""
    header, rows = read_rows(path)
    columns = {}
    for i, name in enumerate(header):
        if name in columns:
            continue
        texts = [row[i].strip() if i < len(row) else "" for row in rows]
        columns[name] = typed_column(name, texts, axis_order, run_order)
    return pd.DataFrame(columns)


def read_json(path):
    if not os.path.isfile(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class Results:
    """A result folder. Tables are read when first used; a table the folder lacks is an empty
    DataFrame. `.theory` is theory.csv (`gradlab theory CONFIG --out DIR`), when present."""

    def __init__(self, folder):
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{folder}: no such result folder")
        self.folder = folder
        self.manifest = read_json(os.path.join(folder, "manifest.json"))
        self.axes = [str(a.get("name")) for a in self.manifest.get("axes") or []]
        self._axis_order, self._run_order = manifest_order(self.manifest)
        self._frames = {}

    def table(self, name):
        """The table `name` (one of TABLES) as a DataFrame."""
        if name not in TABLES:
            raise ValueError(f"no table {name!r}: expected one of {', '.join(TABLES)}")
        if name not in self._frames:
            path = os.path.join(self.folder, name + ".csv")
            self._frames[name] = (read_frame(path, self._axis_order, self._run_order)
                                  if os.path.isfile(path) else pd.DataFrame())
        return self._frames[name]

    runs = property(lambda self: self.table("runs"))
    layers = property(lambda self: self.table("layers"))
    steps = property(lambda self: self.table("steps"))
    timesteps = property(lambda self: self.table("timesteps"))
    histograms = property(lambda self: self.table("histograms"))
    theory = property(lambda self: self.table("theory"))

    def run_ids(self):
        """Run ids in the manifest's order, then any others the runs table holds."""
        found = [str(r) for r in self.runs["run"]] if "run" in self.runs else []
        return list(dict.fromkeys(self._run_order + found))

    def _run_folder(self, run):
        path = os.path.join(self.folder, "runs", str(run))
        if not os.path.isdir(path):
            raise KeyError(f"{run}: no run folder {path} (runs: {', '.join(self.run_ids()[:5])}"
                           f"{', ...' if len(self.run_ids()) > 5 else ''})")
        return path

    def config(self, run):
        """runs/<run>/config.json: the run's resolved config (defaults filled)."""
        return read_json(os.path.join(self._run_folder(run), "config.json"))

    def summary(self, run):
        """runs/<run>/summary.json."""
        return read_json(os.path.join(self._run_folder(run), "summary.json"))

    def tensor_steps(self, run):
        """The probe steps whose tensors were dumped (probe.dump_tensors), ascending."""
        folder = os.path.join(self._run_folder(run), "tensors")
        names = os.listdir(folder) if os.path.isdir(folder) else []
        return sorted(int(n[5:]) for n in names if re.fullmatch(r"step_[0-9]+", n))

    def tensors(self, run, step=0):
        """{name: numpy array} of runs/<run>/tensors/step_<step>/*.npy (docs/reference.md § 5)."""
        folder = os.path.join(self._run_folder(run), "tensors", f"step_{int(step)}")
        if not os.path.isdir(folder):
            raise KeyError(f"{run}: no tensors at step {step} (dumped steps: "
                           f"{self.tensor_steps(run) or 'none; set probe.dump_tensors'})")
        return {n[:-4]: np.load(os.path.join(folder, n)) for n in sorted(os.listdir(folder))
                if n.endswith(".npy")}

    def __repr__(self):
        present = [n for n in TABLES if os.path.isfile(os.path.join(self.folder, n + ".csv"))]
        return (f"<gradlab results {self.manifest.get('name', '?')!r} in {self.folder}: "
                f"{len(self._run_order)} runs, axes {self.axes}, tables {present}>")


def load(folder):
    """The result folder `folder` (written by `gradlab run`, `collect` or `theory --out`)."""
    return Results(folder)
