// SPDX-License-Identifier: GPL-2.0
/*
 * create.c - write a new, empty COW file in any layout.
 *
 * For v3 the result is byte for byte what UML (and uml_mkcow) writes: the
 * backing file's absolute path, its size and mtime, sector size 512,
 * alignment 4096, a zero bitmap and a sparse data area up to
 * data_offset + size. The other layouts exist for tests and migration.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"

static enum cow_byte_order host_order(void)
{
	const uint16_t one = 1;

	return *(const uint8_t *)&one ? COW_LE : COW_BE;
}

int cow_create(const char *cow_path, const char *backing,
	       const struct cow_create_opts *o, struct cow_err *err)
{
	int fd = cow_new_file(cow_path, o && o->mode ? o->mode : 0644, err);

	if (fd < 0)
		return -1;
	return cow_new_file_end(fd, cow_path,
				cow_create_write(fd, backing, o, err), err);
}

int cow_new_file(const char *path, unsigned int mode, struct cow_err *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		      (mode_t)mode);

	if (fd >= 0)
		return fd;
	if (errno == EEXIST)
		cow_seterr(err, "already exists; refusing to overwrite it");
	else
		cow_seterr(err, "%s", strerror(errno));
	return -1;
}

int cow_new_file_end(int fd, const char *path, int ret, struct cow_err *err)
{
	if (close(fd) < 0 && ret == 0) {
		cow_seterr(err, "close: %s", strerror(errno));
		ret = -1;
	}
	if (ret)
		unlink(path);
	return ret;
}

int cow_create_write(int fd, const char *backing,
		     const struct cow_create_opts *o, struct cow_err *err)
{
	static const struct cow_create_opts defaults = { .order = -1 };
	const struct cow_layout *l;
	struct cow_fields *f = NULL;
	struct cow_geometry g;
	enum cow_byte_order order;
	uint8_t *hdr = NULL;
	uint64_t end;
	int ret = -1;

	if (!o)
		o = &defaults;
	l = o->layout ? o->layout : cow_layout_find("v3", NULL);
	order = o->order < 0 ? host_order() : (enum cow_byte_order)o->order;
	f = calloc(1, sizeof(*f));
	hdr = malloc(l->hdr_size);
	if (!f || !hdr) {
		cow_seterr(err, "out of memory");
		goto out;
	}
	f->sector_size = o->sector_size ? o->sector_size :
			 COW_DEFAULT_SECTOR_SIZE;
	f->alignment = o->alignment ? o->alignment : COW_DEFAULT_ALIGNMENT;
	if (l->geom != COW_GEOM_V3)
		f->alignment = 0;

	if (o->have_fields) {
		f->size = o->size;
		f->mtime = o->mtime;
	} else {
		struct stat st;
		char *what = NULL;
		int bfd = -1;

		if (asprintf(&what, "backing file %s", backing) >= 0)
			bfd = cow_open_path(backing, O_RDONLY, true, what,
					    err);
		else
			cow_seterr(err, "out of memory");
		free(what);
		if (bfd < 0)
			goto out;
		if (fstat(bfd, &st) < 0) {
			cow_seterr(err, "backing file %s: %s", backing,
				   strerror(errno));
			close(bfd);
			goto out;
		}
		if (cow_fd_size(bfd, &f->size, err)) {
			char why[sizeof(err->msg)];

			snprintf(why, sizeof(why), "%s", err->msg);
			cow_seterr(err, "backing file %s: %s", backing, why);
			close(bfd);
			goto out;
		}
		close(bfd);
		f->mtime = (uint32_t)st.st_mtime;
	}

	if (o->keep_path) {
		if (strlen(backing) > COW_PATH_MAX) {
			cow_seterr(err, "backing file path too long");
			goto out;
		}
		strcpy(f->backing_file, backing);
	} else if (cow_absolute_path(backing, f->backing_file,
				     sizeof(f->backing_file), err)) {
		goto out;
	}

	if (cow_geometry(l, f->size, f->sector_size, f->alignment, &g, err) ||
	    cow_header_encode(l, order, f, hdr, err))
		goto out;

	end = l->extend_on_create ? g.data_offset + f->size :
	      g.bitmap_offset + g.bitmap_len;
	if (cow_pwrite_full(fd, hdr, l->hdr_size, 0, err))
		goto out;
	if (ftruncate(fd, (off_t)end) < 0 || fsync(fd) < 0) {
		cow_seterr(err, "%s", strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(hdr);
	free(f);
	return ret;
}
