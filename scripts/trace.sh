#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# trace.sh - make trace: record QEMU guests at the host level, outside the
# patched kernel, for the replay benchmark (benchmarks/replay/FORMAT.md).
# Boots TRACE_GUESTS guests under TCG at once, each with its RAM in a
# shared file in /dev/shm and its root disk a qcow2 overlay of one shared
# base image (benchmarks/guests/mkimage.sh), QEMU's reads traced by
# ksmtrace_preload.so and the RAM snapshotted every TRACE_INTERVAL_MS by
# ksmtrace_snap; writes a trace directory $B/traces/DATE-NAME with a
# manifest, never reused.
#
# Environment:
#   TRACE_GUESTS       guests (default 4)
#   TRACE_MEM          MiB of RAM per guest (default 512)
#   TRACE_JOBS         guest jobs, one per guest in turn (default
#                      "seqread randread bonnie idle"; see
#                      benchmarks/guests/guest-init.sh)
#   TRACE_SECONDS      seconds each guest runs before it powers off (90)
#   TRACE_INTERVAL_MS  snapshot interval (2000)
#   TRACE_IO           buffered (cache=writeback) or direct (cache=none,
#                      default): how QEMU opens the images
#   TRACE_FLAVOUR      the kernel the guests boot (bench, guest with
#                      TRACE_ROOTFS=debian; make test: test)
#   TRACE_ROOTFS       busybox (default: busybox, fio, bonnie++ and /init)
#                      or debian (a minimal Debian 12 with systemd built
#                      by mmdebstrap, booted read-write; systemd runs the
#                      job once the system is up); TRACE_SECONDS should
#                      then leave a minute or two for the boot under TCG
#   TRACE_DIR          where the trace goes (default: a new directory
#                      $B/traces/DATE-NxMEM); must not exist
#   QUICK=1            2 guests of 256 MiB, 40 s: a trace of a few MiB
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ "${QUICK:-0}" = 1 ]; then
	guests=${TRACE_GUESTS:-2} mem=${TRACE_MEM:-256} secs=${TRACE_SECONDS:-40}
	jobs=${TRACE_JOBS:-"seqread idle"}
else
	guests=${TRACE_GUESTS:-4} mem=${TRACE_MEM:-512} secs=${TRACE_SECONDS:-90}
	jobs=${TRACE_JOBS:-"seqread randread bonnie idle"}
fi
interval=${TRACE_INTERVAL_MS:-2000}
io=${TRACE_IO:-direct}
rootfs=${TRACE_ROOTFS:-busybox}
[[ "$guests" =~ ^[1-9][0-9]*$ && "$guests" -le 8 ]] || die "TRACE_GUESTS: 1 to 8"
[[ "$mem" =~ ^[0-9]+$ && "$mem" -ge 128 && "$mem" -le 2048 ]] || die "TRACE_MEM: 128 to 2048 MiB"
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || die "TRACE_SECONDS must be a number"
[[ "$interval" =~ ^[1-9][0-9]*$ ]] || die "TRACE_INTERVAL_MS must be a number"
case $io in
direct) cache=none ;;
buffered) cache=writeback ;;
*) die "TRACE_IO: buffered or direct" ;;
esac
case $rootfs in
busybox) img=$B/traces/image boot="ro init=/init" pkgs= default_flavour=bench ;;
debian) img=$B/traces/image-debian boot="rw" pkgs=mmdebstrap default_flavour=guest ;;
*) die "TRACE_ROOTFS: busybox or debian" ;;
esac

# Guest RAM lives in /dev/shm: a guest that runs out of it dies (SIGBUS).
avail=$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')
[ "$avail" -ge $((guests * mem + 64)) ] ||
	die "/dev/shm has $avail MiB free; $guests guests of $mem MiB need more"
need_pkgs $BUILD_PKGS $BOOT_PKGS fio bonnie++ e2fsprogs qemu-utils libzstd-dev libxxhash-dev $pkgs
flavour=${TRACE_FLAVOUR:-$default_flavour}
"$REPO/scripts/build.sh" "$flavour"
kernel=$B/obj-$flavour/arch/x86/boot/bzImage
R=$REPO/benchmarks/replay
tools=$B/traces/tools
mkdir -p "$tools"
gcc -O2 -Wall -Wextra -fPIC -shared -o "$tools/ksmtrace_preload.so" "$R/ksmtrace_preload.c" -ldl
gcc -O2 -Wall -Wextra -o "$tools/ksmtrace_snap" "$R/ksmtrace_snap.c" -lzstd -lxxhash
gcc -O2 -Wall -Wextra -o "$tools/ksmtrace_pack" "$R/ksmtrace_pack.c" -lzstd -lxxhash

