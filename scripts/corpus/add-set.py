#!/usr/bin/env python3
"""Copies a generated gotestwaf-style set into the corpus with a one-line header comment
saying where it came from, its first-run rate, what was fixed and what was left out.

Usage: add-set.py SRC.yml DEST.yml "COMMENT" [SHA1,SHA1,...]
The optional list names payloads (sha1 prefixes, as misses.py prints them) to leave out.
The written file is read back and must hold the same payloads and placeholder.
"""
import hashlib
import json
import sys

import yaml

src, dest, comment = sys.argv[1], sys.argv[2], sys.argv[3]
drop = set(sys.argv[4].split(",")) if len(sys.argv) > 4 and sys.argv[4] else set()
assert "\n" not in comment, "the comment is one line"
d = yaml.safe_load(open(src))
kept = [p for p in d["payload"] if hashlib.sha1(p.encode()).hexdigest()[:12] not in drop]


def item(x):
    return x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)


def printable(c):
    """Whether YAML accepts `c` unescaped in a document (YAML 1.1 c-printable)."""
    o = ord(c)
    return (c in "\t\n\r" or 0x20 <= o <= 0x7E or o == 0x85 or 0xA0 <= o <= 0xD7FF
            or 0xE000 <= o <= 0xFFFD or o >= 0x10000)


def quoted(p):
    # JSON escapes what YAML's double-quoted style also reads; binary upload bytes
    # (C1 controls) are escaped too, which YAML refuses raw.
    return "".join(c if printable(c) else "\\u%04x" % ord(c) for c in json.dumps(p, ensure_ascii=False))


out = ["---", "# " + comment, "payload:"] + ["  - " + quoted(p) for p in kept]
out += ["encoder:"] + ["  - " + item(e) for e in d["encoder"]]
out += ["placeholder:"] + ["  - " + item(p) for p in d["placeholder"]]
text = "\n".join(out) + "\n"
back = yaml.safe_load(text)
assert back["payload"] == kept and back["placeholder"] == d["placeholder"], "round trip"
open(dest, "w").write(text)
print(dest, len(kept), "payloads,", len(d["payload"]) - len(kept), "left out")
