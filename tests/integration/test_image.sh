#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
# zinc-image as a real process on loopback with a real zinc-conductor (the replicated store)
# and zinc-identity: the real `openstack` CLI (image create --file, list, show with the md5
# checked, delete) and every endpoint and error case through curl (discovery, create, show,
# list with filters and pages, JSON patch, upload and download streamed, size limit and quota,
# an interrupted upload, another project's images), each error with its status and body.
source "$(dirname "$0")/lib.sh"

id_port=$(free_port)
img_port=$(free_port)
id_url="http://127.0.0.1:$id_port"
img_url="http://127.0.0.1:$img_port"
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
id_call="tcp://127.0.0.1:$(free_port)"
img_call="tcp://127.0.0.1:$(free_port)"

start conductor "$bin/zinc-conductor" --set "rpc.call_endpoint=$c_call" \
    --set "rpc.cast_endpoint=$c_cast" --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_cast=$c_cast" --set "store.data_dir=$work/conductor" \
    --set "store.raft_address=127.0.0.1:$(free_port)"

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
base_url = $id_url
image_url = $img_url/image
CONF
check "identity bootstrap" "$bin/zinc-identity" bootstrap --config "$work/identity.conf" \
    --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$work/identity.conf"

cat >"$work/image.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
log_level = ${ZN_IMAGE_LOG_LEVEL:-notice}
[rpc]
call_endpoint = $img_call
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
heartbeat_interval_ms = 200
[image]
http_endpoint = 127.0.0.1:$img_port
store_dir = $work/images
max_image_bytes = 3000000
project_quota_bytes = 4000000
[store]
replica_dir = $work/conductor/store
[identity]
call_endpoint = $id_call
CONF
start image "$bin/zinc-image" --config "$work/image.conf"
image_pid=$last_pid
up() { curl -sf "$id_url/v3" >/dev/null && curl -s -o /dev/null "$img_url/image"; }
check "identity and image answer" wait_for 10 up

# --- discovery ---------------------------------------------------------------------------
status=$(curl -s -o "$work/versions" -w '%{http_code}' "$img_url/image")
check "GET /image is 300 without a token" [ "$status" = 300 ]
check "versions carry absolute v2 hrefs" python3 -c "
import json; d=json.load(open('$work/versions'))['versions']
assert d[0]['status']=='CURRENT' and d[0]['links'][0]['href']=='$img_url/image/v2/', d[0]"

# --- the real openstack CLI ----------------------------------------------------------------
export OS_AUTH_URL="$id_url/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public
os() { openstack "$@" 2>>"$work/cli.err"; }
head -c 1500000 /dev/urandom >"$work/disk.raw"
want_md5=$(md5sum "$work/disk.raw" | cut -d' ' -f1)
os image create --file "$work/disk.raw" --disk-format raw --container-format bare cirros \
    -f json >"$work/created.json" || true
check "image create --file" python3 -c "
import json; d=json.load(open('$work/created.json')); assert d['name']=='cirros', d"
check "image list shows it" bash -c "openstack image list -f value -c Name 2>/dev/null | grep -qx cirros"
os image show cirros -f json >"$work/shown.json" || true
check "image show: active, size, md5 checksum as md5sum says" python3 -c "
import json; d=json.load(open('$work/shown.json'))
assert d['status']=='active' and d['size']==1500000 and d['checksum']=='$want_md5', d"
img=$(python3 -c "import json; print(json.load(open('$work/shown.json'))['id'])")
check "os_hash_value is the sha512" python3 -c "
import json,hashlib; d=json.load(open('$work/shown.json'))
props=d.get('properties') or {}; v=d.get('os_hash_value') or props.get('os_hash_value')
assert v==hashlib.sha512(open('$work/disk.raw','rb').read()).hexdigest(), d"
check "the file is in the store" bash -c "ls $work/images | grep -q ^$img."
check "image set --property (PATCH)" os image set --property os_distro=cirros --min-ram 64 cirros
check "image show reads the property" bash -c "openstack image show cirros -f json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); p=d.get(\"properties\") or {}; assert p.get(\"os_distro\")==\"cirros\" and d[\"min_ram\"]==64, d'"
check "image set --tag (PATCH)" os image set --tag t1 --tag t2 cirros
check "image unset --tag (DELETE .../tags/t1)" os image unset --tag t1 cirros
check "tags now t2 only" bash -c "openstack image show cirros -f json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"tags\"] in ([\"t2\"], \"t2\"), d'"
check "image save (download)" os image save --file "$work/saved.raw" cirros
check "the saved file is the uploaded one" cmp "$work/disk.raw" "$work/saved.raw"
os image list --shared -f value -c Name >"$work/shared.txt" || true
os image list --private -f value -c Name >"$work/private.txt" || true
check "image list --shared / --private filter on visibility" bash -c "grep -qx cirros '$work/shared.txt' && ! grep -qx cirros '$work/private.txt'"
check "nothing left in the staging dir" bash -c "[ -z \"\$(ls $work/images/tmp)\" ]"

