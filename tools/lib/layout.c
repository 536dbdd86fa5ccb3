// SPDX-License-Identifier: GPL-2.0
/*
 * layout.c - the eight COW header layouts as a table, and header encoding.
 *
 * Offsets were confirmed by compiling the historical structs (UML's
 * cow_user.c of each era, QEMU's block/cow.c) for i386 and x86_64; see
 * Documentation/cow-format.rst. The same rows drive parsing (parse.c) and
 * writing (here), so a file written in a layout parses back as that layout.
 */
#include <string.h>

#include "cowfmt.h"
#include "endian-util.h"

const struct cow_layout cow_layouts[] = {
	{
		.name = "v1-packed",
		.desc = "UML v1, i386 or packed struct, host byte order",
		.version = 1, .host_order = true,
		.path_off = 8, .path_len = 256,
		.mtime_off = 264, .mtime_kind = COW_MTIME_32,
		.size_off = 268, .sectorsize_off = 276,
		.alignment_off = -1, .format_off = -1,
		.hdr_size = 280, .geom = COW_GEOM_OLD,
		.extend_on_create = true,
	}, {
		.name = "v1-x86_64",
		.desc = "UML v1, 64-bit unpacked struct (8-byte time_t), host byte order",
		.version = 1, .host_order = true,
		.path_off = 8, .path_len = 256,
		.mtime_off = 264, .mtime_kind = COW_MTIME_64,
		.size_off = 272, .sectorsize_off = 280,
		.alignment_off = -1, .format_off = -1,
		.hdr_size = 288, .geom = COW_GEOM_OLD,
		.extend_on_create = true,
	}, {
		.name = "v2-packed",
		.desc = "UML v2, i386 or packed struct, big-endian",
		.version = 2,
		.path_off = 8, .path_len = 4096,
		.mtime_off = 4104, .mtime_kind = COW_MTIME_32,
		.size_off = 4108, .sectorsize_off = 4116,
		.alignment_off = -1, .format_off = -1,
		.hdr_size = 4120, .geom = COW_GEOM_OLD,
		.extend_on_create = true,
	}, {
		.name = "v2-x86_64",
		.desc = "UML v2, 64-bit unpacked struct (8-byte time_t), big-endian",
		.version = 2,
		.path_off = 8, .path_len = 4096,
		.mtime_off = 4104, .mtime_kind = COW_MTIME_BE32_IN_64,
		.size_off = 4112, .sectorsize_off = 4120,
		.alignment_off = -1, .format_off = -1,
		.hdr_size = 4128, .geom = COW_GEOM_OLD,
		.extend_on_create = true,
	}, {
		.name = "qemu-x86_64",
		.desc = "QEMU block/cow.c \"v2\", x86_64, big-endian",
		.version = 2,
		.path_off = 8, .path_len = 1024,
		.mtime_off = 1032, .mtime_kind = COW_MTIME_32,
		.size_off = 1040, .sectorsize_off = 1048,
		.alignment_off = -1, .format_off = -1,
		.hdr_size = 1056, .geom = COW_GEOM_QEMU,
		.extend_on_create = false,
	}, {
		.name = "qemu-i386",
		.desc = "QEMU block/cow.c \"v2\", i386, big-endian",
		.version = 2,
		.path_off = 8, .path_len = 1024,
		.mtime_off = 1032, .mtime_kind = COW_MTIME_32,
		.size_off = 1036, .sectorsize_off = 1044,
		.alignment_off = -1, .format_off = -1,
		.hdr_size = 1048, .geom = COW_GEOM_QEMU,
		.extend_on_create = false,
	}, {
		.name = "v3",
		.desc = "UML v3 (packed, what UML and uml_mkcow write today), big-endian",
		.version = 3,
		.path_off = 32, .path_len = 4096,
		.mtime_off = 8, .mtime_kind = COW_MTIME_32,
		.size_off = 12, .sectorsize_off = 20,
		.alignment_off = 24, .format_off = 28,
		.hdr_size = 4128, .geom = COW_GEOM_V3,
		.extend_on_create = true,
	}, {
		.name = "v3-broken",
		.desc = "UML v3 with the 64-bit layout written before Dec 2005, big-endian",
		.version = 3,
		.path_off = 36, .path_len = 4096,
		.mtime_off = 8, .mtime_kind = COW_MTIME_BE32_IN_64,
		.size_off = 16, .sectorsize_off = 24,
		.alignment_off = 28, .format_off = 32,
		.hdr_size = 4136, .geom = COW_GEOM_V3,
		.extend_on_create = true,
	},
};

