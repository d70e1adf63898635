"""gradlab's Python side: reading result folders (gradlab.results) and drawing their figures and
report (gradlab.plot; `gradlab plot DIR` runs `python3 -m gradlab.plot DIR`).

Needs only Debian's python3 (python3-numpy and python3-matplotlib for the figures). Importing
this package or gradlab.results does not import matplotlib.
"""

from gradlab.results import Experiment, Table, read_table

__all__ = ["Experiment", "Table", "read_table"]
