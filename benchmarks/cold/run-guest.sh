#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-guest.sh BENCH SECONDS MIB RUNS KNOBS... - inside the booted bench
# kernel, set up zswap as Documentation/admin-guide/mm/ksm.rst describes
# (../zswap-setup.sh), then run the
# heterogeneous scenario RUNS times in each mode, stock KSM and KSM with
# the cold-page tier, alternating which goes first.  KNOBS (name=value) are
# written to /sys/kernel/mm/ksm first and apply to both modes.  Writes
# r<N>-<mode>.csv, r<N>-<mode>.log and results.txt to the current
# directory (the result share).
bench=$1
secs=$2
mib=$3
runs=$4
shift 4
ksm=/sys/kernel/mm/ksm
fail() { echo "bench: $*" >&2; exit 1; }

"$(dirname "$0")/../zswap-setup.sh" || exit 1
for kv in "$@"; do
	echo "${kv#*=}" >"$ksm/${kv%%=*}" || fail "cannot set $kv"
done
echo "ksm: $*"

: >results.txt
order="stock tier"
i=1
while [ $i -le "$runs" ]; do
	for mode in $order; do
		flag=
		[ $mode = tier ] && flag=-c
		name=r$i-$mode
		echo "bench: $name (${secs}s, 4 guests x ${mib} MiB)"
		if ! "$bench" $flag -m "$mib" -s "$secs" -o "$name.csv" >"$name.log" 2>&1; then
			cat "$name.log" >&2
			fail "$name failed"
		fi
		grep '^GUEST' "$name.log"
		echo "$name $(grep '^RESULT' "$name.log")" >>results.txt
		grep '^GUEST' "$name.log" | sed "s/^/$name /" >>results.txt
	done
	[ "$order" = "stock tier" ] && order="tier stock" || order="stock tier"
	i=$((i + 1))
done
cat results.txt
