#!/usr/bin/env bash
# timeout: 240
# SPDX-License-Identifier: Apache-2.0
# Scenario 3: the real QEMU path of `make run QEMU=1` (tools/run.sh with QEMU=1: compute on
# libvirt's embedded QEMU driver, qemu:///embed, TCG since CI has no KVM). A 512-byte boot
# sector that prints a marker on the serial port is uploaded with `openstack image create`,
# booted through the compute API, and the marker must come back through
# `openstack console log show`; then the server is deleted and its QEMU is gone.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
if ! command -v qemu-system-x86_64 >/dev/null; then
    echo "ok - # SKIP QEMU is not installed (tools/deps.sh installs it)"
    exit 0
fi
marker="ZINC-E2E-QEMU-$$"
# libvirt's embedded driver reads ROOT/etc/qemu.conf: as root, run QEMU as root (the packaged
# user may be absent), no security driver, logs in files (no virtlogd).
root="$var/lib/libvirt-embed"
mkdir -p "$root/etc"
{
    if [ "$(id -u)" = 0 ]; then
        printf 'user = "root"\ngroup = "root"\ndynamic_ownership = 0\n'
    fi
    printf 'security_driver = "none"\nstdio_handler = "file"\n'
} >"$root/etc/qemu.conf"
# Guests belong to the compute agent (its child subreaper); if it is killed, stop them too.
stop_guests() {
    local f
    for f in "$root"/run/qemu/*.pid; do
        if [ -f "$f" ]; then kill -9 "$(cat "$f")" 2>/dev/null || true; fi
    done
}
trap 'stop_guests; e2e_cleanup' EXIT

export QEMU=1
e2e_start 127.0.0.105
cd "$work"

# Real mode at 0x7c00: DS=0, SI=message, write each byte to COM1 (0x3f8), halt.
python3 - boot.img "$marker" <<'PY'
import sys
code = bytes([0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x16, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84,
              0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd])
sector = code + sys.argv[2].encode() + b"\r\n\0"
sector += bytes(510 - len(sector)) + b"\x55\xaa"
open(sys.argv[1], "wb").write(sector)
PY
openstack flavor create --vcpus 1 --ram 64 --disk 1 q.nano -f value -c id >/dev/null
openstack image create --disk-format raw --container-format bare --file boot.img bootsector \
    -f value -c id >/dev/null
os_token
flavor=$(openstack flavor show q.nano -f value -c id)
image=$(openstack image show bootsector -f value -c id)
# No NIC: a port would need the host bridge (br-zinc) that CI does not have, and the CLI's
# `--nic none` fails at 2.1 ("nics must be a list"), so this create goes to the API with curl.
started=$(date +%s%3N)
curl -sf -H "X-Auth-Token: $token" -H 'Content-Type: application/json' \
    -d "{\"server\": {\"name\": \"qvm\", \"flavorRef\": \"$flavor\", \"imageRef\": \"$image\", \"networks\": \"none\"}}" \
    "http://$addr:8774/compute/v2.1/servers" >created.json
server=$(jget created.json 'd["server"]["id"]')
require "server create under QEMU: ACTIVE" wait_for 60 server_is "$server" ACTIVE
echo "# create to ACTIVE took $(($(date +%s%3N) - started)) ms"
openstack server show qvm -f json >show.json
check "server show: active on compute1" jtrue show.json \
    'd["OS-EXT-STS:vm_state"] == "active" and d["OS-EXT-SRV-ATTR:host"] == "compute1"'
check "a qemu-system process runs the guest" pgrep -f "qemu-system.*$server"
marked() { openstack console log show qvm 2>/dev/null | grep -q "$marker"; }
check "the guest's marker comes back through openstack console log show" wait_for 60 marked
openstack server delete --wait qvm >/dev/null
check "server delete --wait: gone" test "$(openstack server list -f value -c ID | wc -l)" -eq 0
no_qemu() { ! pgrep -f "qemu-system.*$server"; }
check "its QEMU process is gone" wait_for 20 no_qemu
echo "# scenario 3 took $SECONDS s"
e2e_finish
