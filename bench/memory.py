#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench/memory.py PID...: the resident memory of a group of processes, taken together.

Summing VmRSS counts a page once per process that maps it: eight agents that share libc,
libzmq, libczmq, libsodium and GnuTLS count those pages eight times, though RAM holds them once.
This prints three figures in MiB, on one line:

    distinct=X pss=Y rss_sum=Z

distinct: the pages resident in any of the processes, each counted once (physical frame numbers
from /proc/PID/pagemap; that needs CAP_SYS_ADMIN, without which it is the pss figure).
pss: the sum of Pss (each shared page split between every process that maps it, including
processes outside the group, so it is a little less than distinct).
rss_sum: the sum of VmRSS, for comparison with tools that add it up.
"""
import os
import struct
import sys

PAGE = os.sysconf("SC_PAGE_SIZE")
PRESENT = 1 << 63
PFN_MASK = (1 << 55) - 1


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def pss_kib(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def resident_ranges(pid):
    """(start, end) of every mapping with resident pages."""
    ranges = []
    start = end = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = head.split("-")
                start, end = int(lo, 16), int(hi, 16)
            elif head == "Rss:" and int(line.split()[1]) > 0:
                ranges.append((start, end))
    return ranges


def frames(pid):
    """Physical frames resident in PID, or None when the kernel hides them."""
    found = set()
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for start, end in resident_ranges(pid):
            pagemap.seek(start // PAGE * 8)
            data = pagemap.read((end - start) // PAGE * 8)
            for (entry,) in struct.iter_unpack("<Q", data):
                if entry & PRESENT:
                    found.add(entry & PFN_MASK)
    if found == {0}:
        return None  # present pages, but no frame numbers: not allowed to see them
    return found


def main(pids):
    rss = sum(status_kib(p, "VmRSS") for p in pids) / 1024
    pss = sum(pss_kib(p) for p in pids) / 1024
    distinct = set()
    for pid in pids:
        got = frames(pid)
        if got is None:
            distinct = None
            break
        distinct |= got
    together = pss if distinct is None else len(distinct) * PAGE / 1048576
    print(f"distinct={together:.1f} pss={pss:.1f} rss_sum={rss:.1f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench/memory.py PID...")
    main(sys.argv[1:])
