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
bad malformed_col 2 'malformed_col.json:1:25: malformed JSON' '{ "model": { "depth": 2 ] }'
bad not_json 2 'not_json.json:1:1: malformed JSON' 'model: { depth: 2 }'
bad empty_file 2 'empty_file.json:.*malformed JSON' ''
bad top_level_array 2 'expected a JSON object at the top level' '[1, 2]'
bad zero_width 2 '/model/width: expected an integer in 1\.\.' '{ "model": { "depth": 2, "width": 0 } }'
bad negative_lr 2 '/train/lr: expected a number > 0, found -1' '{ "model": { "depth": 2, "width": 4 }, "train": { "lr": -1 } }'
bad unknown_optimizer 2 '/train/optimizer: expected one of .*found "adma" \(did you mean "adam"\?\)' '{ "model": { "depth": 2, "width": 4 }, "train": { "optimizer": "adma" } }'
bad bad_beta 2 '/train/betas/0: expected a number in \[0, 1\), found 1.5' '{ "model": { "depth": 2, "width": 4 }, "train": { "optimizer": "adam", "betas": [1.5, 0.999] } }'
bad negative_eps 2 '/train/eps: expected a number >= 0, found -1' '{ "model": { "depth": 2, "width": 4 }, "train": { "optimizer": "rmsprop", "eps": -1 } }'
bad negative_decay 2 '/train/weight_decay: expected a number >= 0, found -0.5' '{ "model": { "depth": 2, "width": 4 }, "train": { "weight_decay": -0.5 } }'
bad lr_layers_length 2 '/train/lr_layers: expected 3 multipliers' '{ "model": { "depth": 2, "width": 4 }, "train": { "lr_layers": [1, 1, 1, 1] } }'
bad inapplicable_key 2 '/train/alpha: does not apply to optimizer "adam" \(only to rmsprop\)' '{ "model": { "depth": 2, "width": 4 }, "train": { "optimizer": "adam", "alpha": 0.9 } }'
bad negative_seed 2 '/seed: expected an integer >= 0' '{ "model": { "depth": 2, "width": 4 }, "seed": -1 }'
bad absurd_width 2 '/model/width: expected an integer in 1\.\.[0-9]+, found 1000000000000' '{ "model": { "depth": 2, "width": 1e12 } }'
bad absurd_repeats 2 '/repeats: expected an integer in 1\.\.' '{ "model": { "depth": 2, "width": 4 }, "repeats": 1000000 }'
bad number_overflow 2 'number overflow' '{ "model": { "depth": 1e400, "width": 4 } }'
bad over_memory 2 'run run needs about [0-9.]+ GB of memory, more than the [0-9.]+ GB available; reduce the width, depth' '{ "model": { "depth": 2, "width": 1000000 }, "data": { "dim": 3 }, "probe": { "samples": 4 } }'
bad empty_grid 2 '/grid: grid is empty \(expected at least one axis' '{ "model": { "depth": 2, "width": 4 }, "grid": {} }'
bad rnn_maxout 2 '/model/activation: "maxout" is not supported for model.type "rnn"' '{ "model": { "type": "rnn", "width": 4, "length": 3, "activation": "maxout" }, "data": { "dim": 3 } }'
bad short_task 2 '/data/length: expected an integer in 10\.\.100000 \("temporal_order" places its markers' '{ "model": { "type": "rnn", "width": 4 }, "data": { "name": "temporal_order", "length": 9 } }'
bad rnn_histograms 2 '/probe/histograms: not available for model.type "rnn"' '{ "model": { "type": "rnn", "width": 4, "length": 3 }, "probe": { "histograms": true } }'
# A chain far beyond memory (W alone 80 GB, BPTT over 1000 steps 1.2 TB) is refused before
# anything is allocated; the address-space limit turns a wrong estimate into a failure, not a
# machine that swaps.
printf '#!/bin/bash\nulimit -v 4000000\nexec "%s" "$@"\n' "$GRADLAB" > limited && chmod +x limited
real=$GRADLAB GRADLAB=$T/limited
bad over_memory_rnn 2 'run run needs about [0-9.]+ GB of memory, more than the [0-9.]+ GB available; reduce the width, the chain length' '{ "model": { "type": "rnn", "width": 100000 }, "data": { "name": "temporal_order", "length": 1000 } }'
GRADLAB=$real
bad grid_not_list 2 '/grid/model.depth: expected a non-empty list of values, found 3' '{ "model": { "depth": 2, "width": 4 }, "grid": { "model.depth": 3 } }'
bad grid_not_object 2 '/grid: expected an object' '{ "model": { "depth": 2, "width": 4 }, "grid": [1] }'
bad grid_duplicate_value 2 '/grid/model.depth/1: duplicate of value 0' '{ "model": { "depth": 2, "width": 4 }, "grid": { "model.depth": [2, 2] } }'
bad grid_unknown_nested 2 '/grid/model.init.sigma: unknown key' '{ "model": { "depth": 2, "width": 4, "init": "gaussian" }, "grid": { "model.init.sigma": [1, 2] } }'
bad duplicate_run_ids 2 '/grid: run id "description=a_b" is not unique' '{ "model": { "depth": 2, "width": 4 }, "grid": { "description": ["a b", "a_b"] } }'
bad too_many_runs 2 '/grid: expected at most 1000000 runs' '{ "model": { "depth": 2, "width": 4 }, "repeats": 100000, "grid": { "seed": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] } }'

