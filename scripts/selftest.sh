#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# selftest.sh NAME... - for development: build the test kernel and the
# selftests that the named lines of scripts/selftests.list need, boot once
# and run just those lines (NAME is the first column; a prefix selects
# every line starting with it).  Output and the console log are in
# $B/selftest/.  Exit status 0 only if every selected test passed and the
# console shows no splat.

. "$(dirname "$0")/lib.sh"

[ $# -gt 0 ] || die "usage: selftest.sh NAME... (first column of scripts/selftests.list)"
need_pkgs $BUILD_PKGS $BOOT_PKGS $TEST_PKGS
"$REPO/scripts/tree.sh"
"$REPO/scripts/build.sh" test

out=$B/selftest
rm -rf "$out"
mkdir -p "$out"
list=$out/selftests.list
for n in "$@"; do
	sed -e 's/#.*//' "$REPO/scripts/selftests.list" | awk -F'|' -v n="$n" \
		'NF >= 4 { name = $1; gsub(/ /, "", name); if (index(name, n) == 1) print }'
done | sort -u >"$list"
[ -s "$list" ] || die "no line of scripts/selftests.list starts with: $*"
bins=$(awk -F'|' '{ split($4, w, " "); print w[1] }' "$list" | sort -u)

ST=$B/selftests/mm
mkdir -p "$ST"
log "building selftests: $(echo $bins)"
make -s -C "$SRC" O="$B/obj-test" headers || die "make headers failed"
make -s -C "$SRC/tools/testing/selftests/mm" OUTPUT="$ST" \
	KHDR_INCLUDES="-isystem $B/obj-test/usr/include" \
	$(for b in $bins; do echo "$ST/$b"; done) || die "selftests build failed"

log "booting the test kernel for $(wc -l <"$list") selftest line(s)"
"$REPO/scripts/boot.sh" -f test "${TEST_GUEST_ARGS[@]}" -t 1500 -o "$out" -- \
	"$REPO/scripts/guest-selftests.sh" "$ST" "$list" || die "boot failed (see $out/console.log)"
rc=0
grep -q '^FAIL' "$out/selftests/results" && rc=1
if grep -Eq "$SPLAT_RE" "$out/console.log"; then
	echo "console: kernel splat in $out/console.log"
	rc=1
fi
exit $rc
