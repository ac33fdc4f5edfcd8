#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 400
# zinc-api as a real process with real identity, conductor, scheduler, two compute agents on
# libvirt's test driver (and the image agent when it is built): the real `openstack` CLI for
# flavors, key pairs, services, hypervisors and the server lifecycle (create --wait, list,
# show, stop, start, reboot, event list, console log, delete --wait), then curl for the version
# documents, microversions and every error case with its Nova-style body, and the request id
# followed from the REST answer into the compute agent's log.
source "$(dirname "$0")/lib.sh"

id_port=$(free_port)
api_port=$(free_port)
img_port=$(free_port)
url="http://127.0.0.1:$id_port"
aurl="http://127.0.0.1:$api_port"
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
i_call="tcp://127.0.0.1:$(free_port)"
s_call="tcp://127.0.0.1:$(free_port)"
g_call="tcp://127.0.0.1:$(free_port)"
net_port=$(free_port)
n_call="tcp://127.0.0.1:$(free_port)"
have_image=false
[ -x "$bin/zinc-image" ] && have_image=true
image_call=""
$have_image && image_call="$g_call"
have_network=false
[ -x "$bin/zinc-network" ] && have_network=true
network_call=""
$have_network && network_call="$n_call"

cat >"$work/identity.conf" <<CONF
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
compute_url = $aurl/compute/v2.1
image_url = http://127.0.0.1:$img_port/image
network_url = http://127.0.0.1:$net_port/networking
CONF
cat >"$work/api.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
log_level = info
[api]
http_endpoint = 127.0.0.1:$api_port
store_dir = $work/conductor/store
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
heartbeat_interval_ms = 200
identity_call = $i_call
scheduler_call = $s_call
image_call = $image_call
network_call = $network_call
CONF

start conductor "$bin/zinc-conductor" --set "rpc.call_endpoint=$c_call" \
    --set "rpc.cast_endpoint=$c_cast" --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_cast=$c_cast" --set "store.data_dir=$work/conductor" \
    --set "store.raft_address=127.0.0.1:$(free_port)" --set "peers.scheduler_call=$s_call" \
    --set "peers.heartbeat_interval_ms=200"
check "identity bootstrap" "$bin/zinc-identity" bootstrap --config "$work/identity.conf" \
    --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$work/identity.conf"
start scheduler "$bin/zinc-scheduler" --set "rpc.call_endpoint=$s_call" \
    --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" --set "peers.conductor_call=$c_call" \
    --set "peers.conductor_cast=$c_cast" --set "scheduler.replica_dir=$work/conductor/store" \
    --set "scheduler.refresh_interval_ms=200"
if $have_image; then
    start image "$bin/zinc-image" --set "rpc.call_endpoint=$g_call" \
        --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast" \
        --set "image.http_endpoint=127.0.0.1:$img_port" --set "image.store_dir=$work/images" \
        --set "store.replica_dir=$work/conductor/store" --set "store.conductor_call=$c_call" \
        --set "identity.call_endpoint=$i_call"
fi
if $have_network; then
    start network "$bin/zinc-network" --set "rpc.call_endpoint=$n_call" \
        --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast" \
        --set "network.http_endpoint=127.0.0.1:$net_port" \
        --set "store.replica_dir=$work/conductor/store" --set "store.conductor_call=$c_call" \
        --set "identity.call_endpoint=$i_call"
fi
for n in 1 2; do
    mkdir -p "$work/compute$n"
    start "compute$n" "$bin/zinc-compute" --set "agent.host=node$n" --set "agent.log_level=info" \
        --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.call_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "rpc.cast_endpoint=tcp://127.0.0.1:$(free_port)" \
        --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast" \
        --set "peers.heartbeat_interval_ms=200" --set "peers.image_call=$image_call" \
        --set "peers.network_call=$network_call" \
        --set "compute.libvirt_uri=test:///default" --set "compute.state_dir=$work/compute$n" \
        --set "compute.stop_timeout_ms=0" --set "compute.resource_interval_ms=500" \
        --set "resources.vcpus=8" --set "resources.ram_mb=8192" --set "resources.disk_gb=100"
done
start api "$bin/zinc-api" --config "$work/api.conf"
up() { curl -sf "$url/identity/v3" >/dev/null && curl -sf "$aurl/compute/v2.1" >/dev/null; }
check "identity and api answer" wait_for 20 up

