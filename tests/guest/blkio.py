#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Block I/O driver for the guest tests: many direct (O_DIRECT) reads or
writes in one process, compared with or applied to a model image file.

  blkio.py readcheck DEV IMAGE [--sizes 512,4096,...] [--count N] [--seed S]
                               [--at SECTOR,...]
      Read DEV with O_DIRECT at --count pseudo-random offsets for each size,
      plus reads that start one sector before and at each --at sector (run
      boundaries), and compare with IMAGE.  Prints one line per size.
      Exit 1 on any mismatch or I/O error.

  blkio.py write DEV MODEL [--sizes ...] [--count N] [--seed S] [--tag T]
      Write pseudo-random data with O_DIRECT at --count pseudo-random
      512-aligned offsets for each size, then fsync; apply the same writes
      to the MODEL file (an image of what DEV should then hold).  Prints the
      number of sectors written; --log FILE gets them as ranges "a-b c".

  blkio.py writeone DEV OFFSET LENGTH [--seed S] [--model MODEL] [--buffered]
      One write (O_DIRECT unless --buffered), then fsync.  Exit 1 with the
      errno name on stderr if it fails.

Offsets and lengths are in bytes.  Everything is deterministic for a seed.
"""

import argparse
import errno
import mmap
import os
import random
import sys


def parse_sizes(text):
    return [int(s) for s in text.split(",") if s]


def dev_size(fd):
    return os.lseek(fd, 0, os.SEEK_END)


def aligned_buffer(length):
    # Anonymous mmap is page aligned, as O_DIRECT wants.
    return mmap.mmap(-1, max(length, mmap.PAGESIZE))


def pread_full(fd, buf, length, offset):
    view = memoryview(buf)[:length]
    done = 0
    while done < length:
        n = os.preadv(fd, [view[done:]], offset + done)
        if n == 0:
            raise OSError(errno.EIO, "short read at end of device")
        done += n
    return bytes(view)


def pwrite_full(fd, buf, length, offset):
    view = memoryview(buf)[:length]
    done = 0
    while done < length:
        done += os.pwritev(fd, [view[done:]], offset + done)


def first_bad_sector(got, want, offset):
    for i in range(0, len(got), 512):
        if got[i:i + 512] != want[i:i + 512]:
            return (offset + i) // 512, got[i:i + 32]
    return None


def cmd_readcheck(args):
    fd = os.open(args.dev, os.O_RDONLY | os.O_DIRECT)
    img = open(args.image, "rb")
    size = dev_size(fd)
    img_size = os.fstat(img.fileno()).st_size
    if img_size < size:
        print("image is %d bytes, device %d" % (img_size, size))
        return 1
    rng = random.Random(args.seed)
    bad = 0
    boundaries = [int(s) for s in args.at.split(",") if s] if args.at else []
    for length in parse_sizes(args.sizes):
        if length > size:
            continue
        offsets = []
        for sector in boundaries:
            for o in (sector * 512 - 512, sector * 512, sector * 512 - length // 2):
                o = max(0, min(o - o % 512, size - length))
                offsets.append(o)
        for _ in range(args.count):
            offsets.append(rng.randrange(0, (size - length) // 512 + 1) * 512)
        buf = aligned_buffer(length)
        errors = 0
        for off in offsets:
            try:
                got = pread_full(fd, buf, length, off)
            except OSError as e:
                errors += 1
                if errors <= 3:
                    print("read %d at %d: %s" % (length, off,
                                                 errno.errorcode.get(e.errno, e)),
                          file=sys.stderr)
                continue
            img.seek(off)
            want = img.read(length)
            if got != want:
                errors += 1
                if errors <= 3:
                    sector, head = first_bad_sector(got, want, off)
                    print("read %d at %d: sector %d differs, device has %r"
                          % (length, off, sector, head), file=sys.stderr)
        buf.close()
        bad += errors
        print("%d-byte reads: %s" % (length, "ok" if errors == 0
                                     else "%d bad" % errors))
    os.close(fd)
    return 1 if bad else 0


def ranges(sectors):
    out = []
    start = prev = None
    for s in sorted(sectors):
        if start is None:
            start = prev = s
        elif s == prev + 1:
            prev = s
        else:
            out.append((start, prev))
            start = prev = s
    if start is not None:
        out.append((start, prev))
    return " ".join("%d" % a if a == b else "%d-%d" % (a, b) for a, b in out)


def cmd_write(args):
    fd = os.open(args.dev, os.O_RDWR | os.O_DIRECT)
    model = open(args.model, "r+b")
    size = dev_size(fd)
    rng = random.Random(args.seed)
    written = set()
    for length in parse_sizes(args.sizes):
        if length > size:
            continue
        buf = aligned_buffer(length)
        for _ in range(args.count):
            off = rng.randrange(0, (size - length) // 512 + 1) * 512
            data = rng.randbytes(length)
            buf[:length] = data
            pwrite_full(fd, buf, length, off)
            model.seek(off)
            model.write(data)
            written.update(range(off // 512, (off + length) // 512))
        buf.close()
    os.fsync(fd)
    os.close(fd)
    model.close()
    if args.log:
        with open(args.log, "w") as f:
            f.write(ranges(written) + "\n")
    print("wrote %d sectors" % len(written))
    return 0


def cmd_writeone(args):
    flags = os.O_RDWR | (0 if args.buffered else os.O_DIRECT)
    rng = random.Random(args.seed)
    data = rng.randbytes(args.length)
    try:
        fd = os.open(args.dev, flags)
        buf = aligned_buffer(args.length)
        buf[:args.length] = data
        pwrite_full(fd, buf, args.length, args.offset)
        os.fsync(fd)
        os.close(fd)
    except OSError as e:
        print(errno.errorcode.get(e.errno, str(e)), file=sys.stderr)
        return 1
    if args.model:
        with open(args.model, "r+b") as m:
            m.seek(args.offset)
            m.write(data)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("readcheck")
    r.add_argument("dev")
    r.add_argument("image")
    r.add_argument("--sizes", default="512,4096,65536,1048576")
    r.add_argument("--count", type=int, default=64)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--at", default="")
    w = sub.add_parser("write")
    w.add_argument("dev")
    w.add_argument("model")
    w.add_argument("--sizes", default="512,4096,65536,1048576")
    w.add_argument("--count", type=int, default=16)
    w.add_argument("--seed", type=int, default=1)
    w.add_argument("--log")
    o = sub.add_parser("writeone")
    o.add_argument("dev")
    o.add_argument("offset", type=int)
    o.add_argument("length", type=int)
    o.add_argument("--seed", type=int, default=1)
    o.add_argument("--model")
    o.add_argument("--buffered", action="store_true")
    args = p.parse_args()
    return {"readcheck": cmd_readcheck, "write": cmd_write,
            "writeone": cmd_writeone}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
