#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/fuzz.sh BUILD_DIR SECONDS: run every libFuzzer target in BUILD_DIR/tests/fuzz for SECONDS,
# starting from the committed corpus. New inputs go to a temporary copy, so the tree stays clean;
# crash, leak and timeout reproducers are kept in fuzz-findings/ under the build dir. Prints one
# line per target and fails if any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -ne 2 ]; then
    echo "usage: tools/fuzz.sh BUILD_DIR SECONDS" >&2
    exit 64
fi
build=$1
secs=$2
corpus_root=tests/fuzz/corpus
findings="$build/fuzz-findings"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$findings"

status=0
found=0
for bin in "$build"/tests/fuzz/fuzz_*; do
    [ -x "$bin" ] && [ -f "$bin" ] || continue
    name=$(basename "$bin")
    case $name in *_replay|fuzz_corpus_gen) continue ;; esac
    found=$((found + 1))
    target=${name#fuzz_}
    seeds="$corpus_root/$target"
    mkdir -p "$work/$target"
    if [ -d "$seeds" ]; then
        cp -r "$seeds/." "$work/$target/"
    fi
    log="$work/$target.log"
    rc=0
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        "$bin" -max_len=65536 -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$findings/$target-" "$work/$target" "$seeds" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' "$log" | tail -1)
    size=$(find "$work/$target" -type f | wc -l)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz $name: ok execs=${execs:-0} exec/s=${rate:-0} corpus=$size secs=$secs"
    else
        echo "fuzz $name: FAILED rc=$rc execs=${execs:-0} corpus=$size (reproducers in $findings)"
        grep -E 'ERROR|SUMMARY|runtime error|assertion failed' "$log" | head -20 >&2 || true
        cp "$log" "$findings/$target.log"
        status=1
    fi
done

if [ "$found" -eq 0 ]; then
    echo "fuzz: no fuzz targets in $build/tests/fuzz (configure with -DZN_FUZZ=ON, CC=clang)" >&2
    exit 1
fi
exit $status
