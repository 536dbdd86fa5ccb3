// SPDX-License-Identifier: GPL-2.0
/*
 * loopshim.so - an LD_PRELOAD stand-in for the loop driver, for the tests
 * of sys/loopdev.c on a host without loop devices (tests/host/400).
 *
 * open("/dev/loop-control") and open("/dev/loopN") return /dev/null; the
 * loop ioctls on those descriptors are answered here, the way the kernel
 * answers them, and can be made to fail. UMLCOW_LOOPSHIM holds the faults,
 * comma-separated:
 *
 *   no-configure      LOOP_CONFIGURE fails with EINVAL (a kernel before 5.8)
 *   busy=N            the first N LOOP_CONFIGURE/LOOP_SET_FD fail with EBUSY
 *   eagain=N          the first N LOOP_SET_STATUS64 fail with EAGAIN
 *   drop-autoclear    LO_FLAGS_AUTOCLEAR does not stick
 *   drop-read-only    LO_FLAGS_READ_ONLY does not stick
 *   no-dio            the file system cannot do direct I/O: LOOP_CONFIGURE
 *                     drops LO_FLAGS_DIRECT_IO, LOOP_SET_DIRECT_IO fails
 *                     with EINVAL (as the kernel's loop_update_dio())
 *
 * Each loop ioctl is written to stderr as "loopshim: NAME -> result".
 * Built only for the tests (tools/Makefile: build/asan/loopshim.so); the
 * tool itself has no such seam.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define MAX_FD 1024

enum kind { NONE, CONTROL, LOOP };

static struct {
	enum kind kind[MAX_FD];
	unsigned int flags[MAX_FD];	/* lo_flags of a bound device */
	int next_free;
	int busy, eagain;
	bool no_configure, drop_autoclear, drop_read_only, no_dio;
	bool parsed;
} shim;

static void parse_faults(void)
{
	const char *v = getenv("UMLCOW_LOOPSHIM");
	char buf[256], *tok, *save;

	if (shim.parsed)
		return;
	shim.parsed = true;
	snprintf(buf, sizeof(buf), "%s", v ? v : "");
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (!strcmp(tok, "no-configure"))
			shim.no_configure = true;
		else if (!strncmp(tok, "busy=", 5))
			shim.busy = atoi(tok + 5);
		else if (!strncmp(tok, "eagain=", 7))
			shim.eagain = atoi(tok + 7);
		else if (!strcmp(tok, "drop-autoclear"))
			shim.drop_autoclear = true;
		else if (!strcmp(tok, "drop-read-only"))
			shim.drop_read_only = true;
		else if (!strcmp(tok, "no-dio"))
			shim.no_dio = true;
		else
			fprintf(stderr, "loopshim: unknown fault '%s'\n", tok);
	}
}

typedef int (*open_fn)(const char *, int, ...);
typedef int (*ioctl_fn)(int, unsigned long, ...);

static enum kind kind_of_path(const char *path)
{
	const char *p;

	if (!strcmp(path, "/dev/loop-control"))
		return CONTROL;
	if (strncmp(path, "/dev/loop", 9) || !path[9])
		return NONE;
	for (p = path + 9; *p; p++)
		if (*p < '0' || *p > '9')
			return NONE;
	return LOOP;
}

int open(const char *path, int flags, ...)
{
	open_fn real = (open_fn)dlsym(RTLD_NEXT, "open");
	enum kind k = kind_of_path(path);
	mode_t mode = 0;
	va_list ap;
	int fd;

	va_start(ap, flags);
	if (flags & (O_CREAT | O_TMPFILE))
		mode = va_arg(ap, mode_t);
	va_end(ap);
	if (k == NONE)
		return real(path, flags, mode);
	parse_faults();
	fd = real("/dev/null", O_RDWR | (flags & O_CLOEXEC));
	if (fd >= 0 && fd < MAX_FD) {
		shim.kind[fd] = k;
		shim.flags[fd] = 0;
	}
	return fd;
}

/* On 64-bit glibc open64 is open. */
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int close(int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "close");

	if (fd >= 0 && fd < MAX_FD)
		shim.kind[fd] = NONE;
	return real(fd);
}

