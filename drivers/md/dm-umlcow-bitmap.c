// SPDX-License-Identifier: GPL-2.0
/*
 * dm-umlcow-bitmap.c: the in-core bitmap of a UML COW device, its owner and
 * its write-back.  See dm-umlcow-bitmap.h.
 *
 * The bitmap is in little-endian bit order on disk (bit n in byte n / 8,
 * least significant first) and is kept in memory exactly as it is on disk,
 * together with the header bytes that share its first and last logical
 * block, so that a block written back keeps them.
 */

#include "dm-umlcow-bitmap.h"
#include "dm-umlcow-compat.h"

#include <linux/bitmap.h>
#include <linux/bitops.h>
#include <linux/dm-io.h>
#include <linux/error-injection.h>
#include <linux/log2.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/swab.h>
#include <linux/vmalloc.h>

#define DM_MSG_PREFIX "umlcow"

/*
 * Bitmap blocks are staged in at most this much memory per write-back round
 * (a round costs one flush); a smaller bitmap needs only its own size.
 */
#define UMLCOW_SHADOW_MAX_BYTES		(64 * 1024)

/*
 * Clean blocks between two dirty ones are written back with them when the
 * gap is no longer than this: rewriting a few KiB with what is on disk costs
 * less than a request of its own, on a disk and in the COW file's loop
 * device alike, and random first writes dirty blocks close to each other.
 */
#define UMLCOW_MERGE_GAP_BYTES		(8 * 1024)

/*
 * A write or discard over a large range sets its bits a chunk of words at a
 * time, so the lock (taken with interrupts off) is never held for long.
 */
#define UMLCOW_SET_CHUNK_BITS		(512 * BITS_PER_LONG)

struct umlcow_bitmap {
	struct list_head list;		/* in umlcow_bitmaps */
	struct mapped_device *owner;
	struct block_device *cow;
	struct umlcow_bitmap_geometry geo;

	/* Under umlcow_bitmaps_lock. */
	unsigned int refs;
	struct list_head users;		/* struct umlcow_bitmap_user */
	bool closing;			/* the last table is letting go */

	/*
	 * The span: the whole logical blocks of the COW device that hold the
	 * bitmap.  Image sector n is bit first_bit + n of @bits.
	 */
	unsigned long *bits;
	sector_t span_sector;
	unsigned long nr_blocks;
	unsigned int block_bytes;
	unsigned int block_shift;
	unsigned long first_bit;

	/*
	 * Setting bits, the dirty and pending block maps and the counters.
	 * A block is durable when it is in neither map: dirty blocks changed
	 * since they were last staged; pending blocks were staged by a
	 * write-back and are not known to be on disk until a flush issued
	 * after their write has succeeded.  A failed write-back moves every
	 * pending block back to dirty.
	 */
	spinlock_t lock;
	unsigned long *dirty;		/* one bit per block of the span */
	unsigned long nr_dirty;
	unsigned long *pending;		/* one bit per block of the span */
	unsigned long nr_pending;
	u64 nr_allocated;

	/* Loading and write-back, and everything they use. */
	struct mutex commit_lock;
	bool loaded;
	struct dm_io_client *io_client;
	void *shadow;
	unsigned long *shadow_blocks;
	unsigned int shadow_slots;
};

/* Every bitmap in use, to find the owner of a COW device. */
static LIST_HEAD(umlcow_bitmaps);
static DEFINE_MUTEX(umlcow_bitmaps_lock);

/* --- Bits --- */

/* A mask of native bit numbers as the little-endian bitmap stores it. */
static unsigned long umlcow_le_mask(unsigned long mask)
{
	return IS_ENABLED(CONFIG_CPU_BIG_ENDIAN) ? swab(mask) : mask;
}

/*
 * The *_bit_le() helpers take an int bit number in this kernel: point them
 * at the word that holds the bit, to stay correct past 2^31 sectors.
 */
static bool umlcow_test_abs(struct umlcow_bitmap *bm, unsigned long bit)
{
	return test_bit_le(bit % BITS_PER_LONG, bm->bits + bit / BITS_PER_LONG);
}

/**
 * umlcow_bitmap_test() - Is an image sector in the COW file?
 * @bm: the bitmap
 * @bit: image sector number, below the geometry's nr_bits
 *
 * Lockless; safe in any context.
 */
