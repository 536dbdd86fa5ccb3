// SPDX-License-Identifier: GPL-2.0
/*
 * dm-umlcow: map a User-Mode-Linux copy-on-write (COW) disk image.
 *
 * A UML COW file holds a header, a bitmap with one bit per sector of the
 * image, and a data area that mirrors the image sector by sector.  A sector
 * whose bit is set lives in the data area of the COW file; any other sector
 * is read from the backing image, which is never written.
 *
 * This target presents the combined image as a block device.  The whole
 * bitmap is kept in memory; reads are split at every change of bit and sent
 * to the right device, writes always go to the COW data area and set their
 * bits once the data write has completed.  Changed bitmap sectors are written
 * back after a flush of the data, before a REQ_PREFLUSH or a FUA write that
 * depends on them completes, periodically, on suspend and on removal, so the
 * device behaves like a disk with a volatile write cache.
 *
 * See Documentation/admin-guide/device-mapper/umlcow.rst.
 */

#include <linux/bio.h>
#include <linux/bitops.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/dm-ioctl.h>
#include <linux/ioprio.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/vmalloc.h>
#include <linux/workqueue.h>

#include "dm-umlcow-compat.h"

#define DM_MSG_PREFIX "umlcow"

#define UMLCOW_DEFAULT_COMMIT_MS	1000
#define UMLCOW_MAX_COMMIT_MS		(3600U * 1000U)
#define UMLCOW_MAX_FEATURE_ARGS		4

/* Bitmap blocks are staged in this much memory per write-back round. */
#define UMLCOW_SHADOW_BYTES		(64 * 1024)

/*
 * Error modes, in the only order the target moves through them:
 *   RW   - normal operation;
 *   RO   - writing back the bitmap (or flushing the COW device) failed:
 *          reads are served, every write, discard and flush fails;
 *   FAIL - the COW device also failed a read while read-only: all I/O fails.
 */
enum umlcow_mode {
	UMLCOW_MODE_RW,
	UMLCOW_MODE_RO,
	UMLCOW_MODE_FAIL,
};

static const char * const umlcow_mode_names[] = {
	[UMLCOW_MODE_RW] = "rw",
	[UMLCOW_MODE_RO] = "ro",
	[UMLCOW_MODE_FAIL] = "fail",
};

/* What the per-bio data says about a bio once it completes. */
#define UIO_WRITE	BIT(0)		/* sets bits of its range on success */
#define UIO_FUA		BIT(1)		/* the write carried REQ_FUA */
#define UIO_READ_COW	BIT(2)		/* read remapped to the COW data area */
#define UIO_FLUSH	BIT(3)		/* empty flush passed to the COW device */
#define UIO_DEFERRED	BIT(4)		/* completion handled by the worker */

struct umlcow_io {
	sector_t sector;		/* target-relative, in 512-byte units */
	unsigned int nr_sectors;
	unsigned int flags;
};

struct umlcow_c {
	struct dm_target *ti;
	struct dm_dev *cow_dev;
	struct dm_dev *backing_dev;
	struct list_head list;		/* in umlcow_devices */
	char name[DM_NAME_LEN];		/* the dm device's name, for logs */

	/* Table arguments, as given. */
	u64 bitmap_offset;
	u64 data_offset;
	u64 nr_sectors;
	unsigned int sector_size;
	unsigned int commit_ms;
	bool opt_read_only;
	bool opt_no_discard;
	bool opt_commit_ms;

	/* Derived from them. */
	bool read_only;			/* never write the COW device */
	bool discard;			/* discards are accepted */
	unsigned int sector_shift;	/* log2(sector_size / 512) */
	unsigned int max_discard;	/* in 512-byte sectors */
	sector_t data_start;		/* data area, in 512-byte sectors */
	sector_t cow_sectors;		/* size of the COW device */

	/*
	 * The in-core bitmap: the whole blocks of the COW device that hold
	 * the on-disk bitmap, read at construction, so a block written back
	 * keeps the header bytes that share it.  Blocks are the COW device's
	 * logical block size.  Image sector n is bit bm_first_bit + n in
	 * little-endian bit order, as on disk.
	 */
	void *bm;
	sector_t bm_sector;		/* first block of the span, in 512s */
	unsigned long bm_blocks;	/* blocks in the span */
	unsigned int bm_block_bytes;
	unsigned int bm_block_shift;	/* log2(bm_block_bytes) */
	unsigned long bm_first_bit;

	/*
	 * Protected by @lock: setting bits, the dirty block map and the
	 * counters, @committing and the deferred bio lists.  Readers of the
	 * bitmap take no lock: a bit only ever goes from 0 to 1 while the
	 * device is live.
	 */
	spinlock_t lock;
	unsigned long *dirty;		/* one bit per block of the span */
	unsigned long nr_dirty;
	u64 nr_allocated;
	bool committing;		/* a write-back has blocks in flight */
	struct bio_list deferred_flushes;
	struct bio_list deferred_fua;

	/* Write-back: serialised by @commit_lock. */
	struct mutex commit_lock;
	struct dm_io_client *io_client;
	void *shadow;
	unsigned long *shadow_blocks;
	unsigned int shadow_slots;

	atomic_t mode;
	bool resumed_once;
	bool reread_bitmap;

	struct workqueue_struct *wq;
	struct work_struct worker;
	struct delayed_work periodic;
	struct work_struct event_work;
};

