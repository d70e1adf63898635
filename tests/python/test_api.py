"""gradlab's Python API (python/gradlab: frames.py, runner.py, plot/figures.py) on real runs:
types, every table against its CSV, tensors against the tables' norms, errors, theory, figures,
and the package's import rules."""

import csv
import math
import os
import subprocess
import sys
import types
import warnings

import numpy as np
import pandas as pd
import pytest

import gradlab
from conftest import MLP, SRC

TABLES = ["runs", "layers", "steps", "timesteps", "histograms"]


def csv_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        return next(reader), list(reader)


# ---- types -------------------------------------------------------------------------------
def test_axes_and_run_are_ordered_categoricals_in_manifest_order(mlp):
    layers = mlp.layers
    for column in ["run", "model.init", "model.depth"]:
        assert isinstance(layers[column].dtype, pd.CategoricalDtype), column
        assert layers[column].cat.ordered, column
    assert list(layers["model.init"].cat.categories) == ["glorot_uniform", "he_normal"]
    # numeric categories: depth 10 sorts after 2 (as text it would not)
    assert list(layers["model.depth"].cat.categories) == [2, 10]
    assert list(layers["run"].cat.categories) == [r["id"] for r in mlp.manifest["runs"]]


def test_integer_float_and_text_columns(mlp, chain):
    assert mlp.runs["repeat"].dtype == np.int64 and mlp.runs["seed"].dtype == np.int64
    for column in ["step", "layer", "fan_in", "fan_out", "nonfinite"]:
        assert mlp.layers[column].dtype == np.int64, column
    for column in ["delta_norm", "preact_ms", "jac_sv_mean", "theory_q"]:
        assert mlp.layers[column].dtype == np.float64, column
    assert mlp.layers["jac_sv_mean"].isna().all()   # empty cells: does not apply
    assert chain.timesteps["t"].dtype == np.int64 and chain.timesteps["step"].dtype == np.int64
    assert mlp.histograms["count"].dtype == np.int64
    assert str(mlp.histograms["bin"].dtype) == "string"   # -1 .. bins, and "nonfinite"
    assert isinstance(mlp.runs["status"].dtype, pd.CategoricalDtype)
    assert isinstance(mlp.runs["verdict"].dtype, pd.CategoricalDtype)
    assert str(mlp.runs["reason"].dtype) == "string"
    assert mlp.steps["loss"].dtype == np.float64


def test_groupby_an_axis_without_parsing_run_ids(mlp):
    by_depth = mlp.layers.groupby("model.depth")["layer"].max()
    assert by_depth.to_dict() == {2: 3, 10: 11}   # hidden layers + the output layer
    assert mlp.runs.groupby("model.init").size().to_dict() == {"glorot_uniform": 4, "he_normal": 4}


def test_a_table_the_folder_lacks_is_empty(mlp, chain):
    assert mlp.timesteps.empty and chain.layers.empty and chain.histograms.empty


# ---- every table against its CSV ---------------------------------------------------------
def same_cell(value, text, column):
    if text == "":
        return pd.isna(value)
    if column == "seed" or column == "run" or isinstance(value, str):
        return str(value) == text
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return value == int(text) and ("." not in text and "e" not in text.lower())
    number = float(text)
    return (math.isnan(number) and math.isnan(value)) or number == value   # exact, bit for bit


@pytest.mark.parametrize("table", TABLES)
def test_every_table_reads_back_its_csv_exactly(mlp, chain, table):
    checked = 0
    for results in (mlp, chain):
        path = os.path.join(results.folder, table + ".csv")
        if not os.path.isfile(path):
            assert results.table(table).empty
            continue
        header, rows = csv_rows(path)
        frame = results.table(table)
        assert list(frame.columns) == header
        assert len(frame) == len(rows)
        for j, column in enumerate(header):
            values = frame[column].tolist()
            for value, row in zip(values, rows):
                assert same_cell(value, row[j], column), (table, column, value, row[j])
                checked += 1
    assert checked > 0


