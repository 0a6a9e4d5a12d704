#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# series.sh - emit the whole KSM++ series as mailable patches.
#
# patches/series lists the commits in review order, one per line:
#
#     NNNN-subject.patch  [overlay/file ...]
#         [more overlay files on indented continuation lines]
#
# Each entry's .patch (git format-patch style) gives the commit's author,
# subject and message and its changes to files that exist upstream (it may
# have no diff at all); the overlay files named after it (new files of the
# series at their kernel paths) are added in the same commit.  Every overlay
# file must be named exactly once.  The cover letter is patches/cover-letter
# (first line: subject; the rest: body).
#
# Output: $B/series/0000-cover-letter.patch, 0001-*.patch, ... which
# `git am` applies to the pristine base; the result is verified to be
# byte-identical to the tree that tree.sh builds.
#
# Usage: series.sh [OUTDIR]

. "$(dirname "$0")/lib.sh"

out=${1:-$B/series}
"$REPO/scripts/tree.sh" >/dev/null
git_src() { git -C "$SRC" "$@"; }

work=$(mktemp -d "$B/series-work.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_INDEX_FILE=$work/index
git_src read-tree base

# Parse the manifest into "patch file..." lines.
entries=$work/entries
if [ -f "$SERIES_ROOT/patches/series" ]; then
	sed -e 's/#.*//' "$SERIES_ROOT/patches/series" | awk '
		/^[^ \t]/ { if (line != "") print line; line = $0; next }
		/[^ \t]/  { if (line == "") { print "continuation before any patch" > "/dev/stderr"; exit 1 }
			    line = line " " $0 }
		END       { if (line != "") print line }' | tr -s ' \t' ' ' >"$entries"
else
	(cd "$SERIES_ROOT/patches" && ls -1 -- *.patch 2>/dev/null) >"$entries" || true
fi

# Every overlay file must belong to exactly one entry.
(cd "$SERIES_ROOT" && for d in $OVERLAY_DIRS; do
	if [ -d "$d" ]; then find "$d" -type f ! -name .gitkeep; fi
 done) | sort >"$work/overlay"
cut -s -d' ' -f2- "$entries" | tr ' ' '\n' | sed '/^$/d' | sort >"$work/named"
dups=$(uniq -d "$work/named")
[ -z "$dups" ] || die "patches/series names these files twice: $dups"
missing=$(comm -23 "$work/overlay" "$work/named")
[ -z "$missing" ] || die "overlay files not in any patches/series entry: $(echo $missing)"
extra=$(comm -13 "$work/overlay" "$work/named")
[ -z "$extra" ] || die "patches/series names files that are not in the overlay: $(echo $extra)"

parent=$(git_src rev-parse base)
n=0
while read -r p files; do
	[ -n "$p" ] || continue
	pf=$SERIES_ROOT/patches/$p
	[ -f "$pf" ] || die "patches/series names missing patch $p"
	for f in $files; do
		mode=100644
		[ -x "$SERIES_ROOT/$f" ] && mode=100755
		git_src update-index --add --cacheinfo \
			"$mode,$(git_src hash-object -w --path="$f" "$SERIES_ROOT/$f"),$f"
	done
	git mailinfo -b "$work/msg" "$work/diff" <"$pf" >"$work/info" ||
		die "patches/$p: not a git format-patch style patch"
	if [ -s "$work/diff" ]; then
		git_src apply --cached --whitespace=nowarn "$work/diff" ||
			die "patch patches/$p does not apply"
	fi
	subject=$(sed -n 's/^Subject: //p' "$work/info")
	author=$(sed -n 's/^Author: //p' "$work/info")
	email=$(sed -n 's/^Email: //p' "$work/info")
	date=$(sed -n 's/^Date: //p' "$work/info")
	[ -n "$subject" ] && [ -n "$author" ] && [ -n "$email" ] ||
		die "patches/$p: needs From: and Subject: headers"
	tree=$(git_src write-tree)
	parent=$( { echo "$subject"; echo; cat "$work/msg"; } |
		GIT_AUTHOR_NAME=$author GIT_AUTHOR_EMAIL=$email GIT_AUTHOR_DATE=${date:-2000-01-01T00:00:00Z} \
		GIT_COMMITTER_NAME=$author GIT_COMMITTER_EMAIL=$email GIT_COMMITTER_DATE=${date:-2000-01-01T00:00:00Z} \
		git_src commit-tree "$tree" -p "$parent" -F -)
	n=$((n + 1))
done <"$entries"
unset GIT_INDEX_FILE

applied=$(git_src rev-parse "HEAD^{tree}")
[ "$(git_src rev-parse "$parent^{tree}")" = "$applied" ] ||
	die "series does not add up to the applied tree (a patch or overlay file is missing from patches/series)"

rm -rf "$out"
mkdir -p "$out"
if [ $n = 0 ]; then
	log "series is empty: no commits yet"
	exit 0
fi
git_src update-ref refs/heads/ksmpp-series "$parent"
git_src format-patch -q --cover-letter --thread=shallow -o "$out" base..ksmpp-series
if [ -f "$SERIES_ROOT/patches/cover-letter" ]; then
	cover=$out/0000-cover-letter.patch
	csubj=$(head -n1 "$SERIES_ROOT/patches/cover-letter")
	tail -n +3 "$SERIES_ROOT/patches/cover-letter" >"$work/cbody"
	sed -i -e "s/\*\*\* SUBJECT HERE \*\*\*/$(printf '%s' "$csubj" | sed 's/[\/&]/\\&/g')/" "$cover"
	awk -v bodyf="$work/cbody" '
		/^\*\*\* BLURB HERE \*\*\*$/ { while ((getline l < bodyf) > 0) print l; next }
		{ print }' "$cover" >"$work/cover" && mv "$work/cover" "$cover"
fi
log "series: $n patches + cover letter in $out"
