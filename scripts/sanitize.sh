#!/usr/bin/env bash
# Builds the torch-free libraries and their tests with AddressSanitizer + UndefinedBehaviorSanitizer and runs
# them; any report fails the run. (libtorch itself is not built with sanitizers, so the NequIP parts are left
# out here.) Usage: scripts/sanitize.sh [catch test filter]
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNQMD_WITH_TORCH=OFF -DNQMD_SANITIZE=ON \
      -DNQMD_BUILD_BENCH=OFF >/dev/null
targets=(test_engine test_io test_potential test_integrators test_analysis)
cmake --build build-sanitize -j"$(nproc)" --target "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for test in "${targets[@]}"; do
  echo "== sanitizers: $test"
  (cd build-sanitize/tests && "./$test" "$@")
done
