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
 * bitmap is kept in memory (dm-umlcow-bitmap.c), shared by the tables of one
 * dm device and refused to any other dm device on the same COW block device;
 * reads are split at every change of
 * bit and sent to the right device, writes always go to the COW data area
 * and set their bits once the data write has completed.  Changed bitmap
 * blocks are written back after a flush of the data, before a REQ_PREFLUSH
 * or a FUA write that depends on them completes, periodically, on suspend
 * and on removal, so the device behaves like a disk with a volatile write
 * cache.
 *
 * See Documentation/admin-guide/device-mapper/umlcow.rst.
 */

#include "dm-umlcow-bitmap.h"

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-ioctl.h>
#include <linux/jiffies.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

#include "dm-umlcow-compat.h"

#define DM_MSG_PREFIX "umlcow"

#define UMLCOW_DEFAULT_COMMIT_MS	1000
#define UMLCOW_MAX_COMMIT_MS		(3600U * 1000U)
#define UMLCOW_MAX_FEATURE_ARGS		4

/*
 * Error modes, in the only order a table moves through them:
 *   RW   - normal operation;
 *   RO   - writing back the bitmap (or flushing the COW device) failed:
 *          reads are served, every write, discard and flush fails;
 *   FAIL - the COW device also failed a read while read-only: all I/O fails.
 * A table loaded with the read_only feature (or a read-only table) stays in
 * RW mode until an error: its access is shown separately in the status.
 * The bits a failed write-back could not write stay dirty in the bitmap,
 * which outlives the table: a writable table retries them on the commit
 * message, on suspend and on destruction, in any mode.
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
#define UMLCOW_PB_WRITE		BIT(0)	/* sets bits of its range on success */
#define UMLCOW_PB_FUA		BIT(1)	/* the write carried REQ_FUA */
#define UMLCOW_PB_READ_COW	BIT(2)	/* read remapped to the COW data area */
#define UMLCOW_PB_FLUSH		BIT(3)	/* empty flush passed to the COW device */
#define UMLCOW_PB_DEFERRED	BIT(4)	/* completion handled by the worker */
#define UMLCOW_PB_FUA_BY_COMMIT	BIT(5)	/* REQ_FUA dropped: a commit follows */

/* Set by read pieces' completions, which may run concurrently. */
#define UMLCOW_PB_PIECE_COW_FAILED	0	/* a piece read from COW failed */

struct umlcow_per_bio {
	sector_t sector;		/* target-relative, in 512-byte units */
	unsigned int nr_sectors;
	unsigned int flags;
	unsigned long piece_flags;	/* atomic bitops only */
	blk_status_t piece_status;	/* error of a failed piece, or 0 */
};

struct umlcow_c {
	struct dm_target *ti;
	struct dm_dev *cow_dev;
	struct dm_dev *backing_dev;
	struct umlcow_bitmap *bm;
	struct umlcow_bitmap_user bm_user;
	struct bio_set pieces;		/* see umlcow_map_read() */
	struct bio_set gathers;		/* see umlcow_gather_read() */
	struct page *discard_page;	/* what a gathering read reads past */

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
	 * Bios waiting for a write-back, completed by @worker, and reads whose
	 * runs could not all be split off in the map call, finished by
	 * @read_worker.
	 */
	spinlock_t lock;
	struct bio_list deferred_flushes;
	struct bio_list deferred_fua;
	struct bio_list deferred_reads;

	spinlock_t name_lock;		/* protects @last_name */
	char last_name[DM_NAME_LEN];	/* see umlcow_current_name() */

	atomic_t mode;
	const char *mode_reasons[UMLCOW_MODE_FAIL + 1];
	enum umlcow_mode logged_mode;	/* by event_work */

	struct workqueue_struct *wq;
	struct work_struct worker;
	struct work_struct read_worker;
	struct delayed_work periodic;
	struct work_struct event_work;
};

static struct mapped_device *umlcow_md(struct umlcow_c *uc)
{
	return dm_table_get_md(uc->ti->table);
}

/*
 * The dm device's current name (it changes with dmsetup rename).  While the
 * device is being removed it has none any more: then the last name seen.
 * May sleep: process context only; I/O paths log the major:minor.
 */
static void umlcow_current_name(struct umlcow_c *uc, char *name)
{
	if (!dm_copy_name_and_uuid(umlcow_md(uc), name, NULL)) {
		spin_lock(&uc->name_lock);
		strscpy(uc->last_name, name, sizeof(uc->last_name));
		spin_unlock(&uc->name_lock);
		return;
	}
	spin_lock(&uc->name_lock);
	strscpy(name, uc->last_name, DM_NAME_LEN);
	spin_unlock(&uc->name_lock);
}

static enum umlcow_mode umlcow_get_mode(struct umlcow_c *uc)
{
	return atomic_read(&uc->mode);
}

