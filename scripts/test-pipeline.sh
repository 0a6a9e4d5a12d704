#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# test-pipeline.sh - tests of the tree/series machinery itself, on a
# scratch worktree of the base and a synthetic overlay.  Prints TAP-ish
# "ok NAME" / "not ok NAME" lines; exit status 1 on the first failure.

. "$(dirname "$0")/lib.sh"

"$REPO/scripts/tree.sh" >/dev/null 2>&1 || { echo "not ok pipeline: tree.sh failed"; exit 1; }
scratch=$(scratch_worktree)
ov=$(mktemp -d "$B/pipeline-ov.XXXXXX")
trap 'rm -rf "$ov"' EXIT
mkdir -p "$ov/mm" "$ov/patches"

ok() { echo "ok $*"; }
notok() { echo "not ok $*"; exit 1; }
apply() { KSMPP_SRC=$scratch KSMPP_SERIES_DIR=$ov "$REPO/scripts/tree.sh" 2>"$ov/err"; }
mtimes() { (cd "$scratch" && stat -c '%n %Y' mm/Makefile mm/ksm.c mm/ksmpp_probe.c 2>/dev/null); }

# A patch to an upstream file, made against the base.
mkpatch() {	# mkpatch TEXT > patch
	git -C "$scratch" show base:mm/Makefile >"$ov/Makefile.orig"
	cp "$ov/Makefile.orig" "$ov/Makefile.new"
	echo "# $1" >>"$ov/Makefile.new"
	cat <<-HDR
	From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001
	From: KSM++ Test <test@localhost>
	Date: Sat, 1 Jan 2000 00:00:00 +0000
	Subject: [PATCH] mm: pipeline probe

	Probe commit of the pipeline self-test.

	Signed-off-by: KSM++ Test <test@localhost>
	---
	HDR
	(cd "$ov" && diff -u --label a/mm/Makefile --label b/mm/Makefile Makefile.orig Makefile.new |
		sed '1i diff --git a/mm/Makefile b/mm/Makefile') || true
	echo "-- "
	echo "2.39.5"
}

echo "probe" >"$ov/mm/ksmpp_probe.c"
mkpatch "probe one" >"$ov/patches/0001-mm-pipeline-probe.patch"
printf '0001-mm-pipeline-probe.patch mm/ksmpp_probe.c\n' >"$ov/patches/series"
apply || notok "pipeline: overlay and patch apply ($(cat "$ov/err"))"
grep -q '^# probe one$' "$scratch/mm/Makefile" && [ -f "$scratch/mm/ksmpp_probe.c" ] ||
	notok "pipeline: overlay and patch apply (content missing)"
ok "pipeline: overlay file and patch applied to the base"

before=$(mtimes)
sleep 1.1
apply || notok "pipeline: re-apply ($(cat "$ov/err"))"
[ "$(mtimes)" = "$before" ] || notok "pipeline: re-apply touched files: $(mtimes)"
ok "pipeline: re-applying an unchanged series touches no file"

ksm_before=$(cd "$scratch" && stat -c %Y mm/ksm.c)
mkpatch "probe two" >"$ov/patches/0001-mm-pipeline-probe.patch"
apply || notok "pipeline: edited patch ($(cat "$ov/err"))"
grep -q '^# probe two$' "$scratch/mm/Makefile" && ! grep -q '^# probe one$' "$scratch/mm/Makefile" ||
	notok "pipeline: edited patch not re-applied"
[ "$(cd "$scratch" && stat -c %Y mm/ksm.c)" = "$ksm_before" ] || notok "pipeline: edit touched mm/ksm.c"
ok "pipeline: an edited patch is re-applied, other files untouched"

# Series: one commit (patch + overlay file) applies with git am.
KSMPP_SRC=$scratch KSMPP_SERIES_DIR=$ov "$REPO/scripts/series.sh" "$ov/out" 2>"$ov/err" ||
	notok "pipeline: series emit ($(cat "$ov/err"))"
want=$(git -C "$scratch" rev-parse 'HEAD^{tree}')
[ -f "$ov/out/0001-mm-pipeline-probe.patch" ] && [ -f "$ov/out/0000-cover-letter.patch" ] ||
	notok "pipeline: series files missing: $(ls "$ov/out")"
