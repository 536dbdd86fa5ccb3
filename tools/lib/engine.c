// SPDX-License-Identifier: GPL-2.0
/*
 * engine.c - a COW file served as a block device in user space (engine.h).
 *
 * Locks, always taken in this order:
 *   commit_mu  one write-back at a time (a flush waits for the one running,
 *              then writes back what it left);
 *   rmw_mu     read-modify-write of a partial sector whose bit is clear
 *              (two such writes to one sector must not both copy the
 *              backing sector);
 *   mu         the in-memory bitmap, the dirty map and `committing'; held
 *              only for memory work, never across I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine.h"

struct cow_engine {
	const struct cow_file *cf;
	const struct cow_info *ci;
	int backing_fd;
	uint64_t ss;			/* sector size */
	bool writable;
	struct cow_engine_ops ops;

	pthread_mutex_t commit_mu, rmw_mu, mu;
	uint8_t *bm;			/* bitmap_span bytes, as on disk */
	size_t bm_len;			/* its mapping's length */
	uint64_t wb_len;		/* bytes that hold tracked bits */
	uint64_t blk0;			/* file offset of dirty block 0 */
	uint64_t nblocks;
	uint8_t *dirty;			/* one bit per block */
	uint64_t ndirty;
	bool committing;		/* a write-back holds copies */
};

static ssize_t sys_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	return pwrite(fd, buf, len, off);
}

static const struct cow_engine_ops sys_ops = { sys_pwrite, fdatasync };

/* ---- the format's arithmetic ------------------------------------------ */

uint64_t cow_sector_pos(const struct cow_info *ci, uint64_t n)
{
	return ci->data_offset + n * ci->sector_size;
}

uint64_t cow_sectors_end_pos(const struct cow_info *ci, uint64_t n)
{
	/* The image's short last sector ends with the image. */
	return n * ci->sector_size > ci->size ? ci->data_offset + ci->size :
	       cow_sector_pos(ci, n);
}

bool cow_bit(const uint8_t *bm, uint64_t n)
{
	return (bm[n / 8] >> (n % 8)) & 1;
}

/* Whether the 64 bits from @n (a multiple of 64) are all @value. */
static bool word_is(const uint8_t *bm, uint64_t n, bool value)
{
	uint64_t w;

	memcpy(&w, bm + n / 8, sizeof(w));
	return w == (value ? UINT64_MAX : 0);
}

uint64_t cow_bits_run(const uint8_t *bm, uint64_t n, uint64_t end,
		      bool *alloc)
{
	uint64_t s = n + 1;

	*alloc = cow_bit(bm, n);
	while (s < end) {
		if (s % 64 == 0 && end - s >= 64 && word_is(bm, s, *alloc)) {
			s += 64;
			continue;
		}
		if (s % 8 == 0 && end - s >= 8 &&
		    bm[s / 8] == (*alloc ? 0xff : 0)) {
			s += 8;
			continue;
		}
		if (cow_bit(bm, s) != *alloc)
			break;
		s++;
	}
	return s - n;
}

void cow_bits_fill(uint8_t *bm, uint64_t first, uint64_t count, bool value)
{
	uint64_t n = first, end = first + count;

	while (n < end) {
		if (n % 8 == 0 && end - n >= 8) {
			uint64_t bytes = (end - n) / 8;

			memset(bm + n / 8, value ? 0xff : 0, (size_t)bytes);
			n += bytes * 8;
			continue;
		}
		if (value)
			bm[n / 8] |= (uint8_t)(1U << (n % 8));
		else
			bm[n / 8] &= (uint8_t)~(1U << (n % 8));
		n++;
	}
}

/* ---- the bitmap in memory (callers hold mu) --------------------------- */

static bool bit(const struct cow_engine *e, uint64_t n)
{
	return n < e->ci->tracked_sectors && cow_bit(e->bm, n);
}

static uint64_t block_of_byte(const struct cow_engine *e, uint64_t b)
{
	return (e->ci->bitmap_offset + b - e->blk0) / COW_ENGINE_BLOCK;
}

