"""gradlab.plot(results, kind): the figures of `gradlab plot` as matplotlib Figures, for a notebook
to show, restyle or combine. The same figure functions as the CLI's (render.FIGURES), drawn in
memory instead of saved; nothing is written."""

from gradlab.results import Experiment
from gradlab.plot.colors import experiment_colors
from gradlab.plot.common import Context
from gradlab.plot.render import FIGURES, figure_name, style


def kinds():
    """The figure names, in the report's order (grad_norm_by_layer, saturation_by_layer, ...)."""
    return [figure_name(make) for make in FIGURES]


def experiment_of(results):
    """An Experiment from gradlab.load's Results, an Experiment, or a folder path."""
    if isinstance(results, Experiment):
        return results
    return Experiment(getattr(results, "folder", results))


def figure(results, kind="all", hist_steps=None):
    """The figure `kind` (one of kinds()) as a matplotlib Figure, or None when it does not apply
    to this folder's tables; kind "all": {name: Figure} of every figure that applies.
    hist_steps: probe steps for the histograms figure (default first, middle, last)."""
    if kind != "all" and kind not in kinds():
        raise ValueError(f"no figure {kind!r}: expected 'all' or one of {', '.join(kinds())}")
    style()
    exp = experiment_of(results)
    ctx = Context(exp, experiment_colors(exp), None, "png", hist_steps)
    made = {}
    for make in FIGURES:
        if kind in ("all", figure_name(make)):
            fig = make(ctx)
            if fig is not None:
                made[fig.name] = fig.figure
    return made if kind == "all" else made.get(kind)
