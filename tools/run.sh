#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# tools/run.sh start|stop|status: an all-in-one zinc on loopback, with all state under var/.
# `make run` builds first and then calls `tools/run.sh start`; a second start is a no-op.
set -euo pipefail
top="$(cd "$(dirname "$0")/.." && pwd)"
bin="${ZN_BIN:-$top/build/bin}"
var="${ZN_VAR:-$top/var}"
agents=(conductor compute identity)

ctl() { ZINCCTL_CONFIG="$var/etc/zincctl.conf" "$bin/zincctl" "$@"; }

alive() {
    local pidfile="$var/run/$1.pid"
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

write_configs() {
    mkdir -p "$var/etc" "$var/log" "$var/run"
    local security="[security]
curve = true
keys_dir = $var/keys"
    printf '[store]\ndata_dir = %s\n\n%s\n' "$var/lib/conductor" "$security" >"$var/etc/conductor.conf"
    printf '[agent]\nhost = compute1\n\n%s\n' "$security" >"$var/etc/compute.conf"
    printf '%s\n' "$security" >"$var/etc/zincctl.conf"
    printf '[identity]\ndata_dir = %s\ntoken_keys_dir = %s\n[catalog]\nbase_url = http://127.0.0.1:5000\n\n%s\n' \
        "$var/lib/identity" "$var/lib/identity/token-keys" "$security" >"$var/etc/identity.conf"
}

# The admin password is made once and kept under var/ (mode 0600), like the keys.
admin_password() {
    local file="$var/etc/admin-password"
    if [ ! -s "$file" ]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$file")
    fi
    cat "$file"
}

bootstrap_identity() {
    local password
    password=$(admin_password)
    "$bin/zinc-identity" bootstrap --config "$var/etc/identity.conf" \
        --set "bootstrap.password=$password" >>"$var/log/identity.log" 2>&1
    cat >"$var/openrc" <<RC
# zinc all-in-one: source this file, then use the openstack CLI.
export OS_AUTH_URL=http://127.0.0.1:5000/identity/v3
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

start() {
    write_configs
    ctl keygen --dir "$var/keys" conductor compute identity admin >/dev/null
    bootstrap_identity
    for role in "${agents[@]}"; do
        start_agent "$role"
    done
    wait_up
    echo
    echo "== services (zincctl services): every agent reports through the conductor's registry"
    ctl services
    echo
    echo "== admin pings over CURVE (zincctl ping)"
    ctl ping
    echo
    echo "== compute's own view (zincctl status compute): it called the conductor to discover services"
    ctl status compute
    echo
    echo "== identity over REST, driven by the real openstack CLI (. var/openrc; openstack token issue)"
    (. "$var/openrc" && openstack token issue -f value -c expires -c project_id -c user_id)
    echo
    echo "== the replicated state store the conductor hosts (zincctl store status, put, get)"
    ctl store status
    ctl store put settings motd "hello from make run" >/dev/null
    ctl store get settings motd
    echo
    echo "== conductor counters (zincctl metrics conductor): heartbeat casts and calls it served"
    ctl metrics conductor | grep -E '^rpc_(calls|casts|errors)|^rpc_handler_us\.(count|p50|p99)' || true
    cat <<MSG

zinc is running on loopback; all state is under var/.
  use it:   . var/openrc; openstack token issue; openstack project list
            export ZINCCTL_CONFIG=$var/etc/zincctl.conf; $bin/zincctl services
  logs:     var/log/*.log
  stop it:  make stop
MSG
}

stop() {
    for role in "${agents[@]}"; do
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
