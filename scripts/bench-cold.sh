#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-cold.sh - the heterogeneous scenario of the KSM cold-page tier
# (benchmarks/cold/): boots the bench kernel, runs stock KSM and KSM with
# the cold-page tier at the same knobs in the same boot, prints the ratios
# and writes CSV and a summary to $B/bench-cold/.
#
# Environment: COLD_RUNS (pairs, 1), COLD_SECONDS (90), COLD_MIB (MiB per
# guest, 32), COLD_KNOBS (ksm knobs for both modes), FLAVOUR (bench),
# COLD_OUT ($B/bench-cold).

. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
secs=${COLD_SECONDS:-90}
mib=${COLD_MIB:-32}
runs=${COLD_RUNS:-1}
knobs=${COLD_KNOBS:-pages_to_scan=500 sleep_millisecs=20 nru_idle_secs=2 nru_cold_secs=10 cold_compress_pages=256}
out=${COLD_OUT:-$B/bench-cold}
for v in "$secs" "$mib" "$runs"; do
	[[ "$v" =~ ^[1-9][0-9]*$ ]] || die "COLD_SECONDS, COLD_MIB and COLD_RUNS must be positive numbers"
done
for kv in $knobs; do
	[[ "$kv" =~ ^[a-z_]+=[0-9]+$ ]] || die "bad knob '$kv' in COLD_KNOBS (want name=number)"
done
need_pkgs $BUILD_PKGS $BOOT_PKGS gnuplot-nox
"$REPO/scripts/build.sh" "$flavour"

mkdir -p "$out"
bin=$out/ksm_cold_bench
gcc -O2 -Wall -Wextra -o "$bin" "$REPO/benchmarks/cold/ksm_cold_bench.c"
run=$out/run
rm -rf "$run"
log "cold-page benchmark: $runs x stock/tier x ${secs}s, 4 guests x $mib MiB, in the $flavour kernel"
mem=$((mib * 4 + 1024))
"$REPO/scripts/boot.sh" -f "$flavour" -m "$mem" -c 2 -t $((runs * 2 * (secs + 120) + 120)) -o "$run" -- \
	"$REPO/benchmarks/cold/run-guest.sh" "$bin" "$secs" "$mib" "$runs" $knobs ||
	die "benchmark run failed; partial results in $run"
python3 "$REPO/benchmarks/cold/summarize.py" "$run" || die "a run read back corrupt data (see $run)"
names=$(seq -f 'r%g' 1 "$runs" | xargs)
gnuplot -e "dir='$run'; runs='$names'; out='$out/cold.png'" "$REPO/benchmarks/cold/plot.gp"
cp "$run"/summary.txt "$out/"
log "summary: $out/summary.txt  plot: $out/cold.png  CSV: $run/"
