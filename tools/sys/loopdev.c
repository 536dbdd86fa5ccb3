// SPDX-License-Identifier: GPL-2.0
/*
 * loopdev - attach an open file to a free loop device (see loopdev.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "loopdev.h"
#include "sysline.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define LOOP_CONTROL "/dev/loop-control"

/* How often to ask for another free device when others keep taking ours. */
#define ATTACH_TRIES 64
/* How long to wait for the kernel (devtmpfs) or udev to make /dev/loopN. */
#define NODE_WAIT_MS 2000
/* LOOP_SET_STATUS64 answering EAGAIN: tries, and the wait between them */
#define STATUS_TRIES 20
#define STATUS_WAIT_MS 50

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void loopdev_init(struct loopdev *ld)
{
	ld->fd = -1;
	ld->nr = -1;
	ld->rdev = 0;
	ld->path[0] = '\0';
	ld->direct_io = false;
}

/* Open /dev/loopN, waiting a little for the node of a new device to appear. */
static int open_loop_node(const char *path)
{
	int waited = 0;

	for (;;) {
		int fd = open(path, O_RDWR | O_CLOEXEC);

		if (fd < 0 && (errno == EROFS || errno == EACCES))
			fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno != ENOENT && errno != ENXIO)
			return -errno;
		if (waited >= NODE_WAIT_MS)
			return -errno;
		sleep_ms(10);
		waited += 10;
	}
}

/*
 * udev probes a loop device as soon as it is bound, and would see it before
 * the device-mapper table holds it (and announce what it finds there): an
 * exclusive BSD lock, held until we close the device, makes udevd wait, as
 * util-linux's losetup (2.38) does.  Never waited for: a lock someone else
 * holds (another setup between LOOP_CTL_GET_FREE and its configure, udev
 * probing a device just freed, or any process that can open the node) makes
 * the device busy for this try, and loopdev_attach() asks for a free device
 * again; one held for longer than its tries ends in -EBUSY, not a hang.
 * Any other failure only costs udev's courtesy.
 */
static int lock_loop_node(int fd)
{
	int ret;

	do
		ret = flock(fd, LOCK_EX | LOCK_NB);
	while (ret < 0 && errno == EINTR);
	return ret < 0 && errno == EWOULDBLOCK ? -EBUSY : 0;
}

static void fill_info(struct loop_info64 *info, unsigned int flags,
		      const char *name)
{
	memset(info, 0, sizeof(*info));
	info->lo_flags = LO_FLAGS_AUTOCLEAR;
	if (flags & LOOPDEV_READ_ONLY)
		info->lo_flags |= LO_FLAGS_READ_ONLY;
	if (flags & LOOPDEV_DIRECT_IO)
		info->lo_flags |= LO_FLAGS_DIRECT_IO;
	if (name)
		snprintf((char *)info->lo_file_name, sizeof(info->lo_file_name),
			 "%s", name);
}

static bool legacy_only(void)
{
	const char *v = getenv("UMLCOW_LOOP_LEGACY");

	return v && !strcmp(v, "1");
}

/*
 * Bind @file_fd to the open loop device @loop_fd. Returns 0, -EBUSY when the
 * device was taken by someone else (try another), or another negative errno.
 * Direct I/O the file system refuses is no error: LOOP_CONFIGURE drops the
 * flag by itself, LOOP_SET_DIRECT_IO fails (EINVAL) and is not retried;
 * verify() reads back which it is.
 */
static int configure(int loop_fd, int file_fd, unsigned int flags,
		     const char *name)
{
	struct loop_config config;
	int err;

	memset(&config, 0, sizeof(config));
	config.fd = (unsigned int)file_fd;
	fill_info(&config.info, flags, name);
	/* UMLCOW_LOOP_LEGACY=1 takes the old path, for the tests. */
	if (!legacy_only()) {
		if (ioctl(loop_fd, LOOP_CONFIGURE, &config) == 0)
			return 0;
		if (errno != EINVAL && errno != ENOTTY)
			return -errno;
	}

	/*
	 * A kernel before 5.8: two steps. Read-only follows from the file's
	 * open mode here, LO_FLAGS_READ_ONLY is not settable by status.
	 */
	if (ioctl(loop_fd, LOOP_SET_FD, file_fd) < 0)
		return -errno;
	fill_info(&config.info, flags & ~(LOOPDEV_READ_ONLY | LOOPDEV_DIRECT_IO),
		  name);
	/*
	 * The kernel answers EAGAIN while it cannot drop the device's page
	 * cache yet (a reader still has pages in flight): retry, as
	 * util-linux's loopcxt_setup_device() does.
	 */
	for (int tries = 0;; tries++) {
		if (ioctl(loop_fd, LOOP_SET_STATUS64, &config.info) == 0) {
			/* as losetup: after the status, its failure no error */
			if (flags & LOOPDEV_DIRECT_IO)
				ioctl(loop_fd, LOOP_SET_DIRECT_IO, 1UL);
			return 0;
		}
		err = -errno;
		if (err != -EAGAIN || tries >= STATUS_TRIES)
			break;
		sleep_ms(STATUS_WAIT_MS);
	}
	ioctl(loop_fd, LOOP_CLR_FD, 0);
	return err;
}

