/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowfmt - the User-Mode-Linux COW file format, every layout ever written.
 *
 * A COW file is a header (naming a backing file, its size and mtime), a
 * bitmap with one bit per sector (bit n is byte n / 8, mask 1 << (n % 8)),
 * and a data area that mirrors the backing file sparsely: sector n's data is
 * at data_offset + n * sector_size when its bit is set. Eight header layouts
 * exist (Documentation/cow-format.rst); struct cow_layout describes each one
 * as a table row, and the same row drives both parsing and writing.
 *
 * Nothing a header says is trusted: every offset, length and product is
 * checked for overflow and against the file size before it is used.
 *
 * Errors: functions that can fail return 0 on success and -1 on failure with
 * a one-line reason in a struct cow_err (no file name, no trailing period),
 * ready to be printed as "umlcow-setup: FILE: <reason>".
 */
#ifndef UMLCOW_COWFMT_H
#define UMLCOW_COWFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define COW_MAGIC		0x4f4f4f4dU	/* "MOOO" as a host u32 */
#define COW_PATH_MAX		4096		/* largest path field */
#define COW_MIN_SECTOR_SIZE	512U
#define COW_MAX_SECTOR_SIZE	65536U
#define COW_MIN_ALIGNMENT	512U
#define COW_MAX_ALIGNMENT	(1U << 20)
#define COW_DEFAULT_SECTOR_SIZE	512U
#define COW_DEFAULT_ALIGNMENT	4096U		/* UML: the page size */
/* Largest image: the data area end must stay a valid off_t. */
#define COW_MAX_SIZE		(UINT64_C(1) << 60)

enum cow_err_kind {
	COW_ERR_INVALID,	/* the file's contents are wrong */
	COW_ERR_SYSTEM,		/* a system call failed (errno-like) */
	COW_ERR_AMBIGUOUS,	/* more than one layout fits: --layout */
	COW_ERR_USAGE,		/* a bad option value (an unknown --layout) */
};

struct cow_err {
	enum cow_err_kind kind;	/* cow_seterr() resets it to INVALID */
	char msg[2 * COW_PATH_MAX + 1024];	/* two paths and a hint fit */
	char detail[2048];	/* "" or more, for --verbose */
};