bool umlcow_bitmap_test(struct umlcow_bitmap *bm, u64 bit)
{
	return umlcow_test_abs(bm, bm->first_bit + bit);
}

/**
 * umlcow_bitmap_run_end() - Find where a run of equal bits ends.
 * @bm: the bitmap
 * @first: image sector the run starts at
 * @end: image sector to stop the search at
 *
 * Lockless; safe in any context.
 *
 * Return: the first image sector in (@first, @end) whose bit differs from
 * that of @first, or @end.
 */
u64 umlcow_bitmap_run_end(struct umlcow_bitmap *bm, u64 first, u64 end)
{
	unsigned long b = bm->first_bit + first;
	unsigned long e = bm->first_bit + end;
	unsigned long next;

	if (umlcow_test_abs(bm, b))
		next = find_next_zero_bit_le(bm->bits, e, b + 1);
	else
		next = find_next_bit_le(bm->bits, e, b + 1);
	return min(next, e) - bm->first_bit;
}

static unsigned long umlcow_word_block(struct umlcow_bitmap *bm,
				       unsigned long word)
{
	return (word * sizeof(unsigned long)) >> bm->block_shift;
}

static unsigned long umlcow_bit_block(struct umlcow_bitmap *bm,
				      unsigned long bit)
{
	return bit >> (bm->block_shift + 3);
}

static void __umlcow_mark_dirty(struct umlcow_bitmap *bm, unsigned long blk)
{
	lockdep_assert_held(&bm->lock);

	if (!__test_and_set_bit(blk, bm->dirty))
		bm->nr_dirty++;
}

/* Set bits [b, e), whole words at a time. */
static void __umlcow_set_bits(struct umlcow_bitmap *bm, unsigned long b,
			      unsigned long e)
{
	unsigned long w, stop, mask, old, add;

	lockdep_assert_held(&bm->lock);

	for (; b < e; b = stop) {
		w = b / BITS_PER_LONG;
		stop = min(e, (w + 1) * BITS_PER_LONG);
		mask = BITMAP_FIRST_WORD_MASK(b);
		if (stop % BITS_PER_LONG)
			mask &= BITMAP_LAST_WORD_MASK(stop);

		old = READ_ONCE(bm->bits[w]);
		add = umlcow_le_mask(mask) & ~old;
		if (!add)
			continue;
		/* Lockless readers see the word before or after: both are right. */
		WRITE_ONCE(bm->bits[w], old | add);
		bm->nr_allocated += hweight_long(add);
		__umlcow_mark_dirty(bm, umlcow_word_block(bm, w));
	}
}

/* Is any bitmap block holding bits [b, e) possibly not on disk yet? */
static bool __umlcow_range_volatile(struct umlcow_bitmap *bm, unsigned long b,
				    unsigned long e)
{
	unsigned long bfirst = umlcow_bit_block(bm, b);
	unsigned long blast = umlcow_bit_block(bm, e - 1);

	lockdep_assert_held(&bm->lock);

	return find_next_bit(bm->dirty, blast + 1, bfirst) <= blast ||
	       find_next_bit(bm->pending, blast + 1, bfirst) <= blast;
}

/**
 * umlcow_bitmap_set_range() - Record that image sectors are in the COW file.
 * @bm: the bitmap
 * @first: first image sector written
 * @end: image sector after the last one written
 * @fua: the write carried REQ_FUA
 *
 * Called when a write to the COW data area has completed; safe in any
 * context.  A large range is set a chunk at a time, dropping the lock in
 * between.
 *
 * Return: true when @fua is set and the bits may not be durable yet (in a
 * dirty block, or in one a write-back has staged but not yet flushed): the
 * write must not complete before umlcow_bitmap_commit().  A FUA overwrite
 * of sectors whose blocks are durable does not wait for a write-back that
 * is busy with other blocks.
 */
