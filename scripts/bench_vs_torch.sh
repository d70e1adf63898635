#!/usr/bin/env bash
# gradlab vs PyTorch 1.13 on the CPU, paired: the workloads of docs/performance.md, run
# alternately (gradlab, then PyTorch; the order flips every repetition) on the same machine, so
# that machine load hits both sides alike. Prints per workload the medians over repetitions, the
# spread (min..max), the ratios torch/gradlab (per repetition, then their median and range), peak
# RSS (/usr/bin/time -v) and gradlab's float64/float32 (float64 run right after float32, every
# repetition) and probe/step costs.
#
#   scripts/bench_vs_torch.sh [-r REPS] [-w "W1 W2 W3 W4 W5 W6 W7"] [--no-f64] [--torch-threads "2 1"]
#                             [--no-build] [--quick] [--optimizer adam]
# --optimizer adam: both sides train with Adam (gradlab train.optimizer=adam, PyTorch
# torch.optim.Adam, lr 0.001 on both) instead of plain SGD.
# --quick: fewer steps on both sides (PyTorch 50/20/4/6 timed steps for W1..W4, gradlab's configs
# shortened to match), and W3's PyTorch on 1 thread only: for
# a loaded machine, where PyTorch's 2-thread runs can take ~40x longer than on an idle one.
#
# "PyTorch at its best" = per repetition the faster of the --torch-threads settings (2 threads
# with OMP_WAIT_POLICY=passive, and 1 thread). gradlab: timing.train_step_s_median (a step) and
# timing.probe_s_median (a probe on probe.samples = batch examples) of configs/bench/Wk.json.
# Environment: BUILD_DIR (default build-perf), TORCH_PEER (default tests/bench/torch_peer.py),
# OUT (raw results; default a fresh folder under /tmp), GRADLAB (a gradlab binary to time instead
# of $BUILD_DIR's; implies --no-build). Optional: not part of scripts/test.sh.
# W5 (init study) times whole sweeps instead: configs/quickstart.json and
# configs/he2015/init_depth.json, gradlab `run --jobs 1` and `--jobs 2` against
# tests/bench/torch_init_study.py (1 thread), float32 and float64, wall time of each process;
# --quick: repeats=1 on both sides.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-perf}"
PEER="${TORCH_PEER:-$ROOT/tests/bench/torch_peer.py}"
OUT="${OUT:-$(mktemp -d /tmp/bench_vs_torch.XXXXXX)}"
REPS=3
WORKLOADS="W1 W2 W3 W4"
F64=1
TORCH_THREADS="2 1"
BUILD=1
QUICK=0
OPTIMIZER=sgd
[ -n "${GRADLAB:-}" ] && BUILD=0
while [ $# -gt 0 ]; do
  case "$1" in
    -r | --reps) REPS="$2"; shift 2 ;;
    -w | --workloads) WORKLOADS="$2"; shift 2 ;;
    --no-f64) F64=0; shift ;;
    --torch-threads) TORCH_THREADS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --quick) QUICK=1; shift ;;
    --optimizer) OPTIMIZER="$2"; shift 2 ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "bench_vs_torch.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"

# ---- prerequisites: Debian's PyTorch, GNU time, a Release build ----
if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "== installing python3-torch (apt)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y python3-torch python3-numpy >/dev/null
fi
# Debian's torch calls GEMM through libblas.so.3, whatever the system's alternative is: the
# reference BLAS (~3-10x slower) without OpenBLAS. PyTorch at its best uses threaded OpenBLAS
# (libopenblas0-pthread, which scripts/setup.sh installs for gradlab): point the PyTorch processes only
# (LD_LIBRARY_PATH; the system's BLAS choice is left alone) at libopenblas0-pthread, the installed
# one or one unpacked under $OPENBLAS_DIR. OpenBLAS 0.3.21 does not know every newer CPU (it falls
# back to the SSE3 "Prescott" kernels): pin the core type from the ISA.
OPENBLAS_DIR="${OPENBLAS_DIR:-/tmp/gradlab-openblas}"
TORCH_ENV=(OMP_WAIT_POLICY=passive)
lib="/usr/lib/x86_64-linux-gnu/openblas-pthread"
if [ ! -f "$lib/libblas.so.3" ]; then
  lib="$OPENBLAS_DIR/usr/lib/x86_64-linux-gnu/openblas-pthread"
  if [ ! -f "$lib/libblas.so.3" ]; then
    echo "== unpacking libopenblas0-pthread into $OPENBLAS_DIR (for PyTorch only)"
    mkdir -p "$OPENBLAS_DIR"
    (cd "$OPENBLAS_DIR" && apt-get download libopenblas0-pthread >/dev/null 2>&1 &&
      dpkg -x libopenblas0-pthread_*.deb .)
  fi
