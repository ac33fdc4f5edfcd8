#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
# Concurrent IPAM over REST: two zinc-network processes on one replicated store (one conductor),
# 200 parallel `POST /v2.0/ports` split between them on a 150-address pool. Every address is
# handed out once (150 distinct), the other 50 get 409 IpAddressGenerationFailure; 20 deleted
# ports' addresses go to 20 new ports created in parallel through both agents. Then one agent is
# killed (-9) in the middle of another storm: filling the pool through the survivor gives every
# pool address to exactly one port (nothing leaked, nothing handed out twice).
source "$(dirname "$0")/lib.sh"

id_port=$(free_port)
url="http://127.0.0.1:$id_port"
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
i_call="tcp://127.0.0.1:$(free_port)"
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
CONF
start conductor "$bin/zinc-conductor" --set "rpc.call_endpoint=$c_call" \
    --set "rpc.cast_endpoint=$c_cast" --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_cast=$c_cast" --set "store.data_dir=$work/conductor" \
    --set "store.raft_address=127.0.0.1:$(free_port)"
check "identity bootstrap" "$bin/zinc-identity" bootstrap --config "$work/identity.conf" --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$work/identity.conf"
nurls=()
admins=()
netpids=()
for n in 1 2; do
    p=$(free_port)
    nurls+=("http://127.0.0.1:$p")
    admins+=("tcp://127.0.0.1:$(free_port)")
    start "network$n" "$bin/zinc-network" --set "network.http_endpoint=127.0.0.1:$p" \
        --set "rpc.call_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "agent.admin_endpoint=${admins[$((n - 1))]}" \
        --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast" \
        --set "store.replica_dir=$work/conductor/store" --set "identity.call_endpoint=$i_call"
    netpids+=("$last_pid")
done
up() { curl -sf "$url/identity/v3" >/dev/null && curl -sf "${nurls[0]}/" >/dev/null && curl -sf "${nurls[1]}/" >/dev/null; }
check "identity and two network agents answer" wait_for 20 up

curl -s -D "$work/headers" -o /dev/null -X POST "$url/v3/auth/tokens" -H 'Content-Type: application/json' \
    --data-binary '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"secret"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}'
token=$(tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}')
check "token issued" [ -n "$token" ]
post() { curl -s -X POST "$1$2" -H "X-Auth-Token: $token" -H 'Content-Type: application/json' --data-binary "$3"; }
net=$(post "${nurls[0]}" /v2.0/networks '{"network": {"name": "storm"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["network"]["id"])')
check "network created" [ -n "$net" ]
post "${nurls[1]}" /v2.0/subnets "{\"subnet\": {\"network_id\": \"$net\", \"cidr\": \"10.60.0.0/24\", \"allocation_pools\": [{\"start\": \"10.60.0.10\", \"end\": \"10.60.0.159\"}]}}" >"$work/subnet.json"
check "subnet created" grep -q '"cidr":"10.60.0.0/24"' "$work/subnet.json"