static bool is_dirty(const struct cow_engine *e, uint64_t blk)
{
	return (e->dirty[blk / 8] >> (blk % 8)) & 1;
}

static void mark_dirty(struct cow_engine *e, uint64_t blk)
{
	if (is_dirty(e, blk))
		return;
	e->dirty[blk / 8] |= (uint8_t)(1U << (blk % 8));
	e->ndirty++;
}

static void clear_dirty(struct cow_engine *e, uint64_t blk)
{
	if (!is_dirty(e, blk))
		return;
	e->dirty[blk / 8] &= (uint8_t)~(1U << (blk % 8));
	e->ndirty--;
}

/*
 * The run of equal bits from sector @n, at most @max sectors long: its
 * value in *@alloc, its length returned (>= 1).
 */
static uint64_t __run(const struct cow_engine *e, uint64_t n, uint64_t max,
		      bool *alloc)
{
	uint64_t end = n + max;

	if (n >= e->ci->tracked_sectors) {	/* never allocated */
		*alloc = false;
		return max;
	}
	if (end > e->ci->tracked_sectors)
		end = e->ci->tracked_sectors;
	return cow_bits_run(e->bm, n, end, alloc);
}

/*
 * Set the bits of [@first, @first + @count), dirtying the blocks of those
 * that were clear; returns how many were.
 */
static uint64_t __set_bits(struct cow_engine *e, uint64_t first,
			   uint64_t count)
{
	uint64_t n = first, end = first + count, newly = 0;

	while (n < end) {
		bool set;
		uint64_t run = cow_bits_run(e->bm, n, end, &set), b;

		if (!set) {
			cow_bits_fill(e->bm, n, run, true);
			for (b = block_of_byte(e, n / 8);
			     b <= block_of_byte(e, (n + run - 1) / 8); b++)
				mark_dirty(e, b);
			newly += run;
		}
		n += run;
	}
	return newly;
}

static uint64_t run_locked(struct cow_engine *e, uint64_t n, uint64_t max,
			   bool *alloc)
{
	uint64_t r;

	pthread_mutex_lock(&e->mu);
	r = __run(e, n, max, alloc);
	pthread_mutex_unlock(&e->mu);
	return r;
}

static uint64_t set_bits(struct cow_engine *e, uint64_t first, uint64_t count)
{
	uint64_t newly;

	pthread_mutex_lock(&e->mu);
	newly = __set_bits(e, first, count);
	pthread_mutex_unlock(&e->mu);
	return newly;
}

bool cow_engine_allocated(struct cow_engine *e, uint64_t n)
{
	bool b;

	pthread_mutex_lock(&e->mu);
	b = bit(e, n);
	pthread_mutex_unlock(&e->mu);
	return b;
}

uint64_t cow_engine_run(struct cow_engine *e, uint64_t n, uint64_t max,
			bool *alloc)
{
	return run_locked(e, n, max, alloc);
}

uint64_t cow_engine_run_bytes(struct cow_engine *e, uint64_t off,
			      uint64_t len, bool *alloc)
{
	uint64_t ss = e->ss, in = off % ss;
	uint64_t run = run_locked(e, off / ss, (in + len + ss - 1) / ss, alloc);

	return run * ss - in < len ? run * ss - in : len;
}

uint64_t cow_engine_alloc_count(struct cow_engine *e)
{
	uint64_t s, run, count = 0, nr = e->ci->tracked_sectors;
	bool alloc;

	pthread_mutex_lock(&e->mu);
	for (s = 0; s < nr; s += run) {
		run = __run(e, s, nr - s, &alloc);
		if (alloc)
			count += run;
	}
	pthread_mutex_unlock(&e->mu);
	return count;
}

uint64_t cow_engine_alloc_end(struct cow_engine *e)
{
	uint64_t n = e->ci->tracked_sectors;

	pthread_mutex_lock(&e->mu);
	while (n > 0) {
		if (n % 64 == 0 && word_is(e->bm, n - 64, false))
			n -= 64;
		else if (n % 8 == 0 && e->bm[n / 8 - 1] == 0)
			n -= 8;
		else if (!cow_bit(e->bm, n - 1))
			n--;
		else
			break;
	}
	pthread_mutex_unlock(&e->mu);
	return n;
}

