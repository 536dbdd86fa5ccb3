/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dm-umlcow-compat.h - the kernel interfaces that differ between the kernels
 * the umlcow target builds for (Debian 12's 6.1 to the newest stable).
 *
 * Which variant a kernel has is found by compiling small tests against its
 * headers when the module is built (scripts/conftest.sh, run by Kbuild, writes
 * dm-umlcow-conftest.h), never by LINUX_VERSION_CODE alone: distributions
 * backport interfaces (Debian's 6.1 has the dm_io() of 6.7).  The target
 * calls the wrappers below and has no #if of its own.
 */
#ifndef DM_UMLCOW_COMPAT_H
#define DM_UMLCOW_COMPAT_H

#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/ioprio.h>

#include "dm-umlcow-conftest.h"

/*
 * Synchronous dm_io() at the default I/O priority.  @error_bits gets one bit
 * per region that failed.  7.x also reports regions whose operation the
 * device does not support; for the reads and writes the target issues that
 * cannot happen, and the return value says it if it ever does.
 */
static inline int umlcow_dm_io(struct dm_io_request *req,
			       unsigned int num_regions,
			       struct dm_io_region *where,
			       unsigned long *error_bits)
{
#if defined(UMLCOW_HAVE_DM_IO_UNSUP_BITS)
	unsigned long unsup_bits = 0;

	return dm_io(req, num_regions, where, error_bits, &unsup_bits,
		     IOPRIO_DEFAULT);
#elif defined(UMLCOW_HAVE_DM_IO_IOPRIO)
	return dm_io(req, num_regions, where, error_bits, IOPRIO_DEFAULT);
#else
	return dm_io(req, num_regions, where, error_bits);
#endif
}

/*
 * Asynchronous dm_io(): @done->fn is called once the request has finished,
 * with whether any region failed.  7.x changed the callback's arguments
 * (the regions whose operation the device does not support, which the
 * target's writes never are); the callback here is the same everywhere.
 */
struct umlcow_io_done {
	void (*fn)(struct umlcow_io_done *done, bool failed);
};

#ifdef UMLCOW_HAVE_DM_IO_NOTIFY_UNSUP
static inline void umlcow_dm_io_notify(unsigned long error,
				       unsigned long unsup_bits, void *context)
#else
static inline void umlcow_dm_io_notify(unsigned long error, void *context)
#endif
{
	struct umlcow_io_done *done = context;

	done->fn(done, error != 0);
}

/* Returns an error, and never calls @done, when dm_io() refuses @req. */
static inline int umlcow_dm_io_async(struct dm_io_request *req,
				     struct dm_io_region *where,
				     struct umlcow_io_done *done)
{
	unsigned long error_bits = 0;

	req->notify.fn = umlcow_dm_io_notify;
	req->notify.context = done;
	return umlcow_dm_io(req, 1, where, &error_bits);
}

/*
 * The mode of dm_get_device() and dm_table_get_mode(): blk_mode_t with
 * BLK_OPEN_* since 6.5, fmode_t with FMODE_* before.
 */
#ifdef UMLCOW_HAVE_BLK_MODE_T
#define umlcow_mode_t		blk_mode_t
#define UMLCOW_OPEN_READ	BLK_OPEN_READ
#define UMLCOW_OPEN_WRITE	BLK_OPEN_WRITE
#else
#define umlcow_mode_t		fmode_t
#define UMLCOW_OPEN_READ	FMODE_READ
#define UMLCOW_OPEN_WRITE	FMODE_WRITE
#endif

/*
 * The largest discard the device takes, set from a target's io_hints.  Since
 * 6.10 the block layer derives max_discard_sectors from the hardware limit
 * and the user's; before, the stacking code used the field as it was set.
 */
static inline void umlcow_set_max_discard(struct queue_limits *limits,
					  unsigned int sectors)
{
	limits->max_hw_discard_sectors = sectors;
#ifndef UMLCOW_HAVE_MAX_USER_DISCARD_SECTORS
	limits->max_discard_sectors = sectors;
#endif
}

#endif /* DM_UMLCOW_COMPAT_H */
