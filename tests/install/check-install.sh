#!/bin/sh
# Install accel-loader into a fresh prefix and check what a user gets there:
# the library with its SONAME, headers, pkg-config file, tools, the cpu
# driver and its manifest; then build a program with pkg-config alone and
# run it (and the installed accelinfo) with an empty environment: both must
# find the cpu device through the installed manifest.
# Usage: check-install.sh SOURCE_ROOT VERSION (meson's project version)
set -eu
src=$1
version=$2
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

# What a user reads and completes, and what a vendor's build asks
# pkg-config for: the directories this loader searches and installs into.
for f in share/man/man1/accelinfo.1 share/man/man1/accel-run.1 share/man/man1/accel-conformance.1 \
    share/man/man7/accel-loader.7 share/bash-completion/completions/accelinfo \
    share/bash-completion/completions/accel-run share/bash-completion/completions/accel-conformance \
    share/accel-loader/accel-manifest.schema.json; do
    [ -e "$prefix/$f" ] || fail "$f is not installed"
    echo "installed: $f"
done
# The uacce emulator, built on Linux only, with its page and completion.
if [ "$(uname -s)" = Linux ]; then
    for f in bin/accel-uacce-emulator share/man/man1/accel-uacce-emulator.1 \
        share/bash-completion/completions/accel-uacce-emulator; do
        [ -e "$prefix/$f" ] || fail "$f is not installed"
        echo "installed: $f"
    done
fi
grep -q "$prefix/share/accel/icd.d" "$prefix/share/man/man7/accel-loader.7" ||
    fail "accel-loader(7) does not name the prefix's manifest directory"
pcvar() { PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --variable="$1" accel-loader; }
[ "$(pcvar manifestdir)" = "$prefix/share/accel/icd.d" ] || fail "pkg-config manifestdir is '$(pcvar manifestdir)'"
[ "$(pcvar driverdir)" = "$prefix/lib/accel" ] || fail "pkg-config driverdir is '$(pcvar driverdir)'"
[ "$(pcvar sysconfmanifestdir)" = "$prefix/etc/accel/icd.d" ] ||
    fail "pkg-config sysconfmanifestdir is '$(pcvar sysconfmanifestdir)'"
[ -f "$(pcvar manifestschema)" ] || fail "pkg-config manifestschema '$(pcvar manifestschema)' is not a file"
! grep -q 'example.invalid' "$prefix/lib/pkgconfig/accel-loader.pc" || fail "accel-loader.pc has a placeholder URL"
echo "pkg-config: manifestdir $(pcvar manifestdir), driverdir $(pcvar driverdir)"
for tool in accelinfo accel-run accel-conformance; do
    out=$(env -i "$prefix/bin/$tool" --version) || fail "installed $tool --version"
    [ "$out" = "$(printf '%s %s\nlibaccel-loader %s' "$tool" "$version" "$version")" ] ||
        fail "installed $tool --version printed '$out' (version $version)"
done
env -i "$prefix/bin/accelinfo" --check-manifest "$prefix/share/accel/icd.d/accel_cpu.json" ||
    fail "installed accelinfo --check-manifest rejects the installed cpu manifest"

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
