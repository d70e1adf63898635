"""One colour per configuration (a grid point without its repeat), computed once per experiment by
experiment_colors and used by every figure and by the report's tables: the swatch in the runs
table is the configuration's colour in every figure.

Rule. With a depth axis and at least one other axis, the configurations that differ only in depth
form a group with one hue (a depth figure draws the group as one line against depth): the deepest
configuration has the full hue — it is the one the per-layer figures show — and shallower ones are
lighter, never beyond MAX_LIGHTEN towards white. Otherwise (no depth axis, or depth the only axis)
every configuration gets its own hue. Hues come from PALETTE (no grey, no near-white, no pale
yellow), then from an evenly spaced sweep of a colour map for more configurations.
"""

import colorsys

import numpy as np
import matplotlib.pyplot as plt

MAX_LIGHTEN = 0.45   # the shallowest depth of a group is this far towards white

# tab10 without its grey (#7f7f7f, which reads as "disabled") and with a darker olive, then four
# further saturated hues (Dark2 / Set1) for up to 13 configurations.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#9a9a1a", "#17becf", "#1b9e77", "#7570b3", "#a6761d", "#e7298a"]


def hex_rgba(text):
    return tuple(int(text[i:i + 2], 16) / 255 for i in (1, 3, 5)) + (1.0,)


def palette(n):
    """n distinct hues, none grey or near-white."""
    if n <= len(PALETTE):
        return [hex_rgba(c) for c in PALETTE[:n]]
    return [darken(plt.cm.turbo(x)) for x in np.linspace(0.05, 0.95, n)]


def darken(rgba, max_value=0.85):
    """turbo's yellow-greens are too light on white: cap the HSV value."""
    h, s, v = colorsys.rgb_to_hsv(*rgba[:3])
    return colorsys.hsv_to_rgb(h, s, min(v, max_value)) + (1.0,)


def color_groups(exp):
    """[[config keys]] that share a hue: the depth groups when depth and another axis vary,
    else one group per configuration."""
    if exp.axis_ending("depth") is not None and len(exp.axes) > 1:
        return list(exp.depth_groups(exp.configs).values())
    return [[key] for key in exp.configs]


def experiment_colors(exp):
    """{config: rgba} for every configuration of the experiment (see the module's rule)."""
    colors = {}
    groups = color_groups(exp)
    for base, keys in zip(palette(len(groups)), groups):
        ordered = sorted(keys, key=lambda k: depth_rank(exp, k), reverse=True)
        for rank, key in enumerate(ordered):
            mix = MAX_LIGHTEN * rank / (len(ordered) - 1) if len(ordered) > 1 else 0.0
            colors[key] = tuple((1 - mix) * c + mix for c in base[:3]) + (1.0,)
    return colors


def depth_rank(exp, key):
    i = exp.axis_ending("depth")
    value = exp.axis_value(key, i) if i is not None else None
    return value if value is not None else float("-inf")


def depth_only(exp):
    """Depth is the grid's only axis: its configurations have a hue each and a depth figure joins
    them in one line of LINE_NEUTRAL."""
    return exp.axis_ending("depth") is not None and len(exp.axes) == 1


def group_color(exp, colors, label):
    """The line colour of a depth group (a label of exp.depth_groups): its deepest
    configuration's, whether or not that one is drawn; LINE_NEUTRAL when depth is the only axis."""
    if depth_only(exp):
        return LINE_NEUTRAL
    keys = exp.depth_groups(exp.configs)[label]
    return colors[max(keys, key=lambda k: depth_rank(exp, k))]


LINE_NEUTRAL = (0.15, 0.15, 0.15, 1.0)   # a line joining configurations of different hues


def css_color(rgba):
    r, g, b = (int(round(255 * c)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"
