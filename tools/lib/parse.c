// SPDX-License-Identifier: GPL-2.0
/*
 * parse.c - parse a COW header as one layout, or detect which layout it is.
 *
 * A header is accepted for a layout only when it is self-consistent: the
 * magic and version of that layout, the whole header inside the file, a
 * NUL-terminated non-empty path, a power-of-two sector size, a sane
 * alignment, a zero cow_format, a size whose geometry does not overflow,
 * and a bitmap (as long as the layout's formula says) inside the file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowfmt.h"
#include "endian-util.h"

/* Where the reasons are left to the detail. */
static const char verbose_hint[] = " (--verbose says why for each layout)";

/* How far a layout got before it was refused. */
enum stage {
	STAGE_MAGIC,
	STAGE_VERSION,
	STAGE_BODY,
	STAGE_TRUNCATED,	/* a sane header, the file cut off in its bitmap */
	STAGE_OK,
};

static int parse(const uint8_t *buf, size_t len, uint64_t file_size,
		 const struct cow_layout *l, int order, struct cow_info *out,
		 enum stage *stage, struct cow_err *err)
{
	uint64_t avail = len < file_size ? len : file_size;
	struct cow_geometry g;
	enum cow_byte_order o;
	uint32_t version, ss, align = 0, mtime = 0;
	const uint8_t *path, *nul;
	uint64_t size, bm_end;

	*stage = STAGE_MAGIC;
	if (avail < 4) {
		cow_seterr(err, "file is %llu bytes, too short to hold a COW header",
			   (unsigned long long)avail);
		return -1;
	}
	if (get_u32(buf, COW_BE) == COW_MAGIC &&
	    (order == -1 || order == COW_BE)) {
		o = COW_BE;
	} else if (l->host_order && get_u32(buf, COW_LE) == COW_MAGIC &&
		   (order == -1 || order == COW_LE)) {
		o = COW_LE;
	} else {
		if (get_u32(buf, COW_LE) == COW_MAGIC) {
			cow_seterr(err, "little-endian magic (4d 4f 4f 4f), which only v1 layouts use");
		} else if (get_u32(buf, COW_BE) == COW_MAGIC) {
			cow_seterr(err, "big-endian magic, but %s-le was asked for",
				   l->name);
		} else {
			cow_seterr(err, "bad magic %02x %02x %02x %02x: not a COW file",
				   buf[0], buf[1], buf[2], buf[3]);
			cow_setdetail(err, "a COW file starts with 4f 4f 4f 4d, or 4d 4f 4f 4f for a little-endian v1");
		}
		return -1;
	}

	*stage = STAGE_VERSION;
	if (avail < 8) {
		cow_seterr(err, "file ends at byte %llu, inside the version field",
			   (unsigned long long)avail);
		return -1;
	}
	version = get_u32(buf + 4, o);
	if (version != l->version) {
		cow_seterr(err, "COW version %u, not the %s layout's %u",
			   version, l->name, l->version);
		return -1;
	}

	*stage = STAGE_BODY;
	if (avail < l->hdr_size) {
		cow_seterr(err, "file ends at byte %llu, inside the %s field of the %u-byte %s header",
			   (unsigned long long)avail,
			   cow_layout_field_at(l, avail), l->hdr_size, l->name);
		return -1;
	}

	path = buf + l->path_off;
	nul = memchr(path, '\0', l->path_len);
	if (!nul) {
		cow_seterr(err, "backing file path has no NUL within its %u-byte field",
			   l->path_len);
		return -1;
	}
	if (nul == path) {
		cow_seterr(err, "backing file path is empty");
		return -1;
	}

