# SPDX-License-Identifier: GPL-2.0
"""Generated umlcow tables against the kernel (tests/umlcow/401).

usage: python3 tablefuzz.py SEED COUNT COW_DEV BACKING_DEV SMALL_DEV \
           BITMAP_OFFSET DATA_OFFSET SECTOR_SIZE NR_SECTORS

Builds COUNT table lines from a valid one (random arity, huge, negative,
overflowing and malformed numbers, wrong and missing devices, feature groups
with wrong counts, unknown, repeated and out-of-range features), loads each
into an empty device with DM_TABLE_LOAD and judges the answer:

- a table that breaks a documented rule (umlcow.rst, Constructor) must be
  refused;
- a table that is the valid one with valid features, a shorter valid length
  or major:minor device names must be accepted;
- every accepted table must read back (STATUSTYPE_TABLE) with the same
  devices and numbers, load again from its read-back to the same read-back,
  and, made live, have the table's size and read its first and last block.

Prints one line per failure (FAIL ...) and a summary; exit 1 on a failure.
The kernel log is checked by tests/check after the test.
"""

import mmap
import os
import random
import stat
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dmioctl  # noqa: E402

U64 = 1 << 64
U32 = 1 << 32
MAX_COMMIT_MS = 3600000
MAX_FEATURES = 4


def devno(path):
    st = os.stat(path)
    return "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))


def size_sectors(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END) // 512
    finally:
        os.close(fd)


def parse_u(s, limit):
    """kstrtou64/kstrtouint base 10: optional '+', digits, value < limit.
    None if the kernel must refuse it."""
    t = s[1:] if s.startswith("+") else s
    if not t.isdigit() or not t.isascii():
        return None
    v = int(t)
    return v if v < limit else None


