#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
# zinc-volume as a real process beside real zinc-conductor, zinc-identity and zinc-image on
# loopback, driven by Debian's openstack CLI (cinderclient for volume create/list/show/set/
# delete and create --image, whose endpoint comes from the catalog's volumev3 entry with
# $(project_id)s filled in) and by curl for discovery, the SDK's /volume/v3/ document and
# Cinder-style error bodies.
source "$(dirname "$0")/lib.sh"

id_port=$(free_port)
vol_port=$(free_port)
id_url="http://127.0.0.1:$id_port"
vol_url="http://127.0.0.1:$vol_port"
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
id_call="tcp://127.0.0.1:$(free_port)"
img_port=$(free_port)
img_call="tcp://127.0.0.1:$(free_port)"

cat >"$work/identity.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = $id_call
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
base_url = http://127.0.0.1:$(free_port)
image_url = http://127.0.0.1:$img_port/image
volume_url = $vol_url/volume/v3/\$(project_id)s
CONF

cat >"$work/volume.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
host = volnode
[rpc]
call_endpoint = tcp://127.0.0.1:$(free_port)
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
identity_call = $id_call
image_call = $img_call
heartbeat_interval_ms = 200
[volume]
http_endpoint = 127.0.0.1:$vol_port
store_dir = $work/conductor/store
[backend]
volume_dir = $work/volumes
[quota]
volumes = 5
gigabytes = 20
CONF

start conductor "$bin/zinc-conductor" --set "rpc.call_endpoint=$c_call" \
    --set "rpc.cast_endpoint=$c_cast" --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_cast=$c_cast" --set "store.data_dir=$work/conductor" \
    --set "store.raft_address=127.0.0.1:$(free_port)"
check "identity bootstrap" "$bin/zinc-identity" bootstrap --config "$work/identity.conf" \
    --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$work/identity.conf"
# `openstack volume create` builds its image client (discovery at the catalog's image URL)
# even without --image, and --image makes a volume from an image: the real zinc-image.
cat >"$work/image.conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = $img_call
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
CONF
start image "$bin/zinc-image" --config "$work/image.conf"
start volume "$bin/zinc-volume" --config "$work/volume.conf"
up() {
    curl -sf "$id_url/identity/v3" >/dev/null && curl -sf "$vol_url/volume/v3/" >/dev/null &&
        curl -s -o /dev/null "http://127.0.0.1:$img_port/image"
}
check "identity, image and volume answer" wait_for 20 up
printf '[ctl]\nconductor = %s\ntimeout_ms = 2000\n' "$c_call" >"$work/zincctl.conf"
listed() { ZINCCTL_CONFIG="$work/zincctl.conf" "$bin/zincctl" services | grep -q '^volume .* up'; }
check "zincctl services lists volume (heartbeats)" wait_for 10 listed

# --- discovery ------------------------------------------------------------------------------
status=$(curl -s -o "$work/v3" -w '%{http_code}' "$vol_url/volume/v3/")
check "GET /volume/v3/ is 200 without a token" [ "$status" = 200 ]
check "the v3.0 version document" python3 -c "
import json; v=json.load(open('$work/v3'))['versions'][0]
assert v['id']=='v3.0' and v['min_version']=='3.0' and v['links'][0]['href'].endswith('/volume/v3/'), v"
status=$(curl -s -o /dev/null -w '%{http_code}' "$vol_url/volume/")
check "GET /volume/ is 300" [ "$status" = 300 ]

# --- the real openstack CLI -----------------------------------------------------------------
export OS_AUTH_URL="$id_url/identity/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public
os() { openstack "$@" 2>>"$work/cli.err"; }

os catalog list -f json >"$work/catalog.json" || true
check "the catalog has volumev3 and block-storage" python3 -c "
import json; d=json.load(open('$work/catalog.json')); types={s['Type'] for s in d}
assert {'volumev3','block-storage'} <= types, types"

