"""gradlab from Python: read result folders, run experiments, draw figures (docs/reference.md § 5.1).

    import gradlab
    r = gradlab.run({"name": "d", "model": {...}, "grid": {"model.depth": [2, 4, 8]}}, out="d")
    r.layers.groupby(["model.depth", "layer"], observed=True)["delta_norm"].mean()
    gradlab.theory(config)               # mean-field prediction, a DataFrame
    gradlab.plot(r, "grad_norm_by_layer")  # a matplotlib Figure, as `gradlab plot` draws it

load, run, theory, Results and GradlabError need python3-pandas and are imported when first
used; gradlab.results (the pure-Python reader) and gradlab.plot (`gradlab plot DIR` runs
`python3 -m gradlab.plot DIR`; numpy and matplotlib) do not need pandas.
"""

from gradlab.results import Experiment, Table, read_table

__all__ = ["load", "run", "theory", "plot", "Results", "GradlabError", "find_binary",
           "Experiment", "Table", "read_table"]

LAZY = {"load": "gradlab.frames", "Results": "gradlab.frames", "run": "gradlab.runner",
        "theory": "gradlab.runner", "GradlabError": "gradlab.runner",
        "find_binary": "gradlab.runner", "plot": None}


def __getattr__(name):
    if name not in LAZY:
        raise AttributeError(f"module 'gradlab' has no attribute {name!r}")
    import importlib
    if LAZY[name] is None:
        return importlib.import_module("gradlab." + name)
    return getattr(importlib.import_module(LAZY[name]), name)
