#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-hostcheck.sh - inside the booted kernel: does it have what a KVM
# host running libvirt and QEMU uses?  Not only that the options are set:
# each is used once.  Prints "missing: WHAT" for each gap and "host kernel:
# ok" at the end if there is none; the exit status is the number of gaps.
gaps=0
missing() { echo "missing: $*"; gaps=$((gaps + 1)); }

cg=/sys/fs/cgroup
ctl=" $(cat $cg/cgroup.controllers 2>/dev/null) "
for c in cpuset cpu io memory pids hugetlb; do
	case $ctl in *" $c "*) ;; *) missing "cgroup v2 controller $c" ;; esac
done
# A VM's cgroup as libvirt sets it up: pinned to CPU 0, a CPU quota, a
# pids limit, frozen and thawed.
vm=$cg/hostcheck.$$
if mkdir $vm 2>/dev/null; then
	echo "+cpuset +cpu +io +pids +hugetlb +memory" >$cg/cgroup.subtree_control 2>/dev/null ||
		missing "enabling the controllers in cgroup.subtree_control"
	echo 0 >$vm/cpuset.cpus 2>/dev/null || missing "cpuset.cpus"
	echo "50000 100000" >$vm/cpu.max 2>/dev/null || missing "cpu.max (CFS bandwidth)"
	echo 64 >$vm/pids.max 2>/dev/null || missing "pids.max"
	[ -f $vm/io.max ] || missing "io.max (block throttling)"
	[ -f $vm/hugetlb.2MB.max ] || missing "hugetlb.2MB.max"
	sleep 30 &
	pid=$!
	echo $pid >$vm/cgroup.procs 2>/dev/null || missing "moving a task into the VM cgroup"
	[ "$(cat $vm/cpuset.cpus.effective 2>/dev/null)" = 0 ] ||
		missing "cpuset.cpus.effective 0"
	if echo 1 >$vm/cgroup.freeze 2>/dev/null; then
		i=0
		while ! grep -q "frozen 1" $vm/cgroup.events && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		grep -q "frozen 1" $vm/cgroup.events || missing "cgroup freezer (not frozen)"
		echo 0 >$vm/cgroup.freeze
	else
		missing "cgroup.freeze"
	fi
	kill $pid
	wait $pid 2>/dev/null
	rmdir $vm 2>/dev/null || missing "removing the VM cgroup"
else
	missing "cgroup v2 at $cg"
fi

for ns in cgroup ipc mnt net pid user uts; do
	[ -e /proc/self/ns/$ns ] || missing "$ns namespace"
done
if command -v unshare >/dev/null; then
	unshare --user --map-root-user --pid --fork --mount-proc --net --uts --ipc true ||
		missing "unshare of user, pid, net, uts and ipc namespaces"
fi
grep -q '^Seccomp_filters:' /proc/self/status || missing "seccomp filters"
grep -q '^some ' /proc/pressure/memory 2>/dev/null || missing "PSI (/proc/pressure/memory)"
grep -qw hugetlbfs /proc/filesystems 2>/dev/null || missing "hugetlbfs"
for d in /dev/kvm /dev/net/tun /dev/vhost-net; do
	[ -c $d ] || missing "$d"
done

[ $gaps = 0 ] && echo "host kernel: ok"
exit $gaps