	switch (l->mtime_kind) {
	case COW_MTIME_32:
		mtime = get_u32(buf + l->mtime_off, o);
		break;
	case COW_MTIME_64:
		mtime = (uint32_t)get_u64(buf + l->mtime_off, o);
		break;
	case COW_MTIME_BE32_IN_64:
		mtime = get_u32(buf + l->mtime_off, COW_BE);
		break;
	}
	size = get_u64(buf + l->size_off, o);
	ss = get_u32(buf + l->sectorsize_off, o);
	if (l->alignment_off >= 0)
		align = get_u32(buf + l->alignment_off, o);
	if (l->format_off >= 0 && get_u32(buf + l->format_off, o) != 0) {
		cow_seterr(err, "cow_format %u is not 0 (bitmap), the only format UML knows",
			   get_u32(buf + l->format_off, o));
		return -1;
	}
	if (l->geom == COW_GEOM_V3 && align == 0) {
		cow_seterr(err, "alignment is 0");
		return -1;
	}
	if (cow_geometry(l, size, ss, align, &g, err))
		return -1;
	bm_end = g.bitmap_offset + g.bitmap_len;	/* checked above */
	if (bm_end > file_size) {
		*stage = STAGE_TRUNCATED;
		cow_seterr(err, "truncated: the file ends at byte %llu, inside its bitmap (%llu bytes at offset %llu)",
			   (unsigned long long)file_size,
			   (unsigned long long)g.bitmap_len,
			   (unsigned long long)g.bitmap_offset);
		return -1;
	}

	*stage = STAGE_OK;
	memset(out, 0, sizeof(*out));
	out->layout = l;
	out->layout_name = l->name;
	out->order = o;
	out->version = version;
	memcpy(out->backing_file, path, (size_t)(nul - path) + 1);
	out->mtime = mtime;
	out->size = size;
	out->sector_size = ss;
	switch (l->geom) {
	case COW_GEOM_V3:
		out->alignment = align;
		break;
	case COW_GEOM_QEMU:
		out->alignment = 512;
		break;
	case COW_GEOM_OLD:
		out->alignment = ss;
		break;
	}
	out->bitmap_offset = g.bitmap_offset;
	out->bitmap_len = g.bitmap_len;
	out->bitmap_span = g.bitmap_span;
	out->data_offset = g.data_offset;
	out->data_end = g.data_end;
	out->nr_sectors = g.nr_sectors;
	out->tracked_sectors = g.tracked_sectors;
	out->file_size = file_size;
	out->flags = g.flags;
	/* UML extends a new file to data_offset + size; QEMU does not. */
	if (file_size - g.data_offset < (l->geom == COW_GEOM_QEMU ?
					 g.nr_sectors * 512 : size) ||
	    file_size < g.data_offset)
		out->flags |= COW_F_FILE_SHORT;
	return 0;
}

int cow_parse_layout(const uint8_t *buf, size_t len, uint64_t file_size,
		     const struct cow_layout *l, int order,
		     struct cow_info *out, struct cow_err *err)
{
	enum stage st;

	return parse(buf, len, file_size, l, order, out, &st, err);
}

static void append(char *s, size_t n, const char *fmt, const char *a,
		   const char *b)
{
	size_t used = strlen(s);

	if (used < n)
		snprintf(s + used, n - used, fmt, a, b);
}

/*
 * cow_detect() with the verdict of every layout in @errs and @stages (one
 * each per layout: a struct cow_err is 11 KiB, too much for a stack frame
 * times the layouts).
 */
static int detect(const uint8_t *buf, size_t len, uint64_t file_size,
		  cow_size_lookup_fn backing_size, void *ctx,
		  struct cow_info *out, char *why, size_t whylen,
		  struct cow_err *err, struct cow_err *errs,
		  enum stage *stages)
{
	struct cow_info cand;
	enum stage best = STAGE_MAGIC;
	size_t i, nr_ok = 0, first_ok = 0, nr_hdr_ok = 0;
	struct cow_info only_hdr_ok;
	char list[sizeof(err->msg)] = "";
	char rejected[sizeof(err->msg)] = "";

	for (i = 0; i < cow_nr_layouts; i++) {
		const struct cow_layout *l = &cow_layouts[i];
		uint64_t bsize;

		if (parse(buf, len, file_size, l, -1, &cand, &stages[i],
			  &errs[i]) == 0 && nr_hdr_ok++ == 0)
			only_hdr_ok = cand;
		if (stages[i] == STAGE_OK &&
		    backing_size && backing_size(ctx, &cand, &bsize) == 0 &&
		    bsize != cand.size) {
			cow_seterr(&errs[i], "size %llu differs from the backing file's %llu",
				   (unsigned long long)cand.size,
				   (unsigned long long)bsize);
			stages[i] = STAGE_BODY;
		}
		if (stages[i] > best)
			best = stages[i];
		if (stages[i] == STAGE_OK) {
			if (nr_ok++ == 0) {
				first_ok = i;
				*out = cand;
			}
			append(list, sizeof(list), "%s%s", nr_ok > 1 ? ", " : "",
			       l->name);
		}
	}

