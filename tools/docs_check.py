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

    tools/docs_check.py [--update] [BUILD_DIR]   (default: build; "build/"
        in the commands is replaced by BUILD_DIR/)
Exit status 1 when a block differs, with a diff of each.  --update rewrites
the blocks that differ instead (those with "..." only where the shape fits).
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


def rewrite(path, line, new_body):
    """Replaces the block whose first line is `line` (1-based) by new_body."""
    lines = open(path).read().split("\n")
    start = line - 1
    end = start
    while not lines[end].startswith("```"):
        end += 1
    lines[start:end] = new_body
    open(path, "w").write("\n".join(lines))


def check(build, update=False):
    docs = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
    bad = checked = 0
    for path in docs:
        rel = os.path.relpath(path, ROOT)
        for kind, arg, line, body in reversed(blocks(path)):
            where = "%s:%d" % (rel, line)
            if body is None:
                print("docs_check: %s: a %s mark with no fenced block after it" % (where, kind))
                bad += 1
                continue
            checked += 1
            if kind == "file":
                want = open(os.path.join(ROOT, arg)).read().rstrip("\n").split("\n")
                if body != want and update:
                    rewrite(path, line, want)
                    print("docs_check: %s: updated from %s" % (where, arg))
                elif body != want:
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
            if not matches(doc, actual) and update and "..." not in doc:
                rewrite(path, line, (body[:1] if body and body[0].startswith("$ ") else []) + actual)
                print("docs_check: %s: updated from `%s`" % (where, arg))
            elif not matches(doc, actual):
                bad += 1
                print("docs_check: %s: `%s` prints something else now:" % (where, arg))
                sys.stdout.writelines(difflib.unified_diff(
                    [l + "\n" for l in doc], [l + "\n" for l in actual], "documented", "printed"))
    print("docs_check: %d block(s) checked, %d differ" % (checked, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--update"]
    sys.exit(check(args[0] if args else "build", update="--update" in sys.argv[1:]))