bool umlcow_bitmap_set_range(struct umlcow_bitmap *bm, u64 first, u64 end,
			     bool fua)
{
	unsigned long b = bm->first_bit + first;
	unsigned long e = bm->first_bit + end;
	unsigned long chunk_end, flags;
	bool wait = false;

	b = find_next_zero_bit_le(bm->bits, e, b);
	while (b < e) {
		chunk_end = min(e, round_down(b, BITS_PER_LONG) +
				UMLCOW_SET_CHUNK_BITS);
		spin_lock_irqsave(&bm->lock, flags);
		__umlcow_set_bits(bm, b, chunk_end);
		spin_unlock_irqrestore(&bm->lock, flags);
		b = chunk_end;
	}

	if (fua) {
		spin_lock_irqsave(&bm->lock, flags);
		wait = __umlcow_range_volatile(bm, bm->first_bit + first, e);
		spin_unlock_irqrestore(&bm->lock, flags);
	}
	return wait;
}

/**
 * umlcow_bitmap_needs_commit() - Are bits set that are not durable yet?
 * @bm: the bitmap
 *
 * Safe in any context.
 */
bool umlcow_bitmap_needs_commit(struct umlcow_bitmap *bm)
{
	unsigned long flags;
	bool r;

	spin_lock_irqsave(&bm->lock, flags);
	r = bm->nr_dirty || bm->nr_pending;
	spin_unlock_irqrestore(&bm->lock, flags);
	return r;
}

/**
 * umlcow_bitmap_get_stats() - Counters for the status line.
 * @bm: the bitmap
 * @stats: filled in
 *
 * Safe in any context.
 */
void umlcow_bitmap_get_stats(struct umlcow_bitmap *bm,
			     struct umlcow_bitmap_stats *stats)
{
	unsigned long flags;

	spin_lock_irqsave(&bm->lock, flags);
	stats->allocated = bm->nr_allocated;
	stats->dirty = bm->nr_dirty;
	spin_unlock_irqrestore(&bm->lock, flags);

	/* What grows with the bitmap, not this context (lock debugging). */
	stats->memory = ((size_t)bm->nr_blocks << bm->block_shift) +
		2 * BITS_TO_LONGS(bm->nr_blocks) * sizeof(long) +
		((size_t)bm->shadow_slots << bm->block_shift) +
		bm->shadow_slots * sizeof(unsigned long);
}

/* --- I/O --- */

/* The bitmap writes of one write-back round, all in flight together. */
struct umlcow_write_batch {
	struct umlcow_io_done done;
	atomic_t pending;		/* writes not done, plus one for the issuer */
	struct completion all_done;
	bool failed;
};

static void umlcow_batch_write_done(struct umlcow_io_done *done, bool failed)
{
	struct umlcow_write_batch *batch =
		container_of(done, struct umlcow_write_batch, done);

	if (failed)
		WRITE_ONCE(batch->failed, true);
	if (atomic_dec_and_test(&batch->pending))
		complete(&batch->all_done);
}

/* Synchronous without @batch; else started, and counted in @batch. */
static int umlcow_meta_io(struct umlcow_bitmap *bm, blk_opf_t opf, void *buf,
			  sector_t sector, sector_t count,
			  struct umlcow_write_batch *batch)
{
	struct dm_io_region where = {
		.bdev = bm->cow,
		.sector = sector,
		.count = count,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = DM_IO_VMA,
		.mem.ptr.vma = buf,
		.notify.fn = NULL,
		.client = bm->io_client,
	};
	unsigned long error_bits = 0;
	int r;

	if (!batch)
		return umlcow_dm_io(&req, 1, &where, &error_bits);

	atomic_inc(&batch->pending);
	r = umlcow_dm_io_async(&req, &where, &batch->done);
	if (r)
		atomic_dec(&batch->pending);
	return r;
}

static unsigned int umlcow_block_sectors(struct umlcow_bitmap *bm)
{
	return bm->block_bytes >> SECTOR_SHIFT;
}

static u64 umlcow_count_allocated(struct umlcow_bitmap *bm)
{
	const u8 *p = (const u8 *)bm->bits + bm->first_bit / 8;
	size_t full = bm->geo.nr_bits / 8;
	unsigned int rest = bm->geo.nr_bits % 8;
	u64 count = 0;
	size_t done, piece;

	/* memweight() refuses (BUG_ON) lengths from 256 MiB up: count in pieces. */
	for (done = 0; done < full; done += piece) {
		piece = min_t(size_t, full - done, SZ_64M);
		count += memweight(p + done, piece);
		cond_resched();
	}
	if (rest)
		count += hweight8(p[full] & ((1U << rest) - 1));
	return count;
}

