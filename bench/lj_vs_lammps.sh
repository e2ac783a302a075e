#!/usr/bin/env bash
# MD core against LAMMPS on LAMMPS' classic LJ benchmark (bench/in.lj) in metal units: 32,000 argon atoms,
# fcc at reduced density 0.8442, cutoff 2.5 sigma, skin 0.3 sigma, 100 NVE steps, 1 thread each.
# Needs Debian's lammps package (apt-get install lammps) and a built nequip-md (scripts/build.sh).
# Prints both loop times, the time per atom-step and the ratio, and the step-0 potential energies (which
# must agree: same lattice, same potential).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v lmp >/dev/null || { echo "lj_vs_lammps: LAMMPS (lmp) not found; apt-get install lammps" >&2; exit 1; }

cat > "$work/in.lj" <<'LMP'
units metal
atom_style atomic
lattice fcc 5.7190250
region box block 0 20 0 20 0 20
create_box 1 box
create_atoms 1 box
mass 1 39.948
velocity all create 172.45 87287 loop geom
pair_style lj/cut 8.5125
pair_coeff 1 1 0.01032 3.405
neighbor 1.0215 bin
neigh_modify delay 0 every 20 check no
timestep 0.01078
fix 1 all nve
thermo_style custom step pe ke etotal
thermo 100
run 100
LMP

export OMP_NUM_THREADS=1
(cd "$work" && lmp -in in.lj -log lammps.log -screen none)
lammps_seconds=$(awk '/^Loop time of/ {print $4}' "$work/lammps.log")
lammps_pe0=$(awk '/^ *Step/ {getline; print $2; exit}' "$work/lammps.log")

(cd "$root/inputs/lj-benchmark" && "$root/build/app/nequip-md" run input.toml) > "$work/nequip-md.log"
nqmd_us=$(awk '$1 == 100 {print $NF}' "$work/nequip-md.log")
nqmd_pe0=$(awk '$1 == 0 && NF > 5 {print $3; exit}' "$work/nequip-md.log")

atoms=32000
lammps_us=$(awk -v s="$lammps_seconds" -v n=$atoms 'BEGIN {printf "%.4f", s * 1e6 / (100 * n)}')
ratio=$(awk -v a="$nqmd_us" -v b="$lammps_us" 'BEGIN {printf "%.3f", a / b}')
echo "LJ benchmark, 32000 atoms, 100 NVE steps, 1 thread"
echo "  step-0 potential energy (eV): LAMMPS $lammps_pe0   nequip-md $nqmd_pe0"
echo "  LAMMPS:    $lammps_us us/atom/step (loop $lammps_seconds s)"
echo "  nequip-md: $nqmd_us us/atom/step (steps 50-100)"
echo "  ratio nequip-md / LAMMPS: $ratio"