/* Every live target, to notice a table reload on the same COW device. */
static LIST_HEAD(umlcow_devices);
static DEFINE_MUTEX(umlcow_devices_lock);

static const char *umlcow_name(struct umlcow_c *uc)
{
	return uc->name;
}

/* Logs name the device as dmsetup does; dm-init devices by major:minor. */
static void umlcow_init_name(struct umlcow_c *uc)
{
	struct mapped_device *md = dm_table_get_md(uc->ti->table);

	if (dm_copy_name_and_uuid(md, uc->name, NULL))
		strscpy(uc->name, dm_device_name(md), sizeof(uc->name));
}

static enum umlcow_mode umlcow_get_mode(struct umlcow_c *uc)
{
	return atomic_read(&uc->mode);
}

static void umlcow_event_work(struct work_struct *ws)
{
	struct umlcow_c *uc = container_of(ws, struct umlcow_c, event_work);

	dm_table_event(uc->ti->table);
}

/*
 * Move to a worse mode, never back.  Safe in any context: the dm event,
 * which needs process context, is raised from a work item.
 */
static void umlcow_set_mode(struct umlcow_c *uc, enum umlcow_mode new_mode,
			    const char *why)
{
	int old = atomic_read(&uc->mode);

	do {
		if (old >= new_mode)
			return;
	} while (!atomic_try_cmpxchg(&uc->mode, &old, new_mode));

	DMERR("%s: %s, switching to %s mode", umlcow_name(uc), why,
	      umlcow_mode_names[new_mode]);
	schedule_work(&uc->event_work);
}

/* --- Bitmap I/O --- */

static int umlcow_io(struct umlcow_c *uc, blk_opf_t opf, void *buf,
		     sector_t sector, sector_t count)
{
	struct dm_io_region where = {
		.bdev = uc->cow_dev->bdev,
		.sector = sector,
		.count = count,
	};
	struct dm_io_request req = {
		.bi_opf = opf,
		.mem.type = DM_IO_VMA,
		.mem.ptr.vma = buf,
		.notify.fn = NULL,
		.client = uc->io_client,
	};
	unsigned long error_bits = 0;

	return umlcow_dm_io(&req, 1, &where, &error_bits);
}

static unsigned int umlcow_block_sectors(struct umlcow_c *uc)
{
	return uc->bm_block_bytes >> SECTOR_SHIFT;
}

/*
 * The bitmap is in little-endian bit order (bit n in byte n / 8, least
 * significant first), which the *_bit_le() helpers address; in this kernel
 * they take an int bit number, so point them at the word that holds the bit
 * to stay correct past 2^31 sectors.
 */
static bool umlcow_test_bit(struct umlcow_c *uc, unsigned long bit)
{
	const unsigned long *word = (const unsigned long *)uc->bm +
				    bit / BITS_PER_LONG;

	return test_bit_le(bit % BITS_PER_LONG, word);
}

static bool umlcow_test_and_set_bit(struct umlcow_c *uc, unsigned long bit)
{
	unsigned long *word = (unsigned long *)uc->bm + bit / BITS_PER_LONG;

	return test_and_set_bit_le(bit % BITS_PER_LONG, word);
}

