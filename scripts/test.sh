#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test.sh - the KSM++ test suite (make test).
#
#  1. pipeline: the tree/patch machinery (idempotent apply, failing patch)
#  2. series: the emitted series applies with `git am` to the pristine base
#     and yields exactly the tree we build
#  3. checkpatch.pl --strict on every patch of the series
#  4. scripts/kernel-doc -none on every new .c/.h file; 4b. a bounded
#     libFuzzer run over the patch decoder (tools/testing/ksm_patch)
#  5. boots the `test` kernel (two NUMA nodes) and runs the KUnit suites
#     built into it (KTAP parsed by kunit.py) and the selftests of
#     scripts/selftests.list (upstream KSM selftests plus ours)
#  6. the console log of that boot has no WARN/BUG/lockdep/KASAN/KFENCE splat
#  7. replay: two QEMU guests recorded at the host level (make trace, small)
#     and replayed in the test kernel with every feature on, every page
#     checked against the recording; no splat in that boot either
#
# One line per test; the last line is "N passed, N failed"; exit status is
# non-zero on any failure.

. "$(dirname "$0")/lib.sh"
set +e

npass=0 nfail=0 nskip=0
pass() { npass=$((npass + 1)); echo "PASS $*"; }
fail() { nfail=$((nfail + 1)); echo "FAIL $*"; }
skip() { nskip=$((nskip + 1)); echo "SKIP $*"; }
summary() {
	echo "$npass passed, $nfail failed"
	[ $nfail = 0 ]
}

T=$B/test
mkdir -p "$T"
if ! (need_pkgs $BUILD_PKGS $BOOT_PKGS $TEST_PKGS); then
	fail "setup: installing the Debian packages (log: $B/apt.log)"
	summary
	exit 1
fi

# The base tree, overlay and patches: everything below needs them.
log "preparing the source tree"
if ! "$REPO/scripts/tree.sh" >"$T/tree.log" 2>&1; then
	fail "tree: base + overlay + patches ($(tail -n1 "$T/tree.log"))"
	summary
	exit 1
fi
pass "tree: $(tail -n1 "$T/tree.log" | sed 's/^\[ *[0-9]*s\] //')"

# --- 1. pipeline ---------------------------------------------------------
log "pipeline self-test"
if "$REPO/scripts/test-pipeline.sh" >"$T/pipeline.log" 2>&1; then
	while read -r l; do pass "$l"; done < <(sed -n 's/^ok //p' "$T/pipeline.log")
else
	sed -n 's/^ok //p' "$T/pipeline.log" | while read -r l; do echo "PASS $l"; done
	npass=$((npass + $(grep -c '^ok ' "$T/pipeline.log" || true)))
	fail "pipeline: $(grep -m1 '^not ok' "$T/pipeline.log" || tail -n1 "$T/pipeline.log")"
	tail -n 20 "$T/pipeline.log"
fi

# --- 2. series applies with git am ---------------------------------------
log "emitting the series and applying it with git am"
rm -rf "$T/series"
if ! "$REPO/scripts/series.sh" "$T/series" >"$T/series.log" 2>&1; then
	fail "series: emit ($(tail -n1 "$T/series.log"))"
else
	scratch=$(scratch_worktree)
	mapfile -t patches < <(find "$T/series" -name '0*.patch' ! -name '0000-cover-letter.patch' | sort)
	npatch=${#patches[@]}
	if [ "$npatch" -gt 0 ] &&
	   ! git -C "$scratch" -c user.name=test -c user.email=test@localhost \
		am -q "${patches[@]}" >"$T/am.log" 2>&1; then
		fail "series: git am ($(head -n1 "$T/am.log"))"
	elif [ "$(git -C "$scratch" rev-parse 'HEAD^{tree}')" != "$(git -C "$SRC" rev-parse 'HEAD^{tree}')" ]; then
		fail "series: $npatch patches applied but the tree differs from the built tree"
	else
		pass "series: $npatch patches apply with git am to $BASE_PKG $(cat "$B/base-pkg-version") and match the built tree"
	fi
fi

# --- 3. checkpatch ---------------------------------------------------------
: >"$T/checkpatch.log"
for p in "$T/series"/0*.patch; do
	[ -f "$p" ] || continue
	case $p in *0000-cover-letter.patch) continue ;; esac
	# Debian's python3 first: spdxcheck.py needs python3-ply and
	# python3-git (not a pyenv one).  Any output (a warning, or a
	# spdxcheck traceback) fails the patch.
	if out=$(cd "$SRC" && PATH=/usr/bin:$PATH ./scripts/checkpatch.pl --strict --quiet --no-summary --show-types "$p" 2>&1) &&
	   [ -z "$out" ]; then
		pass "checkpatch --strict: $(basename "$p")"
	else
		fail "checkpatch --strict: $(basename "$p")"
		printf '%s\n' "$out" | sed 's/^/    /' | head -n 30
	fi
	printf '%s\n' "$out" >>"$T/checkpatch.log"
done

