#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""summarize.py DIR - ratios of KSM I/O hints on against off, per run pair.

Reads DIR/results.txt and DIR/<run>-{off,on}.csv written by run-guest.sh;
prints a table and writes DIR/summary.txt and DIR/summary.csv.  Ratios
are on/off measured in the same boot of the same kernel."""
import csv
import os
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


def first_time(rows, pages):
    for r in rows:
        if r["pages_sharing"] >= pages:
            return r["t_s"]
    return None


def ratio(a, b):
    if b == 0:
        return "inf" if a > 0 else "n/a"
    return "%.2f" % (a / b)


def main():
    d = sys.argv[1]
    results = {}
    with open(os.path.join(d, "results.txt")) as f:
        for line in f:
            name, rest = line.split(" ", 1)
            kv = dict(x.split("=", 1) for x in rest.split()[1:])
            results[name] = kv
    pairs = sorted({n.rsplit("-", 1)[0] for n in results})
    head = ["run", "dup_pages", "t_s", "shared@10s on/off", "shared@30s on/off",
            "shared@60s on/off", "dup merged<=5s on/off", "95% merged at on/off (s)",
            "ksmd ms/merged page on/off", "read MiB/s on/off", "data"]
    rows = []
    for p in pairs:
        on, off = results.get(p + "-on"), results.get(p + "-off")
        if not on or not off:
            rows.append([p] + ["incomplete"] * (len(head) - 1))
            continue
        c_on, c_off = load(os.path.join(d, p + "-on.csv")), load(os.path.join(d, p + "-off.csv"))
        dup = int(on["dup_pages"])
        end = min(c_on[-1]["t_s"], c_off[-1]["t_s"])
        sh = lambda c, t: at(c, t)["pages_sharing"]
        cells = [p, str(dup), "%.0f" % end]
        for t in (10, 30, 60):
            cells.append("%d/%d = %s" % (sh(c_on, t), sh(c_off, t), ratio(sh(c_on, t), sh(c_off, t))))
        f5 = lambda c: 100.0 * min(sh(c, 5), dup) / dup
        cells.append("%.1f%% / %.1f%%" % (f5(c_on), f5(c_off)))
        t95 = lambda c: first_time(c, 0.95 * dup)
        fmt = lambda v: "-" if v is None else "%.1f" % v
        cells.append("%s / %s" % (fmt(t95(c_on)), fmt(t95(c_off))))
        cpm = lambda c: at(c, end)["ksmd_cpu_ms"] / max(at(c, end)["pages_sharing"], 1)
        m_on, m_off = at(c_on, end)["pages_sharing"], at(c_off, end)["pages_sharing"]
        cells.append("%.3f/%s = %s" % (cpm(c_on), "%.3f" % cpm(c_off) if m_off else "-",
                                      ratio(cpm(c_on), cpm(c_off)) if m_off else "n/a (off merged 0)"))
        r_on, r_off = float(on["read_MiBps"]), float(off["read_MiBps"])
        cells.append("%.0f/%.0f = %s" % (r_on, r_off, ratio(r_on, r_off)))
        cells.append("ok" if on["data"] == "ok" and off["data"] == "ok" else "CORRUPT")
        rows.append(cells)
    with open(os.path.join(d, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    text = "\n".join(out) + "\n"
    with open(os.path.join(d, "summary.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)
    if any(r[-1] != "ok" for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
