#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-replay.sh REPLAY TRACE - inside the booted test kernel, into the
# current directory: replay a recorded trace (make trace) with every KSM++
# feature on at short ages, so that hints, the cold tier and the patch
# tier all act on real guest memory, and let ksm_replay check every page
# against the recording.  Prints ksm_replay's RESULT line; the exit status
# is ksm_replay's (0 only if the memory equals the recording).
replay=$1 trace=$2
K=/sys/kernel/mm/ksm
fail() { echo "replay: $*" >&2; exit 1; }

"$(dirname "$0")/../benchmarks/zswap-setup.sh" || exit 1
for kv in pages_to_scan=1000 sleep_millisecs=10 io_hints=1 nru_idle_secs=1 \
	nru_cold_secs=4 cold_compress_pages=256 cold_compress=1 patch_tier=1 run=1; do
	echo "${kv#*=}" >"$K/${kv%%=*}" || fail "${kv%%=*}"
done
"$replay" -o replay.csv -t 10 "$trace" >replay.log 2>&1
rc=$?
cat replay.log
for f in io_hints_pages_merged cold_pages_compressed cold_huge_pages_split patch_pages; do
	echo "$f $(cat $K/$f)"
done
exit $rc
