#!/usr/bin/python3
"""Tests for the gradlab.plot package (python/gradlab), what `gradlab plot` runs.

Run from anywhere:  /usr/bin/python3 tests/plot/test_plot.py   (exit status non-zero on failure)

Builds the synthetic result folders of make_fixtures.py in a temporary directory, runs
`python3 -m gradlab.plot` on each with --format png and --format svg (as subprocesses, in
parallel), and checks the exit status, the figures (exactly the expected ones, valid PNG / SVG),
and report.html (self-contained: every src/href is a data URI or an in-page anchor, nothing refers
to http(s)). Helpers of the package are also tested directly, and every figure's colour of a
configuration is checked against the runs table's swatch. The tests of the figures over training,
the palette and report.html live in test_plot_training.py and run here too; shared helpers in
plot_test_util.py, the fixtures' folder layout in fixture_folder.py.
"""

import base64
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

from plot_test_util import EXPECTED, FORMATS, MAKE_FIXTURES, PYTHON_DIR, render_inspecting
from gradlab.results import Experiment, rows_by_run
from gradlab.plot import chains, common, depth, histograms, jacobian, layers
from gradlab.plot.colors import css_color
from test_plot_training import Colours, FiguresOverTraining, Report  # noqa: F401 (run here too)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

PLOT = [sys.executable, "-m", "gradlab.plot"]


def plot_env(extra_path=None):
    """The environment `gradlab plot` gives python3: the package first on PYTHONPATH."""
    path = PYTHON_DIR if extra_path is None else extra_path + os.pathsep + PYTHON_DIR
    env = dict(os.environ, PYTHONPATH=path)
    env.pop("GRADLAB_EXE", None)
    return env


def run_plot(*args, env=None):
    return subprocess.run([*PLOT, *args], capture_output=True, text=True, timeout=120,
                          env=env or plot_env())


