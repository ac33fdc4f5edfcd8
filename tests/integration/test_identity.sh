#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 300
# zinc-identity as a real process on loopback: bootstrap, the real `openstack` CLI (token issue,
# catalog list, project/user create and list, role add, role assignment list, token revoke),
# and every bad-input and attack case of issue #4 through curl, each with its HTTP status and a
# Keystone-style error body. Uses the TEST Argon2id cost to stay fast.
source "$(dirname "$0")/lib.sh"

port=$(free_port)
url="http://127.0.0.1:$port"
conf="$work/identity.conf"
c_call="tcp://127.0.0.1:$(free_port)"
c_cast="tcp://127.0.0.1:$(free_port)"
cat >"$conf" <<CONF
[agent]
admin_endpoint = tcp://127.0.0.1:$(free_port)
[rpc]
call_endpoint = tcp://127.0.0.1:$(free_port)
[peers]
conductor_call = $c_call
conductor_cast = $c_cast
heartbeat_interval_ms = 200
[identity]
http_endpoint = 127.0.0.1:$port
data_dir = $work/data
token_keys_dir = $work/token-keys
password_hash_cost = test
[catalog]
base_url = $url
CONF
identity() { "$bin/zinc-identity" "$@" --config "$conf"; }

start conductor "$bin/zinc-conductor" --set "rpc.call_endpoint=$c_call" \
    --set "rpc.cast_endpoint=$c_cast" --set "agent.admin_endpoint=tcp://127.0.0.1:$(free_port)" \
    --set "peers.conductor_cast=$c_cast" --set "store.data_dir=$work/conductor" \
    --set "store.raft_address=127.0.0.1:$(free_port)"
check "bootstrap" identity bootstrap --set bootstrap.password=secret
check "bootstrap is idempotent" identity bootstrap --set bootstrap.password=secret
start identity "$bin/zinc-identity" --config "$conf"
identity_pid=$last_pid
up() { curl -sf "$url/identity/v3" >/dev/null; }
check "identity answers" wait_for 10 up

printf '[ctl]\nconductor = %s\ntimeout_ms = 2000\n' "$c_call" >"$work/zincctl.conf"
listed() { ZINCCTL_CONFIG="$work/zincctl.conf" "$bin/zincctl" services | grep -q '^identity .* up'; }
check "zincctl services lists identity (heartbeats)" wait_for 10 listed

# --- version discovery --------------------------------------------------------------------
status=$(curl -s -o "$work/v3" -w '%{http_code}' "$url/identity/v3")
check "GET /identity/v3 is 200" [ "$status" = 200 ]
check "v3 version document" grep -q '"id":"v3.14"' "$work/v3"
status=$(curl -s -o "$work/root" -w '%{http_code}' "$url/identity")
check "GET /identity is 300" [ "$status" = 300 ]
check "versions.values" python3 -c "import json; d=json.load(open('$work/root')); assert d['versions']['values'][0]['links'][0]['href'].endswith('/identity/v3/')"
check "GET /v3 without prefix" curl -sf "$url/v3" -o /dev/null

# --- the real openstack CLI -----------------------------------------------------------------
export OS_AUTH_URL="$url/identity/v3" OS_USERNAME=admin OS_PASSWORD=secret OS_PROJECT_NAME=admin \
    OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_IDENTITY_API_VERSION=3 \
    OS_REGION_NAME=RegionOne OS_INTERFACE=public
os() { openstack "$@" 2>>"$work/cli.err"; }

