#!/usr/bin/env python3
"""Why a request of a wafeval --json result was blocked: rebuilds it with wafeval's own
functions from the corpus, sends it again and prints the audit decision (check, rule,
location, explanation) that the response's request id names in the `rampart up` log.

Usage: [SOURCES=crs] why.py RESULT.json CORPUS_DIR TARGET_URL UP_LOG [SHA1 ...]
Without SHA1 prefixes it explains every false positive (and, for misses, says so).
"""
import json
import os
import sys
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.environ.get("WAFEVAL_DIR", os.path.join(os.path.dirname(__file__),
                                                               "../../../shared/eval")))
import wafeval  # noqa: E402

result, corpus, target, log = sys.argv[1:5]
wanted = set(sys.argv[5:])
d = json.load(open(result))
notes = []
sources = set(os.environ.get("SOURCES", "gotestwaf").split(","))  # crs for the CRS corpus
cases = wafeval.discover(corpus, sources, wafeval.re.compile(wafeval.DEFAULT_LEGIT_SETS), notes)
items = {it["id"]: it for it in wafeval.expand(cases, "both", "/", None)}
url = urlsplit(target)
for r in d["results"]:
    if wanted:
        if r["payload_sha1"] not in wanted:
            continue
    elif not (r["klass"] == "legit" and r["outcome"] == "blocked"):
        continue
    item = items.get(r["id"])
    if item is None:
        print("?", r["payload_sha1"], "not in the corpus")
        continue
    spec = wafeval.build_request(item, "/")
    data = wafeval.serialize(spec, url.netloc, wafeval.DEFAULT_UA)
    res = wafeval.send(url.hostname, url.port, data, 10)
    body = res.get("body") or b""
    try:
        rid = json.loads(body)["request_id"]
    except (ValueError, KeyError):
        print(r["payload_sha1"], r["view"], r["placeholder"], res.get("status"), "(no problem body)")
        continue
    time.sleep(0.05)
    why = [json.loads(l) for l in open(log, errors="replace") if rid in l and '"decision"' in l]
    for w in why:
        print(r["payload_sha1"], r["view"], str(r["placeholder"])[:12], w.get("status"), w.get("check"),
              w.get("rule"), w.get("location"), json.dumps(w.get("explanation"))[:300])
    if not why:
        print(r["payload_sha1"], r["view"], res.get("status"), "no audit line for", rid)
