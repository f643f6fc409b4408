#!/bin/sh
# Runs a cmocka test program for Meson's TAP reader.  cmocka 1.1.5 writes
# a skipped test as "not ok N # SKIP name", which TAP readers count as a
# failure; this rewrites those lines as "ok N - name # SKIP" and keeps the
# program's exit status (the number of failed tests).
#   cmocka_tap.sh PROGRAM [ARGS...]
out=$(mktemp) || exit 99
"$@" >"$out"
rc=$?
sed -E 's/^not ok ([0-9]+) # SKIP (.*)$/ok \1 - \2 # SKIP/' "$out"
rm -f "$out"
exit $rc