/* Log mode changes and raise the dm event, both of which need to sleep. */
static void umlcow_event_work(struct work_struct *ws)
{
	struct umlcow_c *uc = container_of(ws, struct umlcow_c, event_work);
	enum umlcow_mode mode = umlcow_get_mode(uc);
	char name[DM_NAME_LEN];

	umlcow_current_name(uc, name);
	while (uc->logged_mode < mode) {
		uc->logged_mode++;
		DMERR("%s: %s, switching to %s mode", name,
		      READ_ONCE(uc->mode_reasons[uc->logged_mode]),
		      umlcow_mode_names[uc->logged_mode]);
	}
	dm_table_event(uc->ti->table);
}

/* Move to a worse mode, never back.  Safe in any context. */
static void umlcow_set_mode(struct umlcow_c *uc, enum umlcow_mode new_mode,
			    const char *why)
{
	int old = atomic_read(&uc->mode);

	/* Published before the mode: event_work reads it after the mode. */
	WRITE_ONCE(uc->mode_reasons[new_mode], why);
	do {
		if (old >= new_mode)
			return;
	} while (!atomic_try_cmpxchg(&uc->mode, &old, new_mode));

	schedule_work(&uc->event_work);
}

/*
 * Write back the bits not yet on disk, in any mode: after a failure this is
 * the retry.  Process context.  Returns 0 or a negative errno; a failure
 * moves the table to read-only mode, and the bits stay dirty.
 */
static int umlcow_write_back(struct umlcow_c *uc)
{
	int r;

	if (uc->read_only)
		return umlcow_bitmap_needs_commit(uc->bm) ? -EROFS : 0;

	r = umlcow_bitmap_commit(uc->bm);
	if (r)
		umlcow_set_mode(uc, UMLCOW_MODE_RO,
				"bitmap write-back to the COW device failed");
	return r;
}

/*
 * Make everything that has completed so far durable, for a flush or FUA
 * write from above: the data and the bits that point at it.  Once a
 * write-back has failed the table cannot promise that any more.
 */
static int umlcow_commit(struct umlcow_c *uc)
{
	if (umlcow_get_mode(uc) != UMLCOW_MODE_RW)
		return -EIO;
	return umlcow_write_back(uc);
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

static void umlcow_read_worker(struct work_struct *ws);

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

	if (umlcow_get_mode(uc) == UMLCOW_MODE_RW &&
	    umlcow_bitmap_needs_commit(uc->bm))
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

/*
 * A lower device whose logical blocks are larger than the image's sectors
 * cannot serve a read or write of one sector.
 */
static int umlcow_check_block_size(struct dm_target *ti, struct umlcow_c *uc,
				   struct dm_dev *dev, const char *what)
{
	unsigned int block = bdev_logical_block_size(dev->bdev);

	if (block <= uc->sector_size)
		return 0;

	DMERR("%s device %pg (%s): %u-byte logical blocks, larger than the image's %u-byte sectors",
	      what, dev->bdev, dev->name, block, uc->sector_size);
	ti->error = "Device logical block size is larger than the COW sector size";
	return -EINVAL;
}

/* The table's bitmap, in the terms of dm-umlcow-bitmap.h. */
static struct umlcow_bitmap_geometry umlcow_geometry(struct umlcow_c *uc)
{
	return (struct umlcow_bitmap_geometry) {
		.offset = uc->bitmap_offset,
		.nr_bits = uc->nr_sectors,
	};
}

static void umlcow_span(struct umlcow_c *uc, u64 *start, u64 *end)
{
	struct umlcow_bitmap_geometry geo = umlcow_geometry(uc);

	umlcow_bitmap_span(&geo, bdev_logical_block_size(uc->cow_dev->bdev),
			   start, end);
}

/* Check the table's geometry against the devices and derive the layout. */
static int umlcow_check_geometry(struct dm_target *ti, struct umlcow_c *uc)
{
	struct block_device *cow = uc->cow_dev->bdev;
	u64 cow_bytes = bdev_nr_bytes(cow);
	u64 image_bytes, bitmap_end, span_start, span_end, data_end;
	unsigned int block = bdev_logical_block_size(cow);
	int r;

	r = umlcow_check_block_size(ti, uc, uc->cow_dev, "COW");
	if (!r)
		r = umlcow_check_block_size(ti, uc, uc->backing_dev, "Backing");
	if (r)
		return r;

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
			       DIV_ROUND_UP_ULL(uc->nr_sectors, 8),
			       &bitmap_end) ||
	    bitmap_end > cow_bytes ||
	    round_up(bitmap_end, block) > cow_bytes) {
		ti->error = "Bitmap lies outside the COW device";
		return -EINVAL;
	}
	umlcow_span(uc, &span_start, &span_end);
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
	return 0;
}

