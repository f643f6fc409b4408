#!/bin/sh
# The same seed gives the same fingerprint with gcc and clang, at -O0 and
# -O2: builds bank_race, examples/kv (the replicated store on the simulated
# network: crashes, restarts, datagrams) and tests/sim_fingerprints (timers,
# random draws, fault points, every strategy, hosts, the network) four ways
# (separate build dirs; a fault point's identity is its file's base name
# and line, so the directories' depth does not matter:
# .ci/portable_seeds.sh checks that), prints seeds 0..7 of the buggy and
# fixed bodies from each, and compares.
#   .ci/fingerprints.sh [workdir]     (default: build-fp)
# With WEFT_FP_WINDOWS=PREFIX (a prefix made by .ci/windows-deps.sh) it also
# cross-builds for Windows (.ci/mingw64-wine.ini, -O2) and runs the same
# programs under wine: determinism across operating systems, not only
# across compilers.
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
        ninja -C "$dir" examples/bank_race examples/kv/kv tests/sim_fingerprints >/dev/null
        (cd "$dir" && ./examples/bank_race --fingerprint 0 && ./examples/kv/kv --fingerprint 0 &&
            ./tests/sim_fingerprints 16) \
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
if [ -n "${WEFT_FP_WINDOWS:-}" ]; then
    dir=$work/mingw-O2
    if [ ! -f "$dir/build.ninja" ]; then
        PKG_CONFIG_LIBDIR=$WEFT_FP_WINDOWS/lib/pkgconfig meson setup "$dir" "$src" \
            --cross-file "$src/.ci/mingw64-wine.ini" --buildtype=plain -Doptimization=2 \
            -Dbench=false >/dev/null
    fi
    ninja -C "$dir" examples/bank_race.exe examples/kv/kv.exe tests/sim_fingerprints.exe >/dev/null
    wine=/usr/lib/wine/wine64
    # The C runtime writes \r\n in text mode: compare the text, not the bytes.
    (cd "$dir" && WINEDEBUG=-all $wine examples/bank_race.exe --fingerprint 0 &&
        WINEDEBUG=-all $wine examples/kv/kv.exe --fingerprint 0 &&
        WINEDEBUG=-all $wine tests/sim_fingerprints.exe 16) | tr -d '\r' > "$work/mingw-O2.txt"
    if cmp -s "$ref" "$work/mingw-O2.txt"; then
        echo "mingw-w64 -O2 under wine: same fingerprints"
    else
        echo "mingw-w64 -O2 under wine: DIFFERENT fingerprints:"
        diff "$ref" "$work/mingw-O2.txt" || true
        status=1
    fi
fi
[ $status -eq 0 ] && echo "fingerprints identical across gcc/clang x -O0/-O2${WEFT_FP_WINDOWS:+ and Windows}"
exit $status
