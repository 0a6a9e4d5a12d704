#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-selftests.sh BINDIR LIST - run the selftests of LIST inside the
# guest.  Writes "PASS|FAIL|SKIP name (detail)" lines to selftests/results
# and each test's output to selftests/NAME.log under the current directory
# (the result share).  KSFT_SKIP (4) counts as a skip.  An optional fifth
# column sets /sys/kernel/mm/ksm knobs (name=value ...) for the test and
# puts back their old values afterwards; a word "+zswap" there first gives
# the cold tier somewhere to push to, as ksm.rst says: zswap on, writeback
# off, a swap device for slots (a loop device over a file in /tmp).
bindir=$1
list=$2
mkdir -p selftests
res=$PWD/selftests/results
: >"$res"
ksm=/sys/kernel/mm/ksm
zsw=/sys/module/zswap/parameters/enabled
zswap_on() {
	zswap_was=$(cat $zsw) wb_was=$(cat /sys/fs/cgroup/memory.zswap.writeback)
	truncate -s 256M /tmp/selftest-swap &&
		loopdev=$(losetup -f --show /tmp/selftest-swap) &&
		mkswap -q "$loopdev" && swapon "$loopdev" &&
		echo Y >$zsw && echo 0 >/sys/fs/cgroup/memory.zswap.writeback
}
zswap_off() {
	[ -n "$loopdev" ] && swapoff "$loopdev" 2>/dev/null
	[ -n "$loopdev" ] && losetup -d "$loopdev"
	rm -f /tmp/selftest-swap
	echo "$zswap_was" >$zsw
	echo "$wb_was" >/sys/fs/cgroup/memory.zswap.writeback
	loopdev=
}
sed -e 's/#.*//' "$list" | while IFS='|' read -r name tmo tries cmd knobs; do
	name=$(echo $name)
	[ -n "$name" ] || continue
	tmo=$(echo $tmo)
	tries=$(echo $tries)
	logf=$PWD/selftests/$name.log
	echo "selftest: $name: $cmd"
	try=1 first= restore= badknob= zswap=
	: >"$logf"
	case " $knobs " in
	*" +zswap "*)
		zswap=1
		knobs=$(echo " $knobs " | sed 's/ +zswap / /')
		zswap_on >>"$logf" 2>&1 || badknob="+zswap (swap device, zswap)" ;;
	esac
	for kv in $knobs; do
		# A choice reads as "a [b] c": b is what to write back.
		if old=$(cat $ksm/${kv%%=*} 2>/dev/null) &&
		   case $old in *\[*\]*) old=${old#*\[}; old=${old%%\]*} ;; esac &&
		   echo "${kv#*=}" >$ksm/${kv%%=*}; then
			restore="$restore ${kv%%=*}=$old"
		else
			badknob=$kv
		fi
	done
	if [ -n "$badknob" ]; then
		for kv in $restore; do
			echo "${kv#*=}" >$ksm/${kv%%=*}
		done
		[ -z "$zswap" ] || zswap_off >>"$logf" 2>&1
		echo "FAIL $name (cannot set $ksm/$badknob)" >>"$res"
		continue
	fi
	while :; do
		start=$(date +%s)
		echo "=== try $try: $cmd" >>"$logf"
		(cd "$bindir" && timeout -k 5 "$tmo" sh -c "./$(echo $cmd)") >>"$logf" 2>&1 </dev/null
		rc=$?
		secs=$(( $(date +%s) - start ))
		# Leave KSM as the next run expects it: stopped, nothing merged.
		echo 2 >$ksm/run 2>/dev/null
		echo 0 >$ksm/run 2>/dev/null
		case $rc in 0|4) break ;; esac
		[ "$try" -lt "$tries" ] || break
		first="; try $try: exit $rc"
		try=$((try + 1))
	done
	for kv in $restore; do
		echo "${kv#*=}" >$ksm/${kv%%=*}
	done
	[ -z "$zswap" ] || zswap_off >>"$logf" 2>&1
	case $rc in
	0) echo "PASS $name (${secs}s${first:+, on try $try$first})" >>"$res" ;;
	4) echo "SKIP $name ($(grep -m1 -i skip "$logf" | cut -c1-80))" >>"$res" ;;
	124) echo "FAIL $name (timeout after ${tmo}s${first})" >>"$res" ;;
	*) echo "FAIL $name (exit $rc${first})" >>"$res" ;;
	esac
	tail -n 2 "$logf"
done
cat "$res"
