#!/bin/sh
# Does accel-run --calibrate give figures placement can trust? Runs the
# calibration RUNS times (3 by default), each into its own cache, and prints
# for every device and function the fitted rates of the runs and their
# max/min; then runs the README demo (pipelines/demo.json over 16 MiB of
# the compression corpus, as scripts/run-main.sh does) DEMOS times with the
# last run's figures in whole-buffer mode (the one-pass run the estimate
# describes; DEMO_MODE=stream: streamed, as the README runs it) and prints the plan's estimate next to the measured time. The targets: every rate within 1.3x across the runs, the demo's
# estimate within 1.5x of its measured time. Run it on a quiet machine: the
# load average is printed with each step, and other work on the cores moves
# every figure. Exit status 1 when a target is missed. DEMO_ARGS adds
# accel-run options to the demo runs (DEMO_ARGS="-f deflate=cpu:0");
# WAIT_LOAD=L waits (up to 10 minutes each time) until the 1-minute load
# average is below L before each run, on a machine others share.
# Usage: scripts/check-calibration.sh [BUILD_DIR [RUNS [DEMOS]]]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
runs=${2:-3}
demos=${3:-3}
export ACCEL_DRIVER_FILES="$PWD/$build/manifests"

root=$(mktemp -d "${TMPDIR:-/tmp}/accel-calcheck.XXXXXX")
emulator=
cleanup() {
    [ -n "$emulator" ] && kill "$emulator" 2>/dev/null && wait "$emulator" 2>/dev/null
    rm -rf "$root"
}
trap cleanup EXIT INT TERM
if [ -x "$build/icd-examples/warpdrive/accel-uacce-emulator" ]; then
    export ACCEL_UACCE_SYSFS_ROOT="$root/sys" ACCEL_UACCE_DEV_ROOT="$root/dev"
    "$build/icd-examples/warpdrive/accel-uacce-emulator" --root "$root" --name uacce_zip-0 --sva \
        --instances 4 --algorithms zlib,crc32c,sha256 >/dev/null &
    emulator=$!
    i=0
    while [ ! -S "$root/dev/uacce_zip-0" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
fi
load() { cut -d' ' -f1-3 /proc/loadavg; }
settle() {
    [ -n "${WAIT_LOAD:-}" ] || return 0
    waited=0
    while [ $waited -lt 600 ] && ! awk -v l="$WAIT_LOAD" '{ exit !($1 < l) }' /proc/loadavg; do
        sleep 10
        waited=$((waited + 10))
    done
}

"$build/tools/accelinfo" --json >"$root/devices.json"
i=1
while [ $i -le "$runs" ]; do
    settle
    echo "== calibration run $i (load $(load))"
    start=$(date +%s)
    XDG_CACHE_HOME="$root/cache$i" "$build/tools/accel-run" --calibrate 2>"$root/calibrate$i.log" ||
        { cat "$root/calibrate$i.log"; exit 1; }
    echo "   $(($(date +%s) - start)) s, load after $(load)"
    i=$((i + 1))
done

# The demo over the corpus, with the last run's figures.
mkdir -p "$root/demo"
cp pipelines/demo.json "$root/demo/"
python3 - "$root/demo" tests/data/corpus <<'PY'
import os, sys, zlib
out, corpus = sys.argv[1], sys.argv[2]
names = sorted(n for n in os.listdir(corpus)
               if not n.startswith(("README", "LICENSE", ".")) and os.path.isfile(os.path.join(corpus, n)))
data = b"".join(open(os.path.join(corpus, n), "rb").read() for n in names)
size = 16 * 1024 * 1024
data = (data * (size // len(data) + 1))[:size]
open(out + "/input.zz", "wb").write(zlib.compress(data, 6))
PY
i=1
while [ $i -le "$demos" ]; do
    settle
    echo "== demo run $i (load $(load))"
    # --whole-buffer: the stages one after another, which is what the plan's
    # latency adds up; DEMO_MODE=stream runs the demo as the README does,
    # streamed, held against the plan's busiest compute group (the stream
    # forms' figures, which the calibration measures too).
    mode=--whole-buffer
    [ "${DEMO_MODE:-whole}" = stream ] && mode=
    # shellcheck disable=SC2086 # DEMO_ARGS is a list of options; mode may be empty
    if XDG_CACHE_HOME="$root/cache$runs" "$build/tools/accel-run" $mode ${DEMO_ARGS:-} -o "$root/demo" \
        "$root/demo/demo.json" >/dev/null 2>"$root/demo$i.log"; then
        grep -E "^accel-run: estimate" "$root/demo$i.log" | sed 's/^accel-run: /   /'
    else
        grep -E "^(inflate|crc|deflate) |^accel-run: " "$root/demo$i.log" | sed 's/^/   /'
    fi
    i=$((i + 1))
done

python3 - "$root" "$runs" "$demos" <<'PY'
import json, re, sys
root, runs, demos = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
labels = {d["uuid"]: "%s:%d" % (d["driver"], d["driver_index"])
          for d in json.load(open(root + "/devices.json"))["devices"]}
caches = [json.load(open("%s/cache%d/accel/calibration.json" % (root, i)))["devices"] for i in range(1, runs + 1)]
ok = True
print("\n%-14s %-13s %s  %8s" % ("device", "function", " ".join("%12s" % ("run %d MB/s" % (i + 1)) for i in range(runs)), "max/min"))
worst = 1.0
for uuid in sorted(set().union(*caches), key=lambda u: labels.get(u, u)):
    for fn in sorted(set().union(*(c.get(uuid, {}).keys() for c in caches))):
        rates = [c.get(uuid, {}).get(fn, {}).get("bytes_per_second") for c in caches]
        if None in rates:
            print("%-14s %-13s missing in a run" % (labels.get(uuid, uuid[:12]), fn))
            ok = False
            continue
        spread = max(rates) / min(rates)
        worst = max(worst, spread)
        ratios = [c[uuid][fn].get("output_ratio") for c in caches]
        note = "" if spread <= 1.3 else "  over 1.3x"
        if ratios[0] is not None:
            note += "  ratio %s" % "/".join("%.3f" % r for r in ratios)
        print("%-14s %-13s %s  %7.2fx%s" % (labels.get(uuid, uuid[:12]), fn,
                                            " ".join("%12.1f" % (r / 1e6) for r in rates), spread, note))
        ok &= spread <= 1.3
print("worst spread across the %d runs: %.2fx (target 1.3x)" % (runs, worst))
found = []
for i in range(1, demos + 1):
    m = re.search(r"estimate ([0-9.]+) ms, measured ([0-9.]+) ms", open("%s/demo%d.log" % (root, i)).read())
    if m:
        found.append((float(m.group(1)), float(m.group(2))))
if found:
    measured = sorted(m for _, m in found)[len(found) // 2]
    estimate = found[-1][0]
    factor = max(estimate, measured) / min(estimate, measured)
    print("demo: estimate %.1f ms, measured %.1f ms (median of %d), %.2fx apart (target 1.5x)"
          % (estimate, measured, len(found), factor))
    ok &= factor <= 1.5
else:
    print("demo: no estimate/measured line")
    ok = False
sys.exit(0 if ok else 1)
PY
