#!/bin/sh
# The main job: what accel-loader finds and what it runs, on the in-tree
# example drivers from the build tree (their manifests are in
# BUILD_DIR/manifests): the cpu driver, the OpenCL and Vulkan drivers over
# the system's PoCL and lavapipe, the warpdrive driver over a uacce device
# emulator started here for the occasion, and the emulated FPGA card.
# First accel-run times the standard functions on every device (the
# calibration placement uses), then the demo pipeline (pipelines/demo.json:
# zlib.inflate -> crc32c -> zlib.deflate over a generated 16 MiB input) is
# placed over those devices with accel-run, which prints its plan and runs it; then accelinfo, the
# topology, and the examples.
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

# The demo pipeline over a generated input: 16 MiB of text-like bytes,
# compressed with zlib (python3's binding of the system zlib).
work="$root/demo"
mkdir -p "$work"
cp pipelines/demo.json "$work/"
python3 - "$work" <<'PY'
import random, sys, zlib
random.seed(2026)
words = [b"accel", b"loader", b"device", b"queue", b"fence", b"memory", b"pipeline", b"zlib", b"\n"]
data = b" ".join(random.choice(words) for _ in range(3 * 1024 * 1024))[: 16 * 1024 * 1024]
open(sys.argv[1] + "/input.zz", "wb").write(zlib.compress(data, 6))
open(sys.argv[1] + "/expected.bin", "wb").write(data)
PY
# Measured costs for placement: time the standard functions on every
# device once (cached under XDG_CACHE_HOME, here a scratch directory so
# that every run shows the calibration).
export XDG_CACHE_HOME="$root/cache"
echo "== accel-run --calibrate"
"$build/tools/accel-run" --calibrate
echo "== accel-run --explain pipelines/demo.json (input: $(wc -c <"$work/input.zz") bytes of zlib stream)"
"$build/tools/accel-run" --explain "$work/demo.json"
python3 - "$work" <<'PY'
import sys, zlib
d = sys.argv[1]
expected = open(d + "/expected.bin", "rb").read()
out = zlib.decompress(open(d + "/output.zz", "rb").read())
crc = int.from_bytes(open(d + "/crc.bin", "rb").read(), "little")
print("output.zz inflates to the input's %d bytes: %s; crc32c %08x" % (len(expected), out == expected, crc))
sys.exit(0 if out == expected else 1)
PY
echo

"$build/tools/accelinfo"
echo
"$build/tools/accelinfo" --topology
echo
"$build/tools/accelinfo" --json
echo
"$build/examples/crc-everywhere" 1048576
echo
"$build/examples/scale-everywhere"
