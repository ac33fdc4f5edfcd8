#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
# zinc-network as a real process on loopback with a real conductor (the replicated store) and
# identity: the real `openstack` CLI (network create/list/show/delete, subnet create with
# --subnet-range, port create/list), then every endpoint and its error cases through curl,
# each with its HTTP status and a NeutronError body; project ownership with a second project.
source "$(dirname "$0")/lib.sh"

id_port=$(free_port)
net_port=$(free_port)
url="http://127.0.0.1:$id_port"
nurl="http://127.0.0.1:$net_port"
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
i_call="tcp://127.0.0.1:$(free_port)"
n_call="tcp://127.0.0.1:$(free_port)"
conf="$work/identity.conf"
cat >"$conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = $i_call
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
heartbeat_interval_ms = 200
[identity]
http_endpoint = 127.0.0.1:$id_port
data_dir = $work/identity
token_keys_dir = $work/token-keys
password_hash_cost = test
[catalog]
base_url = $url
network_url = $nurl
CONF
cat >"$work/network.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = $n_call
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
heartbeat_interval_ms = 200
[network]
http_endpoint = 127.0.0.1:$net_port
bridge_mappings = physnet1:br-ex,physnet2:br-vlan
[store]
replica_dir = $work/conductor/store
[identity]
call_endpoint = $i_call
CONF

start conductor "$bin/zinc-conductor" --set "rpc.call_endpoint=$c_call" \
    --set "rpc.cast_endpoint=$c_cast" --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_cast=$c_cast" --set "store.data_dir=$work/conductor" \
    --set "store.raft_address=127.0.0.1:$(free_port)"
check "identity bootstrap" "$bin/zinc-identity" bootstrap --config "$conf" --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$conf"
start network "$bin/zinc-network" --config "$work/network.conf"
up() { curl -sf "$url/identity/v3" >/dev/null && curl -sf "$nurl/" >/dev/null; }
check "identity and network answer" wait_for 20 up

export OS_AUTH_URL="$url/identity/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public
os() { openstack "$@" 2>>"$work/cli.err"; }

# --- the real openstack CLI -------------------------------------------------------------------
check "network create" bash -c "openstack network create net1 -f value -c name 2>>'$work/cli.err' | grep -qx net1"
check "network list" bash -c "openstack network list -f value -c Name 2>>'$work/cli.err' | grep -qx net1"
check "network show" bash -c "openstack network show net1 -f json 2>>'$work/cli.err' | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['name']=='net1' and d['mtu']==1500 and d['status']=='ACTIVE', d\""
check "subnet create --subnet-range" bash -c "openstack subnet create --network net1 --subnet-range 192.0.2.0/24 sub1 -f json 2>>'$work/cli.err' >'$work/sub1.json'"
check "subnet defaults (gateway .1, pool .2-.254)" python3 -c "
import json; d=json.load(open('$work/sub1.json'))
assert d['gateway_ip']=='192.0.2.1' and d['cidr']=='192.0.2.0/24' and d['ip_version']==4, d
p=d['allocation_pools']; p=p if isinstance(p,list) else p
assert '192.0.2.2' in str(p) and '192.0.2.254' in str(p), p"
check "subnet create IPv6" bash -c "openstack subnet create --network net1 --ip-version 6 --subnet-range 2001:db8:1::/64 sub6 -f value -c gateway_ip 2>>'$work/cli.err' | grep -qx 2001:db8:1::1"
check "port create" bash -c "openstack port create --network net1 port1 -f json 2>>'$work/cli.err' >'$work/port1.json'"
check "port has a v4 and a v6 address and an fa:16:3e MAC" python3 -c "
import json; d=json.load(open('$work/port1.json'))
ips=str(d['fixed_ips']); assert '192.0.2.2' in ips and '2001:db8:1::2' in ips, ips
assert d['mac_address'].startswith('fa:16:3e:'), d"
check "port create --fixed-ip" bash -c "openstack port create --network net1 --fixed-ip subnet=sub1,ip-address=192.0.2.77 port2 -f value -c fixed_ips 2>>'$work/cli.err' | grep -q 192.0.2.77"
check "port list" bash -c "openstack port list -f value -c Name 2>>'$work/cli.err' | sort | tr '\n' ' ' | grep -qx 'port1 port2 '"
check "port list --network" bash -c "openstack port list --network net1 -f value -c Name 2>>'$work/cli.err' | wc -l | grep -qx 2"
check "subnet list" bash -c "openstack subnet list -f value -c Name 2>>'$work/cli.err' | sort | tr '\n' ' ' | grep -qx 'sub1 sub6 '"
check "subnet show" bash -c "openstack subnet show sub1 -f value -c cidr 2>>'$work/cli.err' | grep -qx 192.0.2.0/24"
check "port show" bash -c "openstack port show port2 -f value -c mac_address 2>>'$work/cli.err' | grep -q '^fa:16:3e:'"
check "network set --name" os network set --name net1b net1
check "network show after set" bash -c "openstack network show net1b -f value -c name 2>>'$work/cli.err' | grep -qx net1b"
check "port set --name" os port set --name port2b port2
check "subnet set --dns-nameserver" os subnet set --dns-nameserver 192.0.2.53 sub1
check "subnet show after set" bash -c "openstack subnet show sub1 -f json 2>>'$work/cli.err' | grep -q 192.0.2.53"
check "subnet delete refused while a port holds its address" bash -c "! openstack subnet delete sub6 2>/dev/null"
check "network delete refused while ports exist" bash -c "! openstack network delete net1b 2>/dev/null"
check "port delete" os port delete port1 port2b
check "subnet delete" os subnet delete sub6
check "network delete" os network delete net1b
check "network list is empty" bash -c "[ -z \"\$(openstack network list -f value 2>>'$work/cli.err')\" ]"

