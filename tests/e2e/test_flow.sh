#!/usr/bin/env bash
# timeout: 300
# SPDX-License-Identifier: Apache-2.0
# Scenario 1: the whole flow a user meets, with Debian's openstack CLI against the all-in-one
# (CURVE on every link): token, flavor, image upload, network and subnet, key pair, volume; a
# server with network, key and volume; list/show, events, console, stop/start/reboot, volume
# detach and attach, delete; then nothing may be left behind (claims, ports, IP and MAC
# allocations, host usage, attachments, the instance record).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

e2e_start 127.0.0.101
cd "$work"

# ---- identity, flavor, image, network, key pair, volume -----------------------------------
openstack token issue -f json >token.json
check "token issue gives a token scoped to the admin project" \
    jtrue token.json 'len(d["id"]) > 20 and len(d["project_id"]) == 32'
project=$(jget token.json 'd["project_id"]')
os_token

openstack flavor create --vcpus 1 --ram 128 --disk 1 e2e.tiny -f json >flavor.json
check "flavor create" jtrue flavor.json 'd["vcpus"] == 1 and d["ram"] == 128 and d["disk"] == 1'

head -c 1048576 /dev/urandom >disk.raw
openstack image create --disk-format raw --container-format bare --file disk.raw e2e-image \
    -f json >/dev/null
openstack image show e2e-image -f json >image.json
check "image create uploads the file: active, its size and md5" jtrue image.json \
    "d['status'] == 'active' and d['size'] == 1048576 and d['checksum'] == '$(md5sum <disk.raw | cut -d' ' -f1)'"

net=$(openstack network create e2e-net -f value -c id)
subnet=$(openstack subnet create --network e2e-net --subnet-range 10.30.0.0/24 e2e-subnet \
    -f value -c id)
check "network and subnet create" test -n "$net" -a -n "$subnet"

openstack keypair create e2e-key >key.pem
chmod 600 key.pem
check "keypair create gives a private key ssh-keygen reads" bash -c "ssh-keygen -y -f key.pem >/dev/null"

vol=$(openstack volume create --size 1 e2e-vol -f value -c id)
require "volume create: available" wait_for 30 volume_is "$vol" available

# ---- the server -----------------------------------------------------------------------------
started=$(date +%s%3N)
openstack server create --flavor e2e.tiny --image e2e-image --network e2e-net --key-name e2e-key \
    --block-device-mapping "vdb=$vol:volume::false" --wait e2e-vm -f json >created.json
echo "# server create --wait took $(($(date +%s%3N) - started)) ms"
server=$(jget created.json 'd["id"]')
require "server create --wait: ACTIVE" jtrue created.json 'd["status"] == "ACTIVE"'

openstack server show e2e-vm -f json >show.json
check "server show: active, running, no task, on compute1" jtrue show.json \
    'd["OS-EXT-STS:vm_state"] == "active" and d["OS-EXT-STS:power_state"] in (1, "Running")
and d["OS-EXT-STS:task_state"] is None and d["OS-EXT-SRV-ATTR:host"] == "compute1"'
check "server show: flavor, image, key, project" jtrue show.json \
    "d['flavor'].startswith('e2e.tiny') and d['image'].startswith('e2e-image')
and d['key_name'] == 'e2e-key' and d['project_id'] == '$project'"
check "server show: an address on e2e-subnet" jtrue show.json \
    'd["addresses"]["e2e-net"][0].startswith("10.30.0.")'
check "server show: the volume attached" jtrue show.json "d['volumes_attached'] == [{'id': '$vol'}]"
ip=$(jget show.json 'd["addresses"]["e2e-net"][0]')

openstack server list -f json >list.json
check "server list: e2e-vm ACTIVE with its address" jtrue list.json \
    "[(s['Name'], s['Status'], s['Networks']) for s in d] == [('e2e-vm', 'ACTIVE', {'e2e-net': ['$ip']})]"

openstack volume show "$vol" -f json >vol.json
check "volume in-use, attached to the server" jtrue vol.json \
    "d['status'] == 'in-use' and [a['server_id'] for a in d['attachments']] == ['$server']"

openstack port list --server "$server" -f json >ports.json
check "one port for the server, with its address" jtrue ports.json \
    "len(d) == 1 and d[0]['Fixed IP Addresses'][0]['ip_address'] == '$ip'"