# --- curl helpers ----------------------------------------------------------------------------
login() { # login USER PASSWORD PROJECT: prints the token
    curl -s -D "$work/headers" -o /dev/null -X POST "$id_url/v3/auth/tokens" \
        -H 'Content-Type: application/json' --data-binary \
        "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"id\":\"default\"},\"password\":\"$2\"}}},\"scope\":{\"project\":{\"name\":\"$3\",\"domain\":{\"id\":\"default\"}}}}}"
    tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}'
}
# req METHOD PATH TOKEN [BODY] [CONTENT_TYPE]: prints the status; the body is in $work/body.
req() {
    local args=(-s -o "$work/body" -w '%{http_code}' -X "$1" "$img_url/image$2"
        -H "Content-Type: ${5:-application/json}")
    [ -n "${3:-}" ] && args+=(-H "X-Auth-Token: $3")
    [ -n "${4:-}" ] && args+=(--data-binary "$4")
    curl "${args[@]}"
}
# expect WHAT STATUS METHOD PATH TOKEN [BODY] [CONTENT_TYPE]: the status and, for errors, a body
# whose top-level object carries code and message (what the SDK and novaclient parse).
expect() {
    local what="$1" want="$2"
    shift 2
    local got
    got=$(req "$@")
    if [ "$got" != "$want" ]; then
        fail "$what (status $got, want $want: $(head -c 300 "$work/body"))"
        return
    fi
    if [ "$want" -ge 400 ] && ! python3 -c "
import json; e=json.load(open('$work/body'))['error']
assert e['code']==$want and e['message']" 2>/dev/null; then
        fail "$what (no error body: $(head -c 200 "$work/body"))"
        return
    fi
    ok "$what"
}
field() { python3 -c "import json; print(json.load(open('$work/body'))$1)"; }
jpatch() { req PATCH "$1" "$2" "$3" application/openstack-images-v2.1-json-patch; }

admin=$(login admin secret admin)
os project create demo >/dev/null || true
os project create other >/dev/null || true
os user create --password alicepw alice >/dev/null || true
os user create --password bobpw bob >/dev/null || true
os role add --project demo --user alice member || true
os role add --project other --user bob member || true
alice=$(login alice alicepw demo)
bob=$(login bob bobpw other)
check "tokens for two projects" [ -n "$alice" ] && [ -n "$bob" ]

# --- create, show ----------------------------------------------------------------------------
expect "create" 201 POST /v2/images "$alice" \
    '{"name":"a1","disk_format":"qcow2","container_format":"bare","min_disk":1,"min_ram":64,"os_distro":"cirros","visibility":"private"}'