static int umlcow_take_bitmap(struct dm_target *ti, struct umlcow_c *uc)
{
	struct umlcow_bitmap_geometry geo = umlcow_geometry(uc);

	uc->bm_user.table = ti->table;
	uc->bm_user.writable = !uc->read_only;
	return umlcow_bitmap_get(uc->cow_dev->bdev, &geo, &uc->bm_user,
				 &uc->bm, &ti->error);
}

static void umlcow_free(struct umlcow_c *uc)
{
	bioset_exit(&uc->pieces);
	bioset_exit(&uc->gathers);
	if (uc->discard_page)
		__free_page(uc->discard_page);
	if (uc->wq)
		destroy_workqueue(uc->wq);
	if (uc->backing_dev)
		dm_put_device(uc->ti, uc->backing_dev);
	if (uc->cow_dev)
		dm_put_device(uc->ti, uc->cow_dev);
	kfree(uc);
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
	char name[DM_NAME_LEN];
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
	uc->commit_ms = UMLCOW_DEFAULT_COMMIT_MS;
	spin_lock_init(&uc->lock);
	spin_lock_init(&uc->name_lock);
	strscpy(uc->last_name, dm_device_name(umlcow_md(uc)), sizeof(uc->last_name));
	bio_list_init(&uc->deferred_flushes);
	bio_list_init(&uc->deferred_fua);
	bio_list_init(&uc->deferred_reads);
	atomic_set(&uc->mode, UMLCOW_MODE_RW);
	INIT_WORK(&uc->worker, umlcow_worker);
	INIT_WORK(&uc->read_worker, umlcow_read_worker);
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

	uc->wq = alloc_ordered_workqueue("dm-" DM_MSG_PREFIX, WQ_MEM_RECLAIM);
	if (!uc->wq) {
		ti->error = "Cannot allocate the workqueue";
		r = -ENOMEM;
		goto bad;
	}

	r = bioset_init(&uc->pieces, BIO_POOL_SIZE, 0, 0);
	if (!r)
		r = bioset_init(&uc->gathers, BIO_POOL_SIZE, 0, BIOSET_NEED_BVECS);
	if (r) {
		ti->error = "Cannot allocate the bio set";
		goto bad;
	}
	uc->discard_page = alloc_page(GFP_KERNEL);
	if (!uc->discard_page) {
		ti->error = "Cannot allocate the discard page";
		r = -ENOMEM;
		goto bad;
	}

	/* Last: nothing may fail once the COW device has this table as an owner. */
	r = umlcow_take_bitmap(ti, uc);
	if (r)
		goto bad;

	uc->max_discard = round_down(bdev_write_zeroes_sectors(uc->cow_dev->bdev),
				     1U << uc->sector_shift);
	uc->discard = !uc->read_only && !uc->opt_no_discard && uc->max_discard;

	ti->num_flush_bios = 1;
	ti->flush_supported = true;
	ti->num_discard_bios = uc->discard ? 1 : 0;
	ti->discards_supported = uc->discard;
	ti->num_write_zeroes_bios = uc->read_only ? 0 : 1;
	ti->per_io_data_size = sizeof(struct umlcow_per_bio);
	ti->private = uc;
	umlcow_current_name(uc, name);
	return 0;

bad:
	umlcow_free(uc);
	return r;
}

static void umlcow_dtr(struct dm_target *ti)
{
	struct umlcow_c *uc = ti->private;
	char name[DM_NAME_LEN];

	cancel_delayed_work_sync(&uc->periodic);
	flush_workqueue(uc->wq);
	if (umlcow_bitmap_put(uc->bm, &uc->bm_user)) {
		umlcow_current_name(uc, name);
		DMERR("%s: bits written since the last commit are lost", name);
	}
	flush_work(&uc->event_work);
	umlcow_free(uc);
}

/* --- I/O --- */

static bool umlcow_real_error(blk_status_t error)
{
	return error && error != BLK_STS_AGAIN && error != BLK_STS_NOTSUPP;
}

static void umlcow_remap(struct bio *bio, struct dm_dev *dev, sector_t sector)
{
	bio_set_dev(bio, dev->bdev);
	bio->bi_iter.bi_sector = sector;
}

/* Send a read of image sectors at @offset to the device that holds them. */
static void umlcow_remap_read(struct umlcow_c *uc, struct bio *bio,
			      sector_t offset, bool from_cow)
{
	if (from_cow)
		umlcow_remap(bio, uc->cow_dev, uc->data_start + offset);
	else
		umlcow_remap(bio, uc->backing_dev, offset);
}

/*
 * A read piece split off the clone has completed.  Its error is kept aside
 * rather than in the clone's status, so that umlcow_end_io() can tell a
 * failed read of the COW device from one of the backing device.
 */
