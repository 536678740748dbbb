#!/bin/sh
# The main job: list what accel-loader finds, using the in-tree example
# drivers from the build tree (their manifests are in BUILD_DIR/manifests).
# Usage: scripts/run-main.sh [BUILD_DIR]
set -eu
cd "$(dirname "$0")/.."
build=${1:-build}
ACCEL_DRIVER_FILES="$PWD/$build/manifests" "$build/tools/accelinfo"
echo
ACCEL_DRIVER_FILES="$PWD/$build/manifests" "$build/tools/accelinfo" --json