static u64 umlcow_count_allocated(struct umlcow_c *uc)
{
	const u8 *p = (const u8 *)uc->bm + uc->bm_first_bit / 8;
	size_t full = uc->nr_sectors / 8;
	unsigned int rest = uc->nr_sectors % 8;
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

/* Read the bitmap span from disk; no I/O may be in flight on the target. */
static int umlcow_load_bitmap(struct umlcow_c *uc)
{
	u64 allocated;
	int r;

	r = umlcow_io(uc, REQ_OP_READ | REQ_META, uc->bm, uc->bm_sector,
		      (sector_t)uc->bm_blocks * umlcow_block_sectors(uc));
	if (r)
		return r;

	/* Counting a large bitmap takes a while: not with interrupts off. */
	allocated = umlcow_count_allocated(uc);

	spin_lock_irq(&uc->lock);
	bitmap_zero(uc->dirty, uc->bm_blocks);
	uc->nr_dirty = 0;
	uc->nr_allocated = allocated;
	spin_unlock_irq(&uc->lock);
	return 0;
}

static unsigned long umlcow_bit_block(struct umlcow_c *uc, unsigned long bit)
{
	return bit >> (uc->bm_block_shift + 3);
}

static void __umlcow_mark_dirty(struct umlcow_c *uc, unsigned long blk)
{
	if (!__test_and_set_bit(blk, uc->dirty))
		uc->nr_dirty++;
}

/* Is any bitmap block holding bits [first, end) waiting for write-back? */
static bool __umlcow_range_dirty(struct umlcow_c *uc, unsigned long first,
				 unsigned long end)
{
	unsigned long bfirst = umlcow_bit_block(uc, first);
	unsigned long blast = umlcow_bit_block(uc, end - 1);

	return find_next_bit(uc->dirty, blast + 1, bfirst) <= blast;
}

/*
 * A write to the COW data area completed: set the bits it covered.  Called
 * from bio completion, in any context.  Returns true when the bio must not
 * complete before a write-back: it is a FUA write and one of its bits may
 * not be on disk yet (new now, in a dirty block, or in a write-back that has
 * not finished).
 */
static bool umlcow_mark_written(struct umlcow_c *uc, struct umlcow_io *io)
{
	unsigned long first = uc->bm_first_bit + (io->sector >> uc->sector_shift);
	unsigned long end = uc->bm_first_bit +
		((io->sector + io->nr_sectors - 1) >> uc->sector_shift) + 1;
	bool fua = io->flags & UIO_FUA;
	bool new_bits = false;
	unsigned long bit, flags;
	bool wait;

	bit = find_next_zero_bit_le(uc->bm, end, first);
	if (bit >= end && !fua)
		return false;

	spin_lock_irqsave(&uc->lock, flags);
	for (; bit < end; bit = find_next_zero_bit_le(uc->bm, end, bit + 1)) {
		if (umlcow_test_and_set_bit(uc, bit))
			continue;
		uc->nr_allocated++;
		__umlcow_mark_dirty(uc, umlcow_bit_block(uc, bit));
		new_bits = true;
	}
	wait = fua && (new_bits || uc->committing ||
		       __umlcow_range_dirty(uc, first, end));
	spin_unlock_irqrestore(&uc->lock, flags);

	return wait;
}

/*
 * Copy up to shadow_slots dirty blocks, in ascending order from *pos, into
 * the shadow buffer and mark them clean.  Returns how many were taken.
 */
static unsigned int umlcow_snapshot(struct umlcow_c *uc, unsigned long *pos)
{
	unsigned int n = 0;
	unsigned long blk = *pos;

	spin_lock_irq(&uc->lock);
	while (n < uc->shadow_slots) {
		blk = find_next_bit(uc->dirty, uc->bm_blocks, blk);
		if (blk >= uc->bm_blocks)
			break;
		__clear_bit(blk, uc->dirty);
		uc->nr_dirty--;
		memcpy(uc->shadow + (size_t)n * uc->bm_block_bytes,
		       uc->bm + (size_t)blk * uc->bm_block_bytes,
		       uc->bm_block_bytes);
		uc->shadow_blocks[n++] = blk++;
	}
	spin_unlock_irq(&uc->lock);

	*pos = blk;
	return n;
}

static void umlcow_redirty(struct umlcow_c *uc, unsigned int n)
{
	unsigned int i;

	spin_lock_irq(&uc->lock);
	for (i = 0; i < n; i++)
		__umlcow_mark_dirty(uc, uc->shadow_blocks[i]);
	spin_unlock_irq(&uc->lock);
}

/* Write the n staged blocks, one request per run of adjacent blocks. */
static int umlcow_write_shadow(struct umlcow_c *uc, unsigned int n)
{
	unsigned int i = 0, j;
	int r;

	while (i < n) {
		for (j = i + 1; j < n; j++)
			if (uc->shadow_blocks[j] != uc->shadow_blocks[j - 1] + 1)
				break;
		r = umlcow_io(uc, REQ_OP_WRITE | REQ_SYNC | REQ_META,
			      uc->shadow + (size_t)i * uc->bm_block_bytes,
			      uc->bm_sector + (sector_t)uc->shadow_blocks[i] *
			      umlcow_block_sectors(uc),
			      (sector_t)(j - i) * umlcow_block_sectors(uc));
		if (r)
			return r;
		i = j;
	}
	return 0;
}

/*
 * Write every dirty bitmap block back and leave the COW device flushed.
 * Each round takes a copy of some dirty blocks first, then flushes the COW
 * device, so the data of every bit in the copy (written before the copy was
 * taken) is durable before the copy is written; a final flush makes the
 * bitmap itself durable.  Bits set after a copy stay dirty for the next
 * round.  Caller holds commit_lock.
 */
static int __umlcow_write_back(struct umlcow_c *uc)
{
	struct block_device *bdev = uc->cow_dev->bdev;
	unsigned long pos = 0;
	unsigned int n;
	int r = 0;

	spin_lock_irq(&uc->lock);
	uc->committing = true;
	spin_unlock_irq(&uc->lock);

	while ((n = umlcow_snapshot(uc, &pos))) {
		r = blkdev_issue_flush(bdev);
		if (!r)
			r = umlcow_write_shadow(uc, n);
		if (r) {
			umlcow_redirty(uc, n);
			goto out;
		}
	}
	r = blkdev_issue_flush(bdev);
out:
	spin_lock_irq(&uc->lock);
	uc->committing = false;
	spin_unlock_irq(&uc->lock);
	return r;
}

/*
 * Make everything that has completed so far durable: the data and the bits
 * that point at it.  Process context.  Returns 0 or a negative errno; a
 * failure moves the target to read-only mode.
 */
static int umlcow_commit(struct umlcow_c *uc)
{
	int r = 0;

	mutex_lock(&uc->commit_lock);
	if (umlcow_get_mode(uc) != UMLCOW_MODE_RW) {
		r = -EIO;
		goto out;
	}
	if (uc->read_only)
		goto out;

	r = __umlcow_write_back(uc);
	if (r)
		umlcow_set_mode(uc, UMLCOW_MODE_RO,
				"bitmap write-back to the COW device failed");
out:
	mutex_unlock(&uc->commit_lock);
	return r;
}

static bool umlcow_has_dirty(struct umlcow_c *uc)
{
	return READ_ONCE(uc->nr_dirty) != 0;
}

static void umlcow_complete_bios(struct bio_list *bios, int r)
{
	struct bio *bio;

	while ((bio = bio_list_pop(bios))) {
		if (r)
			bio->bi_status = errno_to_blk_status(r);
		bio_endio(bio);
	}
}

static void umlcow_worker(struct work_struct *ws)
{
	struct umlcow_c *uc = container_of(ws, struct umlcow_c, worker);
	struct bio_list flushes = BIO_EMPTY_LIST;
	struct bio_list fua = BIO_EMPTY_LIST;
	int r;

	spin_lock_irq(&uc->lock);
	bio_list_merge(&flushes, &uc->deferred_flushes);
	bio_list_init(&uc->deferred_flushes);
	bio_list_merge(&fua, &uc->deferred_fua);
	bio_list_init(&uc->deferred_fua);
	spin_unlock_irq(&uc->lock);

	if (bio_list_empty(&flushes) && bio_list_empty(&fua))
		return;

	/* One write-back covers every bio taken above. */
	r = umlcow_commit(uc);
	umlcow_complete_bios(&fua, r);
	umlcow_complete_bios(&flushes, r);
}

static void umlcow_periodic(struct work_struct *ws)
{
	struct umlcow_c *uc = container_of(to_delayed_work(ws),
					   struct umlcow_c, periodic);

	if (umlcow_has_dirty(uc) && umlcow_get_mode(uc) == UMLCOW_MODE_RW)
		umlcow_commit(uc);
	queue_delayed_work(uc->wq, &uc->periodic,
			   msecs_to_jiffies(uc->commit_ms));
}

static void umlcow_start_periodic(struct umlcow_c *uc)
{
	if (uc->commit_ms && !uc->read_only)
		queue_delayed_work(uc->wq, &uc->periodic,
				   msecs_to_jiffies(uc->commit_ms));
}

/* --- Constructor and destructor --- */

static int umlcow_parse_features(struct dm_arg_set *as, struct umlcow_c *uc,
				 char **error)
{
	static const struct dm_arg _args[] = {
		{0, UMLCOW_MAX_FEATURE_ARGS, "Invalid number of feature arguments"},
		{0, UMLCOW_MAX_COMMIT_MS, "Invalid commit_interval"},
	};
	unsigned int argc;
	const char *arg;
	int r;

	if (!as->argc)
		return 0;

	r = dm_read_arg_group(_args, as, &argc, error);
	if (r)
		return r;

	while (argc) {
		arg = dm_shift_arg(as);
		argc--;

		if (!strcasecmp(arg, "read_only")) {
			uc->opt_read_only = true;
		} else if (!strcasecmp(arg, "no_discard")) {
			uc->opt_no_discard = true;
		} else if (!strcasecmp(arg, "commit_interval")) {
			if (!argc) {
				*error = "commit_interval needs a value";
				return -EINVAL;
			}
			r = dm_read_arg(_args + 1, as, &uc->commit_ms, error);
			if (r)
				return r;
			argc--;
			uc->opt_commit_ms = true;
		} else {
			*error = "Unrecognised feature";
			return -EINVAL;
		}
	}

	if (as->argc) {
		*error = "Too many arguments";
		return -EINVAL;
	}
	return 0;
}

static int umlcow_parse_numbers(struct umlcow_c *uc, char **argv, char **error)
{
	if (kstrtou64(argv[2], 10, &uc->bitmap_offset)) {
		*error = "Invalid bitmap offset";
		return -EINVAL;
	}
	if (kstrtou64(argv[3], 10, &uc->data_offset)) {
		*error = "Invalid data offset";
		return -EINVAL;
	}
	if (uc->data_offset & (SECTOR_SIZE - 1)) {
		*error = "Data offset is not a multiple of 512";
		return -EINVAL;
	}
	if (kstrtouint(argv[4], 10, &uc->sector_size)) {
		*error = "Invalid sector size";
		return -EINVAL;
	}
	if (!is_power_of_2(uc->sector_size) || uc->sector_size < SECTOR_SIZE) {
		*error = "Sector size is not a power of two of at least 512";
		return -EINVAL;
	}
	if (uc->sector_size > PAGE_SIZE) {
		*error = "Sector size larger than the page size is not supported";
		return -EINVAL;
	}
	uc->sector_shift = ilog2(uc->sector_size) - SECTOR_SHIFT;
	if (kstrtou64(argv[5], 10, &uc->nr_sectors) || !uc->nr_sectors) {
		*error = "Invalid number of sectors";
		return -EINVAL;
	}
	return 0;
}

/* Check the table's geometry against the devices and derive the layout. */
static int umlcow_check_geometry(struct dm_target *ti, struct umlcow_c *uc)
{
	struct block_device *cow = uc->cow_dev->bdev;
	u64 cow_bytes = bdev_nr_bytes(cow);
	u64 image_bytes, bitmap_end, span_start, span_end, data_end;
	unsigned int block = bdev_logical_block_size(cow);

	if (check_mul_overflow(uc->nr_sectors, (u64)uc->sector_size,
			       &image_bytes)) {
		ti->error = "Image size overflows";
		return -EINVAL;
	}
	if (ti->len > image_bytes >> SECTOR_SHIFT) {
		ti->error = "Target length exceeds the image size";
		return -EINVAL;
	}
	if (ti->len & ((1U << uc->sector_shift) - 1)) {
		ti->error = "Target length is not a multiple of the sector size";
		return -EINVAL;
	}
	if (bdev_nr_bytes(uc->backing_dev->bdev) < image_bytes) {
		ti->error = "Backing device is smaller than the image";
		return -EINVAL;
	}

	/* The bitmap: one bit per image sector. */
	if (check_add_overflow(uc->bitmap_offset,
			       (uc->nr_sectors >> 3) + !!(uc->nr_sectors & 7),
			       &bitmap_end) ||
	    bitmap_end > cow_bytes) {
		ti->error = "Bitmap lies outside the COW device";
		return -EINVAL;
	}
	span_start = round_down(uc->bitmap_offset, block);
	span_end = round_up(bitmap_end, block);
	if (span_end > cow_bytes) {
		ti->error = "Bitmap lies outside the COW device";
		return -EINVAL;
	}
	if (span_end - span_start > ULONG_MAX / 8 ||
	    span_end - span_start > SIZE_MAX) {
		ti->error = "Bitmap too large";
		return -EINVAL;
	}

	if (uc->data_offset & (block - 1)) {
		ti->error = "Data offset is not aligned to the COW device's logical block size";
		return -EINVAL;
	}
	if (uc->read_only) {
		/*
		 * A read-only mapping may use a COW file that ends early
		 * (QEMU's grow as they are written), and a bitmap that runs
		 * into the data area (UML's short v1/v2 bitmaps).
		 */
		if (uc->data_offset > cow_bytes) {
			ti->error = "Data offset lies beyond the COW device";
			return -EINVAL;
		}
	} else {
		if (span_end > uc->data_offset) {
			ti->error = "Bitmap overlaps the data area (map it read_only)";
			return -EINVAL;
		}
		if (check_add_overflow(uc->data_offset, image_bytes, &data_end) ||
		    data_end > cow_bytes) {
			ti->error = "COW device is too small for the data area";
			return -EINVAL;
		}
	}

	uc->cow_sectors = cow_bytes >> SECTOR_SHIFT;
	uc->data_start = uc->data_offset >> SECTOR_SHIFT;
	uc->bm_block_bytes = block;
	uc->bm_block_shift = ilog2(block);
	uc->bm_sector = span_start >> SECTOR_SHIFT;
	uc->bm_blocks = (span_end - span_start) >> uc->bm_block_shift;
	uc->bm_first_bit = (uc->bitmap_offset - span_start) * 8;
	return 0;
}

static int umlcow_alloc(struct dm_target *ti, struct umlcow_c *uc)
{
	size_t span = (size_t)uc->bm_blocks << uc->bm_block_shift;

	uc->bm = __vmalloc(span, GFP_KERNEL | __GFP_NOWARN);
	if (!uc->bm) {
		ti->error = "Cannot allocate the bitmap";
		return -ENOMEM;
	}
	uc->dirty = vzalloc(BITS_TO_LONGS(uc->bm_blocks) * sizeof(long));
	if (!uc->dirty) {
		ti->error = "Cannot allocate the dirty block map";
		return -ENOMEM;
	}
	uc->shadow_slots = UMLCOW_SHADOW_BYTES >> uc->bm_block_shift;
	uc->shadow = vmalloc(UMLCOW_SHADOW_BYTES);
	uc->shadow_blocks = kcalloc(uc->shadow_slots, sizeof(unsigned long),
				    GFP_KERNEL);
	if (!uc->shadow || !uc->shadow_blocks) {
		ti->error = "Cannot allocate the write-back buffer";
		return -ENOMEM;
	}
	uc->io_client = dm_io_client_create();
	if (IS_ERR(uc->io_client)) {
		ti->error = "Cannot create the dm-io client";
		return PTR_ERR(uc->io_client);
	}
	uc->wq = alloc_ordered_workqueue("dm-" DM_MSG_PREFIX, WQ_MEM_RECLAIM);
	if (!uc->wq) {
		ti->error = "Cannot allocate the workqueue";
		return -ENOMEM;
	}
	return 0;
}

static void umlcow_free(struct umlcow_c *uc)
{
	if (uc->wq)
		destroy_workqueue(uc->wq);
	if (!IS_ERR_OR_NULL(uc->io_client))
		dm_io_client_destroy(uc->io_client);
	kfree(uc->shadow_blocks);
	vfree(uc->shadow);
	vfree(uc->dirty);
	vfree(uc->bm);
	if (uc->backing_dev)
		dm_put_device(uc->ti, uc->backing_dev);
	if (uc->cow_dev)
		dm_put_device(uc->ti, uc->cow_dev);
	kfree(uc);
}

static void umlcow_register(struct umlcow_c *uc)
{
	struct umlcow_c *other;

	mutex_lock(&umlcow_devices_lock);
	list_for_each_entry(other, &umlcow_devices, list) {
		/*
		 * Another table uses this COW device: most likely the one
		 * this table replaces, which writes its bitmap back when it
		 * is suspended.  Read the bitmap again at the first resume.
		 */
		if (other->cow_dev->bdev == uc->cow_dev->bdev)
			uc->reread_bitmap = true;
	}
	list_add(&uc->list, &umlcow_devices);
	mutex_unlock(&umlcow_devices_lock);
}

/*
 * Construct a umlcow mapping:
 *   <cow_dev> <backing_dev> <bitmap_offset> <data_offset> <sector_size>
 *   <nr_sectors> [<#feature args> [read_only] [no_discard]
 *                 [commit_interval <ms>]]
 */
static int umlcow_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dm_arg_set as = { .argc = argc, .argv = argv };
	struct umlcow_c *uc;
	umlcow_mode_t cow_mode;
	int r;

	if (argc < 6) {
		ti->error = "Invalid argument count";
		return -EINVAL;
	}

	uc = kzalloc(sizeof(*uc), GFP_KERNEL);
	if (!uc) {
		ti->error = "Cannot allocate the target context";
		return -ENOMEM;
	}
	uc->ti = ti;
	umlcow_init_name(uc);
	uc->commit_ms = UMLCOW_DEFAULT_COMMIT_MS;
	INIT_LIST_HEAD(&uc->list);
	spin_lock_init(&uc->lock);
	mutex_init(&uc->commit_lock);
	bio_list_init(&uc->deferred_flushes);
	bio_list_init(&uc->deferred_fua);
	atomic_set(&uc->mode, UMLCOW_MODE_RW);
	INIT_WORK(&uc->worker, umlcow_worker);
	INIT_DELAYED_WORK(&uc->periodic, umlcow_periodic);
	INIT_WORK(&uc->event_work, umlcow_event_work);

	dm_consume_args(&as, 6);
	r = umlcow_parse_features(&as, uc, &ti->error);
	if (r)
		goto bad;
	r = umlcow_parse_numbers(uc, argv, &ti->error);
	if (r)
		goto bad;

	uc->read_only = uc->opt_read_only ||
		!(dm_table_get_mode(ti->table) & UMLCOW_OPEN_WRITE);
	cow_mode = uc->read_only ? UMLCOW_OPEN_READ : UMLCOW_OPEN_READ | UMLCOW_OPEN_WRITE;

	r = dm_get_device(ti, argv[0], cow_mode, &uc->cow_dev);
	if (r) {
		ti->error = "COW device lookup failed";
		goto bad;
	}
	r = dm_get_device(ti, argv[1], UMLCOW_OPEN_READ, &uc->backing_dev);
	if (r) {
		ti->error = "Backing device lookup failed";
		goto bad;
	}
	if (uc->cow_dev->bdev == uc->backing_dev->bdev) {
		ti->error = "COW and backing device are the same";
		r = -EINVAL;
		goto bad;
	}

	r = umlcow_check_geometry(ti, uc);
	if (r)
		goto bad;
	r = umlcow_alloc(ti, uc);
	if (r)
		goto bad;
	r = umlcow_load_bitmap(uc);
	if (r) {
		ti->error = "Cannot read the bitmap";
		goto bad;
	}

	uc->max_discard = round_down(bdev_write_zeroes_sectors(uc->cow_dev->bdev),
				     1U << uc->sector_shift);
	uc->discard = !uc->read_only && !uc->opt_no_discard && uc->max_discard;

	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = uc->discard ? 1 : 0;
	ti->discards_supported = uc->discard;
	ti->num_write_zeroes_bios = uc->read_only ? 0 : 1;
	ti->per_io_data_size = sizeof(struct umlcow_io);
	ti->private = uc;

	umlcow_register(uc);
	return 0;

bad:
	umlcow_free(uc);
	return r;
}

