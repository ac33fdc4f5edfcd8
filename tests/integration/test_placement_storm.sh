#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 400
# The placement property of issue #5, end to end with real processes: 1,000 concurrent
# "create server" requests through zinc-api against three compute hosts with room for 24
# one-vCPU servers, placed by TWO zinc-scheduler processes racing for claims. Every server must
# end ACTIVE or ERROR with "No valid host", no host may hold more than its capacity, the usage
# the store records must equal what runs, and deleting everything must give it all back.
source "$(dirname "$0")/lib.sh"

count=${ZN_STORM_COUNT:-1000}
id_port=$(free_port)
api_port=$(free_port)
url="http://127.0.0.1:$id_port"
aurl="http://127.0.0.1:$api_port"
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
i_call="tcp://127.0.0.1:$(free_port)"
s1_call="tcp://127.0.0.1:$(free_port)"
s2_call="tcp://127.0.0.1:$(free_port)"
common=(--set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast"
    --set "peers.heartbeat_interval_ms=200")
admin() { echo "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)"; }

start conductor "$bin/zinc-conductor" --set "rpc.call_endpoint=$c_call" \
    --set "rpc.cast_endpoint=$c_cast" --set "$(admin)" "${common[@]}" \
    --set "store.data_dir=$work/conductor" --set "store.raft_address=127.0.0.1:$(free_port)" \
    --set "peers.scheduler_call=$s1_call,$s2_call"
cat >"$work/identity.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = $i_call
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
[identity]
http_endpoint = 127.0.0.1:$id_port
data_dir = $work/identity
token_keys_dir = $work/token-keys
password_hash_cost = test
[catalog]
base_url = $url
compute_url = $aurl/compute/v2.1
CONF
check "identity bootstrap" "$bin/zinc-identity" bootstrap --config "$work/identity.conf" \
    --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$work/identity.conf"
for n in 1 2; do
    eval "call=\$s${n}_call"
    start "scheduler$n" "$bin/zinc-scheduler" --set "rpc.call_endpoint=$call" --set "$(admin)" \
        --set "agent.host=sched$n" \
        "${common[@]}" --set "scheduler.replica_dir=$work/conductor/store" \
        --set "scheduler.refresh_interval_ms=200"
done
for n in 1 2 3; do
    mkdir -p "$work/compute$n"
    start "compute$n" "$bin/zinc-compute" --set "agent.host=node$n" --set "$(admin)" \
        "${common[@]}" --set "rpc.call_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.cast_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "compute.libvirt_uri=test:///default" --set "compute.state_dir=$work/compute$n" \
        --set "compute.resource_interval_ms=500" --set "resources.vcpus=8" \
        --set "resources.ram_mb=65536" --set "resources.disk_gb=1000" \
        --set "resources.cpu_allocation_ratio=1.0"
done
start api "$bin/zinc-api" --set "$(admin)" "${common[@]}" \
    --set "api.http_endpoint=127.0.0.1:$api_port" --set "api.store_dir=$work/conductor/store" \
    --set "peers.identity_call=$i_call" --set "peers.scheduler_call=$s1_call,$s2_call"
up() { curl -sf "$url/identity/v3" >/dev/null && curl -sf "$aurl/compute/v2.1" >/dev/null; }
check "identity and api answer" wait_for 20 up

export OS_AUTH_URL="$url/identity/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public
token=$(openstack token issue -f value -c id 2>>"$work/cli.err")
project=$(openstack token issue -f value -c project_id 2>>"$work/cli.err")
api() { curl -s -H "X-Auth-Token: $token" -H 'Content-Type: application/json' "$@"; }
hosts_up() { [ "$(api "$aurl/v2.1/os-hypervisors/detail" | grep -o '"state": *"up"' | wc -l)" = 3 ]; }
check "three compute hosts up" wait_for 30 hosts_up
check "flavor of one vCPU" openstack flavor create --vcpus 1 --ram 64 --disk 1 --id 7 one \
    -f value -c id
quota="{\"quota_set\":{\"instances\":-1,\"cores\":-1,\"ram\":-1}}"
check "quota lifted for the storm" bash -c "curl -sf -X PUT -H 'X-Auth-Token: $token' \
    -H 'Content-Type: application/json' -d '$quota' $aurl/v2.1/os-quota-sets/$project >/dev/null"