# --- curl helpers ---------------------------------------------------------------------------
req() {
    local args=(-s -o "$work/body" -w '%{http_code}' -X "$1" "$nurl$2" -H 'Content-Type: application/json')
    [ -n "${3:-}" ] && args+=(-H "X-Auth-Token: $3")
    [ -n "${4:-}" ] && args+=(--data-binary "$4")
    curl "${args[@]}"
}
# expect WHAT STATUS [TYPE] -- METHOD PATH TOKEN [BODY]: the status and, for errors, the
# NeutronError body (with TYPE when given).
expect() {
    local what="$1" want="$2" type="$3"
    shift 3
    local got
    got=$(req "$@")
    if [ "$got" != "$want" ]; then
        fail "$what (status $got, want $want: $(head -c 300 "$work/body"))"
        return
    fi
    if [ "$want" -ge 400 ] && ! python3 -c "
import json,sys; e=json.load(open('$work/body'))['NeutronError']
assert e['message'] and 'detail' in e and ('$type'=='' or e['type']=='$type'), e" 2>/dev/null; then
        fail "$what (no NeutronError${type:+ of type $type}: $(head -c 300 "$work/body"))"
        return
    fi
    ok "$what"
}
field() { python3 -c "import json,sys; d=json.load(open('$work/body')); print($1)"; }
login() {
    curl -s -D "$work/headers" -o "$work/login" -X POST "$url/v3/auth/tokens" \
        -H 'Content-Type: application/json' --data-binary \
        "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"id\":\"default\"},\"password\":\"$2\"}}},\"scope\":{\"project\":{\"name\":\"$3\",\"domain\":{\"id\":\"default\"}}}}}"
    tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}'
}
os project create demo >/dev/null || true
os project create other >/dev/null || true
os user create --password alicepw --project demo alice >/dev/null || true
os user create --password bobpw --project other bob >/dev/null || true
os role add --project demo --user alice member || true
os role add --project other --user bob member || true
admin=$(login admin secret admin)
alice=$(login alice alicepw demo)
bob=$(login bob bobpw other)
check "tokens issued" [ -n "$admin" ] && [ -n "$alice" ] && [ -n "$bob" ]

