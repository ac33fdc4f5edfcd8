#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
# Identity on the cluster's replicated store, with CURVE on every link: two zinc-identity agents
# share one conductor's store, so what one writes the other serves, a token one issues the other
# validates, and a restarted agent finds everything again.
source "$(dirname "$0")/lib.sh"

keys="$work/keys"
"$bin/zincctl" keygen --dir "$keys" conductor identity admin >/dev/null
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
start conductor "$bin/zinc-conductor" --set security.curve=true --set "security.keys_dir=$keys" \
    --set "rpc.call_endpoint=$c_call" --set "rpc.cast_endpoint=$c_cast" \
    --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" --set "peers.conductor_cast=$c_cast" \
    --set "store.data_dir=$work/conductor" --set "store.raft_address=127.0.0.1:$(free_port)"

write_conf() { # NAME PORT
    cat >"$work/$1.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[security]
curve = true
keys_dir = $keys
key_name = identity
[rpc]
call_endpoint = tcp://127.0.0.1:$(free_port)
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
[identity]
http_endpoint = 127.0.0.1:$2
store_conductor_call = $c_call
store_replica_dir = $work/conductor/store
data_dir = $work/unused-$1
token_keys_dir = $work/token-keys
password_hash_cost = test
[catalog]
base_url = http://127.0.0.1:$2
CONF
}
port1=$(free_port)
port2=$(free_port)
write_conf id1 "$port1"
write_conf id2 "$port2"

bootstrapped() { "$bin/zinc-identity" bootstrap --config "$work/id1.conf" --set bootstrap.password=secret; }
check "bootstrap through the conductor (retried until the store has a leader)" wait_for 10 bootstrapped
check "bootstrap again is idempotent" bootstrapped
check "nothing was written to a local store" [ ! -e "$work/unused-id1" ]

start id1 "$bin/zinc-identity" --config "$work/id1.conf"
id1_pid=$last_pid
start id2 "$bin/zinc-identity" --config "$work/id2.conf"
up() { curl -sf "http://127.0.0.1:$1/v3" >/dev/null; }
check "identity 1 answers" wait_for 10 up "$port1"
check "identity 2 answers" wait_for 10 up "$port2"

export OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default \
    OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne
on() { local port="$1"; shift; OS_AUTH_URL="http://127.0.0.1:$port/v3" openstack "$@" 2>>"$work/cli.err"; }

check "project created through identity 1" bash -c "$(declare -f on); on $port1 project create demo -f value -c name | grep -qx demo"
listed() { on "$port2" project list -f value -c Name | grep -qx demo; }
check "identity 2 lists it" wait_for 5 listed
check "a duplicate name is refused through identity 2" bash -c "$(declare -f on); ! on $port2 project create demo"

# PATCH of roles, services and endpoints, written through one agent, read through the other.
on "$port1" role create auditor >/dev/null
check "role set --name (PATCH /v3/roles)" bash -c "$(declare -f on); on $port1 role set --name inspector auditor"
renamed() { on "$port2" role show inspector -f value -c name | grep -qx inspector; }
check "the renamed role is seen by identity 2" wait_for 5 renamed
check "service set --description (PATCH /v3/services)" bash -c "$(declare -f on); on $port1 service set --description 'cloud compute' compute"
check "service description changed" bash -c "$(declare -f on); on $port2 service show compute -f value -c description | grep -qx 'cloud compute'"
ep=$(on "$port1" endpoint list --service compute --interface admin -f value -c ID)
check "endpoint set --url (PATCH /v3/endpoints)" bash -c "$(declare -f on); on $port1 endpoint set --url http://127.0.0.1:9/compute/v2.1 $ep"
check "endpoint url changed" bash -c "$(declare -f on); on $port2 endpoint show $ep -f value -c url | grep -qx http://127.0.0.1:9/compute/v2.1"

token=$(on "$port1" token issue -f value -c id)
admin_token=$(on "$port2" token issue -f value -c id)
status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $admin_token" \
    -H "X-Subject-Token: $token" "http://127.0.0.1:$port2/v3/auth/tokens")
check "a token from identity 1 validates at identity 2" [ "$status" = 200 ]

kill "$id1_pid"
wait "$id1_pid" 2>/dev/null && rc=0 || rc=$?
check "identity 1 exits 0 on SIGTERM" [ "$rc" -eq 0 ]
start id1b "$bin/zinc-identity" --config "$work/id1.conf"
check "identity 1 restarts" wait_for 10 up "$port1"
check "after the restart it still has the project" bash -c "$(declare -f on); on $port1 project show demo -f value -c name | grep -qx demo"
finish
