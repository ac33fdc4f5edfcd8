# shellcheck shell=bash
# SPDX-License-Identifier: Apache-2.0
# Helpers for zinc's end-to-end tests: the whole cloud started by tools/run.sh (CURVE on every
# link) on a loopback address of the test's own (127.0.0.101 and up; test_ansible has
# 127.0.0.11-22), so that a developer's `make run` and the other tests never collide, driven by
# the real openstack CLI and zincctl. Source it; every
# agent the test started is stopped on exit, even on failure, and the logs are checked for
# sanitizer reports.
set -euo pipefail
bin="${ZN_TEST_BIN_DIR:?ZN_TEST_BIN_DIR must point at the zinc binaries}"
src="${ZN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
work="$(mktemp -d /tmp/zinc-e2e.XXXXXX)"
var="$work/var"
extra_pids=() # agents a test started itself (a second compute agent)
failures=0
passes=0
export ZINCCTL_CONFIG="$var/etc/zincctl.conf"

ok() {
    passes=$((passes + 1))
    echo "ok - $*"
}

fail() {
    failures=$((failures + 1))
    echo "not ok - $*"
}

check() {
    local what="$1"
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}

# Same as check, but the test cannot go on without it.
require() {
    local what="$1"
    shift
    if "$@"; then
        ok "$what"
    else
        fail "$what"
        echo "Bail out! $what"
        exit 1
    fi
}

run_sh() { ZN_VAR="$var" ZN_BIN="$bin" ZN_ADDR="$addr" ZN_DEMO=0 bash "$src/tools/run.sh" "$@"; }

# The result of the last action ACTION of server ID (its events' results), e.g. "Success".
action_result() {
    local req
    req=$(openstack server event list "$1" -f value -c 'Request ID' -c Action |
        awk -v a="$2" '$2 == a {print $1; exit}')
    [ -n "$req" ] || return 1
    openstack server event show "$1" "$req" -f json |
        python3 -c 'import json, sys
d = json.load(sys.stdin)
r = [e.get("result") for e in d.get("events", [])]
print("Success" if r and all(x == "Success" for x in r) else ",".join(str(x) for x in r))'
}

# The last ACTION of server ID finished with success.
action_ok() { [ "$(action_result "$1" "$2")" = Success ]; }

