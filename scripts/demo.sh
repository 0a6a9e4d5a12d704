#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# demo.sh - make demo: build the kernel if needed, boot it, and run the KSM
# demonstration (benchmarks/demo/ksm_demo.c): two processes with identical
# and I/O-loaded mergeable memory; prints pages shared over time, writes
# CSV and a PNG plot to $B/demo/.
#
# Environment: FLAVOUR (bench), DEMO_SECONDS (30), DEMO_ARGS (extra
# ksm_demo options, e.g. "-n 4 -I 64").

. "$(dirname "$0")/lib.sh"

flavour=${FLAVOUR:-bench}
secs=${DEMO_SECONDS:-30}
[[ "$secs" =~ ^[0-9]+$ ]] || die "DEMO_SECONDS must be a number of seconds"
need_pkgs $BUILD_PKGS $BOOT_PKGS gnuplot-nox
"$REPO/scripts/build.sh" "$flavour"

D=$B/demo
mkdir -p "$D"
gcc -O2 -Wall -Wextra -o "$D/ksm_demo" "$REPO/benchmarks/demo/ksm_demo.c"
run=$D/run
rm -rf "$run"
log "running the demonstration in the $flavour kernel (${secs}s of samples)"
"$REPO/scripts/boot.sh" -f "$flavour" -m 1024 -c 2 -t $((secs + 300)) -o "$run" -- \
	"$D/ksm_demo" -s "$secs" -o /mnt/results/ksm-demo.csv ${DEMO_ARGS:-}
cp "$run/ksm-demo.csv" "$D/ksm-demo.csv"
gnuplot -e "in='$D/ksm-demo.csv'; out='$D/ksm-demo.png'; title='KSM demo: 2 processes, $(cat "$B/obj-$flavour/include/config/kernel.release")'" \
	"$REPO/benchmarks/demo/plot.gp"
log "table: $D/ksm-demo.csv  plot: $D/ksm-demo.png"
