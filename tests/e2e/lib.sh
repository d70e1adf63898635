# Helpers for the end-to-end tests: each test script sources this, gets $GRADLAB, $SRC and a
# fresh temporary folder $T (removed at exit), and calls `check` / `expect_status`.
set -u
GRADLAB=${1:?usage: test.sh GRADLAB_BINARY SOURCE_DIR}
SRC=${2:?usage: test.sh GRADLAB_BINARY SOURCE_DIR}
T=$(mktemp -d /tmp/gradlab-e2e-XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
passes=0
PY=${GRADLAB_PYTHON:-python3}  # tests/CMakeLists.txt passes the one with numpy

check() {  # check "what" command...
  local what=$1; shift
  if "$@"; then passes=$((passes + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

# expect_status CODE "what" command... : runs the command, checks its exit status.
expect_status() {
  local want=$1 what=$2; shift 2
  "$@" >"$T/last.out" 2>"$T/last.err"
  local got=$?
  if [ "$got" = "$want" ]; then passes=$((passes + 1)); else
    echo "FAIL: $what: exit $got, expected $want"; sed 's/^/  stderr: /' "$T/last.err" | head -5
    failures=$((failures + 1)); fi
}

finish() {
  echo "$passes passed, $failures failed"
  [ "$failures" = 0 ]
}

# same_results A B: two result folders hold the same files with the same bytes — every table,
# the manifest and every run folder's files — except the wall-clock fields of summary.json
# (timing, provenance), which are compared with those stripped. Prints the first difference.
same_results() {
  $PY - "$1" "$2" <<'PY'
import json, os, sys
a, b = sys.argv[1], sys.argv[2]
skip = {".lock"}
def files(root):
    out = set()
    for d, dirs, names in os.walk(root):
        dirs[:] = [x for x in dirs if x != "slurm"]   # scheduler logs, not results
        out |= {os.path.relpath(os.path.join(d, n), root) for n in names if n not in skip}
    return out
fa, fb = files(a), files(b)
if fa != fb:
    sys.exit(f"different files: only in {a}: {sorted(fa - fb)[:5]}, only in {b}: {sorted(fb - fa)[:5]}")
def stripped(path):
    s = json.load(open(path))
    s.pop("timing", None); s.pop("provenance", None)
    return s
for f in sorted(fa):
    pa, pb = os.path.join(a, f), os.path.join(b, f)
    if os.path.basename(f) == "summary.json":
        if stripped(pa) != stripped(pb): sys.exit(f"{f}: summaries differ")
    elif open(pa, "rb").read() != open(pb, "rb").read():
        sys.exit(f"{f}: bytes differ")
PY
}

# wait_for PID TEST...: polls (up to 60 s) until the test holds or the process has ended.
wait_for() {
  local pid=$1; shift
  for _ in $(seq 600); do
    "$@" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# no_temporaries DIR: no run in progress or half-written file is left in a result folder.
no_temporaries() {
  [ -z "$(find "$1" -name '.tmp-*' -o -name '*.tmp' -o -name 'lease.json' -o -name 'checkpoint.bin')" ]
}

# cell FILE RUN COLUMN: a cell of a CSV table (run ids hold commas, so the CSV is quoted).
cell() {
  $PY -c 'import csv, sys
print("\n".join(r[sys.argv[3]] for r in csv.DictReader(open(sys.argv[1])) if r["run"] == sys.argv[2]))' "$@"
}
# column FILE COLUMN: every cell of a column, one a line.
column() {
  $PY -c 'import csv, sys
print("\n".join(r[sys.argv[2]] for r in csv.DictReader(open(sys.argv[1]))))' "$@"
}
