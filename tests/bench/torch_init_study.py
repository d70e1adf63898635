"""W5 "init study": the PyTorch peer of a gradlab depth study at initialization.

Reads a gradlab config with a grid of plain MLPs at initialization (configs/quickstart.json,
configs/he2015/init_depth.json: no training, one probe at step 0) and does per run the work
gradlab does there, on one thread, in the config's or --dtype's precision:

  1. build the net: L hidden nn.Linear(width, width) + the output nn.Linear(width, outputs), the
     weights drawn by the config's init (the formulas of docs/reference.md §3), biases bias_init;
  2. draw the probe set: probe.samples Gaussian inputs (data.dim) and Gaussian targets (outputs);
  3. one forward with retain_grad() on every pre-activation z_l, the MSE loss, one backward;
  4. per layer l = 1..L+1 the statistics below, into one CSV row per (run, layer).

Statistics per layer (the columns of layers.csv both sides compute; N = probe examples):
  preact_mean, preact_std, preact_ms  mean, std, mean square of z_l
  act_mean, act_std, act_p98          mean, std and 98th percentile of |a_l| (a_l = φ(z_l))
  act_absmax                          max |a_l|
  dphi_mean                           mean of φ'(z_l)
  saturated_frac, dead_frac,          share of (unit, example) with |φ'| < τ sup|φ'| (τ = 0.05);
  stuck_frac                          units with φ' = 0 for every example; units saturated for
                                      every example (hidden layers)
  zero_grad_frac                      share of examples whose δ_l is exactly 0
  delta_norm                          ‖δ_l‖_F / √N, δ_l = ∂ℓ_i/∂z_l per example
  delta_factor                        delta_norm(l)² / delta_norm(l+1)² (hidden layers)
  grad_w_norm, grad_b_norm, w_norm,   ‖∂L/∂W_l‖_F, ‖∂L/∂b_l‖, ‖W_l‖_F, their ratio
  grad_w_ratio
  nonfinite                           count of non-finite z, a, δ, ∂L/∂W entries
and per run gradient_ratio = delta_norm(1)/delta_norm(L) (the summary's verdict input).

gradlab computes beyond these (not done here, so the comparison favours PyTorch slightly): the
mean-field predictions theory_q and theory_delta_factor per layer, Hanin's per-example
log-ratio mean and variance, the verdicts, provenance, steps.csv/run.csv/summary.json/config.json
per run with their fsyncs, the sweep's manifest and collected tables. gradlab takes ‖∂L/∂W_l‖
from δ_l and a_{l-1} without storing ∂L/∂W_l; PyTorch's autograd stores it.

Prints one JSON line (also written to OUT.json with --out): {"runs", "layers", "import_s",
"work_s", "dtype", "threads"}; work_s is everything after `import torch` (building, probing,
statistics, writing the CSV).
"""
import time

T_START = time.perf_counter()
import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402

import torch  # noqa: E402

T_IMPORT = time.perf_counter()


def load_config(path):
    text = open(path).read()
    text = re.sub(r"^\s*//.*$", "", text, flags=re.M)  # gradlab configs allow // comments
    return json.loads(text)


def merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def runs_of(cfg):
    """The grid's runs in gradlab's order: variants × depths × repeats (one seed each)."""
    grid = cfg.get("grid", {})
    variants = grid.get("variants", [{"label": ""}])
    depths = grid.get("model.depth", [cfg["model"]["depth"]])
    for v in variants:
        model = merge(cfg["model"], v.get("model", {}))
        for d in depths:
            for r in range(cfg.get("repeats", 1)):
                yield v.get("label", ""), dict(model, depth=d), r


def init_weight(w, spec):
    """gradlab's init (docs/reference.md §3) for the names the shipped init studies use."""
    if isinstance(spec, str):
        spec = {"name": spec}
    name = spec["name"]
    fo, fi = w.shape
    fan = fo if spec.get("mode") == "fan_out" else fi
    with torch.no_grad():
        if name == "glorot_standard":
            b = 1.0 / math.sqrt(fi)
            w.uniform_(-b, b)
        elif name == "glorot_uniform":
            b = math.sqrt(6.0 / (fi + fo))
            w.uniform_(-b, b)
        elif name == "glorot_normal":
            w.normal_(0.0, math.sqrt(2.0 / (fi + fo)))
        elif name == "he_normal":
            w.normal_(0.0, math.sqrt(2.0 / fan))
        elif name == "he_uniform":
            b = math.sqrt(6.0 / fan)
            w.uniform_(-b, b)
        elif name == "gaussian":
            w.normal_(0.0, math.sqrt(spec.get("sigma_w2", 1.0) / fi))
        else:
            raise SystemExit("torch_init_study.py: init %r not supported" % name)


ACT = {
    # φ, φ' from z (and a), sup|φ'|
    "tanh": (torch.tanh, lambda z, a: 1 - a * a, 1.0),
    "relu": (torch.relu, lambda z, a: (z > 0).to(z.dtype), 1.0),
}


