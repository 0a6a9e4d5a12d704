#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# stress.sh - make stress: build the "stress" kernel (the test flavour plus
# KASAN), boot it with the test guest's memory layout and run ksm_stress
# for STRESS_SECONDS (default 1800; STRESS_PAGES per worker, 2048) with
# every KSM++ tier on, knobs flipping and allocation failures injected
# into ksmd; every tier must have worked (ksm_stress -t).
#
# Prints ksm_stress's summary and the kernel splats found in the console
# log; the run's files (list, log, console) go to $B/stress/DATE-TIME/.
# Exit status 0 only if ksm_stress passed and the log shows no splat.

. "$(dirname "$0")/lib.sh"

secs=${STRESS_SECONDS:-1800}
[[ "$secs" =~ ^[0-9]+$ ]] && [ "$secs" -ge 10 ] ||
	die "STRESS_SECONDS must be a whole number of seconds, at least 10"
# Pages per worker (4 workers): fewer than make test's 4096, as KASAN
# slows ksmd's full scans and the tiers need a few of them to act.
pages=${STRESS_PAGES:-2048}
[[ "$pages" =~ ^[0-9]+$ ]] && [ "$pages" -ge 64 ] ||
	die "STRESS_PAGES must be a whole number of pages, at least 64"
need_pkgs $BUILD_PKGS $BOOT_PKGS $TEST_PKGS
"$REPO/scripts/build.sh" stress || die "stress kernel build failed"

ST=$B/stress-bin/mm
mkdir -p "$ST"
log "building ksm_stress"
make -s -C "$SRC" O="$B/obj-stress" headers || die "make headers failed"
make -s -C "$SRC/tools/testing/selftests/mm" OUTPUT="$ST" \
	KHDR_INCLUDES="-isystem $B/obj-stress/usr/include" "$ST/ksm_stress" ||
	die "ksm_stress build failed"

out=$B/stress/$(date +%Y%m%d-%H%M%S)
mkdir -p "$out"
echo "ksm_stress | $((secs + 900)) | 1 | ksm_stress -s $secs -p $pages -S auto -t" >"$out/list"
log "booting the stress kernel: ksm_stress for ${secs}s"
rc=0
"$REPO/scripts/boot.sh" -f stress "${TEST_GUEST_ARGS[@]}" -t $((secs + 1800)) \
	-o "$out" -- "$REPO/scripts/guest-selftests.sh" "$ST" "$out/list" >"$out/boot.log" 2>&1 || rc=1
grep -q '^PASS' "$out/selftests/results" 2>/dev/null || rc=1
# grep -c prints 0 and fails when nothing matches (lib.sh sets -e).
splats=$(grep -Ec "$SPLAT_RE" "$out/console.log" 2>/dev/null || true)
[ "${splats:-0}" = 0 ] || rc=1
grep -h '# stress:' "$out/selftests/ksm_stress.log" 2>/dev/null | sed 's/^# //' || true
echo "stress: kernel splats in the console log: ${splats:-0} ($out/console.log)"
echo "stress: $(cat "$out/selftests/results" 2>/dev/null || echo 'no result') on $(date +%F)"
exit $rc
