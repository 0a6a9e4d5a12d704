#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-bench.sh KERNEL IMAGE SECONDS RUN... - inside the booted bench kernel,
# run every RUN (scenario:mode:aio) of the guest benchmark one after the
# other, in this boot, into the current directory (the result share).
# KSM knobs from $BENCH_KNOBS (name=value ...) apply to every mode; zswap
# is set up for the cold-page tier.  $BENCH_GUESTS, if set, caps the
# guests per scenario (the first ones of its list).
# Writes RUN.csv, RUN.results, RUN.mem and the guests' consoles per run, and a line
# per run to runs.txt ("done" or "failed"; appended: bench.sh boots once
# per run), so partial results are kept.
kernel=$1 image=$2 secs=$3
shift 3
here=$(dirname "$0")
"$here/../zswap-setup.sh" || exit 1
for kv in $BENCH_KNOBS; do
	echo "${kv#*=}" >"/sys/kernel/mm/ksm/${kv%%=*}" || { echo "bench: cannot set $kv" >&2; exit 1; }
done
echo "bench: ksm ${BENCH_KNOBS:-defaults}"
n=0 total=$#
for run in "$@"; do
	n=$((n + 1))
	scen=${run%%:*} rest=${run#*:}
	mode=${rest%%:*} aio=${rest#*:}
	jobs=$(sed -e 's/#.*//' "$here/scenarios" | awk -F'|' -v s="$scen" '{gsub(/ /, "", $1)} $1 == s {print $2}')
	[ -n "$BENCH_GUESTS" ] && jobs=$(echo $jobs | cut -d' ' -f1-"$BENCH_GUESTS")
	name=$(echo "$run" | tr ':+' '_p')
	echo "bench: [$n/$total] $scen, KSM $mode, aio=$aio, guests: $jobs"
	# A guest that did not boot, or whose job failed, fails the run; one
	# still busy at the end of the window is reported by summarize.py.
	if "$here/run-l1.sh" "$name" "$kernel" "$image" "$mode" "$aio" "$secs" $jobs >"$name.out" 2>&1 &&
	   ! grep 'ok=0' "$name.results" | grep -vq 'error=unfinished'; then
		echo "$run done" >>runs.txt
	else
		echo "$run failed" >>runs.txt
		echo "bench: $run failed:" >&2
		tail -n 5 "$name.out" >&2
	fi
	tail -n 1 "$name.csv" | awk -F, '{printf "bench:   %ss: pages_sharing %s, zero %s, zswap %s kB -> %s kB\n", $1, $2, $4, $7, $8}'
done
cat runs.txt
