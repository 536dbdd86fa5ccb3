// SPDX-License-Identifier: GPL-2.0
/*
 * convert.c - copy a COW file into a new one of another layout: the same
 * header fields, the same allocated sectors with the same data, so that it
 * merges to the same image. The new file is sparse: an allocated sector of
 * zeros keeps its bit and a hole.
 *
 * Only allocated sectors are copied (cow_bitmap_scan), including the last
 * sectors of a short v1/v2 bitmap whose bits UML set in the padding. A
 * target layout without a bit for an allocated sector is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"
#include "engine.h"

#define CCHUNK	(1U << 20)

struct copy {
	const struct cow_file *src;
	struct cow_file *dst;
	uint8_t *buf;
	const struct cow_progress *p;
	struct cow_err *err;
	uint64_t end;		/* the data end of the last run, in dst */
};

static int copy_run(void *ctx, uint64_t first, uint64_t count)
{
	struct copy *c = ctx;
	const struct cow_info *si = &c->src->info, *di = &c->dst->info;
	uint64_t ss = si->sector_size, s = first, end = first + count;

	if (first + count > di->tracked_sectors) {
		cow_seterr(c->err, "sector %llu is allocated, but the %s layout's short bitmap has no bit for it",
			   (unsigned long long)(first + count - 1),
			   c->dst->info.layout_name);
		return -1;
	}
	while (s < end) {
		uint64_t n = end - s > CCHUNK / ss ? CCHUNK / ss : end - s, k;
		uint64_t at = cow_sector_pos(si, s);

		if (cow_pread_full(c->src->fd, c->buf,
				   (size_t)(cow_sector_pos(si, s + n) - at),
				   at, c->err))
			return -1;
		/* Write only the non-zero sectors: zeros stay holes. */
		for (k = 0; k < n; k++) {
			const uint8_t *sec = c->buf + (cow_sector_pos(si, s + k) - at);

			if (cow_is_zero(sec, (size_t)ss))
				continue;
			if (cow_pwrite_full(c->dst->fd, sec, (size_t)ss,
					    cow_sector_pos(di, s + k), c->err))
				return -1;
		}
		s += n;
	}
	if (cow_bitmap_set_range(c->dst, first, count, true, c->err))
		return -1;
	c->end = cow_sectors_end_pos(di, end);
	if (c->p && c->p->fn)
		c->p->fn(c->p->ctx, first + count, si->nr_sectors);
	return 0;
}

/* Extend the file on @fd (sparsely) to at least @end bytes. */
static int reach(int fd, uint64_t end, struct cow_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0 ||
	    ((uint64_t)st.st_size < end && ftruncate(fd, (off_t)end) < 0)) {
		cow_seterr(err, "%s", strerror(errno));
		err->kind = COW_ERR_SYSTEM;
		return -1;
	}
	return 0;
}

int cow_convert_fd(const struct cow_file *cf, int fd, const char *name,
		   const struct cow_create_opts *o,
		   const struct cow_progress *p, struct cow_err *err)
{
	const struct cow_info *si = &cf->info;
	struct cow_create_opts co = *o;
	struct cow_open_opts oo = { .writable = true };
	struct cow_file dst;
	struct copy c;
	int dfd, ret;

	co.keep_path = true;
	co.have_fields = true;
	co.size = si->size;
	co.mtime = si->mtime;
	co.sector_size = si->sector_size;
	if (!co.layout)
		co.layout = cow_layout_find("v3", NULL);
	if (co.order < 0 && si->layout->host_order &&
	    co.layout->host_order)
		co.order = si->order;
	if (cow_data_check(cf, err) ||
	    cow_create_write(fd, si->backing_file, &co, err))
		return -1;
	oo.layout = co.layout->name;
	/* The file written, through its descriptor: never a path. */
	dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0) {
		cow_seterr(err, "%s", strerror(errno));
		err->kind = COW_ERR_SYSTEM;
		return -1;
	}
	if (cow_open_fd(&dst, dfd, name, &oo, err)) {
		close(dfd);
		return -1;
	}
	if (dst.info.nr_sectors != si->nr_sectors) {
		cow_seterr(err, "the %s layout describes %llu sectors, the source %llu",
			   co.layout->name,
			   (unsigned long long)dst.info.nr_sectors,
			   (unsigned long long)si->nr_sectors);
		cow_close(&dst);
		return -1;
	}
	c = (struct copy){ cf, &dst,
			   cow_chunk_alloc(si->nr_sectors * si->sector_size,
					   CCHUNK), p, err, 0 };
	if (!c.buf) {
		cow_seterr(err, "out of memory");
		cow_close(&dst);
		return -1;
	}
	ret = cow_bitmap_scan(cf, copy_run, &c, err);
	free(c.buf);
	/*
	 * Zeros stay holes, and a QEMU layout is not extended on creation: the
	 * file must still reach the last allocated sector, or the copy would
	 * look truncated (cow_data_check()).
	 */
	if (ret == 0)
		ret = reach(dst.fd, c.end, err);
	if (ret == 0 && co.inherit_perm)
		ret = cow_output_perm(dst.fd, &cf->perm, 1, &cf->perm, err);
	if (ret == 0)
		ret = cow_fsync(dst.fd, NULL, err);
	cow_close(&dst);
	return ret;
}

int cow_convert(const struct cow_file *cf, const char *dst_path,
		const struct cow_create_opts *o, const struct cow_progress *p,
		struct cow_err *err)
{
	int fd = cow_new_file(dst_path, o->inherit_perm ? 0600 :
			      o->mode ? o->mode : 0644, err);

	if (fd < 0)
		return -1;
	return cow_new_file_end(fd, dst_path,
				cow_convert_fd(cf, fd, dst_path, o, p, err),
				err);
}