# --- networks --------------------------------------------------------------------------------
expect "no token is 401" 401 "" GET /v2.0/networks ""
expect "a bad token is 401" 401 "" GET /v2.0/networks "zt1bogus"
expect "versions without a token" 200 "" GET / ""
expect "prefix /networking is stripped" 200 "" GET /networking/v2.0/networks "$alice"
expect "malformed JSON is 400" 400 "" POST /v2.0/networks "$alice" '{"network": {'
expect "no network object is 400" 400 "" POST /v2.0/networks "$alice" '{"name": "x"}'
expect "a bad mtu is 400" 400 InvalidInput POST /v2.0/networks "$alice" '{"network": {"name": "x", "mtu": 20}}'
expect "a number as a name is 400" 400 InvalidInput POST /v2.0/networks "$alice" '{"network": {"name": 5}}'
expect "a member may not share" 403 PolicyNotAuthorized POST /v2.0/networks "$alice" '{"network": {"name": "x", "shared": true}}'
expect "a member may not set provider attributes" 403 "" POST /v2.0/networks "$alice" '{"network": {"name": "x", "provider:physical_network": "physnet1"}}'
expect "an unmapped physical network is 400" 400 "" POST /v2.0/networks "$admin" '{"network": {"name": "x", "provider:physical_network": "nope"}}'
expect "alice creates a network" 201 "" POST /v2.0/networks "$alice" '{"network": {"name": "anet", "admin_state_up": true}}'
anet=$(field "d['network']['id']")
check "default bridge and mtu" python3 -c "import json; d=json.load(open('$work/body'))['network']; assert d['zinc:bridge']=='br-zinc' and d['mtu']==1500 and d['shared'] is False and d['project_id'], d"
expect "admin creates a shared provider network" 201 "" POST /v2.0/networks "$admin" '{"network": {"name": "public", "shared": true, "router:external": false, "provider:network_type": "flat", "provider:physical_network": "physnet1", "mtu": 9000}}'
pub=$(field "d['network']['id']")
check "physnet1 maps to br-ex" python3 -c "import json; d=json.load(open('$work/body'))['network']; assert d['zinc:bridge']=='br-ex' and d['mtu']==9000 and d['provider:physical_network']=='physnet1', d"
expect "bob creates a network" 201 "" POST /v2.0/networks "$bob" '{"network": {"name": "bnet"}}'
bnet=$(field "d['network']['id']")
expect "alice lists" 200 "" GET /v2.0/networks "$alice"
check "alice sees hers and the shared one, not bob's" python3 -c "
import json; n={x['name'] for x in json.load(open('$work/body'))['networks']}; assert n=={'anet','public'}, n"
expect "list ?name=" 200 "" GET "/v2.0/networks?name=anet" "$alice"
check "name filter" python3 -c "import json; n=json.load(open('$work/body'))['networks']; assert len(n)==1 and n[0]['id']=='$anet', n"
expect "list ?shared=true" 200 "" GET "/v2.0/networks?shared=true" "$alice"
check "shared filter" python3 -c "import json; n=json.load(open('$work/body'))['networks']; assert [x['name'] for x in n]==['public'], n"
expect "list ?id= with fields" 200 "" GET "/v2.0/networks?id=$anet&fields=id&fields=name" "$alice"
check "id filter" python3 -c "import json; n=json.load(open('$work/body'))['networks']; assert len(n)==1, n"
expect "admin sees all" 200 "" GET /v2.0/networks "$admin"
check "admin sees three" python3 -c "import json; assert len(json.load(open('$work/body'))['networks'])==3"
expect "page 1 (?limit=2)" 200 "" GET "/v2.0/networks?limit=2" "$admin"
check "two networks and a next link" python3 -c "
import json; d=json.load(open('$work/body')); n=d['networks']; l=d['networks_links']
assert len(n)==2 and n[0]['id']<n[1]['id'] and l[0]['rel']=='next' and 'marker='+n[1]['id'] in l[0]['href'], d"
marker=$(field "d['networks'][1]['id']")
expect "page 2 (?marker=)" 200 "" GET "/v2.0/networks?limit=2&marker=$marker" "$admin"
check "the third network and no next link" python3 -c "
import json; d=json.load(open('$work/body')); assert len(d['networks'])==1 and 'networks_links' not in d and d['networks'][0]['id']>'$marker', d"
expect "a bad limit is 400" 400 "" GET "/v2.0/networks?limit=x" "$admin"
expect "alice shows hers" 200 "" GET "/v2.0/networks/$anet" "$alice"
expect "alice shows the shared one" 200 "" GET "/v2.0/networks/$pub" "$alice"
expect "bob's network is 404 to alice" 404 NetworkNotFound GET "/v2.0/networks/$bnet" "$alice"
expect "an unknown id is 404" 404 NetworkNotFound GET /v2.0/networks/nope "$alice"
expect "alice renames hers" 200 "" PUT "/v2.0/networks/$anet" "$alice" '{"network": {"name": "anet2", "mtu": 1400}}'
check "rename shown with revision 2" python3 -c "import json; d=json.load(open('$work/body'))['network']; assert d['name']=='anet2' and d['mtu']==1400 and d['revision_number']==2, d"
expect "alice may not change bob's" 404 "" PUT "/v2.0/networks/$bnet" "$alice" '{"network": {"name": "mine"}}'
expect "alice may not change the shared one" 404 "" PUT "/v2.0/networks/$pub" "$alice" '{"network": {"name": "mine"}}'
expect "alice may not delete bob's" 404 "" DELETE "/v2.0/networks/$bnet" "$alice"
expect "wrong method is 405" 405 "" PATCH "/v2.0/networks/$anet" "$alice" '{}'
expect "admin creates an external network" 201 "" POST /v2.0/networks "$admin" '{"network": {"name": "ext", "router:external": true}}'
ext=$(field "d['network']['id']")
expect "alice sees the external network" 200 "" GET "/v2.0/networks/$ext" "$alice"
expect "alice may not make ports on it" 403 PolicyNotAuthorized POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$ext\"}}"
expect "admin deletes the external network" 204 "" DELETE "/v2.0/networks/$ext" "$admin"

