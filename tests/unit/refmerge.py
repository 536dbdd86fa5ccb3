#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reference merge of a UML COW file, written from the format specification
(Documentation/cow-format.rst) independently of the C library, for tests.

    refmerge.py LAYOUT FILE.cow BACKING OUT.img

LAYOUT is one of the eight layout names (v1 layouts take the byte order from
the magic). Sector n comes from the COW data area when bit n (byte n // 8,
mask 1 << n % 8, counted from the bitmap offset) is set, else from BACKING.
In a short v1/v2 bitmap (bitmap_len < ceil(nr / 8)) the bits of the last
sectors lie past bitmap_len, where UML 6.1 writes them: they count when that
byte lies in the padding before the data area, and not when it is the data
area's first byte (those sectors come from BACKING). uml_moo and UML's next
boot read only bitmap_len bytes.
"""
import struct
import sys

# name: (path offset, path length, mtime offset, mtime width, size offset,
#        sector size offset, alignment offset or None, header size, family)
LAYOUTS = {
    "v1-packed":   (8, 256, 264, 4, 268, 276, None, 280, "old"),
    "v1-x86_64":   (8, 256, 264, 8, 272, 280, None, 288, "old"),
    "v2-packed":   (8, 4096, 4104, 4, 4108, 4116, None, 4120, "old"),
    "v2-x86_64":   (8, 4096, 4104, 8, 4112, 4120, None, 4128, "old"),
    "qemu-x86_64": (8, 1024, 1032, 4, 1040, 1048, None, 1056, "qemu"),
    "qemu-i386":   (8, 1024, 1032, 4, 1036, 1044, None, 1048, "qemu"),
    "v3":          (32, 4096, 8, 4, 12, 20, 24, 4128, "v3"),
    "v3-broken":   (36, 4096, 8, 8, 16, 24, 28, 4136, "v3"),
}


def roundup(v, a):
    return (v + a - 1) // a * a


def main():
    layout, cow, backing, out = sys.argv[1:5]
    _, _, _, _, size_off, ss_off, al_off, hdr, fam = LAYOUTS[layout]
    data = open(cow, "rb").read()
    bo = ">" if data[:4] == b"OOOM" else "<"
    size = struct.unpack_from(bo + "Q", data, size_off)[0]
    ss = struct.unpack_from(bo + "I", data, ss_off)[0]
    if fam == "old":
        bm_off = hdr
        bm_len = (size + ss - 1) // (8 * ss)
        data_off = roundup(bm_off + bm_len, ss)
        nr = (size + ss - 1) // ss
    elif fam == "qemu":
        nr = size // 512
        bm_off = hdr
        bm_len = (nr + 7) // 8
        data_off = roundup(hdr + bm_len, 512)
    else:
        align = struct.unpack_from(bo + "I", data, al_off)[0]
        nr = (size + ss - 1) // ss
        bm_off = roundup(hdr, align)
        bm_len = (nr + 7) // 8
        data_off = roundup(bm_off + bm_len, align)
    img = bytearray(open(backing, "rb").read()[:size])
    img += bytes(size - len(img))
    span = (nr + 7) // 8
    if bm_off + span <= data_off:
        bm_len = span       # the missing bits lie in the padding: honoured
    for n in range(nr):
        if n // 8 >= bm_len:
            break
        pos = bm_off + n // 8
        byte = data[pos] if pos < len(data) else 0
        if byte >> (n % 8) & 1:
            src = data[data_off + n * ss:data_off + (n + 1) * ss]
            src += bytes(ss - len(src))
            end = min((n + 1) * ss, size)
            img[n * ss:end] = src[:end - n * ss]
    open(out, "wb").write(img)


if __name__ == "__main__":
    main()