/* Set the message (and clear the detail); then, optionally, the detail. */
void cow_seterr(struct cow_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cow_setdetail(struct cow_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- layouts (layout.c) ---------------------------------------------- */

enum cow_byte_order {
	COW_LE = 0,
	COW_BE = 1,
};

enum cow_mtime_kind {
	COW_MTIME_32,		/* u32 in the file's byte order */
	COW_MTIME_64,		/* u64 in the file's byte order, low 32 bits */
	COW_MTIME_BE32_IN_64,	/* v2 x86_64, broken v3: be32 in the first 4 of 8 */
};

enum cow_geometry_kind {
	COW_GEOM_OLD,		/* v1, v2: UML's short-bitmap rounding */
	COW_GEOM_QEMU,		/* QEMU block/cow.c */
	COW_GEOM_V3,		/* v3 and broken v3 */
};

struct cow_layout {
	const char *name;	/* "v1-packed", ..., "v3-broken" */
	const char *desc;	/* one line for humans */
	uint32_t version;	/* the header's version field */
	bool host_order;	/* v1: either byte order (from the magic) */
	uint32_t path_off, path_len;
	uint32_t mtime_off;
	enum cow_mtime_kind mtime_kind;
	uint32_t size_off;
	uint32_t sectorsize_off;
	int32_t alignment_off;	/* -1: none (alignment = sector size) */
	int32_t format_off;	/* -1: none; else cow_format, must be 0 */
	uint32_t hdr_size;	/* sizeof(struct); v1/v2/QEMU bitmap offset */
	enum cow_geometry_kind geom;
	bool extend_on_create;	/* UML extends new files to the data end */
};

/* The table, in detection order, and its length. */
extern const struct cow_layout cow_layouts[];
extern const size_t cow_nr_layouts;

/*
 * Find a layout by name. Accepts the plain names of cow_layouts and, for
 * the v1 layouts, a "-le" or "-be" suffix, returned in *order (-1 when the
 * name does not fix a byte order). NULL when unknown.
 */
const struct cow_layout *cow_layout_find(const char *name, int *order);

/* "v1-packed, v1-x86_64, ..." for messages and --help. */
const char *cow_layout_names(void);

/* Name of the header field that covers byte @off of @l ("padding" etc). */
const char *cow_layout_field_at(const struct cow_layout *l, uint64_t off);

/* The header fields a layout stores. */
struct cow_fields {
	char backing_file[COW_PATH_MAX + 1];
	uint32_t mtime;		/* seconds, the 32 bits UML compares */
	uint64_t size;		/* bytes of the image */
	uint32_t sector_size;
	uint32_t alignment;	/* v3 only; others imply the sector size */
};

/*
 * Encode a whole header of layout @l in byte order @order into @buf
 * (l->hdr_size bytes, every byte written, padding zero). Fails when the
 * path does not fit the layout's field (with its NUL).
 */
int cow_header_encode(const struct cow_layout *l, enum cow_byte_order order,
		      const struct cow_fields *f, uint8_t *buf,
		      struct cow_err *err);

/*
 * Rewrite only the path field (zero-filled) and, when @mtime is not NULL,
 * the mtime field of the header in @buf; other bytes are left alone.
 */
int cow_header_patch(const struct cow_layout *l, enum cow_byte_order order,
		     uint8_t *buf, const char *path, const uint32_t *mtime,
		     struct cow_err *err);

/* ---- geometry (geometry.c) ------------------------------------------- */

/*
 * The v1/v2 short bitmap. UML's bitmap_len is one byte short when size mod
 * 4096 is in [1, 3584]: the last 1 to 7 sectors have no bit within it. A
 * running UML (6.1's cowify_bitmap()) still sets their bits, in the byte
 * past bitmap_len, and writes their data into the data area; it reads only
 * bitmap_len bytes when it opens the file again (so does uml_moo).
 *
 * Those bits are the only record of what UML wrote: this library honours
 * them (info, check, merge, convert, the mapping plan), as long as the byte
 * past bitmap_len lies in the padding before data_offset
 * (COW_F_PADDING_BITS, tracked_sectors = nr_sectors). Where it is the data
 * area's first byte (COW_F_SHORT_BITMAP_OVERLAPS_DATA) it holds data, not
 * bits: those sectors are never allocated (tracked_sectors = 8 *
 * bitmap_len) and read from the backing file, as UML reads them.
 */
/* Flags of struct cow_geometry and struct cow_info. */
#define COW_F_SHORT_BITMAP		(1U << 0) /* 8 * bitmap_len < nr_sectors */
/* ... and the byte past bitmap_len is the data area's first byte */
#define COW_F_SHORT_BITMAP_OVERLAPS_DATA (1U << 1)
#define COW_F_FILE_SHORT		(1U << 2) /* file ends before data end */
/* ... short, and the last sectors' bits lie in the padding: honoured */
#define COW_F_PADDING_BITS		(1U << 3)

struct cow_geometry {
	uint64_t nr_sectors;	/* sectors of the image, ceil(size / ss) */
	uint64_t tracked_sectors; /* those whose bits are honoured */
	uint64_t bitmap_offset;	/* bytes from the start of the file */
	uint64_t bitmap_len;	/* bytes, as the layout's formula gives */
	uint64_t bitmap_span;	/* ceil(nr_sectors / 8): where UML sets bits */
	uint64_t data_offset;	/* sector 0's data */
	uint64_t data_end;	/* data_offset + nr_sectors * sector_size */
	unsigned int flags;
};

/*
 * Compute where everything lies for a header of layout @l with these
 * values, with every sum and product overflow-checked. @alignment is only
 * read for v3 layouts. Fails on values no layout allows.
 */
int cow_geometry(const struct cow_layout *l, uint64_t size,
		 uint32_t sector_size, uint32_t alignment,
		 struct cow_geometry *g, struct cow_err *err);

/* ---- parsing (parse.c) ----------------------------------------------- */

/* The parsed, checked header: everything a caller needs. */
struct cow_info {
	const struct cow_layout *layout;
	const char *layout_name;	/* == layout->name */
	enum cow_byte_order order;
	uint32_t version;
	char backing_file[COW_PATH_MAX + 1];
	uint32_t mtime;
	uint64_t size;
	uint32_t sector_size;
	uint32_t alignment;	/* v1/v2: sector size; QEMU: 512 */
	uint64_t bitmap_offset;
	uint64_t bitmap_len;	/* the layout's formula (short in v1/v2) */
	uint64_t bitmap_span;	/* ceil(nr_sectors / 8): where UML sets bits */
	uint64_t data_offset;
	uint64_t data_end;
	uint64_t nr_sectors;
	/*
	 * The sectors that can be allocated: nr_sectors, except for a short
	 * v1/v2 bitmap whose missing byte is the data area's first
	 * (COW_F_SHORT_BITMAP_OVERLAPS_DATA): 8 * bitmap_len, the rest
	 * always read from the backing file.
	 */
	uint64_t tracked_sectors;
	uint64_t file_size;
	unsigned int flags;	/* COW_F_* */
};

/* Bytes of a header buffer that hold every layout's header. */
#define COW_HEADER_READ	8192

/*
 * Parse @buf (the first @len bytes of a file of @file_size bytes) as layout
 * @l. @order is COW_LE, COW_BE, or -1 to take it from the magic (v1).
 * Returns 0 with @out filled, or -1 with the reason in @err.
 */
int cow_parse_layout(const uint8_t *buf, size_t len, uint64_t file_size,
		     const struct cow_layout *l, int order,
		     struct cow_info *out, struct cow_err *err);

/*
 * Try every layout. @backing_size, when not NULL, is called for each
 * candidate to look up its backing file's size (returns 0 and fills *size,
 * or -1 when the backing file cannot be found: the check is then skipped);
 * a candidate whose size differs is dropped. Exactly one survivor is
 * returned in @out (with a note on why in @why, if not NULL); none or more
 * than one is an error that names the layouts.
 */
typedef int (*cow_size_lookup_fn)(void *ctx, const struct cow_info *cand,
				  uint64_t *size);
int cow_detect(const uint8_t *buf, size_t len, uint64_t file_size,
	       cow_size_lookup_fn backing_size, void *ctx,
	       struct cow_info *out, char *why, size_t whylen,
	       struct cow_err *err);

/* ---- an open COW file (cowfile.c) ------------------------------------ */

/* Who may read a file: st_uid, st_gid and the permission bits of st_mode. */
struct cow_perm {
	uid_t uid;
	gid_t gid;
	mode_t mode;
};

struct cow_file {
	int fd;
	char *path;
	bool writable;
	dev_t dev;		/* st_dev and st_ino of the open file */
	ino_t ino;
	struct cow_perm perm;	/* for the modes of files made from it */
	struct cow_info info;
	char why[1024];		/* how the layout was chosen */
};

struct cow_open_opts {
	const char *layout;	/* --layout NAME, NULL: detect */
	const char *backing;	/* --backing PATH, NULL: lookup rules */
	bool writable;		/* open O_RDWR */
};

/*
 * Open and parse @path (cow_open_path(): never blocks, refuses what is not
 * a regular file or block device); on failure @cf holds nothing (fd -1).
 */
int cow_open(struct cow_file *cf, const char *path,
	     const struct cow_open_opts *o, struct cow_err *err);

/*
 * Parse the COW file already open (and locked, if the caller wants) on
 * @fd, named @path in messages and for the backing file lookup. @cf takes
 * @fd over on success (cow_close() closes it); on failure @fd is left
 * open. o->writable says whether @fd is open for writing.
 */
int cow_open_fd(struct cow_file *cf, int fd, const char *path,
		const struct cow_open_opts *o, struct cow_err *err);
void cow_close(struct cow_file *cf);

/*
 * Rewrite the header in place (same layout and byte order) with a new
 * backing file path and, if @mtime is not NULL, a new mtime; fsync'd.
 */
int cow_write_header_fields(struct cow_file *cf, const char *path,
			    const uint32_t *mtime, struct cow_err *err);

/* ---- the backing file (backing.c) ------------------------------------ */

enum cow_backing_source {
	COW_BACKING_EXPLICIT,	/* --backing */
	COW_BACKING_HEADER,	/* the path in the header */
	COW_BACKING_NEXT_TO_COW, /* same name, next to the COW file */
};

struct cow_backing {
	/*
	 * The descriptor that was checked (type, size, mtime, not the COW
	 * file): every later use goes through it, never through @path again,
	 * so a path swapped after the check changes nothing. -1 when closed.
	 */
	int fd;
	char path[COW_PATH_MAX + 1];
	enum cow_backing_source source;
	bool regular;		/* a regular file (else a block device) */
	uint64_t size;
	uint32_t mtime;		/* st_mtime truncated to 32 bits, as UML */
	dev_t dev;		/* its st_dev and st_ino */
	ino_t ino;
	struct cow_perm perm;
	bool size_matches;
	bool mtime_matches;
	char warning[COW_PATH_MAX + 128]; /* "" or a warning to print */
};

/*
 * Find the backing file of @info (COW file @cow_path): @explicit wins; else
 * the header's path; if that does not exist, the file of the same name in
 * the COW file's directory (with a warning). A header path that names
 * anything but a regular file is refused unless given explicitly.
 * The file is opened once (cow_open_path(), with @flags: O_RDONLY, or
 * O_RDWR to merge into it) and kept open in b->fd: cow_backing_close().
 */
int cow_backing_find(const char *cow_path, const struct cow_info *info,
		     const char *explicit, int flags, struct cow_backing *b,
		     struct cow_err *err);

/* Close b->fd (if open); @b may be NULL. */
void cow_backing_close(struct cow_backing *b);

/*
 * The rules UML applies: a size mismatch is always an error; an mtime
 * mismatch is an error unless @force. Returns 0 when usable.
 */
int cow_backing_verify(const struct cow_info *info,
		       const struct cow_backing *b, bool force,
		       struct cow_err *err);

/*
 * Whether @b is the COW file @cf itself (same device and inode): such a
 * file cannot be used, read, merged or mapped. Returns -1 with a reason.
 */
int cow_backing_not_self(const struct cow_file *cf,
			 const struct cow_backing *b, struct cow_err *err);

/*
 * Open a path a user or a header named, never opening what it should not:
 * an O_PATH descriptor is fstat'd first (opening /dev/watchdog arms it, a
 * tape rewinds, a FIFO can hang), and only a regular file or, when
 * @blk_ok, a block device is then opened, through /proc/self/fd (the inode
 * checked, even if the path changed meanwhile).
 * @flags: O_RDONLY or O_RDWR (O_CLOEXEC and O_NOCTTY are added). Returns
 * the fd, or -1 with errno set (EINVAL: a wrong type, EISDIR) and the reason
 * ("@what is a FIFO, not a regular file") in @err, kind COW_ERR_SYSTEM.
 */
int cow_open_path(const char *path, int flags, bool blk_ok, const char *what,
		  struct cow_err *err);

/* "a FIFO", "a directory", ... for a file type (st_mode). */
const char *cow_file_type(unsigned int mode);

/* Size of an open regular file or block device. */
int cow_fd_size(int fd, uint64_t *size, struct cow_err *err);

/* An absolute path the way UML's absolutize() makes it (dir resolved). */
int cow_absolute_path(const char *path, char *out, size_t outlen,
		      struct cow_err *err);

/* ---- the bitmap (bitmap.c) ------------------------------------------- */

/*
 * Read bitmap bytes [@first, @first + @len) of the bitmap as UML writes it
 * (the bitmap_span bytes at bitmap_offset, so with a short v1/v2 bitmap one
 * byte past bitmap_len; bytes past the end of the file read as zero). Bits
 * are returned as stored, whether they count or not.
 */
int cow_bitmap_read(const struct cow_file *cf, uint64_t first, void *buf,
		    size_t len, struct cow_err *err);

/*
 * Is sector @n allocated? 1 yes, 0 no, -1 error. A sector past
 * tracked_sectors is not.
 */
int cow_bitmap_test(const struct cow_file *cf, uint64_t n,
		    struct cow_err *err);

/*
 * Set (or clear) the bits of sectors [@first, @first + @count), where UML
 * sets them: for the last sectors of a short v1/v2 bitmap, past bitmap_len.
 */
int cow_bitmap_set_range(struct cow_file *cf, uint64_t first, uint64_t count,
			 bool value, struct cow_err *err);

/*
 * Call @fn for each run of allocated sectors (below tracked_sectors), in
 * order, skipping holes of the bitmap. @fn returns 0 to go on, anything
 * else to stop (returned).
 */
typedef int (*cow_run_fn)(void *ctx, uint64_t first, uint64_t count);
int cow_bitmap_scan(const struct cow_file *cf, cow_run_fn fn, void *ctx,
		    struct cow_err *err);

/* Count the allocated sectors (below tracked_sectors). */
int cow_bitmap_count(const struct cow_file *cf, uint64_t *count,
		     struct cow_err *err);

/*
 * Count the allocated sectors whose bits lie in the padding past a short
 * v1/v2 bitmap (COW_F_PADDING_BITS): sectors UML wrote that it will not
 * read back itself, but that this library honours. 0 for other files.
 */
int cow_bitmap_count_padding(const struct cow_file *cf, uint64_t *count,
			     struct cow_err *err);

/*
 * Write @count sectors of data at sector @first (data first, then the
 * bits), as UML would: the bitmap never claims data that is not there.
 * Like UML, the last sectors of a short bitmap get their bits past
 * bitmap_len (unallocated anyway when that byte is the data area's).
 */
int cow_write_sectors(struct cow_file *cf, uint64_t first, uint64_t count,
		      const void *data, struct cow_err *err);

/* ---- whole-file operations (create.c, merge.c, check.c, convert.c) --- */

struct cow_create_opts {
	const struct cow_layout *layout; /* NULL: v3 */
	int order;		/* v1 only: COW_LE/COW_BE, -1: host */
	uint32_t sector_size;	/* 0: 512 */
	uint32_t alignment;	/* 0: 4096 (v3 only) */
	bool keep_path;		/* store @backing as given, not absolute */
	bool have_fields;	/* take size/mtime below, do not stat */
	unsigned int mode;	/* of the new file (before umask); 0: 0644 */
	bool inherit_perm;	/* cow_convert(): the source's owner, mode */
	uint64_t size;
	uint32_t mtime;
};

/*
 * Write a new COW file for @backing into the empty regular file @fd (open
 * read-write; the caller created it and names it): a header, a zero bitmap,
 * and, for UML layouts, a sparse extension to the data end, fsync'd.
 */
int cow_create_write(int fd, const char *backing,
		     const struct cow_create_opts *o, struct cow_err *err);

/*
 * cow_create_write() into a new file @cow_path (refusing to overwrite,
 * cow_new_file()), removed again on failure.
 */
int cow_create(const char *cow_path, const char *backing,
	       const struct cow_create_opts *o, struct cow_err *err);

/*
 * Create @path, which must not exist (O_EXCL: not even as a symbolic
 * link), read-write with @mode (before umask): the descriptor, or -1 with
 * the reason ("already exists; refusing to overwrite it").
 */
int cow_new_file(const char *path, unsigned int mode, struct cow_err *err);

/*
 * Close @fd, cow_new_file()'s @path, written with result @ret (0 or -1);
 * the file is removed unless @ret is 0 and the close succeeds. Returns
 * that outcome, 0 or -1 (the reason in @err).
 */
int cow_new_file_end(int fd, const char *path, int ret, struct cow_err *err);

/*
 * Give an output @fd made from @n inputs permissions no wider than any
 * input's: the intersection of their modes (read and write bits only),
 * group bits only when every input has the output's group, less the umask.
 * With @owner (not NULL) the output is first given @owner's uid and gid
 * (root upgrading someone's COW file keeps it theirs); EPERM there (not
 * root) is no error: the output stays its creator's, narrowed as above.
 */
int cow_output_perm(int fd, const struct cow_perm *in, size_t n,
		    const struct cow_perm *owner, struct cow_err *err);

/*
 * Whether every allocated sector's data lies inside the file (a truncated
 * data area would read as zeros): 0, or -1 with the reason (kind
 * COW_ERR_INVALID when data is missing).
 */
int cow_data_check(const struct cow_file *cf, struct cow_err *err);

struct cow_progress {
	void (*fn)(void *ctx, uint64_t done, uint64_t total);
	void *ctx;
};

/*
 * Write the full image (backing overlaid with the COW data) to @out_fd,
 * sparse where the result is zero, @info.size bytes, fsync'd. Both merges
 * refuse a COW file whose allocated sectors lie past its end
 * (cow_data_check()), as check reports it, rather than write zeros.
 */
int cow_merge(const struct cow_file *cf, int backing_fd, int out_fd,
	      const struct cow_progress *p, struct cow_err *err);

/* Write the allocated sectors into the backing file (open rw), fsync'd. */
int cow_merge_in_place(const struct cow_file *cf, int backing_fd,
		       const struct cow_progress *p, struct cow_err *err);

enum cow_check_level {
	COW_CHECK_NOTE,		/* worth knowing, not a problem */
	COW_CHECK_WARN,		/* odd but usable */
	COW_CHECK_PROBLEM,	/* makes check exit 1 */
};

/* What a finding of cow_check() is about, when it is about a range. */
enum cow_range_kind {
	COW_RANGE_NONE,
	COW_RANGE_SECTORS,	/* sectors [first, first + count) of the image */
	COW_RANGE_BYTES,	/* bytes [first, first + count) of the COW file */
};

/* One finding of cow_check(). */
struct cow_finding {
	enum cow_check_level level;
	const char *code;	/* a stable word: "data-missing" */
	const char *msg;	/* the sentence check prints */
	enum cow_range_kind range;
	uint64_t first, count;	/* the range, when there is one */
	bool has_number;
	uint64_t number;	/* how many ("allocated": sectors) */
};

typedef void (*cow_report_fn)(void *ctx, const struct cow_finding *f);

/*
 * fsck for COW files. @b is the backing file found (NULL if none; @berr
 * says why). Returns the number of problems, or -1 when checking failed
 * (I/O error, reason in @err).
 */
int cow_check(const struct cow_file *cf, const struct cow_backing *b,
	      const char *berr, bool force, cow_report_fn report, void *ctx,
	      struct cow_err *err);

/*
 * Copy @cf into the empty regular file @fd (open read-write; @name names it
 * in messages) in layout @o->layout (header fields from @cf, the same
 * allocated sectors and data, sparse), fsync'd: the new file merges to the
 * same image. upgrade is this with v3. Fails when an allocated sector has
 * no bit in the new layout's short bitmap, or has no data
 * (cow_data_check()). With @o->inherit_perm, once written, @fd is given
 * @cf's owner and mode (cow_output_perm()); create it 0600.
 */
int cow_convert_fd(const struct cow_file *cf, int fd, const char *name,
		   const struct cow_create_opts *o,
		   const struct cow_progress *p, struct cow_err *err);

/*
 * cow_convert_fd() into a new file @dst_path (cow_new_file(): 0600 with
 * @o->inherit_perm, else @o->mode or 0644), removed again on failure.
 */
int cow_convert(const struct cow_file *cf, const char *dst_path,
		const struct cow_create_opts *o, const struct cow_progress *p,
		struct cow_err *err);

/* ---- the plan of a mapping (mapplan.c) ------------------------------- */

/*
 * What a device-mapper table for a COW file maps. Like UML (which sets the
 * capacity to size / 512), only whole sectors of the image are mapped.
 * The umlcow target maps the sectors whose bits are honoured
 * (tracked_sectors): every one, also those of a short v1/v2 bitmap whose
 * bits lie in the padding, as long as the whole bitmap, rounded up to the
 * COW device's logical block, stays before data_offset (the target reads
 * and writes bit n at byte n / 8 from bitmap_offset, where UML puts it).
 * Otherwise (the missing byte is the data area's first) the last sectors
 * are mapped by a linear target on the backing file, and the mapping is
 * read-only: a write there could not be recorded.
 */
struct cow_map_plan {
	uint64_t bitmap_offset;
	uint64_t data_offset;
	uint32_t sector_size;
	uint64_t nr_sectors;	/* COW sectors of the umlcow target */
	uint64_t len;		/* the umlcow target, in 512-byte sectors */
	uint64_t tail_len;	/* the linear tail after it, likewise; 0: none */
	uint64_t tail_sectors;	/* the same in COW sectors */
	uint64_t cow_need;	/* bytes the COW device must hold, read-write */
	uint64_t unmapped_bytes; /* size % sector_size: never mapped */
	bool padding_bits;	/* maps a short bitmap's bits in the padding */
	bool read_only;		/* forced (a linear tail) */
};

/*
 * Plan the mapping of @info on a COW device of logical block size
 * @cow_block (512 for a loop device). Fails when nothing can be mapped.
 */
int cow_map_plan(const struct cow_info *info, uint32_t cow_block,
		 struct cow_map_plan *p, struct cow_err *err);

/* The table's feature arguments. */
struct cow_map_features {
	bool read_only;
	bool no_discard;
	bool commit_interval_set;
	uint32_t commit_interval;	/* ms */
};

/*
 * The parameters of the umlcow line ("COW BACKING BITMAP_OFF DATA_OFF SS
 * NR [N FEATURES...]") and of the linear tail ("BACKING START"), into
 * @buf. Devices must be non-empty words (a path or MAJ:MIN). Returns 0, or
 * -1 when a device is not a word or @buf is too small.
 */
int cow_map_params(const struct cow_map_plan *p, const char *cow_dev,
		   const char *backing_dev, const struct cow_map_features *f,
		   char *buf, size_t len, struct cow_err *err);
int cow_map_tail_params(const struct cow_map_plan *p, const char *backing_dev,
			char *buf, size_t len, struct cow_err *err);

/*
 * Whether a read-only mapping can use a COW file of @file_size bytes that
 * ends before its data area does: its loop device (whole 512-byte sectors)
 * must hold the blocks of the bitmap and reach the data area.
 */
bool cow_map_ro_short_ok(const struct cow_map_plan *p, uint64_t file_size);

/*
 * The target's status INFO line, either version:
 *   1.1.0: <allocated>/<total> <dirty blocks> <mode> <access> <memory>
 *   1.0.0: <allocated>/<total> <dirty blocks> <mode>
 * mode is rw, ro or fail (the error mode machine); access is writable or
 * read_only. 1.0.0 has no access field and shows a read_only table as mode
 * "ro": with @table_read_only, that is taken as access read_only, mode rw.
 * Returns 0, or -1 when the line is neither.
 */
struct cow_map_status {
	uint64_t allocated, total, dirty;
	char mode[16];		/* "rw", "ro", "fail" */
	char access[16];	/* "writable", "read_only" */
	bool have_memory;	/* 1.1.0 */
	uint64_t memory;	/* bytes of bitmap and dirty map */
};
int cow_map_parse_status(const char *line, bool table_read_only,
			 struct cow_map_status *st);

/* ---- small helpers (util.c) ------------------------------------------ */

int cow_pread_full(int fd, void *buf, size_t len, uint64_t off,
		   struct cow_err *err);
int cow_pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
		    struct cow_err *err);
/*
 * A buffer for stepping through @total bytes at most @max at a time: no
 * larger than the work (a small image needs no 1 MiB buffer). free() it.
 */
void *cow_chunk_alloc(uint64_t total, size_t max);
/* fsync(@fd); on failure "fsync of @what: ..." (@what may be NULL). */
int cow_fsync(int fd, const char *what, struct cow_err *err);
bool cow_is_zero(const void *buf, size_t len);
bool cow_is_pow2(uint64_t v);

#endif /* UMLCOW_COWFMT_H */