uint64_t cow_engine_cow_pos(const struct cow_engine *e, uint64_t off)
{
	return cow_sector_pos(e->ci, off / e->ss) + off % e->ss;
}

uint64_t cow_engine_data_end(struct cow_engine *e)
{
	uint64_t end = cow_engine_alloc_end(e);

	return end ? cow_sectors_end_pos(e->ci, end) : 0;
}

int cow_engine_data_check(struct cow_engine *e, struct cow_err *err)
{
	uint64_t at = cow_engine_data_end(e), fsize;

	if (!at)
		return 0;
	/* The size now, not at open: written sectors may have grown it. */
	if (cow_fd_size(e->cf->fd, &fsize, err))
		return -1;
	if (at <= fsize)
		return 0;
	cow_seterr(err, "allocated sectors have no data: the last allocated one ends at byte %llu, the file at %llu (truncated?); their contents are lost, not zeros",
		   (unsigned long long)at, (unsigned long long)fsize);
	err->kind = COW_ERR_INVALID;
	return -1;
}

uint64_t cow_engine_dirty_blocks(struct cow_engine *e)
{
	uint64_t n;

	pthread_mutex_lock(&e->mu);
	n = e->ndirty;
	pthread_mutex_unlock(&e->mu);
	return n;
}

/* ---- open and close --------------------------------------------------- */

/*
 * The bitmap into e->bm (zeroed), its data only: a hole of a sparse COW
 * file is skipped with SEEK_DATA, not read.
 */
static int read_bitmap_data(struct cow_engine *e, struct cow_err *err)
{
	const struct cow_info *ci = e->ci;
	uint64_t pos = 0, span = ci->bitmap_span;

	while (pos < span) {
		off_t at = (off_t)(ci->bitmap_offset + pos);
		off_t d = lseek(e->cf->fd, at, SEEK_DATA), h;
		uint64_t end = span;

		if (d < 0 && errno == ENXIO)
			break;			/* holes to the end */
		if (d > at)
			pos = (uint64_t)d - ci->bitmap_offset;
		if (pos >= span)
			break;
		if (d >= 0) {
			h = lseek(e->cf->fd, (off_t)(ci->bitmap_offset + pos),
				  SEEK_HOLE);
			if (h > 0 && (uint64_t)h - ci->bitmap_offset < span)
				end = (uint64_t)h - ci->bitmap_offset;
		}
		if (end <= pos)
			end = span;
		if (cow_bitmap_read(e->cf, pos, e->bm + pos,
				    (size_t)(end - pos), err))
			return -1;
		pos = end;
	}
	return 0;
}

