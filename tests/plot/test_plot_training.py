"""Tests of the figures over training, the colours and report.html (gradlab.plot); run by
test_plot.py, which imports these classes, or alone:  /usr/bin/python3 tests/plot/test_plot_training.py
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from plot_test_util import EXPECTED, MAKE_FIXTURES, capture_figures, csv_pivot, panel
from gradlab.results import Experiment
from gradlab.plot import common
from gradlab.plot.colors import css_color


class FiguresOverTraining(unittest.TestCase):
    """The figures over training draw the CSV's numbers: one line per layer (or a heat map for a
    deep net) against the step, ‖∂ℓ/∂h_t‖ against t at several steps; axes fit the data."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gradlab-plot-test-")
        subprocess.run([sys.executable, MAKE_FIXTURES, cls.tmp], check=True, timeout=300)
        cls.figures = {case: capture_figures(os.path.join(cls.tmp, case))
                       for case in ("mlp_training", "mlp_deep_training", "rnn_training",
                                    "mlp_init_study", "depth_study")}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def assert_lines_are_layers(self, ax, by_step):
        """ax has one line per layer whose points are (step, value) of by_step."""
        layers = sorted({l for d in by_step.values() for l in d})
        expected = [(np.array(sorted(by_step)), np.array([by_step[s][l] for s in sorted(by_step)]))
                    for l in layers]
        self.assertEqual(len(ax["lines"]), len(expected))
        for (x, y, _), (ex, ey) in zip(ax["lines"], expected):
            np.testing.assert_array_equal(x, ex)
            np.testing.assert_allclose(y, ey, rtol=1e-12)

    def test_gradient_lines_per_layer_are_the_csv(self):
        exp, figs = self.figures["mlp_training"]
        fig = figs["gradients_over_training"]
        for key in exp.configs:
            label = exp.label(key)
            for column, symbol in (("delta_norm", "‖δ_l‖"), ("grad_w_norm", "‖∂L/∂W_l‖")):
                ax = panel(fig, f"{label}: {symbol}")[0]
                self.assert_lines_are_layers(ax, csv_pivot(exp, "layers", key, column, "layer"))
                self.assertEqual(ax["yscale"], "log")

    def test_saturation_lines_are_the_csv_and_the_axis_fits_them(self):
        exp, figs = self.figures["mlp_training"]
        fig = figs["saturation_over_training"]
        key = exp.configs[0]
        ax = panel(fig, f"{exp.label(key)}: saturated")[0]
        by_step = csv_pivot(exp, "layers", key, "saturated_frac", "layer", 100.0)
        out = max(l for d in by_step.values() for l in d)
        by_step = {s: {l: v for l, v in d.items() if l < out} for s, d in by_step.items()}
        self.assert_lines_are_layers(ax, by_step)
        top = max(v for d in by_step.values() for v in d.values())
        self.assertLess(top, 50)                               # the fixture's shares are small
        self.assertAlmostEqual(ax["ylim"][0], 0.0)
        self.assertGreaterEqual(ax["ylim"][1], top)
        self.assertLessEqual(ax["ylim"][1], 1.2 * top)         # not 0–100 %
        self.assertNotIn("dead units", [a["title"].split(": ")[-1] for a in fig["axes"]])
        self.assertIn("Not drawn because they are 0 or empty everywhere: dead units", fig["caption"])

    def test_deep_net_is_a_layer_by_step_heat_map(self):
        exp, figs = self.figures["mlp_deep_training"]
        key = exp.configs[0]
        ax = panel(figs["gradients_over_training"], ": ‖δ_l‖")[0]
        self.assertEqual(ax["lines"], [])
        by_step = csv_pivot(exp, "layers", key, "delta_norm", "layer")
        steps, layers = sorted(by_step), sorted(by_step[0])
        self.assertEqual(len(layers), 33)                      # 32 hidden layers and the output
        expected = np.array([[by_step[s][l] for s in steps] for l in layers])
        self.assertEqual(len(ax["meshes"]), 1)
        np.testing.assert_allclose(ax["meshes"][0].reshape(expected.shape), expected, rtol=1e-12)

    def test_chain_gradient_through_time_at_several_steps(self):
        exp, figs = self.figures["rnn_training"]
        fig = figs["rnn_dh_over_training"]
        self.assertEqual(len(fig["axes"]), len(exp.configs))   # one panel per configuration
        for key in exp.configs:
            ax = panel(fig, exp.label(key))[0]
            by_step = csv_pivot(exp, "timesteps", key, "dh_norm", "t")
            self.assertEqual(len(ax["lines"]), len(by_step))   # five steps: all of them
            for (x, y, _), step in zip(ax["lines"], sorted(by_step)):
                np.testing.assert_array_equal(x, sorted(by_step[step]))
                np.testing.assert_allclose(y, [by_step[step][t] for t in sorted(by_step[step])],
                                           rtol=1e-12)

    def test_spread_steps_keeps_first_and_last(self):
        self.assertEqual(common.spread_steps([0, 1, 2], 5), [0, 1, 2])
        self.assertEqual(common.spread_steps(list(range(0, 1001, 100)), 5), [0, 200, 500, 800, 1000])
        self.assertEqual(common.spread_steps(list(range(10)), 3), [0, 4, 9])

    def test_histograms_are_a_grid_that_fits_a_page(self):
        exp, figs = self.figures["mlp_training"]
        fig = figs["histograms"]
        width, height = fig["size"]
        self.assertLessEqual(width, 11.5)
        self.assertLessEqual(height, 14.0)
        # rows: configuration × step (first, middle, last), titled in the first column
        titles = [ax["title"] for ax in fig["axes"]]
        label = exp.label(exp.configs[0])
        self.assertEqual(titles, [f"{exp.label(k)}: step {s}" for k in exp.configs[:2]
                                  for s in (0, 1000, 2000)])
        self.assertTrue(titles[0].startswith(label))

    def test_at_initialization_saturation_by_layer(self):
        exp, figs = self.figures["mlp_init_study"]
        self.assertNotIn("saturation_over_training", figs)
        self.assertIn("saturation_by_layer", figs)

    def test_deep_saturation_by_layer_is_lines_of_the_csv(self):
        exp, figs = self.figures["depth_study"]                 # depth 32: lines, not 96 bars
        ax = figs["saturation_by_layer"]["axes"][0]
        deepest = [k for k in exp.configs if k[1] == "32"]
        lines = [(x, y) for x, y, _ in ax["lines"] if len(x) > 1]
        self.assertEqual(len(lines), len(deepest))
        for (x, y), key in zip(lines, deepest):
            by_layer = csv_pivot(exp, "layers", key, "saturated_frac", "layer", 100.0)[0.0]
            np.testing.assert_array_equal(x, range(1, 33))          # hidden layers only
            np.testing.assert_allclose(y, [by_layer[l] for l in range(1, 33)], rtol=1e-12)


