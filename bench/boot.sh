#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/boot.sh BUILD [COUNT]: the boot storm (`bench/run boot [COUNT]`). Starts the all-in-one
# cloud from BUILD/bin with tools/run.sh in a temp dir on its own loopback address (libvirt's
# test driver, CURVE on every link), warms it (one server built and deleted, so the image is in
# the compute agent's cache), then per repetition fires COUNT concurrent creates through the
# REST API with bench_boot, waits until every server is ACTIVE, deletes them all and waits until
# no record is left. Reports servers/s, REST-to-ACTIVE p50/p90/p99/max, delete throughput, the
# CPU seconds of the control plane (utime+stime of every agent, from /proc, before and after
# the storms), idle RSS before the storm and peak RSS (VmHWM summed, an upper bound). Last line:
# `boot: servers_per_s=X p50_ms=Y p99_ms=Z rss_mb=W` (medians over the repetitions; rss_mb is
# the idle resident memory of all agents together: each resident page counted once, however
# many agents map it, by bench/memory.py; the plain sum of VmRSS, which counts every shared
# library once per agent, is printed next to it).
#
# Environment: ZN_BOOT_COUNT (1000), ZN_BOOT_CONCURRENCY (connections, 32), ZN_BOOT_REPS (3),
# ZN_BOOT_RATE (creates per second, an open-loop pace, to see latency under a given load rather
# than behind a queue of 1,000; unset: as fast as the connections allow),
# ZN_BOOT_NETWORK (net: a port on a network per server; none: no NIC), ZN_BOOT_ADDR
# (127.0.0.110), ZN_BOOT_SAMPLES (a file for the last repetition's "SECONDS LATENCY_MS
# REQUEST_ID" per server), ZN_BOOT_PLOT (a PNG of those, drawn with gnuplot when it is
# installed), ZN_BOOT_COMPUTE_CONF (more compute.conf lines, e.g. "[compute]
# build_workers = 64"), ZN_BOOT_TRACE=0 (no zincctl trace of the slowest server), ZN_KEEP=1 (keep the temp
# dir and its logs).
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:?usage: bench/boot.sh BUILD [COUNT]}"
shift
count="${1:-${ZN_BOOT_COUNT:-1000}}"
concurrency="${ZN_BOOT_CONCURRENCY:-32}"
reps="${ZN_BOOT_REPS:-3}"
network="${ZN_BOOT_NETWORK:-net}"
addr="${ZN_BOOT_ADDR:-127.0.0.110}"
bench_bin="${ZN_BENCH_BIN_DIR:-$build/bench}/bench_boot"
work="$(mktemp -d /tmp/zinc-boot.XXXXXX)"
var="$work/var"
export ZINCCTL_CONFIG="$var/etc/zincctl.conf"

run_sh() {
    ZN_VAR="$var" ZN_BIN="$build/bin" ZN_ADDR="$addr" ZN_DEMO=0 bash "$top/tools/run.sh" "$@"
}

cleanup() {
    local f
    run_sh stop >/dev/null 2>&1 || true
    for f in "$var"/run/*.pid; do
        if [ -f "$f" ]; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi
    done
    if [ -n "${ZN_KEEP:-}" ]; then echo "boot: kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

agent_pids() { cat "$var"/run/*.pid; }
roles() { for f in "$var"/run/*.pid; do basename "$f" .pid; done; }

# utime+stime of one process in clock ticks: fields 14 and 15 of /proc/PID/stat, counted after
# the ")" that ends the command name.
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }

# "ROLE TICKS" per agent.
role_ticks() {
    local role
    for role in $(roles); do echo "$role $(ticks "$(cat "$var/run/$role.pid")")"; done
}

# Sum of utime+stime of every agent, in seconds.
cpu_seconds() {
    local tck pid total=0
    tck=$(getconf CLK_TCK)
    for pid in $(agent_pids); do
        total=$((total + $(ticks "$pid")))
    done
    awk -v t="$total" -v k="$tck" 'BEGIN {printf "%.2f", t / k}'
}

# Sum of a /proc/PID/status field (VmRSS, VmHWM) over every agent, in MiB.
mem_mb() {
    local pid total=0
    for pid in $(agent_pids); do
        total=$((total + $(awk -v f="$1:" '$1 == f {print $2}' "/proc/$pid/status")))
    done
    awk -v t="$total" 'BEGIN {printf "%.1f", t / 1024}'
}

field() { sed -n "s/.* $1=\([-0-9.]*\).*/\1/p" <<<"$2"; }

# min/median/max of the numbers on stdin.
stats() { sort -n | awk '{v[NR] = $1} END {printf "min=%s median=%s max=%s", v[1], v[int((NR + 1) / 2)], v[NR]}'; }
median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# The cloud: one compute host big enough for the storm, quotas out of the way.
ZN_COMPUTE_CONF="[resources]
vcpus = 4096
ram_mb = 4194304
disk_gb = 100000
reserved_ram_mb = 0
${ZN_BOOT_COMPUTE_CONF:-}" run_sh start >"$work/start.log" 2>&1 || {
    cat "$work/start.log" >&2
    exit 1
}
set -a
# shellcheck disable=SC1091
. "$var/openrc"
set +a
project=$(openstack token issue -f value -c project_id)
openstack quota set --instances 1000000 --cores 1000000 --ram 1000000000 "$project" >/dev/null
openstack flavor create --vcpus 1 --ram 1 --disk 0 storm.tiny -f value -c id >/dev/null
head -c 1048576 /dev/zero >"$work/disk.raw"
image=$(openstack image create --disk-format raw --container-format bare \
    --file "$work/disk.raw" storm-image -f value -c id)
