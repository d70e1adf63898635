#!/usr/bin/python3
"""A depth study from Python: how the gradient ratio ‖δ_1‖/‖δ_L‖ of a tanh MLP at initialization
grows or shrinks with depth L under two inits, measured and as mean-field theory predicts it.

    PYTHONPATH=python python3 examples/depth_study.py [OUT_DIR]      (from a source checkout)

Runs the sweep into OUT_DIR (default results/depth-study; a rerun reuses the complete runs),
then writes OUT_DIR/depth_study.png (measured vs theory) and OUT_DIR/grad_norm_by_layer.png
(the figure `gradlab plot` draws, restyled here). Prints the table it plots.
depth_study.ipynb is the same study as a notebook (it imports this file's functions).
"""

import os
import sys

import numpy as np
import matplotlib.pyplot as plt

import gradlab

SWEEP = {
    "name": "depth-study",
    "seed": 1,
    "repeats": 3,
    "model": {"width": 64, "activation": "tanh"},
    "data": {"name": "gaussian", "dim": 32, "classes": 4},
    "probe": {"samples": 64},
    "grid": {"model.init": ["glorot_normal", "he_normal"], "model.depth": [2, 4, 8, 16, 32]},
}


def measured_ratio(layers):
    """‖δ_1‖/‖δ_L‖ per run from the layers table (L = the last hidden layer = model.depth),
    then the geometric mean over repeats, per (init, depth)."""
    first = layers[layers["layer"] == 1].set_index("run")["delta_norm"]
    depth = layers["model.depth"].astype(int)
    last = layers[layers["layer"] == depth].set_index("run")["delta_norm"]
    runs = layers.drop_duplicates("run").set_index("run")[["model.init", "model.depth"]]
    runs["log_ratio"] = np.log(first / last)
    return np.exp(runs.groupby(["model.init", "model.depth"], observed=True)["log_ratio"].mean())


def predicted_ratio(theory):
    """The same ratio from the mean-field factors χ_l = E‖δ_l‖²/E‖δ_{l+1}‖² (repeat 0):
    ‖δ_1‖/‖δ_L‖ = sqrt(χ_1 ⋯ χ_{L−1})."""
    t = theory[(theory["repeat"] == 0) & (theory["layer"] < theory["model.depth"].astype(int))]
    log = np.log(t["chi"]).groupby([t["model.init"], t["model.depth"]], observed=True).sum()
    return np.exp(log / 2)


def ratio_figure(table):
    """Measured and predicted ratio against depth, one colour per init, log axes."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for (init, rows), color in zip(table.groupby(level="model.init", observed=True),
                                   ["tab:blue", "tab:red"]):
        depths = rows.index.get_level_values("model.depth").astype(int)
        ax.plot(depths, rows["measured"], "o-", color=color, label=f"{init}: measured")
        ax.plot(depths, rows["theory"], "--", color=color, label=f"{init}: mean-field theory")
    ax.set(xscale="log", yscale="log", xlabel="depth L (hidden layers)",
           ylabel="‖δ_1‖ / ‖δ_L‖ at initialization", title="tanh MLP, width 64")
    ax.set_xticks(SWEEP["grid"]["model.depth"], [str(d) for d in SWEEP["grid"]["model.depth"]])
    ax.axhline(1, color="0.6", linewidth=0.8)
    ax.legend(fontsize=8)
    return fig


def main(out):
    results = gradlab.run(SWEEP, out=out)
    table = measured_ratio(results.layers).to_frame("measured")
    table["theory"] = predicted_ratio(gradlab.theory(SWEEP))
    print(table.to_string())
    ratio_figure(table).savefig(os.path.join(out, "depth_study.png"), dpi=110, bbox_inches="tight")

    fig = gradlab.plot(results, "grad_norm_by_layer")   # the CLI's figure, as a Figure
    fig.suptitle("depth study: gradient norms by layer", y=1.02)
    fig.savefig(os.path.join(out, "grad_norm_by_layer.png"), dpi=110, bbox_inches="tight")
    print(os.path.join(out, "depth_study.png"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join("results", "depth-study"))
