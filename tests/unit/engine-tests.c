// SPDX-License-Identifier: GPL-2.0
/*
 * engine-tests - the user-space engine (lib/engine.c) against a model: a
 * plain byte array that every request is applied to as well. After each
 * step the engine must read back the model; after a flush a new engine on
 * the same files, and cow_merge(), must too. Injected faults check the
 * order of the write-back (data synced before the bits that mark it) and
 * that a failed write-back keeps its blocks dirty.
 *
 * Built with -fsanitize=address,undefined by `make -C tools unit`. Prints
 * one line per check and "N passed, N failed"; exits 1 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"
#include "engine.h"
#include "check.h"

static char tmpdir[] = "/tmp/umlcow-engine.XXXXXX";

static char *path(const char *name)
{
	return unit_path(tmpdir, name);
}

/* A small deterministic generator: the same run every time. */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(uint64_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? rng_state % n : 0;
}

static void fill(uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)rnd(256);
}

/* ---- fault injection and the order of the system calls ----------------- */

enum ev_kind { EV_DATA, EV_BITMAP, EV_SYNC };

static struct {
	uint64_t data_offset;	/* writes below it are bitmap writes */
	int fail_sync;		/* fail the next N fdatasync calls */
	int fail_bitmap;	/* fail the next N bitmap writes */
	enum ev_kind ev[4096];
	int nev;
	pthread_mutex_t mu;
} inj = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void record(enum ev_kind k)
{
	pthread_mutex_lock(&inj.mu);
	if (inj.nev < 4096)
		inj.ev[inj.nev++] = k;
	pthread_mutex_unlock(&inj.mu);
}

static ssize_t inj_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	bool bitmap = (uint64_t)off < inj.data_offset;

	if (bitmap && inj.fail_bitmap > 0) {
		inj.fail_bitmap--;
		errno = EIO;
		return -1;
	}
	record(bitmap ? EV_BITMAP : EV_DATA);
	return pwrite(fd, buf, len, off);
}

static int inj_fdatasync(int fd)
{
	if (inj.fail_sync > 0) {
		inj.fail_sync--;
		errno = EIO;
		return -1;
	}
	record(EV_SYNC);
	return fdatasync(fd);
}

static const struct cow_engine_ops inj_ops = { inj_pwrite, inj_fdatasync };

/*
 * The contract on disk: every bitmap write comes after a sync that follows
 * every data write before it. (Zeroing by fallocate is not recorded.)
 */
static bool order_ok(void)
{
	bool data_unsynced = false;
	int i;

	for (i = 0; i < inj.nev; i++) {
		if (inj.ev[i] == EV_DATA)
			data_unsynced = true;
		else if (inj.ev[i] == EV_SYNC)
			data_unsynced = false;
		else if (data_unsynced)
			return false;
	}
	return true;
}

/* ---- a COW file, its backing file, an engine, and the model ------------ */

struct fixture {
	const char *layout;
	uint64_t size;
	char base[256], cow[256];
	struct cow_file cf;
	int bfd;
	struct cow_engine *e;
	uint8_t *model;
};

static int write_backing(const char *p, uint8_t *model, uint64_t size)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	bool ok;

	if (fd < 0)
		return -1;
	fill(model, (size_t)size);
	/* A hole in the middle: the extent map must see it. */
	memset(model + size / 4, 0, (size_t)(size / 4));
	ok = pwrite(fd, model, (size_t)(size / 4), 0) == (ssize_t)(size / 4) &&
	     pwrite(fd, model + size / 2, (size_t)(size - size / 2),
		    (off_t)(size / 2)) == (ssize_t)(size - size / 2);
	return close(fd) || !ok ? -1 : 0;
}

