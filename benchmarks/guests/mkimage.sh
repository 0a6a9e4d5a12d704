#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkimage.sh OUTDIR - build the disk image the benchmark's QEMU guests boot
# from, with no download: an ext4 image (mkfs.ext4 -d) holding busybox,
# fio, bonnie++ and mke2fs from this machine's Debian packages with the
# libraries they load, the fio job files of benchmarks/guests/jobs, an
# /init that runs the job named on the kernel command line, and /data:
# DATA_MB MiB of files of pseudo-random content, the same in every build
# (the "disk image" the guests share).  The guest kernel is the series'
# bench kernel itself.  Writes OUTDIR/root.img.
#
# ROOTFS=debian: instead of busybox, a minimal Debian 12 with systemd,
# fio and bonnie++ built by mmdebstrap from the mirrors this machine's apt
# uses (a real OS's files, which the guests boot and read); systemd runs
# the same /init as a service (ksmpp-job.service) once the system is up.
# Boot it read-write (its qcow2 overlay takes the writes) and without
# init=.
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
data_mb=${DATA_MB:-96}
rootfs=${ROOTFS:-busybox}
root=$out/root
rm -rf "$root"
if [ "$rootfs" = debian ]; then
	# The Debian mirror of this machine's apt sources (deb822 or
	# one-line; either file may be missing), else deb.debian.org.
	mirror=$( { sed -n 's/^URIs: *//p; s/^deb \(\[[^]]*\] \)\?\(http[^ ]*\) .*/\2/p' \
		/etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } |
		tr ' ' '\n' | { grep -E '/debian/?$' || true; } | sort -u | head -n 1)
	mirror=${mirror:-http://deb.debian.org/debian}
	mmdebstrap --quiet --variant=minbase --mode=root \
		--include=systemd-sysv,udev,procps,kmod,fio,bonnie++,e2fsprogs,busybox \
		--customize-hook='chroot "$1" systemctl mask getty@tty1.service serial-getty@ttyS0.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_reap.service' \
		bookworm "$root" "$mirror" >&2
	mkdir -p "$root"/{data,jobs,scratch}
	cat >"$root/etc/systemd/system/ksmpp-job.service" <<'UNIT'
[Unit]
Description=KSM++ benchmark job
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/init
# Straight to the console: /init powers off right after its last line,
# before journald would have forwarded it.
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console

[Install]
WantedBy=multi-user.target
UNIT
	mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
	ln -s /etc/systemd/system/ksmpp-job.service \
		"$root/etc/systemd/system/multi-user.target.wants/ksmpp-job.service"
	echo "/dev/vda / ext4 rw 0 1" >"$root/etc/fstab"
	echo ksmpp-guest >"$root/etc/hostname"
else
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,data,jobs,scratch,etc}

# Programs and every library they load, at their own paths.
progs=(/bin/busybox /usr/bin/fio /usr/sbin/bonnie++ /sbin/mkfs.ext4)
for p in "${progs[@]}"; do
	p=$(readlink -f "$p")
	mkdir -p "$root$(dirname "$p")"
	cp -L "$p" "$root$p"
	{ ldd "$p" 2>/dev/null || true; } | awk '/=>/ {print $3} /^\t\/lib/ {print $1}' |
		while read -r lib; do
			[ -e "$lib" ] || continue
			mkdir -p "$root$(dirname "$lib")"
			cp -L "$lib" "$root$lib"
		done
done
ln -sf /usr/bin/fio "$root/bin/fio" 2>/dev/null || true
bb=$(readlink -f /bin/busybox)
for tool in $("$root$bb" --list); do
	[ -e "$root/bin/$tool" ] || ln -s "$bb" "$root/bin/$tool"
done
[ -x "$root/bin/sh" ] || { echo "mkimage: no /bin/sh in the image" >&2; exit 1; }
fi
cp "$here"/jobs/*.fio "$root/jobs/"
install -m 755 "$here/guest-init.sh" "$root/init"

# The shared data: the same bytes in every build (seeded).
python3 - "$root/data" "$data_mb" <<'PY'
import random, sys
d, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(20261123)
for i in range(mb // 16):
    with open("%s/file%d" % (d, i), "wb") as f:
        for _ in range(16):
            f.write(rng.randbytes(1 << 20))
PY

size=$(( $(du -sm "$root" | cut -f1) + 64 ))
rm -f "$out/root.img"
truncate -s "${size}M" "$out/root.img"
mkfs.ext4 -q -F -L ksmpp-guest -d "$root" "$out/root.img"
echo "image: $out/root.img (${size} MiB, ${data_mb} MiB of data, $rootfs)"