fi
TORCH_ENV+=("LD_LIBRARY_PATH=$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}")
if grep -qw avx512f /proc/cpuinfo; then
  TORCH_ENV+=(OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-SkylakeX}")
elif grep -qw avx2 /proc/cpuinfo; then
  TORCH_ENV+=(OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}")
fi
[ -x /usr/bin/time ] || { echo "bench_vs_torch.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 3; }
[ -f "$PEER" ] || { echo "bench_vs_torch.sh: no PyTorch peer at $PEER" >&2; exit 3; }
if [ "$BUILD" = 1 ]; then
  echo "== building gradlab in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD_DIR" -j2 --target gradlab >/dev/null
fi
BIN="${GRADLAB:-$BUILD_DIR/gradlab}"
[ -x "$BIN" ] || { echo "bench_vs_torch.sh: no gradlab binary at $BIN" >&2; exit 3; }

# --quick: gradlab config overrides and PyTorch's timed steps per workload.
quick_sets() {
  case "$1" in
    W1) echo "train.steps=60 probe.every=10" ;;
    W2) echo "train.steps=40 probe.every=10" ;;
    W3) echo "train.steps=6 probe.every=2" ;;
    W4) echo "train.steps=8 probe.every=2" ;;
    W6) echo "train.steps=40 probe.every=10" ;;
    W7) echo "train.steps=4 probe.every=2" ;;
  esac
}
quick_steps() {
  case "$1" in W1) echo 50 ;; W2) echo 20 ;; W3) echo 4 ;; W4) echo 6 ;; W6) echo 20 ;; W7) echo 3 ;; esac
}

peer_name() {
  case "$1" in
    W1) echo glorot5 ;; W2) echo deep_narrow ;; W3) echo rnn_chain ;; W4) echo wide ;;
    W6) echo residual_bn ;; W7) echo lstm_chain ;;
  esac
}

# One gradlab run: its summary.json and /usr/bin/time output, tagged with (workload, rep, dtype).
run_gradlab() {  # w rep dtype
  local w=$1 r=$2 dt=$3 dir="$OUT/g_$1_$2_$3"
  local sets=(--set "precision=$dt")
  [ "$OPTIMIZER" = sgd ] || sets+=(--set "train.optimizer=$OPTIMIZER" --set "train.lr=0.001")
  if [ "$QUICK" = 1 ]; then for kv in $(quick_sets "$w"); do sets+=(--set "$kv"); done; fi
  /usr/bin/time -v -o "$dir.time" "$BIN" run "$ROOT/configs/bench/$w.json" --out "$dir" \
    --jobs 1 --force --quiet "${sets[@]}" >/dev/null
  /usr/bin/python3 - "$w" "$r" "$dt" "$dir" >>"$OUT/gradlab.jsonl" <<'EOF'
import json, re, sys
w, r, dt, d = sys.argv[1:]
s = json.load(open(d + "/runs/run/summary.json"))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(d + ".time").read())[1])
print(json.dumps({"w": w, "rep": int(r), "dtype": dt, "step": s["timing"]["train_step_s_median"],
                  "probe": s["timing"]["probe_s_median"], "rss_mb": rss / 1024, "status": s["status"],
                  "flush": s["provenance"]["flush_subnormals"]}))
EOF
}