def test_a_run_folder_reads_as_the_combined_tables(mlp):
    run = mlp.run_ids()[3]
    config, summary = mlp.config(run), mlp.summary(run)
    assert config["model"]["depth"] in (2, 10) and summary["status"] == "ok"
    with pytest.raises(KeyError, match="no run folder"):
        mlp.config("depth=99")


# ---- tensors against the tables' norms ----------------------------------------------------
def test_mlp_tensors_match_the_layers_table(mlp):
    layers = mlp.layers
    for run in mlp.run_ids()[:3]:
        assert mlp.tensor_steps(run) == [0, 4]
        for step in (0, 4):
            t = mlp.tensors(run, step)
            rows = layers[(layers["run"] == run) & (layers["step"] == step)].set_index("layer")
            hidden = int(mlp.config(run)["model"]["depth"])
            for l in range(1, hidden + 1):
                delta, z, a = t[f"delta_{l}"], t[f"z_{l}"], t[f"a_{l}"]
                row = rows.loc[l]
                assert np.sqrt((delta.astype(float) ** 2).sum(1).mean()) == \
                    pytest.approx(row["delta_norm"], rel=1e-9)
                assert (z.astype(float) ** 2).mean() == pytest.approx(row["preact_ms"], rel=1e-9)
                assert a.astype(float).mean() == pytest.approx(row["act_mean"], rel=1e-9,
                                                              abs=1e-12)
            assert t[f"W_{hidden + 1}"].shape == (3, 16)   # classes × width, as torch's Linear
    with pytest.raises(KeyError, match="dumped steps: \\[0, 4\\]"):
        mlp.tensors(mlp.run_ids()[0], 2)


def test_chain_tensors_match_the_timesteps_table(chain):
    ts = chain.timesteps
    for run in chain.run_ids():
        for step in chain.tensor_steps(run):
            t = chain.tensors(run, step)
            rows = ts[(ts["run"] == run) & (ts["step"] == step)].sort_values("t")
            dh, h = t["dh"].astype(float), t["h"].astype(float)
            assert np.sqrt((dh ** 2).sum(2).mean(0)) == pytest.approx(rows["dh_norm"].to_numpy(),
                                                                        rel=1e-9)
            assert np.sqrt((h ** 2).sum(2).mean(0)) == pytest.approx(rows["h_norm"].to_numpy(),
                                                                       rel=1e-9)


# ---- gradlab.run: errors, warnings, options -----------------------------------------------
def test_a_bad_config_raises_with_gradlabs_message(tmp_path):
    bad = {"name": "bad", "model": {"depth": -1, "width": 4}}
    with pytest.raises(gradlab.GradlabError) as error:
        gradlab.run(bad, out=str(tmp_path / "out"), quiet=True)
    assert error.value.status == 2
    assert "<config dict>: /model/depth: expected an integer in 1..100000, found -1" in \
        str(error.value)
    assert not (tmp_path / "out").exists()   # checked before anything is written
    with pytest.raises(gradlab.GradlabError, match="nope.json: cannot read config"):
        gradlab.run(str(tmp_path / "nope.json"), out=str(tmp_path / "o2"), quiet=True)
    with pytest.raises(gradlab.GradlabError, match="/model/depth: expected an integer"):
        gradlab.theory(bad)


def test_a_diverged_run_returns_results_and_warns_with_its_id(tmp_path):
    config = {"name": "div", "model": {"depth": 3, "width": 16, "activation": "relu"},
              "data": {"name": "gaussian", "dim": 8, "classes": 3},
              "train": {"steps": 20}, "probe": {"samples": 16},
              "grid": {"train.lr": [0.01, 1e30]}}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = gradlab.run(config, out=str(tmp_path / "out"), quiet=True)
    messages = [str(w.message) for w in caught]
    assert any("1 runs failed or diverged: lr=1e+30 (diverged)" in m for m in messages), messages
    assert results.runs["status"].astype(str).tolist() == ["ok", "diverged"]


