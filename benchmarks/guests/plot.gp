# SPDX-License-Identifier: GPL-2.0
# gnuplot -e "dir='RUNDIR'; scen='homogeneous'; out='x.png'" plot.gp
# Memory saved over time in one scenario, one line per KSM mode.
set terminal pngcairo size 900,500
set output out
set datafile separator ","
set termoption noenhanced
set key top left
set grid
set xlabel "seconds"
set ylabel "memory saved (MiB)"
set title sprintf("QEMU guests, %s: pages_sharing + ksm_zero_pages + zswap net", scen)
files = system(sprintf("ls %s/%s_*.csv", dir, scen))
label(f) = system(sprintf("basename %s .csv | sed 's/^%s_//; s/p/+/'", f, scen))
plot for [f in files] f using 1:((($2 + $4) * 4 + $7 - $8) / 1024) with lines lw 2 title label(f)