static int answer(const char *what, int ret, int err)
{
	if (ret < 0)
		fprintf(stderr, "loopshim: %s -> %s\n", what, strerrorname_np(err));
	else
		fprintf(stderr, "loopshim: %s -> %d\n", what, ret);
	errno = err;
	return ret;
}

/*
 * The kernel's LOOP_SET_STATUS64 changes only these flags (direct I/O only
 * through LOOP_SET_DIRECT_IO).
 */
#define SETTABLE (LO_FLAGS_AUTOCLEAR | LO_FLAGS_PARTSCAN)

static unsigned int kept(unsigned int flags)
{
	if (shim.drop_autoclear)
		flags &= ~LO_FLAGS_AUTOCLEAR;
	if (shim.drop_read_only)
		flags &= ~LO_FLAGS_READ_ONLY;
	return flags;
}

static int loop_ioctl(int fd, unsigned long req, void *arg)
{
	struct loop_config *cfg = arg;
	struct loop_info64 *info = arg;

	switch (req) {
	case LOOP_CONFIGURE:
		if (shim.no_configure)
			return answer("LOOP_CONFIGURE", -1, EINVAL);
		if (shim.busy > 0 && shim.busy--)
			return answer("LOOP_CONFIGURE", -1, EBUSY);
		shim.flags[fd] = kept(cfg->info.lo_flags);
		if (shim.no_dio)
			shim.flags[fd] &= ~LO_FLAGS_DIRECT_IO;
		return answer("LOOP_CONFIGURE", 0, 0);
	case LOOP_SET_FD: {
		int fl = fcntl((int)(long)arg, F_GETFL);

		if (shim.busy > 0 && shim.busy--)
			return answer("LOOP_SET_FD", -1, EBUSY);
		shim.flags[fd] = kept(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY ?
				      LO_FLAGS_READ_ONLY : 0);
		return answer("LOOP_SET_FD", 0, 0);
	}
	case LOOP_SET_STATUS64:
		if (shim.eagain > 0 && shim.eagain--)
			return answer("LOOP_SET_STATUS64", -1, EAGAIN);
		shim.flags[fd] = (shim.flags[fd] & ~SETTABLE) |
				 kept(info->lo_flags & SETTABLE);
		return answer("LOOP_SET_STATUS64", 0, 0);
	case LOOP_SET_DIRECT_IO:
		if (shim.no_dio)
			return answer("LOOP_SET_DIRECT_IO", -1, EINVAL);
		if (arg)
			shim.flags[fd] |= LO_FLAGS_DIRECT_IO;
		else
			shim.flags[fd] &= ~LO_FLAGS_DIRECT_IO;
		return answer("LOOP_SET_DIRECT_IO", 0, 0);
	case LOOP_GET_STATUS64:
		memset(info, 0, sizeof(*info));
		info->lo_flags = shim.flags[fd];
		return answer("LOOP_GET_STATUS64", 0, 0);
	case LOOP_CLR_FD:
		shim.flags[fd] = 0;
		return answer("LOOP_CLR_FD", 0, 0);
	default:
		return answer("unknown loop ioctl", -1, ENOTTY);
	}
}

/* The lock loopdev.c takes for udev's sake, in the trace with the ioctls. */
int flock(int fd, int op)
{
	int (*real)(int, int) = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");

	if (fd < 0 || fd >= MAX_FD || shim.kind[fd] != LOOP)
		return real(fd, op);
	return answer(op == (LOCK_EX | LOCK_NB) ? "flock LOCK_EX|LOCK_NB" : "flock (other)", 0, 0);
}

int ioctl(int fd, unsigned long req, ...)
{
	ioctl_fn real = (ioctl_fn)dlsym(RTLD_NEXT, "ioctl");
	void *arg;
	va_list ap;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd < 0 || fd >= MAX_FD || shim.kind[fd] == NONE)
		return real(fd, req, arg);
	if (shim.kind[fd] == CONTROL) {
		if (req != LOOP_CTL_GET_FREE)
			return answer("unknown control ioctl", -1, ENOTTY);
		return answer("LOOP_CTL_GET_FREE", shim.next_free++, 0);
	}
	return loop_ioctl(fd, req, arg);
}