# storm PREFIX COUNT: COUNT parallel port creates, alternating agents; one result file each.
storm() {
    mkdir -p "$work/$1"
    export token net work
    seq 0 $(($2 - 1)) | xargs -P 32 -I{} bash -c '
        i={}; u='"${nurls[0]}"'; [ $((i % 2)) = 1 ] && u='"${nurls[1]}"'
        curl -s -o "$work/'"$1"'/$i.json" -w "%{http_code}" -X POST "$u/v2.0/ports" \
            -H "X-Auth-Token: $token" -H "Content-Type: application/json" \
            --data-binary "{\"port\": {\"network_id\": \"$net\", \"name\": \"'"$1"'-$i\"}}" \
            >"$work/'"$1"'/$i.status"'
}
storm first 200
count() { for f in "$work/$1"/*.status; do cat "$f"; echo; done | grep -c "^$2$" || true; }
check "150 created" [ "$(count first 201)" = 150 ]
check "50 refused with 409" [ "$(count first 409)" = 50 ]
check "the refusals are IpAddressGenerationFailure" bash -c "grep -l '\"IpAddressGenerationFailure\"' $work/first/*.json | wc -l | grep -qx 50"
check "150 distinct addresses in the pool" python3 -c "
import json,glob,ipaddress
a=[json.load(open(f))['port']['fixed_ips'][0]['ip_address'] for f in glob.glob('$work/first/*.json') if 'port' in json.load(open(f))]
assert len(a)==150 and len(set(a))==150, (len(a), len(set(a)))
assert all(ipaddress.ip_address('10.60.0.10') <= ipaddress.ip_address(x) <= ipaddress.ip_address('10.60.0.159') for x in a)"
check "150 distinct MACs" python3 -c "
import json,glob
m=[json.load(open(f))['port']['mac_address'] for f in glob.glob('$work/first/*.json') if 'port' in json.load(open(f))]
assert len(set(m))==150"

printf '[ctl]\nconductor = %s\ntimeout_ms = 2000\n' "$c_call" >"$work/zincctl.conf"
metric() { ZINCCTL_CONFIG="$work/zincctl.conf" "$bin/zincctl" --json metrics "$1" 2>/dev/null |
    python3 -c "import json,sys; print(json.load(sys.stdin).get('$2', 0))" 2>/dev/null || echo 0; }
created=$(($(metric "${admins[0]}" ports_created) + $(metric "${admins[1]}" ports_created)))
check "the agents' metrics count 150 ports created" [ "$created" = 150 ]
exhausted=$(($(metric "${admins[0]}" ip_pool_exhausted) + $(metric "${admins[1]}" ip_pool_exhausted)))
check "and 50 exhausted pools" [ "$exhausted" = 50 ]

# Delete 20 through agent 2; 20 new ports through both get exactly those addresses.
python3 -c "
import json,glob
ports=[json.load(open(f))['port'] for f in sorted(glob.glob('$work/first/*.json')) if 'port' in json.load(open(f))][:20]
open('$work/freed','w').write('\n'.join(p['fixed_ips'][0]['ip_address'] for p in ports)+'\n')
open('$work/freed_ids','w').write('\n'.join(p['id'] for p in ports)+'\n')"
deleted=0
while read -r id; do
    s=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${nurls[1]}/v2.0/ports/$id" -H "X-Auth-Token: $token")
    [ "$s" = 204 ] && deleted=$((deleted + 1))
done <"$work/freed_ids"
check "20 ports deleted" [ "$deleted" = 20 ]
storm again 20
check "20 created again" [ "$(count again 201)" = 20 ]
check "they got the released addresses" python3 -c "
import json,glob
a=sorted(json.load(open(f))['port']['fixed_ips'][0]['ip_address'] for f in glob.glob('$work/again/*.json'))
assert a==sorted(open('$work/freed').read().split()), a"
status=$(curl -s -o "$work/full.json" -w '%{http_code}' -X POST "${nurls[0]}/v2.0/ports" -H "X-Auth-Token: $token" \
    -H 'Content-Type: application/json' --data-binary "{\"port\": {\"network_id\": \"$net\"}}")
check "the pool is full again (409)" [ "$status" = 409 ]

# --- kill -9 one agent in the middle of a storm ------------------------------------------------
# Whatever it had in flight either committed whole (port, address and MAC together) or not at
# all: after filling the pool through the survivor, every pool address belongs to exactly one
# port, so nothing leaked.
net2=$(post "${nurls[0]}" /v2.0/networks '{"network": {"name": "kill"}}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["network"]["id"])')
post "${nurls[1]}" /v2.0/subnets "{\"subnet\": {\"network_id\": \"$net2\", \"cidr\": \"10.61.0.0/24\", \"allocation_pools\": [{\"start\": \"10.61.0.10\", \"end\": \"10.61.0.159\"}]}}" >/dev/null
net_saved=$net
net=$net2
storm killed 100 &
storm_pid=$!
# The kill lands once 20 creations finished, with the rest in flight.
started() { [ "$(ls "$work/killed" 2>/dev/null | grep -c '\.status$')" -ge 20 ]; }
wait_for 20 started >/dev/null || true
kill -9 "${netpids[0]}" 2>/dev/null || true
wait "$storm_pid" || true
net=$net_saved
filled=0
for _ in $(seq 1 160); do
    s=$(curl -s -o /dev/null -w '%{http_code}' -X POST "${nurls[1]}/v2.0/ports" -H "X-Auth-Token: $token" \
        -H 'Content-Type: application/json' --data-binary "{\"port\": {\"network_id\": \"$net2\"}}")
    [ "$s" = 201 ] && filled=$((filled + 1))
    [ "$s" = 409 ] && break
done
curl -s "${nurls[1]}/v2.0/ports?network_id=$net2&limit=1000" -H "X-Auth-Token: $token" >"$work/killed.json"
check "after the kill the pool fills to exactly its 150 addresses, one port each" python3 -c "
import json; p=json.load(open('$work/killed.json'))['ports']
a=[x['fixed_ips'][0]['ip_address'] for x in p]
assert len(p)==150 and len(set(a))==150 and len({x['mac_address'] for x in p})==150, (len(p), len(set(a)))"
check "the survivor created the rest ($filled)" [ "$filled" -gt 0 ]

finish
