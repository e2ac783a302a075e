#!/usr/bin/env bash
# The training acceptance of docs/training.md in one command: trains inputs/cuau-training (model A's settings,
# one thread) and plots its validation force MAE against wall time beside the original nequip 0.6.2's record
# (../shared/reference/nequip-0.6.2/training/modelA_metrics_epoch.csv) -> docs/images/training_vs_nequip.png.
# Needs a build (scripts/build.sh) and gnuplot. Run it on an otherwise idle machine: it measures wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared=${NQMD_SHARED_DIR:-$root/../shared}
reference="$shared/reference/nequip-0.6.2/training/modelA_metrics_epoch.csv"
# --plot-only: plot the last training again without rerunning it.
if [[ "${1:-}" != "--plot-only" ]]; then
  (cd inputs/cuau-training && OMP_NUM_THREADS=1 "$root/build/app/nequip-md" train train.toml --force)
fi
ours=inputs/cuau-training/training/metrics_epoch.csv
mkdir -p docs/images
gnuplot <<GNUPLOT
set terminal pngcairo size 900,600 font ",12"
set output "docs/images/training_vs_nequip.png"
set datafile separator ","
set title "Cu/Au (EMT), model A settings, 180/40 frames, 1 thread: validation force MAE"
set xlabel "wall time (s)"
set ylabel "validation force MAE (meV/Å)"
set logscale y
set yrange [200:3000]
set grid
set key top right
plot "$reference" skip 1 using 2:(\$14*1000) with linespoints pt 7 ps 0.5 lw 2 title "nequip 0.6.2 (its per-epoch record)", \
     "$ours" skip 2 using 2:18 with linespoints pt 5 ps 0.5 lw 2 title "nequip-md train"
GNUPLOT
# Wall time at which each run first reaches nequip's checkpoints 0.94, 0.49 and 0.36 eV/A.
awk -F, -v ours="$ours" '
  FNR == 1 { file++ } 
  file == 1 && FNR > 1 { wall = $2 + 0; mae = $14 * 1000; for (k = 1; k <= 3; k++) if (!(k in ref) && mae <= target[k]) ref[k] = wall }
  file == 2 && FNR > 2 { wall = $2 + 0; mae = $18 + 0; for (k = 1; k <= 3; k++) if (!(k in own) && mae <= target[k]) own[k] = wall }
  BEGIN { target[1] = 940; target[2] = 490; target[3] = 360 }
  END {
    printf "%-22s %14s %14s %8s\n", "val force MAE (meV/A)", "nequip (s)", "nequip-md (s)", "speed-up"
    for (k = 1; k <= 3; k++) {
      r = (k in ref) ? ref[k] : "never"; o = (k in own) ? own[k] : "never"
      printf "%-22s %14s %14s %8s\n", "<= " target[k], r, o, ((k in ref) && (k in own)) ? sprintf("%.2fx", ref[k] / own[k]) : "-"
    }
  }' "$reference" "$ours"