static bool __umlcow_used_by(struct umlcow_bitmap *bm, struct dm_table *table)
{
	struct umlcow_bitmap_user *user;

	lockdep_assert_held(&umlcow_bitmaps_lock);

	list_for_each_entry(user, &bm->users, node)
		if (user->table == table)
			return true;
	return false;
}

static bool __umlcow_has_writer(struct umlcow_bitmap *bm)
{
	struct umlcow_bitmap_user *user;

	lockdep_assert_held(&umlcow_bitmaps_lock);

	list_for_each_entry(user, &bm->users, node)
		if (user->writable)
			return true;
	return false;
}

/*
 * A bitmap of the same dm device that @table does not use and that holds
 * bits not yet on disk: the table @table replaces reached the COW file
 * through another block device (or it mapped another COW file, which the
 * kernel cannot tell apart).  Sets *@writable when a table using it may
 * write it back.
 */
static struct umlcow_bitmap *umlcow_find_predecessor(struct umlcow_bitmap *bm,
						     struct dm_table *table,
						     bool *writable)
{
	struct umlcow_bitmap *other, *found = NULL;

	mutex_lock(&umlcow_bitmaps_lock);
	list_for_each_entry(other, &umlcow_bitmaps, list) {
		if (other == bm || other->owner != bm->owner ||
		    __umlcow_used_by(other, table) ||
		    !umlcow_bitmap_needs_commit(other))
			continue;
		found = other;
		*writable = __umlcow_has_writer(other);
		break;
	}
	mutex_unlock(&umlcow_bitmaps_lock);
	return found;
}

static int umlcow_commit_nested(struct umlcow_bitmap *bm,
				unsigned int subclass);

/*
 * Write back what the bitmaps a resumed table replaces still hold, before
 * this one is read from disk: it may be the same COW file.  Runs in the
 * preresume of @table, while the replaced table still holds its devices
 * (device mapper destroys it only once the resume is over), so those
 * bitmaps and their devices stay valid here.
 */
static int umlcow_settle_predecessors(struct umlcow_bitmap *bm,
				      struct dm_table *table)
{
	struct umlcow_bitmap *other;
	bool writable;
	int r;

	while ((other = umlcow_find_predecessor(bm, table, &writable))) {
		/*
		 * Inside the commit_lock of @bm: only a load nests two of
		 * them, loads run in preresume, which dm core serializes
		 * per device (md->suspend_lock), and both bitmaps belong to
		 * one device, so the pair is never taken the other way.
		 */
		r = writable ? umlcow_commit_nested(other, SINGLE_DEPTH_NESTING) :
			       -EROFS;
		if (r) {
			/* Reading now would serve a bitmap missing those bits. */
			DMERR("%pg: bits of the replaced table on %pg cannot be written: %d",
			      bm->cow, other->cow, r);
			return -EIO;
		}
	}
	return 0;
}

/**
 * umlcow_bitmap_load() - Read the bitmap from the COW device, once.
 * @bm: the bitmap
 * @table: the table being resumed, which uses @bm
 *
 * Called when a table using @bm is resumed.  A table it replaces, of the
 * same dm device, may have reached the same COW file through another
 * device: its postsuspend wrote its bits back, and what it could not write
 * is retried here first.  A bitmap shared with an earlier table is already
 * loaded and is not read again.  Process context.
 *
 * Return: 0, -EIO when bits of a replaced table still cannot be written, or
 * another negative errno when the bitmap cannot be read.
 */
int umlcow_bitmap_load(struct umlcow_bitmap *bm, struct dm_table *table)
{
	u64 allocated;
	int r = 0;

	mutex_lock(&bm->commit_lock);
	if (bm->loaded)
		goto out;

	r = umlcow_settle_predecessors(bm, table);
	if (r)
		goto out;

	r = umlcow_meta_io(bm, REQ_OP_READ | REQ_META, bm->bits,
			   bm->span_sector,
			   (sector_t)bm->nr_blocks * umlcow_block_sectors(bm),
			   NULL);
	if (r)
		goto out;

	/* Counting a large bitmap takes a while: not with interrupts off. */
	allocated = umlcow_count_allocated(bm);

	spin_lock_irq(&bm->lock);
	bitmap_zero(bm->dirty, bm->nr_blocks);
	bm->nr_dirty = 0;
	bitmap_zero(bm->pending, bm->nr_blocks);
	bm->nr_pending = 0;
	bm->nr_allocated = allocated;
	spin_unlock_irq(&bm->lock);
	bm->loaded = true;
out:
	mutex_unlock(&bm->commit_lock);
	return r;
}

