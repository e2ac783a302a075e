#!/usr/bin/env bash
# Data efficiency on the ab-initio water frames (docs/validation.md): trains inputs/water/train.toml's model on
# 10, 50 and 200 frames (10 validation frames; the same 50 held-out test frames for every size; about 2000
# optimiser steps each, one thread) and plots test force MAE against training-set size, log-log
# -> docs/images/water_learning_curve.png, inputs/water/learning_curve/learning_curve.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=inputs/water/learning_curve
mkdir -p "$out"
echo "n_train,epochs,test_energy_mae_meV_atom,test_force_mae_meV_A,test_force_mae_H_meV_A,test_force_mae_O_meV_A,wall_s" > "$out/learning_curve.csv"
for n in ${NQMD_SIZES:-10 50 200}; do
  epochs=$(( 2000 / n ))
  sed -e "s/^n_train = .*/n_train = $n/" -e "s/^max_epochs = .*/max_epochs = $epochs/" \
      -e "s|^directory = .*|directory = \"learning_curve/n$n\"|" inputs/water/train.toml > "inputs/water/train_n$n.toml"
  start=$(date +%s)
  (cd inputs/water && OMP_NUM_THREADS=1 "$root/build/app/nequip-md" -q train "train_n$n.toml" --force)
  wall=$(( $(date +%s) - start ))
  rm "inputs/water/train_n$n.toml"
  table="$out/n$n/test_errors.txt"
  value() { awk -v q="$1" '$1 == q { print $2 }' "$table"; }
  echo "$n,$epochs,$(value energy),$(value forces),$(value 'forces[H]'),$(value 'forces[O]'),$wall" >> "$out/learning_curve.csv"
done
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