# --- subnets ---------------------------------------------------------------------------------
expect "a bad CIDR is 400" 400 InvalidInput POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.0/33\", \"ip_version\": 4}}"
expect "host bits set is 400" 400 InvalidInput POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.5/24\", \"ip_version\": 4}}"
expect "an ip_version mismatch is 400" 400 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.0/24\", \"ip_version\": 6}}"
expect "a gateway outside is 400" 400 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.0/24\", \"gateway_ip\": \"10.0.1.1\"}}"
expect "a pool holding the gateway is 409" 409 GatewayConflictWithAllocationPools POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.0/24\", \"allocation_pools\": [{\"start\": \"10.0.0.1\", \"end\": \"10.0.0.9\"}]}}"
expect "a pool outside is 400" 400 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.0/24\", \"allocation_pools\": [{\"start\": \"10.0.0.10\", \"end\": \"10.0.1.9\"}]}}"
expect "a bad DNS server is 400" 400 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.0/24\", \"dns_nameservers\": [\"x\"]}}"
expect "an unknown network is 404" 404 NetworkNotFound POST /v2.0/subnets "$alice" '{"subnet": {"network_id": "nope", "cidr": "10.0.0.0/24"}}'
expect "a subnet on bob's network is 404" 404 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$bnet\", \"cidr\": \"10.0.0.0/24\"}}"
expect "a subnet on the shared network is 403 for alice" 403 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$pub\", \"cidr\": \"10.0.0.0/24\"}}"
expect "a tiny pool subnet (3 addresses)" 201 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"name\": \"tiny\", \"cidr\": \"10.0.0.0/24\", \"gateway_ip\": \"10.0.0.1\", \"allocation_pools\": [{\"start\": \"10.0.0.10\", \"end\": \"10.0.0.12\"}], \"dns_nameservers\": [\"192.0.2.53\"], \"enable_dhcp\": false}}"
tiny=$(field "d['subnet']['id']")
check "subnet fields" python3 -c "import json; d=json.load(open('$work/body'))['subnet']; assert d['allocation_pools']==[{'start':'10.0.0.10','end':'10.0.0.12'}] and d['dns_nameservers']==['192.0.2.53'] and d['enable_dhcp'] is False and d['network_id']=='$anet', d"
expect "an overlapping subnet is 400" 400 "" POST /v2.0/subnets "$alice" "{\"subnet\": {\"network_id\": \"$anet\", \"cidr\": \"10.0.0.128/25\"}}"
expect "admin: subnet without gateway on the shared network" 201 "" POST /v2.0/subnets "$admin" "{\"subnet\": {\"network_id\": \"$pub\", \"cidr\": \"172.24.4.0/24\", \"gateway_ip\": null}}"
check "no gateway, pool from .1" python3 -c "import json; d=json.load(open('$work/body'))['subnet']; assert d['gateway_ip'] is None and d['allocation_pools'][0]['start']=='172.24.4.1', d"
expect "alice lists subnets ?network_id=" 200 "" GET "/v2.0/subnets?network_id=$anet" "$alice"
check "one subnet on anet" python3 -c "import json; s=json.load(open('$work/body'))['subnets']; assert [x['name'] for x in s]==['tiny'], s"
expect "alice sees the shared network's subnet" 200 "" GET "/v2.0/subnets?network_id=$pub" "$alice"
check "shared subnet visible" python3 -c "import json; assert len(json.load(open('$work/body'))['subnets'])==1"
expect "network show lists its subnets" 200 "" GET "/v2.0/networks/$anet" "$alice"
check "subnets[] in the network" python3 -c "import json; assert json.load(open('$work/body'))['network']['subnets']==['$tiny']"
expect "subnet update" 200 "" PUT "/v2.0/subnets/$tiny" "$alice" '{"subnet": {"name": "tiny2", "dns_nameservers": ["192.0.2.54", "2001:db8::53"]}}'
expect "subnet update: gateway into the pool is 409" 409 "" PUT "/v2.0/subnets/$tiny" "$alice" '{"subnet": {"gateway_ip": "10.0.0.11"}}'
expect "subnet update: changing pools is 400" 400 "" PUT "/v2.0/subnets/$tiny" "$alice" '{"subnet": {"allocation_pools": []}}'
expect "an unknown subnet is 404" 404 SubnetNotFound GET /v2.0/subnets/nope "$alice"