# One PyTorch run: its JSON line plus peak RSS, tagged.
run_torch() {  # w rep threads stats(1/0) flush(1/0)
  local w=$1 r=$2 th=$3 st=$4 fl=$5 f="$OUT/t_$1_$2_$3_$4_$5"
  local extra=()
  [ "$st" = 0 ] && extra+=(--no-stats)
  [ "$fl" = 1 ] && extra+=(--flush-denormal)
  [ "$QUICK" = 1 ] && extra+=(--steps "$(quick_steps "$w")")
  [ "$OPTIMIZER" = sgd ] || extra+=(--optimizer "$OPTIMIZER" --lr 0.001)
  env "${TORCH_ENV[@]}" /usr/bin/time -v -o "$f.time" /usr/bin/python3 "$PEER" \
    --workload "$(peer_name "$w")" --threads "$th" "${extra[@]}" >"$f.json"
  /usr/bin/python3 - "$w" "$r" "$th" "$st" "$fl" "$f" >>"$OUT/torch.jsonl" <<'EOF'
import json, re, sys
w, r, th, st, fl, f = sys.argv[1:]
j = json.loads(open(f + ".json").read().strip().splitlines()[-1])
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f + ".time").read())[1])
print(json.dumps({"w": w, "rep": int(r), "threads": int(th), "stats": st == "1", "flush": fl == "1",
                  "blas": "%s/%s" % (j["blas_core"], j["blas_threads"]),
                  "median_s": j["median_s"], "rss_mb": rss / 1024}))
EOF
}

# Every PyTorch setting of a workload; W3 also with --flush-denormal (FTZ/DAZ, as gradlab's float32
# default), since subnormals dominate PyTorch's time there: its best is the fastest of them all.
run_torch_all() {  # w rep
  local flushes="0" threads="$TORCH_THREADS"
  [ "$1" = W3 ] && flushes="0 1"
  [ "$1" = W3 ] && [ "$QUICK" = 1 ] && threads=1  # 2 threads: 1000 tiny ops, each a barrier
  for th in $threads; do
    for fl in $flushes; do
      run_torch "$1" "$2" "$th" 1 "$fl"
      run_torch "$1" "$2" "$th" 0 "$fl"
    done
  done
}

# gradlab in float32 and, right after it (so that both see the same machine), in float64.
run_gradlab_pair() {  # w rep
  run_gradlab "$1" "$2" float32
  if [ "$F64" = 1 ] && [ "$1" != W3 ] && [ "$1" != W7 ]; then run_gradlab "$1" "$2" float64; fi
}

# ---- W5: whole init-study sweeps (one process each), wall seconds ----
W5_CONFIGS="quickstart he2015/init_depth"
wall() {  # seconds of a command, as a JSON number
  local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }'
}
run_w5_gradlab() {  # cfg rep dtype jobs
  local dir="$OUT/g5_${1//\//_}_$2_$3_$4" sets=(--set "precision=$3")
  [ "$QUICK" = 1 ] && sets+=(--set repeats=1)
  local s; s=$(wall "$BIN" run "$ROOT/configs/$1.json" --out "$dir" --jobs "$4" --force --quiet "${sets[@]}")
  local st; st=$(wall "$BIN" --version)  # process start and exit: not part of the work
  echo "{\"cfg\": \"$1\", \"rep\": $2, \"dtype\": \"$3\", \"side\": \"gradlab_j$4\", \"wall\": $s, \"start\": $st}" >>"$OUT/w5.jsonl"
  rm -rf "$dir"
}
run_w5_torch() {  # cfg rep dtype
  local f="$OUT/t5_${1//\//_}_$2_$3" extra=()
  [ "$QUICK" = 1 ] && extra+=(--repeats 1)
  local s; s=$(wall env "${TORCH_ENV[@]}" /usr/bin/python3 "$ROOT/tests/bench/torch_init_study.py" \
    "$ROOT/configs/$1.json" --dtype "$3" --threads 1 "${extra[@]}" --out "$f.csv")
  # re-read its own JSON line (printed to stdout, which wall discards): run once more is too
  # costly, so the script also writes it next to the CSV
  local j; j=$(cat "$f.csv.json")
  echo "{\"cfg\": \"$1\", \"rep\": $2, \"dtype\": \"$3\", \"side\": \"torch\", \"wall\": $s, \"peer\": $j}" >>"$OUT/w5.jsonl"
}
run_w5() {  # rep: every (config, dtype), gradlab --jobs 1, --jobs 2 and PyTorch, order flipped
  local dts="float32"; [ "$F64" = 1 ] && dts="float32 float64"
  for cfg in $W5_CONFIGS; do
    for dt in $dts; do
      echo "-- rep $1 W5 $cfg $dt"
      if (($1 % 2 == 0)); then
        run_w5_gradlab "$cfg" "$1" "$dt" 1; run_w5_gradlab "$cfg" "$1" "$dt" 2; run_w5_torch "$cfg" "$1" "$dt"
      else
        run_w5_torch "$cfg" "$1" "$dt"; run_w5_gradlab "$cfg" "$1" "$dt" 2; run_w5_gradlab "$cfg" "$1" "$dt" 1
      fi
    done
  done
}