static void umlcow_piece_done(struct bio *piece, bool from_cow)
{
	struct bio *clone = piece->bi_private;
	struct umlcow_per_bio *pb = dm_per_bio_data(clone, sizeof(*pb));

	if (piece->bi_status) {
		WRITE_ONCE(pb->piece_status, piece->bi_status);
		if (from_cow && umlcow_real_error(piece->bi_status))
			set_bit(UMLCOW_PB_PIECE_COW_FAILED, &pb->piece_flags);
	}
	bio_put(piece);
	bio_endio(clone);
}

static void umlcow_cow_piece_endio(struct bio *piece)
{
	umlcow_piece_done(piece, true);
}

static void umlcow_backing_piece_endio(struct bio *piece)
{
	umlcow_piece_done(piece, false);
}

/*
 * Send the first @len sectors of a read clone at target offset @offset, one
 * run of equal bits, to where the run lives; the clone completes only after
 * it.  Returns false, with the clone untouched, when no bio could be had
 * with @gfp.
 */
static bool umlcow_submit_piece(struct umlcow_c *uc, struct bio *clone,
				sector_t offset, unsigned int len, bool from_cow,
				gfp_t gfp)
{
	struct bio *piece;

	piece = bio_split(clone, len, gfp, &uc->pieces);
	if (IS_ERR_OR_NULL(piece))
		return false;

	bio_clear_polled(piece);
	piece->bi_private = clone;
	piece->bi_end_io = from_cow ? umlcow_cow_piece_endio :
				      umlcow_backing_piece_endio;
	bio_inc_remaining(clone);
	umlcow_remap_read(uc, piece, offset, from_cow);
	submit_bio_noacct(piece);
	return true;
}

/*
 * A read that ends in the COW data area past the end of the COW device: one
 * run per map call, so that only the run that cannot be read fails.
 */
static int umlcow_map_read_slow(struct umlcow_c *uc, struct bio *bio,
				struct umlcow_per_bio *pb, sector_t offset)
{
	unsigned int nr = bio_sectors(bio);
	u64 first = offset >> uc->sector_shift;
	u64 end = ((offset + nr - 1) >> uc->sector_shift) + 1;
	u64 next = umlcow_bitmap_run_end(uc->bm, first, end);
	bool from_cow = umlcow_bitmap_test(uc->bm, first);

	if (next < end)
		dm_accept_partial_bio(bio, (next << uc->sector_shift) - offset);

	if (from_cow &&
	    uc->data_start + offset + bio_sectors(bio) > uc->cow_sectors) {
		DMERR_LIMIT("%s: allocated sector %llu lies beyond the end of the COW device",
			    dm_device_name(umlcow_md(uc)),
			    (unsigned long long)offset);
		return DM_MAPIO_KILL;
	}
	if (from_cow)
		pb->flags = UMLCOW_PB_READ_COW;
	umlcow_remap_read(uc, bio, offset, from_cow);
	return DM_MAPIO_REMAPPED;
}

/*
 * Split every run of equal bits but the last off a read clone and send it
 * to where it lives; the clone itself then covers the last run, which
 * *@last_from_cow says where to read.  Each piece advances the clone, so
 * the runs left always start at the clone's current sector.  Returns false
 * when a piece could not be had with @gfp: the clone covers the runs not
 * sent yet, and pieces already sent stay in flight.
 */
static bool umlcow_send_leading_runs(struct umlcow_c *uc, struct bio *clone,
				     gfp_t gfp, bool *last_from_cow)
{
	sector_t offset = dm_target_offset(uc->ti, clone->bi_iter.bi_sector);
	u64 end = ((offset + bio_sectors(clone) - 1) >> uc->sector_shift) + 1;
	unsigned int len;
	u64 first, next;
	bool from_cow;

	for (;;) {
		first = offset >> uc->sector_shift;
		from_cow = umlcow_bitmap_test(uc->bm, first);
		next = umlcow_bitmap_run_end(uc->bm, first, end);
		if (next >= end)
			break;
		len = (next << uc->sector_shift) - offset;
		if (!umlcow_submit_piece(uc, clone, offset, len, from_cow, gfp))
			return false;
		offset += len;
	}
	*last_from_cow = from_cow;
	return true;
}

/* The clone now covers one run: send it where the run lives. */
static void umlcow_remap_last_run(struct umlcow_c *uc, struct bio *clone,
				  bool from_cow)
{
	struct umlcow_per_bio *pb = dm_per_bio_data(clone, sizeof(*pb));

	if (from_cow)
		pb->flags |= UMLCOW_PB_READ_COW;
	umlcow_remap_read(uc, clone,
			  dm_target_offset(uc->ti, clone->bi_iter.bi_sector),
			  from_cow);
}

/*
 * Finish the reads whose pieces could not all be had in the map call.  Here
 * a piece is submitted as soon as it is split, so waiting for the pool is
 * safe: the pieces taken from it complete and return to it.
 */
