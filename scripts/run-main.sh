#!/bin/sh
# The main job: what accel-loader finds and what it runs, on the in-tree
# example drivers from the build tree (their manifests are in
# BUILD_DIR/manifests): the cpu driver, the OpenCL and Vulkan drivers over
# the system's PoCL and lavapipe, the warpdrive driver over a uacce device
# emulator started here for the occasion, and the emulated FPGA card.
# First accel-run times the standard functions on every device (the
# calibration placement uses), then the demo pipeline (pipelines/demo.json:
# zlib.inflate -> crc32c -> zlib.deflate over 16 MiB of the compression
# corpus, the data the calibration times) is placed over those devices with
# accel-run, which prints its plan, runs it, and prints the plan's estimate
# next to the measured time; then accelinfo, the topology, and the examples.
# scripts/check-calibration.sh checks how far those figures can be trusted.
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

# The demo pipeline's input: the compression corpus (tests/data/corpus, its
# data files in name order) concatenated and repeated to 16 MiB, compressed
# with zlib at level 6 (python3's binding of the system zlib), as
# accel-run --calibrate builds its inputs: real data, so that the plan's
# estimate can be held against the measured time.
work="$root/demo"
mkdir -p "$work"
cp pipelines/demo.json "$work/"
python3 - "$work" tests/data/corpus <<'PY'
import os, sys, zlib
out, corpus = sys.argv[1], sys.argv[2]
names = sorted(n for n in os.listdir(corpus)
               if not n.startswith(("README", "LICENSE", ".")) and os.path.isfile(os.path.join(corpus, n)))
data = b"".join(open(os.path.join(corpus, n), "rb").read() for n in names)
size = 16 * 1024 * 1024
data = (data * (size // len(data) + 1))[:size]
open(out + "/input.zz", "wb").write(zlib.compress(data, 6))
open(out + "/expected.bin", "wb").write(data)
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
