#!/bin/bash
B=/work/main/build/exp2
K=/sys/kernel/mm/ksm
for rep in 1 2 3; do
for m in stock hints p0; do
	case $m in
	stock) mode=stock; p=400 ;;
	hints) mode=hints; p=400 ;;
	p0) mode=hints; p=0 ;;
	esac
	echo $p > $K/io_hints_scan_percent
	$B/ksm_hints_bench -w unique -n 2 -b 256 -s 60 -m $mode -o $m-$rep.csv > $m-$rep.log 2>&1
	echo "$m $rep $(grep -o 'cpu_end=[0-9.]*\|scanned_per_s=[0-9]*\|hint_visited=[0-9]*' $m-$rep.log | tr '\n' ' ')"
done
done
echo 400 > $K/io_hints_scan_percent