# Command-line mistakes on a good config: status, message, nothing written.
printf '%s\n' "$good" > good.json
printf '%s\n' '{ "model": { "depth": 2, "width": 4 }, "data": { "dim": 3 }, "probe": { "samples": 4 }, "grid": { "model.depth": [1, 2] } }' > grid.json
printf '%s\n' '{ "model": { "depth": 2, "width": 4 }, "data": { "dim": 3 }, "probe": { "samples": 4 }, "repeats": 2, "grid": { "variants": [{ "label": "a" }, { "label": "b+c", "seed": 3 }] } }' > variants.json
bad_args() {  # bad_args NAME STATUS MESSAGE-REGEX CONFIG [args...]: gradlab run CONFIG --out out-NAME args
  local name=$1 status=$2 msg=$3 config=$4; shift 4
  expect_status "$status" "$name" "$GRADLAB" run "$config" --out "out-$name" "$@"
  check "$name: message /$msg/" grep -qE -- "$msg" "$T/last.err"
  check "$name: nothing written" test ! -e "out-$name"
}
bad_args missing_config 2 'nope.json: cannot read config: No such file' nope.json
bad_args config_is_folder 2 'cannot read config: Is a directory' "$T"
bad_args shard_out_of_range 2 '--shard 3/3: expected K/N with 0 <= K < N' good.json --shard 3/3
bad_args shard_zero_n 2 '--shard 0/0: expected K/N' good.json --shard 0/0
bad_args shard_negative 2 '--shard -1/3: expected K/N' good.json --shard -1/3
bad_args shard_not_numbers 2 '--shard a/b: expected K/N' good.json --shard a/b
bad_args shard_trailing 2 '--shard 1/3x: expected K/N' good.json --shard 1/3x
bad_args shard_no_slash 2 '--shard 1: expected K/N' good.json --shard 1
bad_args jobs_zero 2 '--jobs: Value 0 not in range' good.json --jobs 0
bad_args set_bad_value 2 '/model/depth: expected an integer in 1\.\..*found -1' good.json --set model.depth=-1
bad_args set_bad_type 2 '/model/width: expected an integer.*found "abc"' good.json --set model.width=abc
bad_args set_bad_path 2 '/model/widht: unknown key.*did you mean "width"' good.json --set model.widht=3
bad_args set_no_value 2 '--set model.depth: expected KEY=VALUE' good.json --set model.depth
bad_args set_empty_key 2 '--set : expected KEY as a dotted path' good.json --set =3
bad_args set_grid_axis 2 '--set model.depth: is a grid axis; set grid.model.depth instead' grid.json --set model.depth=3
bad_args only_no_match 2 '--only model.depth=5: matches no run' grid.json --only model.depth=5
bad_args only_unknown_axis 2 '--only width=5: unknown key; expected one of model.depth, depth, repeat, rep' grid.json --only width=5
bad_args only_without_grid 2 '--only depth=2: unknown key \(the config has no grid\); expected one of repeat, rep' good.json --only depth=2
bad_args only_variant_typo 2 '--only variant=a: unknown key \(did you mean "variants"\?\); expected one of variants, repeat, rep' variants.json --only variant=a
bad_args only_repeat_out_of_range 2 '--only rep=2: expected a repeat in 0\.\.1, found 2' variants.json --only rep=2
expect_status 2 "unknown option" "$GRADLAB" run good.json --bogus
check "unknown option named" grep -q -- "--bogus" "$T/last.err"

# --only rep=R (as ids write it) and repeat=R; labels are written the same way in ids and --only.
expect_status 0 "--only rep=1 variants=b+c" "$GRADLAB" run variants.json --out only-rep --only rep=1 --only variants=b+c --quiet
check "--only rep=1 variants=b+c: the one run" test "$(ls only-rep/runs)" = "variants=b+c,rep=1"
expect_status 0 "--only repeat=0" "$GRADLAB" run variants.json --out only-repeat --only repeat=0 --quiet
check "--only repeat=0: one run per variant" test "$(ls only-repeat/runs | tr '\n' ' ')" = "variants=a,rep=0 variants=b+c,rep=0 "