# The base image every guest's overlay shares: built once, kept.
if [ ! -f "$img/root.img" ]; then
	log "building the guest image ($rootfs)"
	ROOTFS=$rootfs "$REPO/benchmarks/guests/mkimage.sh" "$img" >/dev/null
fi

out=${TRACE_DIR:-$B/traces/$(date +%Y-%m-%d-%H%M%S)-${guests}x${mem}}
[ -e "$out" ] && die "$out exists; traces are never overwritten"
mkdir -p "$out"
read -r -a joblist <<<"$jobs"
[ ${#joblist[@]} -gt 0 ] || die "TRACE_JOBS is empty"
shm=/dev/shm/ksmtrace-$$
hold=$secs
log "recording $guests guests of $mem MiB for ${secs}s ($io I/O) -> $out"

pids=() snaps=()
cleanup() {
	for p in "${pids[@]}" "${snaps[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -f "$shm"-g*
}
trap cleanup EXIT
t0=$(date +%s%N)
for ((i = 0; i < guests; i++)); do
	g=$out/g$i
	mkdir -p "$g"
	job=${joblist[i % ${#joblist[@]}]}
	qemu-img create -q -f qcow2 -b "$img/root.img" -F raw "$g/overlay.qcow2"
	scratch=
	if [ "$job" = bonnie ]; then
		truncate -s 256M "$g/scratch.img"
		scratch="-drive file=$g/scratch.img,if=virtio,format=raw,cache=$cache,aio=threads"
	fi
	truncate -s "${mem}M" "$shm-g$i"
	echo "job=$job mem_mib=$mem seed=$((i + 1))" >"$g/guest.txt"
	# A guest that hangs is stopped (and the recording fails).
	timeout $((secs + 300)) env LD_PRELOAD="$tools/ksmtrace_preload.so" \
		KSMTRACE_RAM="$shm-g$i" KSMTRACE_OUT="$g" qemu-system-x86_64 -accel tcg -smp 1 -m "$mem" \
		-object memory-backend-file,id=ram0,size="${mem}M",mem-path="$shm-g$i",share=on \
		-machine pc,memory-backend=ram0 -display none -no-reboot \
		-kernel "$kernel" \
		-append "root=/dev/vda $boot console=ttyS0 panic=-1 ksmpp.job=$job ksmpp.seed=$((i + 1)) ksmpp.hold=$hold" \
		-drive file="$g/overlay.qcow2",if=virtio,format=qcow2,cache=$cache,aio=threads $scratch \
		-serial file:"$g/console.log" >"$g/qemu.log" 2>&1 &
	pids+=($!)
	"$tools/ksmtrace_snap" "$shm-g$i" "$g/snaps.bin" "$interval" "$g/stop" &
	snaps+=($!)
done
fail=0
for ((i = 0; i < guests; i++)); do
	wait "${pids[i]}" || fail=1
	touch "$out/g$i/stop"
	wait "${snaps[i]}" || fail=1
	grep -q "KSMPP-END" "$out/g$i/console.log" || { log "guest $i did not finish its job"; fail=1; }
done
pids=() snaps=()
rm -f "$shm"-g*
trap - EXIT
[ $fail = 0 ] || die "recording failed (see $out)"
dur=$(( ($(date +%s%N) - t0) / 1000000000 ))
# Snapshot pages that the reads explain go (ksmtrace_pack.c).
for ((i = 0; i < guests; i++)); do
	"$tools/ksmtrace_pack" "$out/g$i" "$mem" >>"$out/pack.log" ||
		die "packing guest $i failed (see $out)"
done
{
	echo "format=ksmtrace-1"
	echo "packed=1"
	echo "guests=$guests"
	echo "mem_mib=$mem"
	echo "jobs=$jobs"
	echo "io=$io"
	echo "interval_ms=$interval"
	echo "seconds=$dur"
	echo "kernel=$(cat "$B/obj-$flavour/include/config/kernel.release") ($flavour)"
	echo "image=$img/root.img"
	echo "rootfs=$rootfs"
	echo "image_sha256=$(sha256sum "$img/root.img" | cut -d' ' -f1)"
	for ((i = 0; i < guests; i++)); do
		for f in reads.bin snaps.bin files.txt overlay.qcow2 scratch.img; do
			[ -f "$out/g$i/$f" ] || continue
			echo "g$i/${f}_sha256=$(sha256sum "$out/g$i/$f" | cut -d' ' -f1)"
		done
	done
} >"$out/manifest.txt"
log "trace: $out ($(du -sh "$out" | cut -f1))"
