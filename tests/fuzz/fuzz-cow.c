// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz-cow - the fast libFuzzer target for the COW format library: the
 * header parser of every layout, detection, the table generator, the
 * bitmap walk and the parser of the target's status line. Everything
 * happens in memory but the bitmap walk, which reads the input through one
 * memfd per process (rewritten for each input).
 *
 * The input is a whole COW file. Each accepted parse must describe a
 * geometry inside the file; the table generator must plan a mapping that
 * covers every whole sector and never lets a writable bitmap reach the
 * data area, and write a line that parses back to the same numbers. The
 * detected file's bitmap is scanned and counted. The input, as text, is
 * also given to the parser of the status line.
 *
 * fuzz-cow-merge.c is the slow target (check, merge, upgrade).
 * Build and run: make -C tools fuzz FUZZ_TIME=600 (see README.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowfmt.h"
#include "fuzz-common.h"

static int count_run(void *ctx, uint64_t first, uint64_t count)
{
	uint64_t *r = ctx;	/* tracked_sectors, first free, sum */

	/* runs are in order, maximal, and below tracked_sectors */
	if (count == 0 || first < r[1] || first + count > r[0])
		abort();
	r[1] = first + count + 1;
	r[2] += count;
	return 0;
}

/*
 * The allocated sectors counted straight from the input: bits below
 * tracked_sectors, from bitmap_offset; bytes past the end read as zero.
 */
static uint64_t bits_in(const uint8_t *data, size_t size,
			const struct cow_info *ci)
{
	uint64_t s, n = 0;

	for (s = 0; s < ci->tracked_sectors; s++) {
		uint64_t at = ci->bitmap_offset + s / 8;

		if (at < size)
			n += (data[at] >> (s % 8)) & 1;
	}
	return n;
}

/* The table generator: what it maps and the line it writes. */
static void table(const struct cow_info *ci)
{
	struct cow_map_features f = { .no_discard = true,
				      .commit_interval_set = true,
				      .commit_interval = 5000 };
	struct cow_map_plan p;
	struct cow_err err;
	unsigned long long bo, dofs, nr;
	unsigned int ss;
	char buf[256], tail[64];
	uint64_t per;

	if (cow_map_plan(ci, 512, &p, &err))
		return;
	per = p.sector_size / 512;
	if (p.len + p.tail_len != ci->size / ci->sector_size * per ||
	    p.len != p.nr_sectors * per || p.nr_sectors == 0 ||
	    p.nr_sectors > ci->tracked_sectors ||
	    p.read_only != (p.tail_len != 0) ||
	    p.cow_need > ci->data_end)
		abort();
	/* a writable mapping's bitmap blocks never reach the data area */
	if (!p.read_only && p.nr_sectors > ci->bitmap_len * 8 &&
	    (ci->bitmap_offset + (p.nr_sectors + 7) / 8 + 511) / 512 * 512 >
	    ci->data_offset)
		abort();
	if (cow_map_params(&p, "7:0", "7:1", &f, buf, sizeof(buf), &err) ||
	    cow_map_tail_params(&p, "7:1", tail, sizeof(tail), &err))
		abort();
	if (sscanf(buf, "7:0 7:1 %llu %llu %u %llu", &bo, &dofs, &ss, &nr) != 4 ||
	    bo != ci->bitmap_offset || dofs != ci->data_offset ||
	    ss != ci->sector_size || nr != p.nr_sectors)
		abort();
	if (cow_map_params(&p, "a b", "7:1", &f, buf, sizeof(buf), &err) == 0)
		abort();
}

/* The target's status line parser, on the input as a string. */
static void status_line(const uint8_t *data, size_t size)
{
	struct cow_map_status st;
	char line[128];
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;

	memcpy(line, data, n);
	line[n] = '\0';
	if (cow_map_parse_status(line, data[0] & 1, &st) == 0 &&
	    (st.allocated > st.total || !st.mode[0] || !st.access[0]))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cow_info ci;
	static struct cow_err err;
	static int mfd = -1;
	struct cow_file cf;
	uint64_t n, runs[3];
	size_t i;

	if (size)
		status_line(data, size);

	for (i = 0; i < cow_nr_layouts; i++)
		if (cow_parse_layout(data, size, size, &cow_layouts[i], -1, &ci,
				     &err) == 0) {
			fuzz_invariants(&ci, size);
			table(&ci);
		}
	if (cow_detect(data, size, size, NULL, NULL, &ci, NULL, 0, &err))
		return 0;
	fuzz_invariants(&ci, size);

	if (fuzz_file(&cf, &mfd, data, size, &ci))
		return 0;
	runs[0] = ci.tracked_sectors;
	runs[1] = runs[2] = 0;
	/* the scan and the count find the bits that are in the input */
	if (cow_bitmap_scan(&cf, count_run, runs, &err) ||
	    cow_bitmap_count(&cf, &n, &err) || n != runs[2] ||
	    n != bits_in(data, size, &ci))
		abort();
	return 0;
}