static void umlcow_dtr(struct dm_target *ti)
{
	struct umlcow_c *uc = ti->private;

	mutex_lock(&umlcow_devices_lock);
	list_del(&uc->list);
	mutex_unlock(&umlcow_devices_lock);

	cancel_delayed_work_sync(&uc->periodic);
	flush_workqueue(uc->wq);
	if (umlcow_has_dirty(uc) && umlcow_commit(uc))
		DMERR("%s: bits written since the last commit are lost",
		      umlcow_name(uc));
	flush_work(&uc->event_work);
	umlcow_free(uc);
}

/* --- I/O --- */

static void umlcow_remap(struct bio *bio, struct dm_dev *dev, sector_t sector)
{
	bio_set_dev(bio, dev->bdev);
	bio->bi_iter.bi_sector = sector;
}

static int umlcow_map_read(struct umlcow_c *uc, struct bio *bio,
			   struct umlcow_io *io, sector_t offset)
{
	unsigned int nr = bio_sectors(bio);
	unsigned long first, end, next;
	bool in_cow;

	if (!nr) {
		umlcow_remap(bio, uc->backing_dev, offset);
		return DM_MAPIO_REMAPPED;
	}

	first = uc->bm_first_bit + (offset >> uc->sector_shift);
	end = uc->bm_first_bit + ((offset + nr - 1) >> uc->sector_shift) + 1;
	in_cow = umlcow_test_bit(uc, first);
	if (in_cow)
		next = find_next_zero_bit_le(uc->bm, end, first + 1);
	else
		next = find_next_bit_le(uc->bm, end, first + 1);

