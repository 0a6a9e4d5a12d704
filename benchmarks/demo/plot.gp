# gnuplot -e "dir='DIR'; out='ksm-demo.png'; title='...'" plot.gp
# DIR holds stock.csv and all.csv of ksm_demo (time_s, shared_kib,
# zero_kib, patched_kib, compressed_kib, total_kib, ksmd_cpu_s).
set terminal pngcairo size 1100,500 noenhanced
set output out
set datafile separator ","
set key outside right top
set grid
set title title
set xlabel "time (s)"
set ylabel "memory saved (MiB)"
s = dir . "/stock.csv"
a = dir . "/all.csv"
plot s using 1:($6/1024) with lines lw 3 lc rgb "gray40" title "stock KSM: total", \
     a using 1:($6/1024) with lines lw 3 lc rgb "black" title "KSM++ (every feature): total", \
     a using 1:($2/1024) with lines lw 1 lc rgb "blue" title "KSM++: shared", \
     a using 1:($3/1024) with lines lw 1 lc rgb "dark-green" title "KSM++: zero pages", \
     a using 1:($4/1024) with lines lw 1 lc rgb "red" title "KSM++: patched", \
     a using 1:($5/1024) with lines lw 1 lc rgb "orange" title "KSM++: compressed", \
     s using 1:($2/1024) with lines lw 1 dt 2 lc rgb "blue" title "stock: shared", \
     s using 1:($3/1024) with lines lw 1 dt 2 lc rgb "dark-green" title "stock: zero pages"
