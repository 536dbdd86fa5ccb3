#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Direct block I/O against a model, for any logical block size.

  blkmodel.py write DEV MODEL [--align A] [--sizes S,...] [--count N] [--seed S]
                              [--at BYTE,...]
      Random O_DIRECT writes of each size at A-aligned offsets (default
      4096), applied to the MODEL file too; fsync at the end.  --at adds,
      for each size, a write centred on each BYTE offset (crossing it).
      Prints the number of writes.

  blkmodel.py readcheck DEV MODEL [--align A] [--sizes S,...] [--count N]
                                  [--seed S]
      Random O_DIRECT reads of each size at A-aligned offsets compared with
      MODEL; then the whole device in 1 MiB reads.  Prints one line per size
      and "whole device: ok" or the first differing byte.  Exit 1 on any
      difference or error.

  blkmodel.py rounds DEV --block B --rounds R --per-round K [--seed S]
                         [--mark-cmd CMD] [--log FILE]
      R rounds; in each, K blocks of B bytes never written before are
      written (O_DIRECT, several at once where they are adjacent) with a
      pattern naming the round and the block, then the device is fsync'd,
      and once fsync has returned CMD rN runs (a dm-log-writes mark).  FILE
      gets a line "rN BLOCK..." per round.

  blkmodel.py verify DEV BACKING --block B --log FILE [--seen FILE]
      After a crash: every block named in the log reads as its own round's
      pattern or as BACKING's block (a write that did not survive), and a
      block of a round whose mark is listed in the --seen file (one name a
      line) must read as its pattern; every other block reads as BACKING.
      Prints counts; exit 1 on a violation.
"""

import argparse
import mmap
import os
import random
import subprocess
import sys


def sizes(text):
    return [int(s) for s in text.split(",") if s]


def pattern(rnd, block, bsize):
    unit = ("r%d block %d " % (rnd, block)).encode()
    return (unit * (bsize // len(unit) + 1))[:bsize]


def dev_size(fd):
    return os.lseek(fd, 0, os.SEEK_END)


def cmd_write(a):
    fd = os.open(a.dev, os.O_RDWR | os.O_DIRECT)
    model = open(a.model, "r+b")
    size = dev_size(fd)
    rng = random.Random(a.seed)
    n = 0
    at = [int(x) for x in a.at.split(",") if x] if a.at else []
    for length in sizes(a.sizes):
        buf = mmap.mmap(-1, length)
        offs = [max(0, min(x - length // 2, size - length)) // a.align * a.align for x in at]
        offs += [rng.randrange(0, (size - length) // a.align + 1) * a.align
                 for _ in range(a.count)]
        for off in offs:
            data = rng.randbytes(length)
            buf[:] = data
            os.pwrite(fd, buf, off)
            model.seek(off)
            model.write(data)
            n += 1
    os.fsync(fd)
    print("writes: %d" % n)
    return 0


def cmd_readcheck(a):
    fd = os.open(a.dev, os.O_RDONLY | os.O_DIRECT)
    model = open(a.model, "rb")
    size = dev_size(fd)
    rng = random.Random(a.seed)
    bad = 0
    for length in sizes(a.sizes):
        buf = mmap.mmap(-1, length)
        errors = 0
        for _ in range(a.count):
            off = rng.randrange(0, (size - length) // a.align + 1) * a.align
            try:
                os.preadv(fd, [buf], off)
            except OSError:
                errors += 1
                continue
            model.seek(off)
            if buf[:] != model.read(length):
                errors += 1
        bad += errors
        print("%d-byte reads: %s" % (length, "ok" if not errors else "%d bad" % errors))
    buf = mmap.mmap(-1, 1 << 20)
    off = 0
    first = None
    while off < size and first is None:
        n = os.preadv(fd, [buf], off)
        model.seek(off)
        want = model.read(n)
        if buf[:n] != want:
            first = off + next(i for i in range(n) if buf[i] != want[i])
        off += n
    print("whole device: %s" % ("ok" if first is None else "differs at byte %d" % first))
    return 1 if bad or first is not None else 0


def cmd_rounds(a):
    fd = os.open(a.dev, os.O_RDWR | os.O_DIRECT)
    nblocks = dev_size(fd) // a.block
    rng = random.Random(a.seed)
    free = list(range(nblocks))
    rng.shuffle(free)
    log = open(a.log, "w") if a.log else None
    for r in range(1, a.rounds + 1):
        blocks = sorted(free[:a.per_round])
        del free[:a.per_round]
        # Runs of adjacent blocks go in one write.
        i = 0
        while i < len(blocks):
            j = i
            while j + 1 < len(blocks) and blocks[j + 1] == blocks[j] + 1 and j - i < 15:
                j += 1
            buf = mmap.mmap(-1, (j - i + 1) * a.block)
            for k in range(i, j + 1):
                buf[(k - i) * a.block:(k - i + 1) * a.block] = pattern(r, blocks[k], a.block)
            os.pwrite(fd, buf, blocks[i] * a.block)
            i = j + 1
        os.fsync(fd)
        if a.mark_cmd:
            subprocess.run(a.mark_cmd + " r%d" % r, shell=True, check=True)
        if log:
            log.write("r%d %s\n" % (r, " ".join(map(str, blocks))))
            log.flush()
    print("rounds: %d" % a.rounds)
    return 0


def cmd_verify(a):
    rounds = {}
    for line in open(a.log):
        name, *blocks = line.split()
        for b in blocks:
            rounds[int(b)] = name
    seen = set()
    if a.seen and os.path.exists(a.seen):
        seen = set(open(a.seen).read().split())
    fd = os.open(a.dev, os.O_RDONLY | os.O_DIRECT)
    back = open(a.backing, "rb")
    size = dev_size(fd)
    per = max(1, (1 << 20) // a.block)
    buf = mmap.mmap(-1, per * a.block)
    new = old = bad = 0
    for first in range(0, size // a.block, per):
        n = os.preadv(fd, [buf], first * a.block) // a.block
        back.seek(first * a.block)
        ref = back.read(n * a.block)
        for k in range(n):
            b = first + k
            got = buf[k * a.block:(k + 1) * a.block]
            was = ref[k * a.block:(k + 1) * a.block]
            name = rounds.get(b)
            if name and got == pattern(int(name[1:]), b, a.block):
                new += 1
            elif got == was and not (name and name in seen):
                old += 1
            else:
                bad += 1
                if bad <= 5:
                    print("block %d (%s): %r" % (b, name or "never written", got[:24]))
    print("blocks new: %d, old: %d, bad: %d" % (new, old, bad))
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("write", "readcheck"):
        s = sub.add_parser(name)
        s.add_argument("dev")
        s.add_argument("model")
        s.add_argument("--align", type=int, default=4096)
        s.add_argument("--sizes", default="4096,8192,65536")
        s.add_argument("--count", type=int, default=64)
        s.add_argument("--seed", type=int, default=1)
        s.add_argument("--at", default="")
    s = sub.add_parser("rounds")
    s.add_argument("dev")
    s.add_argument("--block", type=int, required=True)
    s.add_argument("--rounds", type=int, required=True)
    s.add_argument("--per-round", type=int, required=True)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--mark-cmd")
    s.add_argument("--log")
    s = sub.add_parser("verify")
    s.add_argument("dev")
    s.add_argument("backing")
    s.add_argument("--block", type=int, required=True)
    s.add_argument("--log", required=True)
    s.add_argument("--seen")
    a = p.parse_args()
    return {"write": cmd_write, "readcheck": cmd_readcheck,
            "rounds": cmd_rounds, "verify": cmd_verify}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
