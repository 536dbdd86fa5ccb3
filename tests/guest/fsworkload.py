#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""A deterministic file-system workload for crash-consistency tests (in the
spirit of fsstress, which Debian 12 does not package).

  fsworkload.py DIR --seed S --ops N [--mark-cmd CMD] [--manifest FILE]
                    [--max-size BYTES]

Runs N operations chosen by a pseudo-random generator seeded with S, in DIR:
creates, writes and overwrites at random offsets, appends, truncates (up and
down), renames (within and across directories, over existing files),
unlinks, mkdir/rmdir, hard links, fsync/fdatasync of files and directories,
all of it buffered I/O.  All that goes to
DIR/c/ ("churn": anything may happen to it, and a crash may leave any
consistent state of it).

Some operations create a "durable" file in DIR/d/: written with a pattern
whose every 512-byte sector names the file and its offset and fsync'd; once
fsync has returned, CMD MARKNAME runs (a dm-log-writes mark: `dmsetup
message LOG 0 mark`), then its directory is fsync'd, and the line
"MARKNAME d/FILE SIZE SHA256" is appended to the manifest.  Durable files
are never changed again, so after a crash at or after their mark they must
be there with exactly that content.

The run ends with one more durable file, so even a short one has a mark.
The same seed gives the same operations.  Prints a summary of the counts.
"""

import argparse
import hashlib
import os
import random
import subprocess
import sys


def pattern(name, gen, length, start=0):
    """Bytes [start, start+length) of the file NAME's generation GEN: every
    512-byte sector says which file, generation and byte offset it is."""
    out = bytearray()
    first = start // 512 * 512
    off = first
    while off < start + length:
        unit = ("%s g%d @%d " % (name, gen, off)).encode()
        out += (unit * (512 // len(unit) + 1))[:512]
        off += 512
    return bytes(out[start - first:start - first + length])


class Workload:
    def __init__(self, root, seed, max_size, mark_cmd, manifest):
        self.root = root
        self.rnd = random.Random(seed)
        self.max_size = max_size
        self.mark_cmd = mark_cmd
        self.manifest = manifest
        self.churn = os.path.join(root, "c")
        self.durable = os.path.join(root, "d")
        os.makedirs(self.churn, exist_ok=True)
        os.makedirs(self.durable, exist_ok=True)
        self.dirs = [self.churn]
        self.files = []
        self.serial = 0
        self.marks = 0
        self.counts = {}

    def _count(self, op):
        self.counts[op] = self.counts.get(op, 0) + 1

    def _newname(self, prefix):
        self.serial += 1
        return "%s%04d" % (prefix, self.serial)

    def _pick_file(self):
        self.files = [f for f in self.files if os.path.exists(f)]
        return self.rnd.choice(self.files) if self.files else None

    def _size(self):
        r = self.rnd.random()
        if r < 0.3:
            return self.rnd.randrange(1, 4096)
        if r < 0.8:
            return self.rnd.randrange(4096, 65536)
        return self.rnd.randrange(65536, self.max_size)

    def op_create(self):
        d = self.rnd.choice(self.dirs)
        path = os.path.join(d, self._newname("f"))
        size = self._size()
        with open(path, "wb") as f:
            f.write(pattern(os.path.basename(path), 0, size))
        self.files.append(path)

    def op_write(self):
        path = self._pick_file()
        if not path:
            return self.op_create()
        size = self._size()
        off = self.rnd.randrange(0, self.max_size)
        with open(path, "r+b") as f:
            f.seek(off)
            f.write(pattern(os.path.basename(path), self.serial, size, off))

    def op_append(self):
        path = self._pick_file()
        if not path:
            return self.op_create()
        with open(path, "ab") as f:
            f.write(pattern(os.path.basename(path), 1, self._size()))

    def op_truncate(self):
        path = self._pick_file()
        if not path:
            return self.op_create()
        os.truncate(path, self.rnd.randrange(0, self.max_size))

    def op_rename(self):
        path = self._pick_file()
        if not path:
            return self.op_create()
        if self.rnd.random() < 0.3 and len(self.files) > 1:
            target = self.rnd.choice(self.files)     # over an existing file
        else:
            target = os.path.join(self.rnd.choice(self.dirs), self._newname("r"))
        if target != path:
            os.rename(path, target)
            self.files = [f for f in self.files if f != path]
            if target not in self.files:
                self.files.append(target)

    def op_unlink(self):
        path = self._pick_file()
        if path:
            os.unlink(path)
            self.files.remove(path)

    def op_link(self):
        path = self._pick_file()
        if path:
            target = os.path.join(self.rnd.choice(self.dirs), self._newname("l"))
            os.link(path, target)
            self.files.append(target)

    def op_mkdir(self):
        d = os.path.join(self.rnd.choice(self.dirs), self._newname("D"))
        os.mkdir(d)
        self.dirs.append(d)

    def op_rmdir(self):
        empty = [d for d in self.dirs[1:] if not os.listdir(d)]
        if empty:
            d = self.rnd.choice(empty)
            os.rmdir(d)
            self.dirs.remove(d)

    def op_fsync(self):
        path = self._pick_file()
        if not path:
            return
        fd = os.open(path, os.O_RDONLY)
        (os.fdatasync if self.rnd.random() < 0.5 else os.fsync)(fd)
        os.close(fd)

    def op_fsync_dir(self):
        fd = os.open(self.rnd.choice(self.dirs), os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(fd)
        os.close(fd)

    def op_durable(self):
        name = self._newname("s")
        size = self._size()
        data = pattern(name, 0, size)
        path = os.path.join(self.durable, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        # Written in pieces, as an application would.
        done = 0
        while done < size:
            n = min(size - done, self.rnd.choice((512, 4096, 65536, 1 << 20)))
            os.write(fd, data[done:done + n])
            done += n
        os.fsync(fd)
        os.close(fd)
        # Mark as soon as the file's fsync has returned: on ext4 it commits
        # the transaction that holds the new directory entry too (with a
        # FUA commit block), and a directory fsync first would add a flush
        # that hides a FUA write completed too early.
        self.marks += 1
        mark = "m%03d" % self.marks
        if self.mark_cmd:
            subprocess.run(self.mark_cmd + " " + mark, shell=True, check=True)
        dfd = os.open(self.durable, os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
        if self.manifest:
            with open(self.manifest, "a") as m:
                m.write("%s d/%s %d %s\n" % (mark, name, size,
                                             hashlib.sha256(data).hexdigest()))

    OPS = (("create", 12), ("write", 20), ("append", 8), ("truncate", 6),
           ("rename", 8), ("unlink", 6), ("link", 3), ("mkdir", 3),
           ("rmdir", 2), ("fsync", 8), ("fsync_dir", 3), ("durable", 8))

    def run(self, nops):
        names = [n for n, w in self.OPS for _ in range(w)]
        for _ in range(nops):
            op = self.rnd.choice(names)
            getattr(self, "op_" + op)()
            self._count(op)
        # However short the run, it ends with a durable file.
        self.op_durable()
        self._count("durable")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dir")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ops", type=int, default=100)
    p.add_argument("--max-size", type=int, default=1 << 20)
    p.add_argument("--mark-cmd")
    p.add_argument("--manifest")
    args = p.parse_args()
    w = Workload(args.dir, args.seed, args.max_size, args.mark_cmd, args.manifest)
    w.run(args.ops)
    print(" ".join("%s=%d" % (k, w.counts[k]) for k in sorted(w.counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
