#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""summarize.py DIR - the replay benchmark's table (make bench-replay).

Reads DIR/results.txt ("MODE N RESULT key=value ...", run-guest.sh) and
every run's CSV (MODE-rN.csv, ksm_replay), and writes to DIR:

* summary.txt: per mode, the memory saved at the end of the runs (median,
  min-max, spread = (max - min) / median), by kind (shared, zero pages,
  patched, compressed), the time to 90 % of the final saving, ksmd CPU,
  anonymous refaults of the replay's cgroup until the end of sampling
  (not the final check, which reads every page), the memory the replay
  used at the end (AnonPages + zswap's pool; the swap cache at the end is
  shown apart) and, when mode "off" ran, how much less that is than off;
* MODE-saved.csv: t_s, median, min, max of the saving, over the runs,
  for the plot;

and, if DIR/ceiling.csv is there (ksmtrace_analyze), what the trace's
memory holds at its end: the ceiling of each mechanism.

Memory saved, in KiB, at a sample: pages_sharing and ksm_zero_pages
pages; patch_bytes_saved; and what zswap holds beyond that: its stored
pages less the patched ones, less its pool less the patches' bytes, from
the run's first sample on (as make demo counts it).  Exit status 1 if a
replay's memory did not equal the recording.
"""
import csv
import os
import statistics
import sys

KINDS = ("shared", "zero", "patched", "compressed")


def fields(line):
    out = {}
    for word in line.split():
        if "=" in word:
            k, v = word.split("=", 1)
            out[k] = v
    return out


def num(row, key):
    try:
        return float(row.get(key, "") or 0)
    except ValueError:
        return 0.0


def samples(path):
    """The CSV of one run as a list of (t, {kind: KiB}, used KiB, cpu ms)."""
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return []
    z0, p0 = num(rows[0], "zswapped_kib"), num(rows[0], "zswap_kib")
    out = []
    for r in rows:
        ppages, pbytes = num(r, "patch_pages"), num(r, "patch_bytes")
        kinds = {
            "shared": max(num(r, "pages_sharing"), 0) * 4,
            "zero": max(num(r, "ksm_zero_pages"), 0) * 4,
            "patched": max(num(r, "patch_bytes_saved"), 0) / 1024,
        }
        comp = (num(r, "zswapped_kib") - z0 - ppages * 4) - \
            (num(r, "zswap_kib") - p0 - pbytes / 1024)
        kinds["compressed"] = max(comp, 0)
        used = num(r, "anon_kib") + num(r, "zswap_kib")
        out.append((num(r, "t_s"), kinds, used, num(r, "ksmd_cpu_ms"),
                    num(r, "swapcached_kib")))
    return out


def total(kinds):
    return sum(kinds[k] for k in KINDS)


def at(series, t):
    """The saving of the last sample at or before t."""
    best = 0.0
    for s in series:
        if s[0] > t:
            break
        best = total(s[1])
    return best


def stats(values):
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def fmt(st, scale=1024.0, unit="MiB"):
    if st is None:
        return "-"
    m, lo, hi = st
    return "%.1f (%.1f-%.1f) %s" % (m / scale, lo / scale, hi / scale, unit)


def main():
    d = sys.argv[1]
    runs = {}
    corrupt = False
    with open(os.path.join(d, "results.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[2] != "RESULT":
                continue
            mode, n = parts[0], parts[1]
            kv = fields(line)
            if kv.get("data") != "ok":
                corrupt = True
            series = samples(os.path.join(d, "%s-r%s.csv" % (mode, n)))
            runs.setdefault(mode, []).append((kv, series))

    lines = []
    end_used = {}
    for mode, rs in runs.items():
        ends = [s[-1] for _, s in rs if s]
        end_used[mode] = stats([e[2] for e in ends])
    off = end_used.get("off")
    lines.append("mode          runs  saved at end, MiB: median (min-max)  spread"
                 "   t90 s   ksmd CPU s  refaults  used at end, MiB  less than off")
    for mode, rs in runs.items():
        ends = [s[-1] for _, s in rs if s]
        saved = [total(e[1]) for e in ends]
        st = stats(saved)
        spread = "-"
        if st and st[0] > 0:
            spread = "%.1f%%" % (100.0 * (st[2] - st[1]) / st[0])
        t90 = []
        for _, s in rs:
            if not s or total(s[-1][1]) <= 0:
                continue
            goal = 0.9 * total(s[-1][1])
            t90.append(next(x[0] for x in s if total(x[1]) >= goal))
        cpu = stats([e[3] / 1000.0 for e in ends])
        refaults = stats([num(kv, "refaults") for kv, _ in rs])
        less = "-"
        if off and end_used[mode]:
            less = "%.1f MiB" % ((off[0] - end_used[mode][0]) / 1024)
        lines.append("%-12s %5d  %-34s %7s  %6s  %11s  %8s  %16s  %s" % (
            mode, len(rs), fmt(st), spread,
            "%.1f" % statistics.median(t90) if t90 else "-",
            "%.2f" % cpu[0] if cpu else "-",
            "%.0f" % refaults[0] if refaults else "-",
            "%.1f" % (end_used[mode][0] / 1024) if end_used[mode] else "-",
            less))
        kinds = ", ".join("%s %.1f" % (k, statistics.median(
            [e[1][k] for e in ends]) / 1024) for k in KINDS) if ends else ""
        swc = statistics.median([e[4] for e in ends]) if ends else 0
        if swc > 0:
            kinds += "; swap cache at end %.1f" % (swc / 1024)
        lines.append("%-12s        by kind (MiB, medians): %s" % ("", kinds))

        # The saving over time on a common grid, for the plot.
        if not ends:
            continue
        t_end = min(s[-1][0] for _, s in rs if s)
        with open(os.path.join(d, "%s-saved.csv" % mode), "w") as f:
            f.write("t_s,median_mib,min_mib,max_mib\n")
            t = 0.0
            while t <= t_end:
                v = [at(s, t) / 1024 for _, s in rs if s]
                f.write("%.0f,%.2f,%.2f,%.2f\n" % (t, statistics.median(v),
                                                  min(v), max(v)))
                t += 2.0
    ceiling = os.path.join(d, "ceiling.csv")
    if os.path.exists(ceiling):
        with open(ceiling) as f:
            rows = list(csv.DictReader(f))
        if rows:
            c = rows[-1]
            pages = float(c["pages"]) or 1
            share = ", ".join("%s %.1f%%" % (k, 100.0 * float(c[k]) / pages)
                              for k in ("zero", "identical_across",
                                        "identical_within", "patchable",
                                        "compressible", "none"))
            lines.append("")
            lines.append("the trace's memory at its end (%s pages): %s" %
                         (c["pages"], share))
            lines.append("ceilings: merging %s MiB, patching %s MiB, "
                         "compression %s MiB (zero pages, %s MiB, apart: a "
                         "replay never writes them)" % (
                             c["merge_saved_mib"], c["patch_saved_mib"],
                             c["compress_saved_mib"], c["zero_mib"]))
    if corrupt:
        lines.append("DATA: a replay's memory differed from the recording")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(d, "summary.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    return 1 if corrupt else 0


if __name__ == "__main__":
    sys.exit(main())
