#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# boot.sh - boot the patched kernel under QEMU and run one command in it.
#
# Usage: boot.sh [-f FLAVOUR] [-t TIMEOUT_S] [-m MEM] [-c CPUS] [-o DIR]
#                [-q QEMU_ARG]... -- COMMAND [ARG...]
#
# The guest root is the host root, read-only over virtio-9p (so the guest
# sees every tool installed here); DIR (default: a new directory under
# $B/runs) is shared writable and mounted at /mnt/results, which is also
# the command's working directory.  The command's output streams here; the
# kernel log is kept in DIR/console.log and printed if the run fails.
# Exit status: the command's, or 124 on timeout, 125 if the guest died.
#
# KSMPP_TCG_OPTS adds options to -accel tcg (e.g. thread=single).
# TCG (-accel tcg -cpu max) by default: KVM guests hang at boot on these
# machines.  KSMPP_KVM=1 uses KVM instead.

. "$(dirname "$0")/lib.sh"

flavour=test timeout=600 mem=2048 cpus=2 outdir= qextra=()
while getopts "f:t:m:c:o:q:" opt; do
	case $opt in
	f) flavour=$OPTARG ;;
	t) timeout=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) cpus=$OPTARG ;;
	o) outdir=$OPTARG ;;
	q) qextra+=("$OPTARG") ;;
	*) die "usage: boot.sh [-f FLAVOUR] [-t TIMEOUT] [-m MEM_MB] [-c CPUS] [-o DIR] [-q QEMU_ARG] -- COMMAND..." ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || die "boot.sh: no command given"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "boot.sh: bad timeout '$timeout'"

need_pkgs $BOOT_PKGS
kernel=$B/obj-$flavour/arch/x86/boot/bzImage
[ -f "$kernel" ] || die "no $flavour kernel at $kernel: run 'make build FLAVOUR=$flavour' first"

if [ -z "$outdir" ]; then
	mkdir -p "$B/runs"
	outdir=$(mktemp -d "$B/runs/$(date +%Y%m%d-%H%M%S)-XXXX")
fi
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
rm -f "$outdir/exit-status" "$outdir/console.log"
{
	printf 'export KSMPP_REPO=%q KSMPP_BUILD_DIR=%q KSMPP_RESULTS=/mnt/results\n' "$REPO" "$B"
	printf '%q ' "$@"
	echo
} >"$outdir/cmd.sh"

accel=(-accel "tcg${KSMPP_TCG_OPTS:+,$KSMPP_TCG_OPTS}" -cpu max)
[ "${KSMPP_KVM:-0}" = 1 ] && accel=(-accel kvm -cpu host)

log "booting $(cat "$B/obj-$flavour/include/config/kernel.release") ($flavour) under QEMU ${accel[1]}, ${mem} MiB, CPUs: $cpus, timeout ${timeout}s"
rc=0
timeout -k 10 "$timeout" qemu-system-x86_64 \
	"${accel[@]}" -m "$mem" -smp "$cpus" \
	-nodefaults -no-user-config -display none -no-reboot \
	-kernel "$kernel" \
	-append "console=ttyS0 root=hostroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro init=$REPO/scripts/guest-init.sh KSMPP_REPO=$REPO KSMPP_BUILD_DIR=$B panic=-1 oops=panic loglevel=7 ${KSMPP_CMDLINE:-}" \
	-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
	-virtfs "local,path=$outdir,mount_tag=results,security_model=none,multidevs=remap" \
	-serial "file:$outdir/console.log" -serial stdio \
	-device virtio-rng-pci \
	"${qextra[@]}" </dev/null || rc=$?

status=
[ -f "$outdir/exit-status" ] && status=$(cat "$outdir/exit-status")
if [ $rc = 124 ] || [ $rc = 137 ]; then
	echo "boot.sh: timeout after ${timeout}s; console log ($outdir/console.log):" >&2
	tail -n 80 "$outdir/console.log" >&2
	exit 124
fi
if [ -z "$status" ]; then
	echo "boot.sh: guest died before the command finished (qemu exit $rc); console log ($outdir/console.log):" >&2
	tail -n 80 "$outdir/console.log" >&2
	exit 125
fi
if [ "$status" != 0 ]; then
	echo "boot.sh: command failed with status $status; console log ($outdir/console.log):" >&2
	tail -n 80 "$outdir/console.log" >&2
fi
echo "$outdir" >"$B/last-run"
exit "$status"
