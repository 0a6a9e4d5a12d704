#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-guest.sh DEMO SECONDS [KSM_DEMO_ARGS...] - inside the booted kernel:
# set up zswap (../zswap-setup.sh), then run ksm_demo in mode "stock"
# (upstream KSM) and in mode "all" (every KSM++ feature), one after the
# other, into the current directory (the result share): MODE.csv, MODE.log.
demo=$1 secs=$2
shift 2
"$(dirname "$0")/../zswap-setup.sh" || exit 1
for mode in stock all; do
	{ "$demo" "$@" -M "$mode" -s "$secs" -o "$mode.csv" 2>&1; echo $? >"$mode.rc"; } |
		tee "$mode.log"
	rc=$(cat "$mode.rc")
	[ "$rc" = 0 ] || { echo "demo: mode $mode failed ($rc)" >&2; exit 1; }
	# Let ksmd drop the exited processes' pages before the next mode.
	sleep 3
done
