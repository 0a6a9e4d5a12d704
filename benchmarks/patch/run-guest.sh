#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-guest.sh BENCH SECONDS PAGES KNOBS... - inside the booted bench
# kernel, set up zswap (../zswap-setup.sh), write KNOBS (name=value) to
# /sys/kernel/mm/ksm, then run ksm_patch_bench in each mode - stock KSM,
# compression only (cold-page tier), patch tier - one after the other in
# this boot.  Writes <mode>.log to the current directory (the result share).
bench=$1 secs=$2 pages=$3
shift 3
ksm=/sys/kernel/mm/ksm
fail() { echo "bench-patch: $*" >&2; exit 1; }

"$(dirname "$0")/../zswap-setup.sh" || exit 1
for kv in "$@"; do
	echo "${kv#*=}" >"$ksm/${kv%%=*}" || fail "cannot set $kv"
done
echo "ksm: $*"
echo 1 >$ksm/run
for mode in stock compress patch; do
	echo "bench-patch: $mode ($pages pages per region, up to ${secs}s)"
	"$bench" -m $mode -n "$pages" -s "$secs" >$mode.log 2>&1 ||
		{ cat $mode.log >&2; fail "$mode failed"; }
	grep -E '^(INFO|TOTAL|REGION|RESULT)' $mode.log
	# Let ksmd drop the exited process's KSM pages before the next mode.
	sleep 3
done