export OS_AUTH_URL="$url/identity/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public
os() { openstack "$@" 2>>"$work/cli.err"; }
pyjson() { python3 -c "import json,sys; d=json.load(sys.stdin); $1"; }

# --- flavors and key pairs ------------------------------------------------------------------
check "flavor create" bash -c "openstack flavor create --ram 256 --disk 1 --vcpus 1 --id 42 m1.tiny -f json 2>>'$work/cli.err' | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['id']=='42' and d['ram']==256, d\""
os flavor create --ram 512 --disk 1 --vcpus 2 m1.small >/dev/null || true
check "flavor list" bash -c "openstack flavor list -f value -c Name 2>>'$work/cli.err' | sort | tr '\n' ' ' | grep -qx 'm1.small m1.tiny '"
check "flavor show by name" bash -c "openstack flavor show m1.small -f json 2>>'$work/cli.err' | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['vcpus']==2, d\""
check "flavor delete" os flavor delete m1.small
check "flavor show after delete fails" bash -c "! openstack flavor show m1.small 2>/dev/null"
check "keypair create (generated)" bash -c "openstack keypair create kp1 2>>'$work/cli.err' >'$work/kp1.key' && grep -q 'BEGIN OPENSSH PRIVATE KEY' '$work/kp1.key'"
if command -v ssh-keygen >/dev/null; then
    chmod 600 "$work/kp1.key"
    check "ssh-keygen reads the generated private key" bash -c "ssh-keygen -y -f '$work/kp1.key' | grep -q '^ssh-ed25519 '"
    ssh-keygen -q -t ed25519 -N '' -f "$work/imported" >/dev/null
    check "keypair create --public-key" os keypair create --public-key "$work/imported.pub" kp2
fi
check "keypair list" bash -c "openstack keypair list -f value -c Name 2>>'$work/cli.err' | grep -qx kp1"
check "keypair delete" os keypair delete kp1

# --- admin views ----------------------------------------------------------------------------
hosts_up() { openstack compute service list -f value -c Binary -c Host -c State 2>/dev/null | grep -c '^nova-compute node[12] up$' | grep -qx 2; }
check "compute service list shows both hosts up" wait_for 30 hosts_up
hv_listed() { openstack hypervisor list -f value -c 'Hypervisor Hostname' 2>/dev/null | sort | tr '\n' ' ' | grep -qx 'node1 node2 '; }
check "hypervisor list" wait_for 10 hv_listed
check "availability zone list" bash -c "openstack availability zone list --compute -f value -c 'Zone Name' 2>>'$work/cli.err' | grep -qx nova"

