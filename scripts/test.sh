#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite: packages, build, ctest, then the torch-free
# libraries' tests again (all but the [long] ones) under AddressSanitizer + UndefinedBehaviorSanitizer
# (scripts/sanitize.sh), then a fuzz smoke run: every regression input and 15 s of fuzzing per libFuzzer target
# with a fixed seed (scripts/fuzz.sh; longer and unseeded locally). The last two share one clang build.
# The tests read reference data from ../shared (beside this repository).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --tests
scripts/build.sh -DNQMD_BUILD_TESTS=ON -DNQMD_BUILD_BENCH=ON
ctest --test-dir build --output-on-failure -j"$(nproc)"
scripts/sanitize.sh
NQMD_FUZZ_SEED=${NQMD_FUZZ_SEED:-1} scripts/fuzz.sh "${NQMD_FUZZ_SECONDS:-15}"
