# SPDX-License-Identifier: GPL-2.0
"""Create/remove cycles of umlcow tables, one kind at a time, and the
kernel's memory around each kind's cycles (tests/umlcow/402).

usage: python3 leakcheck.py LENGTH REFERENCE BAD_REFERENCE KIND [KIND...]

LENGTH is every table's length in sectors; REFERENCE a dm-linear table's
parameters ("DEV 0"), BAD_REFERENCE one that dm-linear refuses ("MISSING 0").
Each KIND is one argument, fields separated by '|':

  ok|NAME|N|PARAMS            N cycles of a table that loads (create, load,
                              resume, status, remove)
  fail|NAME|N|PARAMS|REASON   N cycles of a table the constructor refuses
                              (create, load refused, remove); REASON is a
                              piece of the refusal the kernel logs
                              (ti->error), checked on the first cycle, so a
                              table refused for another reason is an error
  busy|NAME|N|PARAMS|REASON   the same, while another dm device holds a live
                              table with PARAMS (a second user refused)

Each kind is measured on its own, between two settled readings, so a leak in
one kind of table is one object per cycle of that kind, not a fraction of a
cycle that mixes kinds.  References, measured the same way first: dm-linear
cycles of the same shape (N/2 of the largest N of the kinds of that shape,
at least 50): full cycles for "ok" kinds, refused loads for "fail" and
"busy" kinds.  They are what the kernel itself keeps per create/remove (a
debug build of 6.1 keeps a dentry and an inode or two a cycle, with any
target).

Runs 10 warm-up cycles of each kind, then settles the kernel (sync, drop
caches, then every slab cache shrunk every half second until the caches stop
shrinking, and three rounds more: objects freed after an RCU grace period,
and on a KASAN kernel out of its quarantine, still count as active until
then) and records /proc/meminfo (SUnreclaim, VmallocUsed) and every
/proc/slabinfo cache's active objects (the fewest over those three rounds:
see settle()); then for each kind runs its cycles (all by ioctl), settles
and records again (that reading starts the next kind's window).

A cache leaks when it grew by half an object or more per cycle beyond the
reference's rate: a leak of one object per cycle of one kind shows as one.
Readings are exact to an object or so (settle()); should noise still pass
the mark, a kind with a cache past it runs its cycles a second time, and
only a cache past it both times counts.  vmap_area is not judged:
freed vmalloc areas (the stacks of the workqueue rescuers a constructor
starts) are purged lazily, in batches; VmallocUsed is the measure there.

Prints the numbers, then per kind:

  verdict NAME: slab grew by N kB (tolerance T kB), vmalloc by N kB (T kB)
  verdict NAME: caches: none grew by half an object a cycle more than with
                dm-linear   (or the ones that did, with their rate)

and one line "LEAK NAME: slab|vmalloc grew by N kB" or "LEAK NAME: cache
CACHE" for each measure past its tolerance.

Exit 1 if a measure is past its tolerance, 2 on a usage or setup error (a
table that should load is refused, or one that should be refused loads or is
refused for another reason).
"""

import errno
import glob
import os
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dmioctl  # noqa: E402

SLAB_TOLERANCE_KB = 1024
SETTLE_ROUNDS = 30
ROUND_S = 0.5
MIN_ROUNDS = 3
VMALLOC_TOLERANCE_KB = 512
WARMUP = 10
# Objects per cycle of one kind, beyond dm-linear's rate, that make a leak.
LEAK_RATE = 0.5
# Freed lazily, in batches (see the docstring); VmallocUsed is judged instead.
NOT_JUDGED = ("vmap_area",)


class SetupError(Exception):
    pass


def meminfo():
    out = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":", 1)
            out[k] = int(v.split()[0])
    return out


_SLABINFO = None


def slabinfo():
    """Active objects of every cache, read through one file kept open (a
    file opened per reading is a filp and more, allocated and freed: noise
    in those caches, see settle())."""
    global _SLABINFO
    if _SLABINFO is None:
        _SLABINFO = open("/proc/slabinfo")
    _SLABINFO.seek(0)
    out = {}
    for line in _SLABINFO.read().splitlines()[2:]:
        w = line.split()
        out[w[0]] = int(w[1])
    return out


def shrink_files():
    """SLUB's /sys/kernel/slab/*/shrink of every cache (the aliases of
    merged caches once, through their cache), opened once: the kmalloc
    caches last, the smallest last of all, so that what the writes
    themselves allocate (a file, the write's buffer) has gone back before
    those caches are shrunk and read."""
    def order(name):
        if name.startswith("kmalloc-") and name[8:].rstrip("k").isdigit():
            size = int(name[8:].rstrip("k")) * (1024 if name.endswith("k") else 1)
            return (1, -size)
        return (0, 0)
    names = [os.path.basename(d) for d in glob.glob("/sys/kernel/slab/*")
             if not os.path.islink(d)]
    fds = []
    for name in sorted(names, key=order):
        try:
            fds.append(os.open("/sys/kernel/slab/%s/shrink" % name, os.O_WRONLY))
        except OSError:
            pass
    return fds


