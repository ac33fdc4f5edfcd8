#!/usr/bin/env bash
# timeout: 240
# SPDX-License-Identifier: Apache-2.0
# The boot-storm benchmark (bench/boot.sh, `bench/run boot`) with a small storm, so that CI
# shows it works: 50 concurrent creates through the REST API, every one ACTIVE, all deleted,
# the figures reported and the last line in the form docs/benchmarks.md records.
set -euo pipefail
bin="${ZN_TEST_BIN_DIR:?ZN_TEST_BIN_DIR must point at the zinc binaries}"
src="${ZN_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
bench_dir="${ZN_BENCH_BIN_DIR:-$(dirname "$bin")/bench}"
out="$(mktemp /tmp/zinc-e2e-boot.XXXXXX)"
trap 'rm -f "$out"' EXIT
failures=0
ok() { echo "ok - $*"; }
fail() {
    failures=$((failures + 1))
    echo "not ok - $*"
}

if [ ! -x "$bench_dir/bench_boot" ]; then
    echo "not ok - bench_boot is not built in $bench_dir"
    exit 1
fi
rc=0
ZN_BOOT_REPS=1 ZN_BOOT_CONCURRENCY=16 ZN_BOOT_ADDR=127.0.0.106 ZN_BOOT_TRACE=0 \
    ZN_BENCH_BIN_DIR="$bench_dir" bash "$src/bench/boot.sh" "$(dirname "$bin")" 50 >"$out" 2>&1 ||
    rc=$?
sed 's/^/# /' "$out"
if [ "$rc" -eq 0 ]; then ok "bench/boot.sh 50 exits 0"; else fail "bench/boot.sh 50 exits $rc"; fi
last=$(tail -n 1 "$out")
if grep -qE '^boot: servers_per_s=[0-9.]+ p50_ms=[0-9]+ p99_ms=[0-9]+ rss_mb=[0-9.]+$' <<<"$last"; then
    ok "last line: $last"
else
    fail "last line is not the boot summary: $last"
fi
if grep -qE '^  run 1: .* errors=0$' "$out"; then
    ok "50 servers ACTIVE and deleted, no error"
else
    fail "the storm had errors"
fi
if grep -qE '^  control plane CPU: [0-9.]+ s' "$out" &&
    grep -qE '^  RSS of all agents: idle [0-9.]+ MiB together \(pages counted once; Pss summed [0-9.]+ MiB; VmRSS summed [0-9.]+ MiB\), peak \(VmHWM summed\) [0-9.]+ MiB' "$out"; then
    ok "CPU seconds and RSS of the control plane reported"
else
    fail "CPU or RSS missing"
fi
# Pages counted once can be no more than VmRSS summed (which counts shared pages per agent),
# and not nothing.
mem=$(sed -n 's/^  RSS of all agents: idle \([0-9.]*\) MiB together (.*VmRSS summed \([0-9.]*\) MiB).*/\1 \2/p' "$out")
if [ -n "$mem" ] && awk -v m="$mem" 'BEGIN {split(m, v, " "); exit !(v[1] > 0 && v[1] <= v[2])}'; then
    ok "resident memory counted once ($mem MiB: together, VmRSS summed) is within the plain sum"
else
    fail "resident memory together is not within 0 and the plain sum: '$mem'"
fi
[ "$failures" -eq 0 ]
