#!/bin/sh
# Runs a cmocka test program for Meson's TAP reader.  cmocka 1.1.5 writes
# a skipped test as "not ok N # SKIP name", which TAP readers count as a
# failure; this rewrites those lines as "ok N - name # SKIP" and keeps the
# program's exit status (the number of failed tests).  A cross build's
# program runs through Meson's exe_wrapper (wine for Windows), whose C
# runtime ends lines with \r\n: the \r goes too.
#   cmocka_tap.sh PROGRAM [ARGS...]
out=$(mktemp) || exit 99
# shellcheck disable=SC2086 # the wrapper is a command line: split it
${MESON_EXE_WRAPPER:-} "$@" >"$out"
rc=$?
sed -E -e 's/\r$//' -e 's/^not ok ([0-9]+) # SKIP (.*)$/ok \1 - \2 # SKIP/' "$out"
rm -f "$out"
exit $rc