	/* Send only this run of equal bits; dm resubmits the rest. */
	if (next < end)
		dm_accept_partial_bio(bio, ((sector_t)(next - uc->bm_first_bit)
					    << uc->sector_shift) - offset);

	if (!in_cow) {
		umlcow_remap(bio, uc->backing_dev, offset);
		return DM_MAPIO_REMAPPED;
	}

	if (unlikely(uc->data_start + offset + bio_sectors(bio) > uc->cow_sectors)) {
		DMERR_LIMIT("%s: allocated sector %llu lies beyond the end of the COW device",
			    umlcow_name(uc), (unsigned long long)offset);
		return DM_MAPIO_KILL;
	}
	io->flags = UIO_READ_COW;
	umlcow_remap(bio, uc->cow_dev, uc->data_start + offset);
	return DM_MAPIO_REMAPPED;
}

static int umlcow_map_flush(struct umlcow_c *uc, struct bio *bio,
			    struct umlcow_io *io)
{
	unsigned long flags;

	if (umlcow_get_mode(uc) != UMLCOW_MODE_RW)
		return DM_MAPIO_KILL;

	/* Nothing is ever written: there is nothing to make durable. */
	if (uc->read_only) {
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}

	spin_lock_irqsave(&uc->lock, flags);
	if (uc->nr_dirty || uc->committing) {
		/* Bits still to reach the disk: the worker commits first. */
		bio_list_add(&uc->deferred_flushes, bio);
		spin_unlock_irqrestore(&uc->lock, flags);
		queue_work(uc->wq, &uc->worker);
		return DM_MAPIO_SUBMITTED;
	}
	spin_unlock_irqrestore(&uc->lock, flags);

