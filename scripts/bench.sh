#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh - real QEMU guests with -machine mem-merge=on inside the booted
# bench kernel (benchmarks/guests/): each scenario runs in each KSM mode,
# one boot per run (a crashed boot is retried once); prints progress,
# writes CSV, a summary of ratios against stock KSM and one plot per
# scenario to $B/bench/.
#
# Environment: QUICK=1 (a reduced set: homogeneous, stock and hints, about
# 5 minutes), SCENARIOS (homogeneous heterogeneous webserver idle), MODES
# (stock hints hints+cold hints+patch; also cold), AIO (threads native io_uring: one
# per scenario by default), BENCH_SECONDS (limit per run, 90),
# BENCH_GUESTS (guests per run, 2), BENCH_KNOBS (ksm knobs for every mode,
# "pages_to_scan=1000 nru_cold_secs=10"), FLAVOUR (bench), BENCH_OUT
# ($B/bench).

. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
secs=${BENCH_SECONDS:-90}
out=${BENCH_OUT:-$B/bench}
known_scen=$(sed -e 's/#.*//' "$REPO/benchmarks/guests/scenarios" | awk -F'|' 'NF > 1 {gsub(/ /, "", $1); print $1}' | xargs)
known_modes="stock hints cold hints+cold hints+patch"
known_aio="threads native io_uring"
if [ "${QUICK:-0}" = 1 ]; then
	scens=${SCENARIOS:-homogeneous}
	modes=${MODES:-stock hints}
else
	scens=${SCENARIOS:-homogeneous heterogeneous webserver idle}
	modes=${MODES:-stock hints hints+cold hints+patch}
fi
in_list() { local x; for x in $2; do [ "$x" = "$1" ] && return 0; done; return 1; }
for s in $scens; do in_list "$s" "$known_scen" || die "unknown scenario '$s' (known: $known_scen)"; done
for m in $modes; do in_list "$m" "$known_modes" || die "unknown mode '$m' (known: $known_modes)"; done
for a in ${AIO:-}; do in_list "$a" "$known_aio" || die "unknown aio '$a' (known: $known_aio)"; done
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a positive number"
in_list stock "$modes" || die "MODES must include stock: ratios are against it"
# Two guests by default: with three or more the TCG-emulated nested SVM of
# this machine crashes the outer kernel (benchmarks/README.md).
guests=${BENCH_GUESTS:-2}
[[ "$guests" =~ ^[1-4]$ ]] || die "BENCH_GUESTS must be 1 to 4"
knobs=${BENCH_KNOBS:-pages_to_scan=1000 nru_cold_secs=10}
for kv in $knobs; do
	[[ "$kv" =~ ^[a-z_]+=[0-9]+$ ]] || die "bad knob '$kv' in BENCH_KNOBS (want name=number)"
done

# QEMU's three I/O paths, one per scenario unless AIO says otherwise.
aio_of() {
	if [ -n "${AIO:-}" ]; then echo "$AIO"; return; fi
	case $1 in
	heterogeneous) echo io_uring ;;
	webserver) echo native ;;
	*) echo threads ;;
	esac
}
runs=()
for s in $scens; do
	for a in $(aio_of "$s"); do
		for m in $modes; do runs+=("$s:$m:$a"); done
	done
done

need_pkgs $BUILD_PKGS $BOOT_PKGS fio bonnie++ busybox-static e2fsprogs gnuplot-nox
"$REPO/scripts/build.sh" "$flavour"
kernel=$B/obj-$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel at $kernel (make build FLAVOUR=$flavour)"
mkdir -p "$out"
"$REPO/benchmarks/guests/mkimage.sh" "$B/guests" >/dev/null || die "building the guest image failed"
run=$out/run
rm -rf "$run"
mkdir -p "$run"
# The nested guests run on the outer kernel's KVM, whose nested paging is
# emulated by TCG: with it on, the outer kernel's page tables get corrupted
# within a minute (also with an unpatched 6.12.117).  Shadow paging works.
export KSMPP_CMDLINE="${KSMPP_CMDLINE:-} kvm_amd.npt=0"
log "guest benchmark: ${#runs[@]} runs (${runs[*]}), $guests guests, up to ${secs}s each, one $flavour kernel boot per run"
: >"$run/runs.txt"
rc=0 n=0
for r in "${runs[@]}"; do
	n=$((n + 1))
	# A boot that dies (the nested set-up can still crash the outer
	# kernel) is retried once; its console is kept as console-RUN-N.log.
	for try in 1 2; do
		log "[$n/${#runs[@]}] $r (try $try)"
		"$REPO/scripts/boot.sh" -f "$flavour" -m 3072 -c 2 -t $((secs + 150)) -o "$run" -- \
			env BENCH_KNOBS="$knobs" BENCH_GUESTS="$guests" "$REPO/benchmarks/guests/run-bench.sh" "$kernel" "$B/guests/root.img" "$secs" "$r" &&
			brc=0 || brc=$?
		cp "$run/console.log" "$run/console-$(echo "$r" | tr ':+' '_p')-$try.log" 2>/dev/null
		grep -qx "$r done" "$run/runs.txt" && break
		log "$r: boot exit $brc, not done"
		grep -q "^$r " "$run/runs.txt" && break	# the guests failed: no retry
	done
	grep -q "^$r " "$run/runs.txt" || echo "$r crashed" >>"$run/runs.txt"
	grep -qx "$r done" "$run/runs.txt" || rc=1
done
grep -q ' done$' "$run/runs.txt" || die "no run completed; consoles: $run/console-*.log"
python3 "$REPO/benchmarks/guests/summarize.py" "$run" "$out" "${runs[@]}" && src=0 || src=$?
for s in $scens; do
	ls "$run"/"$s"_*.csv >/dev/null 2>&1 || continue
	gnuplot -e "dir='$run'; scen='$s'; out='$out/$s.png'" "$REPO/benchmarks/guests/plot.gp" 2>/dev/null ||
		log "warning: plot of $s failed"
done
log "summary: $out/summary.txt  plots: $out/*.png  CSV: $run/"
[ $rc -eq 0 ] && [ $src -eq 0 ] || die "incomplete: a run failed or crashed (summary exit $src) (partial results kept in $run)"
