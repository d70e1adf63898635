#!/usr/bin/python3
"""Synthetic gradlab result folders for testing the gradlab.plot package (python/gradlab/plot).

Usage:  tests/plot/make_fixtures.py OUTDIR

Writes, under OUTDIR, one folder per case, with manifest.json and the CSV tables of docs/reference.md
section 5 (same columns, same leading columns `run`, axes..., `repeat`, `seed`). The numbers come
from simple closed forms (delta_norm(l) = delta_norm(L) * factor^((L-l)/2), error curves
e(s) = e_inf + (e0 - e_inf) exp(-s/tau), ...) with a little deterministic noise per repeat, and
include a few nan/inf and empty cells:

  mlp_init_study   MLP at initialization; grid activation x init x depth, 2 repeats, theory columns
  mlp_training     MLP training run; grid activation x init, several probe steps, histograms.csv,
                   an extra unknown column in layers.csv and steps.csv
  rnn_radius       tanh RNN, axis model.recurrent_init.spectral_radius = 0.9, 1.0, 1.1; timesteps.csv
  phase_diagram    tanh MLP, grid model.init.sigma_w2 x model.bias_init.sigma_b2, theory columns
  mlp_overflow     float32 ReLU MLP where one configuration overflows: all its norms are inf/nan
  depth_study      variants (tanh/relu x gaussian/orthogonal) x depth 4..32, theory columns,
                   jac_io in summary.json (probe.jacobian); one run without jac_io; theory.json
                   with the moments mu1, mu2 of phi' per layer and weight_s1, as `gradlab theory
                   --out` writes them
  mlp_deep_training  tanh MLP of depth 32 trained (no grid), layers.csv at six probe steps (the
                   per-layer figures become heat maps), runs.csv with the final_* verdict columns
  rnn_training     tanh chains trained: timesteps.csv at five probe steps, no layers.csv; the
                   manifest lists three runs of which two are present (a --only run) and the
                   --set overrides; runs.csv with the final_* verdict columns
  depth_only       ReLU depth sweep at initialization whose only axis is model.depth
  empty            a manifest and nothing else (no result tables)
"""

import json
import math
import os
import random
import sys

import numpy as np

from fixture_folder import (FINAL_COLUMNS, INF, LAYER_COLUMNS, NAN, RUN_COLUMNS, Folder,
                            edit_manifest)


def verdict(ratio, top, factor=None):
    """docs/reference.md §4.4 with the default thresholds."""
    if top == 0:
        return "dead"
    if not math.isfinite(ratio):
        return "nonfinite"
    if ratio < 1e-2 or (factor is not None and factor < 0.25):
        return "vanishing"
    if ratio > 1e2 or (factor is not None and factor > 4):
        return "exploding"
    return "stable"


def noise(rng, scale=0.03):
    return 1.0 + scale * rng.uniform(-1, 1)


# ----------------------------------------------------------------------------------------------
# MLP layer rows from closed forms
# ----------------------------------------------------------------------------------------------

