#!/usr/bin/env bash
# Builds the torch-free libraries and their tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (scripts/sanitized-build.sh) and runs them, one test case per process and as many at once as there are cores;
# any report fails the run. (libtorch itself is not built with sanitizers, so the NequIP parts are left out
# here.) Usage: scripts/sanitize.sh [ctest arguments, e.g. -R 'NPT aniso']
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(test_engine test_io test_potential test_integrators test_analysis)
scripts/sanitized-build.sh "${targets[@]}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
labels=$(IFS='|'; echo "^(${targets[*]})\$")
ctest --test-dir build-sanitize --output-on-failure --no-tests=error -j"$(nproc)" -L "$labels" "$@"