git -C "$scratch" checkout -q -f --detach base
git -C "$scratch" -c user.name=t -c user.email=t@localhost am -q "$ov/out/0001-mm-pipeline-probe.patch" ||
	notok "pipeline: git am of the emitted series"
[ "$(git -C "$scratch" rev-parse 'HEAD^{tree}')" = "$want" ] || notok "pipeline: git am result differs"
ok "pipeline: emitted series (patch + new file) applies with git am, same tree"

printf 'mm/unlisted.c\n' >"$ov/mm/unlisted.c"
if KSMPP_SRC=$scratch KSMPP_SERIES_DIR=$ov "$REPO/scripts/series.sh" "$ov/out" 2>"$ov/err"; then
	notok "pipeline: series accepted an overlay file missing from patches/series"
fi
grep -q 'mm/unlisted.c' "$ov/err" || notok "pipeline: unlisted file not named: $(cat "$ov/err")"
rm "$ov/mm/unlisted.c"
ok "pipeline: an overlay file missing from patches/series is an error"

rm "$ov/mm/ksmpp_probe.c"
printf '0001-mm-pipeline-probe.patch\n' >"$ov/patches/series"
apply || notok "pipeline: overlay removal ($(cat "$ov/err"))"
[ ! -e "$scratch/mm/ksmpp_probe.c" ] || notok "pipeline: removed overlay file still in the tree"
ok "pipeline: a file removed from the overlay leaves the tree"

# Same hunk, but with context lines that are not in mm/Makefile.
sed 's/^+# probe two$/+# probe three/; /^@@/,$ s/^ \(.\)/ broken-context \1/' \
	"$ov/patches/0001-mm-pipeline-probe.patch" >"$ov/patches/0002-mm-broken.patch"
grep -q '^ broken-context' "$ov/patches/0002-mm-broken.patch" || notok "pipeline: could not make a broken patch"
printf '0001-mm-pipeline-probe.patch\n0002-mm-broken.patch\n' >"$ov/patches/series"
if apply; then notok "pipeline: a failing patch was accepted"; fi
grep -q 'patches/0002-mm-broken.patch' "$ov/err" || notok "pipeline: failing patch not named: $(cat "$ov/err")"
ok "pipeline: a patch that does not apply stops with its name and non-zero exit"

rm "$ov/patches/0002-mm-broken.patch"
printf '0001-mm-pipeline-probe.patch\n' >"$ov/patches/series"
echo x >"$ov/mm/ksm.c"
if apply; then notok "pipeline: overlay replacing an upstream file accepted"; fi
grep -q 'mm/ksm.c exists upstream' "$ov/err" || notok "pipeline: $(cat "$ov/err")"
ok "pipeline: an overlay file that exists upstream is an error"

# The KUnit summary turns KTAP failures into FAIL lines.
cat >"$ov/console.log" <<'LOG'
[    1.0] KTAP version 1
[    1.0] 1..2
[    1.0]     KTAP version 1
[    1.0]     # Subtest: probe_ok
[    1.0]     1..1
[    1.0]     ok 1 probe_case
[    1.0] ok 1 probe_ok
[    1.0]     KTAP version 1
[    1.0]     # Subtest: probe_bad
[    1.0]     1..1
[    1.0]     not ok 1 probe_case
[    1.0] not ok 2 probe_bad
LOG
python3 "$SRC/tools/testing/kunit/kunit.py" parse --json="$ov/k.json" "$ov/console.log" >/dev/null 2>&1 &&
	notok "pipeline: kunit.py parse accepted a failing suite"
python3 "$REPO/scripts/kunit-summary.py" "$ov/k.json" >"$ov/k.lines"
grep -q '^PASS kunit: probe_ok' "$ov/k.lines" && grep -q '^FAIL kunit: probe_bad' "$ov/k.lines" ||
	notok "pipeline: KUnit summary wrong: $(cat "$ov/k.lines")"
ok "pipeline: KUnit results are parsed, a failing suite is reported"
