#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""bench/memory.py PID...: the resident memory of a group of processes, taken together.

Summing VmRSS counts a page once per process that maps it: eight agents that share libc,
libzmq, libczmq, libsodium and GnuTLS count those pages eight times, though RAM holds them once.
This prints three figures in MiB, on one line:

    distinct=X pss=Y rss_sum=Z

distinct: the pages resident in any of the processes, each counted once (physical frame numbers
from /proc/PID/pagemap; that needs CAP_SYS_ADMIN, without which it is the pss figure). A
mapping larger than 1 GiB (an LMDB map, a sanitizer's shadow memory) is not read page by page:
its Rss is added as it is, for such mappings belong to one process.
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
HUGE = 1 << 30  # mappings past this size are counted by their Rss
CHUNK = 1 << 20  # bytes of pagemap read at a time


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
    """(start, end, rss_kib) of every mapping with resident pages."""
    ranges = []
    start = end = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                lo, hi = head.split("-")
                start, end = int(lo, 16), int(hi, 16)
            elif head == "Rss:" and int(line.split()[1]) > 0:
                ranges.append((start, end, int(line.split()[1])))
    return ranges


def frames(pid):
    """(physical frames resident in PID, KiB of huge mappings), or None when the kernel hides
    the frame numbers."""
    found = set()
    huge_kib = 0
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for start, end, rss_kib in resident_ranges(pid):
            if end - start > HUGE:
                huge_kib += rss_kib
                continue
            pagemap.seek(start // PAGE * 8)
            left = (end - start) // PAGE * 8
            while left > 0:
                data = pagemap.read(min(left, CHUNK))
                if not data:
                    break
                left -= len(data)
                for (entry,) in struct.iter_unpack("<Q", data):
                    if entry & PRESENT:
                        found.add(entry & PFN_MASK)
    if found == {0}:
        return None  # present pages, but no frame numbers: not allowed to see them
    return found, huge_kib


def main(pids):
    rss = sum(status_kib(p, "VmRSS") for p in pids) / 1024
    pss = sum(pss_kib(p) for p in pids) / 1024
    distinct = set()
    huge_kib = 0
    for pid in pids:
        got = frames(pid)
        if got is None:
            distinct = None
            break
        distinct |= got[0]
        huge_kib += got[1]
    together = pss if distinct is None else (len(distinct) * PAGE / 1024 + huge_kib) / 1024
    print(f"distinct={together:.1f} pss={pss:.1f} rss_sum={rss:.1f}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: bench/memory.py PID...")
    main(sys.argv[1:])
