#!/usr/bin/python3
"""gradlab's PyTorch peer: the performance workloads of docs/performance.md in PyTorch on the CPU.

What it measures: the median wall time of one training step (forward, loss, backward, SGD
update) per workload, with the per-layer gradient statistics a PyTorch user would compute to
watch vanishing/exploding gradients (or, with --no-stats, the bare step), so that gradlab's
timing.train_step_s_median and timing.probe_s_median (configs/bench/W1..W4.json) can be put
next to it. scripts/bench_vs_torch.sh runs both sides alternately on the same machine and
prints the ratios; docs/performance.md reports them. Not part of the test suite.

Runs the four reference workloads with an SGD step per iteration and (unless
--no-stats) computes and materialises per-layer gradient statistics after every
backward pass, the way a user would do it in PyTorch (retain_grad on the
pre-activations, norms stacked and pulled out with one .tolist() per step).
Prints one JSON line per workload.

  W1 glorot5     MLP 1024 -> 5 x 1000 tanh -> 10, softmax CE, batch 10, Glorot-uniform init
  W2 deep_narrow MLP 128 -> 100 x Linear(128,128) (ReLU between), MSE, batch 64, He-normal init
  W3 rnn_chain   h_t = tanh(W h_{t-1} + U x_t + b), H=256, I=32, T=1000, B=32, L = sum(h_T^2), BPTT
  W4 wide        MLP 2048 -> 10 x Linear(2048,2048) (ReLU between), MSE, batch 256, He-normal init
  W7 lstm_chain  nn.LSTM, H=256, I=32, T=1000, B=32, L = sum(h_T^2), BPTT (PyTorch's fused LSTM
                 for the bare step; with statistics an nn.LSTMCell loop over the same weights,
                 since ||dL/dh_t|| and ||dL/dc_t|| for every t need the per-step tensors)
  W6 residual_bn residual MLP 256 -> Linear(256,256) -> 49 pre-activation blocks
                 h + Linear(relu(BatchNorm1d(h))) -> Linear(256,256), MSE, batch 64, He-normal

Statistics per layer (MLPs): ||dL/dW||_F, ||dL/dz||_2 (z = pre-activation, whole batch),
for hidden layers: saturated fraction |tanh(z)| > 0.99 (W1) or dead fraction (unit output 0
for every sample of the batch, W2/W4), mean and std of the activations.
RNN: ||dL/dh_t|| (Frobenius over the batch) for every t = 1..T, and ||dL/dW||_F.
LSTM: ||dL/dh_t|| and ||dL/dc_t|| for every t, and ||dL/dW_hh||_F.

FLOPs: 2*m*n*k for every matmul actually executed in forward and backward (the first MLP
layer and h_0 get no input-gradient matmul because their inputs do not require grad).
Elementwise work, the loss and the SGD update are not counted.

Use Debian's interpreter (apt-get install python3-torch python3-numpy):
  /usr/bin/python3 tests/bench/torch_peer.py --workload all --threads 2
  /usr/bin/python3 tests/bench/torch_peer.py --workload glorot5 --threads 2 --no-stats
Thread counts are fixed before torch is imported (OMP_NUM_THREADS for ATen's OpenMP pool,
OPENBLAS_NUM_THREADS for the pthread OpenBLAS that Debian's torch calls for GEMM).
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

WORKLOADS = ("glorot5", "deep_narrow", "rnn_chain", "wide", "residual_bn", "lstm_chain")
DEFAULT_STEPS = {"glorot5": 200, "deep_narrow": 50, "rnn_chain": 8, "wide": 12, "residual_bn": 50,
                 "lstm_chain": 4}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", "-w", nargs="+", default=["all"],
                   choices=("all",) + WORKLOADS, help="workloads to run (default: all)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--threads", type=int, default=2,
                   help="intra-op (OpenMP) and OpenBLAS threads (default 2); 0 = leave the "
                        "library defaults / environment alone (on this VM torch then picks 1 "
                        "OpenMP thread while the pthread OpenBLAS uses all cores)")
    p.add_argument("--steps", type=int, default=None,
                   help="timed steps per workload (default: %s)" % DEFAULT_STEPS)
    p.add_argument("--warmup", type=int, default=3, help="untimed warm-up steps (default 3)")
    p.add_argument("--no-stats", action="store_true",
                   help="skip retain_grad and all statistics (plain training step)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd",
                   help="torch.optim.SGD (default) or torch.optim.Adam with its defaults")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True) (FTZ/DAZ); off by default")
    p.add_argument("--log", default=None,
                   help="write the per-step statistics as JSON lines to this file (after timing)")
    return p.parse_args()


args = parse_args()


def make_optimizer(params):
    if args.optimizer == "adam":
        return torch.optim.Adam(params, lr=args.lr)
    return torch.optim.SGD(params, lr=args.lr)

# Must happen before torch (and its OpenBLAS / libgomp) are loaded.
if args.threads > 0:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

if args.threads > 0:
    torch.set_num_threads(args.threads)
if args.flush_denormal:
    torch.set_flush_denormal(True)
DTYPE = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
torch.set_default_dtype(DTYPE)


def _blas_info():
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return int(lib.openblas_get_num_threads()), lib.openblas_get_corename().decode()
    except Exception:
        return None, None


# --------------------------------------------------------------------------- MLPs
class MLPWorkload:
    def __init__(self, name, sizes, batch, act, init, loss, stat):
        self.name, self.batch, self.act_name, self.stat = name, batch, act, stat
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        for lin in self.layers:
            if init == "glorot":
                nn.init.xavier_uniform_(lin.weight)
            else:
                nn.init.kaiming_normal_(lin.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        self.act = torch.tanh if act == "tanh" else torch.relu
        self.opt = make_optimizer(self.layers.parameters())
        self.x = torch.randn(batch, sizes[0])
        if loss == "ce":
            self.y = torch.randint(0, sizes[-1], (batch,))
            self.loss_fn = F.cross_entropy
        else:
            self.y = torch.randn(batch, sizes[-1])
            self.loss_fn = F.mse_loss
        self.flops = 0
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            mm = 2.0 * batch * a * b
            self.flops += mm * (2 if i == 0 else 3)  # fwd + dW (+ dX except first layer)
        self.shape = {"sizes": [sizes[0], "%dx%d" % (len(sizes) - 2, sizes[1]), sizes[-1]],
                      "batch": batch, "act": act, "init": init, "loss": loss}

    def step(self, stats):
        self.opt.zero_grad(set_to_none=True)
        n = len(self.layers)
        zs, hs = [], []
        h = self.x
        for i, lin in enumerate(self.layers):
            z = lin(h)
            if stats:
                z.retain_grad()
                zs.append(z)
            if i < n - 1:
                h = self.act(z)
                if stats:
                    hs.append(h)
            else:
                h = z
        loss = self.loss_fn(h, self.y)
        loss.backward()
        rec = None
        if stats:
            with torch.no_grad():
                gw = torch.stack([lin.weight.grad.norm() for lin in self.layers])
                gz = torch.stack([z.grad.norm() for z in zs])
                if self.stat == "saturation":
                    frac = torch.stack([(a.abs() > 0.99).to(DTYPE).mean() for a in hs])
                else:  # dead: unit output is 0 for every sample in the batch
                    frac = torch.stack([(a == 0).all(dim=0).to(DTYPE).mean() for a in hs])
                am = torch.stack([a.mean() for a in hs])
                asd = torch.stack([a.std() for a in hs])
                packed = torch.cat([gw, gz, frac, am, asd, loss.detach().reshape(1)]).tolist()
            L, Hn = n, n - 1
            rec = {"loss": packed[-1], "grad_w_norm": packed[0:L], "grad_z_norm": packed[L:2 * L],
                   self.stat: packed[2 * L:2 * L + Hn],
                   "act_mean": packed[2 * L + Hn:2 * L + 2 * Hn],
                   "act_std": packed[2 * L + 2 * Hn:2 * L + 3 * Hn]}
        self.opt.step()
        return float(loss) if rec is None else rec["loss"], rec

    @staticmethod
    def summary(rec):
        k = "saturation" if "saturation" in rec else "dead"
        return {"grad_w_norm[first,last]": [rec["grad_w_norm"][0], rec["grad_w_norm"][-1]],
                "grad_z_norm[first,last]": [rec["grad_z_norm"][0], rec["grad_z_norm"][-1]],
                k + "[first,last]": [rec[k][0], rec[k][-1]],
                "act_std[first,last]": [rec["act_std"][0], rec["act_std"][-1]]}


# --------------------------------------------------------------------------- residual + BN
class ResidualBNWorkload:
    """gradlab's residual net with BatchNorm (docs/reference.md, model.residual block 1 alpha 1,
    model.norm batch before): h = W_1 x + b_1; 49 blocks h <- h + W relu(BN(h)) + b; y = W_out h
    + b_out. Statistics: ||dL/dW||_F, ||dL/dz|| per Linear, ||dL/dh|| per stream value, dead
    fraction per block, ||dL/dgamma||, ||dL/dbeta|| per BN."""

    def __init__(self, width=256, depth=50, batch=64):
        self.batch = batch
        self.lin = nn.ModuleList(nn.Linear(width, width) for _ in range(depth + 1))
        self.bn = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(depth - 1))
        for lin in self.lin:
            nn.init.kaiming_normal_(lin.weight, mode="fan_in", nonlinearity="relu")
            nn.init.zeros_(lin.bias)
        self.opt = torch.optim.SGD(list(self.lin.parameters()) + list(self.bn.parameters()),
                                   lr=args.lr)
        self.x = torch.randn(batch, width)
        self.y = torch.randn(batch, width)
        self.flops = 2.0 * batch * width * width * (2 + 3 * depth)
        self.shape = {"sizes": [width, "1+%dx%d" % (depth - 1, width), width], "batch": batch,
                      "act": "relu", "norm": "batch before", "init": "he", "loss": "mse"}

    def step(self, stats):
        self.opt.zero_grad(set_to_none=True)
        zs, hs, acts = [], [], []
        h = self.lin[0](self.x)
        if stats:
            h.retain_grad()
            zs.append(h)
        for bn, lin in zip(self.bn, self.lin[1:-1]):
            if stats:
                hs.append(h)
            a = torch.relu(bn(h))
            z = lin(a)
            if stats:
                z.retain_grad()
                zs.append(z)
                acts.append(a)
            h = h + z
            if stats:
                h.retain_grad()
        if stats:
            hs.append(h)
        out = self.lin[-1](h)
        loss = F.mse_loss(out, self.y)
        loss.backward()
        rec = None
        if stats:
            with torch.no_grad():
                gw = torch.stack([lin.weight.grad.norm() for lin in self.lin])
                gz = torch.stack([z.grad.norm() for z in zs])
                gh = torch.stack([v.grad.norm() for v in hs if v.grad is not None])
                dead = torch.stack([(a == 0).all(dim=0).to(DTYPE).mean() for a in acts])
                gg = torch.stack([bn.weight.grad.norm() for bn in self.bn])
                gb = torch.stack([bn.bias.grad.norm() for bn in self.bn])
                packed = torch.cat([gw, gz, gh, dead, gg, gb, loss.detach().reshape(1)]).tolist()
            rec = {"loss": packed[-1], "grad_w_norm": packed[:len(gw)],
                   "grad_h_norm": packed[len(gw) + len(gz):len(gw) + len(gz) + len(gh)]}
        self.opt.step()
        return float(loss) if rec is None else rec["loss"], rec

    @staticmethod
    def summary(rec):
        return {"grad_w_norm[first,last]": [rec["grad_w_norm"][0], rec["grad_w_norm"][-1]],
                "grad_h_norm[first,last]": [rec["grad_h_norm"][0], rec["grad_h_norm"][-1]]}


# --------------------------------------------------------------------------- RNN
class RNNWorkload:
    def __init__(self, H=256, I=32, T=1000, B=32):
        self.name, self.H, self.I, self.T, self.B = "rnn_chain", H, I, T, B
        self.W = (torch.randn(H, H) / H ** 0.5).requires_grad_()
        self.U = (torch.randn(H, I) / I ** 0.5).requires_grad_()
        self.b = torch.zeros(H, requires_grad=True)
        self.opt = make_optimizer([self.W, self.U, self.b])
        self.x = torch.randn(T, B, I)
        fwd = 2.0 * B * H * H + 2.0 * B * I * H           # W h_{t-1}, U x_t
        bwd = 2.0 * B * H * H + 2.0 * B * I * H           # dW, dU contributions
        self.flops = T * (fwd + bwd) + (T - 1) * 2.0 * B * H * H  # + dh_{t-1} (not for h_0)
        self.shape = {"H": H, "I": I, "T": T, "batch": B, "init": "W~N(0,1/H), U~N(0,1/I)"}

    def step(self, stats):
        self.opt.zero_grad(set_to_none=True)
        h = torch.zeros(self.B, self.H)
        hs = []
        for t in range(self.T):
            h = torch.tanh(F.linear(self.x[t], self.U, self.b) + F.linear(h, self.W))
            if stats:
                h.retain_grad()
                hs.append(h)
        loss = (h * h).sum()
        loss.backward()
        rec = None
        if stats:
            with torch.no_grad():
                gh = torch.stack([hh.grad for hh in hs]).flatten(1).norm(dim=1)
                packed = torch.cat([gh, self.W.grad.norm().reshape(1),
                                    loss.detach().reshape(1)]).tolist()
            rec = {"loss": packed[-1], "grad_W_norm": packed[-2], "grad_h_norm": packed[:-2]}
        self.opt.step()
        return float(loss) if rec is None else rec["loss"], rec

    @staticmethod
    def summary(rec):
        g = rec["grad_h_norm"]
        nz = [i for i, v in enumerate(g) if v != 0.0]
        return {"grad_W_norm": rec["grad_W_norm"],
                "grad_h_norm[t=1,t=T/2,t=T]": [g[0], g[len(g) // 2], g[-1]],
                "first_t_with_nonzero_grad": (nz[0] + 1) if nz else None}


class LSTMWorkload:
    def __init__(self, H=256, I=32, T=1000, B=32):
        self.name, self.H, self.I, self.T, self.B = "lstm_chain", H, I, T, B
        self.lstm = nn.LSTM(I, H)                      # PyTorch's init U(±1/sqrt(H)), gates i,f,g,o
        self.cell = nn.LSTMCell(I, H)
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):   # one set of weights
            setattr(self.cell, n, getattr(self.lstm, n + "_l0"))
        self.opt = torch.optim.SGD(self.lstm.parameters(), lr=args.lr)
        self.x = torch.randn(T, B, I)
        G = 4 * H
        fwd = 2.0 * B * G * H + 2.0 * B * I * G          # W_hh h_{t-1}, W_ih x_t
        bwd = 2.0 * B * G * H + 2.0 * B * I * G          # dW_hh, dW_ih contributions
        self.flops = T * (fwd + bwd) + (T - 1) * 2.0 * B * G * H  # + dh_{t-1}
        self.shape = {"H": H, "I": I, "T": T, "batch": B, "init": "PyTorch's U(+-1/sqrt(H))"}

    def step(self, stats):
        self.opt.zero_grad(set_to_none=True)
        rec = None
        if not stats:
            out, _ = self.lstm(self.x)
            loss = (out[-1] * out[-1]).sum()
            loss.backward()
        else:
            h = torch.zeros(self.B, self.H)
            c = torch.zeros(self.B, self.H)
            hs, cs = [], []
            for t in range(self.T):
                h, c = self.cell(self.x[t], (h, c))
                h.retain_grad()
                c.retain_grad()
                hs.append(h)
                cs.append(c)
            loss = (h * h).sum()
            loss.backward()
            with torch.no_grad():
                gh = torch.stack([hh.grad for hh in hs]).flatten(1).norm(dim=1)
                gc = torch.stack([cc.grad for cc in cs]).flatten(1).norm(dim=1)
                packed = torch.cat([gh, gc, self.lstm.weight_hh_l0.grad.norm().reshape(1),
                                    loss.detach().reshape(1)]).tolist()
            T = self.T
            rec = {"loss": packed[-1], "grad_W_hh_norm": packed[-2], "grad_h_norm": packed[:T],
                   "grad_c_norm": packed[T:2 * T]}
        self.opt.step()
        return float(loss) if rec is None else rec["loss"], rec

    @staticmethod
    def summary(rec):
        g, c = rec["grad_h_norm"], rec["grad_c_norm"]
        return {"grad_W_hh_norm": rec["grad_W_hh_norm"],
                "grad_h_norm[t=1,t=T/2,t=T]": [g[0], g[len(g) // 2], g[-1]],
                "grad_c_norm[t=1,t=T/2,t=T]": [c[0], c[len(c) // 2], c[-1]]}


def make(name):
    if name == "glorot5":
        return MLPWorkload(name, [1024] + [1000] * 5 + [10], 10, "tanh", "glorot", "ce",
                           "saturation")
    if name == "deep_narrow":
        return MLPWorkload(name, [128] * 101, 64, "relu", "he", "mse", "dead")
    if name == "wide":
        return MLPWorkload(name, [2048] * 11, 256, "relu", "he", "mse", "dead")
    if name == "rnn_chain":
        return RNNWorkload()
    if name == "residual_bn":
        return ResidualBNWorkload()
    if name == "lstm_chain":
        return LSTMWorkload()
    raise ValueError(name)


def pct(xs, q):
    xs = sorted(xs)
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


def run(name, logf):
    torch.manual_seed(args.seed)
    wl = make(name)
    stats = not args.no_stats
    steps = args.steps if args.steps is not None else DEFAULT_STEPS[name]
    for _ in range(args.warmup):
        wl.step(stats)
    times, recs, losses = [], [], []
    t_start = time.perf_counter()
    for _ in range(steps):
        t0 = time.perf_counter()
        loss, rec = wl.step(stats)
        times.append(time.perf_counter() - t0)
        losses.append(loss)
        if rec is not None:
            recs.append(rec)
    wall = time.perf_counter() - t_start
    med = statistics.median(times)
    blas_thr, core = _blas_info()
    out = {
        "workload": name, "dtype": args.dtype, "threads": args.threads,
        "torch_threads": torch.get_num_threads(), "blas_threads": blas_thr, "blas_core": core,
        "stats": stats, "steps": steps, "warmup": args.warmup,
        "median_s": med, "min_s": min(times), "p10_s": pct(times, 0.1), "p90_s": pct(times, 0.9),
        "max_s": max(times), "mean_s": statistics.fmean(times), "wall_s": wall,
        "gflop_per_step": wl.flops * 1e-9, "gflops_median": wl.flops / med * 1e-9,
        "gflops_best": wl.flops / min(times) * 1e-9,
        "loss_first": losses[0], "loss_last": losses[-1],
        "loss_finite": all(l == l and abs(l) != float("inf") for l in losses),
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "flush_denormal": args.flush_denormal, "shape": wl.shape,
        "torch": torch.__version__,
    }
    if recs:
        out["stats_last_step"] = wl.summary(recs[-1])
    print(json.dumps(out), flush=True)
    if logf is not None:
        for i, r in enumerate(recs):
            logf.write(json.dumps({"workload": name, "step": i, **r}) + "\n")


def main():
    names = WORKLOADS if "all" in args.workload else args.workload
    logf = open(args.log, "w") if args.log else None
    try:
        for n in names:
            run(n, logf)
    finally:
        if logf:
            logf.close()


if __name__ == "__main__":
    main()
