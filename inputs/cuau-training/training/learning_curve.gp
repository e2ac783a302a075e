# Drawn by `nequip-md analyze`; redraw with: gnuplot learning_curve.gp
set encoding utf8
set datafile separator ','
set title 'nequip-md train: force MAE' noenhanced
set xlabel 'epoch'
set ylabel 'force MAE (meV/Å)'
set key top right box opaque samplen 2.5
set grid lc rgb '#d0d0d0' lw 0.5
set border lw 1
set tics out nomirror
set samples 1000
set datafile separator ','
set logscale y
set key top right
set terminal pngcairo size 900,620 enhanced font 'Sans,13' linewidth 1.5
set output 'learning_curve.png'
plot 'metrics_epoch.csv' skip 2 using 1:9 with lines lw 2 title 'training', \
     'metrics_epoch.csv' skip 2 using 1:18 with lines lw 2 title 'validation (EMA)'
unset output