static int engine_up(struct fixture *f, bool read_only,
		     const struct cow_engine_ops *ops)
{
	struct cow_open_opts oo = { .writable = !read_only };
	struct cow_engine_opts eo = { .read_only = read_only, .ops = ops };
	struct cow_err err;

	if (cow_open(&f->cf, f->cow, &oo, &err)) {
		check(false, "%s: open: %s", f->layout, err.msg);
		return -1;
	}
	f->bfd = open(f->base, O_RDONLY);
	inj.data_offset = f->cf.info.data_offset;
	if (f->bfd < 0 ||
	    cow_engine_open(&f->e, &f->cf, f->bfd, &eo, &err)) {
		check(false, "%s: engine open: %s", f->layout, err.msg);
		cow_close(&f->cf);
		if (f->bfd >= 0)
			close(f->bfd);
		return -1;
	}
	return 0;
}

static void engine_down(struct fixture *f)
{
	cow_engine_free(f->e);
	f->e = NULL;
	cow_close(&f->cf);
	close(f->bfd);
}

static int setup(struct fixture *f, const char *layout, uint64_t size)
{
	struct cow_create_opts co = { .order = -1 };
	struct cow_err err;

	f->layout = layout;
	f->size = size;
	snprintf(f->base, sizeof(f->base), "%s", path("base.img"));
	snprintf(f->cow, sizeof(f->cow), "%s", path("e.cow"));
	unlink(f->cow);
	f->model = malloc((size_t)size);
	co.layout = cow_layout_find(layout, &co.order);
	if (!f->model || write_backing(f->base, f->model, size) ||
	    cow_create(f->cow, f->base, &co, &err)) {
		check(false, "%s: setup: %s", layout, err.msg);
		free(f->model);
		return -1;
	}
	if (engine_up(f, false, &inj_ops)) {
		free(f->model);
		return -1;
	}
	return 0;
}

static void teardown(struct fixture *f)
{
	if (f->e)
		engine_down(f);
	free(f->model);
}

/* Whether the whole image reads back as the model. */
static bool reads_model(struct fixture *f)
{
	uint8_t *buf = malloc((size_t)f->size);
	struct cow_err err;
	bool same;

	same = buf && cow_engine_read(f->e, buf, (size_t)f->size, 0, &err) == 0 &&
	       memcmp(buf, f->model, (size_t)f->size) == 0;
	free(buf);
	return same;
}

/* Whether cow_merge() of the file on disk gives the model. */
static bool merges_to_model(struct fixture *f)
{
	char *out = path("merged.img");
	uint8_t *buf = malloc((size_t)f->size);
	struct cow_err err;
	bool same = false;
	int ofd;

	unlink(out);
	ofd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (ofd >= 0 && buf && cow_merge(&f->cf, f->bfd, ofd, NULL, &err) == 0)
		same = pread(ofd, buf, (size_t)f->size, 0) ==
		       (ssize_t)f->size &&
		       memcmp(buf, f->model, (size_t)f->size) == 0;
	if (ofd >= 0)
		close(ofd);
	free(buf);
	return same;
}

/* One random request, applied to the engine and the model. */
static int random_op(struct fixture *f, int *kind)
{
	uint64_t ss = f->cf.info.sector_size;
	uint64_t off = rnd(4) ? rnd(f->size) : rnd(f->size / ss) * ss;
	uint64_t len = rnd(3) ? 1 + rnd(3 * ss) : 1 + rnd(16 * ss);
	struct cow_err err;
	uint8_t *buf;
	int ret;

	if (len > f->size - off)
		len = f->size - off;
	if (len == 0)
		return 0;
	*kind = (int)rnd(10);
	if (*kind >= 2) {			/* write */
		buf = malloc((size_t)len);
		if (!buf)
			return -ENOMEM;
		fill(buf, (size_t)len);
		ret = cow_engine_write(f->e, buf, (size_t)len, off,
				       rnd(8) == 0, &err);
		if (!ret)
			memcpy(f->model + off, buf, (size_t)len);
		free(buf);
	} else if (*kind == 1) {		/* write-zeroes */
		ret = cow_engine_zero(f->e, (size_t)len, off, false, &err);
		if (!ret)
			memset(f->model + off, 0, (size_t)len);
	} else {				/* discard: whole sectors */
		uint64_t s0 = (off + ss - 1) / ss, end = off + len;
		uint64_t e1 = end == f->size ? end : end - end % ss;

		ret = cow_engine_trim(f->e, (size_t)len, off, false, &err);
		if (!ret && s0 * ss < e1)
			memset(f->model + s0 * ss, 0, (size_t)(e1 - s0 * ss));
	}
	if (ret)
		printf("# request failed: %s\n", err.msg);
	return ret;
}

