#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Replay a dm-log-writes log onto an image, stopping at every crash point.

  logreplay.py info LOG
      The log's super block and its entries counted by kind.

  logreplay.py replay LOG IMAGE [--exec CMD] [--cow BMO,DAO,SS,NSEC]
                               [--limit N] [--every-entry] [--skip-same]
      Apply the log's entries in order to IMAGE (a copy of the device as it
      was when logging started; changed in place).  A crash point is every
      entry with FLUSH or FUA and every mark (--every-entry: every entry).
      At each point IMAGE holds exactly what a crash right after that entry
      would have left on the device, and CMD (run by bash -c) runs with
      POINT (the entry's index), KIND (flush, fua, flush+fua, mark or
      write), MARK (the mark's name) and IMAGE in its environment; a
      non-zero exit of CMD is counted as a failed point (replay goes on).
      --limit stops after N points.  --skip-same runs CMD only where IMAGE
      changed since the last point it ran at (and at every mark): the
      same image gives the same result.  --share K/N runs CMD at every
      Nth of the points it would run at, from the Kth, and at every mark
      (tests/check --share: N runs with K = 1..N check every point once).

      With --cow, IMAGE is a UML COW file (bitmap at byte BMO, data area at
      byte DAO, SS-byte sectors, NSEC sectors): every write that touches
      the bitmap is checked against the data the log has made durable so
      far (data is durable once a later FLUSH entry is logged, or at once
      when written with FUA), and at every point every set bit must have
      durable data or have been set in the initial IMAGE.  Bits are never
      cleared.  Violations are printed (the first few) and counted.

      Prints "points replayed: N", "points checked: N" (CMD runs),
      "points failed: N", and with --cow
      "bitmap writes: N", "bits set: N", "bits without durable data: N".
      Exit 0 when every point passed and nothing was violated, else 1.

The on-disk format is dm-log-writes' (drivers/md/dm-log-writes.c): a super
block (magic, version, nr_entries, sectorsize; little-endian) in the first
log sector; each entry fills one log sector (sector, nr_sectors, flags,
data_len, then a mark's name inline), followed by nr_sectors sectors of data
except for discards; sector and nr_sectors count the logged device's
logical blocks (sectorsize bytes).  Writes without FUA are logged when the
next flush completes, before that flush's entry, so the order of entries is
the order data reached stable storage.  A write-zeroes is logged as a write
with no data in the log: its log sectors stay as they were (zeros on a
fresh log file), which is also what it wrote.
"""

import argparse
import os
import struct
import subprocess
import sys

MAGIC = 0x6A736677736872
FLUSH, FUA, DISCARD, MARK, METADATA = 1, 2, 4, 8, 16
ENTRY = struct.Struct("<QQQQ")
SUPER = struct.Struct("<QQQI")


class Log:
    def __init__(self, path):
        self.f = open(path, "rb")
        magic, version, self.nr_entries, self.ss = SUPER.unpack(
            self.f.read(SUPER.size))
        if magic != MAGIC or version != 1:
            sys.exit("%s: not a dm-log-writes log (magic %#x, version %d)"
                     % (path, magic, version))
        if self.ss < 512 or self.ss & (self.ss - 1):
            sys.exit("%s: bad sector size %d" % (path, self.ss))

    def entries(self):
        """Yield (index, sector, nr_sectors, flags, mark, data_pos)."""
        pos = self.ss
        for i in range(self.nr_entries):
            self.f.seek(pos)
            raw = self.f.read(self.ss)
            if len(raw) < ENTRY.size:
                sys.exit("log ends inside entry %d" % i)
            sector, nr, flags, datalen = ENTRY.unpack_from(raw)
            mark = ""
            if flags & MARK:
                mark = raw[ENTRY.size:ENTRY.size + datalen].decode(
                    "utf-8", "replace")
            pos += self.ss
            data_pos = pos
            if not flags & (DISCARD | MARK):
                pos += nr * self.ss
            yield i, sector, nr, flags, mark, data_pos

    def data(self, data_pos, length):
        self.f.seek(data_pos)
        buf = self.f.read(length)
        if len(buf) < length:
            buf += bytes(length - len(buf))
        return buf


def kind_of(flags):
    if flags & MARK:
        return "mark"
    k = [n for f, n in ((FLUSH, "flush"), (FUA, "fua")) if flags & f]
    return "+".join(k) if k else ("discard" if flags & DISCARD else "write")


class CowCheck:
    """The umlcow invariant: a set bit has durable data."""

    def __init__(self, spec, image):
        self.bmo, self.dao, self.ss, self.nsec = (int(x) for x in spec.split(","))
        self.bml = (self.nsec + 7) // 8
        with open(image, "rb") as f:
            f.seek(self.bmo)
            bm = f.read(self.bml)
        self.bitmap = bytearray(bm + bytes(self.bml - len(bm)))
        # 0 nothing, 1 written but not flushed, 2 durable (or set at start)
        self.state = bytearray(self.nsec)
        for n in range(self.nsec):
            if self.bitmap[n >> 3] >> (n & 7) & 1:
                self.state[n] = 2
        self.pending = set()
        self.bitmap_writes = self.bits_set = self.violations = 0

    def _report(self, text):
        self.violations += 1
        if self.violations <= 10:
            print(text)

    def flush(self):
        for n in self.pending:
            self.state[n] = 2
        self.pending.clear()

    def write(self, index, start, length, data, fua):
        """A write of LENGTH bytes at byte START of the COW device; DATA is
        None for zeroes.  Call after applying it to the image."""
        end = start + length
        if start < self.dao and end > self.bmo:
            self._bitmap_write(index, start, end, data)
        if end > self.dao:
            first = max(start - self.dao, 0) // self.ss
            last = min((end - self.dao + self.ss - 1) // self.ss, self.nsec)
            for n in range(first, last):
                if fua:
                    self.state[n] = 2
                    self.pending.discard(n)
                elif self.state[n] != 2:
                    self.state[n] = 1
                    self.pending.add(n)
                else:
                    # Rewritten: the new data is as durable as a write
                    # before a flush, but the old data was durable: a set
                    # bit still finds whole (old or new) sector contents.
                    pass

    def _bitmap_write(self, index, start, end, data):
        lo = max(start, self.bmo)
        hi = min(end, self.bmo + self.bml)
        if lo >= hi:
            return
        self.bitmap_writes += 1
        if data is not None and \
                data[lo - start:hi - start] == self.bitmap[lo - self.bmo:hi - self.bmo]:
            return
        for off in range(lo, hi):
            new = data[off - start] if data is not None else 0
            old = self.bitmap[off - self.bmo]
            if old & ~new & 0xFF:
                self._report("entry %d clears bits in bitmap byte %d (%02x -> %02x)"
                             % (index, off - self.bmo, old, new))
            gained = new & ~old & 0xFF
            for b in range(8):
                if gained >> b & 1:
                    n = (off - self.bmo) * 8 + b
                    if n >= self.nsec:
                        continue
                    self.bits_set += 1
                    if self.state[n] != 2:
                        self._report("entry %d sets bit %d before its data is durable"
                                     % (index, n))
            self.bitmap[off - self.bmo] = new


def parse_share(text):
    """K/N, 1 <= K <= N, as (K, N)."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError("not K/N: %r" % text)
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError("not 1 <= K <= N: %r" % text)
    return k, n


def cmd_info(args):
    log = Log(args.log)
    counts = {}
    for _, _, nr, flags, _, _ in log.entries():
        k = kind_of(flags)
        counts[k] = counts.get(k, 0) + 1
    print("entries: %d, sector size: %d" % (log.nr_entries, log.ss))
    for k in sorted(counts):
        print("%s: %d" % (k, counts[k]))
    return 0


def cmd_replay(args):
    log = Log(args.log)
    img = os.open(args.image, os.O_RDWR)
    cow = CowCheck(args.cow, args.image) if args.cow else None
    points = failed = checked = due = 0
    share_k, share_n = args.share
    changed = True
    for i, sector, nr, flags, mark, data_pos in log.entries():
        if flags & FLUSH and cow:
            # The data of the writes logged before a flush entry is durable.
            cow.flush()
        if nr and not flags & MARK:
            start, length = sector * log.ss, nr * log.ss
            if flags & DISCARD:
                data = None
                os.pwrite(img, bytes(length), start)
            else:
                data = log.data(data_pos, length)
                os.pwrite(img, data, start)
            if cow:
                cow.write(i, start, length, data, bool(flags & FUA))
            changed = True
        if not (args.every_entry or flags & (FLUSH | FUA | MARK)):
            continue
        points += 1
        # A point whose image equals the last checked one's gives the same
        # result, unless it is a mark (its check may expect more).
        mine = False
        if args.exec and (changed or flags & MARK or not args.skip_same):
            due += 1
            changed = False
            # The points due are the same for every share; each checks
            # every Nth of them, and every mark.
            mine = flags & MARK or (due - 1) % share_n == share_k - 1
        if mine:
            checked += 1
            env = dict(os.environ, POINT=str(i), KIND=kind_of(flags),
                       MARK=mark, IMAGE=args.image)
            sys.stdout.flush()
            if subprocess.call(["bash", "-c", args.exec], env=env) != 0:
                failed += 1
        if args.limit and points >= args.limit:
            break
    os.close(img)
    print("points replayed: %d" % points)
    print("points checked: %d" % checked)
    print("points failed: %d" % failed)
    bad = failed
    if cow:
        print("bitmap writes: %d" % cow.bitmap_writes)
        print("bits set: %d" % cow.bits_set)
        print("bits without durable data: %d" % cow.violations)
        bad += cow.violations
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("info")
    s.add_argument("log")
    s = sub.add_parser("replay")
    s.add_argument("log")
    s.add_argument("image")
    s.add_argument("--exec")
    s.add_argument("--cow")
    s.add_argument("--limit", type=int, default=0)
    s.add_argument("--every-entry", action="store_true")
    s.add_argument("--skip-same", action="store_true")
    s.add_argument("--share", type=parse_share, default=(1, 1))
    args = p.parse_args()
    return cmd_info(args) if args.cmd == "info" else cmd_replay(args)


if __name__ == "__main__":
    sys.exit(main())