	/* Every bit is on disk: flushing the data is enough. */
	io->flags = UIO_FLUSH;
	umlcow_remap(bio, uc->cow_dev, 0);
	return DM_MAPIO_REMAPPED;
}

static int umlcow_map(struct dm_target *ti, struct bio *bio)
{
	struct umlcow_c *uc = ti->private;
	struct umlcow_io *io = dm_per_bio_data(bio, sizeof(*io));
	sector_t offset = dm_target_offset(ti, bio->bi_iter.bi_sector);
	unsigned int mask = (1U << uc->sector_shift) - 1;

	io->flags = 0;
	io->sector = offset;
	io->nr_sectors = bio_sectors(bio);

	if (unlikely(umlcow_get_mode(uc) == UMLCOW_MODE_FAIL))
		return DM_MAPIO_KILL;

	/* dm core sends the flush of a REQ_PREFLUSH bio on its own, empty. */
	if (bio->bi_opf & REQ_PREFLUSH)
		return umlcow_map_flush(uc, bio, io);

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return umlcow_map_read(uc, bio, io, offset);
	case REQ_OP_DISCARD:
		if (!uc->discard)
			return DM_MAPIO_KILL;
		/*
		 * UML's discard semantics: the range reads back as zeros.
		 * Zero it in the data area (loop devices punch a hole) and
		 * set its bits like any write.
		 */
		bio->bi_opf = (bio->bi_opf & ~REQ_OP_MASK) | REQ_OP_WRITE_ZEROES;
		fallthrough;
	case REQ_OP_WRITE:
	case REQ_OP_WRITE_ZEROES:
		if (uc->read_only || umlcow_get_mode(uc) != UMLCOW_MODE_RW)
			return DM_MAPIO_KILL;
		if (unlikely(!io->nr_sectors || (offset & mask) ||
			     (io->nr_sectors & mask))) {
			DMERR_LIMIT("%s: write not aligned to the sector size",
				    umlcow_name(uc));
			return DM_MAPIO_KILL;
		}
		io->flags = UIO_WRITE;
		if (bio->bi_opf & REQ_FUA)
			io->flags |= UIO_FUA;
		umlcow_remap(bio, uc->cow_dev, uc->data_start + offset);
		return DM_MAPIO_REMAPPED;
	default:
		return DM_MAPIO_KILL;
	}
}