a1=$(field "['id']")
check "create answers queued, the owner and the property" python3 -c "
import json; d=json.load(open('$work/body'))
assert d['status']=='queued' and d['owner'] and d['os_distro']=='cirros' and d['min_ram']==64 and d['size'] is None and d['self']=='/v2/images/'+d['id'], d"
expect "show" 200 GET "/v2/images/$a1" "$alice"
expect "show without the prefix" 200 GET "/v2/images/$a1" "$alice"
expect "no token is 401" 401 GET "/v2/images/$a1" ""
expect "malformed JSON is 400" 400 POST /v2/images "$alice" '{"name": '
expect "a non-object body is 400" 400 POST /v2/images "$alice" '[1]'
expect "an unknown disk_format is 400" 400 POST /v2/images "$alice" '{"disk_format":"floppy"}'
expect "a negative min_ram is 400" 400 POST /v2/images "$alice" '{"min_ram":-1}'
expect "a non-string property is 400" 400 POST /v2/images "$alice" '{"foo":1}'
expect "a read-only attribute is 403" 403 POST /v2/images "$alice" '{"status":"active"}'
expect "public without admin is 403" 403 POST /v2/images "$alice" '{"visibility":"public"}'
expect "an unknown id is 404" 404 GET /v2/images/00000000-0000-4000-8000-000000000000 "$alice"
expect "another project's private image is 404" 404 GET "/v2/images/$a1" "$bob"
expect "another project's delete is 404" 404 DELETE "/v2/images/$a1" "$bob"
expect "admin sees it" 200 GET "/v2/images/$a1" "$admin"
expect "a public image (admin)" 201 POST /v2/images "$admin" '{"name":"pub","visibility":"public"}'
pub=$(field "['id']")
expect "a member sees public images" 200 GET "/v2/images/$pub" "$bob"
check "but may not change them (403)" [ "$(jpatch "/v2/images/$pub" "$bob" '[]')" = 403 ]
expect "a community image" 201 POST /v2/images "$bob" '{"name":"comm","visibility":"community"}'
comm=$(field "['id']")
expect "others see community images by id" 200 GET "/v2/images/$comm" "$alice"

# --- list: visibility, filters, pages -------------------------------------------------------
expect "list" 200 GET /v2/images "$alice"
check "a member lists its own and public images only" python3 -c "
import json; d=json.load(open('$work/body')); ids={i['id'] for i in d['images']}
assert '$a1' in ids and '$pub' in ids and '$comm' not in ids and '$img' not in ids, ids"
expect "list visibility=community" 200 GET "/v2/images?visibility=community" "$alice"
check "community listed when asked" python3 -c "
import json; ids=[i['id'] for i in json.load(open('$work/body'))['images']]; assert ids==['$comm'], ids"
expect "list name filter" 200 GET "/v2/images?name=a1" "$admin"
check "name filter" python3 -c "
import json; ids=[i['id'] for i in json.load(open('$work/body'))['images']]; assert ids==['$a1'], ids"
expect "list status filter" 200 GET "/v2/images?status=active" "$admin"
check "status filter" python3 -c "
import json; ids=[i['id'] for i in json.load(open('$work/body'))['images']]; assert ids==['$img'], ids"
expect "list owner filter" 200 GET "/v2/images?owner=nobody" "$admin"
check "owner filter" python3 -c "import json; assert json.load(open('$work/body'))['images']==[]"
expect "page 1" 200 GET "/v2/images?limit=2" "$admin"
page1=$(field "['next']")
check "a full page has a next link" python3 -c "
import json; d=json.load(open('$work/body')); assert len(d['images'])==2 and d['next'].startswith('/v2/images?marker='), d"
expect "page 2 from the next link" 200 GET "$page1" "$admin"
check "pages do not overlap and end" python3 -c "
import json; d=json.load(open('$work/body')); assert len(d['images'])==2 and 'next' not in d, d"
expect "a bad limit is 400" 400 GET "/v2/images?limit=x" "$admin"
expect "an unknown marker is 400" 400 GET "/v2/images?marker=00000000-0000-4000-8000-000000000000" "$admin"

