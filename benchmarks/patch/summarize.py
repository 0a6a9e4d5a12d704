#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""summarize.py RUNDIR - the patch-tier benchmark against compression only
and stock KSM, from RUNDIR/<mode>.log (ksm_patch_bench output): memory
saved in all and per region, first-access latency of patched vs
compressed pages, ksmd CPU per page patched.  Exits 1 if a mode is
missing or read back wrong data."""
import os
import sys

MODES = ("stock", "compress", "patch")


def parse(path):
    out = {"region": {}}
    for line in open(path):
        words = line.split()
        if not words or words[0] not in ("TOTAL", "REGION", "RESULT"):
            continue
        kv = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        if words[0] == "REGION":
            out["region"][kv["name"]] = kv
        else:
            out[words[0].lower()] = kv
    return out


def ratio(a, b):
    return "%.2f" % (a / b) if b else ("inf" if a else "n/a")


def main():
    rundir = sys.argv[1]
    runs, bad = {}, False
    for m in MODES:
        p = os.path.join(rundir, m + ".log")
        if not os.path.exists(p):
            print("MISSING: %s did not run" % m)
            bad = True
            continue
        runs[m] = parse(p)
        if runs[m].get("result", {}).get("ok") != "1":
            print("FAILED: %s (wrong data read back or no result)" % m)
            bad = True
    if bad:
        return 1
    st = float(runs["stock"]["total"]["saved_kb"])
    print("memory saved in all (KSM + zswap net), and against stock KSM:")
    for m in MODES:
        t = runs[m]["total"]
        print("  %-9s %8.1f MiB  x%s  (%ss, ksmd %s ms, %s patched in %s bytes, %s compressed)" % (
            m, float(t["saved_kb"]) / 1024, ratio(float(t["saved_kb"]), st), t["seconds"],
            t["ksmd_ms"], t["patched"], t["patch_bytes"], t["compressed"]))
    print("per region: share of its memory saved (pages out; patched; mean patch bytes)")
    for r in ("similar", "shifted", "text"):
        cells = []
        for m in MODES:
            g = runs[m]["region"][r]
            n = int(g["patched"])
            cells.append("%-9s %5.1f%% (%s out; %s patched; %s B)" % (
                m, float(g["saved_pct"]), g["out"], n,
                "%.0f" % (int(g["patch_bytes"]) / n) if n else "-"))
        print("  %-8s %s" % (r, "  ".join(cells)))
    txt = runs["patch"]["region"]["text"]
    com = runs["compress"]["region"]["text"]
    print("first access to a page in zswap, p50 / p90 us (regions touched interleaved):"
          " compressed (text) %s / %s in the patch run, %s / %s in the compress-only run" % (
              txt["lat_us_p50"], txt["lat_us_p90"], com["lat_us_p50"], com["lat_us_p90"]))
    for r in ("similar", "shifted"):
        pat = runs["patch"]["region"][r]
        print("  patched (%s) %s / %s: p50 %sx that of the compressed pages of the same run" % (
            r, pat["lat_us_p50"], pat["lat_us_p90"],
            ratio(float(pat["lat_us_p50"]), float(txt["lat_us_p50"]))))
    pt, ct = runs["patch"]["total"], runs["compress"]["total"]
    print("ksmd CPU while pushing: %s ms for %s pages (%s patched) with the patch tier,"
          " %s ms for %s pages compressed only; %s patches encoded" % (
              pt["ksmd_ms"], pt["compressed"], pt["patched"], ct["ksmd_ms"], ct["compressed"],
              runs["patch"]["result"]["patch_tried"]))
    sp = os.path.join(rundir, "speed.txt")
    if os.path.exists(sp):
        print("codec on the host CPU (tools/testing/ksm_patch speed): " +
              " ".join(w for line in open(sp) if not line.startswith("(check")
                       for w in line.split()))
    print("every page read back byte for byte: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
