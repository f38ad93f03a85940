#!/usr/bin/env python3
"""Per-set rates and every miss, false positive and odd outcome of a wafeval --json result.

Usage: misses.py RESULT.json [native|matrix]
Lines: one rate per (set, class), TOTAL per class, then MISS/FP/ODD lines with the
payload's sha1 prefix (what add-set.py and why.py take).
"""
import collections
import json
import sys

d = json.load(open(sys.argv[1]))
view = sys.argv[2] if len(sys.argv) > 2 else "native"
rs = [r for r in d["results"] if r["view"] == view]
by = collections.defaultdict(lambda: [0, 0])
tot = {"attack": [0, 0], "legit": [0, 0]}
for r in rs:
    good = (r["outcome"] == "blocked") if r["klass"] == "attack" else (r["outcome"] == "passed")
    for acc in (by[(r["set"], r["klass"])], tot[r["klass"]]):
        acc[0] += good
        acc[1] += 1
for (s, k), (g, n) in sorted(by.items()):
    print("%-55s %-6s %3d/%3d %5.1f%%" % (s, k, g, n, 100 * g / n))
for k, (g, n) in tot.items():
    if n:
        print("TOTAL %s %d/%d %.1f%%" % (k, g, n, 100 * g / n))
for r in rs:
    p = r["payload"][:200].replace("\n", "\\n")
    ph = r["placeholder"] if isinstance(r["placeholder"], str) else "raw"
    if r["outcome"] not in ("blocked", "passed"):
        print("ODD", r["set"], r["payload_sha1"], r["outcome"], r["status"], r["reason"], p)
    elif r["klass"] == "attack" and r["outcome"] == "passed":
        print("MISS", r["set"], r["payload_sha1"], ph[:20], p)
    elif r["klass"] == "legit" and r["outcome"] == "blocked":
        print("FP", r["set"], r["payload_sha1"], r["status"], p)
