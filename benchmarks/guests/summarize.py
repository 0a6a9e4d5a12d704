#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""summarize.py RUNDIR OUTDIR RUN... - the guest benchmark against stock KSM.

RUN is scenario:mode:aio as run-bench.sh ran it.  Reads RUNDIR/<name>.csv
and .results; writes OUTDIR/summary.txt and summary.csv with, per scenario
and aio, each mode's memory saved (pages_sharing + ksm_zero_pages + zswap's
net saving) at 20 s and 40 s and its peak, all while every guest still
ran, ksmd CPU time, the guests' summed throughput and when the last guest
finished, with ratios against stock measured in the same boot.  Exits 1
if a run is missing or failed: partial results are marked, never reported
as complete."""
import csv
import os
import sys

PAGE_KIB = 4


def name_of(run):
    return run.replace(":", "_").replace("+", "p")


def load(path):
    with open(path) as f:
        return [{k: float(v or 0) for k, v in r.items()} for r in csv.DictReader(f)]


def saved_mib(r):
    return ((r["pages_sharing"] + r["ksm_zero_pages"]) * PAGE_KIB +
            r["zswapped_kb"] - r["zswap_kb"]) / 1024


def at(rows, t):
    """The last sample at or before t s, or None if that is past the rows."""
    if not rows or rows[-1]["t_s"] < t:
        return None
    best = rows[0]
    for r in rows:
        if r["t_s"] <= t:
            best = r
    return best


def fmt(v):
    return "%7.1f M" % v if v is not None else "%9s" % "-"


def ratio(a, b):
    if b == 0:
        return "inf" if a > 0 else "n/a"
    return "%.2f" % (a / b)


def results(path):
    """Per guest: job, ok, throughput in KiB/s (fio read, bonnie++ block write)."""
    out = []
    for line in open(path):
        kv = dict(x.split("=", 1) for x in line.split()[2:] if "=" in x)
        tput = float(kv.get("read_kib_s", 0))
        if kv.get("job") == "bonnie" and "csv" in kv:
            # bonnie++ 2.00 CSV: field 11 is the block write rate in K/s
            # ("+++++" if too fast to measure: counted as 0).
            f = kv["csv"].split(",")
            tput = float(f[11]) if len(f) > 11 and f[11].strip().isdigit() else 0
        out.append((kv.get("job", "?"), kv.get("ok") == "1", tput))
    return out


def main():
    rundir, outdir, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
    status = {}
    if os.path.exists(os.path.join(rundir, "runs.txt")):
        for line in open(os.path.join(rundir, "runs.txt")):
            run, st = line.split()
            status[run] = st
    text, rows, bad = [], [], False
    groups = {}
    for run in runs:
        scen, mode, aio = run.split(":")
        groups.setdefault((scen, aio), []).append((mode, run))
    for (scen, aio), modes in groups.items():
        text.append("%s, aio=%s" % (scen, aio))
        text.append("  %-11s %9s %9s %9s %7s %9s %7s %12s %7s %7s  %s" % (
            "mode", "saved@20s", "saved@40s", "peak", "/stock", "ksmd s", "/stock",
            "guest KiB/s", "/stock", "run s", "status"))
        base = None
        for mode, run in modes:
            n = name_of(run)
            csvp = os.path.join(rundir, n + ".csv")
            st = status.get(run, "missing")
            if not os.path.exists(csvp) or st == "missing":
                text.append("  %-11s %s" % (mode, "MISSING: did not run"))
                bad = True
                continue
            c = load(csvp)
            res = results(os.path.join(rundir, n + ".results")) if os.path.exists(
                os.path.join(rundir, n + ".results")) else []
            end = c[-1]
            cpu = (end["ksmd_cpu_ms"] - c[0]["ksmd_cpu_ms"]) / 1000
            tput = sum(t for _, ok, t in res if ok)
            # Memory saved while every guest still ran (exits free it).
            allrun = [r for r in c if r["guests_running"] >= max(x["guests_running"] for x in c)]
            s20, s40 = at(allrun, 20), at(allrun, 40)
            m = {"s30": saved_mib(s20) if s20 else None, "s60": saved_mib(s40) if s40 else None,
                 "end": max(saved_mib(r) for r in allrun), "cpu": cpu, "tput": tput,
                 "t": end["t_s"]}
            if mode == "stock":
                base = m
            b = base or m
            if st != "done":
                bad = True
            text.append("  %-11s %9s %9s %9s %7s %9.1f %7s %12.0f %7s %7.0f  %s" % (
                mode, fmt(m["s30"]), fmt(m["s60"]), fmt(m["end"]), ratio(m["end"], b["end"]), cpu,
                ratio(cpu, b["cpu"]), tput, ratio(tput, b["tput"]), m["t"],
                "ok" if st == "done" else "FAILED (partial)"))
            rows.append([scen, aio, mode] + ["%.1f" % v if v is not None else "" for v in
                                             (m["s30"], m["s60"], m["end"])] +
                        ["%.1f" % cpu, "%.0f" % tput, "%.0f" % m["t"], st])
    text.append("complete" if not bad else "INCOMPLETE: some runs failed or are missing")
    out = "\n".join(text) + "\n"
    sys.stdout.write(out)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write(out)
    with open(os.path.join(outdir, "summary.csv"), "w") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "aio", "mode", "saved_mib_20s", "saved_mib_40s", "saved_mib_peak",
                    "ksmd_cpu_s", "guest_kib_s", "seconds", "status"])
        w.writerows(rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
