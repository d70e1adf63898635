"""python3 -m gradlab.plot RESULT_DIR [--format png|svg] [--out FIGDIR] [--hist-steps S,S,...]

Figures and a self-contained report.html for a gradlab result folder (docs/reference.md § 5).

Outputs: RESULT_DIR/figures/<name>.<fmt> (or FIGDIR), RESULT_DIR/report.html; their paths are
printed to stdout. Exit status: 0 ok; 1 some figure failed (the others and the report were still
written); 2 usage error or no result tables; 3 numpy/matplotlib missing or output not writable.
The Jacobian-spectrum prediction asks `gradlab theory` for its moments: $GRADLAB_EXE names the
binary (`gradlab plot` sets it).
"""

import argparse
import os
import sys

from gradlab.results import Experiment, warn


def parse_args(argv):
    p = argparse.ArgumentParser(prog="gradlab plot",
                                description="Figures and report.html for a gradlab result folder.")
    p.add_argument("result_dir", metavar="RESULT_DIR", help="a gradlab result folder")
    p.add_argument("--format", choices=["png", "svg"], default="png", help="figure format (png)")
    p.add_argument("--out", metavar="FIGDIR", help="where figures go (default RESULT_DIR/figures)")
    p.add_argument("--hist-steps", metavar="S,S,...",
                   help="probe steps for the histograms figure (default: first, middle and last)")
    args = p.parse_args(argv)
    if args.hist_steps:
        try:
            args.hist_steps = [float(s) for s in args.hist_steps.split(",") if s.strip()]
        except ValueError:
            p.error(f"--hist-steps: expected comma-separated step numbers, got {args.hist_steps!r}")
    return args


def writable(outdir):
    try:
        os.makedirs(outdir, exist_ok=True)
        probe = os.path.join(outdir, ".write-test")
        open(probe, "w").close()
        os.remove(probe)
    except OSError as error:
        warn(f"{outdir}: cannot write figures ({error.strerror})")
        return False
    return True


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import matplotlib
        matplotlib.use("Agg")   # files only; a notebook using gradlab.plot() keeps its backend
        from gradlab.plot.render import render
    except ImportError:
        warn("needs python3-numpy and python3-matplotlib "
             "(apt-get install python3-numpy python3-matplotlib)")
        return 3
    folder = args.result_dir
    if not os.path.isdir(folder):
        warn(f"{folder}: no such result folder")
        return 2
    exp = Experiment(folder)
    if not exp.has_results():
        warn(f"{folder}: no result tables (runs.csv, layers.csv, steps.csv, timesteps.csv, "
             "histograms.csv) in this folder; run `gradlab run` first, or `gradlab collect` "
             "for an incomplete sweep")
        return 2
    outdir = args.out or os.path.join(folder, "figures")
    if not writable(outdir):
        return 3
    report = os.path.join(folder, "report.html")
    try:
        _, failed, _ = render(exp, outdir, args.format, args.hist_steps, report)
    except OSError as error:
        warn(f"{report}: cannot write ({error.strerror})")
        return 3
    print(report)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
