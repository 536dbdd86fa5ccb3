/* SPDX-License-Identifier: GPL-2.0 */
/*
 * engine - a COW file served as a block device, in user space: where each
 * sector of the image lives, and how a write sets its bit durably. The
 * nbdkit plugin (tools/nbdkit) is its first user; it follows the kernel
 * target's contract (Documentation/admin-guide/device-mapper/umlcow.rst):
 *
 *  - reads take sector n from the COW data area (data_offset + n * ss) when
 *    its bit is set, else from the backing file at n * ss;
 *  - a write goes to the data area, and its bits are set in memory only
 *    after the data write returned; the bitmap blocks they dirty are written
 *    back by cow_engine_flush() (and by a FUA write): fdatasync the data,
 *    write the dirty blocks, fdatasync again. On disk a set bit therefore
 *    always has its data: the image behaves like a disk with a volatile
 *    write cache;
 *  - a write-back that fails leaves every block it copied dirty, so the next
 *    flush retries it: nothing acknowledged by a flush is lost, and nothing
 *    not yet flushed is dropped;
 *  - discard and write-zeroes zero the data area (a hole where the file
 *    allows it) and set the bits, so the range reads back as zeros, as UML
 *    and the target do;
 *  - the bits of a short v1/v2 bitmap that lie in the padding are honoured
 *    (tracked_sectors); a file whose missing bitmap byte is the data area's
 *    first is served read-only, as umlcow-setup maps it.
 *
 * The bitmap is held in memory (bitmap_span bytes) under its own mutex, so
 * any number of threads may call the I/O functions at once. The engine
 * neither opens nor locks files: the caller opens the COW file (struct
 * cow_file, locked as it wants) and the backing file, checks them, and
 * keeps them open while the engine lives.
 *
 * I/O functions return 0, or a negative errno with the reason in @err.
 */
#ifndef UMLCOW_ENGINE_H
#define UMLCOW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cowfmt.h"

/* Granularity of dirty tracking and write-back: 512 bytes of the file. */
#define COW_ENGINE_BLOCK	512U

struct cow_engine;

/*
 * The format's arithmetic, for every user of a COW file (the engine below,
 * merge, check, convert, the bitmap functions): one copy of it.
 *
 * Where sector @n's data lies in the COW file: data_offset + n * ss.
 */
uint64_t cow_sector_pos(const struct cow_info *ci, uint64_t n);

/*
 * Where the data of sectors [0, @n) ends in the COW file: as
 * cow_sector_pos(), but within the image's short last sector at the
 * image's end.
 */
uint64_t cow_sectors_end_pos(const struct cow_info *ci, uint64_t n);

/* Bit @n of the bitmap bytes @bm (sector n: byte n / 8, mask 1 << n % 8). */
bool cow_bit(const uint8_t *bm, uint64_t n);

/*
 * The run of equal bits of @bm from bit @n up to @end (> @n): its value in
 * *@alloc, its length returned (>= 1). Whole words where they are all clear
 * or all set.
 */
uint64_t cow_bits_run(const uint8_t *bm, uint64_t n, uint64_t end,
		      bool *alloc);

/* Set (@value) or clear bits [@first, @first + @count) of @bm. */
void cow_bits_fill(uint8_t *bm, uint64_t first, uint64_t count, bool value);

/* The system calls the engine makes on the COW file; tests replace them. */
struct cow_engine_ops {
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	int (*fdatasync)(int fd);
};

struct cow_engine_opts {
	bool read_only;			/* refuse writes, never write */
	const struct cow_engine_ops *ops; /* NULL: pwrite(2), fdatasync(2) */
};

/*
 * Read the bitmap of @cf into memory and serve it over @backing_fd. @cf
 * must have been opened writable unless o->read_only. A read-only engine
 * that is never asked for backing sectors (check) may have @backing_fd -1.
 * The whole bitmap is held in memory (bitmap_span bytes: 1/4096 of the
 * image with 512-byte sectors); holes of a sparse COW file are not read.
 * Returns 0 with *@out set, or -1 with the reason in @err.
 */
int cow_engine_open(struct cow_engine **out, const struct cow_file *cf,
		    int backing_fd, const struct cow_engine_opts *o,
		    struct cow_err *err);

/* Free the engine (no write-back: call cow_engine_flush() first). */
void cow_engine_free(struct cow_engine *e);

/* Bytes of the image (the header's size). */
uint64_t cow_engine_size(const struct cow_engine *e);
uint32_t cow_engine_sector_size(const struct cow_engine *e);
/* Whether writes are possible (not read-only, every sector tracked). */
bool cow_engine_writable(const struct cow_engine *e);

