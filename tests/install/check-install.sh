#!/bin/sh
# Install accel-loader into a fresh prefix and check what a user gets there:
# the library with its SONAME, headers, pkg-config file, tools, the cpu
# driver and its manifest; then build a program with pkg-config alone and
# run it (and the installed accelinfo) with an empty environment: both must
# find the cpu device through the installed manifest.
# Usage: check-install.sh SOURCE_ROOT
set -eu
src=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/accel-install.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

fail() { echo "FAIL: $*"; exit 1; }

meson setup "$work/build" "$src" --prefix="$prefix" -Dtests=false -Dbench=false >"$work/setup.log" 2>&1 ||
    { cat "$work/setup.log"; fail "meson setup"; }
ninja -C "$work/build" >"$work/build.log" 2>&1 || { cat "$work/build.log"; fail "build"; }
meson install -C "$work/build" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "meson install"; }

for f in lib/libaccel-loader.so.1 include/accel/accel.h include/accel/accel_icd.h \
    include/accel/accel_types.h include/accel/accel_version.h lib/pkgconfig/accel-loader.pc \
    bin/accelinfo bin/accel-run bin/accel-conformance lib/accel/libaccel_cpu.so \
    share/accel/icd.d/accel_cpu.json; do
    [ -e "$prefix/$f" ] || fail "$f is not installed"
    echo "installed: $f"
done
soname=$(readelf -d "$prefix/lib/libaccel-loader.so.1" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libaccel-loader.so.1" ] || fail "SONAME is '$soname'"
echo "SONAME: $soname"
grep -q "\"$prefix/lib/accel/libaccel_cpu.so\"" "$prefix/share/accel/icd.d/accel_cpu.json" ||
    fail "the installed manifest does not name $prefix/lib/accel/libaccel_cpu.so"

flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs accel-loader) || fail "pkg-config"
echo "pkg-config: $flags"
${CC:-cc} -o "$work/find-cpu" "$src/tests/install/find-cpu.c" $flags -Wl,-rpath,"$prefix/lib" ||
    fail "building a program with pkg-config"
env -i "$work/find-cpu" || fail "the program did not find the cpu device"
env -i "$prefix/bin/accelinfo" | tee "$work/accelinfo.txt"
grep -q 'cpu' "$work/accelinfo.txt" || fail "installed accelinfo did not list the cpu device"
grep -q "loaded  cpu .*$prefix/share/accel/icd.d/accel_cpu.json" "$work/accelinfo.txt" ||
    fail "installed accelinfo did not load the cpu driver from the prefix's datadir"
env -i "$prefix/bin/accel-run" --help >/dev/null || fail "installed accel-run --help"
env -i ACCEL_DRIVERS_SELECT=cpu "$prefix/bin/accel-conformance" >"$work/conformance.txt" 2>&1 ||
    { cat "$work/conformance.txt"; fail "installed accel-conformance on the installed cpu driver"; }
tail -n 2 "$work/conformance.txt"
echo "PASS"