static bool umlcow_real_error(blk_status_t error)
{
	return error && error != BLK_STS_AGAIN && error != BLK_STS_NOTSUPP;
}

static int umlcow_end_io(struct dm_target *ti, struct bio *bio,
			 blk_status_t *error)
{
	struct umlcow_c *uc = ti->private;
	struct umlcow_io *io = dm_per_bio_data(bio, sizeof(*io));
	unsigned long flags;

	if (io->flags & UIO_DEFERRED)
		return DM_ENDIO_DONE;

	if (io->flags & UIO_WRITE) {
		/* A failed write sets no bit: its error reaches the caller. */
		if (*error || !umlcow_mark_written(uc, io))
			return DM_ENDIO_DONE;

		io->flags |= UIO_DEFERRED;
		spin_lock_irqsave(&uc->lock, flags);
		bio_list_add(&uc->deferred_fua, bio);
		spin_unlock_irqrestore(&uc->lock, flags);
		queue_work(uc->wq, &uc->worker);
		return DM_ENDIO_INCOMPLETE;
	}

	if ((io->flags & UIO_FLUSH) && umlcow_real_error(*error))
		umlcow_set_mode(uc, UMLCOW_MODE_RO, "flushing the COW device failed");
	else if ((io->flags & UIO_READ_COW) && umlcow_real_error(*error) &&
		 umlcow_get_mode(uc) == UMLCOW_MODE_RO)
		umlcow_set_mode(uc, UMLCOW_MODE_FAIL,
				"reading the COW device failed in read-only mode");

	return DM_ENDIO_DONE;
}

/* --- Suspend and resume --- */

static void umlcow_presuspend(struct dm_target *ti)
{
	struct umlcow_c *uc = ti->private;

	cancel_delayed_work_sync(&uc->periodic);
}

static void umlcow_presuspend_undo(struct dm_target *ti)
{
	umlcow_start_periodic(ti->private);
}

static void umlcow_postsuspend(struct dm_target *ti)
{
	struct umlcow_c *uc = ti->private;

	/* No bio is in flight now; write back what they left. */
	flush_workqueue(uc->wq);
	if (!uc->read_only && umlcow_get_mode(uc) == UMLCOW_MODE_RW)
		umlcow_commit(uc);
}

static int umlcow_preresume(struct dm_target *ti)
{
	struct umlcow_c *uc = ti->private;
	int r;

	if (uc->resumed_once || !uc->reread_bitmap)
		return 0;

	/* The table this one replaced has written its bitmap back now. */
	r = umlcow_load_bitmap(uc);
	if (r)
		DMERR("%s: cannot read the bitmap again: %d", umlcow_name(uc), r);
	return r;
}