static void __umlcow_stage(struct umlcow_bitmap *bm, unsigned int slot,
			   unsigned long blk)
{
	memcpy(bm->shadow + ((size_t)slot << bm->block_shift),
	       (u8 *)bm->bits + ((size_t)blk << bm->block_shift),
	       bm->block_bytes);
	bm->shadow_blocks[slot] = blk;
}

static void __umlcow_mark_pending(struct umlcow_bitmap *bm, unsigned long blk)
{
	lockdep_assert_held(&bm->lock);

	if (!__test_and_set_bit(blk, bm->pending))
		bm->nr_pending++;
}

static void __umlcow_stage_pending(struct umlcow_bitmap *bm, unsigned int slot,
				   unsigned long blk)
{
	__umlcow_stage(bm, slot, blk);
	__umlcow_mark_pending(bm, blk);
}

/*
 * Copy up to shadow_slots dirty blocks, in ascending order from *pos, into
 * the shadow buffer and move them from dirty to pending, with the clean
 * blocks of short gaps between them (see UMLCOW_MERGE_GAP_BYTES).  A clean
 * block holds what is on disk: every bit set since it was last written
 * would have dirtied it.  Returns how many blocks were taken.
 */
static unsigned int umlcow_snapshot(struct umlcow_bitmap *bm,
				    unsigned long *pos)
{
	unsigned long gap_max = UMLCOW_MERGE_GAP_BYTES >> bm->block_shift;
	unsigned long blk = *pos, next;
	unsigned int n = 0;

	lockdep_assert_held(&bm->commit_lock);

	spin_lock_irq(&bm->lock);
	while (n < bm->shadow_slots) {
		next = find_next_bit(bm->dirty, bm->nr_blocks, blk);
		if (next >= bm->nr_blocks)
			break;
		/* blk follows the last block taken: fill the gap up to next. */
		if (n && next - blk <= gap_max &&
		    next - blk < bm->shadow_slots - n)
			while (blk < next)
				__umlcow_stage_pending(bm, n++, blk++);
		__clear_bit(next, bm->dirty);
		bm->nr_dirty--;
		__umlcow_stage_pending(bm, n++, next);
		blk = next + 1;
	}
	spin_unlock_irq(&bm->lock);

	*pos = blk;
	return n;
}

/*
 * A flush has succeeded: the blocks of the round written before it, the
 * staged blocks in [first, end), are on disk.
 */
static void umlcow_settle_round(struct umlcow_bitmap *bm, unsigned long first,
				unsigned long end)
{
	unsigned long blk;

	spin_lock_irq(&bm->lock);
	for (blk = find_next_bit(bm->pending, end, first); blk < end;
	     blk = find_next_bit(bm->pending, end, blk + 1)) {
		__clear_bit(blk, bm->pending);
		bm->nr_pending--;
	}
	spin_unlock_irq(&bm->lock);
}

/*
 * A write-back failed: no block staged since the last flush that succeeded
 * is known to be on disk, whichever round staged it (a failed flush may
 * also have lost the writes of earlier rounds, and a loop device reports
 * that failure only once).  They are all dirty again.
 */
static void umlcow_redirty_pending(struct umlcow_bitmap *bm)
{
	unsigned long blk;

	spin_lock_irq(&bm->lock);
	for_each_set_bit(blk, bm->pending, bm->nr_blocks)
		__umlcow_mark_dirty(bm, blk);
	bitmap_zero(bm->pending, bm->nr_blocks);
	bm->nr_pending = 0;
	spin_unlock_irq(&bm->lock);
}

/*
 * Write the n staged blocks, one request per run of adjacent blocks, all of
 * them in flight at once, and wait for them.
 */