static int load_bitmap(struct cow_engine *e, struct cow_err *err)
{
	const struct cow_info *ci = e->ci;

	/*
	 * Zeroed pages from the kernel, not malloc's: a reused heap block
	 * would be cleared by hand first (glibc raises its mmap threshold
	 * after the first engine freed one, and merge opens two).
	 */
	e->bm_len = ci->bitmap_span ? (size_t)ci->bitmap_span : 1;
	e->bm = mmap(NULL, e->bm_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (e->bm == MAP_FAILED)
		e->bm = NULL;
	/* The dirty blocks cover the bytes of tracked bits, from blk0. */
	e->wb_len = (ci->tracked_sectors + 7) / 8;
	e->blk0 = ci->bitmap_offset - ci->bitmap_offset % COW_ENGINE_BLOCK;
	e->nblocks = (ci->bitmap_offset + e->wb_len - e->blk0 +
		      COW_ENGINE_BLOCK - 1) / COW_ENGINE_BLOCK;
	e->dirty = calloc(1, e->nblocks / 8 + 1);
	if (!e->bm || !e->dirty) {
		cow_seterr(err, "out of memory for the bitmap (%llu bytes)",
			   (unsigned long long)ci->bitmap_span);
		return -1;
	}
	return read_bitmap_data(e, err);
}

/* A writable engine must be able to write every sector's data. */
static int check_writable(struct cow_engine *e, struct cow_err *err)
{
	const struct cow_info *ci = e->ci;
	struct stat st;

	if (ci->tracked_sectors < ci->nr_sectors) {
		cow_seterr(err, "the short bitmap's missing byte is the data area's first: sectors %llu-%llu cannot be allocated; serve it read-only",
			   (unsigned long long)ci->tracked_sectors,
			   (unsigned long long)ci->nr_sectors - 1);
		return -1;
	}
	if (fstat(e->cf->fd, &st) < 0) {
		cow_seterr(err, "%s", strerror(errno));
		return -1;
	}
	if (S_ISBLK(st.st_mode) && ci->file_size < ci->data_end) {
		cow_seterr(err, "the block device (%llu bytes) ends before the data area (%llu bytes)",
			   (unsigned long long)ci->file_size,
			   (unsigned long long)ci->data_end);
		return -1;
	}
	return 0;
}

int cow_engine_open(struct cow_engine **out, const struct cow_file *cf,
		    int backing_fd, const struct cow_engine_opts *o,
		    struct cow_err *err)
{
	struct cow_engine *e = calloc(1, sizeof(*e));

	*out = NULL;
	if (!e) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	e->cf = cf;
	e->ci = &cf->info;
	e->backing_fd = backing_fd;
	e->ss = cf->info.sector_size;
	e->writable = !(o && o->read_only);
	e->ops = o && o->ops ? *o->ops : sys_ops;
	pthread_mutex_init(&e->commit_mu, NULL);
	pthread_mutex_init(&e->rmw_mu, NULL);
	pthread_mutex_init(&e->mu, NULL);
	if (e->writable && !cf->writable) {
		cow_seterr(err, "the COW file is open read-only");
		goto fail;
	}
	if ((e->writable && check_writable(e, err)) || load_bitmap(e, err))
		goto fail;
	*out = e;
	return 0;
fail:
	cow_engine_free(e);
	return -1;
}

void cow_engine_free(struct cow_engine *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->rmw_mu);
	pthread_mutex_destroy(&e->commit_mu);
	free(e->dirty);
	if (e->bm)
		munmap(e->bm, e->bm_len);
	free(e);
}

uint64_t cow_engine_size(const struct cow_engine *e)
{
	return e->ci->size;
}

uint32_t cow_engine_sector_size(const struct cow_engine *e)
{
	return e->ci->sector_size;
}

bool cow_engine_writable(const struct cow_engine *e)
{
	return e->writable;
}

/* ---- I/O helpers ------------------------------------------------------ */

/* A failed system call: "@what at @off: strerror", and -@errnum. */
static int sys_err(struct cow_err *err, int errnum, const char *what,
		   uint64_t off)
{
	cow_seterr(err, "%s at %llu: %s", what, (unsigned long long)off,
		   strerror(errnum));
	err->kind = COW_ERR_SYSTEM;
	return -errnum;
}

