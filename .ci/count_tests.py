#!/usr/bin/env python3
"""Counts test cases over meson test runs: prints "N passed, N failed, N skipped".

Reads each build's meson-logs/testlog.json.  A TAP test (cmocka's output)
counts each "ok" / "not ok" line, "# SKIP" ones as skipped; a TAP program
that failed without any failing line (it crashed, timed out) counts one
failure more.  A plain test counts once: OK and EXPECTEDFAIL pass, SKIP
skips, anything else fails.
    count_tests.py BUILD_DIR...
"""
import json
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b(.*)$")


def count(path):
    passed = failed = skipped = 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            result = t.get("result")
            out = t.get("stdout") or ""
            cases = [TAP_LINE.match(l) for l in out.splitlines()]
            cases = [m for m in cases if m]
            if re.search(r"^1\.\.\d+", out, re.M) and cases:
                bad = 0
                for m in cases:
                    if "# SKIP" in m.group(2).upper():
                        skipped += 1
                    elif m.group(1) == "ok":
                        passed += 1
                    else:
                        bad += 1
                failed += bad
                if result not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0:
                    failed += 1
            elif result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
    return passed, failed, skipped


def main(dirs):
    totals = [0, 0, 0]
    for d in dirs:
        for i, n in enumerate(count(d + "/meson-logs/testlog.json")):
            totals[i] += n
    print("%d passed, %d failed, %d skipped" % tuple(totals))
    return 1 if totals[1] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
