// SPDX-License-Identifier: GPL-2.0
/*
 * backing.c - find a COW file's backing file and check it the way UML does.
 *
 * UML (arch/um/drivers/ubd_kern.c, backing_file_mismatch) refuses a COW
 * file whose backing file's size or mtime differs from the header's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"

int cow_fd_size(int fd, uint64_t *size, struct cow_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		cow_seterr(err, "%s", strerror(errno));
		return -1;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0) {
			cow_seterr(err, "BLKGETSIZE64: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		cow_seterr(err, "not a regular file or block device");
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

int cow_absolute_path(const char *path, char *out, size_t outlen,
		      struct cow_err *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = cow_dir_of(path), *real;
	int n;

	if (!slash)
		slash = path - 1;
	if (!dir) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	real = realpath(dir, NULL);
	free(dir);
	if (!real) {
		cow_seterr(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = snprintf(out, outlen, "%s/%s", strcmp(real, "/") ? real : "",
		     slash + 1);
	free(real);
	if (n < 0 || (size_t)n >= outlen) {
		cow_seterr(err, "%s: absolute path too long", path);
		return -1;
	}
	return 0;
}

/*
 * Fill @b from @path, opened once with @flags and kept open in b->fd; 0,
 * or -1 with errno kept for the caller. Only a regular file, or anything
 * cow_open_path() takes when @any_type (--backing), is opened at all.
 */
static int probe(const char *path, struct cow_backing *b, bool any_type,
		 int flags, struct cow_err *err)
{
	struct stat st;
	char *what;
	int fd;

	if (asprintf(&what, "backing file %s", path) < 0) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	fd = cow_open_path(path, flags, any_type, what, err);
	free(what);
	/* A block device a header names is used only when --backing names it. */
	if (fd < 0 && errno == EINVAL && !any_type && stat(path, &st) == 0 &&
	    S_ISBLK(st.st_mode))
		cow_seterr(err, "backing file %s is %s, not a regular file; name it with --backing to use it anyway",
			   path, cow_file_type(st.st_mode));
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		cow_seterr(err, "backing file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	snprintf(b->path, sizeof(b->path), "%s", path);
	b->regular = S_ISREG(st.st_mode);
	b->mtime = (uint32_t)st.st_mtime;
	b->dev = st.st_dev;
	b->ino = st.st_ino;
	b->perm = (struct cow_perm){ st.st_uid, st.st_gid,
				     st.st_mode & 07777 };
	if (cow_fd_size(fd, &b->size, err)) {
		close(fd);
		return -1;
	}
	b->fd = fd;
	return 0;
}

void cow_backing_close(struct cow_backing *b)
{
	if (b && b->fd >= 0) {
		close(b->fd);
		b->fd = -1;
	}
}

int cow_backing_not_self(const struct cow_file *cf,
			 const struct cow_backing *b, struct cow_err *err)
{
	if (cf->dev == b->dev && cf->ino == b->ino) {
		cow_seterr(err, "the COW file is its own backing file (%s is the same file)",
			   b->path);
		return -1;
	}
	return 0;
}

int cow_backing_open(const struct cow_file *cf, const char *explicit,
		     int flags, bool force, struct cow_backing *b,
		     struct cow_err *err)
{
	if (cow_backing_find(cf->path, &cf->info, explicit, flags, b, err) ||
	    cow_backing_not_self(cf, b, err) ||
	    cow_backing_verify(&cf->info, b, force, err)) {
		cow_backing_close(b);
		return -1;
	}
	return 0;
}

int cow_backing_find(const char *cow_path, const struct cow_info *info,
		     const char *explicit, int flags, struct cow_backing *b,
		     struct cow_err *err)
{
	const char *hp = info->backing_file, *base, *slash;
	char *alt;
	struct stat st;
	size_t dlen;
	int ret;

	memset(b, 0, sizeof(*b));
	b->fd = -1;
	if (explicit) {
		b->source = COW_BACKING_EXPLICIT;
		if (probe(explicit, b, true, flags, err))
			return -1;
		goto found;
	}

	b->source = COW_BACKING_HEADER;
	if (stat(hp, &st) == 0) {
		if (probe(hp, b, false, flags, err))
			return -1;
		goto found;
	}

	/* Not there: try the same name next to the COW file. */
	base = strrchr(hp, '/');
	base = base ? base + 1 : hp;
	slash = strrchr(cow_path, '/');
	dlen = slash ? (size_t)(slash - cow_path) + 1 : 0;
	alt = malloc(dlen + strlen(base) + 1);
	if (!alt) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	memcpy(alt, cow_path, dlen);
	strcpy(alt + dlen, base);
	if (*base && stat(alt, &st) == 0 && !S_ISREG(st.st_mode)) {
		cow_seterr(err, "backing file %s not found, and %s next to the COW file is %s, not a regular file; name one with --backing PATH",
			   hp, alt, cow_file_type(st.st_mode));
		free(alt);
		return -1;
	}
	if (*base && stat(alt, &st) == 0) {
		b->source = COW_BACKING_NEXT_TO_COW;
		ret = probe(alt, b, false, flags, err);
		if (ret == 0)
			snprintf(b->warning, sizeof(b->warning),
				 "backing file %s (from the header) does not exist; using %s next to the COW file",
				 hp, alt);
		free(alt);
		if (ret)
			return -1;
		goto found;
	}
	cow_seterr(err, "backing file %s not found (nor %s next to the COW file); name it with --backing PATH",
		   hp, alt);
	free(alt);
	return -1;

found:
	b->size_matches = b->size == info->size;
	b->mtime_matches = b->mtime == info->mtime;
	return 0;
}

int cow_backing_verify(const struct cow_info *info,
		       const struct cow_backing *b, bool force,
		       struct cow_err *err)
{
	if (!b->size_matches) {
		cow_seterr(err, "size mismatch: the header says %llu bytes, backing file %s has %llu (UML refuses this too)",
			   (unsigned long long)info->size, b->path,
			   (unsigned long long)b->size);
		return -1;
	}
	if (!b->mtime_matches && !force) {
		cow_seterr(err, "mtime mismatch: the header says %u, backing file %s has %u; UML would refuse this COW file (\"mtime mismatch of COW header vs backing file\"); use --force to go on anyway, or 'rebase --update-mtime' if the backing file's contents did not change",
			   info->mtime, b->path, b->mtime);
		return -1;
	}
	return 0;
}