# Data files (docs/reference.md §6): relative to the config's folder, checked before anything is
# written, every missing file named as resolved.
mkdir -p cfgdir/data
idx='{ "model": { "depth": 2, "width": 4 }, "data": { "name": "idx", "train_images": "data/train-images.gz", "train_labels": "data/train-labels.gz", "test_images": "/nonexistent/t10k-images.gz", "test_labels": "data/t10k-labels.gz" } }'
printf '%s\n' "$idx" > cfgdir/idx.json
touch cfgdir/data/train-labels.gz cfgdir/data/t10k-labels.gz
expect_status 2 "run with missing data files" "$GRADLAB" run cfgdir/idx.json --out out-idx
check "missing data: no result folder" test ! -e out-idx
check "missing data: train_images named as resolved" grep -qF "cfgdir/idx.json: /data/train_images: cannot read \"$T/cfgdir/data/train-images.gz\": No such file or directory" "$T/last.err"
check "missing data: test_images too (all at once)" grep -qF 'cfgdir/idx.json: /data/test_images: cannot read "/nonexistent/t10k-images.gz": No such file or directory' "$T/last.err"
check "missing data: the present files are not named" test "$(grep -c 'cannot read' "$T/last.err")" = 2
expect_status 2 "validate with missing data files" "$GRADLAB" validate cfgdir/idx.json
check "validate: names the file" grep -qF "/data/train_images: cannot read \"$T/cfgdir/data/train-images.gz\"" "$T/last.err"
expect_status 2 "fashion_mnist without its files" env GRADLAB_FASHION_MNIST_DIR="$T/nowhere" "$GRADLAB" run "$SRC/configs/glorot2010/table1_fashion_reduced.json" --out out-fashion
check "fashion_mnist: names the package" grep -qE '/data/name: Fashion-MNIST not found: no folder .*nowhere.*dataset-fashion-mnist' "$T/last.err"
check "fashion_mnist: nothing written" test ! -e out-fashion

# A bare config name is found in the source checkout the binary was built from.
pushd "$SRC" >/dev/null
expect_status 0 "validate quickstart.json from the repository root" "$GRADLAB" validate quickstart.json
popd >/dev/null
check "bare name: the shipped config" grep -q "quickstart.json: ok, 40 runs" "$T/last.out"
expect_status 0 "validate he2015/init_depth.json from elsewhere" "$GRADLAB" validate he2015/init_depth.json

# Unwritable output folders: exit 3 (tests run as root, so no chmod: paths no one can create).
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
  bad_args unwritable_folder 3 'cannot write the result folder' good.json --out ro/x
fi
touch afile
expect_status 3 "output under a regular file" "$GRADLAB" run good.json --out afile/x
check "output under a file: message" grep -q "afile/x: cannot write the result folder: Not a directory" "$T/last.err"
expect_status 3 "output is a regular file" "$GRADLAB" run good.json --out afile
check "output is a file: message" grep -q "afile: cannot write the result folder" "$T/last.err"
check "output is a file: the file is untouched" test ! -s afile
expect_status 3 "output in /proc" "$GRADLAB" run good.json --out /proc/gradlab-e2e
check "output in /proc: message" grep -q "/proc/gradlab-e2e: cannot write the result folder" "$T/last.err"

# A folder holding another experiment's results is refused and left as it was; --force replaces.
snapshot() { (cd "$1" && find . -type f | sort | xargs md5sum); }
expect_status 0 "a first experiment" "$GRADLAB" run grid.json --out held --quiet
snapshot held > held.before
expect_status 2 "another experiment into the same folder" "$GRADLAB" run good.json --out held
check "foreign manifest: message with the hint" grep -qE "held: holds the results of a different experiment .*use --out DIR.*--force" "$T/last.err"
check "foreign manifest: folder unchanged" diff held.before <(snapshot held)
echo '{ "name": "x", "hash": ' > held/manifest.json
snapshot held > held.before
expect_status 2 "an unreadable manifest" "$GRADLAB" run grid.json --out held
check "unreadable manifest: message" grep -q "held/manifest.json: unreadable manifest" "$T/last.err"
check "unreadable manifest: folder unchanged" diff held.before <(snapshot held)
expect_status 0 "--force replaces a foreign folder" "$GRADLAB" run good.json --out held --force --quiet
check "--force: only the new experiment's run is left" test "$(ls held/runs)" = run
check "--force: its manifest" grep -q '"name": "ok"' held/manifest.json

# collect on something that is not a result folder: exit 2, nothing written.
mkdir plain
expect_status 2 "collect without manifest" "$GRADLAB" collect plain
check "collect without manifest: message" grep -q "plain: no manifest.json: not a gradlab result folder" "$T/last.err"
check "collect without manifest: nothing written" test -z "$(ls -A plain)"
expect_status 2 "collect of a missing folder" "$GRADLAB" collect nowhere
check "collect of a missing folder: nothing written" test ! -e nowhere
finish
