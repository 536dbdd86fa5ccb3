// SPDX-License-Identifier: GPL-2.0
/*
 * merge.c - the full image a COW file describes: the backing file with the
 * allocated sectors taken from the COW data area. Written sparse (blocks
 * that are all zero are left as holes) and fsync'd, or, in place, only the
 * allocated sectors written into the backing file. Both read the image
 * through a read-only engine (engine.h): where sector n lives is decided
 * there, and only there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"
#include "engine.h"

#define MCHUNK	(1U << 20)	/* bytes per step; a multiple of any sector */
#define BLOCK	4096U		/* hole granularity of the output */

static void progress(const struct cow_progress *p, uint64_t done,
		     uint64_t total)
{
	if (p && p->fn)
		p->fn(p->ctx, done, total);
}

/* Offset of the next data at or after @off in @fd, or UINT64_MAX. */
static uint64_t next_data(int fd, uint64_t off)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA);

	if (d < 0)
		return errno == ENXIO ? UINT64_MAX : off;
	return (uint64_t)d;
}

/* A read-only engine over @cf and @backing_fd (-1: none read). */
static struct cow_engine *engine(const struct cow_file *cf, int backing_fd,
				 struct cow_err *err)
{
	struct cow_engine_opts o = { .read_only = true };
	struct cow_engine *e;

	return cow_engine_open(&e, cf, backing_fd, &o, err) ? NULL : e;
}

int cow_data_check(const struct cow_file *cf, struct cow_err *err)
{
	struct cow_engine *e = engine(cf, -1, err);
	int ret;

	if (!e)
		return -1;
	ret = cow_engine_data_check(e, err);
	cow_engine_free(e);
	return ret;
}

/* Write the non-zero blocks of @buf (all of it unless @sparse) at @pos. */
static int write_out(int out_fd, const uint8_t *buf, size_t len,
		     uint64_t pos, bool sparse, struct cow_err *err)
{
	size_t b, e, blen;

	for (b = 0; b < len; b = e) {
		if (sparse && cow_is_zero(buf + b, len - b < BLOCK ?
					  len - b : BLOCK)) {
			e = b + BLOCK;
			continue;
		}
		for (e = b; e < len && !(sparse &&
		     cow_is_zero(buf + e, len - e < BLOCK ? len - e : BLOCK));)
			e += BLOCK;
		blen = (e > len ? len : e) - b;
		if (cow_pwrite_full(out_fd, buf + b, blen, pos + b, err))
			return -1;
	}
	return 0;
}

/*
 * Where the next chunk to merge starts, after the chunk at @pos, @len bytes,
 * whose sectors all come from the backing file and read as zeros there:
 * the chunk that holds the next data of either file.
 */
static uint64_t skip_empty(struct cow_engine *e, int backing_fd, uint64_t pos,
			   size_t len)
{
	uint64_t size = cow_engine_size(e), nb = next_data(backing_fd, pos);
	uint64_t nc = size, next;
	bool alloc;

	if (pos < size)		/* the next allocated sector, if any */
		nc = pos + cow_engine_run_bytes(e, pos, size - pos, &alloc);
	if (nc >= size)
		nc = UINT64_MAX;
	next = nb < nc ? nb : nc;
	next -= next % MCHUNK;
	return next > pos + len ? next : pos + len;
}

int cow_merge(const struct cow_file *cf, int backing_fd, int out_fd,
	      const struct cow_progress *p, struct cow_err *err)
{
	uint64_t size = cf->info.size, pos = 0;
	uint8_t *buf = cow_chunk_alloc(size, MCHUNK);
	struct cow_engine *e = NULL;
	bool sparse;
	struct stat st;
	int ret = -1;

	if (!buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	e = engine(cf, backing_fd, err);
	if (!e || cow_engine_data_check(e, err))
		goto out;
	if (fstat(out_fd, &st) < 0) {
		cow_seterr(err, "%s", strerror(errno));
		goto out;
	}
	/* Holes read as zeros only in a regular file we start empty. */
	sparse = S_ISREG(st.st_mode) && st.st_size == 0;

	while (pos < size) {
		size_t len = size - pos > MCHUNK ? MCHUNK :
			     (size_t)(size - pos);
		bool alloc;

		if (sparse && cow_engine_run_bytes(e, pos, len, &alloc) == len &&
		    !alloc && next_data(backing_fd, pos) >= pos + len) {
			/* Nothing here: jump to the next data of either. */
			pos = skip_empty(e, backing_fd, pos, len);
			progress(p, pos < size ? pos : size, size);
			continue;
		}
		if (cow_engine_read(e, buf, len, pos, err) ||
		    write_out(out_fd, buf, len, pos, sparse, err))
			goto out;
		pos += len;
		progress(p, pos, size);
	}
	if (S_ISREG(st.st_mode) && ftruncate(out_fd, (off_t)size) < 0) {
		cow_seterr(err, "truncate: %s", strerror(errno));
		goto out;
	}
	if (cow_fsync(out_fd, NULL, err))
		goto out;
	ret = 0;
out:
	cow_engine_free(e);
	free(buf);
	return ret;
}

int cow_merge_in_place(const struct cow_file *cf, int backing_fd,
		       const struct cow_progress *p, struct cow_err *err)
{
	uint64_t size = cf->info.size, pos, run;
	uint8_t *buf = cow_chunk_alloc(size, MCHUNK);
	struct cow_engine *e = NULL;
	int ret = -1;

	if (!buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	/* Checked before the first write: no half-merged backing file. */
	e = engine(cf, backing_fd, err);
	if (!e || cow_engine_data_check(e, err))
		goto out;
	for (pos = 0; pos < size; pos += run) {
		uint64_t off = pos, end;
		bool alloc;

		run = cow_engine_run_bytes(e, pos, size - pos, &alloc);
		if (!alloc)
			continue;
		end = pos + run;
		while (off < end) {
			size_t len = end - off > MCHUNK ? MCHUNK :
				     (size_t)(end - off);

			if (cow_engine_read(e, buf, len, off, err) ||
			    cow_pwrite_full(backing_fd, buf, len, off, err))
				goto out;
			off += len;
		}
		progress(p, end, size);
	}
	if (cow_fsync(backing_fd, "the backing file", err))
		goto out;
	progress(p, size, size);
	ret = 0;
out:
	cow_engine_free(e);
	free(buf);
	return ret;
}
