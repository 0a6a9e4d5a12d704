# SPDX-License-Identifier: GPL-2.0
# Common helpers for the KSM++ scripts.  Sourced, never executed.
#
# Environment (all optional):
#   KSMPP_BUILD_DIR  where every build product goes (default: <repo>/build)
#   KSMPP_JOBS       make -j value (default: number of CPUs)
#   KSMPP_KVM=1      boot the patched kernel with KVM instead of TCG
#   KSMPP_NO_APT=1   never call apt-get; fail if something is missing

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=${KSMPP_BUILD_DIR:-$REPO/build}
mkdir -p "$B"
B=$(cd "$B" && pwd)
JOBS=${KSMPP_JOBS:-$(nproc)}

BASE_PKG=linux-source-6.12
BASE_TARBALL=/usr/src/linux-source-6.12.tar.xz
SRC=${KSMPP_SRC:-$B/linux}	# git repo: pristine base commit + applied series
# Root of the overlay directories and patches/ (tests point it elsewhere).
SERIES_ROOT=${KSMPP_SERIES_DIR:-$REPO}
OVERLAY_DIRS="mm include Documentation tools/testing"

# Prefer ccache through PATH (changing CC would invalidate every object).
# (Set even before ccache is installed: need_pkgs installs it first thing.)
export PATH=/usr/lib/ccache:$PATH
export CCACHE_DIR=${CCACHE_DIR:-${HOME:-/root}/.cache/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

_t0=$(date +%s)
log()  { printf '[%4ss] %s\n' "$(( $(date +%s) - _t0 ))" "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

# need_pkgs PKG... : install the Debian packages that are missing.
need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "${KSMPP_NO_APT:-0}" = 1 ] && die "missing packages: ${missing[*]}"
	local sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	log "installing: ${missing[*]}"
	local apt=($sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600)
	if [ ! -f "$B/.apt-updated" ]; then
		"${apt[@]}" update >"$B/apt.log" 2>&1 ||
			{ cat "$B/apt.log" >&2; die "apt-get update failed"; }
		touch "$B/.apt-updated"
	fi
	if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$B/apt.log" 2>&1; then
		log "apt-get install failed; refreshing the package lists and retrying"
		"${apt[@]}" update >>"$B/apt.log" 2>&1 &&
		"${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$B/apt.log" 2>&1 ||
			{ tail -30 "$B/apt.log" >&2; die "apt-get install failed (log: $B/apt.log)"; }
	fi
}

# Packages to build the kernel, boot it, and build the selftests.
BUILD_PKGS="linux-source-6.12 build-essential flex bison bc libelf-dev
	libssl-dev ccache xz-utils cpio rsync git python3 perl"
BOOT_PKGS="qemu-system-x86 busybox-static"
TEST_PKGS="libnuma-dev libcap-dev python3-ply python3-git clang libclang-rt-14-dev"

# The test guest (boot.sh options): two NUMA nodes of 1 GiB, and a 256 MiB
# DIMM on node 1 that the test kernel onlines movable, for memory offline.
TEST_GUEST_ARGS=(-m 2048,slots=2,maxmem=3G -c 2,sockets=2,cores=1,threads=1
	-q -object -q memory-backend-ram,id=m0,size=1G -q -numa -q node,memdev=m0,cpus=0
	-q -object -q memory-backend-ram,id=m1,size=1G -q -numa -q node,memdev=m1,cpus=1
	-q -object -q memory-backend-ram,id=hp0,size=256M
	-q -device -q pc-dimm,id=dimm0,memdev=hp0,node=1)

# What counts as a kernel splat in a console log (grep -E).
SPLAT_RE='WARNING:|BUG:|Oops|general protection fault|kernel BUG|possible recursive locking|circular locking dependency|inconsistent lock state|suspicious RCU usage|KASAN:|KFENCE:|UBSAN:|list_add corruption|list_del corruption|Call Trace:|INFO: task .* blocked'

# Kernel release string of the base tree, e.g. "6.12.117".
base_version() {
	make -s -C "$SRC" kernelversion 2>/dev/null
}

# Debian package version of the base, e.g. "6.12.117-1~deb12u1".
base_pkg_version() {
	dpkg-query -W -f='${Version}' "$BASE_PKG"
}

# run_logged LOG CMD... : run CMD with output to LOG, printing a progress
# line every 30 s (the last line of LOG) so long steps are not silent.
run_logged() {
	local logf=$1 pid rc=0 n=0
	shift
	"$@" >"$logf" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		n=$((n + 1))
		if [ $((n % 30)) = 0 ]; then
			log "  ... $(wc -l <"$logf") lines, last: $(tail -n1 "$logf" | cut -c1-90)"
		fi
	done
	wait "$pid" || rc=$?
	return $rc
}

# scratch_worktree: print the path of $B/scratch, a worktree of $SRC reset
# to the pristine base (for git am and the pipeline self-test).
scratch_worktree() {
	local w=$B/scratch
	git -C "$w" rev-parse -q --verify base >/dev/null 2>&1 || {
		rm -rf "$w"
		git -C "$SRC" worktree prune
		git -C "$SRC" worktree add -q --detach "$w" base
	}
	git -C "$w" am --abort >/dev/null 2>&1 || true
	git -C "$w" checkout -q -f --detach base
	git -C "$w" clean -fdq
	echo "$w"
}
