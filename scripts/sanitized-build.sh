#!/usr/bin/env bash
# The one sanitized build, shared by scripts/sanitize.sh (the torch-free test suites) and scripts/fuzz.sh (the
# libFuzzer targets): build-sanitize, clang, AddressSanitizer + UndefinedBehaviorSanitizer, every library with
# libFuzzer's coverage instrumentation (harmless outside a fuzzer). Sharing it compiles the libraries once.
# clang, because it compiles this code with the sanitizers two to three times as fast as gcc (a Catch2 test file:
# 26 s against 66 s); -gline-tables-only, because reports need only file and line.
# The tests tagged [long] are left out (NQMD_TEST_SPEC): MD runs long enough for statistics, which repeat the code
# of the short tests (every integrator's steps and checkpoints run in "a run split at a checkpoint is
# bit-identical ..."); the sanitizers make them 60 times slower (9 of the 14 CPU minutes of the suites), and the
# Release suite runs them. Usage: scripts/sanitized-build.sh TARGET...
set -euo pipefail
cd "$(dirname "$0")/.."
libfuzzer=(/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a)
if ! command -v clang++ >/dev/null || [ ! -e "${libfuzzer[0]}" ]; then
  echo "$0: needs clang and libFuzzer: apt-get install -y clang libclang-rt-14-dev" >&2
  exit 1
fi
flags="-O2 -gline-tables-only -DNDEBUG"
CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNQMD_FUZZ=ON \
  -DNQMD_WITH_TORCH=OFF -DNQMD_BUILD_TESTS=ON -DNQMD_BUILD_BENCH=OFF -DNQMD_TEST_SPEC="~[long]" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="$flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" >/dev/null
cmake --build build-sanitize -j"$(nproc)" --target "$@"