net=none
if [ "$network" = net ]; then
    net=$(openstack network create storm-net -f value -c id)
    openstack subnet create --network storm-net --subnet-range 10.64.0.0/16 storm-subnet \
        -f value -c id >/dev/null
fi
flavor=$(openstack flavor show storm.tiny -f value -c id)
token=$(openstack token issue -f value -c id)
url="http://$addr:8774/compute/v2.1"
replica="$var/lib/conductor/store"
# storm COUNT CONCURRENCY [SAMPLES]
storm() { "$bench_bin" "$url" "$token" "$flavor" "$image" "$net" "$1" "$2" "$replica" "${@:3}"; }

# Warm-up: a few servers built and deleted (image cache, token caches, every connection).
storm 8 8 >"$work/warmup.log" 2>&1 || {
    echo "boot: the warm-up storm failed:" >&2
    cat "$work/warmup.log" >&2
    exit 1
}

mapfile -t pids < <(agent_pids)
idle_mem=$(python3 "$top/bench/memory.py" "${pids[@]}")
idle_mb=$(field distinct " $idle_mem")
idle_each=$(for role in $(roles); do
    echo "$role=$(awk '$1 == "VmRSS:" {printf "%.1f", $2 / 1024}' "/proc/$(cat "$var/run/$role.pid")/status")"
done | tr '\n' ' ')
role_ticks >"$work/ticks-before"
cpu_before=$(cpu_seconds)
echo "boot storm: $count servers per repetition over $concurrency connections, network=$network," \
    "$reps repetitions; agents: $(agent_pids | wc -l), idle RSS $idle_mb MiB together"
results=()
for rep in $(seq 1 "$reps"); do
    if ! line=$(storm "$count" "$concurrency" "$work/samples-$rep.txt" 2>"$work/storm-$rep.log" |
        tail -n 1); then
        echo "boot: repetition $rep failed: $line" >&2
        tail -n 20 "$work/storm-$rep.log" >&2
        exit 1
    fi
    echo "  run $rep: ${line#bootstorm: }"
    results+=("$line")
done
cpu_after=$(cpu_seconds)
role_ticks >"$work/ticks-after"
peak_mb=$(mem_mb VmHWM)
samples="$work/samples-$reps.txt"
if [ -n "${ZN_BOOT_SAMPLES:-}" ]; then
    cp "$samples" "$ZN_BOOT_SAMPLES"
fi

each() { for l in "${results[@]}"; do field "$1" "$l"; done; }
for f in servers_per_s p50_ms p90_ms p99_ms max_ms deletes_per_s errors; do
    printf '  %-14s %s\n' "$f" "$(each $f | stats)"
done
cpu=$(awk -v a="$cpu_before" -v b="$cpu_after" 'BEGIN {printf "%.2f", b - a}')
echo "  control plane CPU: $cpu s for $((count * reps)) servers built and deleted" \
    "($(awk -v c="$cpu" -v n="$((count * reps))" 'BEGIN {printf "%.2f", c * 1000 / n}') ms per server)"
echo "  CPU s per agent: $(join -j 1 <(sort "$work/ticks-before") <(sort "$work/ticks-after") |
    awk -v k="$(getconf CLK_TCK)" '{printf "%s=%.2f ", $1, ($3 - $2) / k}')"
echo "  RSS of all agents: idle $idle_mb MiB together (pages counted once; Pss summed" \
    "$(field pss " $idle_mem") MiB; VmRSS summed $(field rss_sum " $idle_mem") MiB)," \
    "peak (VmHWM summed) $peak_mb MiB"
echo "  idle RSS MiB per agent: $idle_each"
# Where the time of the slowest server of the last storm went, step by step.
slowest=$(sort -k2,2n "$samples" | tail -n 1)
if [ -n "$slowest" ] && [ "${ZN_BOOT_TRACE:-1}" = 1 ]; then
    echo "  slowest server of the last storm: sent at ${slowest%% *} s, ACTIVE after" \
        "$(cut -d' ' -f2 <<<"$slowest") ms; its trace (zincctl trace):"
    "$build/bin/zincctl" trace "$(cut -d' ' -f3 <<<"$slowest")" 2>&1 | sed 's/^/    /' || true
fi

if [ -n "${ZN_BOOT_PLOT:-}" ] && command -v gnuplot >/dev/null; then
    gnuplot <<PLOT
set terminal pngcairo size 900,500
set output "$ZN_BOOT_PLOT"
set title "zinc boot storm: $count creates over $concurrency connections (REST to ACTIVE)"
set xlabel "request sent (s since the first)"
set ylabel "REST-to-ACTIVE latency (ms)"
set grid
plot "$samples" using 1:2 with points pt 7 ps 0.4 title "one server"
PLOT
    echo "  plot: $ZN_BOOT_PLOT"
fi

echo "boot: servers_per_s=$(each servers_per_s | median) p50_ms=$(each p50_ms | median)" \
    "p99_ms=$(each p99_ms | median) rss_mb=$idle_mb"
