#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
# Three conductors host the replicated store (libraft under each), with CURVE on every link and
# zincctl as the client: forwarding from followers, compare-and-set, backup, losing the leader,
# a restarted node converging, and a fourth member added and removed at run time.
source "$(dirname "$0")/lib.sh"

keys="$work/keys"
"$bin/zincctl" keygen --dir "$keys" conductor admin compute-node1 >/dev/null

declare -A call cast admin raft pid
for n in 1 2 3 4; do
    call[$n]="tcp://127.0.0.1:$(free_port)"
    cast[$n]="tcp://127.0.0.1:$(free_port)"
    admin[$n]="tcp://127.0.0.1:$(free_port)"
    raft[$n]="127.0.0.1:$(free_port)"
done
peers="1@${raft[1]}@${call[1]},2@${raft[2]}@${call[2]},3@${raft[3]}@${call[3]}"
casts="${cast[1]},${cast[2]},${cast[3]},${cast[4]}"

start_conductor() {
    local n=$1
    start "c$n" "$bin/zinc-conductor" --set security.curve=true --set "security.keys_dir=$keys" \
        --set agent.host=c$n --set "agent.admin_endpoint=${admin[$n]}" \
        --set "rpc.call_endpoint=${call[$n]}" --set "rpc.cast_endpoint=${cast[$n]}" \
        --set "peers.conductor_cast=$casts" --set peers.heartbeat_interval_ms=200 \
        --set registry.dead_after_ms=1000 --set store.node_id=$n \
        --set "store.raft_address=${raft[$n]}" --set "store.peers=$peers" \
        --set "store.data_dir=$work/c$n" --set store.election_timeout_ms=300
    pid[$n]=$last_pid
}

cat >"$work/zincctl.conf" <<CONF
[ctl]
conductor = ${call[1]},${call[2]},${call[3]}
timeout_ms = 5000
[security]
curve = true
keys_dir = $keys
CONF
export ZINCCTL_CONFIG="$work/zincctl.conf"
ctl() { "$bin/zincctl" "$@"; }
on() { # zincctl against one conductor's call endpoint
    local n=$1
    shift
    "$bin/zincctl" --set "ctl.conductor=${call[$n]}" "$@"
}
leader() { ctl store status 2>/dev/null | awk '$3 == "leader" {print $2}'; }
has_leader() { [ -n "$(leader)" ]; }
value_on() { on "$1" store get settings "$2" 2>/dev/null | sed -n 's/^value = //p'; }
sees() { [ "$(value_on "$1" "$2")" = "$3" ]; }

for n in 1 2 3; do start_conductor $n; done
check "a leader is elected" wait_for 10 has_leader
check "three members listed" bash -c "ZINCCTL_CONFIG=$ZINCCTL_CONFIG $bin/zincctl store status | grep -c ' 3$' | grep -qx 3"

first=$(leader)
follower=$(( first % 3 + 1 ))
check "a write sent to a follower is forwarded and committed" on $follower store put settings motd hello
for n in 1 2 3; do
    check "node $n applies it" wait_for 5 sees $n motd hello
done

rc=0
on $follower store put settings motd stale --expect 99 2>"$work/cas.err" || rc=$?
check "a stale compare-and-set is refused (exit 1)" [ "$rc" -eq 1 ]
check "the refusal names the conflict" grep -q "conflict table=settings key=motd" "$work/cas.err"
check "the value is unchanged" sees $follower motd hello

rc=0
ctl --set security.key_name=compute-node1 store put settings motd owned 2>"$work/hv.err" || rc=$?
check "a hypervisor's key cannot write the store (exit 1)" [ "$rc" -eq 1 ]
check "the refusal says controllers only" grep -q "only controller keys" "$work/hv.err"

check "online backup through the admin tool" ctl store backup "$work/backup" conductor/c$follower
check "the backup holds an LMDB file" test -s "$work/backup/data.mdb"

# --- lose the leader: the two others go on, and the old leader converges when it returns ----
kill -9 "${pid[$first]}"
new_leader() { local l; l=$(leader); [ -n "$l" ] && [ "$l" != "$first" ]; }
took=$(wait_for 10 new_leader) && ok "new leader elected ${took} ms after kill -9" || fail "no new leader"
survivor=$(( first % 3 + 1 ))
check "writes go on with one node down" on $survivor store put settings motd after-failover
start_conductor "$first"
check "the restarted node converges" wait_for 15 sees "$first" motd after-failover

# --- membership at run time -----------------------------------------------------------------
start "c4" "$bin/zinc-conductor" --set security.curve=true --set "security.keys_dir=$keys" \
    --set agent.host=c4 --set "agent.admin_endpoint=${admin[4]}" \
    --set "rpc.call_endpoint=${call[4]}" --set "rpc.cast_endpoint=${cast[4]}" \
    --set "peers.conductor_cast=$casts" --set peers.heartbeat_interval_ms=200 \
    --set store.node_id=4 --set "store.raft_address=${raft[4]}" --set "store.peers=$peers" \
    --set "store.data_dir=$work/c4" --set store.election_timeout_ms=300
pid[4]=$last_pid
four_voters() { ctl store status 2>/dev/null | awk '$3 == "leader" {print $NF}' | grep -qx 4; }
three_voters() { ctl store status 2>/dev/null | awk '$3 == "leader" {print $NF}' | grep -qx 3; }
check "a leader before changing membership" wait_for 10 has_leader
check "zincctl store add 4" ctl --timeout 15000 store add 4 "${raft[4]}"
check "four voters" wait_for 10 four_voters
check "the new member has the data" wait_for 10 sees 4 motd after-failover
check "zincctl store remove 4" ctl --timeout 15000 store remove 4
check "three voters again" wait_for 10 three_voters

for n in 1 2 3 4; do
    kill -TERM "${pid[$n]}" 2>/dev/null || true
done
all_exit_zero=true
for n in 1 2 3 4; do
    rc=0
    wait "${pid[$n]}" || rc=$?
    [ "$rc" -eq 0 ] || { all_exit_zero=false; echo "conductor $n exited $rc"; tail -5 "$work/c$n.log"; }
done
check "every conductor exits 0 on SIGTERM (leak-free under ASan)" $all_exit_zero

# --- disaster recovery: the backup founds a new cluster, and new writes still apply ----------
check "offline restore with zincctl" ctl store restore "$work/backup" "$work/restored"
solo_call="tcp://127.0.0.1:$(free_port)"
solo_cast="tcp://127.0.0.1:$(free_port)"
start solo "$bin/zinc-conductor" --set security.curve=true --set "security.keys_dir=$keys" \
    --set agent.host=solo --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "rpc.call_endpoint=$solo_call" --set "rpc.cast_endpoint=$solo_cast" \
    --set "peers.conductor_cast=$solo_cast" --set "store.data_dir=$work/restored" \
    --set "store.raft_address=127.0.0.1:$(free_port)" --set store.election_timeout_ms=300
solo_pid=$last_pid
solo() { "$bin/zincctl" --set "ctl.conductor=$solo_call" "$@"; }
solo_sees() { [ "$(solo store get settings "$1" 2>/dev/null | sed -n 's/^value = //p')" = "$2" ]; }
check "the restored node serves the backed-up value" wait_for 10 solo_sees motd hello
check "and commits new writes (applied sequence reset)" solo store put settings after restore
check "which read back" wait_for 5 solo_sees after restore
kill -TERM "$solo_pid"
rc=0
wait "$solo_pid" || rc=$?
check "the restored conductor exits 0" [ "$rc" -eq 0 ]
finish
