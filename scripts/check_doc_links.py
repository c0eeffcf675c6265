#!/usr/bin/env python3
"""Every relative link in README.md and docs/*.md names a file of the repository, and every
#anchor a heading of its target (GitHub's rules for heading ids). The README is short and
sends readers to docs/ pages for everything else, so a link that no longer resolves loses
them a whole topic. Links that leave the repository (a clone must make sense alone) and
absolute paths are refused too. Run by scripts/test.sh; standard library only.

    python3 scripts/check_doc_links.py [ROOT]
"""
import glob
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)\)")


def heading_ids(path):
    """The ids GitHub gives a file's headings: lower case, punctuation other than `-` and
    `_` dropped, spaces to `-`, and `-1`, `-2`… on repeats."""
    ids, seen, fence = set(), {}, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("```"):
                fence = not fence
                continue
            m = None if fence else re.match(r"^#{1,6}\s+(.*?)\s*$", line)
            if not m:
                continue
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1))
            slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            ids.add(slug if n == 0 else f"{slug}-{n}")
    return ids


def main():
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    broken = checked = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"```.*?```", "", text, flags=re.S)  # examples, not links
        for m in LINK.finditer(text):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                continue
            checked += 1
            name = os.path.relpath(path, ROOT)
            file_part, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if target.startswith("/") or not (dest + os.sep).startswith(ROOT + os.sep) and dest != ROOT:
                print(f"{name}: {target}: outside the repository", file=sys.stderr)
                broken += 1
            elif not os.path.exists(dest):
                print(f"{name}: {target}: no such file", file=sys.stderr)
                broken += 1
            elif anchor and dest.endswith(".md") and anchor not in heading_ids(dest):
                print(f"{name}: {target}: no such heading", file=sys.stderr)
                broken += 1
    print(f"doc links: {checked} checked in {len(files)} files, {broken} broken")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
