# gnuplot -e "dir='...'; cfg='dup-4-256-buffered'; modes='stock hints pts advisor'; out='x.png'" plot.gp
# pages_sharing over time of every run of every mode of one configuration.
set terminal pngcairo size 1000,600
set output out
set datafile separator ","
set key bottom right
set grid
set xlabel "seconds since the readers started"
set ylabel "pages_sharing" noenhanced
set title "KSM I/O hints: ".cfg.", every run of every mode" noenhanced
set style line 1 lc rgb "#1f77b4"
set style line 2 lc rgb "#d62728"
set style line 3 lc rgb "#2ca02c"
set style line 4 lc rgb "#9467bd"
plot for [m=1:words(modes)] for [r=1:9] dir."/".cfg."-".word(modes, m)."-r".r.".csv" \
     using 1:2 with lines ls m lw 1.5 title (r == 1 ? word(modes, m) : "")
