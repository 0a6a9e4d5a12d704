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
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
data_mb=${DATA_MB:-96}
root=$out/root
rm -rf "$root"
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
echo "image: $out/root.img (${size} MiB, ${data_mb} MiB of data)"
