#!/usr/bin/python3
"""Print the per-layer gradient norms of a depth study at initialization as a terminal table.

Usage: quickstart_table.py RESULT_DIR

Reads RESULT_DIR/layers.csv and runs.csv (docs/reference.md §5) and prints, for the deepest nets of the
study, delta_norm = sqrt(mean_i ||dl_i/dz_l||^2) per hidden layer, one column per configuration
(the first repeat), then each configuration's verdict. Standard library only.
"""
import csv
import sys


def main(d):
    with open(f"{d}/runs.csv", newline="") as f:
        runs = list(csv.DictReader(f))
    with open(f"{d}/layers.csv", newline="") as f:
        layers = [r for r in csv.DictReader(f) if r["step"] == "0"]
    if not runs or not layers:
        sys.exit(f"{d}: no runs")
    keys = list(runs[0].keys())
    axes = keys[1 : keys.index("repeat")]  # the grid-axis columns sit between run and repeat
    depth_axis = next((a for a in axes if a.endswith("depth")), None)
    keep = [r for r in runs if r["repeat"] == "0"]
    if depth_axis:
        deepest = max(int(r[depth_axis]) for r in keep)
        keep = [r for r in keep if int(r[depth_axis]) == deepest]
    label = lambda r: ",".join(r[a] for a in axes if a != depth_axis) or r["run"]
    norms = {r["run"]: {} for r in keep}
    for row in layers:
        if row["run"] in norms:
            norms[row["run"]][int(row["layer"])] = float(row["delta_norm"])
    names = [label(r) for r in keep]
    width = max(12, max(len(n) for n in names) + 1)
    first = len("gradient_ratio")  # the row labels: layer numbers, then runs.csv's column names
    print(f"{'layer':<{first}}" + "".join(f"{n:>{width}}" for n in names))
    depth = max(max(v) for v in norms.values())
    for l in range(1, depth + 1):
        cells = [norms[r["run"]].get(l) for r in keep]
        print(f"{l:<{first}}" + "".join(f"{c:>{width}.3e}" if c is not None else " " * width for c in cells))
    print(f"{'verdict':<{first}}" + "".join(f"{r['verdict']:>{width}}" for r in keep))
    print(f"{'gradient_ratio':<{first}}" + "".join(f"{float(r['gradient_ratio']):>{width}.2e}" for r in keep))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "results/quickstart")
