#!/usr/bin/env python3
"""Collect legitimate text from this machine as JSON strings, one value per line, for
`examples/prose.rs`: lines and paragraphs of /usr/share/doc, the common licenses, rendered
man pages and Python docstrings. Prose and code that mention SQL words ("select your plan",
"drop me a line") without being injections; no text is kept in the repository.

    python3 tools/prose_values.py [limit] > /tmp/prose.jsonl
"""
import gzip
import importlib
import json
import os
import pkgutil
import random
import subprocess
import sys

MAX_LEN = 1200


def read_text(path):
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read(400_000)
    except OSError:
        return ""
    if b"\0" in data[:4096]:
        return ""
    return data.decode("utf-8", "replace")


def split_values(text):
    """Each non-empty line, and each paragraph of several lines."""
    paragraph = []
    for line in text.splitlines():
        line = line.strip()
        if line:
            yield line
            paragraph.append(line)
            continue
        if len(paragraph) > 1:
            yield "\n".join(paragraph)[:MAX_LEN]
        paragraph = []
    if len(paragraph) > 1:
        yield "\n".join(paragraph)[:MAX_LEN]


def doc_files():
    for root, _, files in os.walk("/usr/share/doc"):
        for name in files:
            if name.endswith((".txt", ".md", ".rst", ".gz", ".py", ".c", ".pl", ".html")) or "." not in name:
                yield os.path.join(root, name)
    base = "/usr/share/common-licenses"
    for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        yield os.path.join(base, name)


def man_pages(n, rng):
    names = []
    for section in ("1", "5", "8"):
        d = f"/usr/share/man/man{section}"
        if os.path.isdir(d):
            names += [(section, f.split(".")[0]) for f in os.listdir(d)]
    rng.shuffle(names)
    for section, name in names[:n]:
        try:
            out = subprocess.run(
                ["man", "-P", "cat", section, name],
                capture_output=True, timeout=10, env={**os.environ, "MANWIDTH": "100"},
            ).stdout.decode("utf-8", "replace")
        except (subprocess.SubprocessError, OSError):
            continue
        yield out


def docstrings():
    for mod in sorted(m.name for m in pkgutil.iter_modules() if not m.name.startswith("_")):
        if mod in ("antigravity", "this", "idlelib", "turtledemo", "tkinter", "test"):
            continue
        try:
            m = importlib.import_module(mod)
        except BaseException:
            continue
        for obj in [m] + [getattr(m, a, None) for a in dir(m)[:200]]:
            doc = getattr(obj, "__doc__", None)
            if isinstance(doc, str):
                yield doc


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 60_000
    rng = random.Random(7)
    seen = set()
    sources = [
        (read_text(p) for p in doc_files()),
        man_pages(400, rng),
        docstrings(),
    ]
    values = []
    for source in sources:
        for text in source:
            for v in split_values(text):
                if len(v) >= 3 and v not in seen:
                    seen.add(v)
                    values.append(v)
    rng.shuffle(values)
    out = sys.stdout
    for v in values[:limit]:
        out.write(json.dumps(v) + "\n")


if __name__ == "__main__":
    main()
