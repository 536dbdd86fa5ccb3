# SPDX-License-Identifier: GPL-2.0
"""Create/remove cycles of one umlcow table and the kernel's memory around
them (tests/umlcow/402).

usage: python3 leakcheck.py CYCLES LENGTH PARAMS [PARAMS...]

Each cycle uses the next umlcow table PARAMS in turn (a read-write and a
read_only table, say).

Runs 20 warm-up cycles, settles the kernel (sync, drop caches, a pause for
RCU), records /proc/meminfo (Slab, SUnreclaim, VmallocUsed) and every
/proc/slabinfo cache's active objects, runs CYCLES cycles (create, load,
resume, status, remove, all by ioctl), settles again and records again.
Prints the numbers, then one verdict line per measure:

  slab: grew by N kB (tolerance T kB)
  vmalloc: grew by N kB (tolerance T kB)
  caches: none grew by CYCLES objects or more   (or the ones that did)

Exit 1 if a measure is past its tolerance.
"""

import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dmioctl  # noqa: E402

SLAB_TOLERANCE_KB = 1024
VMALLOC_TOLERANCE_KB = 512


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


def slabinfo():
    out = {}
    with open("/proc/slabinfo") as f:
        for line in f.readlines()[2:]:
            w = line.split()
            out[w[0]] = int(w[1])
    return out


def settle():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    time.sleep(2)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    time.sleep(1)


def cycles(dm, n, tables, length):
    name = "leak402-%d" % os.getpid()
    for i in range(n):
        dm.create(name)
        dm.load(name, [(0, length, "umlcow", tables[i % len(tables)])])
        dm.resume(name)
        dm.status(name)
        dm.remove(name)


def main():
    n, length, tables = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    dm = dmioctl.Control()
    cycles(dm, 20, tables, length)
    settle()
    m0, s0 = meminfo(), slabinfo()
    start = time.time()
    cycles(dm, n, tables, length)
    took = time.time() - start
    settle()
    m1, s1 = meminfo(), slabinfo()
    print("%d cycles in %.1f s" % (n, took))
    for k in ("Slab", "SUnreclaim", "SReclaimable", "VmallocUsed"):
        print("%-12s %8d kB -> %8d kB" % (k, m0[k], m1[k]))
    grown = sorted((s1[c] - s0.get(c, 0), c) for c in s1
                   if s1[c] - s0.get(c, 0) > 0)
    for d, c in grown[-8:]:
        print("cache %-24s +%d objects" % (c, d))
    bad = 0
    slab = m1["SUnreclaim"] - m0["SUnreclaim"]
    vm = m1["VmallocUsed"] - m0["VmallocUsed"]
    print("verdict slab: grew by %d kB (tolerance %d kB)"
          % (slab, SLAB_TOLERANCE_KB))
    print("verdict vmalloc: grew by %d kB (tolerance %d kB)"
          % (vm, VMALLOC_TOLERANCE_KB))
    leaky = [c for d, c in grown if d >= n]
    print("verdict caches: %s" % (", ".join(leaky) if leaky else
                                  "none grew by %d objects or more" % n))
    if slab > SLAB_TOLERANCE_KB or vm > VMALLOC_TOLERANCE_KB or leaky:
        bad = 1
    return bad


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    sys.exit(main())