static int umlcow_write_shadow(struct umlcow_bitmap *bm, unsigned int n)
{
	struct umlcow_write_batch batch = {
		.done.fn = umlcow_batch_write_done,
		.failed = false,
	};
	unsigned int i = 0, j;
	int r = 0;

	atomic_set(&batch.pending, 1);
	init_completion(&batch.all_done);
	while (i < n) {
		for (j = i + 1; j < n; j++)
			if (bm->shadow_blocks[j] != bm->shadow_blocks[j - 1] + 1)
				break;
		r = umlcow_meta_io(bm, REQ_OP_WRITE | REQ_SYNC | REQ_META,
				   bm->shadow + ((size_t)i << bm->block_shift),
				   bm->span_sector +
				   (sector_t)bm->shadow_blocks[i] *
				   umlcow_block_sectors(bm),
				   (sector_t)(j - i) * umlcow_block_sectors(bm),
				   &batch);
		if (r)
			break;
		i = j;
	}
	if (!atomic_dec_and_test(&batch.pending))
		wait_for_completion_io(&batch.all_done);
	if (!r && READ_ONCE(batch.failed))
		r = -EIO;
	return r;
}

/* The flush of a write-back; a function of its own for fail_function. */
static noinline int umlcow_flush_cow(struct umlcow_bitmap *bm)
{
	return blkdev_issue_flush(bm->cow);
}

ALLOW_ERROR_INJECTION(umlcow_flush_cow, ERRNO);

/*
 * Each round takes a copy of some dirty blocks first, then flushes the COW
 * device, so the data of every bit in the copy (written before the copy was
 * taken) and the blocks the round before wrote are durable before the copy
 * is written; a final flush makes the last round durable.  Bits set after a
 * copy stay dirty for the next round.  On any failure every block staged
 * since the last successful flush is dirty again.
 */
static int __umlcow_write_back(struct umlcow_bitmap *bm)
{
	unsigned long pos = 0, round_first = 0, round_end = 0;
	unsigned int n;
	int r;

	lockdep_assert_held(&bm->commit_lock);

	while ((n = umlcow_snapshot(bm, &pos))) {
		r = umlcow_flush_cow(bm);
		if (r)
			goto fail;
		umlcow_settle_round(bm, round_first, round_end);
		r = umlcow_write_shadow(bm, n);
		if (r)
			goto fail;
		round_first = bm->shadow_blocks[0];
		round_end = bm->shadow_blocks[n - 1] + 1;
	}
	r = umlcow_flush_cow(bm);
	if (r)
		goto fail;
	umlcow_settle_round(bm, round_first, round_end);
	return 0;

fail:
	umlcow_redirty_pending(bm);
	return r;
}

/* umlcow_bitmap_commit(), at lockdep nesting level @subclass. */
static int umlcow_commit_nested(struct umlcow_bitmap *bm,
				unsigned int subclass)
{
	int r = 0;

	mutex_lock_nested(&bm->commit_lock, subclass);
	if (bm->loaded)
		r = __umlcow_write_back(bm);
	mutex_unlock(&bm->commit_lock);
	return r;
}

/**
 * umlcow_bitmap_commit() - Make every completed write durable.
 * @bm: the bitmap
 *
 * Writes every dirty bitmap block back and leaves the COW device flushed, so
 * the data of every bit set so far and the bits themselves are on disk.  On
 * failure every block not known to be on disk stays dirty, for a retry.
 * Only a table that may write the COW device calls it.  Process context.
 *
 * Return: 0 or a negative errno.
 */
int umlcow_bitmap_commit(struct umlcow_bitmap *bm)
{
	return umlcow_commit_nested(bm, 0);
}

/* --- Life cycle --- */

static void umlcow_bitmap_free(struct umlcow_bitmap *bm)
{
	if (!IS_ERR_OR_NULL(bm->io_client))
		dm_io_client_destroy(bm->io_client);
	kfree(bm->shadow_blocks);
	vfree(bm->shadow);
	vfree(bm->pending);
	vfree(bm->dirty);
	vfree(bm->bits);
	kfree(bm);
}

/* Refuse a bitmap that would take the memory the rest of the system needs. */
static int umlcow_check_memory(struct umlcow_bitmap *bm, size_t span,
			       char **error)
{
	long avail = si_mem_available();
	u64 avail_bytes = avail > 0 ? (u64)avail << PAGE_SHIFT : 0;

	if (span <= avail_bytes)
		return 0;

	DMERR("%pg: the bitmap needs %llu MiB of memory, %llu MiB are available",
	      bm->cow, (unsigned long long)DIV_ROUND_UP_ULL(span, SZ_1M),
	      (unsigned long long)(avail_bytes / SZ_1M));
	*error = "Not enough memory for the bitmap";
	return -ENOMEM;
}

