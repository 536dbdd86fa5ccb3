// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz-cow - libFuzzer target for the COW format library: the header
 * parser, the bitmap walk, check, merge, convert (upgrade) and the mapping
 * plan with its table line.
 *
 * The input is a whole COW file. It is detected and parsed as every layout;
 * each accepted parse must describe a geometry inside the file, and is then
 * opened from a memfd and walked (bitmap scan, check) the way the CLI does.
 * The table generator must plan a mapping that covers every whole sector
 * and never lets a writable bitmap reach the data area. For images of at
 * most MAX_MERGE bytes, the file is merged over a zero backing file, and
 * upgraded to v3: the copy must count the same allocated sectors and
 * merge to the same image. The input, as text, is also given to the
 * parser of the target's status line.
 * Build and run: make -C tools fuzz FUZZ_TIME=600 (see README.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cowfmt.h"

#define MAX_MERGE (16U * 1024)

static void invariants(const struct cow_info *ci, size_t size)
{
	if (ci->bitmap_offset + ci->bitmap_len > size ||
	    ci->data_offset < ci->bitmap_offset + ci->bitmap_len ||
	    ci->data_offset % 512 || ci->sector_size < 512 ||
	    (ci->sector_size & (ci->sector_size - 1)) ||
	    ci->nr_sectors == 0 || ci->bitmap_span * 8 < ci->nr_sectors ||
	    ci->bitmap_span > ci->bitmap_len + 1 ||
	    ci->tracked_sectors > ci->nr_sectors ||
	    (ci->tracked_sectors > ci->bitmap_len * 8 &&
	     ci->bitmap_offset + ci->bitmap_span > ci->data_offset) ||
	    ci->data_end > (uint64_t)INT64_MAX ||
	    strlen(ci->backing_file) == 0)
		abort();
}

static int count_run(void *ctx, uint64_t first, uint64_t count)
{
	const struct cow_info *ci = ctx;

	if (count == 0 || first + count > ci->tracked_sectors)
		abort();
	return 0;
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

static int memfd_of(const void *data, size_t size)
{
	int fd = memfd_create("fuzz-cow", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Merge @cf over @bfd into a new memfd; returns it or -1. */
static int merged(const struct cow_file *cf, int bfd)
{
	struct cow_err err;
	int ofd = memfd_create("fuzz-out", MFD_CLOEXEC);

	if (ofd < 0)
		return -1;
	if (cow_merge(cf, bfd, ofd, NULL, &err)) {
		close(ofd);
		return -1;
	}
	if (lseek(ofd, 0, SEEK_END) != (off_t)cf->info.size)
		abort();
	return ofd;
}

static bool same_contents(int a, int b, uint64_t size)
{
	static uint8_t x[65536], y[65536];
	struct cow_err err;
	uint64_t off;

	for (off = 0; off < size; off += sizeof(x)) {
		size_t n = size - off < sizeof(x) ? (size_t)(size - off) :
			   sizeof(x);

		if (cow_pread_full(a, x, n, off, &err) ||
		    cow_pread_full(b, y, n, off, &err))
			return false;
		if (memcmp(x, y, n))
			return false;
	}
	return true;
}

/* merge, then upgrade to v3: the same allocation, the same image. */
static void merge_and_upgrade(struct cow_file *cf, uint64_t alloc)
{
	static char path[64];
	struct cow_create_opts co = { .order = -1 };
	struct cow_open_opts oo = { .layout = "v3" };
	struct cow_file v3;
	struct cow_err err;
	uint64_t alloc3;
	int bfd, out1 = -1, out2 = -1;

	if (cf->info.size > MAX_MERGE)
		return;
	bfd = memfd_create("fuzz-backing", MFD_CLOEXEC);
	if (bfd < 0)
		return;
	if (ftruncate(bfd, (off_t)cf->info.size) < 0)
		goto out;
	/* a recognisable backing image: byte i is i / 512 */
	for (uint64_t s = 0; s * 512 < cf->info.size; s++) {
		uint8_t sec[512];

		memset(sec, (int)(s & 0xff), sizeof(sec));
		if (cow_pwrite_full(bfd, sec, cf->info.size - s * 512 < 512 ?
				    (size_t)(cf->info.size - s * 512) : 512,
				    s * 512, &err))
			goto out;
	}
	out1 = merged(cf, bfd);
	if (out1 < 0)
		goto out;

	if (!path[0])
		snprintf(path, sizeof(path), "/dev/shm/fuzz-cow-%d.cow",
			 (int)getpid());
	unlink(path);
	if (cow_convert(cf, path, &co, NULL, &err))
		goto out;
	if (cow_open(&v3, path, &oo, &err))
		abort();
	if (cow_bitmap_count(&v3, &alloc3, &err) || alloc3 != alloc)
		abort();
	out2 = merged(&v3, bfd);
	if (out2 < 0 || !same_contents(out1, out2, cf->info.size))
		abort();
	cow_close(&v3);
out:
	unlink(path);
	if (out2 >= 0)
		close(out2);
	if (out1 >= 0)
		close(out1);
	close(bfd);
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
	size_t i;
	int fd;

	if (size)
		status_line(data, size);

	for (i = 0; i < cow_nr_layouts; i++)
		if (cow_parse_layout(data, size, size, &cow_layouts[i], -1, &ci,
				     &err) == 0) {
			invariants(&ci, size);
			table(&ci);
		}
	if (cow_detect(data, size, size, NULL, NULL, &ci, NULL, 0, &err))
		return 0;
	invariants(&ci, size);

	fd = memfd_of(data, size);
	if (fd >= 0) {
		struct cow_file cf = { .fd = fd, .info = ci };
		uint64_t n;

		strcpy(cf.why, "fuzz");
		if (cow_bitmap_scan(&cf, count_run, &ci, &err) == 0 &&
		    cow_bitmap_count(&cf, &n, &err) == 0) {
			if (n > ci.tracked_sectors)
				abort();
			merge_and_upgrade(&cf, n);
		}
		cow_check(&cf, NULL, "no backing", false, NULL, NULL, &err);
		close(fd);
	}
	return 0;
}
