# SPDX-License-Identifier: GPL-2.0
"""Device-mapper ioctls from Python, for guest tests that need thousands of
table loads: under TCG every dmsetup run costs about a second (the binary and
its libraries come over 9p), one ioctl costs microseconds.

Only what the tests need: create, load, resume, suspend, clear, remove,
status/table.  Structures as in <linux/dm-ioctl.h> (interface version 4).
A refused ioctl raises OSError with the kernel's errno; the refusal's reason
is in the kernel log, as with dmsetup.

    import dmioctl
    dm = dmioctl.Control()
    dev = dm.create("name")                  # dev_t of the new device
    dm.load("name", [(0, 8192, "linear", "/dev/loop0 0")])
    dm.resume("name")
    dm.table("name")   -> [(start, length, type, params)]
    dm.status("name")  -> [(start, length, type, info)]
    dm.remove("name")
"""

import errno
import fcntl
import os
import struct

DM_NAME_LEN = 128
DM_UUID_LEN = 129
DM_MAX_TYPE_NAME = 16

# struct dm_ioctl: version[3], data_size, data_start, target_count,
# open_count, flags, event_nr, padding, dev, name, uuid, data[7]
_HDR = struct.Struct("=3I I I I i I I I Q 128s 129s 7s")
# struct dm_target_spec: sector_start, length, status, next, target_type
_SPEC = struct.Struct("=Q Q i I 16s")
assert _HDR.size == 312 and _SPEC.size == 40

READONLY_FLAG = 1 << 0
SUSPEND_FLAG = 1 << 1
STATUS_TABLE_FLAG = 1 << 4
BUFFER_FULL_FLAG = 1 << 8
SKIP_LOCKFS_FLAG = 1 << 10
NOFLUSH_FLAG = 1 << 11
QUERY_INACTIVE_TABLE_FLAG = 1 << 12

(VERSION, REMOVE_ALL, LIST_DEVICES, DEV_CREATE, DEV_REMOVE, DEV_RENAME,
 DEV_SUSPEND, DEV_STATUS, DEV_WAIT, TABLE_LOAD, TABLE_CLEAR, TABLE_DEPS,
 TABLE_STATUS, LIST_VERSIONS, TARGET_MSG) = range(15)


def _iowr(nr):
    # _IOWR(0xfd, nr, struct dm_ioctl)
    return (3 << 30) | (_HDR.size << 16) | (0xFD << 8) | nr


def major(dev):
    return os.major(dev)


def minor(dev):
    return os.minor(dev)


class Control:
    def __init__(self, path="/dev/mapper/control"):
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def close(self):
        os.close(self.fd)

    def _call(self, cmd, name="", flags=0, payload=b"", target_count=0,
              size=16384):
        size = max(size, _HDR.size + len(payload))
        while True:
            buf = bytearray(size)
            _HDR.pack_into(buf, 0, 4, 0, 0, size, _HDR.size, target_count,
                           0, flags, 0, 0, 0, name.encode()[:DM_NAME_LEN - 1],
                           b"", b"")
            buf[_HDR.size:_HDR.size + len(payload)] = payload
            fcntl.ioctl(self.fd, _iowr(cmd), buf, True)
            hdr = _HDR.unpack_from(buf, 0)
            if hdr[8] & BUFFER_FULL_FLAG:
                size *= 4
                continue
            return hdr, buf

    def create(self, name, readonly=False):
        hdr, _ = self._call(DEV_CREATE, name,
                            READONLY_FLAG if readonly else 0)
        return hdr[10]

    def remove(self, name):
        self._call(DEV_REMOVE, name)

    def clear(self, name):
        """Drop the inactive (loaded, not yet resumed) table."""
        self._call(TABLE_CLEAR, name)

    def load(self, name, targets, readonly=False):
        """targets: [(start, length, type, params)]; the table is checked by
        each target's constructor now and raises OSError if refused."""
        payload = bytearray()
        for i, (start, length, ttype, params) in enumerate(targets):
            p = params.encode() + b"\0"
            p += b"\0" * (-(_SPEC.size + len(p)) % 8)
            nxt = _SPEC.size + len(p) if i + 1 < len(targets) else 0
            payload += _SPEC.pack(start, length, 0, nxt,
                                  ttype.encode()[:DM_MAX_TYPE_NAME - 1]) + p
        self._call(TABLE_LOAD, name, READONLY_FLAG if readonly else 0,
                   bytes(payload), len(targets))

    def suspend(self, name, noflush=False):
        flags = SUSPEND_FLAG | SKIP_LOCKFS_FLAG
        if noflush:
            flags |= NOFLUSH_FLAG
        self._call(DEV_SUSPEND, name, flags)

    def resume(self, name):
        """Swap in the loaded table (or resume a suspended device)."""
        self._call(DEV_SUSPEND, name)

    def info(self, name):
        """(dev, open_count, flags, target_count) of a device."""
        hdr, _ = self._call(DEV_STATUS, name)
        return hdr[10], hdr[6], hdr[8], hdr[5]

    def _targets(self, name, flags):
        hdr, buf = self._call(TABLE_STATUS, name, flags | NOFLUSH_FLAG)
        out = []
        base = hdr[4]
        off = base
        for _ in range(hdr[5]):
            start, length, _st, nxt, ttype = _SPEC.unpack_from(buf, off)
            p = off + _SPEC.size
            end = buf.index(b"\0", p)
            out.append((start, length, ttype.rstrip(b"\0").decode(),
                        buf[p:end].decode()))
            off = base + nxt
        return out

    def table(self, name, inactive=False):
        return self._targets(name, STATUS_TABLE_FLAG |
                             (QUERY_INACTIVE_TABLE_FLAG if inactive else 0))

    def status(self, name, inactive=False):
        return self._targets(name, QUERY_INACTIVE_TABLE_FLAG
                             if inactive else 0)

    def exists(self, name):
        try:
            self.info(name)
            return True
        except OSError as e:
            if e.errno == errno.ENXIO:
                return False
            raise
