#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Read a device while others write it for the first time, and check that
every 512-byte sector read is either what the backing image holds there or
a whole block fio wrote there.

  readwatch.py DEV BACKING --regions A-B[,C-D...] [--seed S]
                           [--until FILE] [--seconds N]

Reads DEV with O_DIRECT (sizes 512 B to 64 KiB, random 512-aligned offsets
inside the byte ranges given by --regions) until FILE exists or N seconds
have passed.  A sector is good when it equals the same sector of BACKING
(the data under a sector not yet written) or carries fio's verify header
(magic 0xacca, as written with verify_interval=512) whose offset field is
that sector's own offset.  Anything else (zeros, another sector's data, a
torn block) is bad.  Prints "reads: N", "sectors: N", "written seen: N",
"bad sectors: N" and exits 1 when a sector was bad or a read failed.
"""

import argparse
import mmap
import os
import random
import struct
import sys
import time

HDR = struct.Struct("<HHIQQ")
MAGIC = 0xACCA


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dev")
    p.add_argument("backing")
    p.add_argument("--regions", required=True)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--until")
    p.add_argument("--seconds", type=float, default=3600)
    args = p.parse_args()
    regions = []
    for r in args.regions.split(","):
        a, b = (int(x) for x in r.split("-"))
        regions.append((a, b))
    rnd = random.Random(args.seed)
    fd = os.open(args.dev, os.O_RDONLY | os.O_DIRECT)
    back = open(args.backing, "rb")
    buf = mmap.mmap(-1, 65536)
    reads = sectors = written = bad = errors = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end and not (args.until and os.path.exists(args.until)):
        a, b = rnd.choice(regions)
        size = rnd.choice((512, 4096, 8192, 65536))
        if b - a < size:
            size = 512
        off = rnd.randrange(a, b - size + 1, 512)
        try:
            n = os.preadv(fd, [memoryview(buf)[:size]], off)
        except OSError as e:
            errors += 1
            print("read at %d+%d: %s" % (off, size, e.strerror))
            continue
        if n != size:
            errors += 1
            continue
        reads += 1
        back.seek(off)
        ref = back.read(size)
        for s in range(0, size, 512):
            sec = buf[s:s + 512]
            sectors += 1
            if sec == ref[s:s + 512]:
                continue
            magic, _, length, _, hoff = HDR.unpack_from(sec)
            if magic == MAGIC and length == 512 and hoff == off + s:
                written += 1
                continue
            bad += 1
            if bad <= 10:
                print("bad sector at byte %d: %r" % (off + s, bytes(sec[:32])))
    print("reads: %d" % reads)
    print("sectors: %d" % sectors)
    print("written seen: %d" % written)
    print("bad sectors: %d" % bad)
    print("read errors: %d" % errors)
    return 1 if bad or errors else 0


if __name__ == "__main__":
    sys.exit(main())
