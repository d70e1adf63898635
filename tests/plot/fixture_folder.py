"""The writing side of the plot-test fixtures (make_fixtures.py): the tables' columns, a result
folder's layout (manifest.json, the CSV tables, runs/<id>/config.json and summary.json) as
gradlab writes it, and cells formatted as gradlab formats them."""

import csv
import itertools
import json
import math
import os
import re

LAYER_COLUMNS = ["step", "layer", "fan_in", "fan_out", "preact_mean", "preact_std", "preact_ms",
                 "act_mean", "act_std", "act_p98", "dphi_mean", "saturated_frac", "dead_frac",
                 "stuck_frac", "zero_grad_frac", "delta_norm", "delta_factor", "grad_w_norm",
                 "grad_b_norm", "w_norm", "grad_w_ratio", "nonfinite", "jac_sv_mean", "theory_q",
                 "theory_delta_factor", "update_ratio", "update_ratio_mean", "effective_lr"]
STEP_COLUMNS = ["step", "loss", "probe_loss", "probe_error", "test_error", "grad_norm", "clipped",
                "lr", "spectral_radius", "sigma_max", "elapsed_s"]
TIMESTEP_COLUMNS = ["step", "t", "h_norm", "dh_norm", "dz_norm", "dh_last_norm", "saturated_frac",
                    "dead_frac", "grad_w_contrib_norm"]
HIST_COLUMNS = ["step", "layer", "quantity", "bin", "lo", "hi", "count"]
RUN_COLUMNS = ["status", "reason", "verdict", "gradient_ratio", "per_layer_factor", "final_loss",
               "final_probe_loss", "final_probe_error", "final_test_error"]
FINAL_COLUMNS = ["final_gradient_ratio", "final_per_layer_factor", "final_verdict"]
NAN, INF = float("nan"), float("inf")


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

def cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return "%.17g" % value
    return str(value)


def axis_cell(value):
    """Grid values as compact JSON, strings unquoted (docs/reference.md § 5)."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def merge_patch(target, patch):
    """RFC 7386 merge of a variant's partial config (its label left out)."""
    for key, value in patch.items():
        if key == "label":
            continue
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        elif value is None:
            target.pop(key, None)
        else:
            target[key] = value


class Folder:
    """Collects one experiment's rows and writes the folder."""

    def __init__(self, root, name, config, grid, repeats=1):
        self.path = os.path.join(root, name)
        self.config = dict(config, name=name, repeats=repeats)
        if grid:
            self.config["grid"] = grid
        self.axes = list(grid)
        self.runs = []
        for point in itertools.product(*grid.values()):
            for rep in range(repeats):
                self.runs.append(self._run(dict(zip(self.axes, point)), rep, repeats))
        self.tables = {"runs": [], "layers": [], "steps": [], "timesteps": [], "histograms": []}
        self.run_columns = RUN_COLUMNS

    def _run(self, point, rep, repeats):
        parts = [f"{a.split('.')[-1]}={axis_cell(v)}" for a, v in point.items()]
        if repeats > 1:
            parts.append(f"rep={rep}")
        run_id = re.sub(r"[^A-Za-z0-9._+=,-]", "_", ",".join(parts)) or "run"   # as gradlab
        seed = sum(map(ord, run_id)) * 7919 + rep   # deterministic, unlike hash()
        return {"id": run_id, "point": point, "repeat": rep, "seed": seed}

    def lead(self, run):
        return [run["id"]] + [axis_cell(run["point"][a]) for a in self.axes] + [run["repeat"], run["seed"]]

    def add(self, table, run, values):
        self.tables[table].append(self.lead(run) + list(values))

    def resolved(self, run):
        """The run's config: the grid removed and its point applied (as runs/<id>/config.json)."""
        config = json.loads(json.dumps(self.config))
        grid = config.pop("grid", {})
        for axis, value in run["point"].items():
            if axis == "variants":      # a label; the grid may hold the variant objects
                merge_patch(config, next((v for v in grid.get("variants", [])
                                          if isinstance(v, dict) and v.get("label") == value), {}))
                continue
            node = config
            *parents, last = axis.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    node[part] = {} if not isinstance(node.get(part), str) else {"name": node[part]}
                node = node[part]
            node[last] = value
        return config

    def write(self, tables=None, extra_columns=None, summaries=None):
        """Writes manifest.json (the layout gradlab writes: axes as {name, values}), the tables,
        and runs/<id>/config.json + summary.json (summaries: {run id: extra summary keys})."""
        os.makedirs(self.path, exist_ok=True)
        grid = self.config.get("grid", {})
        manifest = {"name": self.config["name"], "file": f"configs/{self.config['name']}.json",
                    "hash": "fixture", "config": self.config,
                    "axes": [{"name": a, "values": grid[a]} for a in self.axes],
                    "runs": [dict(r, index=i) for i, r in enumerate(self.runs)]}
        with open(os.path.join(self.path, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2)
        for run in self.runs:
            folder = os.path.join(self.path, "runs", run["id"])
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump(self.resolved(run), f, indent=2)
            summary = {"status": "ok", "first_nonfinite": None}
            summary.update((summaries or {}).get(run["id"], {}))
            with open(os.path.join(folder, "summary.json"), "w") as f:
                json.dump(summary, f, indent=2)
        columns = {"runs": self.run_columns, "layers": LAYER_COLUMNS, "steps": STEP_COLUMNS,
                   "timesteps": TIMESTEP_COLUMNS, "histograms": HIST_COLUMNS}
        for name, rows in self.tables.items():
            if not rows or (tables is not None and name not in tables):
                continue
            extra = (extra_columns or {}).get(name, [])
            header = ["run"] + self.axes + ["repeat", "seed"] + columns[name] + extra
            with open(os.path.join(self.path, name + ".csv"), "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(header)
                for row in rows:
                    w.writerow([cell(v) for v in row] + ["x"] * len(extra))


def edit_manifest(folder, **fields):
    path = os.path.join(folder.path, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    manifest.update(fields)
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
