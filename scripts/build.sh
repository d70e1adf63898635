#!/usr/bin/env bash
# Configures and builds gradlab in build/ (Release, -march=native unless GRADLAB_NATIVE=OFF).
# Used by demo.sh and test.sh; extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
werror=OFF
[ "${CI:-}" = "true" ] && werror=ON
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGRADLAB_WERROR="$werror" "$@" >/dev/null
cmake --build build -j "$jobs"