	if (nr_ok == 1) {
		for (i = 0; i < cow_nr_layouts; i++)
			if (stages[i] == STAGE_BODY ||
			    stages[i] == STAGE_TRUNCATED)
				append(rejected, sizeof(rejected), "; not %s: %s",
				       cow_layouts[i].name, errs[i].msg);
		if (why)
			snprintf(why, whylen, "version %u, %s-endian magic: the only layout that fits%s",
				 out->version,
				 out->order == COW_BE ? "big" : "little",
				 rejected);
		(void)first_ok;
		return 0;
	}
	if (nr_ok == 0 && nr_hdr_ok == 1) {
		/*
		 * The backing file's size only tells candidates apart: one
		 * header that fits is this file's, and the size mismatch is
		 * the backing file's problem, reported by whoever checks it.
		 */
		*out = only_hdr_ok;
		if (why)
			snprintf(why, whylen, "version %u, %s-endian magic: the only layout that fits (its size differs from the backing file's)",
				 out->version,
				 out->order == COW_BE ? "big" : "little");
		return 0;
	}
	if (nr_ok > 1) {
		cow_seterr(err, "the header fits more than one layout (%s); choose one with --layout NAME",
			   list);
		err->kind = COW_ERR_AMBIGUOUS;
		return -1;
	}
	if (best == STAGE_MAGIC) {
		*err = errs[0];
		return -1;
	}
	if (best == STAGE_VERSION) {
		enum cow_byte_order o = get_u32(buf, COW_BE) == COW_MAGIC ?
					COW_BE : COW_LE;

		if (len < 8 || file_size < 8)
			*err = errs[0];
		else if (o == COW_LE && (get_u32(buf + 4, COW_BE) == 2 ||
					 get_u32(buf + 4, COW_BE) == 3))
			cow_seterr(err, "little-endian magic on a version %u header: only v1 was written little-endian",
				   get_u32(buf + 4, COW_BE));
		else
			cow_seterr(err, "unsupported COW version %u (known: 1, 2 and 3)",
				   get_u32(buf + 4, o));
		return -1;
	}
	if (best == STAGE_TRUNCATED) {
		/* Headers that are sane but cut off: say so, not "no fit". */
		for (i = 0; i < cow_nr_layouts; i++) {
			if (stages[i] != STAGE_TRUNCATED)
				continue;
			append(list, sizeof(list), "%s%s", list[0] ? ", " : "",
			       cow_layouts[i].name);
		}
		for (i = 0; stages[i] != STAGE_TRUNCATED; i++)
			;
		cow_seterr(err, "%s (as %s)", errs[i].msg, list);
		return -1;
	}
	for (i = 0; i < cow_nr_layouts; i++) {
		if (stages[i] != STAGE_BODY)
			continue;
		append(list, sizeof(list), "%s%s", list[0] ? "; " : "",
		       cow_layouts[i].name);
		append(list, sizeof(list), ": %s%s", errs[i].msg, "");
	}
	cow_seterr(err, "no layout fits the header%s", verbose_hint);
	cow_setdetail(err, "%s", list);
	return -1;
}

int cow_detect(const uint8_t *buf, size_t len, uint64_t file_size,
	       cow_size_lookup_fn backing_size, void *ctx,
	       struct cow_info *out, char *why, size_t whylen,
	       struct cow_err *err)
{
	struct cow_err *errs = calloc(cow_nr_layouts, sizeof(*errs));
	enum stage *stages = calloc(cow_nr_layouts, sizeof(*stages));
	int ret = -1;

	if (errs && stages)
		ret = detect(buf, len, file_size, backing_size, ctx, out, why,
			     whylen, err, errs, stages);
	else
		cow_seterr(err, "out of memory");
	free(stages);
	free(errs);
	return ret;
}
