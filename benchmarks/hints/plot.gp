# gnuplot -e "dir='...'; runs='n2-buffered n2-direct'; out='x.png'" plot.gp
set terminal pngcairo size 1000,600
set output out
set datafile separator ","
set key top left
set grid
set xlabel "seconds since the readers started"
set ylabel "pages_sharing" noenhanced
set title "KSM I/O hints: pages shared over time, hints on (solid) vs off (dashed)"
plot for [r in runs] dir."/".r."-on.csv" using 1:2 with lines lw 2 title r." hints on", \
     for [r in runs] dir."/".r."-off.csv" using 1:2 with lines dt 2 lw 2 title r." hints off"