echo "== raw results in $OUT; load: $(cut -d' ' -f1-3 /proc/loadavg); PyTorch env: ${TORCH_ENV[*]}"
: >"$OUT/gradlab.jsonl"; : >"$OUT/torch.jsonl"; : >"$OUT/w5.jsonl"
for ((r = 0; r < REPS; ++r)); do
  for w in $WORKLOADS; do
    if [ "$w" = W5 ]; then run_w5 "$r"; continue; fi
    echo "-- rep $r $w"
    if ((r % 2 == 0)); then
      run_gradlab_pair "$w" "$r"
      run_torch_all "$w" "$r"
    else
      run_torch_all "$w" "$r"
      run_gradlab_pair "$w" "$r"
    fi
  done
done
echo "== load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- summary ----
/usr/bin/python3 - "$OUT" <<'EOF'
import json, statistics as st, sys
out = sys.argv[1]
W5 = [json.loads(l) for l in open(out + "/w5.jsonl")]
for cfg in sorted({x["cfg"] for x in W5}):
    for dt in ("float32", "float64"):
        xs = [x for x in W5 if x["cfg"] == cfg and x["dtype"] == dt]
        if not xs: continue
        reps = sorted({x["rep"] for x in xs})
        by = {(x["side"], x["rep"]): x for x in xs}
        def col(side, f): return [f(by[(side, r)]) for r in reps]
        g1, g2, t = col("gradlab_j1", lambda x: x["wall"]), col("gradlab_j2", lambda x: x["wall"]), col("torch", lambda x: x["wall"])
        g1w = col("gradlab_j1", lambda x: x["wall"] - x["start"])
        g2w = col("gradlab_j2", lambda x: x["wall"] - x["start"])
        tw = col("torch", lambda x: x["peer"]["work_s"])
        ti = col("torch", lambda x: x["peer"]["import_s"])
        def m(v): return "%.2f s [%.2f..%.2f]" % (st.median(v), min(v), max(v))
        def rt(a, b):
            q = [x / y for x, y in zip(a, b)]
            return "%.2fx [%.2f..%.2f]" % (st.median(q), min(q), max(q))
        print("\nW5 %s %s (%d paired repetitions; wall seconds, median [min..max])" % (cfg, dt, len(reps)))
        print("  gradlab --jobs 1     %s" % m(g1))
        print("  gradlab --jobs 2     %s" % m(g2))
        print("  torch (1 thread)     %s   (import %s)" % (m(t), m(ti)))
        print("  torch/gradlab j1     whole %s   work alone %s" % (rt(t, g1), rt(tw, g1w)))
        print("  torch/gradlab j2     whole %s   work alone %s" % (rt(t, g2), rt(tw, g2w)))
        print("  gradlab j1/j2        %s" % rt(g1, g2))
