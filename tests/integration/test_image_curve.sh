#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 180
# zinc-image with CURVE on every link, as `make run` deploys it: its store writes reach the
# conductor and its token checks reach identity over encrypted, authenticated sockets with its
# own key. The real CLI creates (with --file), shows and deletes an image; zincctl sees the
# agent up and reads its status through the admin socket.
source "$(dirname "$0")/lib.sh"

keys="$work/keys"
"$bin/zincctl" keygen --dir "$keys" conductor identity image admin >/dev/null
id_port=$(free_port)
img_port=$(free_port)
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
id_call="tcp://127.0.0.1:$(free_port)"
security="[security]
curve = true
keys_dir = $keys"

start conductor "$bin/zinc-conductor" --set security.curve=true --set "security.keys_dir=$keys" \
    --set "rpc.call_endpoint=$c_call" --set "rpc.cast_endpoint=$c_cast" \
    --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" --set "peers.conductor_cast=$c_cast" \
    --set "store.data_dir=$work/conductor" --set "store.raft_address=127.0.0.1:$(free_port)"

cat >"$work/identity.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = $id_call
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
[identity]
http_endpoint = 127.0.0.1:$id_port
data_dir = $work/identity
token_keys_dir = $work/token-keys
password_hash_cost = test
[catalog]
base_url = http://127.0.0.1:$id_port
image_url = http://127.0.0.1:$img_port/image
$security
key_name = identity
CONF
check "identity bootstrap" "$bin/zinc-identity" bootstrap --config "$work/identity.conf" \
    --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$work/identity.conf"

cat >"$work/image.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = tcp://127.0.0.1:$(free_port)
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
heartbeat_interval_ms = 200
[image]
http_endpoint = 127.0.0.1:$img_port
store_dir = $work/images
[store]
replica_dir = $work/conductor/store
[identity]
call_endpoint = $id_call
$security
key_name = image
CONF
start image "$bin/zinc-image" --config "$work/image.conf"
up() { curl -sf "http://127.0.0.1:$id_port/v3" >/dev/null && curl -s -o /dev/null "http://127.0.0.1:$img_port/image"; }
check "identity and image answer" wait_for 10 up

cat >"$work/zincctl.conf" <<CONF
[ctl]
conductor = $c_call
timeout_ms = 2000
$security
CONF
export ZINCCTL_CONFIG="$work/zincctl.conf"
listed() { "$bin/zincctl" services | grep -qE '^image .* up'; }
check "zincctl services lists image up (heartbeats over CURVE)" wait_for 10 listed
check "zincctl status image (admin socket over CURVE)" bash -c "'$bin/zincctl' status image | grep -q uploads"

export OS_AUTH_URL="http://127.0.0.1:$id_port/v3" OS_USERNAME=admin OS_PASSWORD=secret \
    OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default \
    OS_IDENTITY_API_VERSION=3 OS_REGION_NAME=RegionOne OS_INTERFACE=public
head -c 300000 /dev/urandom >"$work/disk.raw"
check "image create --file (store writes and token checks over CURVE)" bash -c \
    "openstack image create --file '$work/disk.raw' --disk-format raw --container-format bare tiny -f value -c name 2>>'$work/cli.err' | grep -qx tiny"
check "image show: active with the md5 of the file" bash -c \
    "openstack image show tiny -f value -c checksum -c status 2>>'$work/cli.err' | tr '\n' ' ' | grep -q '$(md5sum "$work/disk.raw" | cut -d' ' -f1) active'"
check "image delete" openstack image delete tiny
grep -E ' E |AddressSanitizer|runtime error' "$work/image.log" && fail "errors in image.log" || ok "image.log is clean"
finish
