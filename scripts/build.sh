#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build.sh FLAVOUR - build the patched guest kernel out of tree.
#
# FLAVOUR is "test", "bench" or "stress"; the config is allnoconfig plus
# configs/base.config plus configs/FLAVOUR.config, and every value those
# fragments ask for is checked in the result (a dependency that silently
# dropped an option is an error, not a surprise at boot).
# Output: $B/obj-FLAVOUR/arch/x86/boot/bzImage

. "$(dirname "$0")/lib.sh"

flavour=${1:-test}
[ -f "$REPO/configs/$flavour.config" ] ||
	die "unknown flavour '$flavour' (have: $(cd "$REPO/configs" && ls -- *.config | grep -v base | sed 's/\.config$//' | xargs))"

"$REPO/scripts/tree.sh"
O=$B/obj-$flavour
mkdir -p "$O"
frag=$O/ksmpp.config
# A flavour may build on another: a line "# ksmpp-include: NAME.config".
inc=$(sed -n 's/^# ksmpp-include: *//p' "$REPO/configs/$flavour.config")
cat "$REPO/configs/base.config" ${inc:+"$REPO/configs/$inc"} \
	"$REPO/configs/$flavour.config" >"$frag.new"

# Reconfigure only when the fragments or any Kconfig file changed.
stamp=$( { sha1sum <"$frag.new"; git -C "$SRC" ls-tree -r HEAD | grep 'Kconfig'; } | sha1sum | cut -c1-40)
if [ ! -f "$O/.config" ] || [ "$(cat "$O/.ksmpp-config-stamp" 2>/dev/null)" != "$stamp" ]; then
	log "configuring $flavour kernel (allnoconfig + configs/base.config + configs/$flavour.config)"
	mv "$frag.new" "$frag"
	make -s -C "$SRC" O="$O" KCONFIG_ALLCONFIG="$frag" allnoconfig >"$O/config.log" 2>&1 ||
		{ cat "$O/config.log" >&2; die "kernel configuration failed"; }
	bad=0
	while IFS= read -r line; do
		sym=${line%%=*}
		want=${line#*=}
		if [ "$want" = n ]; then
			grep -q "^$sym=" "$O/.config" || continue
		else
			grep -qxF "$sym=$want" "$O/.config" && continue
		fi
		echo "config: $sym=$want requested, got: $(grep -E "^$sym=|^# $sym is not set" "$O/.config" || echo unset)" >&2
		bad=1
	done < <(grep -E '^CONFIG_[A-Z0-9_]+=' "$frag")
	[ $bad = 0 ] || die "config fragments not satisfied (see above)"
	echo "$stamp" >"$O/.ksmpp-config-stamp"
else
	rm -f "$frag.new"
fi

log "building Linux $(cat "$B/kernel-version")-ksmpp ($BASE_PKG $(cat "$B/base-pkg-version")), flavour $flavour, -j$JOBS"
if ! run_logged "$O/build.log" make -C "$SRC" O="$O" LOCALVERSION= -j"$JOBS" bzImage; then
	grep -E 'error|Error' "$O/build.log" | head -40 >&2
	die "kernel build failed; full log: $O/build.log"
fi
grep -E 'warning:' "$O/build.log" | grep -v '^make' >&2 || true
log "kernel ready: $O/arch/x86/boot/bzImage ($(cat "$O/include/config/kernel.release"))"
