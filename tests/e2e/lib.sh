# Helpers for the end-to-end tests: each test script sources this, gets $GRADLAB, $SRC and a
# fresh temporary folder $T (removed at exit), and calls `check` / `expect_status`.
set -u
GRADLAB=${1:?usage: test.sh GRADLAB_BINARY SOURCE_DIR}
SRC=${2:?usage: test.sh GRADLAB_BINARY SOURCE_DIR}
T=$(mktemp -d /tmp/gradlab-e2e-XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
passes=0
PY=/usr/bin/python3

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
