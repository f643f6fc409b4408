#!/bin/sh
# weft as someone else's Meson subproject: builds tests/consumer with
# subprojects/weft linked to this checkout, runs its test, and checks that
# weft's own tests, benchmarks and examples were not configured (nor
# cmocka looked for) and that nothing of weft would be installed.  Then the installed pkg-config file: cflags resolve
# without libxxhash.pc, and a program links against it, dynamic and static.
#   .ci/consumer.sh [workdir]     (default: build-consumer)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$src/build-consumer}
rm -rf "$work"
mkdir -p "$work/project/subprojects"
work=$(cd "$work" && pwd) # absolute: meson wants an absolute --prefix
cp "$src/tests/consumer/meson.build" "$src/tests/consumer/consumer.c" "$work/project/"
ln -s "$src" "$work/project/subprojects/weft"
meson setup "$work/build" "$work/project" >"$work/setup.log" || { cat "$work/setup.log"; exit 1; }
if grep -q "cmocka" "$work/setup.log"; then
    echo "consumer: weft looked for cmocka as a subproject:"; grep cmocka "$work/setup.log"; exit 1
fi
ninja -C "$work/build" >/dev/null
for t in test_smoke bank_race weft-bench weft-demo; do
    if [ -n "$(find "$work/build/subprojects" -name "$t" -type f)" ]; then
        echo "consumer: the subproject built $t"; exit 1
    fi
done
meson test -C "$work/build" --print-errorlogs consumer
"$work/build/consumer"
# A subproject weft is linked in statically: it installs nothing.
if ! meson install -C "$work/build" --dry-run 2>&1 | grep -q "Nothing to install"; then
    echo "consumer: the subproject would install files:"; meson install -C "$work/build" --dry-run; exit 1
fi

# The installed library, through pkg-config only.
meson setup "$work/inst-build" "$src" --prefix="$work/prefix" -Dtests=false -Dbench=false \
    -Dexamples=false -Ddocs=false >"$work/inst-setup.log" || { cat "$work/inst-setup.log"; exit 1; }
ninja -C "$work/inst-build" install >/dev/null
pc=$(find "$work/prefix" -name weft.pc)
if grep -q "xxhash" "$pc"; then echo "consumer: weft.pc names xxhash:"; cat "$pc"; exit 1; fi
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_LIBDIR=/nonexistent
pkg-config --cflags weft >/dev/null
${CC:-cc} -std=c11 -o "$work/consumer-shared" "$src/tests/consumer/consumer.c" $(pkg-config --cflags --libs weft) \
    -Wl,-rpath,"$(pkg-config --variable=libdir weft)"
"$work/consumer-shared"
${CC:-cc} -std=c11 -o "$work/consumer-static" "$src/tests/consumer/consumer.c" $(pkg-config --cflags weft) \
    -static $(pkg-config --static --libs weft)
"$work/consumer-static"
echo "consumer: subproject, pkg-config (shared and static) all fine"
