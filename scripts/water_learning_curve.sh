#!/usr/bin/env bash
# Data efficiency on the ab-initio water frames (docs/validation.md): trains inputs/water/train.toml's model on
# 10, 50 and 200 frames (10 validation frames; the same 50 held-out test frames for every size; one thread each),
# each until its validation loss stops improving (plateau schedule, early stopping after 10 epochs, at most
# max(40, 4000/n) epochs or NQMD_WALL seconds, default 1500), and plots test force MAE against training-set size,
# log-log -> docs/images/water_learning_curve.png, inputs/water/learning_curve/learning_curve.csv.
# Sizes can be run in parallel: NQMD_SIZES="200" scripts/water_learning_curve.sh & NQMD_SIZES="10 50" ...; then
# scripts/water_learning_curve.sh --plot merges and plots what is there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=inputs/water/learning_curve
mkdir -p "$out"
header="n_train,epochs,test_energy_mae_meV_atom,test_force_mae_meV_A,test_force_mae_H_meV_A,test_force_mae_O_meV_A,wall_s"
if [[ "${1:-}" != "--plot" ]]; then
  for n in ${NQMD_SIZES:-10 50 200}; do
    epochs=$(( 4000 / n > 40 ? 4000 / n : 40 ))
    sed -e "s/^n_train = .*/n_train = $n/" -e "s/^max_epochs = .*/max_epochs = $epochs\nmax_wall_time = ${NQMD_WALL:-1500}\nearly_stopping_patience = 10/" \
        -e "s|^directory = .*|directory = \"learning_curve/n$n\"|" inputs/water/train.toml > "inputs/water/train_n$n.toml"
    start=$(date +%s)
    (cd inputs/water && OMP_NUM_THREADS=1 "$root/build/app/nequip-md" -q train "train_n$n.toml" --force)
    wall=$(( $(date +%s) - start ))
    rm "inputs/water/train_n$n.toml"
    table="$out/n$n/test_errors.txt"
    value() { awk -v q="$1" '$1 == q { print $2 }' "$table"; }
    trained=$(( $(wc -l < "$out/n$n/metrics_epoch.csv") - 2 ))
    echo "$n,$trained,$(value energy),$(value forces),$(value 'forces[H]'),$(value 'forces[O]'),$wall" > "$out/n$n.csv"
  done
fi
{ echo "$header"; cat "$out"/n*.csv 2>/dev/null | sort -t, -k1,1n; } > "$out/learning_curve.csv"
cat "$out/learning_curve.csv"
gnuplot <<GNUPLOT
set terminal pngcairo size 800,560 font ",12"
set output "docs/images/water_learning_curve.png"
set datafile separator ","
set title "NequIP (small) on ab-initio water: test error vs training frames (50 test frames)"
set xlabel "training frames (192 atoms each)"
set ylabel "test force MAE (meV/Å)"
set logscale xy
set grid
set key top right
plot "$out/learning_curve.csv" skip 1 using 1:4 with linespoints pt 7 lw 2 title "all atoms", \
     "" skip 1 using 1:6 with linespoints pt 5 lw 2 title "O", \
     "" skip 1 using 1:5 with linespoints pt 9 lw 2 title "H"
GNUPLOT
