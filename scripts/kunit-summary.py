#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print one "PASS|FAIL kunit: SUITE (N cases)" line per KUnit suite found
in the JSON that `kunit.py parse --json` wrote."""
import json
import sys


def leaves(group):
    for case in group.get("test_cases", []):
        yield case
    for sub in group.get("sub_groups", []):
        yield from leaves(sub)


def main():
    with open(sys.argv[1]) as f:
        top = json.load(f)
    # Suites that printed no case lines land in the top-level test_cases.
    for case in top.get("test_cases", []):
        if case["status"] in ("PASS", "SKIP"):
            print("PASS kunit: %s" % case["name"])
        else:
            print("FAIL kunit: %s (%s)" % (case["name"], case["status"]))
    suites = top.get("sub_groups", [])
    for suite in suites:
        cases = list(leaves(suite))
        bad = [c["name"] for c in cases if c["status"] not in ("PASS", "SKIP")]
        if bad or not cases:
            print("FAIL kunit: %s (failed: %s)" % (suite["name"], ", ".join(bad) or "no cases"))
        else:
            print("PASS kunit: %s (%d cases)" % (suite["name"], len(cases)))


if __name__ == "__main__":
    main()
