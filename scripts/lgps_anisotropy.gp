# D* of Li along c and in the ab plane against 1000/T, from the LGPS study's per-temperature analyses
# (study/T*/analysis/diffusion_directions.csv: rows x, y, z, parallel [0 0 1], perpendicular [0 0 1]).
# Run in inputs/lgps after `nequip-md run study.toml`:
#   gnuplot ../../scripts/lgps_anisotropy.gp      (writes study/analysis/anisotropy.png)
temperatures = "600 700 800 900"
file(t) = sprintf("study/T%s/analysis/diffusion_directions.csv", t)
set datafile separator ","
set terminal pngcairo size 900,620 enhanced font "DejaVu Sans,12"
set output "study/analysis/anisotropy.png"
set title "Li tracer diffusion in LGPS along c and in the ab plane (NequIP model, 400 atoms)"
set xlabel "1000/T (1/K)"
set ylabel "D* (cm^2/s)"
set logscale y
set format y "10^{%T}"
set key top right
set grid
# Column 5: D (cm^2/s), column 6: its error; row 3 (from 0, after the header) parallel to c, row 4 perpendicular.
plot for [t in temperatures] file(t) every ::4::4 using (1000.0/real(t)):5:6 with yerrorbars pt 7 ps 1.3 lc rgb "#d62728" notitle, \
     for [t in temperatures] file(t) every ::5::5 using (1000.0/real(t)):5:6 with yerrorbars pt 5 ps 1.2 lc rgb "#1f77b4" notitle, \
     NaN with points pt 7 ps 1.3 lc rgb "#d62728" title "D*_c (along c)", \
     NaN with points pt 5 ps 1.2 lc rgb "#1f77b4" title "D*_{ab} (in the ab plane)"