os volume create --size 1 vol1 -f json >"$work/create.json" || true
check "volume create --size 1 vol1" python3 -c "
import json; d=json.load(open('$work/create.json'))
assert d['name']=='vol1' and d['size']==1 and d['status'] in ('creating','available'), d"
vol_id=$(python3 -c "import json; print(json.load(open('$work/create.json')).get('id',''))" 2>/dev/null || true)
available() { os volume show vol1 -f value -c status | grep -qx available; }
check "volume show vol1 becomes available" wait_for 20 available
check "the backing file is sparse and 1 GiB" python3 -c "
import os; s=os.stat('$work/volumes/$vol_id'); assert s.st_size==1<<30 and s.st_blocks*512 < 1<<20, s"
os volume show "$vol_id" -f json >"$work/show.json" || true
check "volume show by id" python3 -c "
import json; d=json.load(open('$work/show.json'))
assert d['id']=='$vol_id' and d['bootable']=='false' and d['attachments']==[], d"
os volume create --size 2 --description second vol2 >/dev/null || true
os volume list -f json >"$work/list.json" || true
check "volume list" python3 -c "
import json; d=json.load(open('$work/list.json')); names=sorted(v['Name'] for v in d)
assert names==['vol1','vol2'], d"
check "volume set --name" os volume set --name renamed vol1
check "volume show renamed" bash -c "openstack volume show renamed -f value -c name 2>/dev/null | grep -qx renamed"
check "volume show by the old name fails" bash -c "! openstack volume show vol1 >/dev/null 2>&1"
vol2_ready() { os volume show vol2 -f value -c status | grep -qx available; }
check "vol2 becomes available" wait_for 20 vol2_ready
check "volume delete" os volume delete renamed vol2
gone() { [ "$(os volume list -f value -c ID | wc -l)" = 0 ]; }
check "volume list is empty after delete" wait_for 10 gone
check "the backing file is gone" [ ! -e "$work/volumes/$vol_id" ]

# --- a volume from an image -------------------------------------------------------------------
printf 'zinc boot sector' >"$work/disk.raw"
head -c 300000 /dev/urandom >>"$work/disk.raw"
os image create --file "$work/disk.raw" --disk-format raw --container-format bare tiny >/dev/null || true
os volume create --size 1 --image tiny fromimage -f json >"$work/fromimage.json" || true
check "volume create --image" python3 -c "
import json; d=json.load(open('$work/fromimage.json')); assert d['name']=='fromimage', d"
img_vol=$(python3 -c "import json; print(json.load(open('$work/fromimage.json')).get('id',''))" 2>/dev/null || true)
from_image_ready() { os volume show fromimage -f value -c status | grep -qx available; }
check "the volume from the image becomes available" wait_for 20 from_image_ready
check "it is bootable" bash -c "openstack volume show fromimage -f value -c bootable 2>/dev/null | grep -qx true"
check "its file starts with the image's bytes" cmp -n "$(stat -c %s "$work/disk.raw")" \
    "$work/disk.raw" "$work/volumes/$img_vol"
check "volume delete fromimage" os volume delete fromimage
os volume create --size 1 repair >/dev/null || true
repair_ready() { os volume show repair -f value -c status | grep -qx available; }
check "repair becomes available" wait_for 20 repair_ready
check "volume set --state error (an admin's os-reset_status)" os volume set --state error repair
check "the status is error" bash -c "openstack volume show repair -f value -c status 2>/dev/null | grep -qx error"
check "an error volume can be deleted" os volume delete repair

