#!/bin/sh
# Set up a Debian machine for accel-loader: system packages, configure, build.
# Usage: scripts/setup.sh [BUILD_DIR]   (default: build)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}

packages="build-essential meson ninja-build pkg-config clang libclang-rt-14-dev \
  libjson-c-dev libcmocka-dev libhwloc-dev hwloc-nox libffi-dev zlib1g-dev \
  libdeflate-dev libssl-dev libisal-dev \
  ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo \
  valgrind python3 python3-jsonschema binutils pigz qpdf rhash groff-base man-db \
  libvulkan-dev mesa-vulkan-drivers vulkan-tools glslang-tools spirv-tools graphviz \
  podman busybox-static"

missing=
for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "setup: installing:$missing"
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi

if [ -f "$build/build.ninja" ]; then
    meson setup --reconfigure "$build" >/dev/null
else
    meson setup "$build"
fi
ninja -C "$build"
