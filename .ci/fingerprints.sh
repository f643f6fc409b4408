#!/bin/sh
# The same seed gives the same fingerprint with gcc and clang, at -O0 and
# -O2: builds bank_race and tests/sim_fingerprints (timers, random draws,
# fault points, both strategies) four ways (separate build dirs, same depth so
# __FILE__ and thus buggify sites match), prints seeds 0..7 of the buggy and
# fixed bodies from each, and compares.
#   .ci/fingerprints.sh [workdir]     (default: build-fp)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$src/build-fp}
mkdir -p "$work"
ref=
status=0
for cc in gcc clang; do
    for opt in 0 2; do
        dir=$work/$cc-O$opt
        if [ ! -f "$dir/build.ninja" ]; then
            CC=$cc meson setup "$dir" "$src" --buildtype=plain -Doptimization=$opt \
                -Dbench=false >/dev/null
        fi
        ninja -C "$dir" examples/bank_race tests/sim_fingerprints >/dev/null
        (cd "$dir" && ./examples/bank_race --fingerprint 0 && ./tests/sim_fingerprints 16) \
            > "$work/$cc-O$opt.txt"
        if [ -z "$ref" ]; then
            ref=$work/$cc-O$opt.txt
            echo "gcc -O0 (reference):"
            cat "$ref"
        elif cmp -s "$ref" "$work/$cc-O$opt.txt"; then
            echo "$cc -O$opt: same fingerprints"
        else
            echo "$cc -O$opt: DIFFERENT fingerprints:"
            diff "$ref" "$work/$cc-O$opt.txt" || true
            status=1
        fi
    done
done
[ $status -eq 0 ] && echo "fingerprints identical across gcc/clang x -O0/-O2"
exit $status
