#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-replay.sh - make bench-replay: replay a recorded trace (make trace)
# in the bench kernel in every mode, REPLAY_RUNS times each
# (benchmarks/replay/run-guest.sh), then summarize: memory saved by kind
# over time (median, min-max), ksmd CPU, time to 90 % of the final
# saving, spread of the saving (benchmarks/replay/summarize.py).  Results
# go to a new dated folder $B/bench-replay/YYYY-MM-DD-HHMMSS, never reused.
#
# Environment:
#   REPLAY_TRACE   trace directory (default: the newest under $B/traces)
#   REPLAY_RUNS    runs per mode (5)
#   REPLAY_MODES   (default "off stock hints hints+cold hints+patch advisor
#                  pts zswap"; see run-guest.sh)
#   REPLAY_ARGS    more ksm_replay options, e.g. "-r 2 -d 5" (replicas)
#   REPLAY_TAIL    seconds sampled after the last event (60)
#   REPLAY_COLD_SECS, REPLAY_RECLAIM_S, REPLAY_RECLAIM_PCT: see run-guest.sh
#   FLAVOUR        (bench)
. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
runs=${REPLAY_RUNS:-5}
modes=${REPLAY_MODES:-off stock hints hints+cold hints+patch advisor pts zswap}
tail_s=${REPLAY_TAIL:-60}
trace=${REPLAY_TRACE:-}
if [ -z "$trace" ]; then
	trace=$(ls -d "$B"/traces/20*/ 2>/dev/null | sort | tail -n 1)
	trace=${trace%/}
fi
[ -n "$trace" ] && [ -f "$trace/manifest.txt" ] ||
	die "no trace: run 'make trace' (QUICK=1: about 2 minutes) or set REPLAY_TRACE"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "REPLAY_RUNS must be a positive number"
[[ "$tail_s" =~ ^[0-9]+$ ]] || die "REPLAY_TAIL must be a number of seconds"
for m in $modes; do
	case $m in
	off | stock | hints | hints+cold | hints+patch | advisor | pts | zswap) ;;
	*) die "unknown mode '$m' in REPLAY_MODES" ;;
	esac
done
if [[ " $modes " == *" pts "* ]] && ! [[ " $modes " == *" stock "* && " $modes " == *" hints "* ]]; then
	die "mode pts needs modes stock and hints (its rate comes from theirs)"
fi

mval() { sed -n "s/^$1=//p" "$trace/manifest.txt"; }
guests=$(mval guests) mem_mib=$(mval mem_mib) secs=$(mval seconds)
replicas=$(sed -n 's/.*-r *\([0-9]*\).*/\1/p' <<<"${REPLAY_ARGS:-}")
replicas=${replicas:-1}
[[ "$guests" =~ ^[0-9]+$ && "$mem_mib" =~ ^[0-9]+$ && "$secs" =~ ^[0-9]+$ ]] ||
	die "$trace/manifest.txt: no guests, mem_mib or seconds"
# Guest RAM of every replay process at once, and room for the kernel,
# the page cache of the images and the rebuilt final RAM of one check.
mem=$((guests * replicas * mem_mib + mem_mib + 1024))
[ "$mem" -ge 2048 ] || mem=2048
nmodes=$(wc -w <<<"$modes")

need_pkgs $BUILD_PKGS $BOOT_PKGS gnuplot-nox libzstd-dev libxxhash-dev
"$REPO/scripts/build.sh" "$flavour"

out=$B/bench-replay/$(date +%Y-%m-%d-%H%M%S)
[ -e "$out" ] && die "$out exists; results are never overwritten"
mkdir -p "$out"
gcc -O2 -Wall -Wextra -o "$out/ksm_replay" "$REPO/benchmarks/replay/ksm_replay.c" -lzstd -lxxhash
# What the memory holds: the ceiling of each mechanism (ksmtrace_analyze.c),
# with the series' codec and the kernel's LZ4 as tools/testing/ksm_patch
# builds them for user space.
an=$out/analyze
mkdir -p "$an"
kp=$SRC/tools/testing/ksm_patch
read -r -a kflags < <(make -s --no-print-directory -C "$kp" cflags) && [ ${#kflags[@]} -gt 0 ] ||
	die "make -C $kp cflags failed"
make -s -C "$kp" CC=gcc OUTPUT="$an/" "$an/libksm_patch_codec.a" >/dev/null ||
	die "building the codec library for ksmtrace_analyze"
gcc "${kflags[@]}" -c -o "$an/analyze_codec.o" "$REPO/benchmarks/replay/analyze_codec.c" &&
	gcc -O2 -Wall -Wextra -c -o "$an/ksmtrace_analyze.o" "$REPO/benchmarks/replay/ksmtrace_analyze.c" &&
	gcc -o "$out/ksmtrace_analyze" "$an/ksmtrace_analyze.o" "$an/analyze_codec.o" \
		"$an/libksm_patch_codec.a" -lzstd -lxxhash || die "building ksmtrace_analyze"
"$out/ksmtrace_analyze" "$trace" >"$out/ceiling.csv" || die "ksmtrace_analyze failed"
log "what the trace's memory holds (ceilings): $(tail -n 1 "$out/ceiling.csv")"
git -C "$REPO" rev-parse --short HEAD >"$out/commit" 2>/dev/null || true
{
	echo "trace=$trace"
	cat "$trace/manifest.txt"
	echo "modes=$modes"
	echo "runs=$runs"
	echo "replay_args=${REPLAY_ARGS:-}"
	echo "tail_s=$tail_s"
} >"$out/setup.txt"
guest_s=$((runs * nmodes * (secs + tail_s + 120) + 300))
log "replay benchmark: $trace, $nmodes modes x $runs runs in the $flavour kernel, ${mem} MiB (at most $((guest_s / 60)) min) -> $out"
"$REPO/scripts/boot.sh" -f "$flavour" -m "$mem" -c 2 -t "$guest_s" -o "$out" -- \
	env REPLAY_TAIL="$tail_s" REPLAY_ARGS="${REPLAY_ARGS:-}" \
	REPLAY_COLD_SECS="${REPLAY_COLD_SECS:-30}" \
	REPLAY_RECLAIM_S="${REPLAY_RECLAIM_S:-10}" \
	REPLAY_RECLAIM_PCT="${REPLAY_RECLAIM_PCT:-5}" \
	"$REPO/benchmarks/replay/run-guest.sh" "$out/ksm_replay" "$trace" "$runs" $modes ||
	die "benchmark run failed; partial results in $out"
python3 "$REPO/benchmarks/replay/summarize.py" "$out" || die "a replay read back corrupt data (see $out)"
gnuplot -e "dir='$out'; modes='$modes'; out='$out/saved.png'" "$REPO/benchmarks/replay/plot.gp" 2>/dev/null ||
	log "no plot (gnuplot failed)"
log "summary: $out/summary.txt  plot: $out/saved.png"