class PlotRuns(unittest.TestCase):
    """gradlab.plot on every fixture, in both formats."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gradlab-plot-test-")
        cls.results = {}
        processes = {}
        for fmt in FORMATS:
            root = os.path.join(cls.tmp, fmt)
            subprocess.run([sys.executable, MAKE_FIXTURES, root], check=True, timeout=300)
            for case in EXPECTED:
                folder = os.path.join(root, case)
                figdir = os.path.join(folder, "figures") if fmt == "png" else os.path.join(root, case + "-svgfigs")
                args = [*PLOT, folder, "--format", fmt]
                if fmt == "svg":
                    args += ["--out", figdir]      # exercise --out; png uses the default folder
                processes[(case, fmt)] = (subprocess.Popen(args, stdout=subprocess.PIPE,
                                                           stderr=subprocess.PIPE, text=True,
                                                           env=plot_env()),
                                          folder, figdir)
        for key, (proc, folder, figdir) in processes.items():
            out, err = proc.communicate(timeout=120)
            cls.results[key] = {"rc": proc.returncode, "stdout": out, "stderr": err,
                                "folder": folder, "figdir": figdir}

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def each(self):
        for (case, fmt), result in sorted(self.results.items()):
            with self.subTest(case=case, format=fmt):
                yield case, fmt, result

    def test_exit_status_and_stdout(self):
        for case, fmt, r in self.each():
            self.assertEqual(r["rc"], 0, r["stderr"])
            self.assertNotIn("Traceback", r["stderr"])
            self.assertNotIn("failed", r["stderr"])
            printed = r["stdout"].split()
            self.assertEqual(printed[-1], os.path.join(r["folder"], "report.html"))
            for path in printed:
                self.assertTrue(os.path.isfile(path), path)

    def test_expected_figures_exist_and_are_valid(self):
        for case, fmt, r in self.each():
            names = {os.path.splitext(n)[0] for n in os.listdir(r["figdir"]) if n.endswith("." + fmt)}
            self.assertEqual(names, EXPECTED[case])
            for name in EXPECTED[case]:
                path = os.path.join(r["figdir"], f"{name}.{fmt}")
                self.assertGreater(os.path.getsize(path), 1000, path)
                if fmt == "png":
                    with open(path, "rb") as f:
                        self.assertEqual(f.read(8), PNG_SIGNATURE, path)
                else:
                    root = ET.parse(path).getroot()
                    self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg", path)

    def test_report_is_self_contained(self):
        for case, fmt, r in self.each():
            report = os.path.join(r["folder"], "report.html")
            self.assertTrue(os.path.isfile(report))
            with open(report, encoding="utf-8") as f:
                text = f.read()
            self.assertNotRegex(text, r"https?://")
            self.assertNotRegex(text, r"<script|<link|@import")
            ids = set(re.findall(r'\bid="([^"]+)"', text))
            for attr, value in re.findall(r'\b(src|href)="([^"]*)"', text):
                if value.startswith("data:"):
                    continue
                if value.startswith("#"):
                    self.assertIn(value[1:], ids, f"{attr}={value}")
                    continue
                self.assertTrue(os.path.exists(os.path.join(r["folder"], value)), f"{attr}={value}")
            self.assertEqual(text.count("<figure"), len(EXPECTED[case]))
            self.assertEqual(text.count("<figcaption>"), len(EXPECTED[case]))
            self.assertIn(f"<h1>{case}</h1>", text)
            self.assertIn("<pre>", text)
            self.assertIn('class="v-', text)      # verdict colours in the runs table
            if case == "mlp_overflow":             # where the NaN started (runs/<id>/summary.json)
                self.assertIn("<td>step 0, layer 9, preact</td>", text)
                self.assertIn("nonfinite", text)

    def test_embedded_figures_decode(self):
        for case, fmt, r in self.each():
            with open(os.path.join(r["folder"], "report.html"), encoding="utf-8") as f:
                text = f.read()
            if fmt == "png":
                uris = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
                self.assertEqual(len(uris), len(EXPECTED[case]))
                for data in uris:
                    self.assertEqual(base64.b64decode(data)[:8], PNG_SIGNATURE)
            else:
                svgs = re.findall(r"<svg.*?</svg>", text, flags=re.S)
                self.assertEqual(len(svgs), len(EXPECTED[case]))
                for svg in svgs:   # well-formed once the namespaces are declared again
                    ET.fromstring(svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg" '
                                              'xmlns:xlink="http://www.w3.org/1999/xlink"', 1))
                ids = re.findall(r'\bid="([^"]+)"', text)
                self.assertEqual(len(ids), len(set(ids)), "duplicate ids across inlined SVGs")


class PlotErrors(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="gradlab-plot-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_empty_folder_exits_2_naming_it(self):
        subprocess.run([sys.executable, MAKE_FIXTURES, self.tmp], check=True, timeout=300)
        folder = os.path.join(self.tmp, "empty")
        r = run_plot(folder)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(folder, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(folder, "report.html")))

    def test_missing_folder_exits_2(self):
        folder = os.path.join(self.tmp, "does-not-exist")
        r = run_plot(folder)
        self.assertEqual(r.returncode, 2)
        self.assertIn(folder, r.stderr)

    def test_missing_matplotlib_exits_3(self):
        fake = os.path.join(self.tmp, "fake")
        os.makedirs(fake)
        with open(os.path.join(fake, "numpy.py"), "w") as f:
            f.write("raise ImportError('no numpy here')\n")
        r = run_plot(self.tmp, env=plot_env(fake))
        self.assertEqual(r.returncode, 3)
        self.assertIn("needs python3-numpy and python3-matplotlib", r.stderr)
        self.assertIn("apt-get install python3-numpy python3-matplotlib", r.stderr)

    def test_bad_format_is_a_usage_error(self):
        r = run_plot(self.tmp, "--format", "jpg")
        self.assertEqual(r.returncode, 2)


class PlotHelpers(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gradlab-plot-test-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def write(self, folder, name, text):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name), "w") as f:
            f.write(text)

    def test_theory_prediction_is_anchored_at_the_top_hidden_layer(self):
        xs, ys = layers.theory_prediction(1.0, 3, {1: 0.25, 2: 0.25})
        self.assertEqual(list(xs), [1, 2, 3])
        self.assertAlmostEqual(ys[2], 1.0)
        self.assertAlmostEqual(ys[1], 0.5)     # sqrt(chi_2)
        self.assertAlmostEqual(ys[0], 0.25)    # sqrt(chi_1 chi_2)
        xs, _ = layers.theory_prediction(1.0, 3, {2: 0.25})   # chi_1 missing: stop there
        self.assertEqual(list(xs), [2, 3])

    def test_columns_found_by_name_and_unknown_ones_ignored(self):
        folder = os.path.join(self.tmp, "reordered")
        self.write(folder, "layers.csv",
                   "run,model.activation,model.init,repeat,seed,extra,delta_norm,layer,step\n"
                   "a,tanh,he_normal,0,1,zz,0.5,1,0\n"
                   "a,tanh,he_normal,0,1,zz,,2,0\n"
                   "b,relu,he_normal,0,2,zz,nan,1,0\n"
                   "b,relu,he_normal,0,2,zz,inf,2,0\n")
        exp = Experiment(folder)
        self.assertEqual(exp.axes, ["model.activation", "model.init"])
        self.assertEqual(exp.configs, [("tanh", "he_normal"), ("relu", "he_normal")])
        self.assertEqual(exp.label(("tanh", "he_normal")), "activation=tanh, init=he_normal")
        t = exp.table("layers")
        series = common.config_series(exp, t, rows_by_run(t), exp.configs,
                                         "layer", "delta_norm", log=True)
        self.assertEqual(series[("tanh", "he_normal")].state, "ok")
        self.assertEqual(list(series[("tanh", "he_normal")].x), [1.0])   # the empty cell is absent
        self.assertEqual(series[("relu", "he_normal")].state, "nonfinite")

    def test_no_grid_is_labelled_by_run_id(self):
        folder = os.path.join(self.tmp, "nogrid")
        self.write(folder, "steps.csv", "run,repeat,seed,step,loss\nrun,0,1,0,\nrun,0,1,10,1.5\n")
        exp = Experiment(folder)
        self.assertEqual(exp.axes, [])
        self.assertEqual(exp.label(exp.configs[0]), "run")

    def test_histogram_bins_are_classified(self):
        folder = os.path.join(self.tmp, "hist")
        self.write(folder, "histograms.csv",
                   "run,repeat,seed,step,layer,quantity,bin,lo,hi,count\n"
                   "run,0,1,0,1,act,-1,-inf,-1,3\n"
                   "run,0,1,0,1,act,0,-1,0,10\n"
                   "run,0,1,0,1,act,1,0,1,20\n"
                   "run,0,1,0,1,act,2,1,inf,4\n"
                   "run,0,1,0,1,act,,,,2\n"
                   "run,0,1,0,1,act,nonfinite,,,1\n")
        exp = Experiment(folder)
        data = histograms.histogram_data(exp, exp.table("histograms"), {0.0})
        edges, counts, outside = data[("act", 0.0, exp.configs[0], 1)]
        self.assertEqual(edges, [(-1.0, 0.0), (0.0, 1.0)])
        self.assertEqual(list(counts), [10, 20])
        self.assertEqual(outside, 3 + 4 + 2 + 1)

    def test_chi1_from_theory_json_and_axes_from_manifest_objects(self):
        folder = os.path.join(self.tmp, "theoryjson")
        self.write(folder, "manifest.json",
                   '{"axes": [{"name": "model.init.sigma_w2", "values": [1, 2]}],'
                   ' "runs": [{"id": "sigma_w2=2", "index": 1}, {"id": "sigma_w2=1", "index": 0}]}')
        # no `repeat` column: the axes come from the manifest's {name, values} objects
        self.write(folder, "runs.csv", "run,model.init.sigma_w2,per_layer_factor\n"
                                       "sigma_w2=1,1,0.5\nsigma_w2=2,2,1.0\n")
        self.write(folder, "theory.json", '{"runs": [{"run": "sigma_w2=1", "chi1": 0.5},'
                                          ' {"run": "sigma_w2=2", "applies": false}]}')
        exp = Experiment(folder)
        self.assertEqual(exp.axes, ["model.init.sigma_w2"])
        self.assertEqual(exp.configs, [("2",), ("1",)])          # the manifest's order
        chi = depth.theory_log_chi(exp)
        self.assertEqual(list(chi), [("1",)])
        self.assertAlmostEqual(chi[("1",)], -0.6931471805599453)

    def test_jacobian_prediction_from_theory_moments(self):
        folder = os.path.join(self.tmp, "jacobian")
        self.write(folder, "layers.csv", "run,repeat,seed,step,layer,theory_delta_factor\n"
                                         "r,0,1,0,1,0.5\nr,0,1,0,2,0.8\nr,0,1,0,3,\n")
        self.write(os.path.join(folder, "runs", "r"), "config.json", '{"model": {"depth": 2}}')
        exp = Experiment(folder)
        t = exp.table("layers")
        entry = {"applies": True, "weight_s1": -1.0,
                 "layers": [{"layer": 1, "mu1": 0.5, "mu2": 0.5},     # relu: mu2/mu1^2 = 2
                            {"layer": 2, "mu1": 0.8, "mu2": 0.64},    # linear-like: 1
                            {"layer": 3, "mu1": None, "mu2": None}]}
        m1, var = jacobian.jacobian_predictions(exp, t, t.rows, "r", entry)
        self.assertAlmostEqual(m1, 0.4)                          # chi_1 chi_2
        self.assertAlmostEqual(var, ((2 - 1 + 1) + (1 - 1 + 1)) / 2)
        _, var = jacobian.jacobian_predictions(exp, t, t.rows, "r", dict(entry, weight_s1=0.0))
        self.assertAlmostEqual(var, ((2 - 1) + (1 - 1)) / 2)     # orthogonal: s1 = 0
        _, var = jacobian.jacobian_predictions(exp, t, t.rows, "r", dict(entry, applies=False))
        self.assertIsNone(var)
        _, var = jacobian.jacobian_predictions(exp, t, t.rows, "r", {})
        self.assertIsNone(var)                                   # no gradlab theory: no line

    def test_theory_json_with_moments_is_used_without_the_binary(self):
        folder = os.path.join(self.tmp, "theorymoments")
        self.write(folder, "theory.json", '{"runs": [{"run": "r", "applies": true, "weight_s1": 0,'
                                          ' "layers": [{"layer": 1, "mu1": 0.5, "mu2": 0.5}]}]}')
        self.write(folder, "runs.csv", "run,repeat,seed\nr,0,1\n")
        from gradlab.results import gradlab_theory
        theory = gradlab_theory(Experiment(folder))
        self.assertEqual(list(theory), ["r"])
        self.assertEqual(theory["r"]["layers"][0]["mu2"], 0.5)

    def test_depth_of_a_run_and_groups_without_depth(self):
        folder = os.path.join(self.tmp, "depths")
        self.write(folder, "runs.csv", "run,variants,model.depth,repeat,seed,gradient_ratio\n"
                                       "a,x,4,0,1,0.5\nb,x,8,0,1,0.25\nc,y,4,0,1,1\n")
        self.write(os.path.join(folder, "runs", "a"), "config.json", '{"model": {"hidden": [3, 3, 3]}}')
        exp = Experiment(folder)
        self.assertEqual(exp.run_depth("a"), 3)   # the resolved config wins
        self.assertEqual(exp.run_depth("b"), 8)   # else the depth axis
        groups = exp.depth_groups(exp.configs)
        self.assertEqual(list(groups), ["x", "y"])
        self.assertEqual(groups["x"], [("x", "4"), ("x", "8")])

    def test_rnn_panels_per_activation(self):
        folder = os.path.join(self.tmp, "rnnpanels")
        self.write(folder, "timesteps.csv",
                   "run,model.activation,model.recurrent_init.gain,repeat,seed,step,t,dh_norm\n"
                   + "".join(f"{a}{g},{a},{g},0,1,0,{t},{g ** (2 - t)}\n"
                             for a in ("tanh", "relu") for g in (0.5, 0.8, 0.9, 1.0, 1.1)
                             for t in (1, 2)))
        exp = Experiment(folder)
        groups = chains.activation_groups(exp, exp.configs)
        self.assertEqual(list(groups), ["tanh", "relu"])
        self.assertEqual(len(groups["relu"]), 5)
        r = run_plot(folder)      # ten configurations, two activations: one panel per activation
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.isfile(os.path.join(folder, "figures", "rnn_dh_by_t.png")))

    def test_stale_figures_are_removed(self):
        folder = os.path.join(self.tmp, "stale")
        self.write(folder, "steps.csv", "run,repeat,seed,step,test_error\nrun,0,1,0,0.9\n")
        self.write(os.path.join(folder, "figures"), "rnn_dh_by_t.png", "old")
        r = run_plot(folder)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(folder, "figures", "rnn_dh_by_t.png")))


class OneColourPerConfiguration(unittest.TestCase):
    """Every line, bar and panel title drawn for a configuration has the colour of its swatch in
    the report's runs table; a depth study's line (one per group of the other axes) has the colour
    of the group's deepest configuration, the one the per-layer figures show."""

    CASES = ["mlp_init_study", "mlp_training", "depth_study", "rnn_radius", "rnnpanels",
             "rnn_training", "depth_only", "mlp_deep_training"]

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gradlab-plot-test-")
        subprocess.run([sys.executable, MAKE_FIXTURES, cls.tmp], check=True, timeout=300)
        PlotHelpers.write(None, os.path.join(cls.tmp, "rnnpanels"), "timesteps.csv",
                          "run,model.activation,model.recurrent_init.gain,repeat,seed,step,t,dh_norm\n"
                          + "".join(f"{a}{g},{a},{g},0,1,0,{t},{g ** (2 - t)}\n"
                                    for a in ("tanh", "relu") for g in (0.5, 0.8, 0.9, 1.0, 1.1)
                                    for t in (1, 2)))
        PlotHelpers.write(None, os.path.join(cls.tmp, "rnnpanels"), "runs.csv",
                          "run,model.activation,model.recurrent_init.gain,repeat,seed,status\n"
                          + "".join(f"{a}{g},{a},{g},0,1,ok\n" for a in ("tanh", "relu")
                                    for g in (0.5, 0.8, 0.9, 1.0, 1.1)))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def drawn_colours(self, exp, outdir):
        """[(figure, label, css colour)] of every legend entry and coloured panel title."""
        drawn = []

        def inspecting_save(fig, name, caption):
            for ax in fig.axes:
                for handle, label in zip(*ax.get_legend_handles_labels()):
                    patches = getattr(handle, "patches", None)
                    if patches:
                        rgba = patches[0].get_facecolor()
                    elif hasattr(handle, "lines"):           # errorbar
                        rgba = handle.lines[0].get_color()
                    elif hasattr(handle, "get_edgecolor"):   # histogram stairs
                        rgba = handle.get_edgecolor()
                    else:
                        rgba = handle.get_color()
                    drawn.append((name, label, css_color(matplotlib.colors.to_rgba(rgba))))
                for heading in (ax.title, ax._left_title):    # centred and left titles
                    text = heading.get_text().replace("\n", ", ")
                    if text and heading.get_color() != matplotlib.rcParams["axes.titlecolor"]:
                        drawn.append((name, text.split(": ")[0],
                                      css_color(matplotlib.colors.to_rgba(heading.get_color()))))

        render_inspecting(exp, outdir, inspecting_save)
        return drawn

    def test_figures_use_the_runs_table_colours(self):
        import matplotlib
        globals()["matplotlib"] = matplotlib
        for case in self.CASES:
            with self.subTest(case=case):
                folder = os.path.join(self.tmp, case)
                exp = Experiment(folder)
                drawn = self.drawn_colours(exp, os.path.join(folder, "figures"))
                with open(os.path.join(folder, "report.html"), encoding="utf-8") as f:
                    rows = re.findall(r'<span class="swatch" style="background:(#[0-9a-f]{6})">'
                                      r'</span></td><td>([^<]*)</td>', f.read())
                swatch = {}
                for colour, run in rows:
                    key = exp.run_config[run]
                    self.assertEqual(swatch.setdefault(key, colour), colour, f"{case}: {run}")
                self.assertEqual(set(swatch), set(exp.configs))
                self.assertEqual(len(set(swatch.values())), len(swatch), "colours are distinct")
                expected = {exp.label(k): swatch[k] for k in exp.configs}
                i = exp.axis_ending("depth")
                self.assertNotIn(exp.name(), [label for _, label, _ in drawn],
                                 "a line named after the experiment")
                for label, keys in exp.depth_groups(exp.configs).items():
                    deepest = max(keys, key=lambda k: exp.axis_value(k, i) if i is not None else 0)
                    expected.setdefault(label, swatch[deepest])
                checked = 0
                for figure, label, colour in drawn:
                    label = re.sub(r" \((non-finite|all ≤ 0)\)$", "", label)
                    if label in expected:
                        self.assertEqual(colour, expected[label], f"{case}: {figure}: {label}")
                        checked += 1
                self.assertGreater(checked, len(exp.configs) // 2, f"{case}: {drawn}")


@unittest.skipUnless(os.environ.get("GRADLAB_EXE"), "needs the gradlab binary (ctest sets GRADLAB_EXE)")
class WithTheBinary(unittest.TestCase):
    """`gradlab theory --json` gives the moments the Jacobian prediction reads."""

    def test_theory_moments_of_a_config(self):
        from gradlab.results import theory_of_config
        config = {"name": "moments", "seed": 0, "precision": "float64",
                  "model": {"type": "mlp", "depth": 3, "width": 16, "bias_init": 0.0,
                            "init": {"name": "orthogonal", "gain": 1.0}},
                  "data": {"name": "gaussian", "dim": 16, "outputs": 2}, "loss": "mse",
                  "probe": {"samples": 8}, "grid": {"model.activation": ["relu", "tanh"]}}
        runs = theory_of_config(config).get("runs")
        self.assertEqual(len(runs), 2, runs)
        relu, tanh = runs
        for entry in runs:
            self.assertEqual(entry["weight_s1"], 0.0)             # orthogonal W
            self.assertEqual([l["layer"] for l in entry["layers"]], [1, 2, 3, 4])
            self.assertIsNone(entry["layers"][3]["mu1"])          # the affine output layer
        for layer in relu["layers"][:3]:
            self.assertAlmostEqual(layer["mu1"], 0.5, places=12)
            self.assertAlmostEqual(layer["mu2"], 0.5, places=12)
        for layer in tanh["layers"][:3]:
            self.assertLess(layer["mu2"], layer["mu1"])           # 0 < tanh′² < 1
            self.assertGreater(layer["mu2"], layer["mu1"] ** 2)   # Jensen


if __name__ == "__main__":
    unittest.main(verbosity=2)