const size_t cow_nr_layouts = sizeof(cow_layouts) / sizeof(cow_layouts[0]);

const struct cow_layout *cow_layout_find(const char *name, int *order)
{
	size_t i, n;

	if (order)
		*order = -1;
	if (!name)
		return NULL;
	for (i = 0; i < cow_nr_layouts; i++) {
		const struct cow_layout *l = &cow_layouts[i];

		n = strlen(l->name);
		if (strncmp(name, l->name, n) != 0)
			continue;
		if (name[n] == '\0')
			return l;
		if (!l->host_order)
			continue;
		if (strcmp(name + n, "-le") == 0) {
			if (order)
				*order = COW_LE;
			return l;
		}
		if (strcmp(name + n, "-be") == 0) {
			if (order)
				*order = COW_BE;
			return l;
		}
	}
	return NULL;
}

const char *cow_layout_names(void)
{
	return "v1-packed, v1-x86_64 (each also with -le or -be), v2-packed, "
	       "v2-x86_64, qemu-x86_64, qemu-i386, v3, v3-broken";
}

static uint32_t mtime_width(const struct cow_layout *l)
{
	return l->mtime_kind == COW_MTIME_32 ? 4 : 8;
}

const char *cow_layout_field_at(const struct cow_layout *l, uint64_t off)
{
	if (off < 4)
		return "magic";
	if (off < 8)
		return "version";
	if (off >= l->path_off && off < (uint64_t)l->path_off + l->path_len)
		return "backing file";
	if (off >= l->mtime_off && off < (uint64_t)l->mtime_off + mtime_width(l))
		return "mtime";
	if (off >= l->size_off && off < (uint64_t)l->size_off + 8)
		return "size";
	if (off >= l->sectorsize_off && off < (uint64_t)l->sectorsize_off + 4)
		return "sector size";
	if (l->alignment_off >= 0 && off >= (uint64_t)l->alignment_off &&
	    off < (uint64_t)l->alignment_off + 4)
		return "alignment";
	if (l->format_off >= 0 && off >= (uint64_t)l->format_off &&
	    off < (uint64_t)l->format_off + 4)
		return "cow_format";
	return "padding";
}

static void put_mtime(const struct cow_layout *l, enum cow_byte_order order,
		      uint8_t *buf, uint32_t mtime)
{
	uint8_t *p = buf + l->mtime_off;

	switch (l->mtime_kind) {
	case COW_MTIME_32:
		put_u32(p, mtime, order);
		break;
	case COW_MTIME_64:
		put_u64(p, mtime, order);
		break;
	case COW_MTIME_BE32_IN_64:
		put_u32(p, mtime, COW_BE);
		put_u32(p + 4, 0, COW_BE);
		break;
	}
}

static int put_path(const struct cow_layout *l, uint8_t *buf,
		    const char *path, struct cow_err *err)
{
	size_t n = strlen(path);

	if (n == 0) {
		cow_seterr(err, "empty backing file path");
		return -1;
	}
	if (n >= l->path_len) {
		cow_seterr(err, "backing file path is %zu bytes; the %s layout holds at most %u",
			   n, l->name, l->path_len - 1);
		return -1;
	}
	memset(buf + l->path_off, 0, l->path_len);
	memcpy(buf + l->path_off, path, n);
	return 0;
}

int cow_header_encode(const struct cow_layout *l, enum cow_byte_order order,
		      const struct cow_fields *f, uint8_t *buf,
		      struct cow_err *err)
{
	if (!l->host_order)
		order = COW_BE;
	memset(buf, 0, l->hdr_size);
	put_u32(buf, COW_MAGIC, order);
	put_u32(buf + 4, l->version, order);
	if (put_path(l, buf, f->backing_file, err))
		return -1;
	put_mtime(l, order, buf, f->mtime);
	put_u64(buf + l->size_off, f->size, order);
	put_u32(buf + l->sectorsize_off, f->sector_size, order);
	if (l->alignment_off >= 0)
		put_u32(buf + l->alignment_off, f->alignment, order);
	if (l->format_off >= 0)
		put_u32(buf + l->format_off, 0, order);	/* COW_BITMAP */
	return 0;
}

int cow_header_patch(const struct cow_layout *l, enum cow_byte_order order,
		     uint8_t *buf, const char *path, const uint32_t *mtime,
		     struct cow_err *err)
{
	if (!l->host_order)
		order = COW_BE;
	if (path && put_path(l, buf, path, err))
		return -1;
	if (mtime)
		put_mtime(l, order, buf, *mtime);
	return 0;
}
