# gnuplot -e "in='ksm-demo.csv'; out='ksm-demo.png'; title='...'" plot.gp
set terminal pngcairo size 900,500 noenhanced
set output out
set datafile separator ","
set key bottom right
set grid
set title title
set xlabel "time (s)"
set ylabel "pages"
set y2label "ksmd CPU (s)"
set ytics nomirror
set y2tics
plot in using 1:3 with lines lw 2 title "pages_sharing", \
     in using 1:2 with lines lw 2 title "pages_shared", \
     in using 1:6 axes x1y2 with lines dt 2 title "ksmd CPU (s)"