static void umlcow_read_worker(struct work_struct *ws)
{
	struct umlcow_c *uc = container_of(ws, struct umlcow_c, read_worker);
	struct bio_list reads = BIO_EMPTY_LIST;
	struct bio *clone;
	bool from_cow;

	spin_lock_irq(&uc->lock);
	bio_list_merge(&reads, &uc->deferred_reads);
	bio_list_init(&uc->deferred_reads);
	spin_unlock_irq(&uc->lock);

	while ((clone = bio_list_pop(&reads))) {
		if (!umlcow_send_leading_runs(uc, clone, GFP_NOIO, &from_cow)) {
			/* Only a split the block layer refuses gets here. */
			clone->bi_status = BLK_STS_IOERR;
			bio_endio(clone);
			continue;
		}
		umlcow_remap_last_run(uc, clone, from_cow);
		dm_submit_bio_remap(clone, NULL);
	}
}

/*
 * Reading through the gaps.  UML's format fixes where each sector lives, so
 * a read over short alternating runs would go out as one request per run
 * on each device, which the devices cannot merge.  Instead each device gets
 * one read over the span from its first run to its last: the caller's pages
 * where the run is that device's, a page whose content nobody looks at
 * where it is the other device's.  Worth it only while the runs read past
 * are short: a long one still costs its bytes on the other device, so such
 * reads, and reads of one or two runs, take the split path.
 */
#define UMLCOW_GATHER_MAX_RUNS		32
#define UMLCOW_GATHER_MIN_RUNS		3
#define UMLCOW_GATHER_GAP_SECTORS	64	/* 32 KiB read past, at most */

/* The runs of one read: run i ends at @ends[i], from the COW file if bit i. */
struct umlcow_gather_plan {
	unsigned long cow_runs;
	unsigned int nr_runs;
	u32 ends[UMLCOW_GATHER_MAX_RUNS];	/* 512-byte units from the start */
};

static bool umlcow_run_from_cow(const struct umlcow_gather_plan *plan,
				unsigned int i)
{
	return plan->cow_runs & BIT(i);
}

/*
 * Record the runs of a read of @nr sectors at target offset @offset, taking
 * the bitmap's state once: the bios are built from the plan alone, so a
 * bit a racing write sets cannot make them disagree.  False when the read
 * is not worth gathering.
 */
static bool umlcow_plan_gather(struct umlcow_c *uc, sector_t offset,
			       unsigned int nr, struct umlcow_gather_plan *plan)
{
	u64 end = ((offset + nr - 1) >> uc->sector_shift) + 1;
	u64 first = offset >> uc->sector_shift;
	sector_t run_end;
	u64 next;
	unsigned int i;

	plan->cow_runs = 0;
	for (i = 0; first < end; i++, first = next) {
		if (i == UMLCOW_GATHER_MAX_RUNS)
			return false;
		next = umlcow_bitmap_run_end(uc->bm, first, end);
		if (umlcow_bitmap_test(uc->bm, first))
			plan->cow_runs |= BIT(i);
		run_end = min_t(sector_t, next << uc->sector_shift, offset + nr);
		plan->ends[i] = run_end - offset;
		/* A run between two others is read past by the other device. */
		if (i > 1 && plan->ends[i - 1] - plan->ends[i - 2] >
		    UMLCOW_GATHER_GAP_SECTORS)
			return false;
	}
	plan->nr_runs = i;
	return i >= UMLCOW_GATHER_MIN_RUNS;
}

/* The first and last run (indexes) of one device in a plan. */
static void umlcow_plan_span(const struct umlcow_gather_plan *plan,
			     bool from_cow, unsigned int *first,
			     unsigned int *last)
{
	unsigned int i;

	*first = plan->nr_runs;
	*last = 0;
	for (i = 0; i < plan->nr_runs; i++) {
		if (umlcow_run_from_cow(plan, i) != from_cow)
			continue;
		if (*first == plan->nr_runs)
			*first = i;
		*last = i;
	}
}

static struct bio *umlcow_alloc_gather(struct umlcow_c *uc, struct bio *clone,
				       sector_t offset, bool from_cow,
				       unsigned short nr_vecs, gfp_t gfp)
{
	struct dm_dev *dev = from_cow ? uc->cow_dev : uc->backing_dev;
	struct bio *bio;

	bio = bio_alloc_bioset(dev->bdev, nr_vecs,
			       REQ_OP_READ | (clone->bi_opf & ~(REQ_OP_MASK | REQ_POLLED)),
			       gfp, &uc->gathers);
	if (!bio)
		return NULL;
	bio->bi_ioprio = clone->bi_ioprio;
	bio_clone_blkg_association(bio, clone);
	umlcow_remap_read(uc, bio, offset, from_cow);
	bio->bi_private = clone;
	bio->bi_end_io = from_cow ? umlcow_cow_piece_endio :
				    umlcow_backing_piece_endio;
	return bio;
}

