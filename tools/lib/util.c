// SPDX-License-Identifier: GPL-2.0
/*
 * util.c - error messages and full-length I/O for the COW library.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"

void cow_seterr(struct cow_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->kind = COW_ERR_INVALID;
	err->detail[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

void cow_setdetail(struct cow_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
	va_end(ap);
}

/*
 * pread() or pwrite() all of [@off, @off + @len), retrying short transfers
 * and EINTR; a read past the end of the file gives zeros.
 */
static int transfer(int fd, char *p, size_t len, uint64_t off, bool write,
		    struct cow_err *err)
{
	const char *what = write ? "write" : "read";

	if (off > (uint64_t)INT64_MAX - len) {
		cow_seterr(err, "%s at offset %llu overflows", what,
			   (unsigned long long)off);
		return -1;
	}
	while (len) {
		ssize_t n = write ? pwrite(fd, p, len, (off_t)off) :
				    pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			cow_seterr(err, "%s at offset %llu: %s", what,
				   (unsigned long long)off, strerror(errno));
			if (err)
				err->kind = COW_ERR_SYSTEM;
			return -1;
		}
		if (n == 0 && !write) {	/* past the end of the file: zeros */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int cow_pread_full(int fd, void *buf, size_t len, uint64_t off,
		   struct cow_err *err)
{
	return transfer(fd, buf, len, off, false, err);
}

int cow_pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
		    struct cow_err *err)
{
	return transfer(fd, (char *)buf, len, off, true, err);
}

void *cow_chunk_alloc(uint64_t total, size_t max)
{
	return malloc(total < max ? (total ? (size_t)total : 1) : max);
}

int cow_fsync(int fd, const char *what, struct cow_err *err)
{
	if (fsync(fd) == 0)
		return 0;
	cow_seterr(err, "fsync%s%s: %s", what ? " of " : "", what ? what : "",
		   strerror(errno));
	if (err)
		err->kind = COW_ERR_SYSTEM;
	return -1;
}

bool cow_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* Compare the buffer with itself shifted by one byte. */
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

bool cow_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* The process's umask, read without changing it for long. */
static mode_t current_umask(void)
{
	mode_t m = umask(0);

	umask(m);
	return m;
}

int cow_output_perm(int fd, const struct cow_perm *in, size_t n,
		    const struct cow_perm *owner, struct cow_err *err)
{
	mode_t mode = 0666 & ~current_umask();
	struct stat st;
	size_t i;

	if (owner && fchown(fd, owner->uid, owner->gid) < 0 &&
	    errno != EPERM) {
		cow_seterr(err, "chown: %s", strerror(errno));
		err->kind = COW_ERR_SYSTEM;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		cow_seterr(err, "%s", strerror(errno));
		err->kind = COW_ERR_SYSTEM;
		return -1;
	}
	for (i = 0; i < n; i++) {
		mode &= in[i].mode;
		/* Group bits would let the output's group read what it may not. */
		if (in[i].gid != st.st_gid)
			mode &= ~(mode_t)070;
	}
	if (fchmod(fd, mode) < 0) {
		cow_seterr(err, "chmod: %s", strerror(errno));
		err->kind = COW_ERR_SYSTEM;
		return -1;
	}
	return 0;
}

const char *cow_file_type(unsigned int mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "a regular file";
	case S_IFBLK: return "a block device";
	case S_IFCHR: return "a character device";
	case S_IFDIR: return "a directory";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	case S_IFLNK: return "a symbolic link";
	default: return "not a regular file";
	}
}

/* "@what: reason" (or the reason alone) in @err, kind COW_ERR_SYSTEM. */
static void open_err(struct cow_err *err, const char *what, int e)
{
	cow_seterr(err, "%s%s%s", what ? what : "", what ? ": " : "",
		   strerror(e));
	if (err)
		err->kind = COW_ERR_SYSTEM;
}

/*
 * Open the inode that the O_PATH descriptor @pfd refers to, with @flags,
 * through /proc/self/fd: the file that was checked, whatever @path names
 * by now. Without /proc, @path is opened (non-blocking) and must still be
 * the same inode as @st, else it is refused: a race we lost, not a file we
 * use.
 */
static int reopen_checked(int pfd, const char *path, int flags,
			  const struct stat *st)
{
	char proc[64];
	struct stat now;
	int fd, fl;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
	fd = open(proc, flags | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0 || errno != ENOENT)
		return fd;
	fd = open(path, flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &now) < 0 || now.st_dev != st->st_dev ||
	    now.st_ino != st->st_ino) {
		close(fd);
		errno = ESTALE;
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int cow_open_path(const char *path, int flags, bool blk_ok, const char *what,
		  struct cow_err *err)
{
	struct stat st;
	int pfd, fd, e;

	/* O_PATH opens nothing: no device driver, no FIFO, no tape rewinds. */
	pfd = open(path, O_PATH | O_CLOEXEC);
	if (pfd < 0) {
		e = errno;
		open_err(err, what, e);
		errno = e;
		return -1;
	}
	if (fstat(pfd, &st) < 0) {
		e = errno;
		open_err(err, what, e);
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !(blk_ok && S_ISBLK(st.st_mode))) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		cow_seterr(err, "%s%sis %s, not a regular file%s",
			   what ? what : "", what ? " " : "",
			   cow_file_type(st.st_mode),
			   blk_ok ? " or block device" : "");
		if (err)
			err->kind = COW_ERR_SYSTEM;
		goto fail;
	}
	fd = reopen_checked(pfd, path, flags, &st);
	if (fd < 0) {
		e = errno;
		open_err(err, what, e);
		goto fail;
	}
	close(pfd);
	return fd;
fail:
	close(pfd);
	errno = e;
	return -1;
}

char *cow_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}