# --- Tempest's own 2.1 response schemas (when python3-tempest is installed) -------------------
tempest_schemas() { # tempest_schemas SERVER_ID: every answer checked as Tempest checks it
    /usr/bin/python3 - "$aurl" "$(os token issue -f value -c id)" "$(os token issue -f value -c project_id)" "$1" "$2" "$(dirname "$0")" <<'PY'
import sys
sys.path.insert(0, sys.argv[6])
from tempest_check import Checker
from tempest.lib.api_schema.response.compute.v2_1 import (
    servers, flavors, keypairs, hypervisors, services, availability_zone, limits, quotas,
    server_groups, flavors_extra_specs, versions)
base, token, project, server, image = (sys.argv[1] + "/v2.1", sys.argv[2], sys.argv[3],
                                       sys.argv[4], sys.argv[5])
t = Checker(base[: -len("/v2.1")], token)
check, call = t.check, t.call
check("list_versions", versions.list_versions, "GET", "/")
check("get_one_version v2.1", versions.get_one_version, "GET", "/v2.1")
check("get_one_version v2.0", versions.get_one_version, "GET", "/v2")
t.base = base
check("get_server", servers.get_server, "GET", "/servers/" + server)
ips = check("list_addresses", servers.list_addresses, "GET", "/servers/%s/ips" % server)
for label in list(ips["addresses"])[:1]:
    check("list_addresses_by_network", servers.list_addresses_by_network, "GET", "/servers/%s/ips/%s" % (server, label))
check("list_volume_attachments", servers.list_volume_attachments, "GET", "/servers/%s/os-volume_attachments" % server)
check("list_servers", servers.list_servers, "GET", "/servers")
check("list_servers_detail", servers.list_servers_detail, "GET", "/servers/detail")
check("list_server_metadata", servers.list_server_metadata, "GET", "/servers/%s/metadata" % server)
check("update_server_metadata", servers.update_server_metadata, "POST", "/servers/%s/metadata" % server, {"metadata": {"k": "v"}})
check("update_server", servers.update_server, "PUT", "/servers/" + server, {"server": {"name": "vm1"}})
new = check("create_server_with_admin_pass", servers.create_server_with_admin_pass, "POST", "/servers",
            {"server": {"name": "schema-vm", "imageRef": image, "flavorRef": "42", "networks": "none"}})
check("delete_server", servers.delete_server, "DELETE", "/servers/" + new["server"]["id"])
check("list_instance_actions", servers.list_instance_actions, "GET", "/servers/%s/os-instance-actions" % server)
_, acts = call("GET", "/servers/%s/os-instance-actions" % server)
rid = acts["instanceActions"][-1]["request_id"]
check("show_instance_action", servers.show_instance_action, "GET", "/servers/%s/os-instance-actions/%s" % (server, rid))
check("get_console_output", servers.get_console_output, "POST", "/servers/%s/action" % server, {"os-getConsoleOutput": {"length": 10}})
check("list_flavors", flavors.list_flavors, "GET", "/flavors")
check("list_flavors_details", flavors.list_flavors_details, "GET", "/flavors/detail")
check("get_flavor_details", flavors.create_update_get_flavor_details, "GET", "/flavors/42")
check("get_flavor_extra_specs", flavors_extra_specs.set_get_flavor_extra_specs, "GET", "/flavors/42/os-extra_specs")
check("create_keypair", keypairs.create_keypair, "POST", "/os-keypairs", {"keypair": {"name": "schema-kp"}})
check("list_keypairs", keypairs.list_keypairs, "GET", "/os-keypairs")
check("get_keypair", keypairs.get_keypair, "GET", "/os-keypairs/schema-kp")
check("delete_keypair", keypairs.delete_keypair, "DELETE", "/os-keypairs/schema-kp")
check("list_search_hypervisors", hypervisors.list_search_hypervisors, "GET", "/os-hypervisors")
hvs = check("list_hypervisors_detail", hypervisors.list_hypervisors_detail, "GET", "/os-hypervisors/detail")
check("get_hypervisor", hypervisors.get_hypervisor, "GET", "/os-hypervisors/%s" % hvs["hypervisors"][0]["id"])
check("get_hypervisor_statistics", hypervisors.get_hypervisor_statistics, "GET", "/os-hypervisors/statistics")
check("list_services", services.list_services, "GET", "/os-services")
check("availability_zone_list", availability_zone.list_availability_zone_list, "GET", "/os-availability-zone")
check("availability_zone_list_detail", availability_zone.list_availability_zone_list_detail, "GET", "/os-availability-zone/detail")
check("get_limit", limits.get_limit, "GET", "/limits")
check("get_quota_set", quotas.get_quota_set, "GET", "/os-quota-sets/" + project)
check("get_quota_set_details", quotas.get_quota_set_details, "GET", "/os-quota-sets/%s/detail" % project)
grp = check("create_server_group", server_groups.create_show_server_group, "POST", "/os-server-groups", {"server_group": {"name": "g", "policies": ["affinity"]}})
check("list_server_groups", server_groups.list_server_groups, "GET", "/os-server-groups")
check("show_server_group", server_groups.create_show_server_group, "GET", "/os-server-groups/" + grp["server_group"]["id"])
check("delete_server_group", server_groups.delete_server_group, "DELETE", "/os-server-groups/" + grp["server_group"]["id"])
t.finish()
PY
}

# --- the server lifecycle through the CLI ---------------------------------------------------
if $have_image; then
    if $have_network; then
        # 2.1 without --network: the project's only network (compute binds "auto").
        check "network create" os network create net1
        check "subnet create" os subnet create --network net1 --subnet-range 192.0.2.0/24 sub1
    fi
    head -c 1048576 /dev/urandom >"$work/disk.raw"
    check "image create" bash -c "openstack image create --file '$work/disk.raw' --disk-format raw --container-format bare tiny -f value -c id 2>>'$work/cli.err' >'$work/image.id'"
    check "server create --wait" bash -c "openstack server create --image tiny --flavor m1.tiny --key-name kp2 --wait vm1 -f json 2>>'$work/cli.err' >'$work/vm1.json'"
    check "server is ACTIVE on a node" python3 -c "
