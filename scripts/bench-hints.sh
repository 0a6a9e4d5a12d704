#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-hints.sh - the I/O-duplication benchmark of KSM I/O hints
# (benchmarks/hints/): boots the bench kernel, runs every configuration
# with hints off and on at the same pages_to_scan/sleep_millisecs, prints
# the ratios and writes CSV, summary and a plot to $B/bench-hints/.
#
# Environment: HINTS_RUNS ("2:buffered 2:direct 4:buffered 4:direct"),
# HINTS_SECONDS (60), FLAVOUR (bench), HINTS_OUT ($B/bench-hints).

. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
secs=${HINTS_SECONDS:-60}
runs=${HINTS_RUNS:-2:buffered 2:direct 4:buffered 4:direct}
out=${HINTS_OUT:-$B/bench-hints}
[[ "$secs" =~ ^[0-9]+$ ]] || die "HINTS_SECONDS must be a number of seconds"
for r in $runs; do
	[[ "$r" =~ ^[0-9]+:(buffered|direct)$ ]] || die "bad run '$r' in HINTS_RUNS (want procs:buffered or procs:direct)"
done
need_pkgs $BUILD_PKGS $BOOT_PKGS gnuplot-nox
"$REPO/scripts/build.sh" "$flavour"

mkdir -p "$out"
bin=$out/ksm_hints_bench
gcc -O2 -Wall -Wextra -o "$bin" "$REPO/benchmarks/hints/ksm_hints_bench.c"
run=$out/run
rm -rf "$run"
n=$(wc -w <<<"$runs")
log "I/O-duplication benchmark: $n configurations x hints off/on x ${secs}s in the $flavour kernel"
"$REPO/scripts/boot.sh" -f "$flavour" -m 2048 -c 2 -t $((n * 2 * (secs + 90) + 120)) -o "$run" -- \
	"$REPO/benchmarks/hints/run-guest.sh" "$bin" "$secs" $runs ||
	die "benchmark run failed; partial results in $run"
python3 "$REPO/benchmarks/hints/summarize.py" "$run" || die "a run read back corrupt data (see $run)"
names=$(for r in $runs; do echo "n${r%%:*}-${r#*:}"; done | xargs)
gnuplot -e "dir='$run'; runs='$names'; out='$out/hints.png'" "$REPO/benchmarks/hints/plot.gp"
cp "$run"/summary.txt "$run"/summary.csv "$out/"
log "summary: $out/summary.txt  plot: $out/hints.png  CSV: $run/"
