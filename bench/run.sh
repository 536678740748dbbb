#!/bin/sh
# Run the benchmarks of an existing build directory (default: build) and print their tables.
# Builds nothing: run `ninja -C BUILD` first (or use `ninja -C BUILD bench`, which does both).
set -eu
build=${1:-build}
for exe in bench_query bench_startup; do
    if [ ! -x "$build/bench/$exe" ]; then
        echo "run.sh: $build/bench/$exe not found; build with -Dbench=true and run ninja -C $build" >&2
        exit 1
    fi
done

# The benchmarks name their manifests explicitly; clear everything else that could change what
# the loader reads, loads or prints (bench_startup sets ACCEL_DRIVERS_SELECT itself).
for v in ACCEL_DRIVER_FILES ACCEL_ADD_DRIVER_FILES ACCEL_DRIVERS_SELECT ACCEL_DRIVERS_DISABLE \
         ACCEL_DEVICE_SELECTOR ACCEL_LOADER_DEBUG ACCEL_LOADER_NO_UNLOAD ACCEL_TOPOLOGY_XML; do
    unset "$v"
done

model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  $(uname -srm)  $(nproc) CPU(s)  $model"
"$build/bench/bench_query" "$build/manifests/accel_cpu.json"
"$build/bench/bench_startup" "$build/manifests/accel_cpu.json"
if [ -x "$build/bench/bench_submit" ]; then
    ACCEL_DRIVER_FILES="$build/manifests" "$build/bench/bench_submit"
fi
"$build/bench/bench_placement"
if [ -x "$build/bench/bench_warpdrive" ]; then
    "$build/bench/bench_warpdrive"
fi
# Minutes, not seconds (every device and function over the corpus, lavapipe and PoCL among
# them); built only where zlib, libdeflate and OpenSSL's libcrypto are found.
if [ -x "$build/bench/bench_functions" ]; then
    "$build/bench/bench_functions" --manifests "$build/manifests"
fi
# The demo pipeline streamed over 1 GiB and 4 GiB of the corpus (BENCH_STREAM_SIZES to change
# them), next to its stages alone, whole buffers and the shell's pigz / zlib-flate: tens of
# minutes on a small machine (every configuration deflates the whole input at level 6).
if [ -x "$build/bench/bench_stream" ]; then
    "$build/bench/bench_stream" --manifests "$build/manifests" --sizes "${BENCH_STREAM_SIZES:-1G,4G}"
fi