def test_set_and_only_reach_the_binary(tmp_path):
    r = gradlab.run(MLP, out=str(tmp_path / "out"), set={"repeats": 1, "model.width": 8},
                    only="model.depth=2", quiet=True)
    assert r.manifest["set"] == ["repeats=1", "model.width=8"]
    assert r.runs["run"].astype(str).tolist() == ["init=glorot_uniform,depth=2",
                                                   "init=he_normal,depth=2"]
    assert set(r.layers["fan_out"][r.layers["layer"] == 1]) == {8}


def test_progress_lines_without_tqdm(tmp_path, capfd, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)   # as if tqdm were not installed
    gradlab.run(MLP, out=str(tmp_path / "out"), set="repeats=1", only="model.depth=2", jobs=1)
    err = capfd.readouterr().err
    assert "[1/2] init=glorot_uniform,depth=2: ok" in err and "[2/2]" in err


# ---- theory ------------------------------------------------------------------------------
def test_theory_is_the_layers_tables_prediction(mlp):
    theory = gradlab.theory(MLP)
    assert list(theory.columns[:5]) == ["run", "model.init", "model.depth", "repeat", "seed"]
    assert theory["layer"].dtype == np.int64
    assert list(theory["model.depth"].cat.categories) == [2, 10]
    step0 = mlp.layers[mlp.layers["step"] == 0]
    merged = step0.merge(theory.astype({"run": str}), left_on=[step0["run"].astype(str), "layer"],
                         right_on=["run", "layer"], suffixes=("", "_t"))
    assert len(merged) == len(theory)
    assert (merged["theory_q"] == merged["q"]).all()
    assert {e["run"] for e in theory.attrs["runs"]} == set(mlp.run_ids())


# ---- figures -----------------------------------------------------------------------------
def test_plot_returns_the_clis_figures(mlp, chain, tmp_path):
    import matplotlib.figure
    figures = gradlab.plot(mlp)
    cli = subprocess.run([sys.executable, "-m", "gradlab.plot", mlp.folder, "--out",
                          str(tmp_path / "figs")], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=os.path.join(SRC, "python")))
    assert cli.returncode == 0, cli.stderr
    drawn = sorted(os.path.splitext(f)[0] for f in os.listdir(tmp_path / "figs"))
    assert sorted(figures) == drawn   # the same set of figures as `gradlab plot`
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figures.values())
    fig = gradlab.plot(mlp, "grad_norm_by_layer")
    assert fig.axes[0].get_title() == "Back-propagated gradient per layer"
    fig.savefig(tmp_path / "one.png")
    assert (tmp_path / "one.png").stat().st_size > 1000
    assert gradlab.plot(chain, "rnn_dh_by_t") is not None
    assert gradlab.plot(chain, "grad_norm_by_layer") is None   # no layers table: n/a
    with pytest.raises(ValueError, match="no figure 'nope'"):
        gradlab.plot(mlp, "nope")


