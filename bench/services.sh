#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/run services: the image, network and volume agents' benchmarks in turn (each prints its
# own min/median/max figures), then one summary line:
# `services: image_upload_ratio=X ports_per_s=Y volume_creates_per_s=Z`.
set -euo pipefail
build="$1"
shift || true
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for name in image network volume; do
    echo "== bench_$name"
    "$build/bench/bench_$name" "$@" | tee -a "$out"
done
value() { grep -o "$1=[0-9.]*" "$out" | tail -n 1 | cut -d= -f2; }
echo "services: image_upload_ratio=$(value upload_ratio) ports_per_s=$(value ports_per_s)" \
    "volume_creates_per_s=$(value creates_per_s)"
