// SPDX-License-Identifier: GPL-2.0
/*
 * mapplan.c - what a device-mapper table maps for a COW file, and its
 * parameter strings (see cowfmt.h). Format knowledge only: no printing,
 * no device-mapper; the CLI and the fuzzer call it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cowfmt.h"
#include "engine.h"

static uint64_t round_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

int cow_map_plan(const struct cow_info *info, uint32_t cow_block,
		 struct cow_map_plan *p, struct cow_err *err)
{
	uint32_t ss = info->sector_size;
	uint64_t whole = info->size / ss, per = ss / 512, bm_end;

	memset(p, 0, sizeof(*p));
	if (ss < 512 || ss % 512) {
		cow_seterr(err, "sector size %" PRIu32 " is not a multiple of 512",
			   ss);
		return -1;
	}
	if (!cow_block || !cow_is_pow2(cow_block))
		cow_block = 512;
	if (whole == 0) {
		cow_seterr(err, "the image is smaller than one sector");
		return -1;
	}
	p->bitmap_offset = info->bitmap_offset;
	p->data_offset = info->data_offset;
	p->sector_size = ss;
	p->unmapped_bytes = info->size % ss;
	p->nr_sectors = whole < info->tracked_sectors ? whole :
			info->tracked_sectors;
	/*
	 * The target reads and writes whole blocks of the bitmap: with bits
	 * in the padding, the block of the last one must stay before the
	 * data area. (Header values are bounded by cowfmt: no overflow.)
	 */
	bm_end = round_up(p->bitmap_offset + (p->nr_sectors + 7) / 8,
			  cow_block);
	if (bm_end > p->data_offset && p->nr_sectors > info->bitmap_len * 8)
		p->nr_sectors = info->bitmap_len * 8;
	if (p->nr_sectors == 0) {
		cow_seterr(err, "nothing to map: no sector has a bit in the short %s bitmap",
			   info->layout_name);
		cow_setdetail(err, "the bitmap is one byte short (UML's rounding) and that byte is the data area's first: UML reads the whole image from the backing file");
		return -1;
	}
	p->padding_bits = p->nr_sectors > info->bitmap_len * 8;
	p->len = p->nr_sectors * per;
	p->tail_sectors = whole - p->nr_sectors;
	p->tail_len = p->tail_sectors * per;
	p->read_only = p->tail_len != 0;
	p->cow_need = cow_sector_pos(info, p->nr_sectors);
	return 0;
}

static bool is_word(const char *s)
{
	return s && *s && !strpbrk(s, " \t\n\r\v\f");
}

int cow_map_params(const struct cow_map_plan *p, const char *cow_dev,
		   const char *backing_dev, const struct cow_map_features *f,
		   char *buf, size_t len, struct cow_err *err)
{
	static const struct cow_map_features none;
	bool ro, nd, ci;
	int n;

	if (!f)
		f = &none;
	ro = f->read_only || p->read_only;
	nd = f->no_discard;
	ci = f->commit_interval_set;
	if (!is_word(cow_dev) || !is_word(backing_dev)) {
		cow_seterr(err, "a device must be a non-empty word without spaces");
		return -1;
	}
	n = snprintf(buf, len, "%s %s %" PRIu64 " %" PRIu64 " %" PRIu32
		     " %" PRIu64, cow_dev, backing_dev, p->bitmap_offset,
		     p->data_offset, p->sector_size, p->nr_sectors);
	if (n >= 0 && (size_t)n < len && (ro || nd || ci))
		n += snprintf(buf + n, len - (size_t)n, " %d%s%s%s",
			      (int)ro + (int)nd + 2 * (int)ci,
			      ro ? " read_only" : "",
			      nd ? " no_discard" : "",
			      ci ? " commit_interval" : "");
	if (n >= 0 && (size_t)n < len && ci)
		n += snprintf(buf + n, len - (size_t)n, " %" PRIu32,
			      f->commit_interval);
	if (n < 0 || (size_t)n >= len) {
		cow_seterr(err, "table line too long");
		return -1;
	}
	return 0;
}

int cow_map_tail_params(const struct cow_map_plan *p, const char *backing_dev,
			char *buf, size_t len, struct cow_err *err)
{
	int n;

	if (!is_word(backing_dev)) {
		cow_seterr(err, "a device must be a non-empty word without spaces");
		return -1;
	}
	n = snprintf(buf, len, "%s %" PRIu64, backing_dev, p->len);
	if (n < 0 || (size_t)n >= len) {
		cow_seterr(err, "table line too long");
		return -1;
	}
	return 0;
}

bool cow_map_ro_short_ok(const struct cow_map_plan *p, uint64_t file_size)
{
	uint64_t loop_bytes = file_size & ~UINT64_C(511);
	uint64_t bitmap_end = round_up(p->bitmap_offset +
				       (p->nr_sectors + 7) / 8, 512);

	return loop_bytes >= bitmap_end && loop_bytes >= p->data_offset;
}

static bool is_one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

int cow_map_parse_status(const char *line, bool table_read_only,
			 struct cow_map_status *st)
{
	static const char *const modes[] = { "rw", "ro", "fail", NULL };
	static const char *const accesses[] = { "writable", "read_only", NULL };
	unsigned long long a, t, d, mem;
	char mode[16], access[16], tail;
	int n;

	memset(st, 0, sizeof(*st));
	n = sscanf(line, "%llu/%llu %llu %15s %15s %llu %c", &a, &t, &d, mode,
		   access, &mem, &tail);
	if ((n != 4 && n != 6) || !is_one_of(mode, modes) || a > t ||
	    (n == 6 && !is_one_of(access, accesses)))
		return -1;
	st->allocated = a;
	st->total = t;
	st->dirty = d;
	snprintf(st->mode, sizeof(st->mode), "%s", mode);
	if (n == 6) {
		snprintf(st->access, sizeof(st->access), "%s", access);
		st->memory = mem;
		st->have_memory = true;
		return 0;
	}
	/* 1.0.0: "ro" is the read_only feature unless the table is writable */
	snprintf(st->access, sizeof(st->access), "%s",
		 table_read_only ? "read_only" : "writable");
	if (table_read_only && !strcmp(mode, "ro"))
		snprintf(st->mode, sizeof(st->mode), "rw");
	return 0;
}
