#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
# zinc-scheduler as real processes with CURVE on every link: a conductor, two compute agents on
# libvirt's test driver and two schedulers on two "controllers". Covers bad policy values (exit
# 78 before any socket opens), host states learned from the compute agents' reports through the
# store, liveness from the registry (a killed compute agent stops being a candidate), the two
# schedulers finding their shares, admin status and metrics, and a clean SIGTERM.
source "$(dirname "$0")/lib.sh"

keys="$work/keys"
"$bin/zincctl" keygen --dir "$keys" conductor scheduler compute-node1 compute-node2 admin >/dev/null

# --- bad policy values stop the scheduler with 78 (systemd does not restart it) ----------------
for bad in scheduler.strategy=sideways scheduler.partition=3/2 scheduler.ram_weight_multiplier=lots \
    scheduler.host_subset_size=0; do
    rc=0
    "$bin/zinc-scheduler" --set "$bad" --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
        2>"$work/bad.err" || rc=$?
    check "$bad exits 78" [ "$rc" -eq 78 ]
done
check "the error names the option" grep -q "strategy\|host_subset_size" "$work/bad.err"

# --- a secured cell --------------------------------------------------------------------------
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
common=(--set security.curve=true --set "security.keys_dir=$keys" --set peers.heartbeat_interval_ms=200
    --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast")
start conductor "$bin/zinc-conductor" "${common[@]}" --set registry.dead_after_ms=1000 \
    --set "store.data_dir=$work/conductor" --set "store.raft_address=127.0.0.1:$(free_port)" \
    --set "rpc.call_endpoint=$c_call" --set "rpc.cast_endpoint=$c_cast" \
    --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)"
for n in 1 2; do
    mkdir -p "$work/compute$n"
    start "compute$n" "$bin/zinc-compute" "${common[@]}" --set "agent.host=node$n" \
        --set "security.key_name=compute-node$n" \
        --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.call_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.cast_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "compute.libvirt_uri=test:///default" --set "compute.state_dir=$work/compute$n" \
        --set "compute.resource_interval_ms=500" \
        --set "resources.vcpus=8" --set "resources.ram_mb=8192" --set "resources.disk_gb=100"
    eval "compute${n}_pid=$last_pid"
done
for c in a b; do
    start "scheduler-$c" "$bin/zinc-scheduler" "${common[@]}" --set "agent.host=ctl-$c" \
        --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.call_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "scheduler.replica_dir=$work/conductor/store" \
        --set scheduler.refresh_interval_ms=200 --set scheduler.alive_interval_ms=200
    eval "scheduler_${c}_pid=$last_pid"
done

cat >"$work/zincctl.conf" <<CONF
[ctl]
conductor = $c_call
timeout_ms = 2000
[security]
curve = true
keys_dir = $keys
CONF
export ZINCCTL_CONFIG="$work/zincctl.conf"
ctl() { "$bin/zincctl" "$@"; }
status() { ctl status "scheduler/ctl-$1" 2>/dev/null; }
# The value of detail KEY in scheduler ctl-$1's status ("detail.KEY = VALUE" lines).
field() { status "$1" | awk -v k="detail.$2" '$1 == k { print $3 }'; }
is() { [ "$(field "$1" "$2")" = "$3" ]; }

five_up() { [ "$(ctl services | awk '$3 == "up"' | wc -l)" -ge 5 ]; }
check "five services come up" wait_for 20 five_up
check "ctl-a knows both hosts from the store" wait_for 20 is a hosts_known 2
check "ctl-a hears both compute agents" wait_for 20 is a hosts_alive_known 2
check "ctl-b knows both hosts" wait_for 20 is b hosts_known 2
both_shared() { is a partition_count 2 && is b partition_count 2; }
check "the schedulers take a share each" wait_for 20 both_shared
check "the shares differ" [ "$(field a partition_index)" != "$(field b partition_index)" ]
metrics_ok() { ctl metrics scheduler/ctl-a | grep -q "claims\|rpc_"; }
check "metrics answer" metrics_ok

# --- a compute agent dies: the registry says so, the schedulers stop counting it ------------
kill -9 "$compute2_pid"
check "ctl-a sees one live compute agent" wait_for 20 is a hosts_alive_known 1

# --- SIGTERM: a clean exit, and the other scheduler has all hosts to itself -------------------
kill -TERM "$scheduler_b_pid"
rc=0
wait "$scheduler_b_pid" || rc=$?
check "SIGTERM exits 0" [ "$rc" -eq 0 ]
check "ctl-a alone again" wait_for 20 is a partition_count 1
check "no error in the scheduler logs" bash -c "! grep -E ' E ' '$work/scheduler-a.log' '$work/scheduler-b.log'"

finish