/* pwrite all of @buf to the COW file through ops (tests inject faults). */
static int cow_write(struct cow_engine *e, const void *buf, size_t len,
		     uint64_t off, struct cow_err *err)
{
	const char *p = buf;

	while (len) {
		ssize_t n = e->ops.pwrite(e->cf->fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return sys_err(err, n < 0 ? errno : EIO,
				       "write of the COW file", off);
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int cow_sync(struct cow_engine *e, struct cow_err *err)
{
	int errnum;

	if (e->ops.fdatasync(e->cf->fd) == 0)
		return 0;
	errnum = errno;
	cow_seterr(err, "fdatasync of the COW file: %s", strerror(errnum));
	err->kind = COW_ERR_SYSTEM;
	return -errnum;
}

static int read_err(struct cow_err *err)
{
	return err->kind == COW_ERR_SYSTEM ? -EIO : -EINVAL;
}

static int check_io(const struct cow_engine *e, uint64_t off, uint64_t len,
		    bool write, struct cow_err *err)
{
	if (write && !e->writable) {
		cow_seterr(err, "the image is served read-only");
		return -EROFS;
	}
	if (off > e->ci->size || len > e->ci->size - off) {
		cow_seterr(err, "%llu bytes at %llu are past the image's end (%llu)",
			   (unsigned long long)len, (unsigned long long)off,
			   (unsigned long long)e->ci->size);
		return -EINVAL;
	}
	return 0;
}

/* ---- reads ------------------------------------------------------------ */

int cow_engine_read(struct cow_engine *e, void *buf, size_t len,
		    uint64_t off, struct cow_err *err)
{
	char *p = buf;
	int ret = check_io(e, off, len, false, err);

	if (ret)
		return ret;
	while (len) {
		bool alloc;
		size_t n = (size_t)cow_engine_run_bytes(e, off, len, &alloc);

		if (alloc ? cow_pread_full(e->cf->fd, p, n,
					   cow_engine_cow_pos(e, off), err) :
			    cow_pread_full(e->backing_fd, p, n, off, err))
			return read_err(err);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

int cow_engine_cache(struct cow_engine *e, size_t len, uint64_t off,
		     struct cow_err *err)
{
	int ret = check_io(e, off, len, false, err);

	while (!ret && len) {
		bool alloc;
		size_t n = (size_t)cow_engine_run_bytes(e, off, len, &alloc);
		int fd = alloc ? e->cf->fd : e->backing_fd;
		uint64_t at = alloc ? cow_engine_cow_pos(e, off) : off;

		/* Advice only: an error here costs a later read nothing. */
		(void)posix_fadvise(fd, (off_t)at, (off_t)n,
				    POSIX_FADV_WILLNEED);
		off += n;
		len -= n;
	}
	return ret;
}

/* ---- writes ----------------------------------------------------------- */

/*
 * Part of one sector, [@off, @off + @len) within sector @s. An allocated
 * sector is written in place; else the backing sector is copied, patched
 * and written whole, then its bit set. Adds the bits it set to *@newly.
 */
static int write_partial(struct cow_engine *e, uint64_t s, const void *buf,
			 size_t len, uint64_t off, uint64_t *newly,
			 struct cow_err *err)
{
	uint64_t ss = e->ss, at = cow_sector_pos(e->ci, s);
	uint8_t *sec;
	int ret;

	if (cow_engine_allocated(e, s))
		return cow_write(e, buf, len, cow_engine_cow_pos(e, off), err);
	pthread_mutex_lock(&e->rmw_mu);
	if (cow_engine_allocated(e, s)) {	/* another RMW did it first */
		pthread_mutex_unlock(&e->rmw_mu);
		return cow_write(e, buf, len, cow_engine_cow_pos(e, off), err);
	}
	sec = malloc(ss);
	if (!sec) {
		pthread_mutex_unlock(&e->rmw_mu);
		cow_seterr(err, "out of memory");
		return -ENOMEM;
	}
	/* The backing file may end within the last sector: zeros past it. */
	ret = cow_pread_full(e->backing_fd, sec, ss, s * ss, err) ?
	      read_err(err) : 0;
	if (!ret) {
		memcpy(sec + (off - s * ss), buf, len);
		ret = cow_write(e, sec, ss, at, err);
	}
	if (!ret)
		*newly += set_bits(e, s, 1);
	pthread_mutex_unlock(&e->rmw_mu);
	free(sec);
	return ret;
}

/* Whole sectors [@s, @s + @n): data first, then the bits. */
static int write_whole(struct cow_engine *e, uint64_t s, uint64_t n,
		       const void *buf, uint64_t *newly, struct cow_err *err)
{
	int ret = cow_write(e, buf, n * e->ss, cow_sector_pos(e->ci, s), err);

	if (!ret)
		*newly += set_bits(e, s, n);
	return ret;
}

/* Whether any block holding the bits of [@s0, @s1) is not on disk yet. */
static bool bits_pending(struct cow_engine *e, uint64_t s0, uint64_t s1)
{
	bool pending;
	uint64_t b;

	pthread_mutex_lock(&e->mu);
	pending = e->committing;
	for (b = block_of_byte(e, s0 / 8);
	     !pending && b <= block_of_byte(e, (s1 - 1) / 8); b++)
		pending = is_dirty(e, b);
	pthread_mutex_unlock(&e->mu);
	return pending;
}

/*
 * FUA: an overwrite of sectors whose bits are on disk needs only its data
 * synced; anything else needs the write-back.
 */
static int finish_fua(struct cow_engine *e, uint64_t off, uint64_t len,
		      uint64_t newly, struct cow_err *err)
{
	uint64_t s0 = off / e->ss, s1 = (off + len + e->ss - 1) / e->ss;

	if (len == 0)
		return 0;
	if (newly == 0 && !bits_pending(e, s0, s1))
		return cow_sync(e, err);
	return cow_engine_flush(e, err);
}

/*
 * The whole sectors of [@off, @off + @len), [*s0, *s1), none when s0 >= s1:
 * the image's short last sector counts as whole when the range reaches the
 * image's end.
 */
static void whole_sectors(const struct cow_engine *e, uint64_t off,
			  uint64_t len, uint64_t *s0, uint64_t *s1)
{
	uint64_t end = off + len;

	*s0 = (off + e->ss - 1) / e->ss;
	*s1 = end == e->ci->size ? e->ci->nr_sectors : end / e->ss;
}

/*
 * Sector by sector where a request starts or ends within one (or reaches
 * the image's short last sector), in runs of whole sectors elsewhere.
 */
static int write_range(struct cow_engine *e, const uint8_t *buf, size_t len,
		       uint64_t off, uint64_t *newly, struct cow_err *err)
{
	uint64_t ss = e->ss;
	int ret = 0;

	while (!ret && len) {
		size_t n;

		if (off % ss == 0 && len >= ss) {
			n = (size_t)(len / ss * ss);
			ret = write_whole(e, off / ss, n / ss, buf, newly, err);
		} else {
			n = ss - off % ss < len ? (size_t)(ss - off % ss) : len;
			ret = write_partial(e, off / ss, buf, n, off, newly,
					    err);
		}
		buf += n;
		len -= n;
		off += n;
	}
	return ret;
}

int cow_engine_write(struct cow_engine *e, const void *buf, size_t len,
		     uint64_t off, bool fua, struct cow_err *err)
{
	uint64_t newly = 0;
	int ret = check_io(e, off, len, true, err);

	if (!ret && len)
		ret = write_range(e, buf, len, off, &newly, err);
	if (!ret && fua)
		ret = finish_fua(e, off, len, newly, err);
	return ret;
}

/* ---- zeroing ---------------------------------------------------------- */

/* Zeros to [@at, @at + @len) of the COW file by writing them. */
static int write_zeros(struct cow_engine *e, uint64_t at, uint64_t len,
		       struct cow_err *err)
{
	size_t chunk = len > (1U << 20) ? (1U << 20) : (size_t)len;
	uint8_t *z = calloc(1, chunk ? chunk : 1);
	int ret = 0;

	if (!z) {
		cow_seterr(err, "out of memory");
		return -ENOMEM;
	}
	while (!ret && len) {
		size_t n = len < chunk ? (size_t)len : chunk;

		ret = cow_write(e, z, n, at, err);
		at += n;
		len -= n;
	}
	free(z);
	return ret;
}

/*
 * Zero whole sectors [@s0, @s1) of the data area, then set their bits: a
 * hole where the file system (or block device) can punch one, else zeros.
 */
static int zero_sectors(struct cow_engine *e, uint64_t s0, uint64_t s1,
			uint64_t *newly, struct cow_err *err)
{
	uint64_t at = cow_sector_pos(e->ci, s0), len = (s1 - s0) * e->ss;
	int ret = 0;

	if (fallocate(e->cf->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)at, (off_t)len) < 0 &&
	    fallocate(e->cf->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)at, (off_t)len) < 0)
		ret = write_zeros(e, at, len, err);
	if (!ret)
		*newly += set_bits(e, s0, s1 - s0);
	return ret;
}

/* Zeros written to a partial sector [@off, @off + @len) (< one sector). */
static int zero_partial(struct cow_engine *e, uint64_t off, uint64_t len,
			uint64_t *newly, struct cow_err *err)
{
	uint8_t *z;
	int ret;

	if (len == 0)
		return 0;
	z = calloc(1, (size_t)len);
	if (!z) {
		cow_seterr(err, "out of memory");
		return -ENOMEM;
	}
	ret = write_range(e, z, (size_t)len, off, newly, err);
	free(z);
	return ret;
}

static int zero_or_trim(struct cow_engine *e, size_t len, uint64_t off,
			bool fua, bool partial, struct cow_err *err)
{
	uint64_t ss = e->ss, s0, s1, newly = 0, end = off + len;
	int ret = check_io(e, off, len, true, err);

	if (ret || len == 0)
		return ret;
	whole_sectors(e, off, len, &s0, &s1);
	if (s0 >= s1) {
		/* Within one sector and not all of it. */
		if (partial)
			ret = zero_partial(e, off, len, &newly, err);
	} else {
		uint64_t wend = s1 * ss < end ? s1 * ss : end;

		if (partial)
			ret = zero_partial(e, off, s0 * ss - off, &newly, err);
		if (!ret)
			ret = zero_sectors(e, s0, s1, &newly, err);
		if (!ret && partial)
			ret = zero_partial(e, wend, end - wend, &newly, err);
	}
	if (!ret && fua)
		ret = finish_fua(e, off, len, newly, err);
	return ret;
}

int cow_engine_zero(struct cow_engine *e, size_t len, uint64_t off,
		    bool fua, struct cow_err *err)
{
	return zero_or_trim(e, len, off, fua, true, err);
}

int cow_engine_trim(struct cow_engine *e, size_t len, uint64_t off,
		    bool fua, struct cow_err *err)
{
	return zero_or_trim(e, len, off, fua, false, err);
}

/* ---- write-back ------------------------------------------------------- */

/* A run of adjacent dirty blocks, copied for the write-back. */
struct wb_run {
	uint64_t blk, nblk;	/* blocks [blk, blk + nblk) */
	uint64_t file_off;	/* where its bitmap bytes go */
	size_t len, buf_off;	/* its bytes in the copy buffer */
};

/* Bitmap bytes [*b0, *b1) that block @blk holds. */
static void block_bytes(const struct cow_engine *e, uint64_t blk,
			uint64_t *b0, uint64_t *b1)
{
	uint64_t f0 = e->blk0 + blk * COW_ENGINE_BLOCK;
	uint64_t f1 = f0 + COW_ENGINE_BLOCK;
	uint64_t bo = e->ci->bitmap_offset;

	*b0 = f0 > bo ? f0 - bo : 0;
	*b1 = f1 - bo < e->wb_len ? f1 - bo : e->wb_len;
}

/*
 * Copy the dirty blocks and clear them (under mu): the bits set from now on
 * dirty them again for the next write-back. Returns the number of runs.
 */
static size_t __copy_dirty(struct cow_engine *e, uint8_t *buf,
			   struct wb_run *runs)
{
	size_t nr = 0, at = 0;
	uint64_t blk;

	for (blk = 0; blk < e->nblocks; blk++) {
		uint64_t b0, b1;

		if (!is_dirty(e, blk))
			continue;
		block_bytes(e, blk, &b0, &b1);
		if (nr && runs[nr - 1].blk + runs[nr - 1].nblk == blk) {
			runs[nr - 1].nblk++;
			runs[nr - 1].len += (size_t)(b1 - b0);
		} else {
			runs[nr++] = (struct wb_run){
				.blk = blk, .nblk = 1,
				.file_off = e->ci->bitmap_offset + b0,
				.len = (size_t)(b1 - b0), .buf_off = at,
			};
		}
		memcpy(buf + at, e->bm + b0, (size_t)(b1 - b0));
		at += (size_t)(b1 - b0);
		clear_dirty(e, blk);
	}
	return nr;
}

/* A failed write-back: every block it copied is dirty again. */
static void redirty(struct cow_engine *e, const struct wb_run *runs,
		    size_t nr)
{
	size_t i;
	uint64_t b;

	pthread_mutex_lock(&e->mu);
	for (i = 0; i < nr; i++)
		for (b = runs[i].blk; b < runs[i].blk + runs[i].nblk; b++)
			mark_dirty(e, b);
	pthread_mutex_unlock(&e->mu);
}

/*
 * Data, then bits: the first sync makes durable the data of every bit in
 * the copy (a bit is set only after its data write returned), the second
 * the bits themselves.
 */
static int write_back(struct cow_engine *e, struct cow_err *err)
{
	uint8_t *buf;
	struct wb_run *runs;
	size_t nr, i;
	int ret;

	pthread_mutex_lock(&e->mu);
	buf = malloc(e->ndirty * COW_ENGINE_BLOCK + 1);
	runs = malloc((e->ndirty + 1) * sizeof(*runs));
	if (!buf || !runs) {
		pthread_mutex_unlock(&e->mu);
		free(buf);
		free(runs);
		cow_seterr(err, "out of memory for the bitmap write-back");
		return -ENOMEM;
	}
	nr = __copy_dirty(e, buf, runs);
	e->committing = true;
	pthread_mutex_unlock(&e->mu);

	ret = cow_sync(e, err);
	for (i = 0; !ret && i < nr; i++)
		ret = cow_write(e, buf + runs[i].buf_off, runs[i].len,
				runs[i].file_off, err);
	if (!ret && nr)
		ret = cow_sync(e, err);
	if (ret)
		redirty(e, runs, nr);

	pthread_mutex_lock(&e->mu);
	e->committing = false;
	pthread_mutex_unlock(&e->mu);
	free(buf);
	free(runs);
	return ret;
}

int cow_engine_flush(struct cow_engine *e, struct cow_err *err)
{
	int ret;

	if (!e->writable)
		return 0;
	pthread_mutex_lock(&e->commit_mu);
	ret = write_back(e, err);
	pthread_mutex_unlock(&e->commit_mu);
	return ret;
}

/* ---- extents ---------------------------------------------------------- */

/*
 * Of [@at, @at + @len) of @fd (@base: the image's byte 0 in it), how much
 * from @at is a hole (*@zero) or data, in whole sectors of the image where
 * it does not reach @len: a part-sector hole counts as data.
 */
static uint64_t probe_holes(const struct cow_engine *e, int fd, uint64_t base,
			    uint64_t off, uint64_t len, bool *zero)
{
	uint64_t ss = e->ss;
	off_t d = lseek(fd, (off_t)(base + off), SEEK_DATA), h;
	uint64_t end;

	*zero = false;
	if (d < 0 && errno == ENXIO) {		/* holes to the end */
		*zero = true;
		return len;
	}
	if (d < 0)				/* cannot tell: data */
		return len;
	if ((uint64_t)d > base + off) {		/* a hole first */
		end = (uint64_t)d - base;
		end -= end % ss;
		if (end > off) {
			*zero = true;
			return end - off < len ? end - off : len;
		}
		/* Data begins within this sector: all of it is data. */
		return ss - off % ss < len ? ss - off % ss : len;
	}
	h = lseek(fd, (off_t)(base + off), SEEK_HOLE);
	if (h < 0 || (uint64_t)h <= base + off)
		return len;
	end = (uint64_t)h - base;
	end += (ss - end % ss) % ss;		/* round up: whole sectors */
	return end - off < len ? end - off : len;
}

int cow_engine_extent(struct cow_engine *e, uint64_t off, uint64_t len,
		      enum cow_extent_kind *kind, uint64_t *ext_len,
		      struct cow_err *err)
{
	uint64_t n;
	bool alloc, zero;
	int ret = check_io(e, off, len, false, err);

	if (ret)
		return ret;
	if (len == 0) {
		cow_seterr(err, "an extent of no bytes");
		return -EINVAL;
	}
	n = cow_engine_run_bytes(e, off, len, &alloc);
	if (alloc)
		n = probe_holes(e, e->cf->fd, cow_sector_pos(e->ci, 0), off, n,
				&zero);
	else
		n = probe_holes(e, e->backing_fd, 0, off, n, &zero);
	if (alloc)
		*kind = zero ? COW_EXTENT_COW_ZERO : COW_EXTENT_COW;
	else
		*kind = zero ? COW_EXTENT_BACKING_ZERO : COW_EXTENT_BACKING;
	*ext_len = n;
	return 0;
}
