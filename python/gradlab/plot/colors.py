"""One colour per configuration, computed once per experiment and used by every figure and by the
report's tables (the swatch in the runs table is the configuration's colour in every figure)."""

import numpy as np
import matplotlib.pyplot as plt

MAX_LIGHTEN = 0.55   # the shallowest depth of a group is this far towards white


def palette(n):
    if n <= 10:
        return [plt.cm.tab10(i) for i in range(n)]
    if n <= 20:
        return [plt.cm.tab20(i) for i in range(n)]
    return [plt.cm.turbo(x) for x in np.linspace(0.05, 0.95, n)]


def experiment_colors(exp):
    """{config: rgba}. Configurations that differ only in depth form a group with one hue (the
    group's line in the depth figures): the deepest one has the full colour — it is the one the
    per-layer figures show — and shallower ones are lighter. Without a depth axis every
    configuration is its own group."""
    groups = exp.depth_groups(exp.configs) if exp.axis_ending("depth") is not None else \
        {i: [key] for i, key in enumerate(exp.configs)}
    colors = {}
    for base, keys in zip(palette(len(groups)), groups.values()):
        ordered = sorted(keys, key=lambda k: depth_rank(exp, k), reverse=True)
        for rank, key in enumerate(ordered):
            mix = MAX_LIGHTEN * rank / (len(ordered) - 1) if len(ordered) > 1 else 0.0
            colors[key] = tuple((1 - mix) * c + mix for c in base[:3]) + (1.0,)
    return colors


def depth_rank(exp, key):
    i = exp.axis_ending("depth")
    value = exp.axis_value(key, i) if i is not None else None
    return value if value is not None else float("-inf")


def group_color(exp, colors, label):
    """The colour of a depth group (a label of exp.depth_groups): its deepest configuration's,
    whether or not that one is drawn."""
    keys = exp.depth_groups(exp.configs)[label]
    return colors[max(keys, key=lambda k: depth_rank(exp, k))]


def css_color(rgba):
    r, g, b = (int(round(255 * c)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
