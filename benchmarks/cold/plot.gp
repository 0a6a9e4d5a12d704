# SPDX-License-Identifier: GPL-2.0
# gnuplot -e "dir='RUNDIR'; runs='r1 r2'; out='cold.png'" plot.gp
# Memory saved over time, stock KSM against the cold-page tier, per run.
set terminal pngcairo size 900,500
set output out
set datafile separator ","
set key top left
set xlabel "seconds"
set ylabel "memory saved (MiB)"
set termoption noenhanced
set title "KSM cold-page tier, heterogeneous scenario (4 guests x 32 MiB)"
set grid
plot for [r in runs] sprintf("%s/%s-stock.csv", dir, r) using 1:($6/1024) with lines lw 2 title sprintf("%s stock", r), \
     for [r in runs] sprintf("%s/%s-tier.csv", dir, r) using 1:($6/1024) with lines lw 2 title sprintf("%s tier", r)