os token issue -f json >"$work/token.json" || true
check "token issue" python3 -c "import json; d=json.load(open('$work/token.json')); assert d['id'].startswith('zt1') and d['project_id'] and d['user_id'] and d['expires']"
os catalog list -f json >"$work/catalog.json" || true
check "catalog list has the five services" python3 -c "
import json; d=json.load(open('$work/catalog.json')); types={s['Type'] for s in d}
assert {'identity','compute','image','network','volumev3'} <= types, types"
check "catalog endpoints carry public/internal/admin and the region" python3 -c "
import json; d=json.load(open('$work/catalog.json'))
e=[x for s in d if s['Type']=='compute' for x in s['Endpoints']]
assert {x['interface'] for x in e}=={'public','internal','admin'} and all(x['region']=='RegionOne' for x in e), e"
check "project create" bash -c "openstack project create demo -f value -c name 2>/dev/null | grep -qx demo"
check "project create other" bash -c "openstack project create other -f value -c name 2>/dev/null | grep -qx other"
check "project list" bash -c "openstack project list -f value -c Name 2>/dev/null | sort | tr '\n' ' ' | grep -qx 'admin demo other '"
check "user create" bash -c "openstack user create --password alicepw --project demo alice -f value -c name 2>/dev/null | grep -qx alice"
os user create --password carolpw carol >/dev/null || true
os user create --password bobpw bob >/dev/null || true
check "user list" bash -c "openstack user list -f value -c Name 2>/dev/null | sort | tr '\n' ' ' | grep -qx 'admin alice bob carol '"
check "role add" os role add --project demo --user alice member
os role add --project demo --user carol reader || true
os role add --project other --user bob member || true
check "role assignment list" bash -c "openstack role assignment list --names -f value -c Role -c User -c Project 2>/dev/null | grep -q '^member alice@Default demo@Default$'"
check "role assignment list --user" bash -c "openstack role assignment list --user alice --project demo -f value 2>/dev/null | wc -l | grep -qx 1"
revoked=$(os token issue -f value -c id)
check "token revoke" os token revoke "$revoked"

# --- curl helpers ----------------------------------------------------------------------------
# req METHOD PATH [TOKEN] [BODY]: prints the status; the body is in $work/body.
req() {
    local args=(-s -o "$work/body" -w '%{http_code}' -X "$1" "$url$2" -H 'Content-Type: application/json')
    [ -n "${3:-}" ] && args+=(-H "X-Auth-Token: $3")
    [ -n "${4:-}" ] && args+=(--data-binary "$4")
    curl "${args[@]}"
}
# expect WHAT STATUS METHOD PATH [TOKEN] [BODY]: the status and, for errors, a Keystone body.
expect() {
    local what="$1" want="$2"
    shift 2
    local got
    got=$(req "$@")
    if [ "$got" != "$want" ]; then
        fail "$what (status $got, want $want: $(head -c 200 "$work/body"))"
        return
    fi
    if [ "$want" -ge 400 ] && ! python3 -c "
import json,sys; e=json.load(open('$work/body'))['error']
assert e['code']==$want and e['title'] and e['message']" 2>/dev/null; then
        fail "$what (no Keystone error body: $(head -c 200 "$work/body"))"
        return
    fi
    ok "$what"
}
login() { # login USER PASSWORD [PROJECT]: prints the token
    local scope=""
    [ -n "${3:-}" ] && scope=",\"scope\":{\"project\":{\"name\":\"$3\",\"domain\":{\"id\":\"default\"}}}"
    curl -s -D "$work/headers" -o "$work/login" -X POST "$url/v3/auth/tokens" \
        -H 'Content-Type: application/json' --data-binary \
        "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"name\":\"Default\"},\"password\":\"$2\"}}}$scope}}"
    tr -d '\r' <"$work/headers" | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}'
}
pw_body() { echo "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"$1\",\"domain\":{\"id\":\"default\"},\"password\":\"$2\"}}}}}"; }

admin=$(login admin secret admin)
alice=$(login alice alicepw demo)
carol=$(login carol carolpw demo)
check "admin token issued" [ -n "$admin" ]
check "member token issued" [ -n "$alice" ]
check "token body has roles and catalog" python3 -c "
import json; t=json.load(open('$work/login'))['token']
assert t['roles'] and t['catalog'] and t['audit_ids'] and t['expires_at'].endswith('Z')"
admin_project=$(req GET "/v3/projects?name=admin" "$admin" >/dev/null; python3 -c "import json; print(json.load(open('$work/body'))['projects'][0]['id'])")
demo_project=$(req GET "/v3/projects?name=demo" "$admin" >/dev/null; python3 -c "import json; print(json.load(open('$work/body'))['projects'][0]['id'])")

# --- validation -------------------------------------------------------------------------------
status=$(curl -s -o /dev/null -w '%{http_code}' -X GET "$url/v3/auth/tokens" -H "X-Auth-Token: $admin" -H "X-Subject-Token: $alice")
check "admin validates a token (GET 200)" [ "$status" = 200 ]
status=$(curl -s -o /dev/null -w '%{http_code}' -I "$url/v3/auth/tokens" -H "X-Auth-Token: $alice" -H "X-Subject-Token: $alice")
check "a user checks its own token (HEAD 200)" [ "$status" = 200 ]
expect "GET /v3/auth/catalog" 200 GET /v3/auth/catalog "$alice"
expect "GET /v3/auth/projects" 200 GET /v3/auth/projects "$alice"