# --- Tempest's own Cinder v3 response schemas (when python3-tempest is installed) ----------------
tempest_volume_schemas() { # every answer checked as Tempest checks it
    /usr/bin/python3 - "$vol_url" "$(os token issue -f value -c id)" "$(os token issue -f value -c project_id)" "$(dirname "$0")" <<'PY'
import sys, time
sys.path.insert(0, sys.argv[4])
from tempest_check import Checker
from tempest.lib.api_schema.response.volume import versions, volumes
root, token, project = sys.argv[1], sys.argv[2], sys.argv[3]
t = Checker(root, token)
base = "/volume/v3/%s" % project
def wait_status(vid, want):
    for _ in range(200):
        _, doc = t.call("GET", base + "/volumes/" + vid)
        if doc and doc["volume"]["status"] == want:
            return
        time.sleep(0.1)
    raise SystemExit("volume %s never became %s" % (vid, want))
t.check("list_versions", versions.list_versions, "GET", "/volume/")
created = t.check("create_volume", volumes.create_volume, "POST", base + "/volumes",
                {"volume": {"size": 1, "name": "schema-vol", "description": "d", "metadata": {"k": "v"}}})
vid = created["volume"]["id"]
wait_status(vid, "available")
t.check("show_volume", volumes.show_volume, "GET", base + "/volumes/" + vid)
t.check("list_volumes_no_detail", volumes.list_volumes_no_detail, "GET", base + "/volumes")
t.check("list_volumes_with_detail", volumes.list_volumes_with_detail, "GET", base + "/volumes/detail")
t.check("update_volume", volumes.update_volume, "PUT", base + "/volumes/" + vid, {"volume": {"name": "schema-vol2"}})
t.check("extend_volume", volumes.extend_volume, "POST", base + "/volumes/%s/action" % vid, {"os-extend": {"new_size": 2}})
wait_status(vid, "available")
t.check("delete_volume", volumes.delete_volume, "DELETE", base + "/volumes/" + vid)
t.finish()
PY
}
if /usr/bin/python3 -c "import tempest" 2>/dev/null; then
    tempest_volume_schemas >"$work/schemas.out" 2>&1 || true
    grep -E '^(not )?ok - tempest' "$work/schemas.out" | while read -r line; do echo "$line"; done
    check "every answer fits Tempest's Cinder v3 schemas" bash -c "! grep -q '^not ok' '$work/schemas.out' && grep -q '^ok - tempest' '$work/schemas.out'"
else
    echo "# python3-tempest not installed: Tempest's schemas are not checked"
fi

# --- errors, Cinder-style ---------------------------------------------------------------------
token=$(os token issue -f value -c id)
project=$(os token issue -f value -c project_id)
api() { curl -s -o "$work/out" -w '%{http_code}' -H "X-Auth-Token: $token" -H 'Content-Type: application/json' "$@"; }
fault_is() { python3 -c "import json,sys; d=json.load(open('$work/out')); f=d['$1']; assert f['code']==$2 and f['message'], d"; }
check "malformed JSON is 400" [ "$(api -X POST -d '{"volume": ' "$vol_url/volume/v3/$project/volumes")" = 400 ]
check "badRequest body" fault_is badRequest 400
check "size 0 is 400" [ "$(api -X POST -d '{"volume": {"size": 0}}' "$vol_url/volume/v3/$project/volumes")" = 400 ]
check "unknown id is 404" [ "$(api "$vol_url/volume/v3/$project/volumes/nope")" = 404 ]
check "itemNotFound body" fault_is itemNotFound 404
check "no token is 401" [ "$(curl -s -o /dev/null -w '%{http_code}' "$vol_url/volume/v3/$project/volumes")" = 401 ]
check "a size above the largest volume is 400" [ "$(api -X POST -d '{"volume": {"size": 2000}}' "$vol_url/volume/v3/$project/volumes")" = 400 ]
check "more gigabytes than the quota is 413" [ "$(api -X POST -d '{"volume": {"size": 21}}' "$vol_url/volume/v3/$project/volumes")" = 413 ]
for i in 1 2 3 4 5; do api -X POST -d '{"volume": {"size": 1}}' "$vol_url/volume/v3/$project/volumes" >/dev/null; done
check "the sixth volume is over quota (413)" [ "$(api -X POST -d '{"volume": {"size": 1}}' "$vol_url/volume/v3/$project/volumes")" = 413 ]
check "overLimit body" fault_is overLimit 413

finish
