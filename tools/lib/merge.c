// SPDX-License-Identifier: GPL-2.0
/*
 * merge.c - the full image a COW file describes: the backing file with the
 * allocated sectors taken from the COW data area. Written sparse (blocks
 * that are all zero are left as holes) and fsync'd, or, in place, only the
 * allocated sectors written into the backing file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"

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

/* Overlay the allocated sectors of [@pos, @pos + @len) onto @buf. */
static int overlay(const struct cow_file *cf, uint64_t pos, size_t len,
		   uint8_t *buf, const uint8_t *bm, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t ss = ci->sector_size, s0 = pos / ss;
	uint64_t n = (len + ss - 1) / ss, i = 0;

	while (i < n) {
		uint64_t j;

		if (!((bm[i / 8] >> (i % 8)) & 1)) {
			i++;
			continue;
		}
		for (j = i + 1; j < n && ((bm[j / 8] >> (j % 8)) & 1); j++)
			;
		{
			uint64_t off = i * ss, l = (j - i) * ss;

			if (off + l > len)
				l = len - off;
			if (cow_pread_full(cf->fd, buf + off, (size_t)l,
					   ci->data_offset + (s0 + i) * ss,
					   err))
				return -1;
		}
		i = j;
	}
	return 0;
}

/*
 * Allocation bits of sectors [s0, s0 + n) into @bm, bit 0 first; @n is a
 * multiple of 8 or ends at nr_sectors, and @s0 a multiple of 8. Sectors
 * past tracked_sectors (a short v1/v2 bitmap's last ones whose "bits" are
 * the data area's first byte) are clear; bits UML set in the padding past
 * a short bitmap count (cowfmt.h).
 */
static int load_bits(const struct cow_file *cf, uint64_t s0, uint64_t n,
		     uint8_t *bm, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t nb = (n + 7) / 8;

	if (s0 + n > ci->tracked_sectors) {
		memset(bm, 0, (size_t)nb);
		if (s0 >= ci->tracked_sectors)
			return 0;
		n = ci->tracked_sectors - s0;
	}
	if (cow_bitmap_read(cf, s0 / 8, bm, (size_t)((n + 7) / 8), err))
		return -1;
	if (n % 8)	/* bits past the last sector are not ours */
		bm[n / 8] &= (uint8_t)((1U << (n % 8)) - 1);
	return 0;
}

static int note_end(void *ctx, uint64_t first, uint64_t count)
{
	*(uint64_t *)ctx = first + count;
	return 0;
}

int cow_data_check(const struct cow_file *cf, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t last_end = 0, end, fsize;

	if (cow_bitmap_scan(cf, note_end, &last_end, err))
		return -1;
	if (!last_end)
		return 0;
	end = last_end * ci->sector_size;
	if (end > ci->size)
		end = ci->size;
	/* The size now, not at open: written sectors may have grown it. */
	if (cow_fd_size(cf->fd, &fsize, err))
		return -1;
	if (ci->data_offset + end <= fsize)
		return 0;
	cow_seterr(err, "allocated sectors have no data: the last allocated one ends at byte %llu, the file at %llu (truncated?); their contents are lost, not zeros",
		   (unsigned long long)(ci->data_offset + end),
		   (unsigned long long)fsize);
	return -1;
}

int cow_merge(const struct cow_file *cf, int backing_fd, int out_fd,
	      const struct cow_progress *p, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t ss = ci->sector_size, size = ci->size, pos = 0;
	uint8_t *buf = cow_chunk_alloc(size, MCHUNK), bm[MCHUNK / 512 / 8];
	bool sparse;
	struct stat st;
	int ret = -1;

	if (!buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	if (cow_data_check(cf, err))
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
		uint64_t s0 = pos / ss, n = (len + ss - 1) / ss;
		size_t b;

		if (load_bits(cf, s0, n, bm, err))
			goto out;
		if (sparse && cow_is_zero(bm, (size_t)((n + 7) / 8)) &&
		    next_data(backing_fd, pos) >= pos + len) {
			/* Nothing here: jump to the next data of either. */
			uint64_t nb = next_data(backing_fd, pos);
			uint64_t bo = ci->bitmap_offset + s0 / 8;
			uint64_t nc = next_data(cf->fd, bo), next;

			nc = nc == UINT64_MAX || nc - ci->bitmap_offset >
			     UINT64_MAX / 8 / ss ? UINT64_MAX :
			     (nc - ci->bitmap_offset) * 8 * ss;
			next = nb < nc ? nb : nc;
			next -= next % MCHUNK;
			pos = next > pos + len ? next : pos + len;
			progress(p, pos < size ? pos : size, size);
			continue;
		}
		if (cow_pread_full(backing_fd, buf, len, pos, err) ||
		    overlay(cf, pos, len, buf, bm, err))
			goto out;
		for (b = 0; b < len;) {
			size_t e = b, blen;

			if (sparse && cow_is_zero(buf + b, len - b < BLOCK ?
						  len - b : BLOCK)) {
				b += BLOCK;
				continue;
			}
			while (e < len && !(sparse &&
			       cow_is_zero(buf + e, len - e < BLOCK ?
					   len - e : BLOCK)))
				e += BLOCK;
			blen = (e > len ? len : e) - b;
			if (cow_pwrite_full(out_fd, buf + b, blen, pos + b,
					    err))
				goto out;
			b = e;
		}
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
	free(buf);
	return ret;
}

struct inplace {
	const struct cow_file *cf;
	int backing_fd;
	uint8_t *buf;
	const struct cow_progress *p;
	struct cow_err *err;
};

static int copy_run(void *ctx, uint64_t first, uint64_t count)
{
	struct inplace *ip = ctx;
	const struct cow_info *ci = &ip->cf->info;
	uint64_t ss = ci->sector_size;
	uint64_t off = first * ss, end = (first + count) * ss;

	if (end > ci->size)
		end = ci->size;
	while (off < end) {
		size_t len = end - off > MCHUNK ? MCHUNK : (size_t)(end - off);

		if (cow_pread_full(ip->cf->fd, ip->buf, len,
				   ci->data_offset + off, ip->err) ||
		    cow_pwrite_full(ip->backing_fd, ip->buf, len, off,
				    ip->err))
			return -1;
		off += len;
	}
	progress(ip->p, end, ci->size);
	return 0;
}

int cow_merge_in_place(const struct cow_file *cf, int backing_fd,
		       const struct cow_progress *p, struct cow_err *err)
{
	struct inplace ip = { cf, backing_fd,
			      cow_chunk_alloc(cf->info.size, MCHUNK), p, err };
	int ret;

	if (!ip.buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	/* Checked before the first write: no half-merged backing file. */
	if (cow_data_check(cf, err)) {
		free(ip.buf);
		return -1;
	}
	ret = cow_bitmap_scan(cf, copy_run, &ip, err);
	free(ip.buf);
	if (ret)
		return -1;
	if (cow_fsync(backing_fd, "the backing file", err))
		return -1;
	progress(p, cf->info.size, cf->info.size);
	return 0;
}
