#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# run-guest.sh REPLAY TRACE RUNS MODE... - inside the booted bench kernel,
# into the current directory (the result share): replay TRACE with
# ksm_replay RUNS times in every MODE, each run a CSV (MODE-rN.csv), its
# output (MODE-rN.log) and a line of results.txt: "MODE N RESULT ...".
#
# Modes (KSM at its defaults, pages_to_scan 100 every 20 ms, unless said):
#   off          KSM not running: the memory the replay takes without it
#   stock        upstream KSM
#   hints        I/O hints on
#   hints+cold   hints and the cold-page tier (nru_cold_secs REPLAY_COLD_SECS)
#   hints+patch  hints, the cold-page tier and the patch tier
#   advisor      upstream KSM with advisor_mode=scan-time
#   pts          upstream KSM with pages_to_scan raised so that ksmd's CPU
#                per second equals the hints runs' (medians so far)
#   zswap        upstream KSM, and proactive reclaim into zswap through the
#                replay's memory cgroup: every REPLAY_RECLAIM_S seconds,
#                memory.reclaim of REPLAY_RECLAIM_PCT % of its anonymous
#                memory, with swappiness=200 (anonymous pages only) and
#                vm.page-cluster 0 (no swap readahead, as hosts that swap
#                to compressed memory set it; pages read ahead would sit
#                in the swap cache, counted neither in AnonPages nor in
#                zswap's pool)
# Run N starts the mode list at a different mode, so that no mode always
# runs first; pts runs after the other modes of its round.
#
# Environment: REPLAY_ARGS (more ksm_replay options, e.g. "-r 2 -d 5"),
# REPLAY_TAIL (seconds sampled after the last event, 60), REPLAY_COLD_SECS
# (30), REPLAY_RECLAIM_S (10), REPLAY_RECLAIM_PCT (5).
replay=$1
trace=$2
runs=$3
shift 3
modes=("$@")
tail_s=${REPLAY_TAIL:-60}
cold_secs=${REPLAY_COLD_SECS:-30}
reclaim_s=${REPLAY_RECLAIM_S:-10}
reclaim_pct=${REPLAY_RECLAIM_PCT:-5}
K=/sys/kernel/mm/ksm
CG=/sys/fs/cgroup/ksm-replay
page_cluster=$(cat /proc/sys/vm/page-cluster)

fail() { echo "replay: $*" >&2; exit 1; }

"$(dirname "$0")/../zswap-setup.sh" || exit 1
echo +memory >/sys/fs/cgroup/cgroup.subtree_control || fail "memory controller"
mkdir -p "$CG" || fail "mkdir $CG"
[ -f results.txt ] || : >results.txt

knob() { # knob NAME VALUE: set a KSM knob if the kernel has it
	[ -e "$K/$1" ] || { [ "$2" = 0 ] && return 0; fail "no $K/$1"; }
	echo "$2" >"$K/$1" || fail "$1 <- $2"
}

. "$(dirname "$0")/../common/results.sh"

# ksmd CPU per second of a mode's runs so far, median
cpu_per_s() {
	grep "^$1 " results.txt | while read -r l; do
		awk -v c="$(field ksmd_cpu_ms "$l")" -v t="$(field end_s "$l")" \
			'BEGIN { if (t > 0) print c / t }'
	done | median
}

# pages_to_scan that gives stock the ksmd CPU per second of the hints runs
equal_cpu_pts() {
	local s h
	s=$(cpu_per_s stock)
	h=$(cpu_per_s hints)
	[ -n "$s" ] && [ -n "$h" ] || { echo "replay: pts needs stock and hints runs" >&2; return 1; }
	echo "replay: pts at ksmd CPU $h ms/s (hints, median) vs $s ms/s (stock)" >&2
	awk -v s="$s" -v h="$h" 'BEGIN { p = int(100 * h / s + 0.5); print (p < 100 ? 100 : p) }'
}