static void test_random(const char *layout, uint64_t size)
{
	struct fixture f;
	struct cow_err err;
	int i, kind, bad = 0;

	if (setup(&f, layout, size))
		return;
	check(reads_model(&f), "%s size %llu: a new file reads the backing file",
	      layout, (unsigned long long)size);
	inj.nev = 0;
	for (i = 0; i < 400 && !bad; i++) {
		if (random_op(&f, &kind))
			bad = 1;
		else if (i % 50 == 0 && !reads_model(&f))
			bad = 2;
		if (i % 100 == 99 && cow_engine_flush(f.e, &err))
			bad = 3;
	}
	check(!bad && reads_model(&f),
	      "%s size %llu: 400 random writes, zeroes, discards read back (%d)",
	      layout, (unsigned long long)size, bad);
	check(cow_engine_flush(f.e, &err) == 0 &&
	      cow_engine_dirty_blocks(f.e) == 0, "%s: flush cleans every block",
	      layout);
	check(order_ok(), "%s: every bitmap write follows a sync of the data before it",
	      layout);
	check(merges_to_model(&f), "%s: cow_merge() of the file gives the model",
	      layout);
	engine_down(&f);
	if (engine_up(&f, true, NULL) == 0)
		check(reads_model(&f), "%s: a new read-only engine reads the model",
		      layout);
	teardown(&f);
}

/* A failed write-back keeps its blocks dirty; the retry writes them. */
static void test_failed_writeback(void)
{
	struct fixture f;
	struct cow_err err;
	uint8_t sec[512];
	uint64_t dirty;
	int ret;

	if (setup(&f, "v3", 256 * 1024))
		return;
	fill(sec, sizeof(sec));
	memcpy(f.model + 4096 * 8, sec, sizeof(sec));
	check(cow_engine_write(f.e, sec, sizeof(sec), 4096 * 8, false, &err) == 0,
	      "write sector 64");
	dirty = cow_engine_dirty_blocks(f.e);
	inj.fail_sync = 1;
	ret = cow_engine_flush(f.e, &err);
	check(ret == -EIO && cow_engine_dirty_blocks(f.e) == dirty && dirty > 0,
	      "a failed data sync fails the flush, the block stays dirty (%d, %llu)",
	      ret, (unsigned long long)cow_engine_dirty_blocks(f.e));
	inj.fail_bitmap = 1;
	ret = cow_engine_flush(f.e, &err);
	check(ret == -EIO && cow_engine_dirty_blocks(f.e) == dirty,
	      "a failed bitmap write fails the flush, the block stays dirty (%s)",
	      err.msg);
	inj.fail_sync = 0;
	ret = cow_engine_write(f.e, sec, sizeof(sec), 4096 * 8, true, &err);
	check(ret == 0 && cow_engine_dirty_blocks(f.e) == 0,
	      "a FUA overwrite of the same sector writes the block back");
	check(cow_bitmap_test(&f.cf, 64, &err) == 1 && merges_to_model(&f),
	      "the bit is on disk, and the file merges to the model");
	/* FUA to an allocated, clean sector: a data sync, no bitmap write. */
	inj.nev = 0;
	ret = cow_engine_write(f.e, sec, sizeof(sec), 4096 * 8, true, &err);
	check(ret == 0 && inj.nev == 2 && inj.ev[0] == EV_DATA &&
	      inj.ev[1] == EV_SYNC,
	      "a FUA overwrite of a clean allocated sector: data, then one sync (%d events)",
	      inj.nev);
	teardown(&f);
}

