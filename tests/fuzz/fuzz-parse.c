// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz-parse - libFuzzer target for the COW header parser.
 *
 * The input is a whole COW file. It is detected and parsed as every layout;
 * each accepted parse must describe a geometry inside the file, and is then
 * opened from a memfd and walked (bitmap scan, check) the way the CLI does.
 * Build and run: make -C tools fuzz FUZZ_TIME=600 (see README).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cowfmt.h"

static void invariants(const struct cow_info *ci, size_t size)
{
	if (ci->bitmap_offset + ci->bitmap_len > size ||
	    ci->data_offset < ci->bitmap_offset + ci->bitmap_len ||
	    ci->data_offset % 512 || ci->sector_size < 512 ||
	    (ci->sector_size & (ci->sector_size - 1)) ||
	    ci->nr_sectors == 0 || ci->bitmap_span * 8 < ci->nr_sectors ||
	    ci->bitmap_span > ci->bitmap_len + 1 ||
	    ci->data_end > (uint64_t)INT64_MAX ||
	    strlen(ci->backing_file) == 0)
		abort();
}

static int count_run(void *ctx, uint64_t first, uint64_t count)
{
	const struct cow_info *ci = ctx;

	if (count == 0 || first + count > ci->nr_sectors)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cow_info ci;
	struct cow_err err;
	size_t i;
	int fd;

	for (i = 0; i < cow_nr_layouts; i++)
		if (cow_parse_layout(data, size, size, &cow_layouts[i], -1, &ci,
				     &err) == 0)
			invariants(&ci, size);
	if (cow_detect(data, size, size, NULL, NULL, &ci, NULL, 0, &err))
		return 0;
	invariants(&ci, size);

	fd = memfd_create("fuzz-cow", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size) {
		struct cow_file cf = { .fd = fd, .info = ci };
		uint64_t n;

		strcpy(cf.why, "fuzz");
		if (cow_bitmap_scan(&cf, count_run, &ci, &err) == 0 &&
		    cow_bitmap_count(&cf, &n, &err) == 0 && n > ci.nr_sectors)
			abort();
		cow_check(&cf, NULL, "no backing", false, NULL, NULL, &err);
	}
	close(fd);
	return 0;
}