# Everything off and back to the defaults; ksmd idle, nothing in zswap.
reset_ksm() {
	knob run 2
	knob io_hints 0
	knob cold_compress 0
	knob patch_tier 0
	knob advisor_mode none
	knob pages_to_scan 100
	knob sleep_millisecs 20
	knob nru_cold_secs 120
	echo "$page_cluster" >/proc/sys/vm/page-cluster
	echo 3 >/proc/sys/vm/drop_caches
}

set_mode() { # set_mode MODE
	reset_ksm
	case $1 in
	off) return 0 ;;
	stock) ;;
	zswap) echo 0 >/proc/sys/vm/page-cluster ;;
	hints) knob io_hints 1 ;;
	hints+cold)
		knob io_hints 1
		knob nru_cold_secs "$cold_secs"
		knob cold_compress 1 ;;
	hints+patch)
		knob io_hints 1
		knob nru_cold_secs "$cold_secs"
		knob cold_compress 1
		knob patch_tier 1 ;;
	advisor) knob advisor_mode scan-time ;;
	pts) knob pages_to_scan "$pts" ;;
	*) fail "unknown mode $1" ;;
	esac
	knob run 1
}

# Proactive reclaim of the replay's cgroup while $1 (a pid) lives; what
# each write asked and how it ended go to $2.
reclaimer() {
	local cur ask
	while kill -0 "$1" 2>/dev/null; do
		sleep "$reclaim_s"
		cur=$(awk '$1 == "anon" { print $2 }' "$CG/memory.stat")
		ask=$((cur * reclaim_pct / 100))
		# Anonymous memory only (swappiness=200): guest RAM, not the
		# page cache of the trace's files, which reclaim takes first.
		if echo "$ask swappiness=200" >"$CG/memory.reclaim" 2>>"$2"; then
			echo "reclaim $ask of $cur: ok" >>"$2"
		else
			echo "reclaim $ask of $cur: failed" >>"$2"
		fi
	done
	grep -E '^(zswpout|zswpin|pswpout|anon_thp|thp_swpout|thp_swpout_fallback) ' "$CG/memory.stat" >>"$2"
}

one_run() { # one_run MODE N
	local mode=$1 n=$2 name="$1-r$2" rc pid refault0 refaults
	set_mode "$mode"
	refault0=$(awk '$1 == "workingset_refault_anon" { print $2 }' "$CG/memory.stat")
	echo "replay: $name"
	# The replay in the cgroup, for zswap's reclaim and its refaults.
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG" \
		"$replay" -o "$name.csv" -t "$tail_s" $REPLAY_ARGS "$trace" >"$name.log" 2>&1 &
	pid=$!
	[ "$mode" = zswap ] && reclaimer "$pid" "$name-reclaim.log" &
	wait "$pid"
	rc=$?
	wait
	refaults=$(awk '$1 == "workingset_refault_anon" { print $2 }' "$CG/memory.stat")
	# ksm_replay's refaults stop before its check; these include it.
	grep RESULT "$name.log" | sed "s/^/$mode $n /; s/\$/ refaults_with_check=$((refaults - refault0))/" >>results.txt
	tail -n 1 results.txt
	[ "$rc" = 0 ] || fail "$name: ksm_replay failed ($rc), see $name.log"
}

pts=
for ((r = 1; r <= runs; r++)); do
	list=()
	for ((i = 0; i < ${#modes[@]}; i++)); do
		m=${modes[(i + r - 1) % ${#modes[@]}]}
		[ "$m" = pts ] || list+=("$m")
	done
	for m in "${modes[@]}"; do
		[ "$m" = pts ] && list+=(pts)
	done
	for m in "${list[@]}"; do
		if [ "$m" = pts ]; then
			pts=$(equal_cpu_pts) || exit 1
		fi
		one_run "$m" "$r"
	done
done
reset_ksm
knob run 0