def shrink_caches(fds):
    """Shrink every slab cache.  Besides freeing empty slabs, this empties
    KASAN's quarantine of the cache: on a KASAN kernel freed objects wait
    there and count as active in /proc/slabinfo (a debug-kernel run saw 23
    kernfs nodes a cycle that were only that)."""
    for fd in fds:
        try:
            os.write(fd, b"1")
        except OSError:
            pass


def settle():
    """Settle the kernel; return each slab cache's active objects, the
    fewest seen over the shrink rounds.  SLUB counts the free objects of the
    slabs a CPU holds as active (up to 512 of kmalloc-8, 42 of kmalloc-96 a
    slab), and anything allocated after a cache's shrink hands it such a
    slab again: a reading is off by up to a few hundred objects in the busy
    small caches, upwards only, so the fewest of several is the nearest to
    what is in use (a leaked object is there in every reading)."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    time.sleep(1)
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    fds = shrink_files()
    try:
        # On a debug kernel under TCG, RCU callbacks lag by seconds: shrink
        # until the total stops falling, then MIN_ROUNDS more readings.
        fewest, last, calm = None, None, 0
        for _ in range(SETTLE_ROUNDS):
            time.sleep(ROUND_S)
            shrink_caches(fds)
            now = slabinfo()
            total = sum(now.values())
            if last is not None and total >= last:
                calm += 1
            if calm:
                fewest = now if fewest is None else {
                    c: min(v, fewest.get(c, v)) for c, v in now.items()}
            if calm >= MIN_ROUNDS:
                break
            last = total if last is None else min(last, total)
    finally:
        for fd in fds:
            os.close(fd)
    return fewest if fewest is not None else slabinfo()


class Kmsg:
    """The kernel log from now on (for the refusal reason of a table)."""

    def __init__(self):
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def read(self):
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192)
            except BlockingIOError:
                break
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten: read on
                    continue
                raise
            out.append(rec.decode(errors="replace").split(";", 1)[-1])
        return "".join(out)

    def close(self):
        os.close(self.fd)


class Kind:
    def __init__(self, arg):
        f = arg.split("|")
        if f[0] == "ok" and len(f) == 4:
            self.reason = None
        elif f[0] in ("fail", "busy") and len(f) == 5:
            self.reason = f[4]
        else:
            raise SetupError("bad KIND: %r" % arg)
        self.shape, self.name, self.params = f[0], f[1], f[3]
        if not f[2].isdigit() or int(f[2]) < 1:
            raise SetupError("bad cycle count in KIND: %r" % arg)
        self.n = int(f[2])


def cycle_ok(dm, name, target, params, length):
    dm.create(name)
    try:
        dm.load(name, [(0, length, target, params)])
        dm.resume(name)
        dm.status(name)
    finally:
        dm.remove(name)


def cycle_fail(dm, name, kind, length, target="umlcow"):
    """One cycle of a table that must be refused; return the errno."""
    dm.create(name)
    try:
        dm.load(name, [(0, length, target, kind.params)])
    except OSError as e:
        return e.errno
    finally:
        dm.remove(name)
    raise SetupError("%s: the table loaded; it should be refused (%s)"
                     % (kind.name, kind.reason))


def cycles(dm, kind, n, length):
    name = "leak402-%d" % os.getpid()
    if kind.shape == "ok":
        for _ in range(n):
            cycle_ok(dm, name, "umlcow", kind.params, length)
        return
    for _ in range(n):
        cycle_fail(dm, name, kind, length)


def check_reason(dm, kind, length):
    """The first cycle of a failing kind: refused for the reason given."""
    log = Kmsg()
    try:
        err = cycle_fail(dm, "leak402-%d" % os.getpid(), kind, length)
        text = log.read()
    finally:
        log.close()
    if kind.reason not in text:
        raise SetupError("%s: refused (%s) without '%s' in the kernel log:\n%s"
                         % (kind.name, os.strerror(err), kind.reason,
                            text.strip()))
    print("%s: refused, %s, '%s'" % (kind.name, errno.errorcode.get(err, err),
                                     kind.reason))


class Holder:
    """Another dm device with a live table on the same COW device."""

    def __init__(self, dm, kind, length):
        self.dm, self.name = dm, "leak402-hold-%d" % os.getpid()
        self.live = False
        if kind.shape == "busy":
            cycle_ok_start(dm, self.name, kind.params, length)
            self.live = True

    def close(self):
        if self.live:
            self.dm.remove(self.name)
            self.live = False


def cycle_ok_start(dm, name, params, length):
    dm.create(name)
    try:
        dm.load(name, [(0, length, "umlcow", params)])
        dm.resume(name)
    except OSError:
        dm.remove(name)
        raise


class Window:
    """Readings of the kernel's memory, each after a settle; a window ends
    where the next begins unless something changed in between."""

    def __init__(self):
        self.last = None

    def reading(self):
        slabs = settle()
        return meminfo(), slabs

    def measure(self, run, fresh=False):
        """Run between two settled readings; return them and the time taken."""
        if fresh or self.last is None:
            self.last = self.reading()
        m0, s0 = self.last
        start = time.time()
        run()
        took = time.time() - start
        self.last = self.reading()
        return m0, s0, self.last[0], self.last[1], took


def growth(s0, s1):
    return {c: s1[c] - s0.get(c, 0) for c in s1 if s1[c] - s0.get(c, 0) > 0}


def leaky_caches(kind, ref, grown):
    rate = {c: d / kind.n - ref[1].get(c, 0) / ref[0]
            for c, d in grown.items() if c not in NOT_JUDGED}
    return {c: r for c, r in rate.items() if r >= LEAK_RATE}


def report(kind, res, leaky, confirm=None):
    m0, s0, m1, s1, took = res
    print("%s: %d cycles in %.1f s" % (kind.name, kind.n, took))
    for k in ("SUnreclaim", "VmallocUsed"):
        print("%s: %-12s %8d kB -> %8d kB" % (kind.name, k, m0[k], m1[k]))
    grown = growth(s0, s1)
    for d, c in sorted((d, c) for c, d in grown.items())[-4:]:
        print("%s: cache %-24s +%d objects" % (kind.name, c, d))
    if confirm is not None:
        print("%s: past the mark in the first window: %s" % (
            kind.name, ", ".join("%s +%.2f a cycle" % (c, r)
                                 for c, r in sorted(confirm.items()))))
    slab = m1["SUnreclaim"] - m0["SUnreclaim"]
    vm = m1["VmallocUsed"] - m0["VmallocUsed"]
    print("verdict %s: slab grew by %d kB (tolerance %d kB), vmalloc by %d kB "
          "(tolerance %d kB)" % (kind.name, slab, SLAB_TOLERANCE_KB, vm,
                                 VMALLOC_TOLERANCE_KB))
    print("verdict %s: caches: %s" % (
        kind.name,
        ", ".join("%s +%.2f a cycle" % (c, leaky[c]) for c in sorted(leaky))
        if leaky else
        "none grew by half an object a cycle more than with dm-linear"))
    bad = False
    if slab > SLAB_TOLERANCE_KB:
        print("LEAK %s: slab grew by %d kB" % (kind.name, slab))
        bad = True
    if vm > VMALLOC_TOLERANCE_KB:
        print("LEAK %s: vmalloc grew by %d kB" % (kind.name, vm))
        bad = True
    for c in sorted(leaky):
        print("LEAK %s: cache %s" % (kind.name, c))
        bad = True
    return bad


def main():
    if len(sys.argv) < 5:
        raise SetupError(__doc__)
    length, reference, bad_reference = (int(sys.argv[1]), sys.argv[2],
                                        sys.argv[3])
    kinds = [Kind(a) for a in sys.argv[4:]]
    dm = dmioctl.Control()
    name = "leak402-%d" % os.getpid()
    linear_bad = Kind("fail|dm-linear refused|1|%s|linear: " % bad_reference)

    for _ in range(WARMUP):
        cycle_ok(dm, name, "linear", reference, length)
        cycle_fail(dm, name, linear_bad, length, "linear")
    for kind in kinds:
        holder = Holder(dm, kind, length)
        try:
            if kind.shape != "ok":
                check_reason(dm, kind, length)
            cycles(dm, kind, WARMUP, length)
        finally:
            holder.close()

    win = Window()
    refs = {}
    for shape, label, one in (
            ("ok", "dm-linear", lambda: cycle_ok(dm, name, "linear",
                                                 reference, length)),
            ("fail", "dm-linear refused",
             lambda: cycle_fail(dm, name, linear_bad, length, "linear"))):
        ns = [k.n for k in kinds if (k.shape == "ok") == (shape == "ok")]
        if not ns:
            continue
        ref_n = max(max(ns) // 2, 50)
        _, r0, _, r1, took = win.measure(
            lambda: [one() for _ in range(ref_n)])
        refs[shape] = (ref_n, growth(r0, r1))
        print("reference: %d %s cycles in %.1f s" % (ref_n, label, took))
        for d, c in sorted((d, c) for c, d in refs[shape][1].items())[-4:]:
            print("reference: %s cache %-24s +%d objects" % (label, c, d))

    bad = False
    for kind in kinds:
        ref = refs["ok" if kind.shape == "ok" else "fail"]
        confirm = None
        for attempt in (1, 2):
            holder = Holder(dm, kind, length)
            try:
                res = win.measure(lambda: cycles(dm, kind, kind.n, length),
                                  fresh=holder.live)
            finally:
                holder.close()
            if kind.shape == "busy":
                win.last = None  # the holder's removal is in no window
            leaky = leaky_caches(kind, ref, growth(res[1], res[3]))
            if confirm is not None:
                leaky = {c: r for c, r in leaky.items() if c in confirm}
            if not leaky or attempt == 2:
                break
            confirm = leaky
            print("%s: %s past the mark: measuring again" % (
                kind.name, ", ".join(sorted(leaky))))
        bad |= report(kind, res, leaky, confirm)
    return 1 if bad else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SetupError as e:
        print("leakcheck.py: %s" % e, file=sys.stderr)
        sys.exit(2)
