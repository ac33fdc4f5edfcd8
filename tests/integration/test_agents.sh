#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 120
# Conductor and two compute agents as real processes with CURVE on every link; zincctl drives
# them. Covers config errors, liveness, admin access control, clean shutdown and log format.
source "$(dirname "$0")/lib.sh"

keys="$work/keys"
"$bin/zincctl" keygen --dir "$keys" conductor compute-a compute-b admin >/dev/null

# --- configuration errors stop an agent before any socket opens, with file:line -----------
printf '[agent]\nhost = x\nbogus = 1\n' >"$work/bad.conf"
rc=0
"$bin/zinc-conductor" --config "$work/bad.conf" 2>"$work/bad.err" || rc=$?
check "unknown key exits 78" [ "$rc" -eq 78 ]
check "error names file and line" grep -q "bad.conf:3: unknown option \[agent\] bogus" "$work/bad.err"
rc=0
"$bin/zinc-compute" --set agent.shutdown_grace_ms=-5 2>/dev/null || rc=$?
check "out-of-bounds value exits 78" [ "$rc" -eq 78 ]
rc=0
"$bin/zinc-compute" --frobnicate 2>/dev/null || rc=$?
check "bad argument exits 64" [ "$rc" -eq 64 ]

# --- a secured cluster: one conductor, two compute nodes ----------------------------------
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
common=(--set security.curve=true --set "security.keys_dir=$keys" --set peers.heartbeat_interval_ms=200
    --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast")
start conductor "$bin/zinc-conductor" "${common[@]}" --set registry.dead_after_ms=1000 \
    --set "store.data_dir=$work/conductor" --set "store.raft_address=127.0.0.1:$(free_port)" \
    --set "rpc.call_endpoint=$c_call" --set "rpc.cast_endpoint=$c_cast" \
    --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)"
conductor_pid=$last_pid
for host in a b; do
    start "compute-$host" "$bin/zinc-compute" "${common[@]}" --set agent.host=$host \
        --set security.key_name=compute-$host \
        --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.call_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.cast_endpoint=tcp://127.0.0.1:$(free_port)"
    eval "compute_${host}_pid=$last_pid"
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

three_up() { [ "$(ctl services | awk '$3 == "up"' | wc -l)" -eq 3 ]; }
check "three services come up" wait_for 10 three_up
check "ping every agent" ctl ping
check "status of one compute by ROLE/HOST" ctl status compute/b
rc=0
ctl status compute 2>"$work/ambiguous.err" || rc=$?
check "ambiguous target is an error (exit 1)" [ "$rc" -eq 1 ]
check "ambiguous target says why" grep -q "runs on 2 hosts" "$work/ambiguous.err"
check "metrics as json" bash -c "ctl() { \"$bin/zincctl\" \"\$@\"; }; ctl --json metrics conductor | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"rpc_casts\"] > 0'"

# --- access control on the admin socket ---------------------------------------------------
rc=0
ctl --set security.key_name=compute-a --timeout 500 ping conductor 2>"$work/notadmin.err" || rc=$?
check "a compute key cannot administer (exit 3)" [ "$rc" -eq 3 ]
check "the refusal says what to check" grep -q "allow-list" "$work/notadmin.err"
rc=0
ctl --set security.curve=false --timeout 500 services 2>/dev/null || rc=$?
check "plaintext client refused (exit 3)" [ "$rc" -eq 3 ]

# --- a dead compute agent is noticed within dead_after_ms plus a sweep ----------------------
a_down() { ctl services | grep -qE '^compute +a +DOWN'; }
kill -9 "$compute_a_pid"
took=$(wait_for 5 a_down) && ok "killed compute seen DOWN after ${took} ms" || fail "killed compute never seen DOWN"
[ -n "${took:-}" ] && check "down within 1.5 s" [ "$took" -le 1500 ]
check "the other compute is still up" bash -c "ZINCCTL_CONFIG=$work/zincctl.conf $bin/zincctl services | grep -qE '^compute +b +up'"

# --- structured logs and clean shutdown -----------------------------------------------------
# The sweep that logs the transition runs every 250 ms, after the registry already reports it.
check "log lines are structured" wait_for 2 grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z W conductor service down role=compute host=a' "$work/conductor.log"
kill -TERM "$conductor_pid"
rc=0
wait "$conductor_pid" || rc=$?
check "conductor exits 0 on SIGTERM (and leak-free under ASan)" [ "$rc" -eq 0 ]
check "conductor logged its stop" grep -q "stopped role=conductor" "$work/conductor.log"
kill -TERM "$compute_b_pid"
rc=0
wait "$compute_b_pid" || rc=$?
check "compute exits 0 on SIGTERM" [ "$rc" -eq 0 ]
finish
