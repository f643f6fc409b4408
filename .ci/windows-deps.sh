#!/bin/sh
# Prepares PREFIX for the Windows cross build (.ci/mingw64-wine.ini):
# cmocka for mingw-w64 (built by ../shared/third_party/build-cmocka-mingw,
# never copied into this repository) and xxhash's header, each with a .pc
# file, so that `PKG_CONFIG_LIBDIR=PREFIX/lib/pkgconfig meson setup ...
# --cross-file .ci/mingw64-wine.ini` finds them and nothing of the host's.
#   .ci/windows-deps.sh PREFIX
# Needs gcc-mingw-w64-x86-64, cmake, and libxxhash-dev (for the header).
# WEFT_THIRD_PARTY names the third_party folder if it is not ../shared's.
set -eu
prefix=${1:?usage: windows-deps.sh PREFIX}
src=$(cd "$(dirname "$0")/.." && pwd)
tp=${WEFT_THIRD_PARTY:-$src/../shared/third_party}
"$tp/build-cmocka-mingw" "$prefix" >/dev/null
prefix=$(cd "$prefix" && pwd)
# The static archive, so the test programs need no cmocka.dll at run time.
cat > "$prefix/lib/pkgconfig/cmocka.pc" <<PC
Name: cmocka
Description: The cmocka unit testing library (static, x86_64-w64-mingw32)
Version: 1.1.5
Libs: -L$prefix/lib -lcmocka-static
Cflags: -I$prefix/include
PC
# xxhash is used header-only (XXH_INLINE_ALL): the host's header is
# portable C; only it is exposed, not the rest of /usr/include.
ln -sf /usr/include/xxhash.h "$prefix/include/xxhash.h"
cat > "$prefix/lib/pkgconfig/libxxhash.pc" <<PC
Name: libxxhash
Description: xxHash, header-only (XXH_INLINE_ALL)
Version: $(pkg-config --modversion libxxhash)
Cflags: -I$prefix/include
PC
echo "Windows test dependencies ready in $prefix"