/* Discard and write-zeroes read back as zeros and set the bits. */
static void test_zero_sets_bits(void)
{
	struct fixture f;
	struct cow_err err;
	enum cow_extent_kind k;
	uint64_t len;
	int ret;

	if (setup(&f, "v3", 256 * 1024))
		return;
	check(cow_engine_trim(f.e, 8 * 512 + 100, 512 - 100, false, &err) == 0 &&
	      !cow_engine_allocated(f.e, 0) && cow_engine_allocated(f.e, 1) &&
	      cow_engine_allocated(f.e, 8) && !cow_engine_allocated(f.e, 9),
	      "a discard of sectors 1-8 (and two partial ones) sets bits 1-8 only");
	memset(f.model + 512, 0, 8 * 512);
	check(reads_model(&f), "the discarded sectors read as zeros");
	check(cow_engine_zero(f.e, 100, 10 * 512 + 5, false, &err) == 0 &&
	      cow_engine_allocated(f.e, 10), "a partial write-zeroes allocates its sector");
	memset(f.model + 10 * 512 + 5, 0, 100);
	check(reads_model(&f), "and reads back");
	ret = cow_engine_extent(f.e, 512, 64 * 1024, &k, &len, &err);
	/* Data or hole depends on the file system's blocks: only the COW. */
	check(ret == 0 && (k == COW_EXTENT_COW || k == COW_EXTENT_COW_ZERO) &&
	      len > 0 && len <= 8 * 512 && len % 512 == 0,
	      "extent at sector 1: from the COW file, whole sectors, at most 8 (%d, %llu)",
	      (int)k, (unsigned long long)len);
	/* 64 KiB at 32 KiB: whole blocks of the data area (v3: 12288). */
	check(cow_engine_trim(f.e, 64 * 1024, 32 * 1024, false, &err) == 0,
	      "a discard of 64 KiB at 32 KiB");
	memset(f.model + 32 * 1024, 0, 64 * 1024);
	ret = cow_engine_extent(f.e, 32 * 1024, 128 * 1024, &k, &len, &err);
	check(ret == 0 && k == COW_EXTENT_COW_ZERO && len == 64 * 1024,
	      "extent at 32 KiB: COW, zero (a hole), 64 KiB (%d, %llu)",
	      (int)k, (unsigned long long)len);
	check(cow_engine_extent(f.e, 0, 512, &k, &len, &err) == 0 &&
	      k == COW_EXTENT_BACKING && len == 512,
	      "extent at sector 0: backing data");
	/* The backing file's hole is [64 KiB, 128 KiB); 100 KiB is not discarded. */
	ret = cow_engine_extent(f.e, 100 * 1024, 4096, &k, &len, &err);
	check(ret == 0 && k == COW_EXTENT_BACKING_ZERO && len == 4096,
	      "extent in the backing file's hole: backing, zero (%d)", (int)k);
	check(cow_engine_cache(f.e, (size_t)f.size, 0, &err) == 0 &&
	      cow_engine_cache(f.e, 2, f.size - 1, &err) == -EINVAL,
	      "cache: the whole image advised, past the end refused");
	check(cow_engine_flush(f.e, &err) == 0 && merges_to_model(&f),
	      "flushed, the file merges to the model");
	teardown(&f);
}

