#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-selftests.sh BINDIR LIST - run the selftests of LIST inside the
# guest.  Writes "PASS|FAIL|SKIP name (detail)" lines to selftests/results
# and each test's output to selftests/NAME.log under the current directory
# (the result share).  KSFT_SKIP (4) counts as a skip.  An optional fifth
# column sets /sys/kernel/mm/ksm knobs (name=value ...) for the test and
# puts back their old values afterwards.
bindir=$1
list=$2
mkdir -p selftests
res=$PWD/selftests/results
: >"$res"
ksm=/sys/kernel/mm/ksm
sed -e 's/#.*//' "$list" | while IFS='|' read -r name tmo tries cmd knobs; do
	name=$(echo $name)
	[ -n "$name" ] || continue
	tmo=$(echo $tmo)
	tries=$(echo $tries)
	logf=$PWD/selftests/$name.log
	echo "selftest: $name: $cmd"
	try=1 first= restore= badknob=
	: >"$logf"
	for kv in $knobs; do
		if old=$(cat $ksm/${kv%%=*} 2>/dev/null) &&
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
	case $rc in
	0) echo "PASS $name (${secs}s${first:+, on try $try$first})" >>"$res" ;;
	4) echo "SKIP $name ($(grep -m1 -i skip "$logf" | cut -c1-80))" >>"$res" ;;
	124) echo "FAIL $name (timeout after ${tmo}s${first})" >>"$res" ;;
	*) echo "FAIL $name (exit $rc${first})" >>"$res" ;;
	esac
	tail -n 2 "$logf"
done
cat "$res"
