# SPDX-License-Identifier: GPL-2.0
"""Create/remove cycles of one umlcow table and the kernel's memory around
them (tests/umlcow/402).

usage: python3 leakcheck.py CYCLES LENGTH REFERENCE PARAMS [PARAMS...]

Each cycle uses the next umlcow table PARAMS in turn (a read-write and a
read_only table, say).  REFERENCE is a dm-linear table's parameters ("DEV 0"):
CYCLES / 4 (at least 50) cycles of it, measured first in the same way, are
what the kernel itself keeps per create/remove (a debug build of 6.1 keeps a
dentry and an inode or two a cycle, with any target).

Runs 20 warm-up cycles of each, settles the kernel (sync, drop caches, then
every slab cache shrunk once a second until the caches stop shrinking:
objects freed after an RCU grace period, and on a KASAN kernel out of its
quarantine, still count as active until then), records /proc/meminfo (Slab,
SUnreclaim, VmallocUsed) and every /proc/slabinfo cache's active objects,
runs the cycles (create, load, resume, status, remove, all by ioctl),
settles again and records again: the reference, then CYCLES of umlcow.
Prints the numbers, then one verdict line per measure:

  slab: grew by N kB (tolerance T kB)
  vmalloc: grew by N kB (tolerance T kB)
  caches: none grew by one object a cycle more than with dm-linear
          (or the ones that did)

Exit 1 if a measure is past its tolerance.
"""

import glob
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dmioctl  # noqa: E402

SLAB_TOLERANCE_KB = 1024
SETTLE_ROUNDS = 15
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


def shrink_caches():
    """Shrink every slab cache (SLUB's /sys/kernel/slab/*/shrink).  Besides
    freeing empty slabs, this empties KASAN's quarantine of the cache: on a
    KASAN kernel freed objects wait there and count as active in
    /proc/slabinfo (a debug-kernel run saw 23 kernfs nodes a cycle that
    were only that)."""
    for path in glob.glob("/sys/kernel/slab/*/shrink"):
        try:
            with open(path, "w") as f:
                f.write("1\n")
        except OSError:
            pass


def settle():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    time.sleep(2)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    # On a debug kernel under TCG, RCU callbacks lag by seconds.
    last = None
    for _ in range(SETTLE_ROUNDS):
        time.sleep(1)
        shrink_caches()
        total = sum(slabinfo().values())
        if last is not None and total >= last:
            break
        last = total


def cycles(dm, n, target, tables, length):
    name = "leak402-%d" % os.getpid()
    for i in range(n):
        dm.create(name)
        dm.load(name, [(0, length, target, tables[i % len(tables)])])
        dm.resume(name)
        dm.status(name)
        dm.remove(name)


def measure(dm, n, target, tables, length):
    """Run N cycles between two settled readings; return the readings and
    the time the cycles took."""
    settle()
    m0, s0 = meminfo(), slabinfo()
    start = time.time()
    cycles(dm, n, target, tables, length)
    took = time.time() - start
    settle()
    return m0, s0, meminfo(), slabinfo(), took


def growth(s0, s1):
    return {c: s1[c] - s0.get(c, 0) for c in s1 if s1[c] - s0.get(c, 0) > 0}


def main():
    n, length, reference = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    tables = sys.argv[4:]
    dm = dmioctl.Control()
    cycles(dm, 20, "linear", [reference], length)
    cycles(dm, 20, "umlcow", tables, length)

    ref_n = max(n // 4, 50)
    _, r0, _, r1, took = measure(dm, ref_n, "linear", [reference], length)
    ref = growth(r0, r1)
    print("reference: %d dm-linear cycles in %.1f s" % (ref_n, took))
    for d, c in sorted((d, c) for c, d in ref.items())[-4:]:
        print("reference cache %-24s +%d objects" % (c, d))

    m0, s0, m1, s1, took = measure(dm, n, "umlcow", tables, length)
    print("%d cycles in %.1f s" % (n, took))
    for k in ("Slab", "SUnreclaim", "SReclaimable", "VmallocUsed"):
        print("%-12s %8d kB -> %8d kB" % (k, m0[k], m1[k]))
    grown = growth(s0, s1)
    for d, c in sorted((d, c) for c, d in grown.items())[-8:]:
        print("cache %-24s +%d objects" % (c, d))
    bad = 0
    slab = m1["SUnreclaim"] - m0["SUnreclaim"]
    vm = m1["VmallocUsed"] - m0["VmallocUsed"]
    print("verdict slab: grew by %d kB (tolerance %d kB)"
          % (slab, SLAB_TOLERANCE_KB))
    print("verdict vmalloc: grew by %d kB (tolerance %d kB)"
          % (vm, VMALLOC_TOLERANCE_KB))
    # One object a cycle more than dm-linear's cycles leave.
    leaky = sorted(c for c, d in grown.items()
                   if d / n - ref.get(c, 0) / ref_n >= 1.0)
    print("verdict caches: %s" % (", ".join(leaky) if leaky else
                                  "none grew by one object a cycle more "
                                  "than with dm-linear"))
    if slab > SLAB_TOLERANCE_KB or vm > VMALLOC_TOLERANCE_KB or leaky:
        bad = 1
    return bad


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    sys.exit(main())
