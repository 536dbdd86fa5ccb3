// SPDX-License-Identifier: GPL-2.0
/*
 * check.c - an fsck for COW files: what parsing does not already refuse.
 *
 * Parsing (parse.c) has checked the header and that the bitmap lies in the
 * file. Here: bits set past the last sector, the v1/v2 short bitmap (and
 * sectors UML wrote past it, which it will not read back), a file that ends
 * before its data area does, allocated sectors with no data, and the
 * backing file (present, same size, same mtime).
 */
#include <stdarg.h>
#include <stdio.h>

#include "cowfmt.h"
#include "engine.h"

struct report {
	cow_report_fn fn;
	void *ctx;
	int problems;
	struct cow_finding f;	/* the next finding's code and range */
};

/* The next finding: its code, and its range (COW_RANGE_NONE: none). */
static struct report *at(struct report *r, const char *code,
			 enum cow_range_kind range, uint64_t first,
			 uint64_t count)
{
	r->f = (struct cow_finding){ .code = code, .range = range,
				     .first = first, .count = count };
	return r;
}

static struct report *counted(struct report *r, const char *code,
			      uint64_t number)
{
	at(r, code, COW_RANGE_NONE, 0, 0);
	r->f.has_number = true;
	r->f.number = number;
	return r;
}

static void __attribute__((format(printf, 3, 4)))
say(struct report *r, enum cow_check_level level, const char *fmt, ...)
{
	char msg[COW_PATH_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level == COW_CHECK_PROBLEM)
		r->problems++;
	r->f.level = level;
	r->f.msg = msg;
	if (r->fn)
		r->fn(r->ctx, &r->f);
	r->f.msg = NULL;	/* msg ends here */
}

static int short_bitmap(const struct cow_file *cf, struct report *r,
			struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t first = ci->bitmap_len * 8, last = ci->nr_sectors - 1;
	uint64_t padded;
	char which[64];
	bool ov = ci->flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA;

	if (first == last)
		snprintf(which, sizeof(which), "sector %llu has%s",
			 (unsigned long long)first, ov ? "" : " its bit");
	else
		snprintf(which, sizeof(which), "sectors %llu-%llu have%s",
			 (unsigned long long)first,
			 (unsigned long long)last, ov ? "" : " their bits");
	if (ov) {
		say(at(r, "short-bitmap-overlaps-data", COW_RANGE_SECTORS,
		       first, last - first + 1), COW_CHECK_NOTE,
		    "short bitmap (UML's v1/v2 rounding bug): the header's formula gives %llu bytes, %llu sectors need %llu; %s no bit: the byte past the bitmap (offset %llu) is sector 0's first data byte, so they read from the backing file, as UML reads them",
		    (unsigned long long)ci->bitmap_len,
		    (unsigned long long)ci->nr_sectors,
		    (unsigned long long)ci->bitmap_span, which,
		    (unsigned long long)ci->data_offset);
		return 0;
	}
	say(at(r, "short-bitmap", COW_RANGE_SECTORS, first, last - first + 1),
	    COW_CHECK_NOTE, "short bitmap (UML's v1/v2 rounding bug): the header's formula gives %llu bytes, %llu sectors need %llu; %s in the padding past it, where UML writes them: honoured by info, merge, upgrade and open (UML itself reads only %llu bytes back)",
	    (unsigned long long)ci->bitmap_len,
	    (unsigned long long)ci->nr_sectors,
	    (unsigned long long)ci->bitmap_span, which,
	    (unsigned long long)ci->bitmap_len);
	if (cow_bitmap_count_padding(cf, &padded, err))
		return -1;
	if (padded)
		say(counted(r, "padding-bits", padded), COW_CHECK_NOTE,
		    "%llu sector(s) written by UML past the short v1/v2 bitmap (bits in the padding): kept here; UML's next boot reads them from the backing file ('upgrade' makes a v3 copy it reads in full)",
		    (unsigned long long)padded);
	return 0;
}

