#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# run-l1.sh NAME KERNEL IMAGE MODE AIO SECONDS JOB... - inside the booted
# bench kernel: set KSM to MODE (stock, hints, cold, hints+cold, hints+patch:
# hints, cold pages and the patch tier), start one
# QEMU guest per JOB (-enable-kvm, -machine mem-merge=on, the guest boots
# KERNEL from IMAGE over virtio-blk with QEMU's AIO (threads, native,
# io_uring)), sample KSM once a second into NAME.csv until every guest
# powered off or SECONDS passed, and write each guest's console to
# NAME-gN.log and its result line to NAME.results; NAME.mem keeps the
# last 10-second snapshot of each QEMU's ksm_stat and smaps_rollup.
name=$1 kernel=$2 image=$3 mode=$4 aio=$5 secs=$6
shift 6
ksm=/sys/kernel/mm/ksm
mem=${GUEST_MEM:-384}
fail() { echo "run-l1: $*" >&2; exit 1; }

[ -c /dev/kvm ] || fail "no /dev/kvm in this kernel"
echo 2 >$ksm/run
echo 0 >$ksm/io_hints
echo 0 >$ksm/cold_compress
[ -f $ksm/patch_tier ] && echo 0 >$ksm/patch_tier
case $mode in
stock) ;;
hints) echo 1 >$ksm/io_hints ;;
cold) echo 1 >$ksm/cold_compress ;;
hints+cold) echo 1 >$ksm/io_hints; echo 1 >$ksm/cold_compress ;;
hints+patch)
	[ -f $ksm/patch_tier ] || fail "kernel without the KSM patch tier"
	echo 1 >$ksm/io_hints; echo 1 >$ksm/cold_compress
	echo 1 >$ksm/patch_tier ;;
*) fail "unknown mode '$mode' (stock, hints, cold, hints+cold, hints+patch)" ;;
esac
case $aio in
threads) drive="cache=writeback,aio=threads" ;;
native) drive="cache=none,aio=native" ;;
io_uring) drive="cache=none,aio=io_uring" ;;
*) fail "unknown aio '$aio' (threads, native, io_uring)" ;;
esac
root=$(losetup -r -f --show "$image") || fail "losetup $image"
# Guests idle after their job until shortly before the limit: every mode
# is sampled over the same window.
hold=$((secs > 30 ? secs - 15 : secs))

i=0 pids=
for job in "$@"; do
	i=$((i + 1))
	scratch=
	if [ "$job" = bonnie ]; then
		truncate -s 512M /tmp/scratch$i.img
		sdev=$(losetup -f --show /tmp/scratch$i.img) || fail "losetup scratch"
		scratch="-drive file=$sdev,if=virtio,format=raw,$drive"
	fi
	qemu-system-x86_64 -enable-kvm -cpu host -smp 1 -m "$mem" \
		-machine pc,mem-merge=on -display none -no-reboot \
		-kernel "$kernel" \
		-append "root=/dev/vda ro console=ttyS0 init=/init quiet panic=-1 no_timer_check lpj=4000000 tsc=reliable ksmpp.job=$job ksmpp.seed=$i ksmpp.hold=$hold" \
		-drive file=$root,if=virtio,format=raw,readonly=on,$drive $scratch \
		-serial file:$name-g$i.log >$name-g$i.qemu 2>&1 &
	pids="$pids $!"
done
echo 1 >$ksm/run

snapshot() {
	echo "t_s $t"
	grep -E '^(AnonPages|AnonHugePages):' /proc/meminfo
	for p in $pids; do
		kill -0 $p 2>/dev/null || continue
		echo "qemu $p: $(tr '\n' ' ' </proc/$p/ksm_stat 2>/dev/null)"
		echo "qemu $p: $(grep -E '^(Rss|AnonHugePages):' /proc/$p/smaps_rollup | tr -s ' ' | tr '\n' ' ')"
	done
}

start=$(date +%s) next_snap=0
echo "t_s,pages_sharing,pages_shared,ksm_zero_pages,hint_merged,cold_compressed,zswapped_kb,zswap_kb,ksmd_cpu_ms,guests_running,patch_pages" >$name.csv
ksmd=$(pgrep -x ksmd)
while :; do
	t=$(( $(date +%s) - start ))
	running=0
	for p in $pids; do kill -0 $p 2>/dev/null && running=$((running + 1)); done
	cpu=$(awk '{print int($1 / 1000000)}' /proc/$ksmd/schedstat)
	echo "$t,$(cat $ksm/pages_sharing),$(cat $ksm/pages_shared),$(cat $ksm/ksm_zero_pages),$(cat $ksm/io_hints_pages_merged),$(cat $ksm/cold_pages_compressed),$(awk '/^Zswapped:/ {print $2}' /proc/meminfo),$(awk '/^Zswap:/ {print $2}' /proc/meminfo),$cpu,$running,$(cat $ksm/patch_pages 2>/dev/null || echo 0)" >>$name.csv
	[ $running -eq 0 ] && break
	# Every 10 s, what each QEMU has merged and how much of it is in
	# huge pages; the last snapshot before the guests stop is kept.
	if [ $t -ge $next_snap ]; then
		snapshot >$name.mem.new && mv $name.mem.new $name.mem
		next_snap=$((t + 10))
	fi
	if [ $t -ge "$secs" ]; then
		echo "run-l1: $name: guests still running after ${secs}s, stopping them" >&2
		kill $pids 2>/dev/null
		break
	fi
	sleep 1
done
wait
: >$name.results
i=0
for job in "$@"; do
	i=$((i + 1))
	line=$(grep -a '^KSMPP-RESULT' $name-g$i.log | tail -n 1)
	# Booted but still busy when the window closed: memory was sampled,
	# the job's throughput is unknown.
	[ -z "$line" ] && grep -aq '^KSMPP-START' $name-g$i.log &&
		line="KSMPP-RESULT job=$job ok=0 error=unfinished"
	echo "g$i ${line:-KSMPP-RESULT job=$job ok=0 error=no-boot}" >>$name.results
done
losetup -d "$root" 2>/dev/null
for f in /tmp/scratch*.img; do [ -e "$f" ] && { losetup -j "$f" | cut -d: -f1 | xargs -r losetup -d; rm -f "$f"; }; done
cat $name.results