if not open(out + "/gradlab.jsonl").read().strip(): sys.exit(0)
G = [json.loads(l) for l in open(out + "/gradlab.jsonl")]
T = [json.loads(l) for l in open(out + "/torch.jsonl")]
med = st.median
def rng(xs): return "%.3g..%.3g" % (min(xs), max(xs))
def ms(x): return "%.2f" % (1e3 * x)
for w in sorted({g["w"] for g in G}):
    reps = sorted({g["rep"] for g in G if g["w"] == w})
    g32 = {g["rep"]: g for g in G if g["w"] == w and g["dtype"] == "float32"}
    g64 = {g["rep"]: g for g in G if g["w"] == w and g["dtype"] == "float64"}
    rows = [t for t in T if t["w"] == w]
    best = {}  # rep -> (bare, stats, bare threads, stats threads)
    for r in reps:
        b = min((t for t in rows if t["rep"] == r and not t["stats"]), key=lambda t: t["median_s"])
        s = min((t for t in rows if t["rep"] == r and t["stats"]), key=lambda t: t["median_s"])
        best[r] = (b["median_s"], s["median_s"], "%d%s" % (b["threads"], "f" if b["flush"] else ""),
                   "%d%s" % (s["threads"], "f" if s["flush"] else ""))
    step = [g32[r]["step"] for r in reps]
    probe = [g32[r]["probe"] for r in reps]
    tb = [best[r][0] for r in reps]
    ts = [best[r][1] for r in reps]
    rs = [best[r][0] / g32[r]["step"] for r in reps]
    rp = [best[r][1] / g32[r]["probe"] for r in reps]
    print("\n%s  (%d paired repetitions; ms, median [min..max])" % (w, len(reps)))
    for th in sorted({t["threads"] for t in rows}):
        for fl in sorted({t["flush"] for t in rows}):
            for stats in (False, True):
                xs = [t["median_s"] for t in rows
                      if t["threads"] == th and t["stats"] == stats and t["flush"] == fl]
                print("  torch %d thr %-5s %-6s %8s ms [%s]" % (
                    th, "bare" if not stats else "stats", "flush" if fl else "",
                    ms(med(xs)), rng([1e3 * x for x in xs])))
    print("  torch best bare      %8s ms [%s]  (threads per rep, f = flush: %s)" % (
        ms(med(tb)), rng([1e3 * x for x in tb]), [best[r][2] for r in reps]))
    print("  torch best stats     %8s ms [%s]  (threads per rep, f = flush: %s)" % (
        ms(med(ts)), rng([1e3 * x for x in ts]), [best[r][3] for r in reps]))
    print("  gradlab step         %8s ms [%s]" % (ms(med(step)), rng([1e3 * x for x in step])))
    print("  gradlab probe        %8s ms [%s]" % (ms(med(probe)), rng([1e3 * x for x in probe])))
    print("  ratio torch/gradlab  step %.2fx [%s]   probe %.2fx [%s]" % (med(rs), rng(rs), med(rp), rng(rp)))
    print("  gradlab probe/step   %.2f [%s]" % (med([p / s for p, s in zip(probe, step)]),
                                               rng([p / s for p, s in zip(probe, step)])))
    if g64:
        f = [g64[r]["step"] / g32[r]["step"] for r in reps if r in g64]
        fp = [g64[r]["probe"] / g32[r]["probe"] for r in reps if r in g64]
        print("  gradlab f64/f32      step %.2f [%s]   probe %.2f [%s]" % (med(f), rng(f), med(fp), rng(fp)))
    grss = max(g32[r]["rss_mb"] for r in reps)
    trss = {th: med([t["rss_mb"] for t in rows if t["threads"] == th]) for th in {t["threads"] for t in rows}}
    print("  peak RSS MB          gradlab %.0f; torch %s; gradlab/torch(min) %.2f" % (
        grss, ", ".join("%d thr %.0f" % kv for kv in sorted(trss.items())), grss / min(trss.values())))
    print("  gradlab status %s, flush_subnormals %s; torch BLAS core/threads %s" % (
        sorted({g32[r]["status"] for r in reps}), sorted({g32[r]["flush"] for r in reps}),
        sorted({t["blas"] for t in rows})))
EOF
