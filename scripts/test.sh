#!/usr/bin/env bash
# test.sh — the README's second command: install what is missing, build the
# release and the sanitizer (ASan+UBSan) flavours, and run every test in
# both under ctest.  Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
jobs=$(nproc 2>/dev/null || echo 2)
status=0
for flavour in release asan; do
    echo "== $flavour build"
    scripts/build.sh "$flavour"
    dir=build; [[ $flavour == asan ]] && dir=build-asan
    echo "== $flavour tests"
    (cd "$dir" && ctest --output-on-failure -j "$jobs") || status=1
done
exit $status
