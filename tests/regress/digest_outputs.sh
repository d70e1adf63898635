#!/usr/bin/env bash
# Runs every shipped config on a small budget and prints one digest per output file, with the
# timing and provenance fields removed (they differ between any two runs). Two binaries that
# print the same lines wrote the same bytes: the check that a refactoring changed no output.
#
#   tests/regress/digest_outputs.sh BINARY [OUTDIR [CONFIG...]] > digests.txt
#   diff <(tests/regress/digest_outputs.sh old/gradlab) <(tests/regress/digest_outputs.sh new/gradlab)
#
# Training configs run 24 steps with a probe every 8 (--set), so that the whole set runs in a few
# minutes; every model kind, optimizer path, probe option and data set is still reached. CONFIG
# (paths under configs/) limits the set; configs/bench is left out (the benchmarks' workloads).
# GRADLAB_DIGEST_DROP="col1 col2" leaves those columns out of every CSV's digest: to compare a
# binary that appended a column with one from before it.
set -euo pipefail
bin=$(realpath "$1")
out=${2:-$(mktemp -d)}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
mkdir -p "$out"
shift $(( $# < 2 ? $# : 2 ))
configs=("$@")
[ ${#configs[@]} -gt 0 ] || mapfile -t configs < <(cd configs && find . -name '*.json' ! -path './bench/*' | sed 's|^\./||' | sort)

py=${GRADLAB_PYTHON:-python3}
for cfg in "${configs[@]}"; do
  steps=$("$bin" validate "configs/$cfg" --json |
          "$py" -c "import json, sys; print(json.load(sys.stdin)['config'].get('train', {}).get('steps', 0))")
  args=()
  [ "$steps" = "0" ] || args+=(--set train.steps=24 --set probe.every=8)
  "$bin" run "configs/$cfg" --out "$out/${cfg%.json}" --quiet --jobs 2 --force "${args[@]}" >/dev/null 2>&1 || true
done

GRADLAB_DIGEST_DROP=${GRADLAB_DIGEST_DROP:-} "$py" - "$out" "${configs[@]}" <<'PY'
import csv, hashlib, json, os, sys
out, configs = sys.argv[1], sys.argv[2:]
VOLATILE = {"timing", "provenance", "git_commit", "elapsed_s"} | set(os.environ["GRADLAB_DIGEST_DROP"].split())
def strip(o):
    if isinstance(o, dict):
        return {k: strip(v) for k, v in o.items() if k not in VOLATILE}
    return [strip(v) for v in o] if isinstance(o, list) else o
def digest(path):
    if path.endswith(".json"):
        return hashlib.sha256(json.dumps(strip(json.load(open(path))), sort_keys=True).encode())
    if path.endswith(".csv"):
        rows = list(csv.reader(open(path, newline="")))
        drop = {i for i, h in enumerate(rows[0]) if h in VOLATILE} if rows else set()
        return hashlib.sha256("\n".join(",".join(v for i, v in enumerate(r) if i not in drop) for r in rows).encode())
    return hashlib.sha256(open(path, "rb").read())
for cfg in configs:
    d = os.path.join(out, cfg[:-5])
    for base, _, files in sorted(os.walk(d)):
        for f in sorted(files):
            if f == ".lock" or f.endswith((".png", ".svg", ".html")):
                continue
            p = os.path.join(base, f)
            print(digest(p).hexdigest()[:16], f"{cfg}:{os.path.relpath(p, d)}")
PY
