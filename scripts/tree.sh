#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# tree.sh - prepare the kernel source tree: base + overlay + patches.
#
# The base is Debian's linux-source-6.12, unpacked once into $B/linux and
# committed there as a git repository (tag "base"): the pristine copy.
# Every run rebuilds the "applied" commit from scratch - base, plus every
# file under the overlay directories, plus patches/*.patch in series order -
# and checks it out.  Git only rewrites files whose content changed, so an
# unchanged series leaves every timestamp alone and make rebuilds nothing,
# while an edited patch or overlay file rebuilds exactly what it touches.
#
# Usage: tree.sh [--check]      (--check: apply into a scratch index only)

. "$(dirname "$0")/lib.sh"

git_src() { git -C "$SRC" "$@"; }

unpack_base() {
	if [ -n "${KSMPP_SRC:-}" ]; then
		git_src rev-parse -q --verify base >/dev/null || die "$SRC has no base tag"
		return 0
	fi
	need_pkgs $BUILD_PKGS
	[ -f "$BASE_TARBALL" ] || die "$BASE_TARBALL missing after installing $BASE_PKG"
	local pv tmp
	pv=$(base_pkg_version)
	if [ -d "$SRC/.git" ] && [ "$(cat "$B/base-pkg-version" 2>/dev/null)" = "$pv" ]; then
		return 0
	fi
	log "unpacking $BASE_TARBALL ($BASE_PKG $pv) into $SRC"
	tmp=$B/linux.unpack
	# The scratch worktree of test.sh belongs to the old repository.
	rm -rf "$tmp" "$SRC" "$B/scratch"
	mkdir -p "$tmp"
	tar -xf "$BASE_TARBALL" -C "$tmp" --strip-components=1
	log "committing the pristine base (one-time, about a minute)"
	git -C "$tmp" init -q -b base-tree
	git -C "$tmp" config user.name "KSM++ build"
	git -C "$tmp" config user.email "ksmpp@localhost"
	git -C "$tmp" config core.autocrlf false
	git -C "$tmp" config gc.auto 0
	# -f: the tree's own .gitignore must not hide any file of the base.
	git -C "$tmp" add -A -f .
	GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
		git -C "$tmp" commit -q -m "Debian $BASE_PKG $pv"
	git -C "$tmp" tag base
	mv "$tmp" "$SRC"
	echo "$pv" >"$B/base-pkg-version"
}

# series_entries: print "patch-file" lines of patches/series in order,
# or every patches/*.patch sorted if there is no series file.
series_patches() {
	if [ -f "$SERIES_ROOT/patches/series" ]; then
		sed -e 's/#.*//' "$SERIES_ROOT/patches/series" | awk '/^[^ \t]/ { print $1 }'
	else
		(cd "$SERIES_ROOT/patches" && ls -1 -- *.patch 2>/dev/null) || true
	fi
}

# A patch that only carries a commit message (the commit adds new files).
patch_has_diff() { grep -q '^diff --git ' "$1"; }

# build_applied_commit: print the commit id of base + overlay + patches.
build_applied_commit() {
	local f p n=0
	idx=$(mktemp "$B/index.XXXXXX")
	# Runs in $(...): the subshell's EXIT trap also covers die().
	trap 'rm -f "$idx"' EXIT
	export GIT_INDEX_FILE=$idx
	git_src read-tree base
	# Overlay: new files at their kernel paths.
	while IFS= read -r -d '' f; do
		f=${f#./}
		if git_src cat-file -e "base:$f" 2>/dev/null; then
			unset GIT_INDEX_FILE
			die "overlay file $f exists upstream: change it with a patch in patches/"
		fi
		local mode=100644
		[ -x "$SERIES_ROOT/$f" ] && mode=100755
		git_src update-index --add --cacheinfo \
			"$mode,$(git_src hash-object -w --path="$f" "$SERIES_ROOT/$f"),$f"
		n=$((n + 1))
	done < <(cd "$SERIES_ROOT" && for d in $OVERLAY_DIRS; do
			if [ -d "$d" ]; then find "$d" -type f ! -name '.gitkeep' -print0; fi
		 done)
	# Patches, in series order.
	while read -r p; do
		[ -n "$p" ] || continue
		[ -f "$SERIES_ROOT/patches/$p" ] || { unset GIT_INDEX_FILE; die "patches/series names missing patch $p"; }
		patch_has_diff "$SERIES_ROOT/patches/$p" || continue
		if ! git_src apply --cached --whitespace=nowarn "$SERIES_ROOT/patches/$p" >&2; then
			unset GIT_INDEX_FILE
			die "patch patches/$p does not apply"
		fi
	done < <(series_patches)
	local tree
	tree=$(git_src write-tree)
	unset GIT_INDEX_FILE
	# Deterministic commit: same content, same id.
	GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z" \
		git_src commit-tree "$tree" -p base -m "KSM++ applied ($n overlay files)"
}

unpack_base
commit=$(build_applied_commit)
[ "${1:-}" = --check ] && { log "series applies cleanly"; exit 0; }
if [ "$(git_src rev-parse -q --verify HEAD^{tree})" != "$(git_src rev-parse "$commit^{tree}")" ] ||
   [ -n "$(git_src status --porcelain --untracked-files=normal)" ]; then
	log "checking out base + overlay + patches"
	git_src reset -q --hard "$commit"
	git_src clean -fdq
else
	git_src update-ref HEAD "$commit"
fi
[ -n "${KSMPP_SRC:-}" ] || echo "$(base_version)" >"$B/kernel-version"
log "source tree ready: $SRC (Linux $(base_version), Debian $BASE_PKG $(cat "$B/base-pkg-version"))"
