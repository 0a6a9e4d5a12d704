#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""summarize.py DIR - the KSM I/O-hints benchmark, per configuration and mode.

Reads DIR/results.txt ("CONFIG MODE RUN RESULT key=value ...") and
DIR/readcost.txt written by run-guest.sh; prints the tables and writes
DIR/summary.txt and DIR/summary.csv.  Every figure is the median over the
runs of one configuration and mode, with [min-max]; ratios are ratios of
medians.  Exit status 1 if any run read back corrupt data."""
import csv
import os
import statistics
import sys

FIXED = (10, 30, 60, 90, 120)
# ksmd's budget for hinted pages: io_hints_scan_percent (as the hints
# runs report it; 50 in results from before they did) of pages_to_scan
# (100) per batch, a batch per sleep_millisecs (20) at most.
DEFAULT_PERCENT = 50
BATCHES_PER_S = 1000 / 20
CORPUS_PAGES = 4096


def med(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return statistics.median(vals)


def fmt(vals, prec=1, table=False):
    """median [min-max] of the values (median (min-max) for a table);
    'never' for runs that did not get there (negative values)."""
    ok = [v for v in vals if v is not None and v >= 0]
    if not ok:
        return "never"
    s = ("%.*f (%.*f-%.*f)" if table else "%.*f [%.*f-%.*f]") % (
        prec, statistics.median(ok), prec, min(ok), prec, max(ok))
    if len(ok) < len(vals):
        s += (", %d of %d" if table else " (%d of %d runs)") % (len(ok), len(vals))
    return s


def ratio(a, b):
    if a is None or b is None or b <= 0 or a < 0:
        return "n/a"
    return "%.2f" % (a / b)


def load(d):
    runs = {}
    with open(os.path.join(d, "results.txt")) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 4:
                continue
            cfg, mode, run = parts[0], parts[1], int(parts[2])
            kv = dict(x.split("=", 1) for x in parts[4:] if "=" in x)
            # Broken merges within the window: the CSV's last sample (the
            # RESULT line of the first runs of 2026-12-02 read the counter
            # after the readers' final check, whose writes break merges).
            path = os.path.join(d, "%s-%s-r%d.csv" % (cfg, mode, run))
            if os.path.exists(path):
                with open(path) as c:
                    last = list(csv.DictReader(c))[-1:]
                if last and "merges_broken" in last[0]:
                    kv["merges_broken"] = last[0]["merges_broken"]
            runs.setdefault(cfg, {}).setdefault(mode, []).append(kv)
    return runs


def cell(vals, prec=1):
    return fmt(vals, prec, table=True)


def markdown(runs):
    """One markdown table per workload: median (min-max) per configuration and mode."""
    rows = ["| configuration | mode | runs | t50 (s) | t95 (s) | ksmd CPU to t95 (s) | ksmd CPU (ms/s) | "
            "shared at 10 s | CoW-broken hinted merges | reads (MiB/s) |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for cfg in sorted(runs, key=lambda c: (c.split("-")[0], int(c.split("-")[1]),
                                           int(c.split("-")[2]), c)):
        for m in ("stock", "hints", "pts", "advisor", "pairs", "domains"):
            lst = runs[cfg].get(m)
            if not lst:
                continue
            label = {"pts": "stock, pages_to_scan %s" % lst[0]["pages_to_scan"],
                     "advisor": "stock, advisor",
                     "pairs": "hints, pairs on 2 files",
                     "domains": "hints, merge domains of 2"}.get(m, m)
            get = lambda k: [float(kv[k]) for kv in lst]
            rows.append("| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                cfg, label, len(lst), cell(get("t50")), cell(get("t95")), cell(get("cpu95"), 2),
                cell(get("cpu_ms_per_s"), 0), cell(get("s10"), 0), cell(get("merges_broken"), 0),
                cell(get("read_MiBps"))))
    return "\n".join(rows) + "\n"


def main():
    d = sys.argv[1]
    runs = load(d)
    out = []
    rows = []
    corrupt = 0
    rc = os.path.join(d, "readcost.txt")
    if os.path.exists(rc):
        out.append("Read-path cost of a hint push (pread from tmpfs into mergeable memory, ksmd stopped; "
                   "a mergeable and a plain process in alternating slices, io_hints phases off/on; "
                   "median over the slice pairs, [min-max] over pairs of adjacent phases)")
        with open(rc) as f:
            for line in f:
                if line.startswith("RESULT"):
                    kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
                    out.append("  %6s B reads: %s ns each (plain process); hints cost %s %% [%s-%s] "
                               "(%s slice pairs x %s phases)" % (
                                   kv["size"], kv["plain_ns"], kv["overhead_pct"], kv["min_pct"],
                                   kv["max_pct"], kv["pairs"], kv["phases"]))
                    rows.append({"config": "readcost-%s" % kv["size"], "mode": "hints-vs-off",
                                 "metric": "overhead_pct", "median": kv["overhead_pct"]})
        out.append("")
    alt = os.path.join(d, "alt.txt")
    if os.path.exists(alt):
        with open(alt) as f:
            for line in f:
                if not line.startswith("RESULT"):
                    continue
                kv = dict(x.split("=", 1) for x in line.split()[1:] if "=" in x)
                corrupt += kv.get("data") != "ok"
                if int(kv.get("alt_ratios", 0)) < 1:
                    out.append("Unique workload, io_hints alternating: no ratio measured")
                    continue
                out.append("Unique workload, io_hints alternating by full scans (%s on/off ratios of "
                           "adjacent phases, median [min-max]; io_hints_scan_percent %s):" % (
                               kv["alt_ratios"], kv.get("hints_percent", "?")))
                out.append("  %-34s %s [%s-%s], geometric mean %s" % (
                    "ksmd CPU per full scan", kv["alt_cpu_ratio"], kv["alt_cpu_ratio_min"],
                    kv["alt_cpu_ratio_max"], kv["alt_cpu_ratio_gmean"]))
                out.append("  %-34s %s [%s-%s]" % (
                    "duration of a full scan", kv["alt_scan_time_ratio"],
                    kv["alt_scan_time_ratio_min"], kv["alt_scan_time_ratio_max"]))
                rows.append({"config": "unique-alt", "mode": "hints-vs-off",
                             "metric": "cpu_per_full_scan_ratio", "median": kv["alt_cpu_ratio"]})
                rows.append({"config": "unique-alt", "mode": "hints-vs-off",
                             "metric": "full_scan_time_ratio", "median": kv["alt_scan_time_ratio"]})
                out.append("  pages shared at 60 s %s (before the first switch), at the end %s; "
                           "hinted pages visited %s, merged %s" % (
                               kv.get("s60"), kv.get("sharing_end"), kv.get("hint_visited"),
                               kv.get("hint_merged")))
        out.append("")
    for cfg in sorted(runs, key=lambda c: (c.split("-")[0], int(c.split("-")[1]),
                                           int(c.split("-")[2]), c)):
        modes = runs[cfg]
        for m, lst in modes.items():
            corrupt += sum(1 for kv in lst if kv.get("data") != "ok")
        work, procs = cfg.split("-")[0], int(cfg.split("-")[1])
        n = min(len(v) for v in modes.values())
        out.append("%s (%d runs per mode; target %s)" % (cfg, n, ", ".join(
            "%s %s pages" % (m, modes[m][0]["target"]) for m in modes)))
        meds = {}
        for m in ("stock", "hints", "pts", "advisor", "pairs", "domains"):
            if m not in modes:
                continue
            lst = modes[m]
            get = lambda k, lst=lst: [float(kv[k]) for kv in lst]
            meds[m] = {k: med([v for v in get(k) if v is not None and v >= 0])
                       for k in ("t50", "t95", "cpu50", "cpu95", "cpu_end", "cpu_ms_per_s")}
            for t in FIXED:
                meds[m]["s%d" % t] = med([float(kv["s%d" % t]) for kv in lst if float(kv["s%d" % t]) >= 0])
            label = m if m != "pts" else "stock pages_to_scan=%s" % lst[0]["pages_to_scan"]
            if m == "advisor":
                label = "stock advisor=scan-time"
            if m == "domains":
                label = "hints, merge domains of 2"
            if m == "pairs":
                label = "hints, pairs on 2 files"
            # ksmd CPU ms per page merged until t95 (targets differ by mode)
            meds[m]["cpu95_per_kpage"] = med([1e6 * float(kv["cpu95"]) / (0.95 * float(kv["target"]))
                                              for kv in lst if float(kv["cpu95"]) >= 0])
            out.append("  %-28s t50 %s s, t95 %s s, ksmd CPU to t95 %s s, CPU %s ms/s" % (
                label, fmt(get("t50")), fmt(get("t95")), fmt(get("cpu95"), 2), fmt(get("cpu_ms_per_s"))))
            out.append("  %-28s shared at %s; CoW-broken hinted merges %s; reads %s MiB/s" % (
                "", ", ".join("%ds %s" % (t, fmt([float(kv["s%d" % t]) for kv in lst if float(kv["s%d" % t]) >= 0], 0))
                              for t in FIXED if any(float(kv["s%d" % t]) >= 0 for kv in lst)),
                fmt([float(kv["merges_broken"]) for kv in lst], 0),
                fmt([float(kv["read_MiBps"]) for kv in lst])))
            for k, v in meds[m].items():
                rows.append({"config": cfg, "mode": label, "metric": k,
                             "median": "" if v is None else "%.3f" % v})
        s, h = meds.get("stock", {}), meds.get("hints", {})
        pct_ok = all(float(kv.get("hints_percent", DEFAULT_PERCENT)) > 0
                     for kv in modes.get("hints", []))
        if work == "dup" and h and not pct_ok:
            out.append("  hints runs with io_hints_scan_percent 0 or unknown: no hint-budget bound")
        base = "pairs" if "pairs" in meds else "hints"
        if work == "dup" and base in meds and "domains" in meds:
            b, dm = meds[base], meds["domains"]
            out.append("  ksmd CPU per 1000 pages merged until t95: %s %s ms, domains %s ms; "
                       "domains / %s %s" % (
                           base, "-" if b["cpu95_per_kpage"] is None else "%.1f" % b["cpu95_per_kpage"],
                           "-" if dm["cpu95_per_kpage"] is None else "%.1f" % dm["cpu95_per_kpage"],
                           base, ratio(dm["cpu95_per_kpage"], b["cpu95_per_kpage"])))
        if work == "dup" and h and s and pct_ok:
            need = 0.95 * procs * CORPUS_PAGES
            pct = med([float(kv.get("hints_percent", DEFAULT_PERCENT)) for kv in modes["hints"]])
            per_batch = 100 * pct / 100
            bound = need / (per_batch * BATCHES_PER_S)
            # Batches ksmd really ran per second: stock scans pages_to_scan
            # (100) pages a batch, every one counted in pages_scanned.
            rate = med([float(kv["scanned_per_s"]) for kv in modes["stock"]
                        if "scanned_per_s" in kv])
            real = (need / (rate / 100 * per_batch)) if rate else None
            # The hints runs' own batches until t95 (they are slower while
            # hints take their share): hint pages those batches offered,
            # per hinted page needed.
            own = med([float(kv["scanned95"]) / 100 * per_batch / need for kv in modes["hints"]
                       if float(kv.get("scanned95", -1)) > 0])
            out.append("  hints t95 / stock t95 %s; hints ksmd CPU to t95 / stock's %s; "
                       "hints t95 / hint-budget bound %s (%.1f s at %g pages per 20 ms)%s%s" % (
                           ratio(h["t95"], s["t95"]), ratio(h["cpu95"], s["cpu95"]),
                           ratio(h["t95"], bound), bound, per_batch,
                           "" if not real else ", %s (%.1f s at %g pages per batch of stock's %.1f batches/s)" % (
                               ratio(h["t95"], real), real, per_batch, rate / 100),
                           "" if own is None else ", %.2f (at the hints runs' own batch rate until t95)" % own))
            for m in ("pts", "advisor"):
                if m in meds:
                    out.append("  %s t95 / hints t95 %s" % (m, ratio(meds[m]["t95"], h["t95"])))
        elif work == "unique" and h:
            out.append("  hints / stock: " + ", ".join(
                "shared at %ds %s" % (t, ratio(h["s%d" % t], s["s%d" % t])) for t in FIXED
                if h.get("s%d" % t) is not None and s.get("s%d" % t) is not None) +
                ", ksmd CPU over the window %s, t95 %s" % (ratio(h["cpu_end"], s["cpu_end"]),
                                                         ratio(h["t95"], s["t95"])))
        out.append("")
    md = markdown(runs)
    with open(os.path.join(d, "summary.md"), "w") as f:
        f.write(md)
    out.append("data: %s" % ("every run read back its memory intact" if not corrupt
                             else "%d runs read back CORRUPT data" % corrupt))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(d, "summary.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(d, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["config", "mode", "metric", "median"])
        w.writeheader()
        w.writerows(rows)
    return 1 if corrupt else 0


if __name__ == "__main__":
    sys.exit(main())