/*
 * Fill the two bios from the clone's pages: each chunk of a page goes to the
 * bio of the device its run belongs to, and the same length of the discard
 * page to the other bio while the chunk lies inside that bio's span.
 */
static void umlcow_fill_gather(struct umlcow_c *uc, struct bio *clone,
			       const struct umlcow_gather_plan *plan,
			       struct bio *bios[2], const u32 span[2][2])
{
	struct bvec_iter iter;
	struct bio_vec bv;
	unsigned int run = 0, done, chunk;
	u32 pos = 0;
	bool d;

	bio_for_each_segment(bv, clone, iter) {
		for (done = 0; done < bv.bv_len; done += chunk) {
			while (pos >= plan->ends[run])
				run++;
			d = umlcow_run_from_cow(plan, run);
			chunk = min_t(unsigned int, bv.bv_len - done,
				      (plan->ends[run] - pos) << SECTOR_SHIFT);
			__bio_add_page(bios[d], bv.bv_page, chunk,
				       bv.bv_offset + done);
			if (bios[!d] && pos >= span[!d][0] && pos < span[!d][1])
				__bio_add_page(bios[!d], uc->discard_page, chunk, 0);
			pos += chunk >> SECTOR_SHIFT;
		}
	}
}

/*
 * Send a read of many short runs as at most one read per device.  False,
 * with nothing sent, when the read is not worth it or its bios cannot be
 * had without waiting: the split path then reads it.
 */
static bool umlcow_gather_read(struct umlcow_c *uc, struct bio *clone,
			       sector_t offset)
{
	struct umlcow_gather_plan plan;
	struct bio *bios[2] = { NULL, NULL };
	u32 span[2][2];
	unsigned int first, last, nr_vecs;
	int d;

	if (!umlcow_plan_gather(uc, offset, bio_sectors(clone), &plan))
		return false;
	/* A chunk per page and run, each on both devices at worst. */
	nr_vecs = bio_segments(clone) + plan.nr_runs;
	if (nr_vecs > BIO_MAX_VECS)
		return false;

	for (d = 0; d < 2; d++) {
		umlcow_plan_span(&plan, d, &first, &last);
		if (first == plan.nr_runs)
			continue;
		span[d][0] = first ? plan.ends[first - 1] : 0;
		span[d][1] = plan.ends[last];
		bios[d] = umlcow_alloc_gather(uc, clone, offset + span[d][0], d,
					      nr_vecs, GFP_NOWAIT | __GFP_NOWARN);
		if (!bios[d])
			goto no_bios;
	}

	umlcow_fill_gather(uc, clone, &plan, bios, span);
	for (d = 0; d < 2; d++) {
		if (!bios[d])
			continue;
		bio_inc_remaining(clone);
		submit_bio_noacct(bios[d]);
	}
	/* The clone itself is not sent: this was its own reference. */
	bio_endio(clone);
	return true;

no_bios:
	for (d = 0; d < 2; d++)
		if (bios[d])
			bio_put(bios[d]);
	return false;
}

/*
 * A read may cross many runs of equal bits (a file system block of which
 * some sectors were written).  Every run but the last is split off and sent
 * from here; the clone itself carries the last.  Handing runs back to dm
 * core one by one instead costs a pass through dm core per run.
 *
 * Pieces are taken from the target's pool without waiting: the pieces split
 * so far are not submitted until map returns, so waiting for the pool could
 * wait forever.  When none can be had, the clone (already advanced past the
 * pieces sent, so dm_accept_partial_bio() would no longer describe it) goes
 * to a worker that finishes it.
 */
static int umlcow_map_read(struct umlcow_c *uc, struct bio *bio,
			   struct umlcow_per_bio *pb, sector_t offset)
{
	unsigned long flags;
	bool from_cow;

	if (!bio_sectors(bio)) {
		umlcow_remap(bio, uc->backing_dev, offset);
		return DM_MAPIO_REMAPPED;
	}
	if (unlikely(uc->data_start + offset + bio_sectors(bio) > uc->cow_sectors))
		return umlcow_map_read_slow(uc, bio, pb, offset);
	if (umlcow_gather_read(uc, bio, offset))
		return DM_MAPIO_SUBMITTED;

	if (umlcow_send_leading_runs(uc, bio, GFP_NOWAIT | __GFP_NOWARN,
				     &from_cow)) {
		umlcow_remap_last_run(uc, bio, from_cow);
		return DM_MAPIO_REMAPPED;
	}

	spin_lock_irqsave(&uc->lock, flags);
	bio_list_add(&uc->deferred_reads, bio);
	spin_unlock_irqrestore(&uc->lock, flags);
	queue_work(uc->wq, &uc->read_worker);
	return DM_MAPIO_SUBMITTED;
}

