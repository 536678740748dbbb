#!/usr/bin/env python3
"""Check that docs/writing-a-driver.md and the code agree.

1. The tutorial: every code block of the guide that follows a line
   <!-- file: PATH --> is part of PATH (relative to the source root); the
   blocks for one PATH, joined by one empty line, are exactly that file, and
   every file of conformance/tutorial/ is shown that way.
2. The rules: the guide numbers its rules "### Rule N: title", from 1 up
   without gaps; every "rule N" that loader/icd.c logs when it rejects a
   driver, and that accel-conformance cites in its messages, is one of them.

Usage: check-tutorial.py SOURCE_ROOT
"""
import os
import re
import sys

MARKER = re.compile(r"^<!-- file: (\S+) -->\s*$")
FENCE = re.compile(r"^```")


def blocks_by_file(guide_text):
    """{path: [block text, ...]} in the order of the guide."""
    files = {}
    lines = guide_text.split("\n")
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if not m:
            i += 1
            continue
        path = m.group(1)
        j = i + 1
        while j < len(lines) and lines[j].strip() == "":
            j += 1
        if j >= len(lines) or not FENCE.match(lines[j]):
            raise SystemExit(f"writing-a-driver.md:{i + 1}: the marker for {path} is not followed by a code block")
        k = j + 1
        while k < len(lines) and not FENCE.match(lines[k]):
            k += 1
        if k >= len(lines):
            raise SystemExit(f"writing-a-driver.md:{j + 1}: unterminated code block")
        files.setdefault(path, []).append("\n".join(lines[j + 1:k]) + "\n")
        i = k + 1
    return files


def check_tutorial(root, guide_text):
    errors = []
    files = blocks_by_file(guide_text)
    tutorial_dir = os.path.join(root, "conformance", "tutorial")
    shown = set(files)
    for name in sorted(os.listdir(tutorial_dir)):
        rel = f"conformance/tutorial/{name}"
        if rel not in shown:
            errors.append(f"{rel} is not shown in docs/writing-a-driver.md (no <!-- file: {rel} --> block)")
    for rel, blocks in files.items():
        path = os.path.join(root, rel)
        if not os.path.isfile(path):
            errors.append(f"docs/writing-a-driver.md shows {rel}, which does not exist")
            continue
        with open(path, encoding="utf-8") as f:
            actual = f.read()
        expected = "\n".join(blocks)
        if actual != expected:
            a, e = actual.split("\n"), expected.split("\n")
            n = next((i for i in range(min(len(a), len(e))) if a[i] != e[i]), min(len(a), len(e)))
            errors.append(
                f"{rel} differs from the guide's blocks at line {n + 1}:\n"
                f"  file:  {a[n] if n < len(a) else '(end of file)'!r}\n"
                f"  guide: {e[n] if n < len(e) else '(end of the blocks)'!r}")
    return errors


def check_rules(root, guide_text):
    errors = []
    numbers = [int(n) for n in re.findall(r"^### Rule (\d+): \S", guide_text, re.M)]
    if not numbers:
        return ["docs/writing-a-driver.md has no \"### Rule N: title\" headings"]
    if numbers != list(range(1, len(numbers) + 1)):
        errors.append(f"the guide's rules are numbered {numbers}, not 1 to {len(numbers)}")
    defined = set(numbers)
    with open(os.path.join(root, "loader", "icd.c"), encoding="utf-8") as f:
        loader = f.read()
    logged = {int(n) for n in re.findall(r'"rule (\d+): ', loader)}
    if not logged:
        errors.append("loader/icd.c names no rule in its rejection messages")
    for n in sorted(logged - defined):
        errors.append(f"loader/icd.c logs rule {n}, which the guide does not define")
    conf_dir = os.path.join(root, "conformance")
    for name in sorted(os.listdir(conf_dir)):
        if not name.endswith(".c"):
            continue
        with open(os.path.join(conf_dir, name), encoding="utf-8") as f:
            text = f.read()
        for n in sorted({int(n) for n in re.findall(r"\(rule (\d+)\)", text)} - defined):
            errors.append(f"conformance/{name} cites rule {n}, which the guide does not define")
    return errors


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    root = sys.argv[1]
    with open(os.path.join(root, "docs", "writing-a-driver.md"), encoding="utf-8") as f:
        guide = f.read()
    errors = check_tutorial(root, guide) + check_rules(root, guide)
    for e in errors:
        print(e)
    if errors:
        return 1
    print("docs/writing-a-driver.md agrees with conformance/tutorial/, loader/icd.c and conformance/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