def mlp_layers(depth, width, n_in, n_out, factor, chi, act, rng, step=0, delta_top=0.1,
               q0=1.0, train_scale=0.0):
    """Rows (dicts) for layers 1..depth+1. factor: measured E|delta|^2 ratio per layer; chi: the
    theory factor (or None); act: 'tanh' | 'relu' | 'softsign' | 'sigmoid'."""
    rows = []
    sizes = [n_in] + [width] * depth + [n_out]
    deltas = [delta_top * factor ** ((depth - l) / 2) * noise(rng) for l in range(1, depth + 1)]
    deltas.append(delta_top * 2.5 * noise(rng))  # the output layer's delta
    q = q0
    for l in range(1, depth + 2):
        fan_in, fan_out = sizes[l - 1], sizes[l]
        output = l == depth + 1
        q = q * (factor if not output else 1.0) if l > 1 else q0 * min(1.0, factor * 1.5)
        std = math.sqrt(q) * (1 + train_scale * (depth + 1 - l) / depth)
        if output or act == "relu":
            a_std, a_mean = (std, 0.0) if output else (std * 0.58, std * 0.4)
            p98 = 2.3 * std
        elif act == "sigmoid":
            a_mean, a_std = 0.5 + 0.1 * (depth - l) / depth, 0.25 * min(1.0, std)
            p98 = min(1.0, 0.5 + 0.48 * math.tanh(std))
        else:
            squash = math.tanh if act == "tanh" else (lambda x: x / (1 + abs(x)))
            a_std, a_mean = squash(std), 0.01 * (l - depth / 2) / depth
            p98 = squash(2.3 * std)
        saturated = 0.0 if output else (0.5 if act == "relu" else max(0.0, (p98 - 0.9)) * 3)
        dead = 0.0 if output or act != "relu" else 0.004 * l
        delta = deltas[l - 1]
        grad_w = delta * math.sqrt(q / max(factor, 1e-300)) * math.sqrt(fan_out) / 30
        w_norm = math.sqrt(fan_out) * (1.0 if not output else 0.7)
        rows.append({
            "step": step, "layer": l, "fan_in": fan_in, "fan_out": fan_out,
            "preact_mean": 0.002 * rng.uniform(-1, 1), "preact_std": math.sqrt(q), "preact_ms": q,
            "act_mean": a_mean, "act_std": a_std, "act_p98": p98,
            "dphi_mean": 1.0 if output else (0.5 if act == "relu" else 1 - a_std ** 2),
            "saturated_frac": min(1.0, saturated), "dead_frac": dead, "stuck_frac": 0.0,
            "zero_grad_frac": 0.0, "delta_norm": delta,
            "delta_factor": None if output else (delta / deltas[l]) ** 2,
            "grad_w_norm": grad_w, "grad_b_norm": grad_w / 10, "w_norm": w_norm,
            "grad_w_ratio": grad_w / w_norm, "nonfinite": 0, "jac_sv_mean": None,
            "theory_q": None if chi is None else q,
            "theory_delta_factor": None if (chi is None or output) else chi,
            "update_ratio": None if step == 0 else 0.01 * grad_w / w_norm,
            "update_ratio_mean": None if step == 0 else 0.012 * grad_w / w_norm,
            "effective_lr": None if step == 0 else 0.01,
        })
    return rows


def layer_values(row):
    return [row[c] for c in LAYER_COLUMNS]


def run_summary(rows, depth):
    d1, dL = rows[0]["delta_norm"], rows[depth - 1]["delta_norm"]
    ratio = d1 / dL if dL else INF
    plf = ratio ** (2 / (depth - 1)) if depth > 1 and math.isfinite(ratio) and ratio > 0 else None
    if not math.isfinite(ratio):
        plf = NAN
    return ratio, plf, verdict(ratio, dL, plf)


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------

SIGMA_W2 = {"glorot_standard": 1 / 3, "glorot_uniform": 1.0}


def case_mlp_init_study(root):
    grid = {"model.activation": ["tanh", "relu"],
            "model.init": ["glorot_standard", "glorot_uniform"],
            "model.depth": [3, 8]}
    config = {"description": "Gradient norms at initialization: activation x init x depth "
                             "(Glorot & Bengio 2010 / He et al. 2015).",
              "seed": 0, "precision": "float64", "threads": 1,
              "model": {"type": "mlp", "width": 200, "bias_init": 0.0},
              "data": {"name": "shapeset3x2", "test_samples": 1000}, "loss": "cross_entropy",
              "train": {"steps": 0}, "probe": {"samples": 300}}
    f = Folder(root, "mlp_init_study", config, grid, repeats=2)
    for run in f.runs:
        p = run["point"]
        rng = random.Random(run["seed"])
        sw2 = SIGMA_W2[p["model.init"]]
        chi = sw2 * (0.5 if p["model.activation"] == "relu" else 1.0)
        # tanh: the measured factor sits a little below the mean-field chi (finite width)
        measured = chi * (0.93 if p["model.activation"] == "tanh" else 1.0) * noise(rng, 0.02)
        rows = mlp_layers(p["model.depth"], 200, 1024, 9, measured, chi, p["model.activation"], rng)
        if p["model.activation"] == "relu" and p["model.init"] == "glorot_standard" \
                and p["model.depth"] == 8 and run["repeat"] == 1:
            rows[0]["delta_norm"] = NAN          # a non-finite cell inside a line
            rows[1]["grad_w_ratio"] = INF
        for r in rows:
            f.add("layers", run, layer_values(r))
        f.add("steps", run, [0, None, 2.2, 0.83, 0.835, 0.5, 0, 0.01, None, None, 0.02])
        ratio, plf, v = run_summary(rows, p["model.depth"])
        f.add("runs", run, ["ok", None, v, ratio, plf, None, 2.2, 0.83, 0.835])
    f.write()


