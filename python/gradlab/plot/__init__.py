"""Figures and a self-contained report.html for a gradlab result folder.

    python3 -m gradlab.plot RESULT_DIR [--format png|svg] [--out FIGDIR] [--hist-steps S,S,...]

(`gradlab plot DIR` runs this). One module per figure family: layers (per-layer gradients,
activations, saturation at initialization), evolution (per-layer quantities against the training
step), histograms, chains (RNN), training (learning curves, final error),
depth (phase diagram, depth study), jacobian (input-output Jacobian spectrum); common holds the
shared drawing helpers, colors the one colour assignment of an experiment, report the HTML page
and render the list of figures; figures draws them in memory for notebooks.

The package is also callable: gradlab.plot(results, kind) is gradlab.plot.figures.figure
(matplotlib Figures). This file imports nothing else, so that --help and the message for a
missing matplotlib work without it.
"""

import sys
import types


class CallableModule(types.ModuleType):
    def __call__(self, results, kind="all", hist_steps=None):
        """gradlab.plot(results, kind="all", hist_steps=None): see gradlab.plot.figures.figure."""
        from gradlab.plot.figures import figure
        return figure(results, kind, hist_steps)


sys.modules[__name__].__class__ = CallableModule