# --- 4. kernel-doc ---------------------------------------------------------
while read -r f; do
	if out=$(cd "$SRC" && ./scripts/kernel-doc -none -Wall "$f" 2>&1) && [ -z "$out" ]; then
		pass "kernel-doc: $f"
	else
		fail "kernel-doc: $f"
		echo "$out" | sed 's/^/    /' | head -n 20
	fi
done < <(cd "$REPO" && for d in $OVERLAY_DIRS; do
		if [ -d "$d" ]; then find "$d" -type f \( -name '*.c' -o -name '*.h' \) ! -path 'tools/*'; fi
	 done | sort)

# --- 4b. fuzz: the patch decoder in user space (libFuzzer) ------------------
fz=$T/fuzz
rm -rf "$fz"
mkdir -p "$fz"
if make -s -C "$SRC/tools/testing/ksm_patch" OUTPUT="$fz/" >"$fz/build.log" 2>&1; then
	if make -s -C "$SRC/tools/testing/ksm_patch" OUTPUT="$fz/" \
		FUZZ_SECONDS="${FUZZ_SECONDS:-60}" run >"$fz/run.log" 2>&1; then
		pass "fuzz: ksm_patch decoder, $(grep -o 'Done [0-9]* runs in [0-9]* second' "$fz/run.log" | tail -n1)s, no crash"
	else
		fail "fuzz: ksm_patch decoder (see $fz/run.log; reproducer: $fz/crash-*)"
		grep -E 'ERROR|runtime error|SUMMARY' "$fz/run.log" | head -n 5
	fi
else
	fail "fuzz: building tools/testing/ksm_patch"
	tail -n 10 "$fz/build.log"
fi

# --- 5. boot: KUnit + selftests -------------------------------------------
log "building the test kernel (log: $T/build.log)"
if ! "$REPO/scripts/build.sh" test >"$T/build.log" 2>&1; then
	fail "build: test kernel"
	tail -n 30 "$T/build.log"
	summary
	exit 1
fi
pass "build: test kernel $(cat "$B/obj-test/include/config/kernel.release")"

# The boot script returns the command's status and enforces its timeout.
"$REPO/scripts/boot.sh" -f test -m 512 -t 120 -o "$T/boot-status" -- sh -c 'echo hello from $(uname -r); exit 3' >"$T/boot-status.log" 2>&1
rc=$?
if [ $rc = 3 ] && grep -q "hello from .*-ksmpp" "$T/boot-status.log"; then
	pass "boot: the guest command's output and exit status (3) reach the host"
else
	fail "boot: guest command exit status: got $rc, want 3"
	tail -n 20 "$T/boot-status.log"
fi
"$REPO/scripts/boot.sh" -f test -m 512 -t 3 -o "$T/boot-timeout" -- sleep 600 >"$T/boot-timeout.log" 2>&1
rc=$?
[ $rc = 124 ] && pass "boot: a guest that overruns its timeout is stopped (124)" ||
	fail "boot: timeout: got status $rc, want 124"
# The test kernel is a KVM host's kernel (issue 12): cgroup controllers,
# namespaces, seccomp, PSI, tap, vhost-net and /dev/kvm, each used once.
"$REPO/scripts/boot.sh" -f test -m 512 -t 180 -o "$T/boot-host" -- "$REPO/scripts/guest-hostcheck.sh" >"$T/boot-host.log" 2>&1
rc=$?
if [ $rc = 0 ] && grep -q "host kernel: ok" "$T/boot-host.log"; then
	pass "boot: a KVM host's kernel: cgroup v2 cpuset, cpu, io, pids, hugetlb, freezer; namespaces; seccomp; PSI; tun, vhost-net, kvm"
else
	fail "boot: a KVM host's kernel (status $rc): $(grep '^missing:' "$T/boot-host.log" | tr '\n' ' ')"
fi

log "building selftests"
ST=$B/selftests/mm
mkdir -p "$ST"
bins=$(sed -e 's/#.*//' "$REPO/scripts/selftests.list" | awk -F'|' 'NF >= 4 { split($4, w, " "); print w[1] }' | sort -u)
if ! run_logged "$T/selftests-build.log" bash -c '
	make -s -C "$1" O="$2" headers &&
	make -C "$1/tools/testing/selftests/mm" OUTPUT="$3" \
		KHDR_INCLUDES="-isystem $2/usr/include" $(for b in $4; do echo "$3/$b"; done)' \
	_ "$SRC" "$B/obj-test" "$ST" "$bins"; then
	fail "build: selftests"
	tail -n 20 "$T/selftests-build.log"
	summary
	exit 1
fi
pass "build: selftests ($(echo $bins))"

run=$T/run
rm -rf "$run"
mkdir -p "$run"
log "booting the test kernel: KUnit at boot, then the selftests"
"$REPO/scripts/boot.sh" -f test "${TEST_GUEST_ARGS[@]}" -t 1500 -o "$run" -- \
	"$REPO/scripts/guest-selftests.sh" "$ST" "$REPO/scripts/selftests.list" >"$T/boot.log" 2>&1