# Stop the cloud: TERM to every agent but the conductor at once (they stop in parallel, which
# matters under the sanitizers' exit-time leak check), then the conductor, then KILL whatever is
# left after the deadline.
agent_pids() {
    local f
    for f in "$var"/run/*.pid; do
        [ -f "$f" ] && [ "$(basename "$f")" != conductor.pid ] && cat "$f"
    done
    printf '%s\n' "${extra_pids[@]:-}"
}

stop_pids() {
    local pid
    for pid in "$@"; do
        if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    local deadline=$(($(date +%s%3N) + 15000))
    for pid in "$@"; do
        while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$(date +%s%3N)" -lt $deadline ]; do
            sleep 0.1
        done
        if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    done
}

e2e_stop() {
    # shellcheck disable=SC2046 # one pid a word
    stop_pids $(agent_pids)
    if [ -f "$var/run/conductor.pid" ]; then
        stop_pids "$(cat "$var/run/conductor.pid")"
    fi
    rm -f "$var"/run/*.pid
    extra_pids=()
}

# Sanitizer and crash reports in any agent's log.
sanitizer_clean() {
    ! grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|ThreadSanitizer' \
        "$var"/log/*.log "$work"/*.log 2>/dev/null
}

e2e_cleanup() {
    local rc=$?
    e2e_stop
    if [ "$rc" -ne 0 ] || [ "$failures" -ne 0 ]; then
        echo "# logs of the failed run (last lines of each):"
        for f in "$var"/log/*.log "$work"/*.log; do
            [ -f "$f" ] || continue
            echo "# ---- $f"
            tail -n 15 "$f" | sed 's/^/# /'
        done
    fi
    [ -n "${ZN_KEEP:-}" ] || rm -rf "$work"
}
trap e2e_cleanup EXIT

# Nothing may listen on ADDR at the ports of the all-in-one: another run there is a collision.
addr_free() {
    local a="$1" port
    for port in 5000 7104 7205 8774; do
        if (exec 3<>"/dev/tcp/$a/$port") 2>/dev/null; then
            return 1
        fi
    done
}

# Start the all-in-one on 127.0.0.N with tools/run.sh (without its demo) and take its
# environment: the openstack CLI's OS_* variables and zincctl's configuration.
e2e_start() {
    addr="$1"
    require "nothing else listens on $addr" addr_free "$addr"
    mkdir -p "$var/keys"
    if [ -n "${E2E_EXTRA_KEYS:-}" ]; then
        # shellcheck disable=SC2086 # a list of key names
        ZINCCTL_CONFIG=/dev/null "$bin/zincctl" keygen --dir "$var/keys" $E2E_EXTRA_KEYS >/dev/null
    fi
    # If the test itself is killed (ctest's timeout sends SIGKILL, no trap runs), this reaper
    # still stops every agent whose pid file is under var/run (extra agents write one too).
    (
        trap '' TERM INT
        while kill -0 $$ 2>/dev/null; do sleep 1; done
        for f in "$var"/run/*.pid; do
            if [ -f "$f" ]; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi
        done
        [ -n "${ZN_KEEP:-}" ] || rm -rf "$work"
    ) </dev/null >/dev/null 2>&1 &
    if ! run_sh start >"$work/start.log" 2>&1; then
        cat "$work/start.log"
        require "the all-in-one starts on $addr" false
    fi
    ok "the all-in-one (8 agents, CURVE) is up on $addr"
    set -a
    # shellcheck disable=SC1091
    . "$var/openrc"
    set +a
}

ctl() { "$bin/zincctl" "$@"; }

# A second compute agent, compute2, on ADDR2: compute1's configuration with its own name, key
# (E2E_EXTRA_KEYS=compute-compute2 at e2e_start), state and address; its pid file is under
# var/run so that it is stopped with the others.
e2e_compute2() {
    local addr2="$1"
    require "nothing else listens on $addr2" addr_free "$addr2"
    sed -e "s/^host = compute1/host = compute2/" \
        -e "s/^key_name = compute-compute1/key_name = compute-compute2/" \
        -e "s|^state_dir = .*|state_dir = $var/lib/compute2|" \
        -e "s%^\(admin_endpoint\|call_endpoint\|cast_endpoint\) = tcp://$addr:%\1 = tcp://$addr2:%" \
        "$var/etc/compute.conf" >"$var/etc/compute2.conf"
    "$bin/zinc-compute" --config "$var/etc/compute2.conf" >>"$var/log/compute2.log" 2>&1 &
    echo $! >"$var/run/compute2.pid"
}

# Wait up to SECONDS for COMMAND to succeed (polling with a deadline, never a blind sleep).
wait_for() {
    local seconds="$1"
    shift
    local deadline=$(($(date +%s%3N) + seconds * 1000))
    while [ "$(date +%s%3N)" -lt $deadline ]; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# jget FILE EXPR: a Python expression over the JSON document d in FILE, printed.
jget() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval("(" + sys.argv[2] + ")")
print(json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else v))' "$1" "$2"
}

# jtrue FILE EXPR: succeeds when the Python expression over d is true.
jtrue() {
    python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)' "$1" "$2"
}

# Polling goes through curl with a token of the CLI's (a CLI run costs 1-2 s of Python start-up
# on this machine); every action a user takes goes through the openstack CLI.
os_token() {
    token=$(openstack token issue -f value -c id)
    project_id=$(openstack token issue -f value -c project_id)
}

# GET URL with the token: the JSON body on stdout.
api_get() { curl -sf -H "X-Auth-Token: $token" -H 'Accept: application/json' "$1"; }

# The status of server ID is STATUS.
server_is() {
    [ "$(api_get "http://$addr:8774/compute/v2.1/servers/$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["server"]["status"])')" = "$2" ]
}

# The status of volume ID is STATUS.
volume_is() {
    [ "$(api_get "http://$addr:8776/volume/v3/$project_id/volumes/$1" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["volume"]["status"])')" = "$2" ]
}

# ctl store get TABLE KEY finds nothing.
store_absent() {
    local out
    if out=$(ctl store get "$1" "$2" 2>&1); then
        return 1
    fi
    grep -q "no such key" <<<"$out"
}

e2e_finish() {
    e2e_stop
    check "no sanitizer report in any agent's log" sanitizer_clean
    echo "$passes passed, $failures failed"
    [ "$failures" -eq 0 ]
}
