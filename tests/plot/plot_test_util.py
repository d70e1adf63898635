"""Shared by the plot tests (test_plot.py, test_plot_training.py): paths, the package on
sys.path, the figures each fixture of make_fixtures.py must produce, and a hook that records what
every figure draws (to compare with the CSV, not pixels)."""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PYTHON_DIR = os.path.join(ROOT, "python")
MAKE_FIXTURES = os.path.join(HERE, "make_fixtures.py")

# Exactly these figures, no others: nothing "over training" without training, no MLP-layer
# figure for chains, no chain figure for MLPs.
EXPECTED = {
    "mlp_init_study": {"grad_norm_by_layer", "saturation_by_layer"},
    "mlp_training": {"grad_norm_by_layer", "gradients_over_training", "saturation_over_training",
                     "update_ratio_over_training", "activations_over_training", "histograms",
                     "test_error", "summary_table"},
    "rnn_radius": {"rnn_dh_by_t"},
    "phase_diagram": {"grad_norm_by_layer", "saturation_by_layer", "phase_diagram"},
    "mlp_overflow": {"grad_norm_by_layer", "saturation_by_layer"},
    "depth_study": {"grad_norm_by_layer", "saturation_by_layer", "gradient_ratio_vs_depth",
                    "jacobian_spectrum"},
    "mlp_deep_training": {"grad_norm_by_layer", "gradients_over_training",
                          "saturation_over_training", "update_ratio_over_training",
                          "activations_over_training", "test_error", "summary_table"},
    "rnn_training": {"rnn_dh_by_t", "rnn_dh_over_training", "test_error", "summary_table"},
    "depth_only": {"grad_norm_by_layer", "saturation_by_layer", "gradient_ratio_vs_depth"},
}
FORMATS = ["png", "svg"]


sys.path.insert(0, PYTHON_DIR)
from gradlab.results import Experiment  # noqa: E402
from gradlab.plot import common, render  # noqa: E402


def capture_figures(folder):
    """Renders a fixture folder and returns (experiment, {figure: {"size": inches, "axes": [...]}})
    with, per axes, its title, y limits and scale, its lines' (x, y, colour) and its heat maps'
    arrays: the data each figure draws, to compare with the CSV."""
    import matplotlib
    from matplotlib.collections import QuadMesh
    exp, captured = Experiment(folder), {}

    def capturing_save(fig, name, caption):
        captured[name] = {"size": tuple(fig.get_size_inches()), "caption": caption, "axes": [
            {"title": ax.get_title("left") or ax.get_title(), "ylim": ax.get_ylim(), "yscale": ax.get_yscale(),
             "lines": [(np.asarray(l.get_xdata(), float), np.asarray(l.get_ydata(), float),
                        matplotlib.colors.to_hex(l.get_color())) for l in ax.get_lines()],
             "meshes": [np.ma.filled(np.ma.asarray(m.get_array(), float), np.nan)
                        for m in ax.collections if isinstance(m, QuadMesh)]}
            for ax in fig.axes if ax.get_title("left") or ax.get_title()]}

    render_inspecting(exp, os.path.join(folder, "figures"), capturing_save)
    return exp, captured


def render_inspecting(exp, outdir, inspect):
    """render.render(exp, outdir) calling inspect(fig, name, caption) on every figure before it
    is saved."""
    save = common.Context.save
    os.makedirs(outdir, exist_ok=True)

    def inspecting_save(ctx, fig, name, title, caption):
        inspect(fig, name, caption)
        return save(ctx, fig, name, title, caption)

    common.Context.save = inspecting_save
    try:
        render.render(exp, outdir, "png")
    finally:
        common.Context.save = save


def csv_pivot(exp, table, key, column, index, scale=1.0):
    """{step: {index value: column}} of a configuration's single run, read from the CSV."""
    t = exp.table(table)
    run = exp.config_runs[key][0]
    result = {}
    for r in t.rows:
        if t.cell(r, "run") == run and t.num(r, column) is not None:
            result.setdefault(t.num(r, "step"), {})[t.num(r, index)] = scale * t.num(r, column)
    return result


def panel(figure, title_end):
    found = [ax for ax in figure["axes"] if ax["title"].endswith(title_end)]
    assert found, [ax["title"] for ax in figure["axes"]]
    return found
