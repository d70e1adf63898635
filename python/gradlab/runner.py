"""gradlab.run and gradlab.theory: the gradlab binary, driven from Python.

The binary is, in this order: $GRADLAB_EXE, `gradlab` on PATH, then build/gradlab of the source
checkout this package sits in (python/gradlab/ → ../../build/gradlab).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

from gradlab.frames import load, manifest_order, read_frame, read_json


class GradlabError(Exception):
    """gradlab refused the command (exit 2: usage or config error; 3: environment error). The
    message is gradlab's, every line of it; .status is the exit status."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def find_binary():
    """The gradlab binary's path ($GRADLAB_EXE, PATH, the checkout's build/gradlab)."""
    exe = os.environ.get("GRADLAB_EXE")
    if exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise GradlabError(f"GRADLAB_EXE={exe}: not an executable file", 2)
        return exe
    exe = shutil.which("gradlab")
    if exe:
        return exe
    checkout = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build",
                            "gradlab")
    if os.path.isfile(checkout) and os.access(checkout, os.X_OK):
        return os.path.normpath(checkout)
    raise GradlabError("no gradlab binary: set GRADLAB_EXE=/path/to/gradlab, put gradlab on PATH, "
                       "or build this checkout (scripts/build.sh)", 2)


class ConfigFile:
    """A config path as given, or a dict written to a temporary file (removed on exit; gradlab's
    messages name it "<config dict>")."""

    def __init__(self, config):
        self.config, self.tmp = config, None

    def __enter__(self):
        if isinstance(self.config, dict):
            self.tmp = tempfile.TemporaryDirectory(prefix="gradlab-config-")
            path = os.path.join(self.tmp.name, "config.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(self.config, f, indent=1)
            return path
        return os.fspath(self.config)

    def __exit__(self, kind, error, trace):
        if self.tmp is not None:
            self.tmp.cleanup()
            if isinstance(error, GradlabError):
                error.args = (str(error).replace(os.path.join(self.tmp.name, "config.json"),
                                                 "<config dict>"),)


def options(flag, values):
    """["--set", "a=1", "--set", "b=2"] from {"a": 1, "b": 2}, ["a=1", "b=2"] or "a=1"; a dict's
    values in compact JSON (strings as they are)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    if isinstance(values, dict):
        values = [f"{k}={v if isinstance(v, str) else json.dumps(v, separators=(',', ':'))}"
                  for k, v in values.items()]
    return [w for v in values for w in (flag, str(v))]


def call(args):
    """Runs `gradlab ARGS` to the end; GradlabError on exit 2 or 3. Returns the CompletedProcess."""
    r = subprocess.run([find_binary(), *args], capture_output=True, text=True)
    if r.returncode >= 2:
        raise GradlabError(r.stderr.strip() or f"gradlab {args[0]}: exit {r.returncode}",
                           r.returncode)
    return r


PROGRESS = re.compile(r"^\[(\d+)/(\d+)\] ")


class Progress:
    """gradlab's per-run lines ("[k/N] id: ok, stable, 0.05s"): a tqdm bar when tqdm is importable
    (tqdm.auto: a widget in a notebook), else the lines themselves on stderr."""

    def __init__(self, quiet):
        self.quiet, self.bar = quiet, None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            tqdm = None
        self.tqdm = None if quiet else tqdm

    def line(self, text):
        m = PROGRESS.match(text)
        if self.tqdm is not None and m:
            done, total = int(m.group(1)), int(m.group(2))
            if self.bar is None:
                self.bar = self.tqdm(total=total, unit="run")
            self.bar.update(done - self.bar.n)
            self.bar.set_postfix_str(text[m.end():][:60])
        elif self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        elif not self.quiet:
            print(text, file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def output_folder(path, out, sets):
    """Where `gradlab run` writes: --out, else results/<name> (the name after --set)."""
    if out is not None:
        return os.fspath(out)
    manifest = json.loads(call(["validate", path, "--json", *sets]).stdout)
    return os.path.join("results", manifest["name"])


def run(config, out=None, set=None, only=None, jobs=None, force=False, quiet=False):
    """Runs an experiment and returns gradlab.load(its folder).

    config: a config file's path, or a config as a dict. out: the result folder (default
    results/<name>, as `gradlab run`). set / only: "KEY=VALUE", a list of them, or a dict
    (`--set`, `--only`). jobs: runs at once (default: the CPUs). force: rerun complete runs.
    Progress: a tqdm bar if tqdm is installed, else gradlab's lines on stderr (none if quiet).

    Exit 2 or 3 (config, usage or environment error) raises GradlabError with gradlab's message;
    exit 1 (some run failed or diverged) returns the results and warns with the runs' ids. A rerun
    into the same folder skips complete runs and resumes the others (docs/cluster.md)."""
    sets = options("--set", set)
    with ConfigFile(config) as path:
        folder = output_folder(path, out, sets)
        args = ["run", path, "--out", folder, *sets, *options("--only", only)]
        args += ["--jobs", str(int(jobs))] if jobs is not None else []
        args += ["--force"] if force else []
        progress, tail = Progress(quiet), []
        with subprocess.Popen([find_binary(), *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) as p:
            for text in p.stderr:
                text = text.rstrip("\n")
                tail = (tail + [text])[-200:]
                progress.line(text)
            status = p.wait()
        progress.close()
        if status >= 2:
            raise GradlabError("\n".join(t for t in tail if not PROGRESS.match(t)) or
                               f"gradlab run: exit {status}", status)
    results = load(folder)
    if status == 1:
        bad = results.runs[results.runs["status"].astype(str).isin(["failed", "diverged"])] \
            if "status" in results.runs else results.runs
        names = [f"{r} ({s})" for r, s in zip(bad.get("run", []), bad.get("status", []))]
        warnings.warn(f"gradlab run {folder}: {len(names)} runs failed or diverged: "
                      + ", ".join(names[:10]) + (", ..." if len(names) > 10 else ""),
                      stacklevel=2)
    return results


def theory(config, set=None, only=None):
    """The mean-field prediction of a config (`gradlab theory`): a DataFrame with one row per run
    and layer (run, grid axes, repeat, seed, layer, q, chi; docs/reference.md § 4.3), typed as
    gradlab.load's tables. .attrs["runs"] holds theory.json's per-run entries (chi1, depth
    scales, the moments mu1, mu2 per layer, ...)."""
    sets = options("--set", set)
    with ConfigFile(config) as path, tempfile.TemporaryDirectory(prefix="gradlab-theory-") as tmp:
        call(["theory", path, "--out", tmp, *sets, *options("--only", only)])
        info = read_json(os.path.join(tmp, "theory.json"))
        manifest = json.loads(call(["validate", path, "--json", *sets]).stdout)
        frame = read_frame(os.path.join(tmp, "theory.csv"), *manifest_order(manifest))
    frame.attrs["runs"] = info.get("runs", [])
    return frame
