// SPDX-License-Identifier: GPL-2.0
/*
 * geometry.c - where the bitmap and the data area lie, per layout family.
 *
 * v1/v2 (UML's cow_sizes() for version < 3):
 *	bitmap_len  = (size + ss - 1) / (8 * ss)	(short: UML's bug)
 *	data_offset = roundup(hdr + bitmap_len, ss)
 * QEMU (block/cow.c):
 *	bitmap_len  = ceil(floor(size / 512) / 8)
 *	data_offset = roundup(hdr + bitmap_len, 512)
 * v3 and broken v3:
 *	bitmap_offset = roundup(hdr, alignment)
 *	bitmap_len  = ceil(ceil(size / ss) / 8)
 *	data_offset = roundup(bitmap_offset + bitmap_len, alignment)
 *
 * tracked_sectors: the sectors whose bits are honoured. In v1/v2 the last 1
 * to 7 sectors may have no bit within bitmap_len; UML 6.1's cowify_bitmap()
 * writes their bits into the byte past it anyway, in the padding before
 * data_offset, and their data into the data area. Those bits are the only
 * record of what UML wrote there, so they are honoured (tracked_sectors =
 * nr_sectors, COW_F_PADDING_BITS) unless that byte is the data area's
 * first byte (COW_F_SHORT_BITMAP_OVERLAPS_DATA: no padding, the byte holds
 * data; tracked_sectors = 8 * bitmap_len). See cowfmt.h.
 */
#include "cowfmt.h"

/* *r = roundup(v, a) for a power of two a; false on overflow. */
static bool roundup_pow2(uint64_t v, uint64_t a, uint64_t *r)
{
	if (__builtin_add_overflow(v, a - 1, r))
		return false;
	*r &= ~(a - 1);
	return true;
}

int cow_geometry(const struct cow_layout *l, uint64_t size,
		 uint32_t sector_size, uint32_t alignment,
		 struct cow_geometry *g, struct cow_err *err)
{
	uint64_t ss = sector_size, align, end, bytes;

	*g = (struct cow_geometry){ 0 };
	if (!cow_is_pow2(ss) || ss < COW_MIN_SECTOR_SIZE ||
	    ss > COW_MAX_SECTOR_SIZE) {
		cow_seterr(err, "sector size %u is not a power of two from %u to %u",
			   sector_size, COW_MIN_SECTOR_SIZE, COW_MAX_SECTOR_SIZE);
		return -1;
	}
	if (size == 0) {
		cow_seterr(err, "image size is 0");
		return -1;
	}
	if (size > COW_MAX_SIZE) {
		cow_seterr(err, "image size %llu is larger than 2^60 bytes",
			   (unsigned long long)size);
		return -1;
	}

	switch (l->geom) {
	case COW_GEOM_OLD:
		align = ss;
		g->nr_sectors = (size + ss - 1) / ss;
		g->bitmap_offset = l->hdr_size;
		g->bitmap_len = (size + ss - 1) / (8 * ss);
		break;
	case COW_GEOM_QEMU:
		if (ss != 512) {
			cow_seterr(err, "sector size %u in a QEMU header (QEMU always wrote 512)",
				   sector_size);
			return -1;
		}
		align = 512;
		g->nr_sectors = size / 512;
		if (g->nr_sectors == 0) {
			cow_seterr(err, "image size %llu is less than one sector",
				   (unsigned long long)size);
			return -1;
		}
		g->bitmap_offset = l->hdr_size;
		g->bitmap_len = (g->nr_sectors + 7) / 8;
		break;
	case COW_GEOM_V3:
		align = alignment;
		if (!cow_is_pow2(align) || align < COW_MIN_ALIGNMENT ||
		    align > COW_MAX_ALIGNMENT) {
			cow_seterr(err, "alignment %u is not a power of two from %u to %u",
				   alignment, COW_MIN_ALIGNMENT,
				   COW_MAX_ALIGNMENT);
			return -1;
		}
		g->nr_sectors = (size + ss - 1) / ss;
		if (!roundup_pow2(l->hdr_size, align, &g->bitmap_offset))
			goto overflow;
		g->bitmap_len = (g->nr_sectors + 7) / 8;
		break;
	default:
		cow_seterr(err, "unknown layout family");
		return -1;
	}

	g->bitmap_span = (g->nr_sectors + 7) / 8;
	/* bitmap_len <= bitmap_span <= 2^57 here: no overflow. */
	g->tracked_sectors = g->bitmap_len * 8 < g->nr_sectors ?
			     g->bitmap_len * 8 : g->nr_sectors;
	if (__builtin_add_overflow(g->bitmap_offset, g->bitmap_len, &end) ||
	    !roundup_pow2(end, align, &g->data_offset))
		goto overflow;
	if (__builtin_mul_overflow(g->nr_sectors, ss, &bytes) ||
	    __builtin_add_overflow(g->data_offset, bytes, &g->data_end) ||
	    g->data_end > (uint64_t)INT64_MAX)
		goto overflow;
	if (g->tracked_sectors < g->nr_sectors) {
		g->flags |= COW_F_SHORT_BITMAP;
		if (g->bitmap_offset + g->bitmap_span > g->data_offset) {
			g->flags |= COW_F_SHORT_BITMAP_OVERLAPS_DATA;
		} else {
			g->flags |= COW_F_PADDING_BITS;
			g->tracked_sectors = g->nr_sectors;
		}
	}
	return 0;

overflow:
	cow_seterr(err, "image size %llu with sector size %u overflows the file offsets",
		   (unsigned long long)size, sector_size);
	return -1;
}
