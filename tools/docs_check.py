#!/usr/bin/env python3
"""Checks that what the docs show is what the code does.

In README.md and docs/*.md, a fenced block right after one of these marks
is checked:

    <!-- output: COMMAND -->   the block is what the shell COMMAND prints
                               (run from the source root; 2>&1, pipes and
                               environment variables are written in it)
    <!-- file: PATH -->        the block is the file PATH, whole

In an output block a line "..." stands for any number of lines; a first
line "$ ..." shows the command and is not compared.  Timings vary from run
to run, so "0.004 s" and "8497 seeds/s" compare equal to any such figure.

    tools/docs_check.py [BUILD_DIR]    (default: build; "build/" in the
                                       commands is replaced by BUILD_DIR/)
Exit status 1 when a block differs, with a diff of each.
"""
import difflib
import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARK = re.compile(r"^<!-- (output|file): (.*?) -->\s*$")


def normalize(line):
    line = re.sub(r"\b\d+\.\d+ s\b", "<secs> s", line)
    line = re.sub(r"\b\d+ seeds/s\b", "<rate> seeds/s", line)
    return line.rstrip()


def matches(doc, actual):
    """Whether the doc lines match the actual lines, "..." matching any run."""
    memo = {}

    def go(i, j):
        key = (i, j)
        if key in memo:
            return memo[key]
        if i == len(doc):
            r = j == len(actual)
        elif doc[i] == "...":
            r = any(go(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            r = j < len(actual) and normalize(doc[i]) == normalize(actual[j]) and go(i + 1, j + 1)
        memo[key] = r
        return r

    return go(0, 0)


def blocks(path):
    """[(kind, arg, first line number, block lines)] of the marked blocks."""
    lines = open(path).read().split("\n")
    out = []
    for n, line in enumerate(lines):
        m = MARK.match(line)
        if not m:
            continue
        k = n + 1
        while k < len(lines) and not lines[k].strip():
            k += 1
        if k >= len(lines) or not lines[k].startswith("```"):
            out.append((m.group(1), m.group(2), n + 1, None))
            continue
        end = k + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        out.append((m.group(1), m.group(2), k + 2, lines[k + 1:end]))
    return out


def check(build):
    docs = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    bad = checked = 0
    for path in docs:
        rel = os.path.relpath(path, ROOT)
        for kind, arg, line, body in blocks(path):
            where = "%s:%d" % (rel, line)
            if body is None:
                print("docs_check: %s: a %s mark with no fenced block after it" % (where, kind))
                bad += 1
                continue
            checked += 1
            if kind == "file":
                want = open(os.path.join(ROOT, arg)).read().rstrip("\n").split("\n")
                if body != want:
                    bad += 1
                    print("docs_check: %s: the block is not %s as it is now:" % (where, arg))
                    sys.stdout.writelines(difflib.unified_diff(
                        [l + "\n" for l in body], [l + "\n" for l in want], rel, arg))
                continue
            cmd = re.sub(r"(^|[\s=|;(])build/", lambda m: m.group(1) + build + "/", arg)
            run = subprocess.run(["sh", "-c", cmd], cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, timeout=120)
            actual = run.stdout.decode(errors="replace").rstrip("\n").split("\n")
            actual = [l.replace(build + "/", "build/") for l in actual]
            doc = body[1:] if body and body[0].startswith("$ ") else body
            if not matches(doc, actual):
                bad += 1
                print("docs_check: %s: `%s` prints something else now:" % (where, arg))
                sys.stdout.writelines(difflib.unified_diff(
                    [l + "\n" for l in doc], [l + "\n" for l in actual], "documented", "printed"))
    print("docs_check: %d block(s) checked, %d differ" % (checked, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(check(sys.argv[1] if len(sys.argv) > 1 else "build"))