/* A short v1/v2 bitmap: bits in the padding count; or the file is read-only. */
static void test_short_bitmaps(void)
{
	uint64_t size, n;
	struct fixture f;
	struct cow_err err;
	uint8_t sec[512];
	bool seen_pad = false, seen_ov = false;

	for (n = 1; n < 300 && !seen_pad; n++) {
		struct cow_info *ci;

		size = n * 4096 + 512;
		if (setup(&f, "v1-packed", size))
			return;
		ci = &f.cf.info;
		if ((ci->flags & COW_F_PADDING_BITS) && !seen_pad) {
			seen_pad = true;
			fill(sec, sizeof(sec));
			memcpy(f.model + size - 512, sec, 512);
			check(cow_engine_write(f.e, sec, 512, size - 512, false,
					       &err) == 0 &&
			      cow_engine_flush(f.e, &err) == 0 &&
			      cow_bitmap_test(&f.cf, ci->nr_sectors - 1, &err) == 1 &&
			      reads_model(&f) && merges_to_model(&f),
			      "padding bits (size %llu): the last sector's bit is written past bitmap_len and honoured",
			      (unsigned long long)size);
		}
		teardown(&f);
	}
	for (n = 1; n < 300 && !seen_ov; n++) {
		struct cow_create_opts co = { .order = -1 };
		struct cow_open_opts oo = { .writable = true };
		struct cow_engine_opts eo = { .read_only = false };
		struct cow_engine *e;
		struct cow_file cf;
		uint8_t *m = malloc(n * 4096 + 512);
		int bfd;

		size = n * 4096 + 512;
		unlink(path("ov.cow"));
		co.layout = cow_layout_find("v1-packed", &co.order);
		if (!m || write_backing(path("ov.img"), m, size) ||
		    cow_create(path("ov.cow"), path("ov.img"), &co, &err) ||
		    cow_open(&cf, path("ov.cow"), &oo, &err)) {
			free(m);
			check(false, "overlap setup");
			return;
		}
		free(m);
		if (cf.info.flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA) {
			seen_ov = true;
			bfd = open(path("ov.img"), O_RDONLY);
			check(cow_engine_open(&e, &cf, bfd, &eo, &err) == -1 &&
			      strstr(err.msg, "read-only"),
			      "overlapping short bitmap (size %llu): refused writable: %s",
			      (unsigned long long)size, err.msg);
			eo.read_only = true;
			check(cow_engine_open(&e, &cf, bfd, &eo, &err) == 0 &&
			      !cow_engine_writable(e) &&
			      cow_engine_write(e, sec, 0, 0, false, &err) == -EROFS,
			      "served read-only, writes fail with EROFS");
			cow_engine_free(e);
			close(bfd);
		}
		cow_close(&cf);
	}
	check(seen_pad && seen_ov, "both short-bitmap cases were met");
}

/* Threads writing at once: every bit and every byte arrives. */
struct writer {
	struct fixture *f;
	int id, ret;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct cow_err err;
	uint8_t buf[700];
	int i;

	for (i = 0; i < 200 && !w->ret; i++) {
		/* Thread id owns every 4th 1000-byte slot: partial sectors shared. */
		uint64_t slot = (uint64_t)(i * 4 + w->id) % (w->f->size / 1000);

		memset(buf, w->id + 1 + i, sizeof(buf));
		w->ret = cow_engine_write(w->f->e, buf, sizeof(buf),
					  slot * 1000, i % 17 == 0, &err);
		if (!w->ret)
			memcpy(w->f->model + slot * 1000, buf, sizeof(buf));
		if (i % 50 == 0 && !w->ret)
			w->ret = cow_engine_flush(w->f->e, &err);
	}
	return NULL;
}