# --- ports -----------------------------------------------------------------------------------
port_on() { req POST /v2.0/ports "$1" "{\"port\": {\"network_id\": \"$2\"${3:+, $3}}}"; }
expect "port 1" 201 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"name\": \"p1\", \"device_id\": \"vm-1\", \"device_owner\": \"compute:nova\"}}"
p1=$(field "d['port']['id']")
check "port fields" python3 -c "import json; d=json.load(open('$work/body'))['port']; assert d['fixed_ips']==[{'subnet_id':'$tiny','ip_address':'10.0.0.10'}] and d['status']=='DOWN' and d['device_id']=='vm-1' and d['mac_address'].startswith('fa:16:3e:'), d"
expect "port 2 with a given MAC" 201 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"mac_address\": \"FA:16:3E:00:00:01\"}}"
p2=$(field "d['port']['id']")
check "MAC normalised" python3 -c "import json; assert json.load(open('$work/body'))['port']['mac_address']=='fa:16:3e:00:00:01'"
expect "the same MAC again is 409" 409 MacAddressInUse POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"mac_address\": \"fa:16:3e:00:00:01\"}}"
expect "a bad MAC is 400" 400 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"mac_address\": \"01:00:5e:00:00:01\"}}"
expect "a taken address is 409" 409 IpAddressAlreadyAllocated POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"fixed_ips\": [{\"ip_address\": \"10.0.0.10\"}]}}"
expect "an address outside every subnet is 400" 400 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"fixed_ips\": [{\"ip_address\": \"10.9.0.10\"}]}}"
expect "the broadcast address is 400" 400 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"fixed_ips\": [{\"ip_address\": \"10.0.0.255\"}]}}"
expect "a subnet of another network is 400" 400 "" POST /v2.0/ports "$admin" "{\"port\": {\"network_id\": \"$pub\", \"fixed_ips\": [{\"subnet_id\": \"$tiny\"}]}}"
expect "port 3: the last pool address" 201 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\"}}"
p3=$(field "d['port']['id']")
expect "exhausted pool is 409" 409 IpAddressGenerationFailure POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\"}}"
expect "outside the pool but in the subnet is allowed" 201 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"fixed_ips\": [{\"subnet_id\": \"$tiny\", \"ip_address\": \"10.0.0.200\"}]}}"
p4=$(field "d['port']['id']")
expect "no fixed IPs at all" 201 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"fixed_ips\": []}}"
p5=$(field "d['port']['id']")
expect "a port on bob's network is 404" 404 NetworkNotFound POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$bnet\"}}"
expect "a port on the shared network" 201 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$pub\"}}"
ppub=$(field "d['port']['id']")
expect "unsharing a network other projects use is 409" 409 InvalidSharedSetting PUT "/v2.0/networks/$pub" "$admin" '{"network": {"shared": false}}'
expect "a member may not set binding:host_id" 403 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\", \"binding:host_id\": \"h\", \"fixed_ips\": []}}"
expect "ports ?device_id=" 200 "" GET "/v2.0/ports?device_id=vm-1" "$alice"
check "device filter" python3 -c "import json; p=json.load(open('$work/body'))['ports']; assert [x['id'] for x in p]==['$p1'], p"
expect "ports ?network_id= ?mac_address=" 200 "" GET "/v2.0/ports?network_id=$anet&mac_address=fa:16:3e:00:00:01" "$alice"
check "network and mac filter" python3 -c "import json; p=json.load(open('$work/body'))['ports']; assert [x['id'] for x in p]==['$p2'], p"
expect "ports as CLI lists them" 200 "" GET "/v2.0/ports?fields=id&fields=name&fields=mac_address&fields=fixed_ips&fields=status" "$alice"
check "alice's six ports" python3 -c "import json; assert len(json.load(open('$work/body'))['ports'])==6"
expect "bob sees none of them" 200 "" GET /v2.0/ports "$bob"
check "bob's list is empty" python3 -c "import json; assert json.load(open('$work/body'))['ports']==[]"
expect "bob cannot show alice's port" 404 PortNotFound GET "/v2.0/ports/$p1" "$bob"
expect "bob cannot delete alice's port" 404 "" DELETE "/v2.0/ports/$p1" "$bob"
expect "port update" 200 "" PUT "/v2.0/ports/$p1" "$alice" '{"port": {"name": "p1b", "device_id": "vm-9"}}'
check "port updated" python3 -c "import json; d=json.load(open('$work/body'))['port']; assert d['name']=='p1b' and d['device_id']=='vm-9', d"
expect "port update of fixed_ips is 400" 400 "" PUT "/v2.0/ports/$p1" "$alice" '{"port": {"fixed_ips": []}}'
expect "subnet delete refused while allocated" 409 SubnetInUse DELETE "/v2.0/subnets/$tiny" "$alice"
expect "network delete refused while ports" 409 NetworkInUse DELETE "/v2.0/networks/$anet" "$alice"
expect "release the middle address" 204 "" DELETE "/v2.0/ports/$p2" "$alice"
expect "an unknown port is 404" 404 PortNotFound DELETE "/v2.0/ports/$p2" "$alice"
expect "the released address is handed out again" 201 "" POST /v2.0/ports "$alice" "{\"port\": {\"network_id\": \"$anet\"}}"
p6=$(field "d['port']['id']")
check "it is 10.0.0.11" python3 -c "import json; assert json.load(open('$work/body'))['port']['fixed_ips'][0]['ip_address']=='10.0.0.11'"
for p in "$p1" "$p3" "$p4" "$p5" "$p6" "$ppub"; do req DELETE "/v2.0/ports/$p" "$alice" >/dev/null; done
expect "subnet delete" 204 "" DELETE "/v2.0/subnets/$tiny" "$alice"
expect "network delete" 204 "" DELETE "/v2.0/networks/$anet" "$alice"
expect "network gone" 404 "" GET "/v2.0/networks/$anet" "$alice"
expect "extensions" 200 "" GET /v2.0/extensions "$alice"

finish