import json; d=json.load(open('$work/vm1.json')); assert d['status']=='ACTIVE' and d['OS-EXT-SRV-ATTR:host'] in ('node1','node2'), d"
    if /usr/bin/python3 -c "import tempest" 2>/dev/null; then
        vm1_id=$(python3 -c "import json; print(json.load(open('$work/vm1.json'))['id'])")
        tempest_schemas "$vm1_id" "$(cat "$work/image.id")" >"$work/schemas.out" 2>&1 || true
        grep -E '^(not )?ok - tempest' "$work/schemas.out" | while read -r line; do echo "$line"; done
        check "every answer fits Tempest's 2.1 schemas" bash -c "! grep -q '^not ok' '$work/schemas.out' && grep -q '^ok - tempest' '$work/schemas.out'"
    else
        echo "# python3-tempest not installed: Tempest's schemas are not checked"
    fi
    check "server list" bash -c "openstack server list -f value -c Name -c Status 2>>'$work/cli.err' | grep -qx 'vm1 ACTIVE'"
    check "server show" bash -c "openstack server show vm1 -f json 2>>'$work/cli.err' | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['name']=='vm1' and d['flavor'].startswith('m1.tiny'), d\""
    state() { openstack server show vm1 -f value -c status 2>/dev/null | grep -qx "$1"; }
    check "server stop" os server stop vm1
    check "server is SHUTOFF" wait_for 20 state SHUTOFF
    check "server start" os server start vm1
    check "server is ACTIVE again" wait_for 20 state ACTIVE
    check "server reboot" os server reboot vm1
    check "server is ACTIVE after reboot" wait_for 20 state ACTIVE
    check "server reboot --hard" os server reboot --hard vm1
    check "server is ACTIVE after a hard reboot" wait_for 20 state ACTIVE
    check "server event list" bash -c "openstack server event list vm1 -f value -c Action 2>>'$work/cli.err' | sort | tr '\n' ' ' | grep -qx 'create reboot reboot start stop '"
    check "console log show" os console log show vm1
    if $have_network; then
        ports_before=$(openstack port list -f value -c ID 2>>"$work/cli.err" | wc -l)
        check "server create --network --wait" bash -c "openstack server create --image tiny --flavor m1.tiny --network net1 --wait vm3 -f json 2>>'$work/cli.err' >'$work/vm3.json'"
        check "its address is on net1's subnet" python3 -c "
import json; d=json.load(open('$work/vm3.json')); assert 'net1' in str(d['addresses']) and '192.0.2.' in str(d['addresses']), d"
        check "server delete vm3" os server delete --wait vm3
        check "its port is gone" bash -c "[ \"\$(openstack port list -f value -c ID 2>>'$work/cli.err' | wc -l)\" = $ports_before ]"
    fi
    check "server delete --wait" os server delete --wait vm1
    check "server list is empty" bash -c "[ -z \"\$(openstack server list -f value 2>>'$work/cli.err')\" ]"
    if $have_network; then
        check "no port is left" bash -c "[ -z \"\$(openstack port list -f value -c ID 2>>'$work/cli.err')\" ]"
    fi
else
    echo "# zinc-image not built: the CLI server lifecycle is left out (curl covers the API)"
fi