static void test_threads(void)
{
	struct fixture f;
	struct writer w[4];
	pthread_t t[4];
	struct cow_err err;
	int i, bad = 0;

	if (setup(&f, "v3", 1024 * 1024))
		return;
	inj.nev = 0;
	for (i = 0; i < 4; i++) {
		w[i] = (struct writer){ &f, i, 0 };
		pthread_create(&t[i], NULL, writer_main, &w[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad |= w[i].ret;
	}
	check(!bad && reads_model(&f),
	      "4 threads, unaligned writes sharing sectors: all read back");
	check(cow_engine_flush(f.e, &err) == 0 && merges_to_model(&f),
	      "flushed, the file merges to the model");
	teardown(&f);
}

static void test_edges(void)
{
	struct fixture f;
	struct cow_err err;
	uint8_t b[2] = { 1, 2 };

	/* A size that is not a whole number of sectors. */
	if (setup(&f, "v3", 64 * 1024 + 1000))
		return;
	check(cow_engine_write(f.e, b, 2, f.size - 1, false, &err) == -EINVAL,
	      "a write past the end is refused: %s", err.msg);
	check(cow_engine_read(f.e, b, 2, f.size - 1, &err) == -EINVAL,
	      "a read past the end is refused");
	check(cow_engine_write(f.e, b, 1, f.size - 1, false, &err) == 0 &&
	      cow_engine_zero(f.e, 10, f.size - 10, false, &err) == 0 &&
	      cow_engine_allocated(f.e, f.cf.info.nr_sectors - 1),
	      "the last, short sector is written and zeroed");
	f.model[f.size - 1] = 1;
	memset(f.model + f.size - 10, 0, 10);
	check(cow_engine_trim(f.e, (size_t)(f.size - 64 * 1024), 64 * 1024,
			      true, &err) == 0,
	      "a FUA discard of the short last sector");
	memset(f.model + 64 * 1024, 0, (size_t)(f.size - 64 * 1024));
	check(reads_model(&f) && merges_to_model(&f),
	      "the image reads back and merges to the model");
	teardown(&f);
}

/* The bit arithmetic against a bit-by-bit model, at random. */
static void test_bits(void)
{
	uint8_t bm[64], model[512];
	bool runs_ok = true, fill_ok = true;
	int round;

	for (round = 0; round < 2000; round++) {
		uint64_t n, end, first, count, i, run;
		bool alloc, v = rnd(2);

		/* Long runs of both kinds beside short ones: words, bytes. */
		fill(bm, sizeof(bm));
		first = rnd(64);
		memset(bm + first, 0, (size_t)rnd(64 - first + 1));
		first = rnd(64);
		memset(bm + first, 0xff, (size_t)rnd(64 - first + 1));
		for (i = 0; i < 512; i++)
			model[i] = (bm[i / 8] >> (i % 8)) & 1;
		n = rnd(511);
		end = n + 1 + rnd(512 - n - 1);
		run = cow_bits_run(bm, n, end, &alloc);
		for (i = n; i < end && model[i] == model[n]; i++)
			;
		if (run != i - n || alloc != model[n])
			runs_ok = false;
		first = rnd(512);
		count = rnd(512 - first + 1);
		cow_bits_fill(bm, first, count, v);
		for (i = 0; i < 512; i++)
			if (cow_bit(bm, i) != (i >= first && i < first + count ?
					       v : model[i]))
				fill_ok = false;
	}
	check(runs_ok, "cow_bits_run() finds the runs a bit-by-bit walk finds");
	check(fill_ok, "cow_bits_fill() sets and clears exactly its range");
}

/*
 * Run iteration, the allocated count and end, the data end and the place of
 * a sector, on a file whose last sector is short: all against the bits set.
 */
static void test_runs(void)
{
	struct fixture f;
	struct cow_err err;
	const struct cow_info *ci;
	uint64_t s, run, total = 0, ss, nr;
	uint8_t *sec;
	bool alloc, ok = true;

	if (setup(&f, "v3", 64 * 1024 + 1000))
		return;
	ci = &f.cf.info;
	ss = ci->sector_size;
	nr = ci->nr_sectors;
	check(cow_sector_pos(ci, 3) == ci->data_offset + 3 * ss &&
	      cow_engine_cow_pos(f.e, 3 * ss + 7) == ci->data_offset + 3 * ss + 7 &&
	      cow_sectors_end_pos(ci, nr) == ci->data_offset + ci->size &&
	      cow_sectors_end_pos(ci, 2) == ci->data_offset + 2 * ss,
	      "a sector's place in the COW file; the short last one ends with the image");
	check(cow_engine_alloc_count(f.e) == 0 && cow_engine_alloc_end(f.e) == 0 &&
	      cow_engine_data_end(f.e) == 0 &&
	      cow_engine_data_check(f.e, &err) == 0,
	      "an empty file: nothing allocated, no data end, whole");
	sec = calloc(1, (size_t)ss * 70);
	check(sec && cow_engine_write(f.e, sec, ss * 70, 10 * ss, false, &err) == 0 &&
	      cow_engine_write(f.e, sec, ss, 100 * ss, false, &err) == 0,
	      "write sectors 10-79 and 100");
	for (s = 0; s < nr; s += run) {
		run = cow_engine_run(f.e, s, nr - s, &alloc);
		if (run == 0 || alloc != (s >= 10 && s < 80) + (s == 100))
			ok = false;
		if (alloc)
			total += run;
	}
	check(ok && total == 71, "run iteration: the runs written, and nothing else");
	check(cow_engine_run(f.e, 20, 5, &alloc) == 5 && alloc &&
	      cow_engine_run(f.e, 80, nr - 80, &alloc) == 20 && !alloc,
	      "a run stops at its @max and at the next bit that differs");
	check(cow_engine_run_bytes(f.e, 10 * ss + 3, 1000000, &alloc) ==
	      70 * ss - 3 && alloc &&
	      cow_engine_run_bytes(f.e, 0, 100, &alloc) == 100 && !alloc,
	      "a run in bytes ends on a sector boundary or at its length");
	check(cow_engine_alloc_count(f.e) == 71 &&
	      cow_engine_alloc_end(f.e) == 101 &&
	      cow_engine_data_end(f.e) == ci->data_offset + 101 * ss,
	      "71 allocated, the last ends at sector 101");
	check(cow_engine_write(f.e, sec, 1000 % ss, f.size - 1000 % ss, false,
			       &err) == 0 &&
	      cow_engine_alloc_end(f.e) == nr &&
	      cow_engine_data_end(f.e) == ci->data_offset + f.size,
	      "the short last sector: the data ends with the image");
	check(ftruncate(f.cf.fd, (off_t)(ci->data_offset + 50 * ss)) == 0 &&
	      cow_engine_data_check(f.e, &err) != 0 &&
	      err.kind == COW_ERR_INVALID,
	      "a data area cut short is refused: %s", err.msg);
	free(sec);
	teardown(&f);
}

/* A bitmap that is a hole of the file is not read, and reads as clear. */
static void test_sparse_bitmap(void)
{
	struct fixture f;
	struct cow_err err;
	uint8_t sec[512] = { 7 };
	uint64_t n, bo;
	int fd;

	if (setup(&f, "v3", 8ULL << 20))	/* 2 KiB of bitmap */
		return;
	n = f.cf.info.nr_sectors - 1;
	check(cow_engine_write(f.e, sec, 512, n * 512, false, &err) == 0 &&
	      cow_engine_flush(f.e, &err) == 0, "write and flush the last sector");
	bo = f.cf.info.bitmap_offset;
	engine_down(&f);
	/* Punch the bitmap's first KiB: a hole, which must read as zeros. */
	fd = open(f.cow, O_RDWR);
	check(fd >= 0 && fallocate(fd, FALLOC_FL_PUNCH_HOLE |
				   FALLOC_FL_KEEP_SIZE, (off_t)bo, 1024) == 0,
	      "punch the bitmap's first KiB");
	if (fd >= 0)
		close(fd);
	if (engine_up(&f, true, NULL))
		return;
	check(cow_engine_alloc_count(f.e) == 1 && cow_engine_allocated(f.e, n) &&
	      cow_engine_alloc_end(f.e) == n + 1,
	      "a bitmap with a hole loads: the one bit past it is there");
	teardown(&f);
}

int main(void)
{
	static const char *const layouts[] = {
		"v1-packed-le", "v1-x86_64-be", "v2-packed", "v2-x86_64",
		"qemu-x86_64", "qemu-i386", "v3", "v3-broken",
	};
	size_t i;
	char cmd[300];

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
		test_random(layouts[i], 192 * 1024 + (i % 2 ? 512 : 0));
	test_failed_writeback();
	test_zero_sets_bits();
	test_short_bitmaps();
	test_threads();
	test_edges();
	test_bits();
	test_runs();
	test_sparse_bitmap();

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
	printf("%d passed, %d failed\n", checks - failures, failures);
	return failures ? 1 : 0;
}
