#!/usr/bin/env bash
# Every performance figure of docs/performance.md and the README, in one run on this machine (about 40 minutes
# on 2 cores, most of it TorchScript on the large cells): the NequIP backends side by side (bench_nequip, tables
# in markdown), the fused kernel's per-stage profile and floor (bench_nequip --profile), the MD core against
# LAMMPS (lj_vs_lammps.sh), and whole-MD scaling with memory (md_scaling.sh). Run it on an otherwise idle machine.
#   bash bench/run_all.sh > performance.txt
set -euo pipefail
cd "$(dirname "$0")/.."
lscpu | grep -E "^Model name|^CPU\(s\)" || true
echo
build/bench/bench_nequip --benchmark_format=console 2>&1 | sed -n '/^NequIP energy + forces/,$p'
echo
build/bench/bench_nequip --profile
echo
bash bench/lj_vs_lammps.sh
echo
bash bench/md_scaling.sh 1
