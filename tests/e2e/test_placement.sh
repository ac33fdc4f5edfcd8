#!/usr/bin/env bash
# timeout: 300
# SPDX-License-Identifier: Apache-2.0
# Scenario 2: two compute agents on distinct loopback addresses (compute1 on 127.0.0.102 with
# the rest of the all-in-one, compute2 on 127.0.0.103), CURVE on. A host disabled with
# `zincctl host disable` gets no server; one disabled with `openstack compute service set
# --disable` neither; once both are enabled again a burst spreads over both.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

E2E_EXTRA_KEYS=compute-compute2 e2e_start 127.0.0.102
cd "$work"
os_token
addr2=127.0.0.103
e2e_compute2 "$addr2"

# The compute services as the api sees them: "HOST STATUS STATE" per line.
services() {
    openstack compute service list --service nova-compute -f value -c Host -c Status -c State |
        sort
}
both_up() { [ "$(services | tr '\n' ' ')" = "$1" ]; }
require "two compute services, both enabled and up" \
    wait_for 30 both_up "compute1 enabled up compute2 enabled up "
check "compute2 binds its own address" \
    bash -c "ss -ltn | grep -q '$addr2:7305'"

openstack flavor create --vcpus 1 --ram 64 --disk 1 p.tiny -f value -c id >/dev/null
head -c 65536 /dev/zero >disk.raw
openstack image create --disk-format raw --container-format bare --file disk.raw p-image \
    -f value -c id >/dev/null
openstack quota set --instances 40 --cores 40 "$project_id" # Nova's default is 10 instances
openstack network create p-net -f value -c id >/dev/null
openstack subnet create --network p-net --subnet-range 10.40.0.0/24 p-subnet -f value -c id \
    >/dev/null

# The scheduler sees a host's new state at its next refresh (every second): wait for two.
refreshes() { ctl metrics scheduler | awk -F' = ' '$1 == "refresh_us.count" {print $2}'; }
scheduler_refreshed() {
    local from="$1"
    [ "$(refreshes)" -ge $((from + 2)) ]
}
wait_refresh() {
    local from
    from=$(refreshes)
    wait_for 10 scheduler_refreshed "$from"
}

# All servers ACTIVE (none BUILD, none ERROR) and COUNT of them.
all_active() {
    api_get "http://$addr:8774/compute/v2.1/servers/detail" | python3 -c '
import json, sys
s = json.load(sys.stdin)["servers"]
sys.exit(0 if len(s) == int(sys.argv[1]) and all(x["status"] == "ACTIVE" for x in s) else 1)' "$1"
}

# "HOST COUNT" per host that has servers, from the api's admin view.
per_host() {
    openstack server list --long -f json | python3 -c 'import collections, json, sys
c = collections.Counter(s["Host"] for s in json.load(sys.stdin))
print("".join("%s=%d " % (h, c[h]) for h in sorted(c)), end="")'
}

# burst NAME COUNT TOTAL: COUNT servers in one request, until TOTAL servers are ACTIVE.
burst() {
    openstack server create --flavor p.tiny --image p-image --network p-net --min "$2" --max "$2" "$1" \
        -f value -c id >/dev/null
    wait_for 60 all_active "$3"
}

# ---- compute1 disabled with zincctl: everything on compute2 --------------------------------
ctl host disable compute1 "e2e: placement test" >/dev/null
check "zincctl host disable compute1: the api shows it disabled" \
    wait_for 10 both_up "compute1 disabled up compute2 enabled up "
wait_refresh || true
check "4 servers ACTIVE with compute1 disabled" burst a 4 4
check "all 4 on compute2" test "$(per_host)" = "compute2=4 "

# ---- compute1 enabled, compute2 disabled, both with the openstack CLI -----------------------
openstack compute service set --enable compute1 nova-compute
openstack compute service set --disable --disable-reason "e2e" compute2 nova-compute
check "openstack compute service set: compute1 enabled, compute2 disabled" \
    wait_for 10 both_up "compute1 enabled up compute2 disabled up "
wait_refresh || true
check "2 servers ACTIVE with compute2 disabled" burst b 2 6
check "both new ones on compute1" test "$(per_host)" = "compute1=2 compute2=4 "

# ---- both enabled: a burst lands on both ---------------------------------------------------
ctl host enable compute2 >/dev/null
check "zincctl host enable compute2: the api shows it enabled" \
    wait_for 10 both_up "compute1 enabled up compute2 enabled up "
wait_refresh || true
check "12 more servers ACTIVE with both enabled" burst c 12 18
spread=$(per_host)
echo "# after the burst of 12: $spread"
c1=$(sed -n 's/.*compute1=\([0-9]*\).*/\1/p' <<<"$spread")
c2=$(sed -n 's/.*compute2=\([0-9]*\).*/\1/p' <<<"$spread")
check "the burst spread over both hosts (compute1 got some of the 12)" test "${c1:-0}" -gt 2
check "the burst spread over both hosts (compute2 got some of the 12)" test "${c2:-0}" -gt 4

# ---- delete everything: both hosts empty ---------------------------------------------------
# shellcheck disable=SC2046 # one id a word
openstack server delete --wait $(openstack server list -f value -c ID) >/dev/null
check "every server deleted" test "$(openstack server list -f value -c ID | wc -l)" -eq 0
openstack hypervisor list --long -f json >hv.json
check "both hypervisors with nothing used" jtrue hv.json \
    'sorted((h["Hypervisor Hostname"], h["vCPUs Used"]) for h in d) == [("compute1", 0), ("compute2", 0)]'

echo "# scenario 2 took $SECONDS s"
e2e_finish