# --- the storm ------------------------------------------------------------------------------
create() {
    curl -s -o /dev/null -w '%{http_code}\n' -X POST -H "X-Auth-Token: $token" \
        -H 'Content-Type: application/json' \
        -d "{\"server\":{\"name\":\"s$1\",\"flavorRef\":\"7\",\"imageRef\":\"6f1f6c3a-0d6e-4b7e-9d59-2c1b5e0b8e11\",\"networks\":\"none\"}}" \
        "$aurl/v2.1/servers"
}
export -f create
export token aurl
started=$(date +%s%3N)
seq "$count" | xargs -P 32 -I{} bash -c 'create {}' >"$work/codes"
echo "# $count creates answered in $(($(date +%s%3N) - started)) ms"
check "every create accepted (202)" [ "$(grep -c '^202$' "$work/codes")" = "$count" ]

statuses() {
    api "$aurl/v2.1/servers/detail?limit=100000" | python3 -c '
import json, sys
servers = json.load(sys.stdin)["servers"]
counts = {}
for s in servers:
    counts[s["status"]] = counts.get(s["status"], 0) + 1
print(" ".join("%s=%d" % kv for kv in sorted(counts.items())))'
}
settled() {
    local s
    s=$(statuses)
    echo "$s" >"$work/statuses"
    ! grep -q 'BUILD' <<<"$s" && [ -n "$s" ]
}
check "every server leaves BUILD" wait_for 240 settled
echo "# statuses: $(cat "$work/statuses")"
active=$(grep -o 'ACTIVE=[0-9]*' "$work/statuses" | cut -d= -f2 || echo 0)
errors=$(grep -o 'ERROR=[0-9]*' "$work/statuses" | cut -d= -f2 || echo 0)
check "all $count accounted for: ACTIVE + ERROR" [ $((active + errors)) = "$count" ]
check "the hosts were filled: 24 ACTIVE" [ "$active" = 24 ]
no_valid_host() {
    api "$aurl/v2.1/servers/detail?limit=100000&status=ERROR" | python3 -c '
import json, sys
bad = [s["id"] for s in json.load(sys.stdin)["servers"]
       if "No valid host" not in s.get("fault", {}).get("message", "")]
sys.exit(1 if bad else 0)'
}
check "every ERROR says No valid host" no_valid_host
within_capacity() {
    api "$aurl/v2.1/os-hypervisors/detail" | python3 -c '
import json, sys
hs = json.load(sys.stdin)["hypervisors"]
assert len(hs) == 3, hs
assert all(h["vcpus_used"] <= h["vcpus"] for h in hs), [(h["vcpus_used"], h["vcpus"]) for h in hs]
assert sum(h["vcpus_used"] for h in hs) == 24, [h["vcpus_used"] for h in hs]
assert sum(h["running_vms"] for h in hs) == 24, [h["running_vms"] for h in hs]'
}
check "no host over its capacity; claimed usage equals what runs" within_capacity

printf '[ctl]\nconductor = %s\ntimeout_ms = 2000\n' "$c_call" >"$work/zincctl.conf"
claims_of() {
    ZINCCTL_CONFIG="$work/zincctl.conf" "$bin/zincctl" status "scheduler/sched$1" |
        awk '$1 == "detail.claims" { print $3 }'
}
c1=$(claims_of 1)
c2=$(claims_of 2)
echo "# claims made by scheduler 1: $c1, by scheduler 2: $c2"
both_placed() { [ "${c1:-0}" -gt 0 ] && [ "${c2:-0}" -gt 0 ]; }
check "both schedulers placed servers" both_placed
check "their claims add up to what runs" [ $((c1 + c2)) = 24 ]

# --- everything back -------------------------------------------------------------------------
api "$aurl/v2.1/servers?limit=100000" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["servers"]:
    print(s["id"])' >"$work/ids"
delete() { curl -s -o /dev/null -w '%{http_code}\n' -X DELETE -H "X-Auth-Token: $token" "$aurl/v2.1/servers/$1"; }
export -f delete
xargs -P 32 -I{} bash -c 'delete {}' <"$work/ids" >"$work/delete-codes"
check "every delete accepted (204)" [ "$(grep -c '^204$' "$work/delete-codes")" = "$count" ]
empty() { [ "$(api "$aurl/v2.1/servers?limit=100000" | grep -o '"id"' | wc -l)" = 0 ]; }
check "every server gone" wait_for 120 empty
released() {
    api "$aurl/v2.1/os-hypervisors/detail" | python3 -c '
import json, sys
hs = json.load(sys.stdin)["hypervisors"]
assert all(h["vcpus_used"] == 0 and h["running_vms"] == 0 for h in hs), hs'
}
check "every claim given back" wait_for 20 released
finish
