#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# guest-selftests.sh BINDIR LIST - run the selftests of LIST inside the
# guest.  Writes "PASS|FAIL|SKIP name [detail]" lines to selftests/results
# and each test's output to selftests/NAME.log under the current directory
# (the result share).  KSFT_SKIP (4) counts as a skip.
bindir=$1
list=$2
mkdir -p selftests
res=$PWD/selftests/results
: >"$res"
ksm=/sys/kernel/mm/ksm
sed -e 's/#.*//' "$list" | while IFS='|' read -r name tmo cmd; do
	name=$(echo $name)
	[ -n "$name" ] || continue
	tmo=$(echo $tmo)
	logf=$PWD/selftests/$name.log
	echo "selftest: $name: $cmd"
	start=$(date +%s)
	(cd "$bindir" && timeout -k 5 "$tmo" sh -c "./$(echo $cmd)") >"$logf" 2>&1 </dev/null
	rc=$?
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) echo "PASS $name (${secs}s)" >>"$res" ;;
	4) echo "SKIP $name ($(grep -m1 -i skip "$logf" | cut -c1-80))" >>"$res" ;;
	124) echo "FAIL $name (timeout after ${tmo}s)" >>"$res" ;;
	*) echo "FAIL $name (exit $rc)" >>"$res" ;;
	esac
	tail -n 3 "$logf"
	# Leave KSM as the next test expects it: stopped, nothing merged.
	echo 2 >$ksm/run 2>/dev/null
	echo 0 >$ksm/run 2>/dev/null
done
cat "$res"