/* The sectors: bits past the last one, the file's length, their data. */
static int sectors(const struct cow_file *cf, struct cow_engine *e,
		   struct report *r, struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t count, data_end;

	if (ci->nr_sectors % 8 &&
	    !(ci->flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA)) {
		uint8_t last;

		if (cow_bitmap_read(cf, ci->bitmap_span - 1, &last, 1, err))
			return -1;
		last &= (uint8_t)~((1U << (ci->nr_sectors % 8)) - 1);
		if (last)
			say(at(r, "bits-past-end", COW_RANGE_BYTES,
			       ci->bitmap_offset + ci->bitmap_span - 1, 1),
			    COW_CHECK_PROBLEM, "bits set past the last sector (%llu) in the bitmap's last byte (mask 0x%02x)",
			    (unsigned long long)ci->nr_sectors - 1, last);
	}

	if (ci->flags & COW_F_FILE_SHORT) {
		bool qemu = ci->layout->geom == COW_GEOM_QEMU;
		uint64_t want = qemu ? ci->data_end :
				cow_engine_cow_pos(e, ci->size);

		say(at(r, "file-short", COW_RANGE_BYTES, ci->file_size,
		       want - ci->file_size), COW_CHECK_NOTE,
		    "file is %llu bytes, shorter than the data area's end (%llu)%s",
		    (unsigned long long)ci->file_size,
		    (unsigned long long)want,
		    qemu ? ": normal for a QEMU file, which grows as data is written" :
		    "; UML extends the files it creates to the full size");
	}

	count = cow_engine_alloc_count(e);
	say(counted(r, "allocated", count), COW_CHECK_NOTE,
	    "%llu of %llu sectors allocated",
	    (unsigned long long)count, (unsigned long long)ci->nr_sectors);
	data_end = cow_engine_data_end(e);
	if (data_end > ci->file_size)
		say(at(r, "data-missing", COW_RANGE_BYTES, ci->file_size,
		       data_end - ci->file_size), COW_CHECK_PROBLEM,
		    "allocated sectors have no data: the last allocated one ends at byte %llu, the file at %llu",
		    (unsigned long long)data_end,
		    (unsigned long long)ci->file_size);
	return 0;
}

static void backing(const struct cow_file *cf, const struct cow_backing *b,
		    const char *berr, bool force, struct report *r)
{
	const struct cow_info *ci = &cf->info;

	if (!b) {
		say(at(r, "backing-missing", COW_RANGE_NONE, 0, 0),
		    COW_CHECK_PROBLEM, "%s", berr ? berr :
		    "backing file not found");
		return;
	}
	if (b->warning[0])
		say(at(r, "backing-warning", COW_RANGE_NONE, 0, 0),
		    COW_CHECK_WARN, "%s", b->warning);
	if (!b->size_matches)
		say(at(r, "size-mismatch", COW_RANGE_NONE, 0, 0),
		    COW_CHECK_PROBLEM, "size mismatch: the header says %llu bytes, backing file %s has %llu; UML refuses this file",
		    (unsigned long long)ci->size, b->path,
		    (unsigned long long)b->size);
	if (!b->mtime_matches)
		say(at(r, "mtime-mismatch", COW_RANGE_NONE, 0, 0),
		    force ? COW_CHECK_WARN : COW_CHECK_PROBLEM,
		    "mtime mismatch: the header says %u, backing file %s has %u; UML refuses this file (use 'rebase --update-mtime' if the backing file's contents did not change)",
		    ci->mtime, b->path, b->mtime);
}

int cow_check(const struct cow_file *cf, const struct cow_backing *b,
	      const char *berr, bool force, cow_report_fn report, void *ctx,
	      struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	struct cow_engine_opts eo = { .read_only = true };
	struct report r = { report, ctx, 0, { 0 } };
	struct cow_engine *e;
	int ret;

	say(at(&r, "layout", COW_RANGE_NONE, 0, 0), COW_CHECK_NOTE,
	    "layout %s (%s)", ci->layout_name, cf->why);
	if (ci->backing_file[0] != '/')
		say(at(&r, "relative-backing-path", COW_RANGE_NONE, 0, 0),
		    COW_CHECK_NOTE, "the backing file path '%s' is relative: UML resolves it from its working directory",
		    ci->backing_file);
	if ((ci->flags & COW_F_SHORT_BITMAP) && short_bitmap(cf, &r, err))
		return -1;
	/* check reads no sector: the engine needs no backing file. */
	if (cow_engine_open(&e, cf, -1, &eo, err))
		return -1;
	ret = sectors(cf, e, &r, err);
	cow_engine_free(e);
	if (ret)
		return -1;
	backing(cf, b, berr, force, &r);
	return r.problems;
}