static void umlcow_resume(struct dm_target *ti)
{
	struct umlcow_c *uc = ti->private;

	uc->resumed_once = true;
	umlcow_start_periodic(uc);
}

/* --- Status, messages, devices and limits --- */

static const char *umlcow_mode_word(struct umlcow_c *uc)
{
	enum umlcow_mode mode = umlcow_get_mode(uc);

	if (mode == UMLCOW_MODE_RW && uc->read_only)
		mode = UMLCOW_MODE_RO;
	return umlcow_mode_names[mode];
}

/*
 * INFO:  <allocated sectors>/<total sectors> <dirty bitmap blocks> <mode>
 * TABLE: the constructor arguments.
 */
static void umlcow_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct umlcow_c *uc = ti->private;
	unsigned int nr_features;
	size_t sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		DMEMIT("%llu/%llu %lu %s",
		       (unsigned long long)READ_ONCE(uc->nr_allocated),
		       (unsigned long long)uc->nr_sectors,
		       READ_ONCE(uc->nr_dirty), umlcow_mode_word(uc));
		break;

	case STATUSTYPE_TABLE:
		DMEMIT("%s %s %llu %llu %u %llu", uc->cow_dev->name,
		       uc->backing_dev->name,
		       (unsigned long long)uc->bitmap_offset,
		       (unsigned long long)uc->data_offset, uc->sector_size,
		       (unsigned long long)uc->nr_sectors);
		nr_features = uc->opt_read_only + uc->opt_no_discard +
			      2 * uc->opt_commit_ms;
		if (!nr_features)
			break;
		DMEMIT(" %u", nr_features);
		if (uc->opt_read_only)
			DMEMIT(" read_only");
		if (uc->opt_no_discard)
			DMEMIT(" no_discard");
		if (uc->opt_commit_ms)
			DMEMIT(" commit_interval %u", uc->commit_ms);
		break;

	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",cow_device_name=%s,backing_device_name=%s",
		       uc->cow_dev->name, uc->backing_dev->name);
		DMEMIT(",bitmap_offset=%llu,data_offset=%llu,sector_size=%u,nr_sectors=%llu",
		       (unsigned long long)uc->bitmap_offset,
		       (unsigned long long)uc->data_offset, uc->sector_size,
		       (unsigned long long)uc->nr_sectors);
		DMEMIT(",read_only=%c,discard=%c,commit_interval=%u,mode=%s;",
		       uc->read_only ? 'y' : 'n', uc->discard ? 'y' : 'n',
		       uc->commit_ms, umlcow_mode_word(uc));
		break;
	}
}

static int umlcow_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct umlcow_c *uc = ti->private;

	if (argc == 1 && !strcasecmp(argv[0], "commit"))
		return umlcow_commit(uc);

	DMERR("%s: unsupported message '%s'", umlcow_name(uc),
	      argc ? argv[0] : "");
	return -EINVAL;
}

static int umlcow_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct umlcow_c *uc = ti->private;
	sector_t bm_end = uc->bm_sector +
		((sector_t)uc->bm_blocks << (uc->bm_block_shift - SECTOR_SHIFT));
	sector_t data_end = min_t(sector_t, uc->data_start + ti->len,
				  uc->cow_sectors);
	sector_t start = min(uc->bm_sector, uc->data_start);
	sector_t end = max(bm_end, data_end);
	int r;

	/* The part of the COW device in use: the bitmap and the data area. */
	r = fn(ti, uc->cow_dev, start, end - start, data);
	if (r)
		return r;
	return fn(ti, uc->backing_dev, 0, ti->len, data);
}

static void umlcow_io_hints(struct dm_target *ti, struct queue_limits *limits)
{
	struct umlcow_c *uc = ti->private;

	limits->logical_block_size = max_t(unsigned int,
					   limits->logical_block_size,
					   uc->sector_size);
	limits->physical_block_size = max_t(unsigned int,
					    limits->physical_block_size,
					    limits->logical_block_size);
	limits->io_min = max_t(unsigned int, limits->io_min,
			       limits->logical_block_size);

	if (uc->discard) {
		limits->discard_granularity = limits->logical_block_size;
		limits->discard_alignment = 0;
		umlcow_set_max_discard(limits, uc->max_discard);
	}
}

static struct target_type umlcow_target = {
	.name = "umlcow",
	.version = {1, 0, 0},
	.module = THIS_MODULE,
	.ctr = umlcow_ctr,
	.dtr = umlcow_dtr,
	.map = umlcow_map,
	.end_io = umlcow_end_io,
	.presuspend = umlcow_presuspend,
	.presuspend_undo = umlcow_presuspend_undo,
	.postsuspend = umlcow_postsuspend,
	.preresume = umlcow_preresume,
	.resume = umlcow_resume,
	.status = umlcow_status,
	.message = umlcow_message,
	.iterate_devices = umlcow_iterate_devices,
	.io_hints = umlcow_io_hints,
};

static int __init dm_umlcow_init(void)
{
	int r = dm_register_target(&umlcow_target);

	if (r < 0)
		DMERR("register failed %d", r);
	return r;
}

static void __exit dm_umlcow_exit(void)
{
	dm_unregister_target(&umlcow_target);
}

module_init(dm_umlcow_init);
module_exit(dm_umlcow_exit);

MODULE_DESCRIPTION(DM_NAME " target for User-Mode-Linux COW disk images");
MODULE_LICENSE("GPL");
MODULE_ALIAS("dm-umlcow");