/* One bit per block of the span, all clear. */
static unsigned long *umlcow_alloc_block_map(struct umlcow_bitmap *bm)
{
	return __vmalloc(BITS_TO_LONGS(bm->nr_blocks) * sizeof(long),
			 GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN |
			 __GFP_ZERO);
}

static int umlcow_bitmap_alloc(struct umlcow_bitmap *bm, char **error)
{
	size_t span = (size_t)bm->nr_blocks << bm->block_shift;
	int r;

	r = umlcow_check_memory(bm, span, error);
	if (r)
		return r;

	/* Fail rather than wake the OOM killer when memory runs out anyway. */
	bm->bits = __vmalloc(span, GFP_KERNEL | __GFP_RETRY_MAYFAIL |
			     __GFP_NOWARN);
	bm->dirty = umlcow_alloc_block_map(bm);
	bm->pending = umlcow_alloc_block_map(bm);
	if (!bm->bits || !bm->dirty || !bm->pending) {
		DMERR("%pg: cannot allocate %zu bytes for the bitmap",
		      bm->cow, span);
		*error = "Cannot allocate the bitmap";
		return -ENOMEM;
	}

	bm->shadow_slots = min_t(unsigned long, bm->nr_blocks,
				 UMLCOW_SHADOW_MAX_BYTES >> bm->block_shift);
	bm->shadow = vmalloc((size_t)bm->shadow_slots << bm->block_shift);
	bm->shadow_blocks = kcalloc(bm->shadow_slots, sizeof(unsigned long),
				    GFP_KERNEL);
	if (!bm->shadow || !bm->shadow_blocks) {
		*error = "Cannot allocate the write-back buffer";
		return -ENOMEM;
	}

	bm->io_client = dm_io_client_create();
	if (IS_ERR(bm->io_client)) {
		*error = "Cannot create the dm-io client";
		return PTR_ERR(bm->io_client);
	}
	return 0;
}

static struct umlcow_bitmap *
umlcow_bitmap_create(struct mapped_device *md, struct block_device *cow,
		     const struct umlcow_bitmap_geometry *geo, char **error)
{
	unsigned int block = bdev_logical_block_size(cow);
	struct umlcow_bitmap *bm;
	u64 span_start, span_end;
	int r;

	bm = kzalloc(sizeof(*bm), GFP_KERNEL);
	if (!bm) {
		*error = "Cannot allocate the bitmap context";
		return ERR_PTR(-ENOMEM);
	}
	INIT_LIST_HEAD(&bm->list);
	INIT_LIST_HEAD(&bm->users);
	bm->owner = md;
	bm->cow = cow;
	bm->geo = *geo;
	bm->refs = 1;
	spin_lock_init(&bm->lock);
	mutex_init(&bm->commit_lock);

	/* The target has checked that the span fits the device and a long. */
	umlcow_bitmap_span(geo, block, &span_start, &span_end);
	bm->block_bytes = block;
	bm->block_shift = ilog2(block);
	bm->span_sector = span_start >> SECTOR_SHIFT;
	bm->nr_blocks = (span_end - span_start) >> bm->block_shift;
	bm->first_bit = (geo->offset - span_start) * 8;

	r = umlcow_bitmap_alloc(bm, error);
	if (r) {
		umlcow_bitmap_free(bm);
		return ERR_PTR(r);
	}
	return bm;
}

static struct umlcow_bitmap *__umlcow_bitmap_find(struct block_device *cow)
{
	struct umlcow_bitmap *bm;

	lockdep_assert_held(&umlcow_bitmaps_lock);

	list_for_each_entry(bm, &umlcow_bitmaps, list)
		if (bm->cow == cow)
			return bm;
	return NULL;
}