def test_gradlab_plot_cli_needs_no_pandas(mlp, tmp_path):
    """`gradlab plot` (python3 -m gradlab.plot) works where pandas is not installed."""
    block = tmp_path / "block"
    block.mkdir()
    (block / "pandas.py").write_text("raise ImportError('pandas blocked by the test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(block), os.path.join(SRC, "python")]))
    r = subprocess.run([sys.executable, "-m", "gradlab.plot", mlp.folder, "--out",
                        str(tmp_path / "figs")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-c", "import gradlab; gradlab.load"], capture_output=True,
                       text=True, env=env)
    assert "pandas blocked by the test" in r.stderr   # the API does need it, and says so


# ---- finding the binary ------------------------------------------------------------------
def test_binary_env_then_path_then_checkout(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "gradlab"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("GRADLAB_EXE", "/nonexistent/gradlab")
    with pytest.raises(gradlab.GradlabError, match="GRADLAB_EXE=/nonexistent/gradlab"):
        gradlab.find_binary()
    monkeypatch.delenv("GRADLAB_EXE")
    monkeypatch.setenv("PATH", str(fake.parent))
    assert gradlab.find_binary() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    checkout = os.path.join(SRC, "build", "gradlab")
    if os.path.isfile(checkout):
        assert gradlab.find_binary() == checkout
    else:
        with pytest.raises(gradlab.GradlabError, match="no gradlab binary"):
            gradlab.find_binary()


# ---- the example -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """The example's result folder, shared: the notebook's rerun skips the complete runs."""
    return tmp_path_factory.mktemp("example") / "study"


def test_the_depth_study_example_runs_end_to_end(study):
    out = study
    env = dict(os.environ, PYTHONPATH=os.path.join(SRC, "python"))
    r = subprocess.run([sys.executable, os.path.join(SRC, "examples", "depth_study.py"),
                        str(out)], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "measured" in r.stdout and "theory" in r.stdout
    for name in ("depth_study.png", "grad_norm_by_layer.png"):
        with open(out / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name


# ---- cmake --install ---------------------------------------------------------------------
def test_cmake_install_puts_the_package_where_debians_python_looks(tmp_path):
    build = os.environ.get("GRADLAB_BUILD_DIR")
    if not build:
        pytest.skip("GRADLAB_BUILD_DIR not set (ctest sets it)")
    prefix = tmp_path / "prefix"
    r = subprocess.run(["cmake", "--install", build, "--prefix", str(prefix)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    version = "%d.%d" % sys.version_info[:2]
    site = prefix / "lib" / f"python{version}" / "dist-packages"
    # Debian's python3 searches <prefix>/lib/python3.X/dist-packages for the prefix /usr/local
    debian = subprocess.run(["/usr/bin/python3", "-c", "import sys; print('\\n'.join(sys.path))"],
                            capture_output=True, text=True).stdout.split()
    assert f"/usr/local/lib/python{version}/dist-packages" in debian
    env = dict(os.environ, PYTHONPATH=str(site), PATH=str(prefix / "bin"))
    env.pop("GRADLAB_EXE", None)
    r = subprocess.run(["/usr/bin/python3", "-c", "import gradlab; print(gradlab.__file__); "
                        "print(gradlab.find_binary())"], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [str(site / "gradlab" / "__init__.py"), str(prefix / "bin" / "gradlab")]


def test_the_depth_study_notebook_runs_headless(study, monkeypatch):
    nbformat = pytest.importorskip("nbformat", reason="python3-nbformat (scripts/setup.sh)")
    nbclient = pytest.importorskip("nbclient", reason="python3-nbclient (scripts/setup.sh)")
    monkeypatch.setenv("DEPTH_STUDY_OUT", str(study))
    os.remove(study / "depth_study.png")
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    examples = os.path.join(SRC, "examples")
    nb = nbformat.read(os.path.join(examples, "depth_study.ipynb"), as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": examples}}).execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.get("output_type") == "error"]
    assert "measured" in code[2].outputs[-1]["data"]["text/plain"]   # the ratio table
    assert "image/png" in code[-1].outputs[-1]["data"]                 # gradlab.plot's Figure
    assert (study / "depth_study.png").is_file()


def test_progress_bar_with_tqdm(tmp_path, monkeypatch):
    calls = []

    class Bar:
        def __init__(self, total, unit):
            self.n = 0
            calls.append(("total", total))

        def update(self, k):
            self.n += k
            calls.append(("update", k))

        def set_postfix_str(self, text):
            pass

        def write(self, text, file=None):
            pass

        def close(self):
            calls.append(("close", 0))

    auto = types.ModuleType("tqdm.auto")
    auto.tqdm = Bar
    monkeypatch.setitem(sys.modules, "tqdm", types.ModuleType("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", auto)
    gradlab.run(MLP, out=str(tmp_path / "out"), set="repeats=1", only="model.depth=2", jobs=1)
    assert calls[0] == ("total", 2) and calls[-1] == ("close", 0)
    assert sum(k for name, k in calls if name == "update") == 2