mac=$(jget ports.json 'd[0]["MAC Address"]')

ctl instance show "$server" >instance.txt 2>&1 || true
check "zincctl instance show: ACTIVE on compute1 with its NIC" \
    grep -q -E "^status = ACTIVE" instance.txt
check "zincctl instance show: the NIC with address $ip" grep -q -E "^nic\.0 = .* $ip " instance.txt
check "the claim, the IP and the MAC are in the store while the server lives" \
    ctl store get claims "$server"
check "the IP allocation is in the store" ctl store get ip_allocs "$subnet/$ip"
check "the MAC allocation is in the store" ctl store get mac_allocs "$mac"

# ---- events, console, lifecycle -------------------------------------------------------------
check "console log show answers" openstack console log show e2e-vm
openstack server stop e2e-vm
check "stop: SHUTOFF" wait_for 30 server_is "$server" SHUTOFF
openstack server start e2e-vm
check "start: ACTIVE" wait_for 30 server_is "$server" ACTIVE
openstack server reboot --wait e2e-vm >/dev/null
check "reboot --wait: ACTIVE" server_is "$server" ACTIVE
openstack server event list e2e-vm -f json >events.json
check "event show: the create finished with success" action_ok "$server" create
check "event list: create, stop, start, reboot" jtrue events.json \
    'sorted(e["Action"] for e in d) == ["create", "reboot", "start", "stop"]'

# ---- volume detach and attach ---------------------------------------------------------------
openstack server remove volume e2e-vm "$vol"
check "server remove volume: the volume is available again" wait_for 20 volume_is "$vol" available
openstack server show e2e-vm -f json >show.json
check "server remove volume: nothing attached" jtrue show.json 'd["volumes_attached"] == []'
openstack server add volume e2e-vm "$vol" >/dev/null
check "server add volume: in-use again" wait_for 30 volume_is "$vol" in-use
openstack server show e2e-vm -f json >show.json
check "server add volume: attached again" jtrue show.json "d['volumes_attached'] == [{'id': '$vol'}]"
check "server add volume of an in-use volume: 400, status must be available" bash -c \
    "! openstack server add volume e2e-vm '$vol' 2>add.err && grep -q 'status must be available' add.err"
openstack server show e2e-vm -f json >show.json
check "the refused attach recorded nothing" jtrue show.json "d['volumes_attached'] == [{'id': '$vol'}]"
openstack server event list e2e-vm -f json >events.json
check "event list: the detach and the attach are listed" jtrue events.json \
    '{"attach_volume", "detach_volume"} <= {e["Action"] for e in d}'
check "event show: the detach finished with success" action_ok "$server" detach_volume
check "event show: the attach finished with success" action_ok "$server" attach_volume

# ---- delete, and nothing left behind --------------------------------------------------------
openstack server delete --wait e2e-vm >/dev/null
check "server delete --wait: the list is empty" \
    test "$(openstack server list -f value -c ID | wc -l)" -eq 0
check "no port left" test "$(openstack port list -f value -c ID | wc -l)" -eq 0
openstack volume show "$vol" -f json >vol.json
check "the volume is available with no attachment" jtrue vol.json \
    'd["status"] == "available" and d["attachments"] == []'
check "no claim left (zincctl store get claims)" store_absent claims "$server"
check "no IP allocation left" store_absent ip_allocs "$subnet/$ip"
check "no MAC allocation left" store_absent mac_allocs "$mac"
check "no instance record left (zincctl store get instances)" store_absent instances "$server"
instance_gone() { ! ctl instance show "$server" >gone.txt 2>&1 && grep -q "no such key" gone.txt; }
check "zincctl instance show: no such instance any more" instance_gone
ctl --json hosts >hosts.json || true
check "zincctl hosts: compute1 up, nothing used" jtrue hosts.json \
    '[(h["host"], h["up"], h["vcpus_used"], h["ram_mb_used"], h["instances"]) for h in d] == [("compute1", True, 0, 0, 0)]'

openstack volume delete "$vol"
volume_gone() { ! api_get "http://$addr:8776/volume/v3/$project/volumes/$vol" >/dev/null; }
check "volume delete" wait_for 30 volume_gone

echo "# scenario 1 took $SECONDS s"
e2e_finish
