#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of a benchmark guest: runs the job named by ksmpp.job= on the
# kernel command line, prints "KSMPP-RESULT job=... key=value ..." on the
# console, idles until ksmpp.hold= seconds after boot, and powers off.  The root disk is read-only; /scratch is the
# second disk, formatted here, for jobs that write.
export PATH=/bin:/usr/bin:/sbin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
grep -q ' /dev ' /proc/mounts || mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
job=none seed=1 hold=0
for arg in $(cat /proc/cmdline); do
	case $arg in
	ksmpp.job=*) job=${arg#*=} ;;
	ksmpp.seed=*) seed=${arg#*=} ;;
	ksmpp.hold=*) hold=${arg#*=} ;;
	esac
done
echo "KSMPP-START job=$job seed=$seed mem=$(awk '/MemTotal/ {print $2}' /proc/meminfo)kB"
start=$(date +%s)
case $job in
idle)
	sleep "${KSMPP_IDLE:-20}"
	echo "KSMPP-RESULT job=idle ok=1" ;;
bonnie)
	if [ -b /dev/vdb ] && /usr/sbin/mke2fs -q -F -t ext4 /dev/vdb && mount /dev/vdb /scratch; then
		# -u 0:0: the image has no /etc/passwd to look "root" up in.
		# -f: block I/O only (per-character I/O takes minutes nested).
		out=$(bonnie++ -u 0:0 -d /scratch -s 16 -r 8 -n 0 -f -q 2>/tmp/bonnie.err | tail -n 1)
		# CSV (format 1.98): ...,size,,chunk,seeks,putc,putc_cpu,put_block,...
		if [ -n "$out" ]; then
			echo "KSMPP-RESULT job=bonnie ok=1 csv=$out"
		else
			head -n 5 /tmp/bonnie.err
			echo "KSMPP-RESULT job=bonnie ok=0 error=bonnie"
		fi
		umount /scratch
	else
		echo "KSMPP-RESULT job=bonnie ok=0 error=no-scratch-disk"
	fi ;;
*)
	if [ -f "/jobs/$job.fio" ]; then
		out=$(cd /data && FIO_SEED=$seed fio --readonly --output-format=terse --terse-version=3 "/jobs/$job.fio" 2>&1)
		# terse v3: field 7 read KiB/s, 8 read IOPS
		bw=$(echo "$out" | awk -F';' '/^3;/ {s += $7} END {print s + 0}')
		if echo "$out" | grep -q '^3;'; then
			echo "KSMPP-RESULT job=$job ok=1 read_kib_s=$bw"
		else
			echo "$out" | head -n 5
			echo "KSMPP-RESULT job=$job ok=0 error=fio"
		fi
	else
		echo "KSMPP-RESULT job=$job ok=0 error=unknown-job"
	fi ;;
esac
echo "KSMPP-END job=$job seconds=$(( $(date +%s) - start ))"
# Stay up (idle) until ksmpp.hold seconds after boot, so that every guest
# of a run is sampled over the same window.
while [ "$(cut -d. -f1 /proc/uptime)" -lt "$hold" ]; do sleep 1; done
sync
poweroff -f