GLOROT_TABLE1 = {("tanh", "glorot_standard"): 0.2715, ("tanh", "glorot_uniform"): 0.1560,
                 ("softsign", "glorot_standard"): 0.1627, ("softsign", "glorot_uniform"): 0.1606}


def gauss_cdf(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def histogram_rows(quantity, values_cdf, lo, hi, bins, n):
    """[bin, lo, hi, count] rows for a distribution given by its CDF, with under/overflow and a
    non-finite row."""
    edges = np.linspace(lo, hi, bins + 1)
    cdf = [values_cdf(e) for e in edges]
    rows = [[-1, None, lo, round(n * cdf[0])]]
    for b in range(bins):
        rows.append([b, edges[b], edges[b + 1], round(n * (cdf[b + 1] - cdf[b]))])
    rows.append([bins, hi, INF, round(n * (1 - cdf[-1]))])
    rows.append(["nonfinite", None, None, 0])
    return [[quantity] + r for r in rows]


def case_mlp_training(root):
    grid = {"model.activation": ["tanh", "softsign"],
            "model.init": ["glorot_standard", "glorot_uniform"]}
    steps = list(range(0, 2001, 200))
    depth, width, bins, n = 4, 100, 20, 300 * 100
    config = {"description": "Online training on Shapeset-3x2 (Glorot & Bengio 2010, Figs. 2-11).",
              "seed": 1, "precision": "float32", "threads": 1,
              "model": {"type": "mlp", "depth": depth, "width": width},
              "data": {"name": "shapeset3x2", "test_samples": 1000}, "loss": "cross_entropy",
              "train": {"steps": 2000, "batch_size": 10, "optimizer": "sgd", "lr": 0.01},
              "probe": {"samples": 300, "every": 200, "schedule": "linear", "histograms": True,
                        "bins": bins}}
    f = Folder(root, "mlp_training", config, grid, repeats=1)
    for run in f.runs:
        p = run["point"]
        act, init = p["model.activation"], p["model.init"]
        rng = random.Random(run["seed"])
        sw2 = SIGMA_W2[init]
        e_inf = GLOROT_TABLE1[(act, init)]
        edges0 = {}
        for s in steps:
            progress = 1 - math.exp(-s / 600)
            factor = sw2 + (1 - sw2) * 0.5 * progress
            rows = mlp_layers(depth, width, 1024, 9, factor, sw2, act, rng, step=s,
                              train_scale=1.5 * progress if init == "glorot_standard" else 0.6 * progress)
            for r in rows:
                f.add("layers", run, layer_values(r))
            err = e_inf + (0.83 - e_inf) * math.exp(-s / 500)
            loss = None if s == 0 else 0.4 + 1.8 * math.exp(-s / 500) * noise(rng)
            grad_norm = NAN if (s == 1200 and act == "tanh" and init == "glorot_standard") else 0.8
            f.add("steps", run, [s, loss, 0.35 + 1.85 * math.exp(-s / 500), err * noise(rng, 0.05),
                                 err, grad_norm, 0, 0.01, None, None, 0.5 * s / 200])
            if s not in (0, 1000, 2000):
                continue
            for r in rows:
                l, std = r["layer"], r["preact_std"]
                # a = phi(z) with z ~ N(0, std^2): P(a <= y) = Phi(phi^-1(y) / std)
                inverse = math.atanh if act == "tanh" else (lambda y: y / (1 - abs(y)))

                def act_cdf(y, std=std):
                    if y <= -1:
                        return 0.0
                    if y >= 1:
                        return 1.0
                    return gauss_cdf(inverse(y) / std)

                d_std = r["delta_norm"] / math.sqrt(width)
                g_std = r["grad_w_norm"] / math.sqrt(r["fan_in"] * r["fan_out"])
                if s == 0:
                    edges0[l] = (4 * d_std, 4 * g_std)
                d_hi, g_hi = edges0[l]
                for row in (histogram_rows("act", act_cdf, -1.0, 1.0, bins, n)
                            + histogram_rows("delta", lambda x: gauss_cdf(x / d_std), -d_hi, d_hi, bins, n)
                            + histogram_rows("grad_w", lambda x: gauss_cdf(x / g_std), -g_hi, g_hi,
                                             bins, r["fan_in"] * r["fan_out"])):
                    f.add("histograms", run, [s, l] + row)
        ratio, plf, v = run_summary(f_rows_at(f, run, 0), depth)
        f.add("runs", run, ["ok", None, v, ratio, plf, 0.41, 0.36, err * 1.02, err])
    f.write(extra_columns={"layers": ["future_metric"], "steps": ["future_metric"]})


def f_rows_at(folder, run, step):
    """The layers rows (as dicts) of one run at one step, read back from the folder's buffer."""
    n_lead = len(folder.lead(run))
    out = []
    for row in folder.tables["layers"]:
        if row[0] == run["id"]:
            d = dict(zip(LAYER_COLUMNS, row[n_lead:]))
            if d["step"] == step:
                out.append(d)
    return out


def case_rnn_radius(root):
    radii = [0.9, 1.0, 1.1]
    T, width = 50, 64
    config = {"description": "Vanilla tanh RNN with W = rho Q at initialization (Pascanu et al. "
                             "2013): the gradient through time against the spectral radius.",
              "seed": 2, "precision": "float64", "threads": 1,
              "model": {"type": "rnn", "width": width, "length": T, "activation": "tanh",
                        "recurrent_init": {"name": "orthogonal", "spectral_radius": 1.0},
                        "inputs": "every_step", "loss_at": "last"},
              "data": {"name": "gaussian", "dim": 8, "classes": 4}, "loss": "cross_entropy",
              "train": {"steps": 0}, "probe": {"samples": 200}}
    f = Folder(root, "rnn_radius", config, {"model.recurrent_init.spectral_radius": radii})
    for run in f.runs:
        rho = run["point"]["model.recurrent_init.spectral_radius"]
        rng = random.Random(run["seed"])
        dh_T = 0.3
        dz = []
        for t in range(1, T + 1):
            # tanh' < 1 makes the measured decay faster than the bound rho^(T-t)
            dh = dh_T * (0.93 * rho) ** (T - t) * noise(rng, 0.02)
            dz.append(dh * 0.9)
            f.add("timesteps", run, [0, t, 0.6 * math.sqrt(width) * noise(rng, 0.02), dh, dz[-1], dh,
                                     0.01, 0.0, dh * 0.5])
        f.add("steps", run, [0, None, 1.386, 0.75, 0.75, 0.1, 0, 0.01, rho, rho, 0.01])
        ratio = dz[0] / dz[-1]
        plf = ratio ** (2 / (T - 1))
        f.add("runs", run, ["ok", None, verdict(ratio, dz[-1], plf), ratio, plf, None, 1.386, 0.75, None])
    f.write()


def tanh_mean_field(sw2, sb2, depth, q0=1.0):
    """q_l and chi_l = sw2 E[tanh'(sqrt(q_l) z)^2] for l = 1..depth, by quadrature."""
    z, w = np.polynomial.hermite_e.hermegauss(101)
    w = w / w.sum()
    q, qs, chis = sw2 * q0 + sb2, [], []
    for _ in range(depth):
        qs.append(q)
        chis.append(sw2 * float(np.sum(w / np.cosh(np.sqrt(q) * z) ** 4)))
        q = sw2 * float(np.sum(w * np.tanh(np.sqrt(q) * z) ** 2)) + sb2
    return qs, chis


def case_phase_diagram(root):
    grid = {"model.init.sigma_w2": [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0],
            "model.bias_init.sigma_b2": [0.0, 0.05, 0.1, 0.2, 0.3]}
    depth, width = 20, 300
    config = {"description": "Mean-field phase diagram of a deep tanh MLP (Poole et al. 2016; "
                             "Schoenholz et al. 2017).",
              "seed": 3, "precision": "float64", "threads": 1,
              "model": {"type": "mlp", "depth": depth, "width": width, "activation": "tanh",
                        "init": {"name": "gaussian", "sigma_w2": 1.0},
                        "bias_init": {"name": "gaussian", "sigma_b2": 0.0}},
              "data": {"name": "gaussian", "dim": 300, "classes": 10}, "loss": "cross_entropy",
              "train": {"steps": 0}, "probe": {"samples": 100}}
    f = Folder(root, "phase_diagram", config, grid)
    for run in f.runs:
        p = run["point"]
        rng = random.Random(run["seed"])
        qs, chis = tanh_mean_field(p["model.init.sigma_w2"], p["model.bias_init.sigma_b2"], depth)
        rows = mlp_layers(depth, width, 300, 10, chis[-1] * noise(rng, 0.03), chis[-1], "tanh", rng)
        for r, q, chi in zip(rows, qs + [None], chis + [None]):
            r["theory_q"], r["theory_delta_factor"] = q, chi
            f.add("layers", run, layer_values(r))
        f.add("steps", run, [0, None, 2.3, 0.9, 0.9, 1.0, 0, 0.01, None, None, 0.05])
        ratio, plf, v = run_summary(rows, depth)
        f.add("runs", run, ["ok", None, v, ratio, plf, None, 2.3, 0.9, None])
    f.write()


def case_mlp_overflow(root):
    grid = {"model.init.sigma_w2": [2.0, 1000000.0]}
    depth = 12
    config = {"description": "float32 ReLU MLP; sigma_w2 = 1e6 overflows at initialization.",
              "seed": 4, "precision": "float32", "threads": 1,
              "model": {"type": "mlp", "depth": depth, "width": 64, "activation": "relu",
                        "init": {"name": "gaussian", "sigma_w2": 2.0}},
              "data": {"name": "gaussian", "dim": 64, "classes": 10}, "loss": "cross_entropy",
              "train": {"steps": 0}, "probe": {"samples": 100}}
    f = Folder(root, "mlp_overflow", config, grid)
    for run in f.runs:
        sw2 = run["point"]["model.init.sigma_w2"]
        rng = random.Random(run["seed"])
        rows = mlp_layers(depth, 64, 64, 10, sw2 / 2, sw2 / 2, "relu", rng)
        if sw2 > 100:
            for r in rows:
                for c in ("delta_norm", "grad_w_norm", "grad_b_norm", "delta_factor", "grad_w_ratio",
                          "preact_std", "preact_ms", "act_std", "act_p98"):
                    r[c] = NAN if r["layer"] <= depth else INF
                r["nonfinite"] = 64 * 100
        for r in rows:
            f.add("layers", run, layer_values(r))
        ok = sw2 < 100
        ratio, plf, v = run_summary(rows, depth) if ok else (NAN, NAN, "nonfinite")
        f.add("steps", run, [0, None, 2.3 if ok else NAN, 0.9, 0.9, 1.0 if ok else INF, 0, 0.01,
                             None, None, 0.01])
        f.add("runs", run, ["ok", None, v, ratio, plf, None, 2.3 if ok else NAN, 0.9, None])
    f.write(summaries={f.runs[1]["id"]: {"first_nonfinite": {"step": 0, "layer": 9,
                                                             "quantity": "preact"}}})


def case_depth_study(root):
    """Dynamical-isometry style depth study: variants x model.depth, jac_io in summary.json."""
    variants = [{"label": "tanh+gaussian", "model": {"activation": "tanh",
                                                      "init": {"name": "gaussian", "sigma_w2": 1.0}}},
                {"label": "tanh+orthogonal", "model": {"activation": "tanh",
                                                        "init": {"name": "orthogonal", "gain": 1.0}}},
                {"label": "relu+gaussian", "model": {"activation": "relu",
                                                      "init": {"name": "gaussian", "sigma_w2": 2.0}}}]
    grid = {"variants": [v["label"] for v in variants], "model.depth": [4, 8, 16, 32]}
    config = {"description": "Gaussian vs orthogonal W: input-output Jacobian moments vs depth.",
              "seed": 5, "precision": "float64", "threads": 1,
              "model": {"type": "mlp", "depth": 8, "width": 128, "bias_init": 0.0},
              "data": {"name": "gaussian", "dim": 128, "outputs": 10}, "loss": "mse",
              "train": {"steps": 0}, "probe": {"samples": 50, "jacobian": True}}
    f = Folder(root, "depth_study", config, grid)
    f.config["grid"]["variants"] = variants
    by_label = {v["label"]: v for v in variants}
    summaries, theory = {}, []
    for run in f.runs:
        p = run["point"]
        variant, depth = by_label[p["variants"]], p["model.depth"]
        act = variant["model"]["activation"]
        rng = random.Random(run["seed"])
        if act == "tanh":
            qs, chis = tanh_mean_field(1.0, 0.0, depth)
            spread = 0.1 if "orthogonal" in p["variants"] else 1.0
        else:
            qs, chis = [1.0] * depth, [1.0] * depth
            spread = 2.0
        rows = mlp_layers(depth, 128, 128, 10, chis[-1] * noise(rng, 0.02), chis[-1], act, rng)
        for r, q, chi in zip(rows, qs + [None], chis + [None]):
            r["theory_q"], r["theory_delta_factor"] = q, chi
            f.add("layers", run, layer_values(r))
        ratio, plf, v = run_summary(rows, depth)
        f.add("runs", run, ["ok", None, v, ratio, plf, None, 2.3, 0.9, None])
        theory.append({"run": run["id"], "applies": True,
                       "weight_s1": 0.0 if "orthogonal" in p["variants"] else -1.0,
                       "layers": [dict(zip(("layer", "q", "chi", "mu1", "mu2"),
                                           (l, q, chi, *dphi_moments(act, q))))
                                  for l, q, chi in zip(range(1, depth + 1), qs, chis)]})
        m1 = math.prod(chis) * noise(rng, 0.05)
        if not (depth == 32 and act == "relu"):     # a run without the Jacobian probe
            summaries[run["id"]] = {"jac_io": {"m1": m1, "m2": m1 * m1 * (1 + spread * depth),
                                               "var_over_L": m1 * m1 * spread, "samples": 10}}
    f.write(summaries=summaries)
    with open(os.path.join(f.path, "theory.json"), "w") as out:
        json.dump({"name": "depth_study", "runs": theory}, out)


def dphi_moments(act, q):
    """(E[phi'(sqrt(q) z)^2], E[phi'(sqrt(q) z)^4]) by a plain Riemann sum (fixture numbers)."""
    if act == "relu":
        return 0.5, 0.5
    z = np.linspace(-10, 10, 4001)
    w = np.exp(-0.5 * z * z)
    w /= w.sum()
    d2 = 1.0 / np.cosh(math.sqrt(q) * z) ** 4
    return float(np.sum(w * d2)), float(np.sum(w * d2 * d2))


def case_empty(root):
    path = os.path.join(root, "empty")
    os.makedirs(os.path.join(path, "runs"), exist_ok=True)
    with open(os.path.join(path, "manifest.json"), "w") as f:
        json.dump({"name": "empty", "axes": [], "runs": [], "config": {"name": "empty"}}, f)


def case_mlp_deep_training(root):
    depth, width, steps = 32, 64, list(range(0, 501, 100))
    config = {"description": "A deep tanh net trained briefly.", "seed": 6, "precision": "float64",
              "threads": 1, "model": {"type": "mlp", "depth": depth, "width": width,
                                      "activation": "tanh", "init": "glorot_uniform"},
              "data": {"name": "gaussian", "dim": 64, "classes": 10}, "loss": "cross_entropy",
              "train": {"steps": 500, "batch_size": 16, "lr": 0.01},
              "probe": {"samples": 100, "every": 100}}
    f = Folder(root, "mlp_deep_training", config, {})
    f.run_columns = RUN_COLUMNS + FINAL_COLUMNS
    run = f.runs[0]
    rng = random.Random(run["seed"])
    for s in steps:
        rows = mlp_layers(depth, width, 64, 10, 0.9 - 0.2 * s / 500, 0.9, "tanh", rng, step=s,
                          train_scale=s / 500)
        for r in rows:
            f.add("layers", run, layer_values(r))
        f.add("steps", run, [s, None if s == 0 else 2.3 - s / 1000, 2.3 - s / 1000, 0.9 - s / 2000,
                             0.9 - s / 2000, 0.5, 0, 0.01, None, None, 0.01 * s])
    first, final = run_summary(f_rows_at(f, run, 0), depth), run_summary(f_rows_at(f, run, 500), depth)
    f.add("runs", run, ["ok", None, first[2], first[0], first[1], 1.8, 1.8, 0.65, 0.65,
                        final[0], final[1], final[2]])
    f.write()


def case_rnn_training(root):
    radii, T, width, steps = [0.9, 1.1, 1.3], 20, 32, [0, 100, 200, 300, 400]
    config = {"description": "tanh chains trained on a sequence task.", "seed": 7,
              "precision": "float64", "threads": 1,
              "model": {"type": "rnn", "width": width, "length": T, "activation": "tanh",
                        "recurrent_init": {"name": "orthogonal", "spectral_radius": 1.0}},
              "data": {"name": "gaussian", "dim": 4, "classes": 4}, "loss": "cross_entropy",
              "train": {"steps": 400, "lr": 0.01}, "probe": {"samples": 50, "every": 100}}
    f = Folder(root, "rnn_training", config, {"model.recurrent_init.spectral_radius": radii})
    f.run_columns = RUN_COLUMNS + FINAL_COLUMNS
    for run in f.runs[:2]:                     # a --only run: the third is not present
        rho = run["point"]["model.recurrent_init.spectral_radius"]
        rng = random.Random(run["seed"])
        ratios = []
        for s in steps:
            decay = 0.93 * rho * (1 - 0.1 * s / 400)   # training shortens the memory
            dh = [0.3 * decay ** (T - t) * noise(rng, 0.02) for t in range(1, T + 1)]
            for t, v in zip(range(1, T + 1), dh):
                f.add("timesteps", run, [s, t, 3.0, v, 0.9 * v, v, 0.01, 0.0, v / 2])
            f.add("steps", run, [s, None if s == 0 else 1.4 - s / 1000, 1.4 - s / 1000, 0.75, 0.75,
                                 0.1, 0, 0.01, rho, rho, 0.01 * s])
            ratios.append(dh[0] / dh[-1])
        plf = [r ** (2 / (T - 1)) for r in ratios]
        f.add("runs", run, ["ok", None, verdict(ratios[0], 1, plf[0]), ratios[0], plf[0], 1.0, 1.0, 0.75,
                            0.75, ratios[-1], plf[-1], verdict(ratios[-1], 1, plf[-1])])
    f.write()
    edit_manifest(f, set=["train.steps=400", "probe.every=100"])


def case_depth_only(root):
    config = {"description": "ReLU + He at initialization against depth.", "seed": 8,
              "precision": "float64", "threads": 1,
              "model": {"type": "mlp", "width": 64, "activation": "relu", "init": "he_normal"},
              "data": {"name": "gaussian", "dim": 64, "outputs": 10}, "loss": "mse",
              "train": {"steps": 0}, "probe": {"samples": 50}}
    f = Folder(root, "depth_only", config, {"model.depth": [4, 8, 16]})
    for run in f.runs:
        depth = run["point"]["model.depth"]
        rows = mlp_layers(depth, 64, 64, 10, 1.0, 1.0, "relu", random.Random(run["seed"]))
        for r in rows:
            f.add("layers", run, layer_values(r))
        ratio, plf, v = run_summary(rows, depth)
        f.add("runs", run, ["ok", None, v, ratio, plf, None, 1.0, None, None])
    f.write()


CASES = [case_mlp_init_study, case_mlp_training, case_rnn_radius, case_phase_diagram,
         case_mlp_overflow, case_depth_study, case_mlp_deep_training, case_rnn_training,
         case_depth_only, case_empty]


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    for case in CASES:
        case(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
