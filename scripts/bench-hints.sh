#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench-hints.sh - the KSM I/O-hints benchmark (benchmarks/hints/): boots
# the bench kernel once and runs, in it, the read-path cost of a hint push
# and every configuration in every mode HINTS_RUNS times (stock at the
# defaults, hints, stock with pages_to_scan at the hints run's ksmd CPU,
# stock with the advisor; see benchmarks/hints/run-guest.sh), then prints
# medians with min-max and writes CSV, summary and plots to a new dated
# folder $B/bench-hints/YYYY-MM-DD-HHMMSS (never reused).
#
# Environment:
#   HINTS_RUNS     runs per configuration and mode (default 5)
#   HINTS_CONFIGS  WORKLOAD:PROCS:BALLAST_MIB:IO words (default: dup with
#                  2, 4 and 8 readers, 256 and 1024 MiB of ballast,
#                  buffered and direct, and unique:2:256:buffered)
#   HINTS_CAP      seconds a dup run may last at most (600)
#   HINTS_UNIQUE_SECONDS  length of a unique run (90)
#   HINTS_READCOST 0 to leave out the read-path cost (about 9 minutes)
#   HINTS_ALT_PAIRS pairs of io_hints on and off phases, each a full scan,
#                  in the run that measures what hints that find nothing
#                  cost ksmd (8, about 14 minutes; 0 leaves it out)
#   HINTS_ALT_PERCENT io_hints_scan_percent for that run (default: as set;
#                  0: hints recorded, never visited, a control)
#   HINTS_MODES    modes of the dup runs instead of "stock hints advisor
#                  pts", any of stock, hints, advisor, pts, domains
#                  (hints with merge_domains=prctl, readers in domains
#                  of two) and pairs (its control: hints, no domains,
#                  each pair of readers on a file of its own)
#   FLAVOUR (bench)
# The full default matrix takes about 5 hours; HINTS_RUNS=1 with one
# configuration, HINTS_READCOST=0 and HINTS_ALT_PAIRS=0 about 5 minutes.

. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
runs=${HINTS_RUNS:-5}
cap=${HINTS_CAP:-600}
usecs=${HINTS_UNIQUE_SECONDS:-90}
configs=${HINTS_CONFIGS:-}
if [ -z "$configs" ]; then
	for io in buffered direct; do
		for ballast in 256 1024; do
			for n in 2 4 8; do
				configs+="dup:$n:$ballast:$io "
			done
		done
	done
	configs+="unique:2:256:buffered"
fi
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "HINTS_RUNS must be a positive number"
[[ "$cap" =~ ^[1-9][0-9]*$ ]] || die "HINTS_CAP must be a number of seconds"
[[ "$usecs" =~ ^[1-9][0-9]*$ ]] || die "HINTS_UNIQUE_SECONDS must be a number of seconds"
guest_s=30
[ "${HINTS_READCOST:-1}" = 0 ] || guest_s=$((guest_s + 900))
alt_pairs=${HINTS_ALT_PAIRS:-8}
[[ "$alt_pairs" =~ ^(0|[1-9][0-9]*)$ ]] && [ "$alt_pairs" -le 32 ] ||
	die "HINTS_ALT_PAIRS must be a number of pairs, 0 to 32"
# A timeout, not an estimate: a phase fails the run after 300 s.
guest_s=$((guest_s + (alt_pairs ? 60 + alt_pairs * 2 * 300 + 120 : 0)))
[ -z "${HINTS_ALT_PERCENT:-}" ] ||
	{ [[ "$HINTS_ALT_PERCENT" =~ ^(0|[1-9][0-9]{0,3})$ ]] && [ "$HINTS_ALT_PERCENT" -le 1000 ]; } ||
	die "HINTS_ALT_PERCENT must be a percentage, 0 to 1000"
for c in $configs; do
	[[ "$c" =~ ^(dup|unique):([0-9]+):([0-9]+):(buffered|direct)$ ]] ||
		die "bad configuration '$c' in HINTS_CONFIGS (want dup|unique:PROCS:BALLAST_MIB:buffered|direct)"
	n=${BASH_REMATCH[2]} ballast=${BASH_REMATCH[3]}
	[ "$n" -ge 2 ] && [ "$n" -le 16 ] || die "'$c': 2 to 16 readers"
	[ "$ballast" -le 1024 ] || die "'$c': at most 1024 MiB of ballast in a 2 GiB guest"
	if [ "${BASH_REMATCH[1]}" = unique ]; then
		[ "${BASH_REMATCH[4]}" = buffered ] || die "'$c': unique readers read buffered"
		guest_s=$((guest_s + runs * 2 * (usecs + 30)))
	else
		guest_s=$((guest_s + runs * 4 * (cap + 30)))
	fi
done
need_pkgs $BUILD_PKGS $BOOT_PKGS gnuplot-nox
"$REPO/scripts/build.sh" "$flavour"

out=$B/bench-hints/$(date +%Y-%m-%d-%H%M%S)
[ -e "$out" ] && die "$out exists; results are never overwritten"
mkdir -p "$out"
gcc -O2 -Wall -Wextra -o "$out/ksm_hints_bench" "$REPO/benchmarks/hints/ksm_hints_bench.c" -lm
gcc -O2 -Wall -Wextra -o "$out/ksm_hints_readcost" "$REPO/benchmarks/hints/ksm_hints_readcost.c"
rc=$out/ksm_hints_readcost
[ "${HINTS_READCOST:-1}" = 0 ] && rc=-
git -C "$REPO" rev-parse --short HEAD >"$out/commit" 2>/dev/null || true
echo "$configs" >"$out/configs"
log "I/O-hints benchmark: $(wc -w <<<"$configs") configurations x $runs runs per mode in the $flavour kernel (at most $((guest_s / 60)) min) -> $out"
"$REPO/scripts/boot.sh" -f "$flavour" -m 2048 -c 2 -t "$guest_s" -o "$out" -- \
	env HINTS_CAP="$cap" HINTS_UNIQUE_SECONDS="$usecs" HINTS_ALT_PAIRS="$alt_pairs" \
	HINTS_ALT_PERCENT="${HINTS_ALT_PERCENT:-}" HINTS_MODES="${HINTS_MODES:-}" \
	"$REPO/benchmarks/hints/run-guest.sh" "$out/ksm_hints_bench" "$rc" "$runs" $configs ||
	die "benchmark run failed; partial results in $out"
python3 "$REPO/benchmarks/hints/summarize.py" "$out" || die "a run read back corrupt data (see $out)"
for c in $configs; do
	name=${c//:/-}
	modes=${HINTS_MODES:-stock hints pts advisor}
	[[ $c == unique:* ]] && modes="stock hints"
	gnuplot -e "dir='$out'; cfg='$name'; modes='$modes'; out='$out/$name.png'" \
		"$REPO/benchmarks/hints/plot.gp" 2>/dev/null
done
log "summary: $out/summary.txt  plots: $out/*.png"