# --- bad input and attacks -------------------------------------------------------------------
expect "malformed JSON is 400" 400 POST /v3/auth/tokens "" '{"auth": {'
expect "a JSON array is 400" 400 POST /v3/auth/tokens "" '[1,2]'
expect "missing methods is 400" 400 POST /v3/auth/tokens "" '{"auth": {"identity": {}}}'
expect "missing password is 400" 400 POST /v3/auth/tokens "" \
    '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin"}}}}}'
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
expect "oversized body is 413" 413 POST /v3/auth/tokens "" "{\"x\":\"$big\"}"
expect "wrong password is 401" 401 POST /v3/auth/tokens "" "$(pw_body admin wrong)"
cp "$work/body" "$work/wrong_pw"
expect "unknown user is 401" 401 POST /v3/auth/tokens "" "$(pw_body nobody wrong)"
check "unknown user and wrong password look the same" \
    python3 -c "import json; a=json.load(open('$work/wrong_pw')); b=json.load(open('$work/body')); assert a==b"
expect "no token is 401" 401 GET /v3/projects
expect "garbage token is 401" 401 GET /v3/projects "garbage"
tampered=$(python3 -c "
t='$alice'; i=len(t)//2; c=t[i]
alphabet='ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
n=alphabet[alphabet.index(c)^1]; print(t[:i]+n+t[i+1:])")
expect "one flipped bit is 401" 401 GET /v3/auth/catalog "$tampered"
expect "revoked token is 401" 401 GET /v3/auth/catalog "$revoked"
unscoped=$(login admin secret)
check "unscoped token issued" [ -n "$unscoped" ]
expect "unscoped token on a project API is 403" 403 GET /v3/projects "$unscoped"
expect "re-scoping an unscoped token to a project" 201 POST /v3/auth/tokens "" \
    "{\"auth\":{\"identity\":{\"methods\":[\"token\"],\"token\":{\"id\":\"$unscoped\"}},\"scope\":{\"project\":{\"name\":\"admin\",\"domain\":{\"id\":\"default\"}}}}}"
check "a re-scoped token carries the audit chain" python3 -c "
import json; t=json.load(open('$work/body'))['token']; assert len(t['audit_ids'])==2 and t['project']['name']=='admin'"
expect "domain-scoped token" 201 POST /v3/auth/tokens "" \
    "{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":{\"name\":\"admin\",\"domain\":{\"id\":\"default\"},\"password\":\"secret\"}}},\"scope\":{\"domain\":{\"id\":\"default\"}}}}"
check "the domain-scoped token names its domain" python3 -c "
import json; t=json.load(open('$work/body'))['token']; assert t['domain']['id']=='default' and 'project' not in t"
alice_id=$(req GET "/v3/users?name=alice" "$admin" >/dev/null; python3 -c "import json; print(json.load(open('$work/body'))['users'][0]['id'])")
expect "a user reads itself" 200 GET "/v3/users/$alice_id" "$alice"
expect "a user cannot read another user" 403 GET "/v3/users/$alice_id" "$carol"
expect "member creating a project is 403" 403 POST /v3/projects "$alice" '{"project":{"name":"x"}}'
expect "member listing users is 403" 403 GET /v3/users "$alice"
expect "member adding a role is 403" 403 PUT "/v3/projects/$demo_project/users/x/roles/y" "$alice"
expect "member reading another project is 403" 403 GET "/v3/projects/$admin_project" "$alice"
expect "member reads its own project" 200 GET "/v3/projects/$demo_project" "$alice"
check "member's project list shows only its project" python3 -c "
import json,subprocess
out=subprocess.run(['curl','-s','$url/v3/projects','-H','X-Auth-Token: $alice'],capture_output=True).stdout
assert [p['name'] for p in json.loads(out)['projects']]==['demo']"
expect "reader reads its project" 200 GET "/v3/projects/$demo_project" "$carol"
expect "reader cannot write" 403 PATCH "/v3/projects/$demo_project" "$carol" '{"project":{"description":"x"}}'
expect "unknown project is 404" 404 GET /v3/projects/nope "$admin"
expect "unknown path is 404" 404 GET /v3/nothing "$admin"
expect "duplicate project is 409" 409 POST /v3/projects "$admin" '{"project":{"name":"demo"}}'
expect "wrong field type is 400" 400 POST /v3/projects "$admin" '{"project":{"name":5}}'

bob=$(login bob bobpw other)
check "bob logs in" [ -n "$bob" ]
bob_id=$(python3 -c "import json; print(json.load(open('$work/login'))['token']['user']['id'])")
expect "admin disables bob" 200 PATCH "/v3/users/$bob_id" "$admin" '{"user":{"enabled":false}}'
expect "disabled user cannot log in (401)" 401 POST /v3/auth/tokens "" "$(pw_body bob bobpw)"
expect "disabled user's token is refused" 401 GET /v3/auth/catalog "$bob"
expect "admin disables project demo" 200 PATCH "/v3/projects/$demo_project" "$admin" '{"project":{"enabled":false}}'
expect "token of a disabled project is refused" 401 GET /v3/auth/catalog "$alice"
login alice alicepw demo >/dev/null
check "login to a disabled project is 401" grep -q '"code":401' "$work/login"
expect "admin re-enables project demo" 200 PATCH "/v3/projects/$demo_project" "$admin" '{"project":{"enabled":true}}'

# Rotation: a token sealed with a key that two rotations retired is refused; new ones work.
old=$(login admin secret admin)
identity rotate-keys 2>/dev/null
rotated_once() { [ "$(req GET /v3/auth/catalog "$old")" = 200 ]; }
check "token still valid after one rotation" rotated_once
identity rotate-keys 2>/dev/null
refused() { [ "$(req GET /v3/auth/catalog "$old")" = 401 ]; }
check "token from a rotated-out key is refused" wait_for 5 refused
fresh=$(login admin secret admin)
expect "a token from the new primary works" 200 GET /v3/auth/catalog "$fresh"

# Rotation from the admin tool: the running agent loads the new keys at once.
ctlz() { ZINCCTL_CONFIG="$work/zincctl.conf" "$bin/zincctl" "$@"; }
before=$(login admin secret admin)
check "zincctl keys rotate" bash -c "ZINCCTL_CONFIG=$work/zincctl.conf $bin/zincctl keys rotate | grep -q '^primary = '"
ctlz keys rotate >/dev/null
expect "a token from a key two zincctl rotations retired is refused at once" 401 GET /v3/auth/catalog "$before"
expect "a new token works after zincctl rotations" 200 GET /v3/auth/catalog "$(login admin secret admin)"

# Rate limiting: failures per user name, whether or not the user exists.
for i in 1 2 3 4 5; do req POST /v3/auth/tokens "" "$(pw_body mallory x$i)" >/dev/null; done
expect "repeated failures are rate-limited (429)" 429 POST /v3/auth/tokens "" "$(pw_body mallory x)"
# ... and per source address: many names, one failure each, block the address (4x the per-user
# limit), even for a name that never failed. The limiter is in memory; the restart below clears it.
for i in $(seq 1 15); do req POST /v3/auth/tokens "" "$(pw_body "sprayed$i" x)" >/dev/null; done
expect "a password spray from one address is rate-limited (429)" 429 POST /v3/auth/tokens "" "$(pw_body fresh-name x)"

# Expiry: restart with 1 s tokens; state survives the restart.
kill "$identity_pid"
rc=0
wait "$identity_pid" 2>/dev/null || rc=$?
check "SIGTERM stops identity cleanly (exit 0)" [ "$rc" -eq 0 ]
check "no sanitizer report in the log" bash -c "! grep -q 'Sanitizer' '$work/identity.log'"
check "no secret in the log" bash -c "! grep -q -e secret -e alicepw -e 'zt1' '$work/identity.log'"
start identity2 "$bin/zinc-identity" --config "$conf" --set identity.token_ttl_s=1
check "identity restarts" wait_for 10 up
short=$(login admin secret admin)
check "state survived the restart" [ -n "$short" ]
expired() { [ "$(req GET /v3/auth/catalog "$short")" = 401 ]; }
check "expired token is 401" wait_for 5 expired
finish
