#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/run.sh start|stop|status: an all-in-one zinc on loopback, with all state under var/.
# `make run` builds first and then calls `tools/run.sh start`; a second start is a no-op.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ZN_BIN:-$top/build/bin}"
var="${ZN_VAR:-$top/var}"
# ZN_ADDR binds every agent to another loopback address (e.g. 127.0.0.7) at the same ports, so
# that tests and benchmarks never collide with a developer's `make run`; ZN_DEMO=0 starts the
# cloud without the demo flow; ZN_COMPUTE_CONF is appended to compute.conf (e.g. "[resources]
# vcpus = 1024" for a benchmark that needs a big host).
addr="${ZN_ADDR:-127.0.0.1}"
# Start order: the conductor hosts the store everything else reads; identity validates tokens
# for the REST agents; compute registers last, once every service it calls is up.
agents=(conductor identity scheduler network image volume api compute)
keys=(conductor identity scheduler network image volume api compute-compute1 admin)

ctl() { ZINCCTL_CONFIG="$var/etc/zincctl.conf" "$bin/zincctl" "$@"; }

alive() {
    local pidfile="$var/run/$1.pid"
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

# Every agent on $addr (127.0.0.1 by default) at its documented ports (docs/architecture.md
# 4.2), CURVE on every link, all state under var/. The replica every controller agent reads is the conductor's.
write_configs() {
    mkdir -p "$var/etc" "$var/log" "$var/run" "$var/lib"
    local replica="$var/lib/conductor/store"
    local common="[security]
curve = true
keys_dir = $var/keys"
    # Every endpoint an agent binds or calls, written out so that ZN_ADDR moves them all.
    local a="tcp://$addr"
    local to_conductor="conductor_call = $a:7104
conductor_cast = $a:7304"
    cat >"$var/etc/conductor.conf" <<CONF
[agent]
admin_endpoint = $a:7204
[rpc]
call_endpoint = $a:7104
cast_endpoint = $a:7304
[store]
data_dir = $var/lib/conductor
raft_address = $addr:7404
[peers]
$to_conductor
scheduler_call = tcp://$addr:7103
network_call = tcp://$addr:7107
volume_call = tcp://$addr:7108
$common
CONF
    cat >"$var/etc/identity.conf" <<CONF
[agent]
admin_endpoint = $a:7201
[peers]
$to_conductor
[rpc]
call_endpoint = $a:7101
[identity]
http_endpoint = $addr:5000
token_keys_dir = $var/lib/identity/token-keys
data_dir = $var/lib/identity
store_conductor_call = tcp://$addr:7104
store_replica_dir = $replica
[catalog]
base_url = http://$addr:5000
identity_url = http://$addr:5000/identity/v3
compute_url = http://$addr:8774/compute/v2.1
image_url = http://$addr:9292/image
network_url = http://$addr:9696/networking
volume_url = http://$addr:8776/volume/v3/\$(project_id)s
$common
CONF
    cat >"$var/etc/scheduler.conf" <<CONF
[agent]
admin_endpoint = $a:7203
[peers]
$to_conductor
[rpc]
call_endpoint = $a:7103
[scheduler]
replica_dir = $replica
$common
CONF
    cat >"$var/etc/network.conf" <<CONF
[agent]
admin_endpoint = $a:7207
[peers]
$to_conductor
[rpc]
call_endpoint = $a:7107
[network]
http_endpoint = $addr:9696
[identity]
call_endpoint = $a:7101
[store]
replica_dir = $replica
conductor_call = tcp://$addr:7104
$common
CONF
    cat >"$var/etc/image.conf" <<CONF
[agent]
admin_endpoint = $a:7206
[peers]
$to_conductor
[rpc]
call_endpoint = $a:7106
[identity]
call_endpoint = $a:7101
[image]
http_endpoint = $addr:9292
store_dir = $var/lib/image
[store]
replica_dir = $replica
conductor_call = tcp://$addr:7104
$common
CONF
    cat >"$var/etc/volume.conf" <<CONF
[agent]
admin_endpoint = $a:7208
[rpc]
call_endpoint = $a:7108
[volume]
http_endpoint = $addr:8776
store_dir = $replica
[backend]
volume_dir = $var/lib/volumes
[peers]
$to_conductor
identity_call = $a:7101
image_call = tcp://$addr:7106
$common
CONF
    cat >"$var/etc/api.conf" <<CONF
[agent]
admin_endpoint = $a:7202
[api]
http_endpoint = $addr:8774
store_dir = $replica
[peers]
$to_conductor
identity_call = $a:7101
scheduler_call = tcp://$addr:7103
image_call = tcp://$addr:7106
network_call = tcp://$addr:7107
volume_call = tcp://$addr:7108
$common
CONF
    local libvirt_uri="test:///default"
    if [ "${QEMU:-0}" = 1 ]; then
        libvirt_uri="qemu:///embed?root=$var/lib/libvirt-embed"
        # The embedded driver reads ROOT/etc/qemu.conf: as root, QEMU runs as root (the
        # packaged user may be absent), no security driver, guest logs in files (no virtlogd).
        local root="$var/lib/libvirt-embed"
        if [ ! -f "$root/etc/qemu.conf" ]; then
            mkdir -p "$root/etc"
            {
                if [ "$(id -u)" = 0 ]; then
                    printf 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\n'
                fi
                printf 'security_driver = "none"\nstdio_handler = "file"\n'
            } >"$root/etc/qemu.conf"
        fi
    fi
    cat >"$var/etc/compute.conf" <<CONF
[agent]
host = compute1
admin_endpoint = $a:7205
[rpc]
call_endpoint = $a:7105
cast_endpoint = $a:7305
[compute]
libvirt_uri = $libvirt_uri
state_dir = $var/lib/compute
[peers]
$to_conductor
image_call = tcp://$addr:7106
network_call = tcp://$addr:7107
volume_call = tcp://$addr:7108
[security]
curve = true
keys_dir = $var/keys
key_name = compute-compute1
${ZN_COMPUTE_CONF:-}
CONF
    printf '[ctl]\nconductor = %s:7104\n%s\n' "$a" "$common" >"$var/etc/zincctl.conf"
}

# The admin password is made once and kept under var/ (mode 0600), like the keys.
admin_password() {
    local file="$var/etc/admin-password"
    if [ ! -s "$file" ]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$file")
    fi
    cat "$file"
}

# Identity keeps its records in the replicated store: bootstrap once the conductor leads it.
bootstrap_identity() {
    local password
    password=$(admin_password)
    local deadline=$((SECONDS + 20))
    until "$bin/zinc-identity" bootstrap --config "$var/etc/identity.conf" \
        --set "bootstrap.password=$password" >>"$var/log/identity.log" 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            echo "run: identity bootstrap failed; see $var/log/identity.log" >&2
            return 1
        fi
        sleep 0.2
    done
    cat >"$var/openrc" <<RC
# zinc all-in-one: source this file, then use the openstack CLI.
export OS_AUTH_URL=http://$addr:5000/identity/v3
export OS_USERNAME=admin
export OS_PASSWORD=$password
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_IDENTITY_API_VERSION=3
export OS_REGION_NAME=RegionOne
export OS_INTERFACE=public
RC
    chmod 600 "$var/openrc"
}

start_agent() {
    local role="$1"
    if alive "$role"; then
        echo "run: zinc-$role already running (pid $(cat "$var/run/$role.pid"))"
        return
    fi
    nohup "$bin/zinc-$role" --config "$var/etc/$role.conf" >>"$var/log/$role.log" 2>&1 &
    echo $! >"$var/run/$role.pid"
    echo "run: started zinc-$role (pid $!, log var/log/$role.log)"
}

wait_up() {
    local deadline=$((SECONDS + 15))
    while [ $SECONDS -lt $deadline ]; do
        local up
        up=$(ctl --timeout 500 services 2>/dev/null | awk '$3 == "up"' | wc -l || true)
        if [ "$up" -ge ${#agents[@]} ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "run: agents did not come up within 15 s; see $var/log/" >&2
    tail -n 20 "$var"/log/*.log >&2 || true
    return 1
}

os() { (. "$var/openrc" && openstack "$@"); }

# A tiny disk image for the demo: a boot sector that prints a line on the serial port and halts
# (it really boots under QEMU=1; the test driver only needs the bytes).
demo_image() {
    local file="$var/lib/demo.img"
    if [ ! -s "$file" ]; then
        python3 - "$file" <<'PY'
import sys
msg = b"zinc demo guest is alive\r\n"
code = bytes([0x31, 0xC0, 0x8E, 0xD8, 0xFC])                   # xor ax,ax; mov ds,ax; cld
code += bytes([0xBA, 0xF8, 0x03, 0xBE, 0x17, 0x7C])             # mov dx,0x3f8; mov si,msg
code += bytes([0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8])  # lodsb; test; jz; out; jmp
code += bytes([0xFA, 0xF4, 0xEB, 0xFC])                          # cli; hlt; jmp back
assert len(code) == 0x17
code += msg + b"\x00"
sector = code.ljust(510, b"\x00") + b"\x55\xaa"
open(sys.argv[1], "wb").write(sector + b"\x00" * (1024 * 1024 - 512))
PY
    fi
    echo "$file"
}

# The demo flow, idempotent: what exists already is shown, not made again.
demo() {
    echo "== the openstack CLI against zinc (. var/openrc): token, flavor, image, network"
    os token issue -f value -c project_id -c expires
    os flavor show m1.tiny >/dev/null 2>&1 ||
        os flavor create --vcpus 1 --ram 256 --disk 1 m1.tiny -f value -c id >/dev/null
    os image show demo-image >/dev/null 2>&1 ||
        os image create --disk-format raw --container-format bare --file "$(demo_image)" \
            demo-image -f value -c id >/dev/null
    # A real QEMU guest would need the network's Linux bridge on this machine: with QEMU=1 the
    # demo project has no network, and the server boots without a NIC (Nova 2.1's "auto").
    local nic=(--network demo-net)
    if [ "${QEMU:-0}" = 1 ]; then
        nic=()
    else
        os network show demo-net >/dev/null 2>&1 || {
            os network create demo-net -f value -c id >/dev/null
            os subnet create --network demo-net --subnet-range 10.20.0.0/24 demo-subnet \
                -f value -c id >/dev/null
        }
    fi
    os flavor list
    os image list
    os network list
    echo
    echo "== openstack server create --wait demo1 (REST, scheduler, conductor, compute on libvirt)"
    if ! os server show demo1 >/dev/null 2>&1; then
        local started=$SECONDS
        os server create --flavor m1.tiny --image demo-image "${nic[@]}" --wait demo1 \
            -f value -c id >/dev/null
        echo "demo1 built in $((SECONDS - started)) s (most of it is the CLI's own polling)"
    fi
    os server show demo1 -f value -c id -c name -c status -c addresses -c 'OS-EXT-SRV-ATTR:host'
    local id request
    id=$(os server show demo1 -f value -c id)
    echo
    echo "== the instance in the store (zincctl instance show $id)"
    ctl instance show "$id"
    request=$(ctl instance show "$id" | awk -F' = ' '$1 == "request" {print $2}')
    echo
    echo "== the create request through the 28 steps (zincctl trace $request)"
    ctl trace "$request" || true
    if [ "${QEMU:-0}" = 1 ]; then
        echo
        echo "== what the real guest printed on its serial port (openstack console log show demo1)"
        local tries
        for tries in $(seq 1 50); do
            os console log show demo1 2>/dev/null | grep -q "alive" && break
            sleep 0.2
        done
        os console log show demo1
    fi
    echo
    echo "== compute hosts and their usage (zincctl hosts)"
    ctl hosts
}

start() {
    write_configs
    ctl keygen --dir "$var/keys" "${keys[@]}" >/dev/null
    start_agent conductor
    bootstrap_identity
    for role in "${agents[@]:1}"; do
        start_agent "$role"
    done
    wait_up
    echo
    echo "== services (zincctl services): every agent reports through the conductor's registry"
    ctl services
    echo
    if [ "${ZN_DEMO:-1}" != 0 ]; then
        demo
    fi
    cat <<MSG

zinc is running on loopback; all state is under var/.
  use it:   . var/openrc; openstack server list; openstack server show demo1
            export ZINCCTL_CONFIG=$var/etc/zincctl.conf; $bin/zincctl services
  logs:     var/log/*.log
  stop it:  make stop
MSG
}

stop() {
    local i
    for ((i = ${#agents[@]} - 1; i >= 0; i--)); do # compute first, the conductor last
        local role=${agents[i]}
        if alive "$role"; then
            kill -TERM "$(cat "$var/run/$role.pid")"
            for _ in $(seq 1 50); do
                alive "$role" || break
                sleep 0.1
            done
            echo "stop: zinc-$role stopped"
        fi
        rm -f "$var/run/$role.pid"
    done
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
status) ctl services ;;
*)
    echo "usage: tools/run.sh start|stop|status" >&2
    exit 64
    ;;
esac