class Fuzz:
    def __init__(self, argv):
        (self.seed, self.count, self.cow, self.back, self.small, bmo, dao,
         ss, nr) = argv
        self.seed = int(self.seed)
        self.count = int(self.count)
        self.bmo, self.dao, self.ss, self.nr = (int(bmo), int(dao), int(ss),
                                                int(nr))
        self.rng = random.Random(self.seed)
        self.dev_size = {}
        for p in (self.cow, self.back, self.small):
            self.dev_size[devno(p)] = size_sectors(p)
        self.dm = dmioctl.Control()
        self.name = "fuzz401-%d" % os.getpid()
        self.failures = 0
        self.reasons = {}
        self.stats = {"tried": 0, "refused": 0, "accepted": 0,
                      "must_refuse": 0, "must_accept": 0, "live": 0}

    # --- generation ---------------------------------------------------
    def number(self, valid):
        r = self.rng.random()
        if r < 0.45:
            return str(valid)
        choices = [
            "0", "1", "-1", "-0", "+%d" % valid, str(U64 - 1), str(U64),
            str(U64 + valid), str(U32 - 1), str(U32), str(U32 + 512),
            str(1 << 63), "9" * 30, "0x%x" % valid, "%de0" % valid,
            "%d.0" % valid, "%dabc" % valid, "abc", "", " ", "512 ",
            str(valid * 2), str(valid + 1), str(max(valid - 1, 0)),
            str(valid * 8), str(self.rng.randrange(0, 1 << 40)),
            str(self.rng.randrange(0, 1 << 64)), "٣",
        ]
        return self.rng.choice(choices)

    def device(self, valid_path):
        r = self.rng.random()
        if r < 0.6:
            return valid_path
        return self.rng.choice([
            devno(valid_path), self.small, devno(self.small), self.cow,
            self.back, "/dev/nonexistent", "/dev/null", "/dev/zero",
            "/proc/version", "0:0", "259:999999", "-1:0", "4294967296:0",
            "253:4095", "abc", "", "/dev/mapper/" + self.name, "8:"])

    def features(self):
        r = self.rng.random()
        if r < 0.25:
            return []
        feats = []
        for _ in range(self.rng.randrange(0, 4)):
            f = self.rng.choice([
                ["read_only"], ["no_discard"], ["READ_ONLY"],
                ["commit_interval", str(self.rng.randrange(0, MAX_COMMIT_MS + 1))],
                ["commit_interval", self.rng.choice(
                    ["0", "1", str(MAX_COMMIT_MS), str(MAX_COMMIT_MS + 1),
                     "-1", str(U32), str(U32 + 5), "x", "1000ms"])],
                ["commit_interval"], ["frobnicate"], ["discard"], ["ro"],
                [""], ["read_only=1"]])
            feats += f
        count = len(feats)
        r = self.rng.random()
        if r < 0.75:
            head = [str(count)]
        else:
            head = [self.rng.choice([str(count + 1), str(max(count - 1, 0)),
                                     "-1", str(U32), "5", "99", "x",
                                     str(U64)])]
        return head + feats

    def generate(self):
        """A table: (length, args, class) with class 'accept', 'any'."""
        rng = self.rng
        full = self.nr * self.ss // 512
        step = self.ss // 512
        if rng.random() < 0.2:
            # Valid by construction: must be accepted.
            length = full if rng.random() < 0.5 else \
                rng.randrange(1, full // step + 1) * step
            cow = self.cow if rng.random() < 0.5 else devno(self.cow)
            back = self.back if rng.random() < 0.5 else devno(self.back)
            feats = []
            for f in rng.sample(["read_only", "no_discard", "commit"],
                                rng.randrange(0, 4)):
                if f == "commit":
                    feats += ["commit_interval",
                              str(rng.randrange(0, MAX_COMMIT_MS + 1))]
                else:
                    feats.append(f)
            args = [cow, back, str(self.bmo), str(self.dao), str(self.ss),
                    str(self.nr)]
            if feats or rng.random() < 0.5:
                args += [str(len(feats))] + feats
            return str(length), args, "accept"
        if rng.random() < 0.35:
            # The valid table with one thing wrong (or not): each rule is
            # met alone, not hidden behind an earlier refusal.
            length = str(full)
            args = [self.cow, self.back, str(self.bmo), str(self.dao),
                    str(self.ss), str(self.nr)]
            k = rng.randrange(0, 8)
            if k == 0:
                length = str(rng.choice([full + step, full * 2, full + 1,
                                         full - 1, 0, U64 - 1, 1 << 63,
                                         full - step]))
            elif k <= 2:
                args[k - 1] = self.device(args[k - 1])
            elif k <= 6:
                args[k - 1] = self.number(int(args[k - 1]))
            else:
                args += self.features()
            return length, args, "any"
        length = parse_u(self.number(full), U64)
        if length is None:
            # The ioctl carries the length as a number.
            length = self.rng.choice([full, 0, U64 - 1, 1 << 63, full + step])
        length = str(length)
        args = [self.device(self.cow), self.device(self.back),
                self.number(self.bmo), self.number(self.dao),
                self.number(self.ss), self.number(self.nr)]
        args += self.features()
        r = rng.random()
        if r < 0.1:
            del args[rng.randrange(0, len(args)):]
        elif r < 0.2:
            args += [self.number(1) for _ in range(rng.randrange(1, 4))]
        elif r < 0.25:
            rng.shuffle(args)
        return length, args, "any"

    # --- the rules ------------------------------------------------------
    def must_refuse(self, length, args):
        """The documented rules this table breaks (empty: none known)."""
        why = []
        ln = parse_u(length, U64)
        if ln is None or ln == 0:
            return ["bad target length"]
        if len(args) < 6:
            return ["fewer than 6 arguments"]
        bmo = parse_u(args[2], U64)
        dao = parse_u(args[3], U64)
        ss = parse_u(args[4], U32)
        nr = parse_u(args[5], U64)
        if None in (bmo, dao, ss, nr):
            why.append("a number does not parse")
        if ss is not None and ss not in (512, 1024, 2048, 4096):
            why.append("sector size")
        if nr == 0:
            why.append("nr_sectors 0")
        if dao is not None and dao % 512:
            why.append("data offset not a multiple of 512")
        if nr and ss in (512, 1024, 2048, 4096):
            total = nr * ss
            if total >= U64:
                why.append("image size overflows")
            elif ln * 512 > total:
                why.append("length past the image")
            if ln % (ss // 512):
                why.append("length not a multiple of the sector size")
        devs = []
        for a in args[:2]:
            d = self.resolve(a)
            if d is None:
                why.append("no such block device: %r" % a)
            devs.append(d)
        if devs[0] and devs[0] == devs[1]:
            why.append("COW and backing are the same")
        if (devs[1] and nr and ss in (512, 1024, 2048, 4096) and
                self.dev_size[devs[1]] * 512 < nr * ss):
            why.append("backing device too small")
        # Feature group.
        rest = args[6:]
        if rest:
            n = parse_u(rest[0], U32)
            if n is None or n > MAX_FEATURES or n > len(rest) - 1:
                why.append("feature count")
            else:
                feats = rest[1:1 + n]
                if len(rest) - 1 > n:
                    why.append("too many arguments")
                i = 0
                while i < len(feats):
                    f = feats[i].lower()
                    if f in ("read_only", "no_discard"):
                        i += 1
                    elif f == "commit_interval":
                        if i + 1 >= len(feats):
                            why.append("commit_interval needs a value")
                            break
                        v = parse_u(feats[i + 1], U32)
                        if v is None or v > MAX_COMMIT_MS:
                            why.append("commit_interval out of range")
                        i += 2
                    else:
                        why.append("unknown feature %r" % feats[i])
                        i += 1
        return why

    def resolve(self, arg):
        """The major:minor of one of our test devices, else None (the
        generator only names our devices or ones that cannot be used)."""
        try:
            st = os.stat(arg)
            if not stat.S_ISBLK(st.st_mode):
                return None
            d = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        except (OSError, ValueError):
            d = arg
        return d if d in self.dev_size else None

    # --- the kernel -----------------------------------------------------
    def fail(self, what, length, args):
        self.failures += 1
        print("FAIL: %s: 0 %s umlcow %s" % (what, length, " ".join(args)))

    def fresh(self):
        if self.dm.exists(self.name):
            self.dm.remove(self.name)
        self.dm.create(self.name)

    def check_accepted(self, length, args):
        ln = int(length.lstrip("+"))
        back = self.dm.table(self.name, inactive=True)
        if len(back) != 1 or back[0][2] != "umlcow" or back[0][1] != ln:
            return "read-back table %r" % (back,)
        words = back[0][3].split()
        want = [self.resolve(args[0]), self.resolve(args[1])] + \
            [str(int(a.lstrip("+"))) for a in args[2:6]]
        if words[:6] != want:
            return "read-back %r, not %r" % (words[:6], want)
        # The read-back builds the same table again.
        self.dm.clear(self.name)
        try:
            self.dm.load(self.name, [(0, ln, "umlcow", back[0][3])])
        except OSError as e:
            return "its read-back %r is refused (%s)" % (back[0][3], e)
        again = self.dm.table(self.name, inactive=True)
        if again != back:
            return "read-back changes on reload: %r, then %r" % (back, again)
        # Live: size and the first and last logical blocks.
        try:
            dev = self.dm.info(self.name)[0]
            self.dm.resume(self.name)
        except OSError as e:
            print("  refused at resume (%s): %s" % (e, " ".join(args)))
            return None
        self.stats["live"] += 1
        ss = int(args[4].lstrip("+"))
        node = "/tmp/fuzz401-node"
        try:
            os.unlink(node)
        except FileNotFoundError:
            pass
        os.mknod(node, stat.S_IFBLK | 0o600, dev)
        fd = os.open(node, os.O_RDONLY | os.O_DIRECT)
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
            if size != ln * 512:
                return "live size %d bytes, table says %d" % (size, ln * 512)
            buf = mmap.mmap(-1, ss)
            for off in (0, size - ss):
                os.lseek(fd, off, os.SEEK_SET)
                if os.readv(fd, [buf]) != ss:
                    return "short read at byte %d" % off
        except OSError as e:
            return "read failed: %s" % e
        finally:
            os.close(fd)
            os.unlink(node)
        return None

    def run(self):
        self.fresh()
        for i in range(self.count):
            length, args, cls = self.generate()
            # What the kernel sees: words split at white space.
            args = " ".join(args).split()
            line = "0 %s umlcow %s" % (length, " ".join(args))
            why = self.must_refuse(length, args)
            self.stats["tried"] += 1
            if why:
                self.stats["must_refuse"] += 1
                first = why[0].split(":")[0]
                self.reasons[first] = self.reasons.get(first, 0) + 1
            if cls == "accept":
                self.stats["must_accept"] += 1
                if why:
                    raise SystemExit("generator bug: %s: %s" % (line, why))
            try:
                self.dm.load(self.name, [(0, int(length), "umlcow",
                                          " ".join(args))])
            except OSError as e:
                self.stats["refused"] += 1
                if cls == "accept":
                    self.fail("valid table refused (%s)" % e, length, args)
                continue
            self.stats["accepted"] += 1
            if why:
                self.fail("accepted, but " + "; ".join(why), length, args)
            else:
                bad = self.check_accepted(length, args)
                if bad:
                    self.fail("accepted, but " + bad, length, args)
            self.fresh()
        self.dm.remove(self.name)
        for r, n in sorted(self.reasons.items(), key=lambda kv: -kv[1]):
            print("  rule %-45s %4d tables" % (r, n))
        print(" ".join("%s=%d" % kv for kv in self.stats.items()))
        return self.failures


if __name__ == "__main__":
    if len(sys.argv) != 10:
        sys.exit(__doc__)
    sys.exit(1 if Fuzz(sys.argv[1:]).run() else 0)
