#!/usr/bin/env bash
# run_fuzz.sh — builds a libFuzzer target with clang and runs it briefly.
#
#   tests/fuzz/run_fuzz.sh TARGET SECONDS OUTDIR
#
# TARGET is a tests/fuzz/fuzz_<TARGET>.c file; its seeds are the files in
# tests/unit/data/<TARGET>/.  The run fails if libFuzzer finds a crash, a
# leak or a sanitizer report.  CI runs each target for a short time; run it
# longer by hand when changing a parser.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
target=$1 secs=$2 out=$3
mkdir -p "$out/corpus-$target"
case $target in
textparse) sources=("$src"/scrape/textparse*.c "$src"/util/sbuf.c "$src"/util/gostrconv.c "$src"/util/gofloat.c) ;;
promql) sources=("$src"/query/{lex,parse,parse_duration,check,print,pretty,functions,arena,gostr,regex,ast_json}.c
               "$src"/util/sbuf.c "$src"/util/gostrconv.c "$src"/util/gofloat.c "$src"/util/duration.c) ;;
*) echo "unknown fuzz target $target" >&2; exit 2 ;;
esac
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -D_GNU_SOURCE -I"$src" "$src/tests/fuzz/fuzz_$target.c" "${sources[@]}" -lm \
    -o "$out/fuzz_$target"
cd "$out"
"./fuzz_$target" -max_total_time="$secs" -print_final_stats=1 "corpus-$target" \
    "$src/tests/unit/data/$target" 2>&1 | tail -5
