#!/bin/sh
# The whole test suite, in three builds:
#   build        the normal build: every meson test (unit, loader, abi, fuzz
#                corpus replay, valgrind, install)
#   build-asan   AddressSanitizer + UndefinedBehaviorSanitizer: the same tests
#                but valgrind and install (the real-device tests use 4 MiB
#                instead of 64 MiB as their largest input there)
#   build-tsan   ThreadSanitizer: the loader's behavioural tests
#   build-fuzz   clang + libFuzzer: each fuzz target for a fixed number of runs
# Ends with one line "N passed, N failed, N skipped" counted from meson's own
# test logs (and the fuzz runs), and exits non-zero if anything failed or if
# nothing ran.
# Usage: scripts/run-tests.sh   (after scripts/setup.sh)
set -u
cd "$(dirname "$0")/.."
root=$PWD
status=0
extra_pass=0
extra_fail=0
logs=

run_meson_tests() { # build-dir [meson test args...]
    dir=$1
    shift
    echo "== meson test -C $dir $*"
    meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" || status=1
    logs="$logs $dir/meson-logs/testlog.json"
}

# 1. Normal build (configured by scripts/setup.sh).
[ -f build/build.ninja ] || meson setup build || exit 1
ninja -C build || exit 1
run_meson_tests build

# 2. Sanitizers.
if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false \
        --buildtype=debug >/dev/null || status=1
fi
if ninja -C build-asan >/dev/null; then
    ACCEL_TEST_SANITIZED=1 \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        run_meson_tests build-asan --no-suite valgrind --no-suite install
else
    echo "build-asan: build failed"
    status=1
    extra_fail=$((extra_fail + 1))
fi

# 3. ThreadSanitizer on the loader's behavioural tests (threads, shared
#    drivers, logging from drivers).
if [ ! -f build-tsan/build.ninja ]; then
    meson setup build-tsan -Db_sanitize=thread -Db_lundef=false -Dbench=false \
        --buildtype=debug >/dev/null || status=1
fi
if ninja -C build-tsan >/dev/null; then
    ACCEL_TEST_SANITIZED=1 TSAN_OPTIONS=halt_on_error=1 \
        run_meson_tests build-tsan loading env alloc threads exec accelinfo setuid partitions warpdrive \
            memnodes fpga run handles \
            silent_devices semantics
else
    echo "build-tsan: build failed"
    status=1
    extra_fail=$((extra_fail + 1))
fi

# 4. libFuzzer smoke runs (clang). The corpora are also replayed in build/.
if command -v clang >/dev/null 2>&1; then
    if [ ! -f build-fuzz/build.ninja ]; then
        CC=clang meson setup build-fuzz -Dfuzz=true -Dbench=false >/dev/null || status=1
    fi
    if ninja -C build-fuzz >/dev/null; then
        # target:corpus directory:runs
        for spec in manifest:tests/corpus/manifest:500000 selector:tests/corpus/selector:500000 \
            kernel_metadata:tests/corpus/kernel-metadata:500000 spirv_reflect:tests/corpus/spirv:500000 \
            topology_user:tests/corpus/topology_user:200000 \
            topology_devices:tests/corpus/topology_devices:100000 \
            topology_calibration:tests/corpus/topology_calibration:200000 \
            pipeline:tests/corpus/pipeline:50000 fpga_image:tests/corpus/fpga_image:200000 \
            hwloc_precheck:tests/corpus/hwloc_precheck:20000 env_number:tests/corpus/env_number:500000 \
            inflate_stream:tests/corpus/inflate_stream:10000 uacce_ops:tests/corpus/uacce_ops:20000 \
            known_failures:tests/conformance/corpus/known-failures:200000; do
            t=${spec%%:*}
            rest=${spec#*:}
            corpus=${rest%%:*}
            runs=${rest#*:}
            exe=build-fuzz/tests/fuzz/fuzz_$t
            if [ ! -x "$exe" ]; then
                echo "$exe was not built"
                extra_fail=$((extra_fail + 1))
                status=1
                continue
            fi
            work=$(mktemp -d)
            cp "$corpus"/* "$work"/ 2>/dev/null
            echo "== $exe -seed=1 -runs=$runs"
            if "$exe" -seed=1 -runs="$runs" -artifact_prefix="$work/" "$work" >"$work.log" 2>&1; then
                extra_pass=$((extra_pass + 1))
                tail -n 1 "$work.log"
            else
                extra_fail=$((extra_fail + 1))
                status=1
                tail -n 40 "$work.log"
                echo "fuzz_$t found a failure; inputs kept in $work"
                continue
            fi
            rm -rf "$work" "$work.log"
        done
    else
        echo "build-fuzz: build failed"
        status=1
        extra_fail=$((extra_fail + 1))
    fi
fi

# Count from meson's own logs.
python3 - "$extra_pass" "$extra_fail" $logs <<'PY' || status=1
import json, sys
passed, failed = int(sys.argv[1]), int(sys.argv[2])
skipped = 0
for path in sys.argv[3:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
PY
exit $status
