#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-guest.sh BENCH SECONDS RUNS... - inside the booted bench kernel, run
# the I/O-duplication scenario for every RUN ("procs:buffered" or
# "procs:direct"), KSM I/O hints off and on, into the current directory
# (the result share): RUN-off.csv, RUN-on.csv, results.txt.  Which mode
# runs first alternates between RUNs, so that a bias of the first run in a
# boot does not always fall on the same side.
bench=$1
secs=$2
shift 2
: >results.txt
order="off on"
for run in "$@"; do
	procs=${run%%:*}
	mode=${run#*:}
	case $mode in
	buffered) dflag= ;;
	direct) dflag=-d ;;
	*) echo "unknown mode $mode in $run" >&2; exit 2 ;;
	esac
	for hints in $order; do
		hflag=
		[ $hints = on ] && hflag=-H
		name=n$procs-$mode-$hints
		echo "bench: $name (${secs}s)"
		if ! "$bench" -n "$procs" -s "$secs" $dflag $hflag -o "$name.csv" >"$name.log" 2>&1; then
			echo "bench: $name failed:" >&2
			cat "$name.log" >&2
			exit 1
		fi
		echo "$name $(grep '^RESULT' "$name.log")" >>results.txt
	done
	[ "$order" = "off on" ] && order="on off" || order="off on"
done
cat results.txt