/* Read [@off, @off + @len) of the image. */
int cow_engine_read(struct cow_engine *e, void *buf, size_t len,
		    uint64_t off, struct cow_err *err);

/*
 * Write [@off, @off + @len). A partial sector whose bit is clear is
 * completed from the backing file (read-modify-write, serialised). With
 * @fua, durable (data and bits) when it returns.
 */
int cow_engine_write(struct cow_engine *e, const void *buf, size_t len,
		     uint64_t off, bool fua, struct cow_err *err);

/*
 * Write zeros to [@off, @off + @len): whole sectors are zeroed in the data
 * area (a hole punched in a regular file) and their bits set; partial
 * sectors are written as zeros. With @fua, durable when it returns.
 */
int cow_engine_zero(struct cow_engine *e, size_t len, uint64_t off,
		    bool fua, struct cow_err *err);

/*
 * Discard: as cow_engine_zero() for the whole sectors of the range (they
 * read back as zeros, as in the target); partial sectors are left alone
 * (a discard is advisory).
 */
int cow_engine_trim(struct cow_engine *e, size_t len, uint64_t off,
		    bool fua, struct cow_err *err);

/*
 * Ask the kernel to read [@off, @off + @len) ahead, from whichever file
 * holds each run of sectors (posix_fadvise WILLNEED): NBD_CMD_CACHE.
 */
int cow_engine_cache(struct cow_engine *e, size_t len, uint64_t off,
		     struct cow_err *err);

/*
 * Make every completed write durable: fdatasync the COW file, write the
 * dirty bitmap blocks, fdatasync again. On failure the blocks stay dirty.
 */
int cow_engine_flush(struct cow_engine *e, struct cow_err *err);

/* Where the bytes at an offset come from (cow_engine_extent()). */
enum cow_extent_kind {
	COW_EXTENT_COW,		/* the COW data area, data */
	COW_EXTENT_COW_ZERO,	/* the COW data area, a hole: zeros */
	COW_EXTENT_BACKING,	/* the backing file, data */
	COW_EXTENT_BACKING_ZERO, /* the backing file, a hole: zeros */
};

/*
 * The extent that starts at @off: its kind and its length (> 0, at most
 * @len, ending on a sector boundary or at the image's end). Holes are
 * found with SEEK_DATA where the file supports it (else: data).
 */
int cow_engine_extent(struct cow_engine *e, uint64_t off, uint64_t len,
		      enum cow_extent_kind *kind, uint64_t *ext_len,
		      struct cow_err *err);

/* Whether sector @n is allocated (its bit set in memory). */
bool cow_engine_allocated(struct cow_engine *e, uint64_t n);

/*
 * Run iteration: the run of sectors from @n (< the image's sectors) that
 * are all allocated or all not, at most @max long: its kind in *@alloc,
 * its length returned (>= 1). Sectors past tracked_sectors are not
 * allocated.
 */
uint64_t cow_engine_run(struct cow_engine *e, uint64_t n, uint64_t max,
			bool *alloc);

/*
 * The same in bytes of the image: how many from @off (at most @len, > 0)
 * lie in sectors that are all allocated or all not; the run ends on a
 * sector boundary or at @off + @len.
 */
uint64_t cow_engine_run_bytes(struct cow_engine *e, uint64_t off,
			      uint64_t len, bool *alloc);

/* Allocated sectors, and the end of the last allocated one (0: none). */
uint64_t cow_engine_alloc_count(struct cow_engine *e);
uint64_t cow_engine_alloc_end(struct cow_engine *e);

/*
 * Byte of the COW file where image byte @off would lie in the data area
 * (cow_sector_pos() of its sector, plus its place in it).
 */
uint64_t cow_engine_cow_pos(const struct cow_engine *e, uint64_t off);

/*
 * The byte of the COW file where the last allocated sector's data ends
 * (the image's end within its short last sector), 0 when none is.
 */
uint64_t cow_engine_data_end(struct cow_engine *e);

/*
 * Whether the data of every allocated sector lies inside the COW file (its
 * size now): 0, or -1 with the reason, kind COW_ERR_INVALID, when a
 * truncated data area would read as zeros (cow_data_check()).
 */
int cow_engine_data_check(struct cow_engine *e, struct cow_err *err);

/* Dirty bitmap blocks now (tests and status). */
uint64_t cow_engine_dirty_blocks(struct cow_engine *e);

#endif /* UMLCOW_ENGINE_H */