def probe_run(model, dim, outputs, samples, dtype, gen):
    L, width = model["depth"], model["width"]
    act_name = model.get("activation", "tanh")
    phi, dphi_of, sup = ACT[act_name]
    sizes = [dim] + [width] * L + [outputs]
    layers = [torch.nn.Linear(a, b, dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    for i, lin in enumerate(layers):
        init_weight(lin.weight, model.get("init", "glorot_uniform") if i < L else
                    model.get("output_init", "glorot_uniform"))
        torch.nn.init.constant_(lin.bias, model.get("bias_init", 0.0))
    x = torch.randn(samples, dim, dtype=dtype, generator=gen)
    y = torch.randn(samples, outputs, dtype=dtype, generator=gen)
    zs, acts = [], []
    h = x
    for i, lin in enumerate(layers):
        z = lin(h)
        z.retain_grad()
        zs.append(z)
        h = phi(z) if i < L else z
        acts.append(h)
    loss = 0.5 * ((h - y) ** 2).sum(dim=1).mean()  # mean over examples of ½‖ŷ − y‖²
    loss.backward()
    rows = []
    tau = 0.05
    with torch.no_grad():
        for i, (lin, z, a) in enumerate(zip(layers, zs, acts)):
            d = z.grad * samples  # δ_l = ∂ℓ_i/∂z_l per example (autograd gives ∂L/∂z, L = mean)
            hidden = i < L
            aa = a.abs().flatten()
            k = max(1, int(math.ceil(0.98 * aa.numel())))
            r = {"layer": i + 1,
                 "preact_mean": z.mean(), "preact_std": z.std(unbiased=False),
                 "preact_ms": (z * z).mean(),
                 "act_mean": a.mean(), "act_std": a.std(unbiased=False),
                 "act_p98": aa.kthvalue(k).values, "act_absmax": aa.max(),
                 "delta_norm": d.norm() / math.sqrt(samples),
                 "grad_w_norm": lin.weight.grad.norm(), "grad_b_norm": lin.bias.grad.norm(),
                 "w_norm": lin.weight.norm(),
                 "zero_grad_frac": (d == 0).all(dim=1).to(dtype).mean(),
                 "nonfinite": (~torch.isfinite(z)).sum() + (~torch.isfinite(a)).sum() +
                 (~torch.isfinite(d)).sum() + (~torch.isfinite(lin.weight.grad)).sum()}
            if hidden:
                dp = dphi_of(z, a)
                sat = dp.abs() < tau * sup
                r["dphi_mean"] = dp.mean()
                r["saturated_frac"] = sat.to(dtype).mean()
                r["dead_frac"] = (dp == 0).all(dim=0).to(dtype).mean()
                r["stuck_frac"] = sat.all(dim=0).to(dtype).mean()
            else:
                r["dphi_mean"] = torch.ones((), dtype=dtype)
            rows.append(r)
        keys = [k for k in rows[0] if k != "layer"] + ["saturated_frac", "dead_frac", "stuck_frac"]
        keys = list(dict.fromkeys(keys))
        # one transfer per run: every statistic of every layer stacked into one tensor
        flat = torch.stack([r.get(k, torch.tensor(float("nan"), dtype=dtype)).to(dtype)
                            for r in rows for k in keys]).tolist()
    out = []
    for i, r in enumerate(rows):
        row = {"layer": r["layer"]}
        row.update(zip(keys, flat[i * len(keys):(i + 1) * len(keys)]))
        row["grad_w_ratio"] = row["grad_w_norm"] / row["w_norm"]
        out.append(row)
    for i in range(L):
        q = out[i]["delta_norm"] / out[i + 1]["delta_norm"] if out[i + 1]["delta_norm"] else math.nan
        out[i]["delta_factor"] = q * q
    ratio = out[0]["delta_norm"] / out[L - 1]["delta_norm"] if out[L - 1]["delta_norm"] else math.inf
    return out, ratio


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("config", help="a gradlab init-study config (quickstart.json, init_depth.json)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="default: the config's precision (float32 when it has none)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as gradlab)")
    p.add_argument("--repeats", type=int, default=None, help="override the config's repeats")
    p.add_argument("--out", default="/dev/null", help="CSV of every (run, layer) row")
    a = p.parse_args()
    cfg = load_config(a.config)
    if a.repeats is not None:
        cfg["repeats"] = a.repeats
    dt = a.dtype or cfg.get("precision", "float32")
    dtype = torch.float32 if dt == "float32" else torch.float64
    torch.set_num_threads(a.threads)
    samples = cfg.get("probe", {}).get("samples", 1000)
    dim, outputs = cfg["data"]["dim"], cfg["data"]["outputs"]
    gen = torch.Generator().manual_seed(cfg.get("seed", 0))
    torch.manual_seed(cfg.get("seed", 0))
    lines, nruns, nlayers = [], 0, 0
    cols = None
    for label, model, rep in runs_of(cfg):
        rows, ratio = probe_run(model, dim, outputs, samples, dtype, gen)
        if cols is None:
            cols = ["label", "depth", "repeat"] + list(rows[0].keys()) + ["delta_factor",
                                                                           "gradient_ratio"]
            cols = list(dict.fromkeys(cols))
            lines.append(",".join(cols))
        for r in rows:
            r.update(label=label, depth=model["depth"], repeat=rep, gradient_ratio=ratio)
            lines.append(",".join(repr(r[c]) if isinstance(r.get(c), float) else str(r.get(c, ""))
                                  for c in cols))
        nruns += 1
        nlayers += len(rows)
    with open(a.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    end = time.perf_counter()
    line = json.dumps({"runs": nruns, "layers": nlayers, "import_s": T_IMPORT - T_START,
                       "work_s": end - T_IMPORT, "dtype": dt, "threads": a.threads})
    print(line)
    if a.out != "/dev/null":  # the timing line next to the CSV, for scripts/bench_vs_torch.sh
        with open(a.out + ".json", "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
