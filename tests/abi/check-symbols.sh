#!/bin/sh
# Fails when the dynamic symbols exported by libaccel-loader differ from the
# committed list (loader/accel-loader.symbols), or when anything outside
# accel_* is exported. Usage: check-symbols.sh LIBRARY EXPECTED_LIST
set -eu
lib=$1
expected=$2
actual=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWiu]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
status=0
bad=$(printf '%s\n' "$actual" | grep -v '^accel_' || true)
if [ -n "$bad" ]; then
    echo "exported outside accel_*:"
    printf '  %s\n' $bad
    status=1
fi
if ! printf '%s\n' "$actual" | diff -u "$expected" - ; then
    echo "the exported symbols changed: update $expected if this is intended (and the version script)"
    status=1
fi
[ $status -eq 0 ] && echo "$(printf '%s\n' "$actual" | wc -l) symbols, all expected"
exit $status