# --- JSON patch ---------------------------------------------------------------------------------
check "patch add/replace/remove" [ "$(jpatch "/v2/images/$a1" "$alice" '[{"op":"replace","path":"/name","value":"a1b"},{"op":"add","path":"/hw_disk_bus","value":"virtio"},{"op":"remove","path":"/os_distro"},{"op":"replace","path":"/min_disk","value":2}]')" = 200 ]
check "patched" python3 -c "
import json; d=json.load(open('$work/body'))
assert d['name']=='a1b' and d['hw_disk_bus']=='virtio' and 'os_distro' not in d and d['min_disk']==2, d"
expect "patch needs its media type (415)" 415 PATCH "/v2/images/$a1" "$alice" '[]'
check "patch malformed JSON is 400" [ "$(jpatch "/v2/images/$a1" "$alice" '[{')" = 400 ]
check "patch of a bad op is 400" [ "$(jpatch "/v2/images/$a1" "$alice" '[{"op":"move","path":"/name"}]')" = 400 ]
check "patch of a read-only attribute is 403" [ "$(jpatch "/v2/images/$a1" "$alice" '[{"op":"replace","path":"/status","value":"active"}]')" = 403 ]
check "remove of a missing property is 409" [ "$(jpatch "/v2/images/$a1" "$alice" '[{"op":"remove","path":"/nope"}]')" = 409 ]
check "patch of another project's image is 404" [ "$(jpatch "/v2/images/$a1" "$bob" '[]')" = 404 ]

# --- upload and download ---------------------------------------------------------------------
head -c 2000000 /dev/urandom >"$work/a1.img"
put() { # put ID TOKEN FILE: the status
    curl -s -o "$work/body" -w '%{http_code}' -X PUT "$img_url/image/v2/images/$1/file" \
        -H "X-Auth-Token: $2" -H 'Content-Type: application/octet-stream' --data-binary "@$3"
}
check "upload is 204" [ "$(put "$a1" "$alice" "$work/a1.img")" = 204 ]
expect "show after upload" 200 GET "/v2/images/$a1" "$alice"
check "active with size and checksum" python3 -c "
import json,hashlib; d=json.load(open('$work/body')); data=open('$work/a1.img','rb').read()
assert d['status']=='active' and d['size']==len(data) and d['checksum']==hashlib.md5(data).hexdigest() and d['os_hash_algo']=='sha512' and d['os_hash_value']==hashlib.sha512(data).hexdigest(), d"
curl -s -D "$work/dlh" -o "$work/a1.out" "$img_url/image/v2/images/$a1/file" -H "X-Auth-Token: $alice"
check "download gives the same bytes" cmp "$work/a1.img" "$work/a1.out"
check "download carries Content-MD5" grep -qi "^content-md5: $(md5sum "$work/a1.img" | cut -d' ' -f1)" "$work/dlh"
check "a second upload is 409" [ "$(put "$a1" "$alice" "$work/a1.img")" = 409 ]
check "another project's upload is 404" [ "$(put "$pub" "$bob" "$work/a1.img")" = 403 ]
expect "download of another project's image is 404" 404 GET "/v2/images/$a1/file" "$bob"
expect "an image for the limits" 201 POST /v2/images "$alice" '{"name":"big"}'
big=$(field "['id']")
head -c 3000001 /dev/zero >"$work/big.img"
check "over max_image_bytes is 413" [ "$(put "$big" "$alice" "$work/big.img")" = 413 ]
expect "still queued after a refused upload" 200 GET "/v2/images/$big" "$alice"
check "queued" python3 -c "import json; assert json.load(open('$work/body'))['status']=='queued'"
head -c 2900000 /dev/zero >"$work/quota.img"
check "over the project quota is 413" [ "$(put "$big" "$alice" "$work/quota.img")" = 413 ]
check "a refused token on an upload is 401" [ "$(put "$big" "zt1bogus" "$work/a1.img")" = 401 ]
unstaged() { [ -z "$(ls "$work/images/tmp")" ]; }
check "nothing staged after refusals" wait_for 5 unstaged
# An interrupted upload: the client sends half of what it declared, then goes away.
python3 - "$img_port" "$big" "$alice" <<'PY'
import socket, sys
port, image, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"PUT /image/v2/images/{image}/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n").encode())
s.sendall(b"x" * 500000)
s.close()
PY
gone() { req GET "/v2/images/$big" "$alice" >/dev/null; python3 -c "import json; assert json.load(open('$work/body'))['status'] in ('queued','killed')" && [ -z "$(ls "$work/images/tmp")" ]; }
check "an interrupted upload leaves no active image and no partial file" wait_for 10 gone
check "no file under its name" bash -c "! ls $work/images | grep -q ^$big"

