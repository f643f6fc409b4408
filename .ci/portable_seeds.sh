#!/bin/sh
# Seeds are portable: the same seed gives the same run whatever the
# compiler, the build directory and the working directory.  Builds
# tests/sim_fingerprints (fault points in a .c file and in a header,
# tests/sim_site.h) with gcc one directory deep and with clang three deep,
# compares their fingerprints (run from different working directories),
# then writes a seeds file from a failing seed of one build's sweep and
# checks that it fails in the other build too, both ways.
#   .ci/portable_seeds.sh [workdir]     (default: build-portable)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$src/build-portable}
mkdir -p "$work/one" "$work/two/deeper/still"
work=$(cd "$work" && pwd) # the runs below start from other directories
a=$work/one/gcc
b=$work/two/deeper/still/clang
for pair in "gcc $a" "clang $b"; do
    set -- $pair
    if [ ! -f "$2/build.ninja" ]; then
        CC=$1 meson setup "$2" "$src" -Dbench=false -Dexamples=false >/dev/null
    fi
    ninja -C "$2" tests/sim_fingerprints >/dev/null
done
(cd "$a" && ./tests/sim_fingerprints 16) > "$work/gcc.txt"
(cd "$work/two" && "$b/tests/sim_fingerprints" 16) > "$work/clang.txt"
if ! cmp -s "$work/gcc.txt" "$work/clang.txt"; then
    echo "portable seeds: DIFFERENT fingerprints (gcc in $a, clang in $b):"
    diff "$work/gcc.txt" "$work/clang.txt" || true
    exit 1
fi
echo "portable seeds: gcc (depth 1) and clang (depth 3) give the same $(wc -l < "$work/gcc.txt") fingerprints"

# A seed that fails in one build, kept in a seeds file, fails in the other.
status=0
for pair in "$a $b" "$b $a"; do
    set -- $pair
    seed=$(cd "$1" && WEFT_SEEDS=200 ./tests/sim_fingerprints --sweep 2>&1 |
        sed -n 's/.*FAIL header_fault seed=\([0-9]*\) .*/\1/p' | head -n 1)
    if [ -z "$seed" ]; then
        echo "portable seeds: no seed of header_fault failed in $1"
        exit 1
    fi
    seeds=$work/seeds
    rm -rf "$seeds" && mkdir -p "$seeds"
    echo "$seed  cut twice by the header's fault point (found in $1)" > "$seeds/header_fault.txt"
    if out=$(cd / && WEFT_SEEDS=0 WEFT_SEEDS_DIR=$seeds "$2/tests/sim_fingerprints" --sweep 2>&1); then
        echo "portable seeds: seed $seed from $1 does not fail in $2:"
        echo "$out"
        status=1
    elif echo "$out" | grep -q "FAIL header_fault seed=$seed from seeds file"; then
        echo "portable seeds: seed $seed found in $(basename "$1") fails from the seeds file in $(basename "$2")"
    else
        echo "portable seeds: unexpected output in $2:"
        echo "$out"
        status=1
    fi
done
exit $status