brc=$?
[ $brc = 0 ] || { fail "boot: test kernel ran the selftests (status $brc)"; tail -n 40 "$T/boot.log"; }

# KUnit: the KTAP the built-in suites printed at boot.
if grep -q 'KTAP version' "$run/console.log" 2>/dev/null; then
	python3 "$SRC/tools/testing/kunit/kunit.py" parse --json="$T/kunit.json" "$run/console.log" >"$T/kunit.log" 2>&1
	krc=$?
	python3 "$REPO/scripts/kunit-summary.py" "$T/kunit.json" >"$T/kunit.lines" 2>>"$T/kunit.log"
	if [ -s "$T/kunit.lines" ]; then
		while read -r st rest; do
			[ "$st" = PASS ] && pass "$rest" || fail "$rest"
		done <"$T/kunit.lines"
		[ $krc = 0 ] || fail "kunit: kunit.py parse reports errors (see $T/kunit.log)"
	elif tr -d '\r' <"$run/console.log" | grep -Eq '(^|[] ])1\.\.0[[:space:]]*$'; then
		# The executor's plan is "1..0": no suite is built in.
		skip "kunit: no KUnit suites built into the test kernel"
	else
		fail "kunit: KTAP output found but no suite parsed (see $T/kunit.log)"
	fi
else
	fail "kunit: no KTAP output on the console"
fi

# Selftests.
if [ -f "$run/selftests/results" ]; then
	while read -r st rest; do
		case $st in
		PASS) pass "selftest: $rest" ;;
		SKIP) skip "selftest: $rest" ;;
		*) fail "selftest: $rest"; tail -n 15 "$run/selftests/${rest%% *}.log" | sed 's/^/    /' ;;
		esac
	done <"$run/selftests/results"
	want=$(sed -e 's/#.*//' "$REPO/scripts/selftests.list" | grep -c '|' || true)
	got=$(wc -l <"$run/selftests/results")
	[ "$got" = "$want" ] || fail "selftests: $got of $want ran"
else
	fail "selftests: no results"
fi

# --- 6. kernel splats --------------------------------------------------------
splat=$SPLAT_RE
if [ -f "$run/console.log" ]; then
	if grep -Eq "$splat" "$run/console.log"; then
		fail "console: kernel warnings in $run/console.log"
		grep -E -A12 "$splat" "$run/console.log" | head -n 60 | sed 's/^/    /'
	else
		pass "console: no WARN/BUG/lockdep/KASAN/KFENCE splat"
	fi
fi

# --- 7. a recorded trace, replayed -------------------------------------------
# Two small guests of the test kernel recorded at the host level, then
# replayed in the test kernel with hints and both tiers on.
tr=$T/trace
rm -rf "$tr" "$T/replay"
log "recording a small trace (log: $T/trace.log)"
if TRACE_DIR=$tr TRACE_FLAVOUR=test TRACE_GUESTS=2 TRACE_MEM=128 \
	TRACE_SECONDS=30 TRACE_JOBS="seqread idle" TRACE_IO=direct \
	"$REPO/scripts/trace.sh" >"$T/trace.log" 2>&1; then
	pass "trace: 2 guests recorded ($(du -sh "$tr" | cut -f1), $(sed -n 's/^seconds=//p' "$tr/manifest.txt") s)"
	mkdir -p "$T/replay"
	if gcc -O2 -Wall -Wextra -o "$T/replay/ksm_replay" "$REPO/benchmarks/replay/ksm_replay.c" \
		-lzstd -lxxhash >"$T/replay/build.log" 2>&1; then
		"$REPO/scripts/boot.sh" -f test -m 1536 -t 600 -o "$T/replay" -- \
			"$REPO/scripts/guest-replay.sh" "$T/replay/ksm_replay" "$tr" >"$T/replay.log" 2>&1
		rc=$?
		res=$(grep -a -m1 'RESULT' "$T/replay.log" | tr -d '\r')
		read_pages=$(sed -n 's/.* pages_read=\([0-9]*\).*/\1/p' <<<"$res")
		if [ $rc = 0 ] && [[ "$res" == *" data=ok"* ]] && [ "${read_pages:-0}" -gt 0 ]; then
			pass "replay: every page equals the recording, hints, cold and patch tiers on ($read_pages pages read)"
		else
			fail "replay: status $rc: ${res:-no RESULT}"
			tail -n 20 "$T/replay.log"
		fi
		if grep -Eq "$SPLAT_RE" "$T/replay/console.log" 2>/dev/null; then
			fail "console: kernel warnings in $T/replay/console.log"
			grep -E -A12 "$SPLAT_RE" "$T/replay/console.log" | head -n 60 | sed 's/^/    /'
		else
			pass "console: no splat while replaying"
		fi
	else
		fail "build: ksm_replay"
		tail -n 10 "$T/replay/build.log"
	fi
else
	fail "trace: recording 2 guests (see $T/trace.log)"
	tail -n 10 "$T/trace.log"
fi

log "logs: $T"
summary