static int umlcow_map_flush(struct umlcow_c *uc, struct bio *bio,
			    struct umlcow_per_bio *pb)
{
	unsigned long flags;

	if (umlcow_get_mode(uc) != UMLCOW_MODE_RW)
		return DM_MAPIO_KILL;

	/*
	 * This table writes nothing, but the bitmap it shares may still hold
	 * bits an earlier table could not write back: then a flush cannot
	 * promise durability.
	 */
	if (uc->read_only) {
		if (umlcow_bitmap_needs_commit(uc->bm))
			return DM_MAPIO_KILL;
		bio_endio(bio);
		return DM_MAPIO_SUBMITTED;
	}

	if (umlcow_bitmap_needs_commit(uc->bm)) {
		/* Bits still to reach the disk: the worker commits first. */
		spin_lock_irqsave(&uc->lock, flags);
		bio_list_add(&uc->deferred_flushes, bio);
		spin_unlock_irqrestore(&uc->lock, flags);
		queue_work(uc->wq, &uc->worker);
		return DM_MAPIO_SUBMITTED;
	}

	/* Every bit is on disk: flushing the data is enough. */
	pb->flags = UMLCOW_PB_FLUSH;
	umlcow_remap(bio, uc->cow_dev, 0);
	return DM_MAPIO_REMAPPED;
}

/* Are all image sectors of [offset, offset + nr) in the COW file? */
static bool umlcow_range_allocated(struct umlcow_c *uc, sector_t offset,
				   unsigned int nr)
{
	u64 first = offset >> uc->sector_shift;
	u64 end = (offset + nr) >> uc->sector_shift;

	return umlcow_bitmap_test(uc->bm, first) &&
	       umlcow_bitmap_run_end(uc->bm, first, end) >= end;
}

static int umlcow_map_write(struct umlcow_c *uc, struct bio *bio,
			    struct umlcow_per_bio *pb, sector_t offset)
{
	unsigned int mask = (1U << uc->sector_shift) - 1;

	if (uc->read_only || umlcow_get_mode(uc) != UMLCOW_MODE_RW)
		return DM_MAPIO_KILL;
	if (unlikely(!pb->nr_sectors || (offset & mask) ||
		     (pb->nr_sectors & mask))) {
		DMERR_LIMIT("%s: write not aligned to the sector size",
			    dm_device_name(umlcow_md(uc)));
		return DM_MAPIO_KILL;
	}
	pb->flags = UMLCOW_PB_WRITE;
	if (bio->bi_opf & REQ_FUA) {
		pb->flags |= UMLCOW_PB_FUA;
		/*
		 * A first write is only durable once its bits are, and the
		 * commit that writes them flushes the data first: forcing it
		 * to the medium on its own as well would cost a second flush.
		 */
		if (!umlcow_range_allocated(uc, offset, pb->nr_sectors)) {
			bio->bi_opf &= ~REQ_FUA;
			pb->flags |= UMLCOW_PB_FUA_BY_COMMIT;
		}
	}
	umlcow_remap(bio, uc->cow_dev, uc->data_start + offset);
	return DM_MAPIO_REMAPPED;
}

static int umlcow_map(struct dm_target *ti, struct bio *bio)
{
	struct umlcow_c *uc = ti->private;
	struct umlcow_per_bio *pb = dm_per_bio_data(bio, sizeof(*pb));
	sector_t offset = dm_target_offset(ti, bio->bi_iter.bi_sector);

	pb->flags = 0;
	pb->piece_flags = 0;
	pb->piece_status = 0;
	pb->sector = offset;
	pb->nr_sectors = bio_sectors(bio);

	if (unlikely(umlcow_get_mode(uc) == UMLCOW_MODE_FAIL))
		return DM_MAPIO_KILL;

	/* dm core sends the flush of a REQ_PREFLUSH bio on its own, empty. */
	if (bio->bi_opf & REQ_PREFLUSH)
		return umlcow_map_flush(uc, bio, pb);

	switch (bio_op(bio)) {
	case REQ_OP_READ:
		return umlcow_map_read(uc, bio, pb, offset);
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
		return umlcow_map_write(uc, bio, pb, offset);
	default:
		return DM_MAPIO_KILL;
	}
}

/* A write reached the COW data area: set its bits, maybe wait for them. */
static int umlcow_end_write(struct umlcow_c *uc, struct bio *bio,
			    struct umlcow_per_bio *pb)
{
	u64 first = pb->sector >> uc->sector_shift;
	u64 end = (pb->sector + pb->nr_sectors) >> uc->sector_shift;
	unsigned long flags;

	/* Without its REQ_FUA the data needs the commit's flush in any case. */
	if (!umlcow_bitmap_set_range(uc->bm, first, end,
				     pb->flags & UMLCOW_PB_FUA) &&
	    !(pb->flags & UMLCOW_PB_FUA_BY_COMMIT))
		return DM_ENDIO_DONE;

