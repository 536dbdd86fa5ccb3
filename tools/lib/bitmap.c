// SPDX-License-Identifier: GPL-2.0
/*
 * bitmap.c - the allocation bitmap: bit n (sector n) is byte n / 8, mask
 * 1 << (n % 8), counted from bitmap_offset.
 *
 * The bitmap is read in chunks, never whole: a 4 TiB image has a 1 GiB
 * bitmap. Holes of a sparse COW file are skipped with SEEK_DATA.
 *
 * Allocation (test, scan, count) looks at the bits of tracked_sectors: with
 * a short v1/v2 bitmap, also those UML sets in the padding past bitmap_len
 * (cowfmt.h), counted apart by count_padding.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowfmt.h"
#include "engine.h"

#define CHUNK	65536U

int cow_bitmap_read(const struct cow_file *cf, uint64_t first, void *buf,
		    size_t len, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;

	if (first > ci->bitmap_span || len > ci->bitmap_span - first) {
		cow_seterr(err, "bitmap read of %zu bytes at %llu is past the bitmap's %llu bytes",
			   len, (unsigned long long)first,
			   (unsigned long long)ci->bitmap_span);
		return -1;
	}
	return cow_pread_full(cf->fd, buf, len, ci->bitmap_offset + first,
			      err);
}

int cow_bitmap_test(const struct cow_file *cf, uint64_t n,
		    struct cow_err *err)
{
	uint8_t b;

	if (n >= cf->info.nr_sectors) {
		cow_seterr(err, "sector %llu is past the last sector (%llu)",
			   (unsigned long long)n,
			   (unsigned long long)cf->info.nr_sectors - 1);
		return -1;
	}
	if (n >= cf->info.tracked_sectors)
		return 0;	/* its "bit" is the data area's first byte */
	if (cow_bitmap_read(cf, n / 8, &b, 1, err))
		return -1;
	return cow_bit(&b, n % 8);
}

static int check_range(const struct cow_info *ci, uint64_t first,
		       uint64_t count, struct cow_err *err)
{
	if (first > ci->nr_sectors || count > ci->nr_sectors - first) {
		cow_seterr(err, "sectors %llu+%llu are past the image's %llu sectors",
			   (unsigned long long)first,
			   (unsigned long long)count,
			   (unsigned long long)ci->nr_sectors);
		return -1;
	}
	return 0;
}

int cow_bitmap_set_range(struct cow_file *cf, uint64_t first, uint64_t count,
			 bool value, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint8_t *buf;
	uint64_t n = first, end = first + count;
	int ret = -1;

	if (check_range(ci, first, count, err))
		return -1;
	if (count == 0)
		return 0;
	buf = cow_chunk_alloc((end - 1) / 8 + 1 - first / 8, CHUNK);
	if (!buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	while (n < end) {
		uint64_t b0 = n / 8;
		uint64_t b1 = (end - 1) / 8 + 1;	/* bytes [b0, b1) */
		uint64_t last;
		size_t len;

		if (b1 - b0 > CHUNK)
			b1 = b0 + CHUNK;
		len = (size_t)(b1 - b0);
		last = end < b1 * 8 ? end : b1 * 8;
		if (cow_bitmap_read(cf, b0, buf, len, err))
			goto out;
		cow_bits_fill(buf, n - b0 * 8, last - n, value);
		n = last;
		if (cow_pwrite_full(cf->fd, buf, len, ci->bitmap_offset + b0,
				    err))
			goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

struct runs {
	cow_run_fn fn;
	void *ctx;
	uint64_t nr;
	uint64_t start, len;	/* the open run, len 0 when none */
};

static int run_close(struct runs *r)
{
	uint64_t len = r->len;

	r->len = 0;
	if (len == 0 || r->start >= r->nr)
		return 0;
	if (len > r->nr - r->start)
		len = r->nr - r->start;
	return r->fn(r->ctx, r->start, len);
}

static int run_add(struct runs *r, uint64_t s, uint64_t n)
{
	int ret;

	if (r->len && r->start + r->len == s) {
		r->len += n;
		return 0;
	}
	ret = run_close(r);
	r->start = s;
	r->len = n;
	return ret;
}

int cow_bitmap_scan(const struct cow_file *cf, cow_run_fn fn, void *ctx,
		    struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	struct runs r = { .fn = fn, .ctx = ctx, .nr = ci->tracked_sectors };
	uint64_t end = (ci->tracked_sectors + 7) / 8;	/* <= bitmap_len */
	uint8_t *buf = cow_chunk_alloc(end, CHUNK);
	uint64_t pos = 0;
	int ret = 0;

	if (!buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	while (pos < end) {
		off_t at = (off_t)(ci->bitmap_offset + pos);
		off_t d = lseek(cf->fd, at, SEEK_DATA);
		uint64_t i, run;
		size_t len;

		if (d < 0 && errno == ENXIO)
			break;		/* nothing but holes from here */
		if (d > at) {		/* skip a hole */
			ret = run_close(&r);
			if (ret)
				goto out;
			pos = (uint64_t)d - ci->bitmap_offset;
			if (pos >= end)
				break;
		}
		len = end - pos > CHUNK ? CHUNK : (size_t)(end - pos);
		if (cow_bitmap_read(cf, pos, buf, len, err)) {
			ret = -1;
			goto out;
		}
		for (i = 0; i < len * 8 && !ret; i += run) {
			bool alloc;

			run = cow_bits_run(buf, i, len * 8, &alloc);
			ret = alloc ? run_add(&r, pos * 8 + i, run) :
			      run_close(&r);
		}
		if (ret)
			goto out;
		pos += len;
	}
	ret = run_close(&r);
out:
	free(buf);
	return ret;
}

static int count_run(void *ctx, uint64_t first, uint64_t count)
{
	(void)first;
	*(uint64_t *)ctx += count;
	return 0;
}

int cow_bitmap_count(const struct cow_file *cf, uint64_t *count,
		     struct cow_err *err)
{
	*count = 0;
	return cow_bitmap_scan(cf, count_run, count, err) ? -1 : 0;
}

int cow_bitmap_count_padding(const struct cow_file *cf, uint64_t *count,
			     struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t s = ci->bitmap_len * 8;
	uint8_t b;

	*count = 0;
	if (!(ci->flags & COW_F_PADDING_BITS))
		return 0;
	/* 8 * bitmap_len < nr_sectors: the rest share one byte. */
	if (cow_bitmap_read(cf, s / 8, &b, 1, err))
		return -1;
	for (; s < ci->nr_sectors; s++)
		*count += cow_bit(&b, s % 8);
	return 0;
}

int cow_write_sectors(struct cow_file *cf, uint64_t first, uint64_t count,
		      const void *data, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t at, bytes;

	if (check_range(ci, first, count, err))
		return -1;
	at = cow_sector_pos(ci, first);		/* <= data_end: no overflow */
	bytes = cow_sector_pos(ci, first + count) - at;
	if (bytes > SIZE_MAX) {
		cow_seterr(err, "write too large");
		return -1;
	}
	if (cow_pwrite_full(cf->fd, data, (size_t)bytes, at, err))
		return -1;
	return cow_bitmap_set_range(cf, first, count, true, err);
}
