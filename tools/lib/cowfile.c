// SPDX-License-Identifier: GPL-2.0
/*
 * cowfile.c - open a COW file: read its header, pick the layout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"

struct lookup_ctx {
	const char *cow_path;
	const char *explicit;
};

/* For detection: the candidate's backing file size, if it can be found. */
static int lookup_size(void *ctx, const struct cow_info *cand, uint64_t *size)
{
	const struct lookup_ctx *lc = ctx;
	struct cow_backing *b = malloc(sizeof(*b));
	struct cow_err e;
	int ret = -1;

	if (!b)
		return -1;
	if (cow_backing_find(lc->cow_path, cand, lc->explicit, O_RDONLY, b,
			     &e) == 0) {
		*size = b->size;
		ret = 0;
	}
	cow_backing_close(b);
	free(b);
	return ret;
}

static int read_header(int fd, uint8_t *buf, size_t len, size_t *got,
		       struct cow_err *err)
{
	size_t n = 0;

	while (n < len) {
		ssize_t r = pread(fd, buf + n, len - n, (off_t)n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			cow_seterr(err, "cannot read the header: %s",
				   strerror(errno));
			/* an I/O error says nothing about the contents */
			err->kind = COW_ERR_SYSTEM;
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

int cow_open(struct cow_file *cf, const char *path,
	     const struct cow_open_opts *o, struct cow_err *err)
{
	bool writable = o && o->writable;
	int fd;

	memset(cf, 0, sizeof(*cf));
	cf->fd = -1;
	fd = cow_open_path(path, writable ? O_RDWR : O_RDONLY, true, NULL,
			   err);
	if (fd < 0)
		return -1;
	if (cow_open_fd(cf, fd, path, o, err)) {
		close(fd);
		return -1;
	}
	return 0;
}

int cow_open_fd(struct cow_file *cf, int fd, const char *path,
		const struct cow_open_opts *o, struct cow_err *err)
{
	static const struct cow_open_opts none;
	uint8_t *buf = NULL;
	uint64_t fsize;
	size_t got;
	struct stat st;

	if (!o)
		o = &none;
	memset(cf, 0, sizeof(*cf));
	cf->fd = -1;
	if (fstat(fd, &st) < 0) {
		cow_seterr(err, "%s", strerror(errno));
		err->kind = COW_ERR_SYSTEM;
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		cow_seterr(err, "is %s, not a regular file or block device",
			   cow_file_type(st.st_mode));
		return -1;
	}
	if (cow_fd_size(fd, &fsize, err))
		return -1;
	buf = malloc(COW_HEADER_READ);
	cf->path = strdup(path);
	if (!buf || !cf->path) {
		cow_seterr(err, "out of memory");
		goto fail;
	}
	if (read_header(fd, buf, COW_HEADER_READ, &got, err))
		goto fail;

	if (o->layout) {
		int order;
		const struct cow_layout *l = cow_layout_find(o->layout, &order);
		struct cow_err *e = malloc(sizeof(*e));

		if (!l || !e) {
			free(e);
			if (l)
				cow_seterr(err, "out of memory");
			else
				cow_seterr(err, "unknown layout '%s' (known: %s)",
					   o->layout, cow_layout_names());
			err->kind = COW_ERR_USAGE;
			goto fail;
		}
		if (cow_parse_layout(buf, got, fsize, l, order, &cf->info,
				     e)) {
			cow_seterr(err, "not a %s COW file: %s", o->layout,
				   e->msg);
			/* the user's --layout is wrong: a usage error (exit 2) */
			err->kind = COW_ERR_USAGE;
			free(e);
			goto fail;
		}
		free(e);
		snprintf(cf->why, sizeof(cf->why), "chosen with --layout %s",
			 o->layout);
	} else {
		struct lookup_ctx lc = { path, o->backing };

		if (cow_detect(buf, got, fsize, lookup_size, &lc, &cf->info,
			       cf->why, sizeof(cf->why), err))
			goto fail;
	}
	free(buf);
	cf->fd = fd;
	cf->writable = o->writable;
	cf->dev = st.st_dev;
	cf->ino = st.st_ino;
	cf->perm = (struct cow_perm){ st.st_uid, st.st_gid,
				      st.st_mode & 07777 };
	return 0;

fail:
	free(buf);
	free(cf->path);
	cf->path = NULL;
	return -1;
}

void cow_close(struct cow_file *cf)
{
	if (cf->fd >= 0)
		close(cf->fd);
	cf->fd = -1;
	free(cf->path);
	cf->path = NULL;
}

int cow_write_header_fields(struct cow_file *cf, const char *path,
			    const uint32_t *mtime, struct cow_err *err)
{
	const struct cow_layout *l = cf->info.layout;
	uint8_t *buf = malloc(l->hdr_size);
	int ret = -1;

	if (!buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	if (!cf->writable) {
		cow_seterr(err, "opened read-only");
		goto out;
	}
	if (cow_pread_full(cf->fd, buf, l->hdr_size, 0, err) ||
	    cow_header_patch(l, cf->info.order, buf, path, mtime, err) ||
	    cow_pwrite_full(cf->fd, buf, l->hdr_size, 0, err))
		goto out;
	if (cow_fsync(cf->fd, NULL, err))
		goto out;
	if (path)
		snprintf(cf->info.backing_file, sizeof(cf->info.backing_file),
			 "%s", path);
	if (mtime)
		cf->info.mtime = *mtime;
	ret = 0;
out:
	free(buf);
	return ret;
}