# --- curl: versions, microversions, errors --------------------------------------------------
token=$(os token issue -f value -c id)
project=$(os token issue -f value -c project_id)
req() { # req METHOD PATH [BODY] [HEADER]: prints the status; body in $work/body, headers in $work/headers
    local args=(-s -D "$work/headers" -o "$work/body" -w '%{http_code}' -X "$1" "$aurl$2"
        -H "X-Auth-Token: $token" -H 'Content-Type: application/json')
    [ -n "${3:-}" ] && args+=(--data-binary "$3")
    [ -n "${4:-}" ] && args+=(-H "$4")
    curl "${args[@]}"
}
expect() { # expect WHAT STATUS FAULT METHOD PATH [BODY] [HEADER]
    local what="$1" want="$2" fault="$3"
    shift 3
    local got
    got=$(req "$@")
    if [ "$got" != "$want" ]; then
        fail "$what (status $got, want $want: $(head -c 300 "$work/body"))"
    elif [ -n "$fault" ] && ! python3 -c "
import json; e=json.load(open('$work/body'))['$fault']; assert e['code']==$want and e['message']" 2>/dev/null; then
        fail "$what (no Nova $fault body: $(head -c 300 "$work/body"))"
    else
        ok "$what"
    fi
}
status=$(curl -s -o "$work/root" -w '%{http_code}' "$aurl/")
check "GET / lists v2.0 first" python3 -c "import json; d=json.load(open('$work/root')); assert d['versions'][0]['id']=='v2.0' and d['versions'][1]['version']=='2.1'"
expect "GET /compute/v2.1" 200 "" GET /compute/v2.1
expect "microversion 2.1" 200 "" GET /v2.1/flavors "" "X-OpenStack-Nova-API-Version: 2.1"
check "microversion headers in the answer" grep -qi '^OpenStack-API-Version: compute 2.1' "$work/headers"
check "X-Openstack-Request-Id in the answer" grep -qi '^X-Openstack-Request-Id: req-' "$work/headers"
expect "microversion 2.95 is 406" 406 notAcceptable GET /v2.1/flavors "" "OpenStack-API-Version: compute 2.95"
expect "a malformed microversion is 400" 400 badRequest GET /v2.1/flavors "" "X-OpenStack-Nova-API-Version: x.y"
expect "bad JSON is 400" 400 badRequest POST /v2.1/servers '{"server": {'
expect "unknown flavor is 400" 400 badRequest POST /v2.1/servers '{"server":{"name":"x","imageRef":"155d900f-4e14-4e4c-a73d-069cbf4541e6","flavorRef":"nope"}}'
expect "unknown server is 404" 404 itemNotFound GET /v2.1/servers/155d900f-4e14-4e4c-a73d-069cbf4541e6
expect "unknown flavor show is 404" 404 itemNotFound GET /v2.1/flavors/m1.missing
expect "an action on an unknown server is 404" 404 itemNotFound POST /v2.1/servers/155d900f-4e14-4e4c-a73d-069cbf4541e6/action '{"os-start":null}'
if ! $have_image; then
    # Without an image agent the api takes the image id on trust: the flow still runs.
    expect "server create (curl)" 202 "" POST /v2.1/servers '{"server":{"name":"vm2","imageRef":"155d900f-4e14-4e4c-a73d-069cbf4541e6","flavorRef":"42","networks":"none"}}'
    vm2=$(python3 -c "import json; print(json.load(open('$work/body'))['server']['id'])")
    rid=$(tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1)=="x-openstack-request-id"{print $2}')
    active() { req GET "/v2.1/servers/$vm2" >/dev/null; grep -q '"status": *"ACTIVE"' "$work/body"; }
    check "curl-created server goes ACTIVE" wait_for 20 active
    check "the create's request id reached a compute agent's log" bash -c "cat '$work'/compute*.log | grep -q 'req=$rid'"
    expect "server delete" 204 "" DELETE "/v2.1/servers/$vm2"
fi
image_id=155d900f-4e14-4e4c-a73d-069cbf4541e6
$have_image && image_id=$(cat "$work/image.id")
if $have_image; then
    expect "unknown image is 400" 400 badRequest POST /v2.1/servers '{"server":{"name":"x","imageRef":"155d900f-4e14-4e4c-a73d-069cbf4541e6","flavorRef":"42"}}'
fi
expect "limits" 200 "" GET /v2.1/limits
check "limits carry the default instance quota" python3 -c "import json; d=json.load(open('$work/body')); assert d['limits']['absolute']['maxTotalInstances']==10, d"
expect "quota set to 0 instances" 200 "" PUT "/v2.1/os-quota-sets/$project" '{"quota_set":{"instances":0}}'
expect "create over quota is 403" 403 forbidden POST /v2.1/servers "{\"server\":{\"name\":\"x\",\"imageRef\":\"$image_id\",\"flavorRef\":\"42\",\"networks\":\"none\"}}"
expect "quota reset" 202 "" DELETE "/v2.1/os-quota-sets/$project"
check "the create's request id is in the compute agents' logs" bash -c "grep -h 'cast build to' '$work/api.log' | head -1 | grep -o 'req=req-[0-9a-f-]*' | xargs -I{} grep -q {} '$work/compute1.log' '$work/compute2.log'"
finish
