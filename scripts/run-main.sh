#!/bin/sh
# The main job: what accel-loader finds and what it runs, on the in-tree
# example drivers from the build tree (their manifests are in
# BUILD_DIR/manifests): the cpu driver, the OpenCL and Vulkan drivers over
# the system's PoCL and lavapipe, and the warpdrive driver over a uacce
# device emulator started here for the occasion.
# Usage: scripts/run-main.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
export ACCEL_DRIVER_FILES="$PWD/$build/manifests"

root=$(mktemp -d "${TMPDIR:-/tmp}/accel-main.XXXXXX")
emulator=
cleanup() {
    [ -n "$emulator" ] && kill "$emulator" 2>/dev/null && wait "$emulator" 2>/dev/null
    rm -rf "$root"
}
trap cleanup EXIT INT TERM
if [ -x "$build/icd-examples/warpdrive/accel-uacce-emulator" ]; then
    export ACCEL_UACCE_SYSFS_ROOT="$root/sys" ACCEL_UACCE_DEV_ROOT="$root/dev"
    "$build/icd-examples/warpdrive/accel-uacce-emulator" --root "$root" --name uacce_zip-0 --sva \
        --instances 4 --algorithms zlib,crc32c,sha256 &
    emulator=$!
    i=0
    while [ ! -S "$root/dev/uacce_zip-0" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
fi

"$build/tools/accelinfo"
echo
"$build/tools/accelinfo" --json
echo
"$build/examples/crc-everywhere" 1048576
echo
"$build/examples/scale-everywhere"
