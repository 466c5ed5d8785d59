#!/usr/bin/env bash
# build.sh — configure and build one flavour of Vigil.
#   scripts/build.sh release   -> build/        (-O2)
#   scripts/build.sh asan      -> build-asan/   (AddressSanitizer + UBSan)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
case "${1:-release}" in
release) dir=build; flags=(-DCMAKE_BUILD_TYPE=Release) ;;
asan) dir=build-asan; flags=(-DCMAKE_BUILD_TYPE=Debug -DVIGIL_SANITIZE=ON) ;;
*) echo "usage: $0 release|asan" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" "${flags[@]}" >/dev/null
cmake --build "$dir" -j "$jobs" -- --no-print-directory >/dev/null
