# SPDX-License-Identifier: GPL-2.0
#
# results.sh - sourced by the benchmarks' run-guest.sh scripts (bash):
# reading their "RESULT key=value ..." lines.

field() { # field KEY LINE: the value of KEY in LINE
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}

median() { # median < numbers, one per line
	sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
