/* SPDX-License-Identifier: GPL-2.0 */
/*
 * loopdev - attach an open file to a free loop device.
 *
 * Done the way cryptsetup (lib/utils_loop.c) and util-linux (lib/loopdev.c)
 * do it: ask /dev/loop-control for a free device, configure it with one
 * LOOP_CONFIGURE (falling back to LOOP_SET_FD + LOOP_SET_STATUS64 on kernels
 * without it), retry when another program takes the device first, always set
 * LO_FLAGS_AUTOCLEAR and read the status back to be sure it took.
 *
 * The caller keeps struct loopdev's fd open until something else (the
 * device-mapper table) holds the loop device, then calls loopdev_release():
 * the loop device then goes away by itself when its last user closes it.
 * loopdev_detach() undoes an attach on an error path.
 */
#ifndef UMLCOW_LOOPDEV_H
#define UMLCOW_LOOPDEV_H

#include <stdbool.h>
#include <sys/types.h>

#define LOOPDEV_PATH_MAX 32

struct loopdev {
	int fd;				/* open loop block device, -1 if none */
	int nr;				/* N of /dev/loopN, -1 if none */
	dev_t rdev;			/* its device number */
	char path[LOOPDEV_PATH_MAX];	/* "/dev/loopN" */
	bool direct_io;			/* LO_FLAGS_DIRECT_IO took */
};

/* loopdev_attach()'s @flags. */
#define LOOPDEV_READ_ONLY	(1u << 0)
/*
 * Ask for direct I/O (LO_FLAGS_DIRECT_IO) on the backing file: no second
 * copy of its pages in the page cache. A file system that cannot do
 * O_DIRECT on the file (or whose block size the loop device does not meet)
 * refuses it; the device is then attached buffered, as losetup --direct-io
 * does, and @ld->direct_io says which it got.
 */
#define LOOPDEV_DIRECT_IO	(1u << 1)

/* A struct loopdev that holds nothing (safe to detach or release). */
void loopdev_init(struct loopdev *ld);

/*
 * Attach the open file @file_fd to a free loop device, with autoclear, and
 * read-only with LOOPDEV_READ_ONLY in @flags (the file must then be open
 * for reading; it must be open read-write otherwise), with direct I/O if
 * it can with LOOPDEV_DIRECT_IO. @name is stored as the loop's
 * lo_file_name (may be NULL). The loop device holds its own reference to
 * the file description: the caller may close @file_fd afterwards, and locks
 * taken on that description live as long as the loop device.
 *
 * Returns 0 and fills @ld, or a negative errno with @ld left empty.
 * With UMLCOW_LOOP_LEGACY=1 in the environment it skips LOOP_CONFIGURE and
 * takes the LOOP_SET_FD + LOOP_SET_STATUS64 path (for the tests).
 */
int loopdev_attach(int file_fd, unsigned int flags, const char *name,
		   struct loopdev *ld);

/*
 * Drop our reference after the loop device is held elsewhere: with
 * autoclear, the loop device detaches when its last opener closes it.
 */
void loopdev_release(struct loopdev *ld);

/* Undo loopdev_attach(): clear the loop device and close it. */
void loopdev_detach(struct loopdev *ld);

/*
 * The backing file of loop device @rdev as the kernel reports it
 * (/sys/dev/block/MAJ:MIN/loop/backing_file), into @buf. Returns 0, or a
 * negative errno (-ENOENT when @rdev is not a bound loop device).
 */
int loopdev_backing_file(dev_t rdev, char *buf, size_t len);

/*
 * A message for a negative errno of loopdev_attach(), which also returns
 * these two when the status read back is not what was asked for.
 */
#define LOOPDEV_ERR_AUTOCLEAR	(-10001)
#define LOOPDEV_ERR_READ_ONLY	(-10002)
const char *loopdev_strerror(int err);

#endif /* UMLCOW_LOOPDEV_H */
