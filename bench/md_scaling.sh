#!/usr/bin/env bash
# Scaling of whole MD steps (issue #7, target 3): NVE with NequIP model A (fused kernel) on Cu3Au-ordered fcc cells
# (a = 3.75 A, rattled) of about 10^3, 10^4 and 10^5 atoms (the last also with its atoms in random order), and
# Lennard-Jones argon (LAMMPS' bench/in.lj state) of 10^6 atoms. For each run it prints the time per atom-step of
# the steps, the share of the potential, the neighbour list and the integrator (from nequip-md's timing line), and
# the peak resident memory per atom.
#   bash bench/md_scaling.sh [THREADS]       (default 1; needs a built nequip-md and ../shared for model A)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
threads=${1:-1}
nequip_md=$root/build/app/nequip-md
model=${NQMD_NEQUIP_REFERENCE:-$root/../shared/reference/nequip-0.6.2}/modelA/deployed.pth
[ -x "$nequip_md" ] || { echo "md_scaling: build nequip-md first (scripts/build.sh)" >&2; exit 1; }
[ -f "$model" ] || { echo "md_scaling: model A not found at $model" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=$threads

run_case() {  # name atoms input-body
  local name=$1 atoms=$2
  mkdir -p "$work/$name"
  cat > "$work/$name/input.toml"
  (cd "$work/$name" && "$nequip_md" run input.toml) > "$work/$name/log" 2>&1 ||
    { cat "$work/$name/log" >&2; exit 1; }
  local timing memory
  timing=$(grep "timing:" "$work/$name/log")
  memory=$(grep "memory:" "$work/$name/log")
  awk -v name="$name" -v atoms="$atoms" -v timing="$timing" -v memory="$memory" 'BEGIN {
    n = split(timing, t, " ");
    for (k = 1; k <= n; ++k) {
      if (t[k] == "us/atom/step:") us = t[k - 1];
      if (t[k] == "potential") pot = t[k + 1];
      if (t[k] == "neighbour") neigh = t[k + 2];
      if (t[k] == "integrator") integ = t[k + 1];
    }
    m = split(memory, r, " ");
    for (k = 1; k <= m; ++k) { if (r[k] == "resident") mb = r[k + 1]; if (r[k] == "kB/atom") kb = r[k - 1]; }
    gsub(/[%,]/, "", pot); gsub(/[%,]/, "", neigh); gsub(/[%,]/, "", integ);
    printf "%-10s %9d %14s %11s %15s %12s %11s %10s\n", name, atoms, us, pot "%", neigh "%", integ "%", mb, kb
  }'
}

nequip_input() {  # repeat steps
  cat <<EOF
[structure]
lattice = "fcc"
lattice_constant = 3.75
repeat = [$1, $1, $1]
species = ["Cu", "Au", "Au", "Au"]
random_displacement = 0.05
[velocities]
kind = "maxwell_boltzmann"
temperature = 300.0
[potential]
kind = "nequip"
model = "$model"
[neighbor]
skin = 1.0
[integrator]
kind = "nve"
timestep = 2.0
[run]
steps = $2
thermo_every = $2
thermo_file = ""
checkpoint_file = ""
EOF
}

echo "MD scaling ($threads thread(s)); time per atom-step of the steps, shares of the step, peak resident memory"
printf "%-10s %9s %14s %11s %15s %12s %11s %10s\n" run atoms us/atom/step potential "neighbour list" integrator \
  "peak MB" kB/atom
nequip_input 6 40 | run_case modelA-1e3 864
nequip_input 14 40 | run_case modelA-1e4 10976
nequip_input 29 16 | run_case modelA-1e5 97556
# The same cell with its atoms in random order, as in a liquid after atoms have diffused (or a structure from
# another tool): the potential's spatial order of the graph (engine/spatial_order.hpp) keeps it as fast.
mkdir -p "$work/shuffle"
nequip_input 29 1 | sed -e 's/^\[run\]/[output]\ntrajectory_file = "cell.extxyz"\ntrajectory_every = 1000\nfields = ["velocities"]\n[run]/' \
  > "$work/shuffle/input.toml"
(cd "$work/shuffle" && "$nequip_md" run input.toml > log 2>&1) || { cat "$work/shuffle/log" >&2; exit 1; }
{ head -n 2 "$work/shuffle/cell.extxyz"
  tail -n +3 "$work/shuffle/cell.extxyz" | shuf --random-source=<(yes); } > "$work/shuffled.extxyz"
nequip_input 29 16 | sed -e '/^lattice/d' -e '/^repeat/d' -e '/^species/d' -e '/^random_displacement/d' \
  -e "s|^\[structure\]|[structure]\nfile = \"$work/shuffled.extxyz\"|" | run_case modelA-1e5-shuffled 97556
sed -e 's/repeat = \[20, 20, 20\]/repeat = [63, 63, 63]/' -e 's/^steps = 100/steps = 20/' -e 's/^thermo_every = 50/thermo_every = 20/' \
  "$root/inputs/lj-benchmark/input.toml" | run_case lj-1e6 1000188
