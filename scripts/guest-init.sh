#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-init.sh - PID 1 of the KSM++ test guest.
#
# The guest's root is the host's root, read-only over virtio-9p.  This
# mounts the pseudo filesystems and writable scratch space, mounts the
# writable result share (9p tag "results") on /mnt/results, runs
# /mnt/results/cmd.sh with its output on the second serial port (ttyS1,
# the host's terminal), records its exit status and powers off.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
HOME=/root
export PATH HOME

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm 2>/dev/null
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
# Writable scratch directories.  The repository and the build directory
# (KSMPP_REPO, KSMPP_BUILD_DIR: passed by boot.sh on the command line) may
# live under one of them: bind them back from the host root when they do.
mkdir -p /dev/shm/.hostroot
mount --bind / /dev/shm/.hostroot
for d in /tmp /run /var/tmp /root /mnt; do
	mount -t tmpfs -o mode=1777 tmpfs "$d"
	for keep in "$KSMPP_REPO" "$KSMPP_BUILD_DIR"; do
		case $keep in
		"$d"/*)
			mkdir -p "$keep"
			mount --bind "/dev/shm/.hostroot$keep" "$keep" ;;
		esac
	done
done
mkdir -p /mnt/results
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results /mnt/results

out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
{
	echo "guest: $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)"
	cd /mnt/results && TMPDIR=/tmp bash ./cmd.sh
	echo $? >/mnt/results/exit-status
} <"$out" >"$out" 2>&1
sync
echo "guest: command exited with status $(cat /mnt/results/exit-status 2>/dev/null)" >/dev/console
umount /mnt/results 2>/dev/null
# Power off through ACPI.  PID 1 must not exit meanwhile (that panics the
# guest): once the power-off has begun the 9p root may fail exec with EIO,
# so keep looping even when sleep cannot run.
echo o >/proc/sysrq-trigger
while :; do
	sleep 1 2>/dev/null || :
done
