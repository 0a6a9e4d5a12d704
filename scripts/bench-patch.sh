#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-patch.sh - the KSM patch tier against compression only and stock
# KSM (benchmarks/patch/): boots the bench kernel, runs the three modes in
# one boot, prints the summary and keeps the logs in $B/bench-patch/.
#
# Environment: PATCH_SECONDS (limit per mode, 40), PATCH_PAGES (pages per
# region, 1024), PATCH_KNOBS (ksm knobs for every mode), FLAVOUR (bench),
# PATCH_OUT ($B/bench-patch).

. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
secs=${PATCH_SECONDS:-40}
pages=${PATCH_PAGES:-1024}
knobs=${PATCH_KNOBS:-pages_to_scan=1000 sleep_millisecs=20 nru_idle_secs=1 nru_cold_secs=4 cold_compress_pages=256}
out=${PATCH_OUT:-$B/bench-patch}
for v in "$secs" "$pages"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || die "PATCH_SECONDS and PATCH_PAGES must be positive numbers"
done
for kv in $knobs; do
	[[ "$kv" =~ ^[a-z_]+=[0-9]+$ ]] || die "bad knob '$kv' in PATCH_KNOBS (want name=number)"
done
need_pkgs $BUILD_PKGS $BOOT_PKGS
"$REPO/scripts/build.sh" "$flavour"

mkdir -p "$out"
bin=$out/ksm_patch_bench
gcc -O2 -Wall -Wextra -o "$bin" "$REPO/benchmarks/patch/ksm_patch_bench.c"
run=$out/run
rm -rf "$run"
log "patch-tier benchmark: stock, compress, patch x up to ${secs}s, 3 regions x $pages pages, in the $flavour kernel"
"$REPO/scripts/boot.sh" -f "$flavour" -m 2048 -c 2 -t $((3 * (secs + 120) + 120)) -o "$run" -- \
	"$REPO/benchmarks/patch/run-guest.sh" "$bin" "$secs" "$pages" $knobs ||
	die "benchmark run failed; partial results in $run"
# The codec's own cost per page, on this CPU, from the same sources.
make -s -C "$SRC/tools/testing/ksm_patch" CC=gcc OUTPUT="$out/" speed >"$run/speed.txt" 2>&1 ||
	log "warning: codec speed run failed (see $run/speed.txt)"
python3 "$REPO/benchmarks/patch/summarize.py" "$run" | tee "$out/summary.txt"
[ "${PIPESTATUS[0]}" = 0 ] || die "incomplete or wrong data (see $run)"
