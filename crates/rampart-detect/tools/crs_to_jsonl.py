#!/usr/bin/env python3
"""Flatten the CRS regression corpus into JSON lines for `examples/corpus.rs`.

Uses the eval harness's own loader and request builder (wafeval.py) so the requests are
the ones the full-stack evaluation sends; each line carries the class (attack/legit), the
set, and the request split into method, target, headers and body (base64).

    python3 tools/crs_to_jsonl.py /work/shared/eval > /tmp/crs.jsonl
"""
import base64
import json
import os
import re
import sys


def split_raw(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    if not _:
        head, _, body = raw.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    if not lines:
        return None
    parts = lines[0].split(" ")
    method, target = (parts + ["", ""])[:2]
    headers = []
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers.append([k.strip(), v.strip()])
    return method, target, headers, body


def main():
    evaldir = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/eval"
    sys.path.insert(0, evaldir)
    import wafeval  # noqa: E402

    notes = []
    cases = wafeval.discover(os.path.join(evaldir, "corpus", "crs-regression"), {"crs"},
                             re.compile(wafeval.DEFAULT_LEGIT_SETS), notes)
    for c in cases:
        key = "crs|%s|%s|%s" % (c["file"], c["test_id"], c["klass"])
        r = wafeval.crs_request(c["input"], key)
        if r.get("raw") is not None:
            split = split_raw(r["raw"])
            if split is None:
                continue
            method, target, headers, body = split
        else:
            method, target = r["method"], r["target"]
            headers = [list(h) for h in r["headers"]]
            body = r["body"] or b""
        out = {"set": c["set"], "klass": c["klass"], "rule": c["case"], "test": c["test_id"],
               "desc": c["type"], "method": method, "target": target, "headers": headers,
               "body": base64.b64encode(body).decode("ascii")}
        print(json.dumps(out))


if __name__ == "__main__":
    main()
