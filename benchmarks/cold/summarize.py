#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""summarize.py DIR - the cold-page tier against stock KSM, per run pair.

Reads DIR/results.txt and DIR/r<N>-{stock,tier}.csv written by
run-guest.sh; prints a table and writes DIR/summary.txt.  Ratios are
tier/stock measured in the same boot of the same kernel.  Exits non-zero
if a guest read back a page that differs from what it wrote."""
import csv
import os
import statistics
import sys


def load(path):
    with open(path) as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def at(rows, t):
    """The last sample taken at or before t seconds."""
    best = rows[0]
    for r in rows:
        if r["t_s"] <= t + 1e-6:
            best = r
    return best


def ratio(a, b):
    if b == 0:
        return "inf" if a > 0 else "n/a"
    return "%.2f" % (a / b)


def main():
    d = sys.argv[1]
    res, guests = {}, {}
    with open(os.path.join(d, "results.txt")) as f:
        for line in f:
            name, kind, rest = line.split(" ", 2)
            if kind == "RESULT":
                res[name] = dict(x.split("=", 1) for x in rest.split())
            elif kind == "GUEST":
                g, kv = rest.split(" ", 1)
                guests.setdefault(name, {})[g] = dict(x.split("=", 1) for x in kv.split())
    pairs = sorted({n.rsplit("-", 1)[0] for n in res})
    out, bad = [], False
    for p in pairs:
        s, t = res.get(p + "-stock"), res.get(p + "-tier")
        if not s or not t:
            out.append("%s: incomplete" % p)
            bad = True
            continue
        cs = load(os.path.join(d, p + "-stock.csv"))
        ct = load(os.path.join(d, p + "-tier.csv"))
        total_kb = int(s["pages"]) * 4
        end = min(cs[-1]["t_s"], ct[-1]["t_s"])
        out.append("%s: 4 guests, %d MiB mergeable in all" % (p, total_kb // 1024))
        out.append("  %-6s %14s %14s %7s   %s" % ("t (s)", "stock saved", "tier saved", "ratio",
                                                "tier: ksm + zswap (MiB)"))
        for when in (15, 30, 60, 90, 120, end):
            if when > end:
                continue
            a, b = at(cs, when), at(ct, when)
            ksm_b = b["saved_kb"] - (b["zswapped_kb"] - b["zswap_kb"])
            out.append("  %-6.0f %9.1f MiB %9.1f MiB %7s   %.1f + %.1f" % (
                when, a["saved_kb"] / 1024, b["saved_kb"] / 1024,
                ratio(b["saved_kb"], a["saved_kb"]), ksm_b / 1024,
                (b["zswapped_kb"] - b["zswap_kb"]) / 1024))
            if when == end:
                break
        last = ct[-1]
        out.append("  tier at end: %d pages pushed, %d refaults, zswap holds %.1f MiB in %.1f MiB (%.1f:1)" % (
            last["cold_compressed"], last["cold_refaults"], last["zswapped_kb"] / 1024,
            last["zswap_kb"] / 1024,
            last["zswapped_kb"] / last["zswap_kb"] if last["zswap_kb"] else 0))
        cpu_s, cpu_t = float(s["ksmd_cpu_ms"]), float(t["ksmd_cpu_ms"])
        out.append("  ksmd CPU: stock %.0f ms, tier %.0f ms (ratio %s); per MiB saved at end: %.1f / %.1f ms" % (
            cpu_s, cpu_t, ratio(cpu_t, cpu_s),
            cpu_s / max(cs[-1]["saved_kb"] / 1024, 1e-9), cpu_t / max(last["saved_kb"] / 1024, 1e-9)))
        # The same text pages: in zswap in the tier run, resident in stock.
        gt, gs = guests.get(p + "-tier", {}), guests.get(p + "-stock", {})
        outs = [float(v["out_median_us"]) for v in gt.values() if int(v["out_pages"]) > 0]
        ins = [float(v["in_median_us"]) for v in list(gt.values()) + list(gs.values())
               if int(v["in_pages"]) > 0]
        n_out = sum(int(v["out_pages"]) for v in gt.values())
        if outs and ins:
            out.append("  first access, median of the guests' medians: page in zswap %.1f us (%d pages), "
                       "resident page %.2f us; ratio %.0fx" % (
                           statistics.median(outs), n_out, statistics.median(ins),
                           statistics.median(outs) / max(statistics.median(ins), 1e-3)))
        for mode in ("stock", "tier"):
            for g, v in sorted(guests.get("%s-%s" % (p, mode), {}).items()):
                if int(v["bad_pages"]):
                    bad = True
                    out.append("  %s %s: %s pages read back wrong" % (mode, g, v["bad_pages"]))
        out.append("  data: %s" % ("CORRUPT" if bad else "every page read back byte for byte"))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(os.path.join(d, "summary.txt"), "w") as f:
        f.write(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
