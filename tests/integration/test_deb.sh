#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# timeout: 240
# The Debian packages, for real: cpack packages this build tree (the binaries ctest runs, already
# built, so this takes seconds), dpkg installs them into this machine, the files, users, conffiles
# and units are checked, zinc-conductor runs from /usr/bin as the zinc user as its unit starts it
# (with a copy of the packaged /etc/zinc/conductor.conf plus loopback endpoints), the installed
# zincctl reaches it over CURVE, and a purge leaves the machine as it was. Needs root; skipped (and said so) on a machine that already has zinc
# installed, so it never touches an operator's installation.
source "$(dirname "$0")/lib.sh"

build="$(cd "$bin/.." && pwd)"
pkgs=(zinc-tools zinc-compute zinc-controller zinc-common)

skip() {
    echo "ok - SKIPPED: $*"
    exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root to install packages"
command -v dpkg >/dev/null || skip "not a Debian machine"
[ -f "$build/CPackConfig.cmake" ] || { echo "not ok - no CPackConfig.cmake in $build"; exit 1; }

# One package installation at a time on this machine (dpkg has its own lock, but fails at once).
exec 9>/tmp/zinc-test-deb.lock
flock -w 200 9
for p in "${pkgs[@]}"; do
    if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "installed"; then
        skip "$p is already installed on this machine"
    fi
done

installed=false
purge_all() {
    if $installed; then
        dpkg --purge "${pkgs[@]}" >>"$work/purge.log" 2>&1 || true
    fi
}
trap 'purge_all; cleanup' EXIT

# --- build the packages from this tree --------------------------------------------------------
started=$(date +%s%3N)
check "cpack -G DEB builds the packages" \
    bash -c "cpack -G DEB --config '$build/CPackConfig.cmake' -B '$work/pkgs' >'$work/cpack.log' 2>&1"
echo "# cpack took $(($(date +%s%3N) - started)) ms"
debs=("$work"/pkgs/*.deb)
for p in zinc-common zinc-controller zinc-compute zinc-tools; do
    check "package $p built" test -f "$(compgen -G "$work/pkgs/${p}_*.deb")"
done
deps=$(dpkg-deb -f "$work"/pkgs/zinc-controller_*.deb Depends)
check "zinc-controller depends on the Debian libraries (libzmq5, liblmdb0, libraft2)" \
    bash -c "grep -q libzmq5 <<<'$deps' && grep -q liblmdb0 <<<'$deps' && grep -q libraft2 <<<'$deps'"
check "zinc-compute depends on libvirt0" \
    bash -c "dpkg-deb -f $work/pkgs/zinc-compute_*.deb Depends | grep -q libvirt0"

# --- install ----------------------------------------------------------------------------------
installed=true
export DEBIAN_FRONTEND=noninteractive
if ! dpkg -i "${debs[@]}" >"$work/dpkg.log" 2>&1; then
    apt-get -f install -y -qq --no-install-recommends >>"$work/dpkg.log" 2>&1 || true
fi
for p in "${pkgs[@]}"; do
    check "$p installed" bash -c "dpkg-query -W -f='\${Status}' $p | grep -qx 'install ok installed'"
done
check "system user zinc exists" bash -c "getent passwd zinc >/dev/null"
check "/etc/zinc is root:zinc 0750" bash -c '[ "$(stat -c %U:%G:%a /etc/zinc)" = root:zinc:750 ]'
check "/etc/zinc/token-keys is zinc's, 0700" \
    bash -c '[ "$(stat -c %U:%a /etc/zinc/token-keys)" = zinc:700 ]'
for exe in /usr/bin/zinc-*; do
    role="${exe##*/zinc-}"
    check "zinc-$role: unit installed" test -f "/lib/systemd/system/zinc-$role.service"
    check "zinc-$role: /etc/zinc/$role.conf is its --help-config, readable by group zinc" \
        bash -c "cmp -s /etc/zinc/$role.conf <(ASAN_OPTIONS=detect_leaks=0 $exe --help-config) &&
                 [ \"\$(stat -c %G:%a /etc/zinc/$role.conf)\" = zinc:640 ]"
done
# The copies in the tree are for reading; say when they trail the binaries (not a failure: the
# packages ship what the build generated).
for conf in "$build"/packaging/etc/*.conf; do
    if ! cmp -s "$conf" "${ZN_SOURCE_DIR:-$build/..}/packaging/etc/${conf##*/}"; then
        echo "# note: packaging/etc/${conf##*/} differs from the build's; run packaging/gen-config.sh"
    fi
done
check "zinc-conductor installed" test -x /usr/bin/zinc-conductor
check "zinc-compute installed" test -x /usr/bin/zinc-compute
check "zincctl installed" test -x /usr/bin/zincctl
check "the configs are conffiles" bash -c \
    "dpkg-query -W -f='\${Conffiles}' zinc-controller | grep -q /etc/zinc/conductor.conf"
if command -v systemd-analyze >/dev/null; then
    check "systemd-analyze verify accepts every unit" bash -c \
        "SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no /lib/systemd/system/zinc-*.service >'$work/verify.log' 2>&1 && [ ! -s '$work/verify.log' ]"
    [ -s "$work/verify.log" ] && cat "$work/verify.log"
fi
check "the compute unit runs in group libvirt" \
    grep -qx "SupplementaryGroups=libvirt" /lib/systemd/system/zinc-compute.service

# --- run the conductor as its unit would: user zinc, the packaged /etc/zinc example -------------
# The settings go into a copy, /etc/zinc/deb-test.conf: while this test runs, other tests start
# agents on this machine, and an agent reads /etc/zinc/ROLE.conf whenever it exists.
/usr/bin/zincctl keygen --dir /etc/zinc/keys conductor admin >/dev/null
chgrp zinc /etc/zinc/keys/conductor.key
chmod 0640 /etc/zinc/keys/conductor.key
call="tcp://127.0.0.1:$(free_port)"
cast="tcp://127.0.0.1:$(free_port)"
conf=/etc/zinc/deb-test.conf
ctl_conf=/etc/zinc/deb-test-zincctl.conf
{
    cat /etc/zinc/conductor.conf
    cat <<CONF

# --- set by test_deb.sh ---
[agent]
host = deb-test
admin_endpoint = tcp://127.0.0.1:$(free_port)
[security]
curve = true
[peers]
conductor_call = $call
conductor_cast = $cast
[rpc]
call_endpoint = $call
cast_endpoint = $cast
[store]
raft_address = 127.0.0.1:$(free_port)
election_timeout_ms = 300
CONF
} >"$conf"
chgrp zinc "$conf"
chmod 0640 "$conf"
{
    cat /etc/zinc/zincctl.conf
    printf '\n[ctl]\nconductor = %s\n[security]\ncurve = true\n' "$call"
} >"$ctl_conf"
export ZINCCTL_CONFIG="$ctl_conf"
# What systemd's StateDirectory=zinc/conductor would make.
install -d -o zinc -g zinc -m 0750 /var/lib/zinc/conductor
read -r -a exec_start <<<"$(sed -n 's/^ExecStart=//p' /lib/systemd/system/zinc-conductor.service)"
check "the unit starts /usr/bin/zinc-conductor --config /etc/zinc/conductor.conf" \
    [ "${exec_start[*]}" = "/usr/bin/zinc-conductor --config /etc/zinc/conductor.conf" ]
start conductor setpriv --reuid=zinc --regid=zinc --init-groups --no-new-privs \
    "${exec_start[0]}" --config "$conf"
conductor_pid=$last_pid
took=$(wait_for 15 /usr/bin/zincctl ping conductor) &&
    ok "installed zincctl pings the installed conductor over CURVE (${took} ms)" ||
    fail "zincctl ping conductor"
check "the conductor runs as user zinc" \
    bash -c "[ \"\$(ps -o user= -p $conductor_pid)\" = zinc ]"
check "it hosts the store (one voter) under /var/lib/zinc/conductor" \
    bash -c "/usr/bin/zincctl store status | grep -q leader && ls /var/lib/zinc/conductor | grep -q ."
check "zincctl services lists it" bash -c "/usr/bin/zincctl services | grep -q 'conductor.*deb-test.*up'"
kill -TERM "$conductor_pid"
rc=0
wait "$conductor_pid" || rc=$?
check "zinc-conductor exits 0 on SIGTERM" [ "$rc" -eq 0 ]
[ "$rc" -eq 0 ] || tail -5 "$work/conductor.log"
rm -f "$conf" "$ctl_conf"

# --- purge: nothing left behind -----------------------------------------------------------------
dpkg --purge "${pkgs[@]}" >"$work/purge.log" 2>&1 && ok "dpkg --purge" || fail "dpkg --purge"
installed=false
for p in "${pkgs[@]}"; do
    check "$p gone" bash -c "! dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q installed"
done
check "no zinc binary left" bash -c "! ls /usr/bin/zinc-* /usr/bin/zincctl 2>/dev/null"
check "no /etc/zinc left" test ! -e /etc/zinc
check "no /var/lib/zinc left" test ! -e /var/lib/zinc
check "no unit left" bash -c "! ls /lib/systemd/system/zinc-*.service 2>/dev/null"
check "user and group zinc removed" bash -c "! getent passwd zinc && ! getent group zinc"
finish
