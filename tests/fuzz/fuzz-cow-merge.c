// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz-cow-merge - the slow libFuzzer target for the COW format library:
 * check, merge and convert (upgrade), the whole-file operations.
 *
 * The input is a whole COW file. When a layout is detected, the file is
 * read from a memfd and checked; images of at most MAX_MERGE bytes are
 * then merged over a recognisable backing file (each sector filled with its
 * number), and upgraded to v3 (cow_convert() writes a file: /dev/shm): the
 * copy must count the same allocated sectors and merge to the same image,
 * byte for byte. The memfds are made once per process and reused.
 *
 * fuzz-cow.c is the fast target (parse, detect, table, bitmap walk, status).
 * Build and run: make -C tools fuzz FUZZ_TIME=600 (see README.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowfmt.h"
#include "fuzz-common.h"

#define MAX_MERGE (16U * 1024)

static int in_fd = -1, backing_fd = -1, out_fd[2] = { -1, -1 };

/* Merge @cf over backing_fd into out_fd[@i]; returns it or -1. */
static int merged(const struct cow_file *cf, int i)
{
	struct cow_err err;
	int ofd = fuzz_memfd(&out_fd[i], NULL, 0);

	if (ofd < 0 || cow_merge(cf, backing_fd, ofd, NULL, &err))
		return -1;
	if (lseek(ofd, 0, SEEK_END) != (off_t)cf->info.size)
		abort();
	return ofd;
}

static bool same_contents(int a, int b, uint64_t size)
{
	static uint8_t x[MAX_MERGE], y[MAX_MERGE];
	struct cow_err err;

	return cow_pread_full(a, x, (size_t)size, 0, &err) == 0 &&
	       cow_pread_full(b, y, (size_t)size, 0, &err) == 0 &&
	       memcmp(x, y, (size_t)size) == 0;
}

/* merge, then upgrade to v3: the same allocation, the same image. */
static void merge_and_upgrade(struct cow_file *cf, uint64_t alloc)
{
	static uint8_t img[MAX_MERGE];
	static char path[64];
	struct cow_create_opts co = { .order = -1 };
	struct cow_open_opts oo = { .layout = "v3" };
	struct cow_file v3;
	struct cow_err err;
	uint64_t alloc3, s;
	int out1, out2;

	/* a recognisable backing image: byte i is i / 512 */
	for (s = 0; s * 512 < cf->info.size; s++)
		memset(img + s * 512, (int)(s & 0xff),
		       cf->info.size - s * 512 < 512 ?
		       (size_t)(cf->info.size - s * 512) : 512);
	if (fuzz_memfd(&backing_fd, img, (size_t)cf->info.size) < 0)
		return;
	out1 = merged(cf, 0);
	if (out1 < 0)
		return;

	if (!path[0])
		snprintf(path, sizeof(path), "/dev/shm/fuzz-cow-%d.cow",
			 (int)getpid());
	unlink(path);
	if (cow_convert(cf, path, &co, NULL, &err))
		return;
	if (cow_open(&v3, path, &oo, &err))
		abort();
	unlink(path);
	if (cow_bitmap_count(&v3, &alloc3, &err) || alloc3 != alloc)
		abort();
	out2 = merged(&v3, 1);
	if (out2 < 0 || !same_contents(out1, out2, cf->info.size))
		abort();
	cow_close(&v3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cow_info ci;
	static struct cow_err err;
	struct cow_file cf;
	uint64_t n;

	if (cow_detect(data, size, size, NULL, NULL, &ci, NULL, 0, &err))
		return 0;
	fuzz_invariants(&ci, size);
	if (fuzz_file(&cf, &in_fd, data, size, &ci))
		return 0;
	cow_check(&cf, NULL, "no backing", false, NULL, NULL, &err);
	if (cow_bitmap_count(&cf, &n, &err))
		abort();
	if (n > ci.tracked_sectors)
		abort();
	if (ci.size <= MAX_MERGE)
		merge_and_upgrade(&cf, n);
	return 0;
}
