#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - make demo: build the kernel if needed, boot it, and run the KSM
# demonstration (benchmarks/demo/ksm_demo.c) twice in one boot: stock KSM,
# then KSM++ with every feature on; two processes with identical, zero,
# similar, compressible and I/O-loaded mergeable memory.  Prints the memory
# saved by kind (shared, zero pages, patched, compressed) in one table,
# writes the CSVs and one PNG plot to $B/demo/.
#
# Environment: FLAVOUR (bench), DEMO_SECONDS (60 per mode), DEMO_ARGS
# (extra ksm_demo options, e.g. "-n 4 -I 64").

. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
secs=${DEMO_SECONDS:-60}
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || die "DEMO_SECONDS must be a number of seconds"
need_pkgs $BUILD_PKGS $BOOT_PKGS gnuplot-nox
"$REPO/scripts/build.sh" "$flavour"

D=$B/demo
mkdir -p "$D"
gcc -O2 -Wall -Wextra -o "$D/ksm_demo" "$REPO/benchmarks/demo/ksm_demo.c"
run=$D/run
rm -rf "$run"
log "running the demonstration in the $flavour kernel (${secs}s per mode: stock KSM, then KSM++)"
"$REPO/scripts/boot.sh" -f "$flavour" -m 2048 -c 2 -t $((2 * secs + 300)) -o "$run" -- \
	"$REPO/benchmarks/demo/run-guest.sh" "$D/ksm_demo" "$secs" ${DEMO_ARGS:-} ||
	die "the demonstration failed (see $run)"
for m in stock all; do
	grep -q '^data check: every page' "$run/$m.log" || die "mode $m: data check failed (see $run/$m.log)"
	cp "$run/$m.csv" "$D/$m.csv"
done
# One table: the memory saved at the end, by kind, per mode.
{
	printf '%-22s %10s %10s %10s %12s %10s %10s\n' "memory saved (MiB)" shared "zero pages" patched compressed total "ksmd CPU s"
	for m in stock all; do
		label="stock KSM"
		[ $m = all ] && label="KSM++ (every feature)"
		sed -n 's/^RESULT //p' "$run/$m.log" | tr ' ' '\n' | awk -F= -v l="$label" '
			{ v[$1] = $2 }
			END { printf "%-22s %10.1f %10.1f %10.1f %12.1f %10.1f %10.2f\n", l,
				v["shared_kib"] / 1024, v["zero_kib"] / 1024, v["patched_kib"] / 1024,
				v["compressed_kib"] / 1024, v["total_kib"] / 1024, v["ksmd_cpu_s"] }'
	done
} | tee "$D/ksm-demo.txt"
procs=$(sed -n 's/^RESULT .*procs=\([0-9]*\).*/\1/p' "$run/all.log")
gnuplot -e "dir='$D'; out='$D/ksm-demo.png'; title='KSM demo: $procs processes, stock KSM vs KSM++, $(cat "$B/obj-$flavour/include/config/kernel.release")'" \
	"$REPO/benchmarks/demo/plot.gp"
log "table: $D/ksm-demo.txt  CSV: $D/stock.csv $D/all.csv  plot: $D/ksm-demo.png"