/* May a table of @md with @geo use @bm, which is already in use? */
static int __umlcow_bitmap_share(struct umlcow_bitmap *bm,
				 struct mapped_device *md,
				 const struct umlcow_bitmap_geometry *geo,
				 char **error)
{
	char name[DM_NAME_LEN];

	lockdep_assert_held(&umlcow_bitmaps_lock);

	if (bm->owner != md) {
		if (dm_copy_name_and_uuid(bm->owner, name, NULL))
			strscpy(name, "?", sizeof(name));
		DMERR("COW device %pg is already in use by dm device %s (%s)",
		      bm->cow, name, dm_device_name(bm->owner));
		*error = "COW device is already in use by another dm device";
		return -EBUSY;
	}
	if (bm->closing) {
		*error = "COW device is being released; try again";
		return -EBUSY;
	}
	if (bm->geo.offset != geo->offset || bm->geo.nr_bits != geo->nr_bits) {
		*error = "COW device is in use by this dm device with another bitmap geometry";
		return -EINVAL;
	}
	return 0;
}

/**
 * umlcow_bitmap_get() - Take the bitmap of a COW device for a new table.
 * @cow: the COW block device
 * @geo: where the table says the bitmap is; the caller has checked that it
 *	lies on @cow and that its span in bits fits an unsigned long
 * @user: the table's use of it, with @user->table and @user->writable set;
 *	linked into the bitmap until umlcow_bitmap_put()
 * @result: the bitmap, on success
 * @error: a message for ti->error, on failure
 *
 * Shares the bitmap of another table of the same dm device on @cow, or
 * allocates a new one that umlcow_bitmap_load() reads at the table's first
 * resume.  Process context.
 *
 * Return: 0, -EBUSY when another dm device uses @cow, -EINVAL when a table
 * of the same dm device uses @cow with another geometry, or -ENOMEM.
 */
int umlcow_bitmap_get(struct block_device *cow,
		      const struct umlcow_bitmap_geometry *geo,
		      struct umlcow_bitmap_user *user,
		      struct umlcow_bitmap **result, char **error)
{
	struct mapped_device *md = dm_table_get_md(user->table);
	struct umlcow_bitmap *bm, *fresh = NULL;
	int r;

	for (;;) {
		mutex_lock(&umlcow_bitmaps_lock);
		bm = __umlcow_bitmap_find(cow);
		if (bm) {
			r = __umlcow_bitmap_share(bm, md, geo, error);
			if (!r) {
				bm->refs++;
				list_add(&user->node, &bm->users);
				*result = bm;
			}
			mutex_unlock(&umlcow_bitmaps_lock);
			if (fresh)
				umlcow_bitmap_free(fresh);
			return r;
		}
		if (fresh) {
			list_add(&fresh->list, &umlcow_bitmaps);
			list_add(&user->node, &fresh->users);
			mutex_unlock(&umlcow_bitmaps_lock);
			*result = fresh;
			return 0;
		}
		mutex_unlock(&umlcow_bitmaps_lock);

		/* A large bitmap takes a while to allocate: not under the lock. */
		fresh = umlcow_bitmap_create(md, cow, geo, error);
		if (IS_ERR(fresh))
			return PTR_ERR(fresh);
	}
}

/**
 * umlcow_bitmap_put() - A table lets go of its bitmap.
 * @bm: the bitmap
 * @user: what umlcow_bitmap_get() linked in for the table
 *
 * Bits not yet on disk stay with the bitmap while another table uses it.
 * The last table to let go writes them back, if it may write the COW device,
 * whatever its mode (the device may have recovered), before anyone else can
 * take the COW device.  Process context.
 *
 * Return: 0, or a negative errno when bits that never reached the disk are
 * dropped: the last write-back failed, or the last table may not write.
 */
int umlcow_bitmap_put(struct umlcow_bitmap *bm,
		      struct umlcow_bitmap_user *user)
{
	int r = 0;

	mutex_lock(&umlcow_bitmaps_lock);
	list_del(&user->node);
	if (bm->refs > 1) {
		bm->refs--;
		mutex_unlock(&umlcow_bitmaps_lock);
		return 0;
	}
	bm->closing = true;
	mutex_unlock(&umlcow_bitmaps_lock);

	if (umlcow_bitmap_needs_commit(bm))
		r = user->writable ? umlcow_bitmap_commit(bm) : -EROFS;

	mutex_lock(&umlcow_bitmaps_lock);
	list_del(&bm->list);
	mutex_unlock(&umlcow_bitmaps_lock);

	umlcow_bitmap_free(bm);
	return r;
}
