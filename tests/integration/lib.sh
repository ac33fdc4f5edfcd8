# SPDX-License-Identifier: Apache-2.0
# Helpers for zinc's shell-driven integration tests. Source it; it sets up a temp dir that is
# removed on exit along with every process the test started.
set -euo pipefail
bin="${ZN_TEST_BIN_DIR:?ZN_TEST_BIN_DIR must point at the zinc binaries}"
work="$(mktemp -d /tmp/zinc-it.XXXXXX)"
pids=()
failures=0
passes=0

cleanup() {
    for pid in "${pids[@]:-}"; do
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    done
    [ -n "${ZN_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# A TCP port on 127.0.0.1 that nobody listens on right now.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

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

# Start BINARY ARGS... in the background with its stderr in $work/NAME.log; sets $last_pid.
start() {
    local name="$1"
    shift
    "$@" 2>"$work/$name.log" &
    last_pid=$!
    pids+=("$last_pid")
}

# Wait up to SECONDS for COMMAND to succeed; prints how long it took in ms.
wait_for() {
    local seconds="$1"
    shift
    local started
    started=$(date +%s%3N)
    local deadline=$((started + seconds * 1000))
    while [ "$(date +%s%3N)" -lt $deadline ]; do
        if "$@" >/dev/null 2>&1; then
            echo $(($(date +%s%3N) - started))
            return 0
        fi
        sleep 0.05
    done
    return 1
}

finish() {
    echo "$passes passed, $failures failed"
    [ "$failures" -eq 0 ]
}