/*
 * Read the status back: autoclear (and read-only) must have taken; whether
 * direct I/O did goes to @direct_io.
 */
static int verify(int loop_fd, bool read_only, bool *direct_io)
{
	struct loop_info64 info;

	memset(&info, 0, sizeof(info));
	if (ioctl(loop_fd, LOOP_GET_STATUS64, &info) < 0)
		return -errno;
	if (!(info.lo_flags & LO_FLAGS_AUTOCLEAR))
		return LOOPDEV_ERR_AUTOCLEAR;
	if (read_only && !(info.lo_flags & LO_FLAGS_READ_ONLY))
		return LOOPDEV_ERR_READ_ONLY;
	*direct_io = info.lo_flags & LO_FLAGS_DIRECT_IO;
	return 0;
}

const char *loopdev_strerror(int err)
{
	switch (err) {
	case LOOPDEV_ERR_AUTOCLEAR:
		return "the loop device did not keep the autoclear flag";
	case LOOPDEV_ERR_READ_ONLY:
		return "the loop device did not become read-only";
	default:
		return strerror(-err);
	}
}

int loopdev_attach(int file_fd, unsigned int flags, const char *name,
		   struct loopdev *ld)
{
	bool read_only = flags & LOOPDEV_READ_ONLY, direct_io = false;
	int ctl, fl, err = -EBUSY;
	struct stat st;

	loopdev_init(ld);

	fl = fcntl(file_fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (!read_only && (fl & O_ACCMODE) == O_RDONLY)
		return -EBADF;

	ctl = open(LOOP_CONTROL, O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -errno;

	for (int tries = 0; tries < ATTACH_TRIES; tries++) {
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		char path[LOOPDEV_PATH_MAX];
		int fd;

		if (nr < 0) {
			err = -errno;
			break;
		}
		snprintf(path, sizeof(path), "/dev/loop%d", nr);
		fd = open_loop_node(path);
		if (fd < 0) {
			err = fd;
			break;
		}
		err = lock_loop_node(fd);
		if (!err)
			err = configure(fd, file_fd, flags, name);
		if (err == -EBUSY) {
			/* Another program took it between GET_FREE and us. */
			close(fd);
			sleep_ms(1 + tries);
			continue;
		}
		if (err == 0) {
			err = verify(fd, read_only, &direct_io);
			if (err == 0 && fstat(fd, &st) < 0)
				err = -errno;
			if (err) {
				ioctl(fd, LOOP_CLR_FD, 0);
				close(fd);
				break;
			}
			ld->fd = fd;
			ld->nr = nr;
			ld->rdev = st.st_rdev;
			ld->direct_io = direct_io;
			memcpy(ld->path, path, sizeof(ld->path));
			break;
		}
		close(fd);
		break;
	}
	close(ctl);
	return err;
}

void loopdev_release(struct loopdev *ld)
{
	if (ld->fd >= 0)
		close(ld->fd);
	loopdev_init(ld);
}

void loopdev_detach(struct loopdev *ld)
{
	if (ld->fd >= 0) {
		/*
		 * Clears the device now when we are its only opener; otherwise
		 * the kernel marks it autoclear (already set) and it goes when
		 * the last opener closes it.
		 */
		ioctl(ld->fd, LOOP_CLR_FD, 0);
		close(ld->fd);
	}
	loopdev_init(ld);
}

int loopdev_backing_file(dev_t rdev, char *buf, size_t len)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/loop/backing_file",
		 major(rdev), minor(rdev));
	return sys_read_line(path, buf, len);
}
