# Bad input: each case gives its documented exit status and message, and writes nothing.
source "$(dirname "$0")/lib.sh"
cd "$T"
good='{ "name": "ok", "model": { "depth": 2, "width": 4 }, "data": { "dim": 3 }, "probe": { "samples": 4 } }'

bad() {  # bad NAME STATUS MESSAGE-REGEX CONFIG-TEXT [extra args...]
  local name=$1 status=$2 msg=$3 text=$4; shift 4
  printf '%s\n' "$text" > "$name.json"
  expect_status "$status" "$name" "$GRADLAB" run "$name.json" --out "out-$name" "$@"
  check "$name: message /$msg/" grep -qE -- "$msg" "$T/last.err"
  check "$name: nothing written" test ! -e "out-$name"
}
bad unknown_key 2 'unknown_key.json: /model/widht: unknown key' '{ "model": { "depth": 2, "widht": 4 } }'
bad bad_activation 2 '/model/activation.*unknown activation "tahn".*identity, sigmoid, tanh' '{ "model": { "depth": 2, "width": 4, "activation": "tahn" } }'
bad bad_init 2 '/model/init.*unknown init' '{ "model": { "depth": 2, "width": 4, "init": "xavier" } }'
bad wrong_type 2 '/model/depth: expected' '{ "model": { "depth": "five", "width": 4 } }'
bad negative 2 '/model/width: expected' '{ "model": { "depth": 2, "width": -3 } }'
bad zero_samples 2 '/probe/samples: expected' '{ "model": { "depth": 2, "width": 4 }, "probe": { "samples": 0 } }'
bad malformed 2 'malformed.json:3:' '{ "model": {
  "depth": 2,
  "width": 4,, } }'
bad bad_grid_key 2 '/grid/model.widht' '{ "model": { "depth": 2, "width": 4 }, "grid": { "model.widht": [1, 2] } }'
bad bad_grid_value 2 '/grid/model.activation/1: unknown activation' '{ "model": { "depth": 2, "width": 4 }, "grid": { "model.activation": ["relu", "tahn"] } }'
bad empty_axis 2 '/grid/model.depth' '{ "model": { "depth": 2, "width": 4 }, "grid": { "model.depth": [] } }'
bad two_errors 2 '/model/width' '{ "model": { "depth": 0, "width": 0 } }'
check "two_errors: both reported" test "$(grep -c 'expected' "$T/last.err")" -ge 2
printf '%s\n' "$good" > good.json
expect_status 2 "missing config" "$GRADLAB" run nope.json --out out-missing
check "missing config named" grep -q "nope.json" "$T/last.err"
check "missing config: nothing written" test ! -e out-missing
expect_status 2 "shard out of range" "$GRADLAB" run good.json --out out-shard --shard 3/3
check "shard: nothing written" test ! -e out-shard
expect_status 2 "--set bad value" "$GRADLAB" run good.json --out out-set --set model.depth=-1
check "--set: nothing written" test ! -e out-set
expect_status 2 "unknown option" "$GRADLAB" run good.json --bogus
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
  expect_status 3 "unwritable folder" "$GRADLAB" run good.json --out ro/x
fi
expect_status 3 "output path is a file" bash -c "touch afile && '$GRADLAB' run good.json --out afile/x"
finish
