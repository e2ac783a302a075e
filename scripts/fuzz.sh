#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang with AddressSanitizer + UndefinedBehaviorSanitizer) in
# build-sanitize, replays every regression input, then fuzzes each target for SECONDS (default 60; the CI smoke
# run uses 15). Any crash, uncaught exception other than nqmd::InputError, sanitizer report, leak, hang over
# 10 s (except inside HDF5, see below) or 2 GB of memory fails the run; the input is left in
# build-sanitize/artifacts/<target>/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   targets: extxyz toml_input h5md checkpoint model_file (default: all)
# The seed corpora (tests/fuzz/corpus/<target>) are copied to build-sanitize/corpus/<target>, which keeps what the
# fuzzer finds between runs; the committed seeds are not changed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then targets=(extxyz toml_input h5md checkpoint model_file); fi

scripts/sanitized-build.sh "${targets[@]/#/fuzz_}"

# allocator_may_return_null: an impossible allocation fails as with glibc (HDF5 then reports an error, C++ throws
# std::bad_alloc, which the fuzzers count as a finding) instead of aborting inside the uninstrumented HDF5.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Leaks of memory that HDF5 itself allocates on damaged files are HDF5's (tests/fuzz/lsan.supp).
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp
flags=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1)
# NQMD_FUZZ_SEED fixes libFuzzer's random seed (the CI smoke run does, so that it is reproducible).
if [[ -n "${NQMD_FUZZ_SEED:-}" ]]; then flags+=(-seed="$NQMD_FUZZ_SEED"); fi
status=0
for target in "${targets[@]}"; do
  binary=build-sanitize/tests/fuzz/fuzz_$target
  artifacts=build-sanitize/artifacts/$target
  corpus=build-sanitize/corpus/$target
  mkdir -p "$artifacts" "$corpus"
  regressions=(tests/fuzz/regressions/"$target"/*)
  if [ -e "${regressions[0]}" ]; then
    echo "== $target: ${#regressions[@]} regression inputs"
    if ! "$binary" "${flags[@]}" -artifact_prefix="$artifacts/" "${regressions[@]}" >"$artifacts/regressions.log" \
        2>&1; then
      tail -n 40 "$artifacts/regressions.log"
      echo "== $target: a regression input FAILED (log: $artifacts/regressions.log)"
      status=1
      continue
    fi
  fi
  # The HDF5 readers run in fork mode and go on after a timeout or a crash: HDF5 1.10.8 itself (not instrumented)
  # can loop for minutes or overrun its own buffers on a damaged file (tests/fuzz/hdf5-internal/). Each crash input is
  # replayed afterwards: if its stack reaches HDF5 before any nequip-md frame, it is HDF5's and only counted (kept
  # in $artifacts/hdf5/); otherwise it is a finding and fails the run, as any crash of the other targets does.
  mode=()
  case $target in h5md|checkpoint) mode=(-fork=1 -ignore_timeouts=1 -ignore_crashes=1 -ignore_ooms=0) ;; esac
  echo "== $target: fuzzing for $seconds s"
  marker=$artifacts/.started
  touch "$marker"
  # In fork mode libFuzzer also exits with 1 after crashes it was told to ignore; those inputs are classified
  # below, so there only a run that did not reach its time limit fails by itself.
  if ! "$binary" "${flags[@]}" "${mode[@]}" -max_total_time="$seconds" -artifact_prefix="$artifacts/" "$corpus" \
      tests/fuzz/corpus/"$target" >"$artifacts/fuzz.log" 2>&1 &&
     { [ ${#mode[@]} -eq 0 ] || ! grep -q '^INFO: fuzzed for' "$artifacts/fuzz.log"; }; then
    tail -n 60 "$artifacts/fuzz.log"
    echo "== $target: FAILED (log: $artifacts/fuzz.log; input in $artifacts/)"
    status=1
    continue
  fi
  hdf5_internal=0
  ours=()
  while IFS= read -r input; do
    "$binary" "${flags[@]}" "$input" >"$input.log" 2>&1 && continue
    first=$(grep -E '^ *#[0-9]+ ' "$input.log" | grep -m1 -oE 'libhdf5|nqmd::' || true)
    if [ "$first" = libhdf5 ]; then
      mkdir -p "$artifacts/hdf5"
      mv "$input" "$input.log" "$artifacts/hdf5/"
      hdf5_internal=$((hdf5_internal + 1))
    else
      ours+=("$input")
    fi
  done < <(find "$artifacts" -maxdepth 1 -newer "$marker" \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' \) \
             ! -name '*.log')
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$artifacts/fuzz.log")
  [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$artifacts/fuzz.log" | tail -n 1 | tr -d '#')
  timeouts=$(find "$artifacts" -maxdepth 1 -newer "$marker" -name 'timeout-*' | wc -l)
  if [ ${#ours[@]} -gt 0 ]; then
    for input in "${ours[@]}"; do tail -n 40 "$input.log"; done
    echo "== $target: FAILED: ${#ours[@]} inputs crash in nequip-md code: ${ours[*]}"
    status=1
  else
    echo "== $target: ok, ${runs:-?} executions, corpus $(ls "$corpus" | wc -l) files" \
         "(HDF5-internal: $hdf5_internal crashes, $timeouts timeouts; kept in $artifacts/)"
  fi
done
exit $status