class Colours(unittest.TestCase):
    """One palette without grey or near-white; a depth sweep without another axis gets one colour
    per depth (its line is not one colour named after the experiment)."""

    def assert_readable(self, rgba):
        r, g, b = rgba[:3]
        self.assertGreaterEqual(max(r, g, b) - min(r, g, b), 0.25, f"grey-ish {rgba}")
        self.assertLessEqual(min(r, g, b), 0.65, f"near-white {rgba}")

    def test_palette_has_no_grey_and_no_near_white(self):
        from gradlab.plot.colors import palette
        for n in (1, 7, 8, 10, 13, 14, 20, 40):
            colours = palette(n)
            self.assertEqual(len(colours), n)
            self.assertEqual(len(set(colours)), n)
            for c in colours:
                self.assert_readable(c)
        self.assertNotIn("#7f7f7f", [css_color(c) for c in palette(13)])

    def test_experiment_colours_of_every_fixture(self):
        from gradlab.plot.colors import experiment_colors
        tmp = tempfile.mkdtemp(prefix="gradlab-plot-test-")
        try:
            subprocess.run([sys.executable, MAKE_FIXTURES, tmp], check=True, timeout=300)
            for case in EXPECTED:
                exp = Experiment(os.path.join(tmp, case))
                colours = experiment_colors(exp)
                self.assertEqual(set(colours), set(exp.configs))
                self.assertEqual(len(set(colours.values())), len(colours), case)
                for c in colours.values():
                    self.assert_readable(c)
            exp = Experiment(os.path.join(tmp, "depth_only"))
            exp_figs = capture_figures(os.path.join(tmp, "depth_only"))[1]
            ax = exp_figs["gradient_ratio_vs_depth"]["axes"][0]
            colours = experiment_colors(exp)
            markers = {(x[0], c) for x, _, c in ax["lines"] if len(x) == 1}
            self.assertEqual(markers, {(exp.axis_value(k, 0), css_color(colours[k]))
                                       for k in exp.configs})
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


class Report(unittest.TestCase):
    """report.html: final verdicts beside the initial ones, --set overrides, --only selections;
    older folders without the final columns still render."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gradlab-plot-test-")
        subprocess.run([sys.executable, MAKE_FIXTURES, cls.tmp], check=True, timeout=300)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def report(self, case):
        from gradlab.plot.report import write_report
        from gradlab.plot.colors import experiment_colors
        exp = Experiment(os.path.join(self.tmp, case))
        path = os.path.join(self.tmp, case + ".html")
        write_report(exp, experiment_colors(exp), [], path)
        with open(path, encoding="utf-8") as f:
            return f.read()

    def header(self, text):
        return re.findall(r"<th>([^<]*)</th>", text)

    def test_final_verdict_beside_the_initial_one(self):
        text = self.report("rnn_training")
        head = self.header(text)
        for column in ("verdict", "gradient_ratio", "final_verdict", "final_gradient_ratio",
                       "final_per_layer_factor", "final_loss", "final_test_error"):
            self.assertIn(column, head)
        self.assertEqual(head.index("final_verdict"), head.index("per_layer_factor") + 1)
        self.assertRegex(text, r'<td class="v-vanishing">vanishing</td>')   # rho 0.9, last step
        self.assertIn("2 runs: 2 ok; at initialization 2 stable; final 1 vanishing, 1 stable", text)

    def test_older_folder_without_final_columns(self):
        head = self.header(self.report("mlp_training"))
        self.assertIn("verdict", head)
        self.assertNotIn("final_verdict", head)

    def test_set_overrides_and_only_runs_are_said(self):
        text = self.report("rnn_training")
        self.assertIn("Config description: tanh chains trained on a sequence task.", text)
        self.assertIn("overridden by --set: train.steps=400, probe.every=100; 2 of 3 runs present",
                      text)
        # a manifest listing only the selected runs: the grid's size counts
        folder = os.path.join(self.tmp, "rnn_training")
        with open(os.path.join(folder, "manifest.json")) as f:
            manifest = json.load(f)
        manifest["runs"], manifest["set"] = manifest["runs"][:2], []
        with open(os.path.join(folder, "manifest.json"), "w") as f:
            json.dump(manifest, f)
        text = self.report("rnn_training")
        self.assertIn("Config description: tanh chains trained on a sequence task. "
                      '<span class="changed">(2 of 3 runs present)</span>', text)
        text = self.report("mlp_training")
        self.assertNotIn("overridden", text)
        self.assertNotIn("runs present", text)
        self.assertIn("<p>Online training on Shapeset-3x2", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
