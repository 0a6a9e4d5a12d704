#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""summarize.py RUNDIR OUTDIR RUN... - the guest benchmark against stock KSM.

RUN is scenario:mode:aio as run-bench.sh ran it.  Reads RUNDIR/<name>.csv
and .results; writes OUTDIR/summary.txt and summary.csv with, per scenario
and aio, each mode's memory saved (pages_sharing + ksm_zero_pages + zswap's
net saving) at 20, 40 and 60 s and averaged over the window every mode
sampled with all its guests running, ksmd CPU time and the guests' summed
throughput, with ratios against stock measured in the same run.  Exits 1
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
        out.append((kv.get("job", "?"), kv.get("ok") == "1", tput,
                    kv.get("error") == "unfinished"))
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
        text.append("  %-11s %9s %9s %9s %9s %7s %9s %7s %12s %7s  %s" % (
            "mode", "saved@20s", "saved@40s", "saved@60s", "mean", "/stock", "ksmd s",
            "/stock", "guest KiB/s", "/stock", "status"))
        loaded = []
        for mode, run in modes:
            n = name_of(run)
            csvp = os.path.join(rundir, n + ".csv")
            st = status.get(run, "missing")
            if not os.path.exists(csvp) or st == "missing":
                text.append("  %-11s %s" % (mode, "MISSING: did not run"))
                bad = True
                continue
            c = load(csvp)
            if not c:
                text.append("  %-11s %s" % (mode, "MISSING: no samples"))
                bad = True
                continue
            resp = os.path.join(rundir, n + ".results")
            res = results(resp) if os.path.exists(resp) else []
            # Memory saved while every guest still ran (exits free it).
            most = max(x["guests_running"] for x in c)
            allrun = [r for r in c if r["guests_running"] >= most]
            loaded.append((mode, run, st, c, res, allrun))
        # Compare the modes over the window all of them sampled, ending 2 s
        # before the first guest of any of them stopped.
        win = min((a[-1]["t_s"] for *_, a in loaded), default=0) - 2
        base = None
        for mode, run, st, c, res, allrun in loaded:
            cpu = (c[-1]["ksmd_cpu_ms"] - c[0]["ksmd_cpu_ms"]) / 1000
            tput = sum(t for _, ok, t, _ in res if ok)
            unfinished = sum(1 for _, _, _, u in res if u)
            inwin = [saved_mib(r) for r in allrun if r["t_s"] <= win]
            s20, s40, s60 = (at(allrun, t) if t <= win else None for t in (20, 40, 60))
            m = {"s20": saved_mib(s20) if s20 else None,
                 "s40": saved_mib(s40) if s40 else None,
                 "s60": saved_mib(s60) if s60 else None,
                 "mean": sum(inwin) / len(inwin) if inwin else 0,
                 "cpu": cpu, "tput": tput}
            if mode == "stock":
                base = m
            b = base or m
            if st != "done":
                bad = True
            text.append("  %-11s %9s %9s %9s %9s %7s %9.1f %7s %12.0f %7s  %s" % (
                mode, fmt(m["s20"]), fmt(m["s40"]), fmt(m["s60"]), fmt(m["mean"]),
                ratio(m["mean"], b["mean"]), cpu, ratio(cpu, b["cpu"]), tput,
                ratio(tput, b["tput"]),
                ("ok" if not unfinished else "ok, %d job(s) unfinished" % unfinished)
                if st == "done" else "FAILED (partial)"))
            rows.append([scen, aio, mode] + ["%.1f" % v if v is not None else "" for v in
                                             (m["s20"], m["s40"], m["s60"], m["mean"])] +
                        ["%.0f" % win, "%.1f" % cpu, "%.0f" % tput, st])
        text.append("  (window 0-%.0f s; mean = memory saved averaged over it; guest"
                    " KiB/s sums the jobs that finished)" % win)
    text.append("complete" if not bad else "INCOMPLETE: some runs failed or are missing")
    out = "\n".join(text) + "\n"
    sys.stdout.write(out)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write(out)
    with open(os.path.join(outdir, "summary.csv"), "w") as f:
        w = csv.writer(f)
        w.writerow(["scenario", "aio", "mode", "saved_mib_20s", "saved_mib_40s", "saved_mib_60s",
                    "saved_mib_mean", "window_s", "ksmd_cpu_s", "guest_kib_s", "status"])
        w.writerows(rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
