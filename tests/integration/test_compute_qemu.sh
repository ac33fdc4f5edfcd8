#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
# A real guest through the whole control plane: identity, conductor, scheduler, image, api and
# one zinc-compute on libvirt's embedded QEMU driver (qemu:///embed, no daemon; QEMU in
# software emulation), all real processes. The test writes a 512-byte boot sector that prints a
# marker on the serial port, uploads it with `openstack image create`, boots it with
# `openstack server create --wait`, and passes only when `openstack console log show` (the
# api's os-getConsoleOutput -> compute's console_log) returns the marker. Then stop, start and
# delete the real domain. Skips (passes with a note) only when QEMU or an agent is not built.
source "$(dirname "$0")/lib.sh"

for b in zinc-identity zinc-conductor zinc-scheduler zinc-image zinc-api zinc-compute; do
    if [ ! -x "$bin/$b" ]; then
        echo "# $b not built: skipped"
        exit 0
    fi
done
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v qemu-img >/dev/null; then
    echo "# QEMU not installed (tools/deps.sh): skipped"
    exit 0
fi

marker="ZINC-BOOT-OK"
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
CONF
cat >"$work/api.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[api]
http_endpoint = 127.0.0.1:$api_port
store_dir = $work/conductor/store
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
heartbeat_interval_ms = 200
identity_call = $i_call
scheduler_call = $s_call
image_call = $g_call
CONF

# libvirt's embedded QEMU driver reads DIR/etc/qemu.conf: as root, run QEMU as root (the
# packaged default user may be absent), no security driver, logs in files (no virtlogd).
root="$work/libvirt"
mkdir -p "$root/etc" "$work/compute"
{
    if [ "$(id -u)" = 0 ]; then
        printf 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\n'
    fi
    printf 'security_driver = "none"\nstdio_handler = "file"\n'
} >"$root/etc/qemu.conf"
# Guests outlive a killed compute agent: stop them by the pid files libvirt keeps, then clean up.
stop_guests() {
    for f in "$root"/run/qemu/zinc-*.pid; do
        [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    done
    cleanup
}
trap stop_guests EXIT

# Real mode at 0x7c00: DS=0, SI=message, write each byte to COM1 (0x3f8), halt.
python3 - "$work/boot.img" "$marker" <<'PY'
import sys
code = bytes([0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x16, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84,
              0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd])
sector = code + sys.argv[2].encode() + b"\r\n\0"
sector += bytes(510 - len(sector)) + b"\x55\xaa"
open(sys.argv[1], "wb").write(sector)
PY

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
start image "$bin/zinc-image" --set "rpc.call_endpoint=$g_call" \
    --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast" \
    --set "image.http_endpoint=127.0.0.1:$img_port" --set "image.store_dir=$work/images" \
    --set "store.replica_dir=$work/conductor/store" --set "store.conductor_call=$c_call" \
    --set "identity.call_endpoint=$i_call"
start compute "$bin/zinc-compute" --set "agent.host=qemu1" --set "agent.log_level=info" \
    --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "rpc.call_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "rpc.cast_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_call=$c_call" --set "peers.conductor_cast=$c_cast" \
    --set "peers.heartbeat_interval_ms=200" --set "peers.image_call=$g_call" \
    --set "compute.libvirt_uri=qemu:///embed?root=$root" --set "compute.domain_type=qemu" \
    --set "compute.state_dir=$work/compute" --set "compute.stop_timeout_ms=0" \
    --set "compute.resource_interval_ms=500" --set "resources.disk_gb=10"
start api "$bin/zinc-api" --config "$work/api.conf"
up() { curl -sf "$url/identity/v3" >/dev/null && curl -sf "$aurl/compute/v2.1" >/dev/null; }
check "identity and api answer" wait_for 30 up

export OS_AUTH_URL="$url/identity/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public
os() { openstack "$@" 2>>"$work/cli.err"; }

host_up() { openstack hypervisor list -f value -c 'Hypervisor Hostname' 2>/dev/null | grep -qx qemu1; }
check "the QEMU node is a hypervisor" wait_for 60 host_up
check "flavor create" os flavor create --ram 64 --disk 1 --vcpus 1 m1.nano
check "image create (the boot sector)" os image create --file "$work/boot.img" \
    --disk-format raw --container-format bare --public bootsector
check "server create --wait" os server create --image bootsector --flavor m1.nano --wait vm1
state() { openstack server show vm1 -f value -c status 2>/dev/null | grep -qx "$1"; }
check "server is ACTIVE" state ACTIVE
marked() { openstack console log show vm1 2>/dev/null | grep -q "$marker"; }
check "the guest's marker comes back through console log show" wait_for 60 marked
check "a qcow2 overlay on the cached image" bash -c \
    "qemu-img info -U '$work'/compute/instances/*/disk | grep -q 'file format: qcow2'"
check "server stop" os server stop vm1
check "server is SHUTOFF" wait_for 30 state SHUTOFF
check "server start" os server start vm1
check "server is ACTIVE again" wait_for 30 state ACTIVE
check "server delete --wait" os server delete --wait vm1
no_qemu() { ! pgrep -f "guest=zinc-.*$root/" >/dev/null; }
check "no guest's QEMU process is left" wait_for 10 no_qemu || pgrep -af "$root/" || true
finish