# An upload in progress shows "saving"; it becomes active when the last byte is in.
expect "an image for a slow upload" 201 POST /v2/images "$alice" '{"name":"slow"}'
slow=$(field "['id']")
python3 - "$img_port" "$slow" "$alice" "$work/go" >"$work/slow.out" <<'PY' &
import os, socket, sys, time
port, image, token, go = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port))
s.sendall((f"PUT /image/v2/images/{image}/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: {token}\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 1000000\r\n\r\n").encode())
s.sendall(b"y" * 500000)
deadline = time.time() + 20
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.02)  # the test says when to go on (a file), checked until a deadline
s.sendall(b"y" * 500000)
print(s.recv(4096).split(b"\r\n")[0].decode())
PY
slow_pid=$!
saving() { req GET "/v2/images/$slow" "$alice" >/dev/null; python3 -c "import json; assert json.load(open('$work/body'))['status']=='saving'"; }
check "an upload in progress shows saving" wait_for 10 saving
# The project has 2 MB in a1 and 1 MB reserved by the upload in flight: 1.1 MB more passes the
# 4 MB quota, though the store alone would say only 2 MB are used.
expect "an image beside the slow upload" 201 POST /v2/images "$alice" '{"name":"q2"}'
q2=$(field "['id']")
head -c 1100000 /dev/zero >"$work/q2.img"
check "uploads in flight count against the quota (413)" [ "$(put "$q2" "$alice" "$work/q2.img")" = 413 ]
touch "$work/go"
wait "$slow_pid" || true
check "the slow upload ends 204" grep -q "204" "$work/slow.out"
expect "show the slow image" 200 GET "/v2/images/$slow" "$alice"
check "active once the last byte is in" python3 -c "
import json,hashlib; d=json.load(open('$work/body'))
assert d['status']=='active' and d['size']==1000000 and d['checksum']==hashlib.md5(b'y'*1000000).hexdigest(), d"

# --- delete --------------------------------------------------------------------------------------
check "patch protected" [ "$(jpatch "/v2/images/$a1" "$alice" '[{"op":"replace","path":"/protected","value":true}]')" = 200 ]
expect "PUT a tag" 204 PUT "/v2/images/$a1/tags/blue" "$alice"
expect "PUT the same tag again" 204 PUT "/v2/images/$a1/tags/blue" "$alice"
expect "DELETE a missing tag is 404" 404 DELETE "/v2/images/$a1/tags/red" "$alice"
expect "another project's tag is 404" 404 PUT "/v2/images/$a1/tags/x" "$bob"
expect "DELETE the tag" 204 DELETE "/v2/images/$a1/tags/blue" "$alice"
expect "a protected image cannot be deleted (403)" 403 DELETE "/v2/images/$a1" "$alice"
check "unprotect" [ "$(jpatch "/v2/images/$a1" "$alice" '[{"op":"replace","path":"/protected","value":false}]')" = 200 ]
expect "delete" 204 DELETE "/v2/images/$a1" "$alice"
expect "gone after delete" 404 GET "/v2/images/$a1" "$alice"
check "its file is removed" bash -c "! ls $work/images | grep -q ^$a1"
check "image delete (CLI)" os image delete cirros
check "the CLI's image is gone" bash -c "! openstack image show cirros >/dev/null 2>&1"

# --- the agent stops cleanly ---------------------------------------------------------------------
kill -TERM "$image_pid"
stopped() { ! kill -0 "$image_pid" 2>/dev/null; }
check "zinc-image stops on SIGTERM" wait_for 10 stopped
grep -E ' E |AddressSanitizer|runtime error' "$work/image.log" && fail "errors in image.log" || ok "image.log is clean"
finish
