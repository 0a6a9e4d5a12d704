# gnuplot -e "dir='...'; modes='stock hints ...'; out='x.png'" plot.gp
# Memory saved over time by every mode of a replay benchmark: the median
# of the runs, with their min-max band (MODE-saved.csv, summarize.py).
set terminal pngcairo size 1000,600
set output out
set datafile separator ","
set key top left
set grid
set xlabel "seconds since the replay started"
set ylabel "memory saved, MiB"
set title "Recorded guests replayed: memory saved (median, min-max of the runs)" noenhanced
plot for [m=1:words(modes)] dir."/".word(modes, m)."-saved.csv" \
	using 1:3:4 with filledcurves fs transparent solid 0.15 lc m notitle, \
     for [m=1:words(modes)] dir."/".word(modes, m)."-saved.csv" \
	using 1:2 with lines lw 2 lc m title word(modes, m) noenhanced
