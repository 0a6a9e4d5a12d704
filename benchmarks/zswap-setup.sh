#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# zswap-setup.sh - inside a booted kernel, set up zswap for the KSM
# cold-page tier as Documentation/admin-guide/mm/ksm.rst describes: a swap
# device that only provides slots (a loop device over a file in /tmp),
# zswap on, zswap writeback off in the root cgroup so nothing reaches the
# device, and vm.page-cluster 0 (one page per swap-in, as for zram).
fail() { echo "zswap-setup: $*" >&2; exit 1; }
fallocate -l 512M /tmp/ksm-slots || fail "fallocate"
dev=$(losetup -f --show /tmp/ksm-slots) || fail "losetup"
mkswap "$dev" >/dev/null || fail "mkswap"
swapon "$dev" || fail "swapon"
echo Y >/sys/module/zswap/parameters/enabled || fail "zswap"
echo 0 >/sys/fs/cgroup/memory.zswap.writeback || fail "zswap writeback"
echo 0 >/proc/sys/vm/page-cluster || fail "page-cluster"
echo "zswap: $(cat /sys/module/zswap/parameters/compressor)," \
	"$(cat /sys/module/zswap/parameters/zpool), slots on $dev"
