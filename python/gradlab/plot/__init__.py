"""Figures and a self-contained report.html for a gradlab result folder.

    python3 -m gradlab.plot RESULT_DIR [--format png|svg] [--out FIGDIR] [--hist-steps S,S,...]

(`gradlab plot DIR` runs this). One module per figure family: layers (per-layer gradients,
activations, saturation at initialization), evolution (per-layer quantities against the training
step), histograms, chains (RNN), training (learning curves, final error),
depth (phase diagram, depth study), jacobian (input-output Jacobian spectrum); common holds the
shared drawing helpers, colors the one colour assignment of an experiment, report the HTML page
and render the list of figures. This file imports nothing, so that --help and the message for a
missing matplotlib work without it.
"""
