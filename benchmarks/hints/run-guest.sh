#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-guest.sh BENCH READCOST RUNS CONFIG... - inside the booted bench
# kernel, into the current directory (the result share):
#
# * readcost.txt: what a hint push costs pread(2) (ksm_hints_readcost),
#   unless READCOST is "-";
# * alt.txt: what hints that find nothing cost ksmd, io_hints alternating
#   in one run of the unique workload (2 readers, 256 MiB of ballast,
#   mode alt of ksm_hints_bench), HINTS_ALT_PAIRS pairs of phases of a
#   full scan each (default 8, about 14 minutes; 0 leaves it out), with
#   io_hints_scan_percent HINTS_ALT_PERCENT if set (0: hints recorded by
#   the readers, never visited, ksmd does stock's work: a control);
# * for every CONFIG ("WORKLOAD:PROCS:BALLAST_MIB:IO", e.g. dup:4:256:direct
#   or unique:2:256:buffered), RUNS runs of every mode, each run a CSV
#   (CONFIG-MODE-rN.csv) and a line of results.txt:
#   "CONFIG MODE N RESULT key=value...".
#
# Modes of dup: stock (defaults), hints, advisor (advisor_mode=scan-time,
# advisor_target_scan_time 10 s) and pts (stock with pages_to_scan raised
# so that ksmd's CPU per second equals the hints runs'); of unique: stock
# and hints.  Run N starts the mode list at a different mode, so that no
# mode always runs first; the pts runs come after all runs of the other
# modes, which give them their rate (the medians of stock and hints).
# HINTS_MODES (words) replaces the dup modes, e.g. "hints domains" (hints
# with readers in merge domains of two); pts runs only if it names pts.
bench=$1
readcost=$2
runs=$3
shift 3
cap=${HINTS_CAP:-600}

if [ "$readcost" != - ]; then
	"$readcost" >readcost.txt || { echo "readcost failed" >&2; exit 1; }
	grep RESULT readcost.txt
fi
[ -f results.txt ] || : >results.txt
pairs=${HINTS_ALT_PAIRS:-8}
if [ "$pairs" != 0 ]; then
	echo "bench: unique workload, io_hints alternating, $pairs pairs"
	if ! "$bench" -w unique -n 2 -b 256 -m alt -A "$pairs" ${HINTS_ALT_PERCENT:+-P "$HINTS_ALT_PERCENT"} \
			-o unique-alt.csv >unique-alt.log 2>&1; then
		echo "bench: the alternating run failed:" >&2
		cat unique-alt.log >&2
		exit 1
	fi
	grep '^RESULT' unique-alt.log >alt.txt
	cat alt.txt
fi

. "$(dirname "$0")/../common/results.sh"

# pages_to_scan that gives stock the ksmd CPU per second of the hints runs
# of config $1: stock's pages_to_scan times the ratio of the medians.
equal_cpu_pts() {
	local s h
	s=$(grep "^$1 stock " results.txt | while read -r l; do field cpu_ms_per_s "$l"; done | median)
	h=$(grep "^$1 hints " results.txt | while read -r l; do field cpu_ms_per_s "$l"; done | median)
	[ -n "$s" ] && [ -n "$h" ] || { echo "no stock and hints runs of $1" >&2; return 1; }
	awk -v s="$s" -v h="$h" 'BEGIN { p = int(100 * h / s + 0.5); print (p < 100 ? 100 : p) }'
	echo "bench: $1: pts runs at ksmd CPU ${h} ms/s (hints, median) vs ${s} ms/s (stock, median)" >&2
}

for cfg in "$@"; do
	IFS=: read -r work procs ballast io <<<"$cfg"
	dflag=
	[ "$io" = direct ] && dflag=-d
	if [ "$work" = unique ]; then
		modes=(stock hints)
		win=(-s "${HINTS_UNIQUE_SECONDS:-90}")
	else
		modes=(stock hints advisor)
		[ -n "${HINTS_MODES:-}" ] && read -r -a modes <<<"${HINTS_MODES//pts/}"
		win=(-s "$cap" -M 20)
	fi
	name=${cfg//:/-}
	pts=
	runlist=()
	for ((r = 1; r <= runs; r++)); do
		k=$(((r - 1) % ${#modes[@]}))
		for mode in "${modes[@]:k}" "${modes[@]:0:k}"; do
			runlist+=("$mode:$r")
		done
	done
	if [ "$work" != unique ] &&
	   { [ -z "${HINTS_MODES:-}" ] || [[ " $HINTS_MODES " == *" pts "* ]]; }; then
		for ((r = 1; r <= runs; r++)); do
			runlist+=("pts:$r")
		done
	fi
	for run in "${runlist[@]}"; do
		mode=${run%:*}
		r=${run#*:}
		args=(-w "$work" -n "$procs" -b "$ballast" $dflag "${win[@]}")
		case $mode in
		pts)
			[ -n "$pts" ] || pts=$(equal_cpu_pts "$name") || exit 1
			args+=(-m stock -p "$pts") ;;
		*) args+=(-m "$mode") ;;
		esac
		echo "bench: $name $mode run $r"
		if ! "$bench" "${args[@]}" -o "$name-$mode-r$r.csv" >"$name-$mode-r$r.log" 2>&1; then
			echo "bench: $name $mode run $r failed:" >&2
			cat "$name-$mode-r$r.log" >&2
			exit 1
		fi
		line=$(grep '^RESULT' "$name-$mode-r$r.log")
		echo "$name $mode $r $line" >>results.txt
		echo "  $line"
	done
done
