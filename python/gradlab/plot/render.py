"""Every figure of a result folder and its report: the one place that lists the figures, computes
the experiment's colours (once, for every figure and the report's tables) and writes the files."""

import os

import matplotlib.pyplot as plt

from gradlab.results import warn
from gradlab.plot import chains, depth, evolution, gated, histograms, jacobian, layers, training
from gradlab.plot.colors import experiment_colors
from gradlab.plot.common import Context
from gradlab.plot.report import write_report

FIGURES = [layers.fig_grad_norm_by_layer, layers.fig_saturation_by_layer,
           evolution.fig_gradients_over_training, evolution.fig_saturation_over_training,
           evolution.fig_update_ratio_over_training,
           layers.fig_activations_over_training, histograms.fig_histograms, chains.fig_rnn_dh_by_t,
           chains.fig_rnn_dh_over_training, gated.fig_gated_ratio_by_length, gated.fig_gated_cell_vs_hidden,
           gated.fig_gated_gates_by_t, training.fig_test_error, training.fig_summary_table, depth.fig_phase_diagram,
           depth.fig_gradient_ratio_vs_depth, jacobian.fig_jacobian_spectrum]


def figure_name(make):
    return make.__name__[4:]   # fig_<name>


def remove_stale_figures(outdir, fmt):
    """Delete the figures of an earlier call, so that none outlives its data."""
    for make in FIGURES:
        path = os.path.join(outdir, f"{figure_name(make)}.{fmt}")
        if os.path.isfile(path):
            os.remove(path)


def style():
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "svg.hashsalt": "gradlab"})


def render(exp, outdir, fmt="png", hist_steps=None, report=None):
    """Draws every figure that applies into outdir and writes the report (default
    <folder>/report.html). Returns (figures, number of figures that failed, report path).
    A figure that fails is reported on stderr and skipped; OSError of the report propagates."""
    style()
    ctx = Context(exp, experiment_colors(exp), outdir, fmt, hist_steps)
    remove_stale_figures(outdir, fmt)
    figures, failed = [], 0
    for make in FIGURES:
        try:
            fig = make(ctx)
        except Exception as error:  # one bad figure must not lose the others or the report
            plt.close("all")
            failed += 1
            warn(f"figure {figure_name(make)} failed: {type(error).__name__}: {error}")
            continue
        if fig is not None:
            figures.append(fig)
            print(fig.path)
    report = report or os.path.join(exp.folder, "report.html")
    write_report(exp, ctx.colors, figures, report)
    return figures, failed, report