	pb->flags |= UMLCOW_PB_DEFERRED;
	spin_lock_irqsave(&uc->lock, flags);
	bio_list_add(&uc->deferred_fua, bio);
	spin_unlock_irqrestore(&uc->lock, flags);
	queue_work(uc->wq, &uc->worker);
	return DM_ENDIO_INCOMPLETE;
}

static int umlcow_end_io(struct dm_target *ti, struct bio *bio,
			 blk_status_t *error)
{
	struct umlcow_c *uc = ti->private;
	struct umlcow_per_bio *pb = dm_per_bio_data(bio, sizeof(*pb));
	bool cow_failed;

	if (pb->flags & UMLCOW_PB_DEFERRED)
		return DM_ENDIO_DONE;

	/* A failed write sets no bit: its error reaches the caller. */
	if (pb->flags & UMLCOW_PB_WRITE)
		return *error ? DM_ENDIO_DONE : umlcow_end_write(uc, bio, pb);

	if ((pb->flags & UMLCOW_PB_FLUSH) && umlcow_real_error(*error)) {
		umlcow_set_mode(uc, UMLCOW_MODE_RO, "flushing the COW device failed");
		return DM_ENDIO_DONE;
	}

	cow_failed = ((pb->flags & UMLCOW_PB_READ_COW) && umlcow_real_error(*error)) ||
		     test_bit(UMLCOW_PB_PIECE_COW_FAILED, &pb->piece_flags);
	if (!*error)
		*error = pb->piece_status;
	if (cow_failed && umlcow_get_mode(uc) == UMLCOW_MODE_RO)
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

	/*
	 * No bio is in flight now; write back what they left, and retry what
	 * an earlier write-back could not write (the device may have
	 * recovered): a table taking over may read the bitmap from disk.
	 */
	flush_workqueue(uc->wq);
	if (!uc->read_only)
		umlcow_write_back(uc);
}

static int umlcow_preresume(struct dm_target *ti)
{
	struct umlcow_c *uc = ti->private;
	char name[DM_NAME_LEN];
	int r;

	/*
	 * A new bitmap is read now, not in the constructor: the table this
	 * one replaces has written its bits back in its postsuspend.
	 */
	umlcow_current_name(uc, name);
	r = umlcow_bitmap_load(uc->bm, ti->table);
	if (r)
		DMERR("%s: cannot read the bitmap: %d", name, r);
	return r;
}

static void umlcow_resume(struct dm_target *ti)
{
	umlcow_start_periodic(ti->private);
}

/* --- Status, messages, devices and limits --- */

/*
 * INFO:  <allocated sectors>/<total sectors> <dirty bitmap blocks> <mode>
 *        <access> <bitmap memory bytes>
 * TABLE: the constructor arguments.
 */
static void umlcow_status(struct dm_target *ti, status_type_t type,
			  unsigned int status_flags, char *result,
			  unsigned int maxlen)
{
	struct umlcow_c *uc = ti->private;
	const char *mode = umlcow_mode_names[umlcow_get_mode(uc)];
	const char *access = uc->read_only ? "read_only" : "writable";
	struct umlcow_bitmap_stats stats;
	unsigned int nr_features;
	size_t sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		umlcow_bitmap_get_stats(uc->bm, &stats);
		DMEMIT("%llu/%llu %lu %s %s %zu",
		       (unsigned long long)stats.allocated,
		       (unsigned long long)uc->nr_sectors, stats.dirty, mode,
		       access, stats.memory);
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
		       uc->commit_ms, mode);
		break;
	}
}

static int umlcow_message(struct dm_target *ti, unsigned int argc,
			  char **argv, char *result, unsigned int maxlen)
{
	struct umlcow_c *uc = ti->private;
	char name[DM_NAME_LEN];

	umlcow_current_name(uc, name);
	if (argc == 1 && !strcasecmp(argv[0], "commit"))
		return umlcow_write_back(uc);

	DMERR("%s: unsupported message '%s'", name, argc ? argv[0] : "");
	return -EINVAL;
}

static int umlcow_iterate_devices(struct dm_target *ti,
				  iterate_devices_callout_fn fn, void *data)
{
	struct umlcow_c *uc = ti->private;
	sector_t data_end = min_t(sector_t, uc->data_start + ti->len,
				  uc->cow_sectors);
	u64 span_start, span_end;
	sector_t start, end;
	int r;

	/* The part of the COW device in use: the bitmap and the data area. */
	umlcow_span(uc, &span_start, &span_end);
	start = min_t(sector_t, span_start >> SECTOR_SHIFT, uc->data_start);
	end = max_t(sector_t, span_end >> SECTOR_SHIFT, data_end);
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
	.version = {1, 1, 0},
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
