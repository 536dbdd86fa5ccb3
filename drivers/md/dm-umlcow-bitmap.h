/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The in-core copy of a UML COW file's bitmap, and its write-back.
 *
 * One object exists per COW block device in use.  It belongs to one dm
 * device at a time: every table of that dm device that maps the same COW
 * device with the same geometry shares it, so a table reload hands the bits
 * set so far from the old table to the new one without reading anything.
 * A table of any other dm device on the same block device is refused, since
 * two owners would write whole bitmap blocks from two different copies and
 * erase each other's bits.  (The same COW *file* reached through two block
 * devices cannot be recognised here: umlcow-setup's file lock refuses it.)
 *
 * The dirty bits belong to the
 * object, not to a table: a bit stays dirty until a write-back that covered
 * it has been flushed, whatever table started it, and any writable table
 * that uses the object may retry.
 *
 * Bits only ever go from 0 to 1 while an object exists: readers test them
 * without a lock.
 */

#ifndef DM_UMLCOW_BITMAP_H
#define DM_UMLCOW_BITMAP_H

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/list.h>
#include <linux/math.h>
#include <linux/types.h>

struct umlcow_bitmap;

/* Where the bitmap lies on the COW device, as the table says. */
struct umlcow_bitmap_geometry {
	u64 offset;		/* byte offset of the bit of image sector 0 */
	u64 nr_bits;		/* one per image sector */
};

/*
 * The bytes of the COW device that hold the bitmap, rounded out to whole
 * logical blocks of @block bytes: what is read and written back.
 */
static inline void umlcow_bitmap_span(const struct umlcow_bitmap_geometry *geo,
				      unsigned int block, u64 *start, u64 *end)
{
	*start = round_down(geo->offset, block);
	*end = round_up(geo->offset + DIV_ROUND_UP_ULL(geo->nr_bits, 8), block);
}

/*
 * A table's use of a bitmap, embedded in the table's context: which table,
 * and whether it opened the COW device for writing (only such a table
 * writes the bitmap back).
 */
struct umlcow_bitmap_user {
	struct list_head node;		/* in the bitmap's users */
	struct dm_table *table;
	bool writable;
};

struct umlcow_bitmap_stats {
	u64 allocated;		/* bits set */
	unsigned long dirty;	/* bitmap blocks not yet written back */
	size_t memory;		/* bytes held: copy, dirty and pending maps, buffer */
};

int umlcow_bitmap_get(struct block_device *cow,
		      const struct umlcow_bitmap_geometry *geo,
		      struct umlcow_bitmap_user *user,
		      struct umlcow_bitmap **result, char **error);
int umlcow_bitmap_put(struct umlcow_bitmap *bm,
		      struct umlcow_bitmap_user *user);

int umlcow_bitmap_load(struct umlcow_bitmap *bm, struct dm_table *table);

bool umlcow_bitmap_test(struct umlcow_bitmap *bm, u64 bit);
u64 umlcow_bitmap_run_end(struct umlcow_bitmap *bm, u64 first, u64 end);
bool umlcow_bitmap_set_range(struct umlcow_bitmap *bm, u64 first, u64 end,
			     bool fua);

bool umlcow_bitmap_needs_commit(struct umlcow_bitmap *bm);
int umlcow_bitmap_commit(struct umlcow_bitmap *bm);

void umlcow_bitmap_get_stats(struct umlcow_bitmap *bm,
			     struct umlcow_bitmap_stats *stats);

#endif
