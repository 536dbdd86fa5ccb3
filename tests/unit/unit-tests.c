// SPDX-License-Identifier: GPL-2.0
/*
 * unit-tests - the COW format library, layout by layout, and its refusals;
 * and the CLI's two ways to print an untrusted string (quote.h, json.h).
 *
 * Built with -fsanitize=address,undefined by `make -C tools unit`. Prints
 * one line per check ("ok" or "FAIL") and a summary; exits 1 on any
 * failure. `unit-tests --write-seeds DIR` writes one small valid file per
 * layout (the libFuzzer seeds) and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowfmt.h"
#include "endian-util.h"
#include "check.h"
#include "json.h"
#include "quote.h"

static char tmpdir[] = "/tmp/umlcow-unit.XXXXXX";

/*
 * Every layout by its CLI name, v1 in both byte orders: written out here, not
 * taken from the library's table, so a layout dropped from it is noticed.
 */
static const char *const layout_names[] = {
	"v1-packed-le", "v1-packed-be", "v1-x86_64-le", "v1-x86_64-be",
	"v2-packed", "v2-x86_64", "qemu-x86_64", "qemu-i386", "v3",
	"v3-broken",
};

#define NR_LAYOUT_NAMES (sizeof(layout_names) / sizeof(layout_names[0]))

/* ---- building headers in memory -------------------------------------- */

#define BUFSZ (COW_HEADER_READ)

struct hdr {
	uint8_t buf[BUFSZ];
	const struct cow_layout *l;
	enum cow_byte_order order;
	uint64_t file_size;	/* what the "file" claims to be */
};

static void mkhdr(struct hdr *h, const char *layout, uint64_t size)
{
	struct cow_fields f = { .mtime = 1234567890, .size = size,
				.sector_size = 512, .alignment = 4096 };
	struct cow_geometry g;
	struct cow_err err;
	int order;

	memset(h, 0, sizeof(*h));
	h->l = cow_layout_find(layout, &order);
	if (!h->l) {
		check(false, "layout %s exists", layout);
		exit(1);
	}
	h->order = order < 0 ? COW_BE : (enum cow_byte_order)order;
	strcpy(f.backing_file, "/var/lib/uml/root_fs");
	if (cow_header_encode(h->l, h->order, &f, h->buf, &err) ||
	    cow_geometry(h->l, size, 512, 4096, &g, &err)) {
		check(false, "encode %s: %s", layout, err.msg);
		exit(1);
	}
	h->file_size = g.data_offset + size;
}

static int detect(const struct hdr *h, struct cow_info *ci,
		  struct cow_err *err)
{
	return cow_detect(h->buf, BUFSZ, h->file_size, NULL, NULL, ci, NULL, 0,
			  err);
}

/* ---- every layout round-trips, and only as itself -------------------- */

static void test_layouts(void)
{
	size_t i;

	for (i = 0; i < NR_LAYOUT_NAMES; i++) {
		struct hdr h;
		struct cow_info ci;
		struct cow_err err;
		uint64_t size = 10 * 1024 * 1024;

		mkhdr(&h, layout_names[i], size);
		if (detect(&h, &ci, &err)) {
			check(false, "%s: detected: %s", layout_names[i], err.msg);
			continue;
		}
		check(ci.layout == h.l && ci.order == h.order,
		      "%s: detected as %s, %s-endian", layout_names[i],
		      ci.layout_name, ci.order == COW_BE ? "big" : "little");
		check(strcmp(ci.backing_file, "/var/lib/uml/root_fs") == 0 &&
		      ci.mtime == 1234567890 && ci.size == size &&
		      ci.sector_size == 512 && ci.nr_sectors == size / 512 &&
		      ci.version == h.l->version,
		      "%s: fields read back (path, mtime, size, sector size)",
		      layout_names[i]);
		check(ci.bitmap_len == size / 512 / 8 &&
		      ci.bitmap_span == ci.bitmap_len && ci.flags == 0 &&
		      ci.data_offset % 512 == 0 &&
		      ci.data_offset >= ci.bitmap_offset + ci.bitmap_len,
		      "%s: geometry bitmap %llu+%llu data %llu", layout_names[i],
		      (unsigned long long)ci.bitmap_offset,
		      (unsigned long long)ci.bitmap_len,
		      (unsigned long long)ci.data_offset);
	}
}

/*
 * Where UML reads each layout's mtime, written down from UML's own
 * cow_user.c rather than from our layout table, so an encoder that puts the
 * value where only our parser looks for it is caught (as broken v3's was).
 */
static void test_mtime_bytes(void)
{
	static const struct {
		const char *layout;
		unsigned int off, width;	/* width 8: value in first 4 */
		enum cow_byte_order order;
	} want[] = {
		{ "v1-packed-le", 264, 4, COW_LE }, { "v1-packed-be", 264, 4, COW_BE },
		{ "v1-x86_64-le", 264, 8, COW_LE }, { "v1-x86_64-be", 268, 4, COW_BE },
		{ "v2-packed", 4104, 4, COW_BE }, { "v2-x86_64", 4104, 8, COW_BE },
		{ "qemu-x86_64", 1032, 4, COW_BE }, { "qemu-i386", 1032, 4, COW_BE },
		{ "v3", 8, 4, COW_BE }, { "v3-broken", 8, 8, COW_BE },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct hdr h;
		const uint8_t *p;
		bool rest_zero = true;
		unsigned int k;

		mkhdr(&h, want[i].layout, 10 * 1024 * 1024);
		p = h.buf + want[i].off;
		for (k = 4; k < want[i].width; k++)
			rest_zero = rest_zero && p[k] == 0;
		check(get_u32(p, want[i].order) == 1234567890 && rest_zero,
		      "%s: mtime as UML reads it, at byte %u", want[i].layout,
		      want[i].off);
	}
}

/* Values from the format's definition (Documentation/cow-format.rst). */
static void test_known_geometry(void)
{
	struct hdr h;
	struct cow_info ci;
	struct cow_err err;

	/* uml_mkcow on a 1024000-byte file makes a 1036288-byte file */
	mkhdr(&h, "v3", 1024000);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_offset == 8192 &&
	      ci.bitmap_len == 250 && ci.data_offset == 12288 &&
	      ci.data_offset + ci.size == 1036288,
	      "v3 of 1024000 bytes: bitmap 8192+250, data 12288 (as uml_mkcow)");

	mkhdr(&h, "v3-broken", 1024000);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_offset == 8192 &&
	      ci.data_offset == 12288,
	      "v3-broken: header 4136 rounds to bitmap 8192");

	mkhdr(&h, "v1-packed", 1024000);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_offset == 280 &&
	      ci.bitmap_len == 250 && ci.data_offset == 1024,
	      "v1-packed: bitmap 280+250, data 1024");

	mkhdr(&h, "v1-x86_64", 1024000);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_offset == 288 &&
	      ci.data_offset == 1024, "v1-x86_64: bitmap at 288");

	mkhdr(&h, "v2-x86_64", 1024000);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_offset == 4128 &&
	      ci.data_offset == 4608, "v2-x86_64: bitmap 4128, data 4608");

	mkhdr(&h, "qemu-i386", 1024000);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_offset == 1048 &&
	      ci.data_offset == 1536, "qemu-i386: bitmap 1048, data 1536");

	/* QEMU: floor(size / 512) sectors */
	mkhdr(&h, "qemu-x86_64", 1024000 + 100);
	check(detect(&h, &ci, &err) == 0 && ci.nr_sectors == 2000 &&
	      ci.bitmap_len == 250, "qemu: a partial last sector is not counted");

	/* v3: ceil(size / ss) sectors */
	mkhdr(&h, "v3", 1024000 + 100);
	check(detect(&h, &ci, &err) == 0 && ci.nr_sectors == 2001 &&
	      ci.bitmap_len == 251, "v3: a partial last sector is counted");
}

/* ---- v1 byte orders -------------------------------------------------- */

static void test_v1_orders(void)
{
	struct hdr le, be;
	struct cow_info ci;
	struct cow_err err;

	mkhdr(&le, "v1-packed-le", 1 << 20);
	mkhdr(&be, "v1-packed-be", 1 << 20);
	check(memcmp(le.buf, "\x4d\x4f\x4f\x4f", 4) == 0,
	      "v1 little-endian starts 4d 4f 4f 4f");
	check(memcmp(be.buf, "\x4f\x4f\x4f\x4d", 4) == 0,
	      "v1 big-endian starts 4f 4f 4f 4d");
	check(get_u64(le.buf + 268, COW_LE) == 1 << 20 &&
	      get_u64(be.buf + 268, COW_BE) == 1 << 20,
	      "v1 size stored in the magic's byte order");
	check(cow_parse_layout(le.buf, BUFSZ, le.file_size, le.l, COW_BE, &ci,
			       &err) != 0,
	      "v1 LE refused when big-endian is demanded: %s", err.msg);
	/* v2 and later are always big-endian */
	put_u32(be.buf + 4, 2, COW_BE);
	put_u32(be.buf, COW_MAGIC, COW_LE);
	check(detect(&be, &ci, &err) != 0 && strstr(err.msg, "little-endian"),
	      "little-endian magic on a v2 refused: %s", err.msg);
}

/* ---- the v1/v2 short bitmap ------------------------------------------ */

static void test_short_bitmap(void)
{
	struct hdr h;
	struct cow_info ci;
	struct cow_err err;
	uint64_t size;

	/* size mod 4096 in [1, 3584]: one byte short */
	mkhdr(&h, "v1-packed", 1024000 + 512);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_len == 250 &&
	      ci.bitmap_span == 251 && ci.nr_sectors == 2001 &&
	      (ci.flags & COW_F_SHORT_BITMAP) &&
	      !(ci.flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA),
	      "v1 short bitmap in the padding: len %llu span %llu",
	      (unsigned long long)ci.bitmap_len,
	      (unsigned long long)ci.bitmap_span);
	mkhdr(&h, "v2-packed", 1024000 + 3584);
	check(detect(&h, &ci, &err) == 0 && (ci.flags & COW_F_SHORT_BITMAP),
	      "v2: size mod 4096 == 3584 is short");
	mkhdr(&h, "v2-packed", 1024000 + 3585);
	check(detect(&h, &ci, &err) == 0 && !(ci.flags & COW_F_SHORT_BITMAP),
	      "v2: size mod 4096 == 3585 is not short");
	mkhdr(&h, "v3", 1024000 + 512);
	check(detect(&h, &ci, &err) == 0 && !(ci.flags & COW_F_SHORT_BITMAP),
	      "v3 never short");

	/* 280 + 232 = 512: the bitmap ends on a sector boundary */
	size = 232 * 4096 + 512;
	mkhdr(&h, "v1-packed", size);
	check(detect(&h, &ci, &err) == 0 && ci.bitmap_len == 232 &&
	      ci.data_offset == 512 &&
	      (ci.flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA),
	      "v1 short bitmap overlapping the data area's first byte");
	/* v2-packed: 4120 + 488 = 4608 */
	size = 488 * 4096 + 1024;
	mkhdr(&h, "v2-packed", size);
	check(detect(&h, &ci, &err) == 0 && ci.data_offset == 4608 &&
	      (ci.flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA),
	      "v2 short bitmap overlapping the data area");
}

/* ---- ambiguity ------------------------------------------------------- */

static uint64_t want_size;

static int fixed_size(void *ctx, const struct cow_info *cand, uint64_t *s)
{
	(void)ctx;
	(void)cand;
	*s = want_size;
	return 0;
}

static void test_ambiguity(void)
{
	struct hdr h;
	struct cow_info ci;
	struct cow_err err;

	/*
	 * A v2-packed header of 4 GiB whose bytes also read as a v2-x86_64
	 * header of 512 bytes (its size field is the packed one's low half
	 * and sector size; its sector size the packed bitmap's first word).
	 */
	mkhdr(&h, "v2-packed", UINT64_C(1) << 32);
	put_u32(h.buf + 4120, 512, COW_BE);
	h.file_size = 2 << 20;
	check(detect(&h, &ci, &err) != 0 && err.kind == COW_ERR_AMBIGUOUS &&
	      strstr(err.msg, "v2-packed, v2-x86_64") &&
	      strstr(err.msg, "--layout"),
	      "ambiguous header refused: %s", err.msg);
	check(cow_parse_layout(h.buf, BUFSZ, h.file_size,
			       cow_layout_find("v2-x86_64", NULL), -1, &ci,
			       &err) == 0 && ci.size == 512,
	      "--layout v2-x86_64 picks the 512-byte reading");
	want_size = 512;
	check(cow_detect(h.buf, BUFSZ, h.file_size, fixed_size, NULL, &ci,
			 NULL, 0, &err) == 0 &&
	      strcmp(ci.layout_name, "v2-x86_64") == 0,
	      "a 512-byte backing file settles it: %s", ci.layout_name);
	want_size = UINT64_C(1) << 32;
	check(cow_detect(h.buf, BUFSZ, h.file_size, fixed_size, NULL, &ci,
			 NULL, 0, &err) == 0 &&
	      strcmp(ci.layout_name, "v2-packed") == 0,
	      "a 4 GiB backing file settles it: %s", ci.layout_name);
	want_size = 7;
	check(cow_detect(h.buf, BUFSZ, h.file_size, fixed_size, NULL, &ci,
			 NULL, 0, &err) != 0 && strstr(err.detail, "differs"),
	      "neither size matches: %s %s", err.msg, err.detail);
}

/* ---- malformed headers ----------------------------------------------- */

static int nr_malformed;

static void refuse(const struct hdr *h, const char *what, const char *needle)
{
	struct cow_info ci;
	struct cow_err err = { .msg = "" };
	int r = detect(h, &ci, &err);

	nr_malformed++;
	/* the reason is in the message, or in its detail (--verbose) */
	check(r != 0 && (strstr(err.msg, needle) || strstr(err.detail, needle)),
	      "refused %s: %s %s", what, err.msg, err.detail);
}

static void test_malformed(void)
{
	struct hdr h;
	size_t i;

	/* truncated at each field of every layout */
	for (i = 0; i < cow_nr_layouts; i++) {
		const struct cow_layout *l = &cow_layouts[i];
		uint64_t cuts[] = { 0, 3, 4, 6, l->path_off + 1,
				    l->mtime_off, l->size_off + 4,
				    l->sectorsize_off,
				    l->alignment_off > 0 ?
				    (uint64_t)l->alignment_off : 8,
				    l->format_off > 0 ?
				    (uint64_t)l->format_off + 2 : 9,
				    l->hdr_size - 1 };
		size_t j;

		for (j = 0; j < sizeof(cuts) / sizeof(cuts[0]); j++) {
			char what[96];

			mkhdr(&h, l->name, 1 << 20);
			h.file_size = cuts[j];
			snprintf(what, sizeof(what),
				 "%s truncated at %llu (%s)", l->name,
				 (unsigned long long)cuts[j],
				 cow_layout_field_at(l, cuts[j]));
			refuse(&h, what, cuts[j] < 4 ? "too short" :
			       "file ends at byte");
		}
	}

	mkhdr(&h, "v3", 1 << 20);
	memcpy(h.buf, "QFI\xfb", 4);
	refuse(&h, "bad magic (a qcow2 file)", "bad magic 51 46 49 fb");

	mkhdr(&h, "v3", 1 << 20);
	put_u32(h.buf + 4, 0, COW_BE);
	refuse(&h, "version 0", "unsupported COW version 0");
	put_u32(h.buf + 4, 4, COW_BE);
	refuse(&h, "version 4", "unsupported COW version 4");

	mkhdr(&h, "v3", 1 << 20);
	put_u32(h.buf + 20, 0, COW_BE);
	refuse(&h, "sector size 0", "sector size 0 is not a power of two");
	put_u32(h.buf + 20, 3, COW_BE);
	refuse(&h, "sector size 3", "sector size 3 is not a power of two");
	put_u32(h.buf + 20, 1U << 31, COW_BE);
	refuse(&h, "sector size 2^31", "sector size 2147483648");
	put_u32(h.buf + 20, 256, COW_BE);
	refuse(&h, "sector size 256", "sector size 256");

	mkhdr(&h, "v3", 1 << 20);
	put_u32(h.buf + 24, 0, COW_BE);
	refuse(&h, "alignment 0", "alignment is 0");
	put_u32(h.buf + 24, 3, COW_BE);
	refuse(&h, "alignment 3", "alignment 3 is not a power of two");
	put_u32(h.buf + 24, 1U << 31, COW_BE);
	refuse(&h, "alignment 2^31", "alignment 2147483648");

	mkhdr(&h, "v3", 1 << 20);
	put_u64(h.buf + 12, 0, COW_BE);
	refuse(&h, "size 0", "image size is 0");
	put_u64(h.buf + 12, UINT64_C(1) << 62, COW_BE);
	refuse(&h, "size 2^62", "larger than 2^60");
	put_u64(h.buf + 12, UINT64_MAX, COW_BE);
	refuse(&h, "size 2^64-1", "larger than 2^60");
	put_u64(h.buf + 12, UINT64_C(1) << 50, COW_BE);
	refuse(&h, "size 2^50: bitmap past the end of the file",
	       "truncated: the file ends at byte");

	mkhdr(&h, "v1-packed", 1 << 20);
	put_u64(h.buf + 268, UINT64_MAX - 100, COW_LE);
	refuse(&h, "v1 size near 2^64 (would overflow size + ss - 1)",
	       "larger than 2^60");

	mkhdr(&h, "v3", 1 << 20);
	memset(h.buf + 32, 'a', 4096);
	refuse(&h, "path without NUL", "no NUL within its 4096-byte field");
	mkhdr(&h, "v1-packed", 1 << 20);
	memset(h.buf + 8, 'a', 256);
	refuse(&h, "v1 path without NUL", "no NUL within its 256-byte field");
	mkhdr(&h, "qemu-x86_64", 1 << 20);
	memset(h.buf + 8, 0, 1024);
	refuse(&h, "empty path", "backing file path is empty");

	mkhdr(&h, "v3", 1 << 20);
	put_u32(h.buf + 28, 1, COW_BE);
	refuse(&h, "cow_format 1", "cow_format 1 is not 0");

	mkhdr(&h, "qemu-i386", 1 << 20);
	put_u32(h.buf + 1044, 4096, COW_BE);
	refuse(&h, "QEMU sector size 4096", "QEMU always wrote 512");
	put_u32(h.buf + 1044, 512, COW_BE);
	put_u64(h.buf + 1036, 100, COW_BE);
	refuse(&h, "QEMU size below one sector", "less than one sector");

	mkhdr(&h, "v3", 1 << 20);
	h.file_size = 4128 + 100;
	refuse(&h, "file ending before the bitmap",
	       "truncated: the file ends at byte");

	mkhdr(&h, "v1-packed-le", 1 << 20);
	put_u32(h.buf + 4, 1, COW_BE);
	refuse(&h, "v1 with LE magic, BE version", "unsupported COW version");

	check(nr_malformed >= 20, "%d malformed inputs refused", nr_malformed);
}

/* ---- real files: create, bits, merge, convert ------------------------ */

static char *path(const char *name)
{
	return unit_path(tmpdir, name);
}

static int write_file(const char *p, uint64_t size, unsigned seed)
{
	uint8_t b[4096];
	uint64_t off;
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -1;
	for (off = 0; off < size; off += sizeof(b)) {
		size_t i, n = size - off < sizeof(b) ? size - off : sizeof(b);

		for (i = 0; i < n; i++)
			b[i] = (uint8_t)((off + i) * 7 + seed);
		if (write(fd, b, n) != (ssize_t)n) {
			close(fd);
			return -1;
		}
	}
	return close(fd);
}

struct runlist {
	uint64_t first[64], count[64];
	int n;
};

static int collect(void *ctx, uint64_t first, uint64_t count)
{
	struct runlist *r = ctx;

	if (r->n < 64) {
		r->first[r->n] = first;
		r->count[r->n] = count;
	}
	r->n++;
	return 0;
}

/* Whether files @a and @b have the same contents. */
static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	bool same = fa && fb;
	int ca, cb;

	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static void test_files(const char *layout, uint64_t size)
{
	struct cow_create_opts co = { .order = -1 };
	struct cow_open_opts oo = { .writable = true };
	struct cow_file cf;
	struct cow_err err;
	struct runlist rl = { .n = 0 };
	char *base = path("base.img"), *cow = path("t.cow");
	char *out = path("merged.img"), *up = path("up.cow");
	uint64_t cnt, last, lost;
	uint8_t sec[512], got[512];
	int bfd, ofd, ok;
	bool tail;	/* the last sector has no bit UML reads (short bitmap) */

	unlink(cow);
	unlink(out);
	unlink(up);
	if (write_file(base, size, 1)) {
		check(false, "write %s", base);
		return;
	}
	co.layout = cow_layout_find(layout, &co.order);
	check(cow_create(cow, base, &co, &err) == 0, "%s: create: %s", layout,
	      err.msg);
	check(cow_create(cow, base, &co, &err) != 0 &&
	      strstr(err.msg, "refusing to overwrite"),
	      "%s: create refuses to overwrite: %s", layout, err.msg);
	if (cow_open(&cf, cow, &oo, &err)) {
		check(false, "%s: open: %s", layout, err.msg);
		return;
	}
	check(cf.info.layout == co.layout, "%s: opens as %s", layout,
	      cf.info.layout_name);
	last = cf.info.nr_sectors - 1;
	tail = last >= cf.info.tracked_sectors;
	/* a short bitmap's missing bits count when they lie in the padding */
	check(tail == !!(cf.info.flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA) &&
	      !!(cf.info.flags & COW_F_PADDING_BITS) ==
	      ((cf.info.flags & COW_F_SHORT_BITMAP) && !tail) &&
	      cf.info.tracked_sectors == (tail ? last / 8 * 8 : last + 1),
	      "%s: %llu of %llu sectors have a bit", layout,
	      (unsigned long long)cf.info.tracked_sectors,
	      (unsigned long long)last + 1);
	memset(sec, 0xa5, sizeof(sec));
	ok = cow_write_sectors(&cf, 0, 1, sec, &err) == 0 &&
	     cow_write_sectors(&cf, 9, 1, sec, &err) == 0 &&
	     cow_write_sectors(&cf, 10, 1, sec, &err) == 0 &&
	     cow_write_sectors(&cf, last, 1, sec, &err) == 0;
	check(ok, "%s: write sectors 0, 9, 10, %llu: %s", layout,
	      (unsigned long long)last, ok ? "" : err.msg);
	check(cow_write_sectors(&cf, last + 1, 1, sec, &err) != 0,
	      "%s: write past the end refused: %s", layout, err.msg);
	/* A short bitmap's last sector is written, as UML writes it: its
	 * bit in the padding counts; where that byte is the data area's, it
	 * is not allocated (UML and uml_moo read it from the backing file). */
	check(cow_bitmap_test(&cf, 9, &err) == 1 &&
	      cow_bitmap_test(&cf, 8, &err) == 0 &&
	      cow_bitmap_test(&cf, last, &err) == !tail,
	      "%s: bits 9 set, 8 clear, last %s", layout,
	      tail ? "past the bitmap" : "set");
	check(cow_bitmap_count(&cf, &cnt, &err) == 0 && cnt == 4U - tail,
	      "%s: %d sectors allocated (%llu)", layout, 4 - tail,
	      (unsigned long long)cnt);
	check(cow_bitmap_count_padding(&cf, &lost, &err) == 0 &&
	      lost == !!(cf.info.flags & COW_F_PADDING_BITS),
	      "%s: %llu sector(s) with their bit in the padding", layout,
	      (unsigned long long)lost);
	check(cow_bitmap_scan(&cf, collect, &rl, &err) == 0 &&
	      rl.n == 3 - tail && rl.first[0] == 0 && rl.count[0] == 1 &&
	      rl.first[1] == 9 && rl.count[1] == 2 &&
	      (tail || (rl.first[2] == last && rl.count[2] == 1)),
	      "%s: runs 0+1, 9+2%s", layout, tail ? "" : ", last+1");

	/* merge and compare sector by sector with the backing file */
	bfd = open(base, O_RDONLY);
	ofd = open(out, O_RDWR | O_CREAT | O_EXCL, 0644);
	check(bfd >= 0 && ofd >= 0 && cow_merge(&cf, bfd, ofd, NULL, &err) == 0,
	      "%s: merge: %s", layout, err.msg);
	{
		uint64_t s, bad = 0;
		struct stat st;

		for (s = 0; s <= last; s++) {
			uint8_t ref[512];
			size_t n = s == last && size % 512 ? size % 512 : 512;
			bool mine = s == 0 || s == 9 || s == 10 ||
				    (s == last && !tail);

			if (pread(ofd, got, n, (off_t)(s * 512)) != (ssize_t)n ||
			    pread(bfd, ref, n, (off_t)(s * 512)) != (ssize_t)n)
				bad++;
			else if (memcmp(got, mine ? sec : ref, n))
				bad++;
		}
		check(bad == 0 && fstat(ofd, &st) == 0 &&
		      (uint64_t)st.st_size == size,
		      "%s: merged image has the written sectors, the backing file elsewhere (%llu bad)",
		      layout, (unsigned long long)bad);
	}
	close(ofd);

	/* upgrade to v3 keeps everything */
	{
		struct cow_create_opts v3 = { .order = -1 };
		struct cow_open_opts ro = { .layout = "v3" };
		struct cow_file uf;
		uint64_t c2 = 0;

		check(cow_convert(&cf, up, &v3, NULL, &err) == 0,
		      "%s: upgrade: %s", layout, err.msg);
		if (cow_open(&uf, up, &ro, &err) == 0) {
			check(strcmp(uf.info.layout_name, "v3") == 0 &&
			      uf.info.size == cf.info.size &&
			      uf.info.mtime == cf.info.mtime &&
			      strcmp(uf.info.backing_file,
				     cf.info.backing_file) == 0 &&
			      cow_bitmap_count(&uf, &c2, &err) == 0 &&
			      c2 == 4U - tail &&
			      cow_bitmap_test(&uf, last, &err) == !tail,
			      "%s: upgraded file has the same header fields and bits",
			      layout);
			ofd = open(path("merged2.img"),
				   O_RDWR | O_CREAT | O_TRUNC, 0644);
			check(ofd >= 0 &&
			      cow_merge(&uf, bfd, ofd, NULL, &err) == 0 &&
			      same_file(out, path("merged2.img")),
			      "%s: upgraded file merges to the same image",
			      layout);
			if (ofd >= 0)
				close(ofd);
			cow_close(&uf);
		} else {
			check(false, "%s: open upgraded: %s", layout, err.msg);
		}
	}
	close(bfd);
	cow_close(&cf);
}

static void test_overlap_file(void)
{
	struct cow_create_opts co = { .order = -1 };
	struct cow_open_opts oo = { .writable = true };
	struct cow_file cf;
	struct cow_err err;
	char *base = path("ov.img"), *cow = path("ov.cow");
	uint64_t size = 232 * 4096 + 512, cnt, lost;
	uint8_t sec[512], b;

	unlink(cow);
	co.layout = cow_layout_find("v1-packed", NULL);
	if (write_file(base, size, 3) || cow_create(cow, base, &co, &err) ||
	    cow_open(&cf, cow, &oo, &err)) {
		check(false, "overlap file: %s", err.msg);
		return;
	}
	check(cf.info.flags & COW_F_SHORT_BITMAP_OVERLAPS_DATA,
	      "overlap file flagged");
	memset(sec, 0, sizeof(sec));
	check(cow_write_sectors(&cf, 0, 1, sec, &err) == 0 &&
	      cow_bitmap_test(&cf, cf.info.nr_sectors - 1, &err) == 0,
	      "zero data in sector 0 leaves the last sector's bit clear");
	check(cow_write_sectors(&cf, cf.info.nr_sectors - 1, 1, sec, &err) ==
	      0 && pread(cf.fd, &b, 1, (off_t)cf.info.data_offset) == 1 &&
	      b == 1U << ((cf.info.nr_sectors - 1) % 8),
	      "the last sector's bit is sector 0's first data byte (0x%02x)",
	      b);
	/* That byte is data: it never allocates the last sector. */
	memset(sec, 0xff, sizeof(sec));
	check(cow_write_sectors(&cf, 0, 1, sec, &err) == 0 &&
	      cow_bitmap_test(&cf, cf.info.nr_sectors - 1, &err) == 0 &&
	      cow_bitmap_count(&cf, &cnt, &err) == 0 && cnt == 1 &&
	      cow_bitmap_count_padding(&cf, &lost, &err) == 0 && lost == 0,
	      "sector 0's data 0xff allocates sector 0 only (%llu, %llu)",
	      (unsigned long long)cnt, (unsigned long long)lost);
	cow_close(&cf);
}

/* Converting into a short v1/v2 bitmap refuses to lose a sector. */
static void test_convert_short(void)
{
	struct cow_create_opts co = { .order = -1 };
	struct cow_create_opts v1 = { .order = -1 };
	struct cow_open_opts oo = { .writable = true };
	struct cow_file cf;
	struct cow_err err;
	char *base = path("cs.img"), *cow = path("cs.cow");
	char *dst = path("cs1.cow");
	uint8_t sec[512];

	unlink(cow);
	unlink(dst);
	v1.layout = cow_layout_find("v1-packed", NULL);
	if (write_file(base, 1024512, 4) || cow_create(cow, base, &co, &err) ||
	    cow_open(&cf, cow, &oo, &err)) {
		check(false, "convert-short setup: %s", err.msg);
		return;
	}
	memset(sec, 0x3c, sizeof(sec));
	check(cow_write_sectors(&cf, 3, 1, sec, &err) == 0 &&
	      cow_convert(&cf, dst, &v1, NULL, &err) == 0 &&
	      unlink(dst) == 0,
	      "v3 to v1 with sector 3 allocated: %s", err.msg);
	/* sector 2000's bit lies in the v1 file's padding: kept */
	{
		struct cow_open_opts ro = { .layout = "v1-packed" };
		struct cow_file df = { .fd = -1 };
		uint64_t n = 0;

		check(cow_write_sectors(&cf, 2000, 1, sec, &err) == 0 &&
		      cow_convert(&cf, dst, &v1, NULL, &err) == 0 &&
		      cow_open(&df, dst, &ro, &err) == 0 &&
		      cow_bitmap_test(&df, 2000, &err) == 1 &&
		      cow_bitmap_count_padding(&df, &n, &err) == 0 && n == 1,
		      "v3 to v1 with sector 2000 allocated: its bit in the padding (%llu)",
		      (unsigned long long)n);
		if (df.fd >= 0)
			cow_close(&df);
		unlink(dst);
	}
	cow_close(&cf);

	/* no padding (the missing byte is the data area's): refused */
	unlink(cow);
	if (write_file(base, 232 * 4096 + 512, 4) ||
	    cow_create(cow, base, &co, &err) ||
	    cow_open(&cf, cow, &oo, &err)) {
		check(false, "convert-short setup: %s", err.msg);
		return;
	}
	check(cow_write_sectors(&cf, 1856, 1, sec, &err) == 0 &&
	      cow_convert(&cf, dst, &v1, NULL, &err) != 0 &&
	      strstr(err.msg, "sector 1856") && access(dst, F_OK) != 0,
	      "v3 to v1 with sector 1856 allocated is refused (no padding): %s",
	      err.msg);
	cow_close(&cf);
}

static void test_rebase(void)
{
	struct cow_open_opts oo = { .writable = true, .layout = "v2-packed" };
	struct cow_create_opts co = { .order = -1 };
	struct cow_file cf;
	struct cow_err err;
	uint8_t before[4120], after[4120];
	uint32_t m = 42;
	char *cow = path("rb.cow");
	int fd, diff = 0;
	size_t i;

	unlink(cow);
	co.layout = cow_layout_find("v2-packed", NULL);
	if (write_file(path("rb.img"), 65536, 5) ||
	    cow_create(cow, path("rb.img"), &co, &err) ||
	    cow_open(&cf, cow, &oo, &err)) {
		check(false, "rebase setup: %s", err.msg);
		return;
	}
	fd = cf.fd;
	check(pread(fd, before, sizeof(before), 0) == sizeof(before) &&
	      cow_write_header_fields(&cf, "/new/place/root_fs", &m, &err) ==
	      0 && pread(fd, after, sizeof(after), 0) == sizeof(after),
	      "rewrite a v2 header: %s", err.msg);
	for (i = 0; i < sizeof(before); i++)
		if (before[i] != after[i] &&
		    !(i >= 8 && i < 8 + 4096) && !(i >= 4104 && i < 4108))
			diff++;
	check(diff == 0 && strcmp((char *)after + 8, "/new/place/root_fs") ==
	      0 && get_u32(after + 4104, COW_BE) == 42,
	      "only the path and mtime changed");
	check(cow_write_header_fields(&cf, "", NULL, &err) != 0,
	      "an empty path refused: %s", err.msg);
	cow_close(&cf);

	/* a path longer than v1's 255 bytes */
	{
		char longp[300];
		struct cow_fields f = { .size = 4096, .sector_size = 512 };
		uint8_t buf[288];

		memset(longp, 'x', sizeof(longp) - 1);
		longp[0] = '/';
		longp[sizeof(longp) - 1] = 0;
		strcpy(f.backing_file, longp);
		check(cow_header_encode(cow_layout_find("v1-x86_64", NULL),
					COW_LE, &f, buf, &err) != 0 &&
		      strstr(err.msg, "at most 255"),
		      "a 299-byte path refused for v1: %s", err.msg);
	}
}

/* The target's status line, both versions (cow_map_parse_status). */
/*
 * Issue 18: cow_open_path() refuses what is not a regular file (or an
 * allowed block device) by its type, before opening it; follows a
 * symbolic link to a regular file; keeps errno.
 */
static void test_open_path(void)
{
	struct cow_err err;
	char *fifo = path("op.fifo"), *reg = path("op.img"), *ln = path("op.ln");
	int fd;

	unlink(fifo);
	unlink(ln);
	if (mkfifo(fifo, 0600) || write_file(reg, 4096, 1) || symlink(reg, ln)) {
		check(false, "open_path setup: %s", strerror(errno));
		return;
	}
	/* O_RDWR on a FIFO without a reader would fail with ENXIO if opened */
	fd = cow_open_path(fifo, O_RDWR, true, "x", &err);
	check(fd < 0 && errno == EINVAL && strstr(err.msg, "is a FIFO") &&
	      err.kind == COW_ERR_SYSTEM,
	      "a FIFO refused by its type: %s", err.msg);
	fd = cow_open_path(tmpdir, O_RDONLY, false, NULL, &err);
	check(fd < 0 && errno == EISDIR && strstr(err.msg, "a directory"),
	      "a directory refused: %s", err.msg);
	fd = cow_open_path("/dev/null", O_RDONLY, true, NULL, &err);
	check(fd < 0 && errno == EINVAL, "a character device refused: %s",
	      err.msg);
	fd = cow_open_path(ln, O_RDWR, false, NULL, &err);
	check(fd >= 0 && fcntl(fd, F_GETFL) >= 0 &&
	      (fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR &&
	      write(fd, "x", 1) == 1,
	      "a link to a regular file opened read-write: %s",
	      fd < 0 ? err.msg : "");
	if (fd >= 0)
		close(fd);
	fd = cow_open_path(path("op.none"), O_RDONLY, false, "y", &err);
	check(fd < 0 && errno == ENOENT && strstr(err.msg, "y: "),
	      "a missing file: %s", err.msg);
}

/*
 * Issue 18: an output no wider than its inputs; a truncated data area
 * refused; a copy to a layout that is not extended on creation still
 * reaches its last allocated sector (of zeros, a hole).
 */
static void test_outputs(void)
{
	struct cow_create_opts co = { .order = -1 }, q = { .order = -1 };
	struct cow_open_opts oo = { .writable = true, .layout = "v3" };
	struct cow_open_opts qo = { .layout = "qemu-x86_64" };
	const struct cow_perm in[] = { { 0, 0, 0640 }, { 0, 0, 0604 } };
	char *img = path("o.img"), *cow = path("o.cow"), *qc = path("o-q.cow");
	uint8_t zero[512] = { 0 };
	struct cow_file cf, qf;
	struct cow_err err;
	struct stat st;
	mode_t old = umask(022);
	int fd;

	/* group bits stay only where the inputs' group is the output's (0) */
	fd = open(path("o.out"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	memset(&st, 0, sizeof(st));
	if (fd >= 0 && cow_output_perm(fd, in, 1, NULL, &err) == 0)
		fstat(fd, &st);
	check((st.st_mode & 07777) == (st.st_gid == 0 ? 0640U : 0600U),
	      "one input 0640: output %o", (unsigned)(st.st_mode & 07777));
	memset(&st, 0, sizeof(st));
	if (fd >= 0 && cow_output_perm(fd, in, 2, NULL, &err) == 0)
		fstat(fd, &st);
	check((st.st_mode & 07777) == 0600,
	      "0640 and 0604: output %o", (unsigned)(st.st_mode & 07777));
	if (fd >= 0)
		close(fd);
	umask(old);

	unlink(cow);
	unlink(qc);
	if (write_file(img, 1 << 20, 2) || cow_create(cow, img, &co, &err) ||
	    cow_open(&cf, cow, &oo, &err)) {
		check(false, "outputs setup: %s", err.msg);
		return;
	}
	check(cow_data_check(&cf, &err) == 0, "an empty COW file is whole");
	check(cow_write_sectors(&cf, 2047, 1, zero, &err) == 0 &&
	      cow_data_check(&cf, &err) == 0, "written to the end: whole");
	check(ftruncate(cf.fd, (off_t)(cf.info.data_offset + 1024 * 512)) ==
	      0 && cow_data_check(&cf, &err) != 0 &&
	      err.kind == COW_ERR_INVALID && strstr(err.msg, "no data"),
	      "truncated: refused: %s", err.msg);
	check(cow_merge(&cf, -1, -1, NULL, &err) != 0 &&
	      strstr(err.msg, "no data"), "merge refuses it: %s", err.msg);
	check(cow_convert(&cf, qc, &q, NULL, &err) != 0 &&
	      access(qc, F_OK) != 0, "upgrade refuses it: %s", err.msg);
	check(ftruncate(cf.fd, (off_t)(cf.info.data_offset + (1 << 20))) == 0,
	      "whole again");
	q.layout = cow_layout_find("qemu-x86_64", NULL);
	check(cow_convert(&cf, qc, &q, NULL, &err) == 0 &&
	      cow_open(&qf, qc, &qo, &err) == 0,
	      "a copy to qemu-x86_64: %s", err.msg);
	if (access(qc, F_OK) == 0 && qf.fd >= 0) {
		check(cow_data_check(&qf, &err) == 0,
		      "it reaches its last allocated sector (zeros): %s",
		      err.msg);
		cow_close(&qf);
	}
	cow_close(&cf);
}

static void test_map_status(void)
{
	struct cow_map_status st;

	check(cow_map_parse_status("12/2048 3 rw writable 4608", false, &st) == 0 &&
	      st.allocated == 12 && st.total == 2048 && st.dirty == 3 &&
	      !strcmp(st.mode, "rw") && !strcmp(st.access, "writable") &&
	      st.have_memory && st.memory == 4608,
	      "status 1.1.0, writable");
	check(cow_map_parse_status("0/8 0 fail read_only 512", false, &st) == 0 &&
	      !strcmp(st.mode, "fail") && !strcmp(st.access, "read_only"),
	      "status 1.1.0, failed, read_only");
	check(cow_map_parse_status("5/8 1 ro", true, &st) == 0 &&
	      !strcmp(st.mode, "rw") && !strcmp(st.access, "read_only") &&
	      !st.have_memory,
	      "status 1.0.0, a read_only table: access read_only, mode rw");
	check(cow_map_parse_status("5/8 1 ro", false, &st) == 0 &&
	      !strcmp(st.mode, "ro") && !strcmp(st.access, "writable"),
	      "status 1.0.0, a writable table degraded: mode ro");
	check(cow_map_parse_status("5/8 1 rw writable", false, &st) != 0 &&
	      cow_map_parse_status("5/8 1 bogus", false, &st) != 0 &&
	      cow_map_parse_status("9/8 1 rw", false, &st) != 0 &&
	      cow_map_parse_status("5/8 1 rw writable 1 x", false, &st) != 0 &&
	      cow_map_parse_status("", false, &st) != 0,
	      "status: other lines refused");
}

static void test_layout_names(void)
{
	int o;

	check(cow_layout_find("v1-packed-be", &o) == &cow_layouts[0] &&
	      o == COW_BE, "v1-packed-be names v1-packed, big-endian");
	check(cow_layout_find("v3-le", &o) == NULL,
	      "v3-le is not a layout (v3 is always big-endian)");
	check(cow_layout_find("v9", &o) == NULL, "v9 is not a layout");
	check(strcmp(cow_layout_field_at(&cow_layouts[6], 10), "mtime") == 0 &&
	      strcmp(cow_layout_field_at(&cow_layouts[7], 34), "cow_format") ==
	      0 && strcmp(cow_layout_field_at(&cow_layouts[1], 284),
			  "padding") == 0,
	      "field names by offset");
}

static int write_seeds(const char *dir)
{
	size_t i;

	for (i = 0; i < NR_LAYOUT_NAMES; i++) {
		struct hdr h;
		struct cow_info ci;
		struct cow_err err;
		char p[512];
		FILE *f;
		uint64_t n;

		/* an 8 KiB image with sectors 0 and 2 allocated */
		mkhdr(&h, layout_names[i], 8192);
		if (detect(&h, &ci, &err)) {
			fprintf(stderr, "%s: %s\n", layout_names[i], err.msg);
			return 1;
		}
		snprintf(p, sizeof(p), "%s/%s", dir, layout_names[i]);
		f = fopen(p, "w");
		if (!f) {
			perror(p);
			return 1;
		}
		for (n = 0; n < h.file_size; n++) {
			uint8_t c = n < BUFSZ ? h.buf[n] : 0;

			if (n == ci.bitmap_offset)
				c = 0x05;
			else if (n >= ci.data_offset)
				c = (uint8_t)n;
			fputc(c, f);
		}
		if (fclose(f)) {
			perror(p);
			return 1;
		}
	}
	return 0;
}

/* ---- printing untrusted strings (cli/quote.c, cli/json.c) ------------ */

/* @in through json_write_string(), as a malloc'd string. */
static char *json_of(const char *in)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	json_write_string(f, in);
	fclose(f);
	return buf;
}

static void test_quote(void)
{
	static const struct {
		const char *in, *q, *json;
	} cases[] = {
		{ "plain/path.img", "plain/path.img", "\"plain/path.img\"" },
		{ "a b\\c", "a b\\c", "\"a b\\\\c\"" },
		{ "q\"", "q\"", "\"q\\\"\"" },
		/* C0, DEL */
		{ "\x1b[2J\n\t\x7f", "\\x1b[2J\\x0a\\x09\\x7f",
		  "\"\\u001b[2J\\n\\t\\u007f\"" },
		/* C1 in UTF-8: U+009B (CSI), U+0080, U+009F */
		{ "a\xc2\x9b" "2Jb", "a\\xc2\\x9b" "2Jb", "\"a\\u009b2Jb\"" },
		{ "\xc2\x80\xc2\x9f", "\\xc2\\x80\\xc2\\x9f",
		  "\"\\u0080\\u009f\"" },
		/* U+00A0 and U+00DB (c3 9b) are shown */
		{ "\xc2\xa0\xc3\x9b", "\xc2\xa0\xc3\x9b", "\"\xc2\xa0\xc3\x9b\"" },
		/* bidirectional embeddings, overrides, isolates */
		{ "\xe2\x80\xaa\xe2\x80\xae", "\\xe2\\x80\\xaa\\xe2\\x80\\xae",
		  "\"\\u202a\\u202e\"" },
		{ "\xe2\x81\xa6\xe2\x81\xa9", "\\xe2\\x81\\xa6\\xe2\\x81\\xa9",
		  "\"\\u2066\\u2069\"" },
		/* zero width: U+200B, U+200F, U+2060, U+FEFF */
		{ "\xe2\x80\x8b\xe2\x80\x8f", "\\xe2\\x80\\x8b\\xe2\\x80\\x8f",
		  "\"\\u200b\\u200f\"" },
		{ "\xe2\x81\xa0\xef\xbb\xbf", "\\xe2\\x81\\xa0\\xef\\xbb\\xbf",
		  "\"\\u2060\\ufeff\"" },
		/* neighbours that are shown: U+2010, U+2070, U+FEFE */
		{ "\xe2\x80\x90\xe2\x81\xb0\xef\xbb\xbe",
		  "\xe2\x80\x90\xe2\x81\xb0\xef\xbb\xbe",
		  "\"\xe2\x80\x90\xe2\x81\xb0\xef\xbb\xbe\"" },
		/* not UTF-8: a lone byte, overlong, surrogate, > U+10FFFF, cut */
		{ "\xff", "\\xff", "\"\xef\xbf\xbd\"" },
		{ "\xc0\x80", "\\xc0\\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ "\xed\xa0\x80", "\\xed\\xa0\\x80",
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ "\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80",
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
		{ "x\xe2\x80", "x\\xe2\\x80", "\"x\xef\xbf\xbd\xef\xbf\xbd\"" },
		/* a 4-byte character is shown */
		{ "\xf0\x9f\x90\xae", "\xf0\x9f\x90\xae", "\"\xf0\x9f\x90\xae\"" },
		/* ALM U+061C, LRM U+200E, soft hyphen U+00AD, U+2064 */
		{ "\xd8\x9c\xe2\x80\x8e", "\\xd8\\x9c\\xe2\\x80\\x8e",
		  "\"\\u061c\\u200e\"" },
		{ "\xc2\xad\xe2\x81\xa4", "\\xc2\\xad\\xe2\\x81\\xa4",
		  "\"\\u00ad\\u2064\"" },
		/* a variation selector, a tag (a surrogate pair in JSON) */
		{ "\xef\xb8\x8f\xf3\xa0\x80\x81",
		  "\\xef\\xb8\\x8f\\xf3\\xa0\\x80\\x81",
		  "\"\\ufe0f\\udb40\\udc01\"" },
		/* overlong '/' and an overlong 3-byte NUL */
		{ "\xc0\xaf\xe0\x80\x80", "\\xc0\\xaf\\xe0\\x80\\x80",
		  "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
	};
	/* outside a UTF-8 locale: every byte from 0x80 up, JSON in ASCII */
	static const struct {
		const char *in, *q, *json;
	} ascii[] = {
		{ "plain", "plain", "\"plain\"" },
		{ "\xc3\xa9\xc2\xa0", "\\xc3\\xa9\\xc2\\xa0",
		  "\"\\u00e9\\u00a0\"" },
		{ "a\x9b" "2J\xc2\x9b", "a\\x9b" "2J\\xc2\\x9b",
		  "\"a\\ufffd2J\\u009b\"" },
		{ "\xf0\x9f\x90\xae\xe2\x80\xae",
		  "\\xf0\\x9f\\x90\\xae\\xe2\\x80\\xae",
		  "\"\\ud83d\\udc2e\\u202e\"" },
	};

	cli_q_set_utf8(true);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *q = cli_q(cases[i].in);
		char *j = json_of(cases[i].in);

		check(!strcmp(q, cases[i].q), "quote case %zu: cli_q gives %s",
		      i, cli_q(q));
		check(!strcmp(cli_q(q), q), "quote case %zu: cli_q is idempotent",
		      i);
		check(cli_q_plain(cases[i].in) == !strcmp(q, cases[i].in),
		      "quote case %zu: cli_q_plain says whether cli_q changes it",
		      i);
		check(j && !strcmp(j, cases[i].json),
		      "quote case %zu: JSON gives %s", i, j ? cli_q(j) : "NULL");
		free(j);
	}
	check(!strcmp(cli_q(NULL), "(null)"), "cli_q(NULL)");

	cli_q_set_utf8(false);
	for (size_t i = 0; i < sizeof(ascii) / sizeof(ascii[0]); i++) {
		const char *q = cli_q(ascii[i].in);
		char *j = json_of(ascii[i].in);

		check(!strcmp(q, ascii[i].q), "ASCII quote case %zu: cli_q gives %s",
		      i, cli_q(q));
		check(!strcmp(cli_q(q), q),
		      "ASCII quote case %zu: cli_q is idempotent", i);
		check(cli_q_plain(ascii[i].in) == !strcmp(q, ascii[i].in),
		      "ASCII quote case %zu: cli_q_plain agrees", i);
		check(j && !strcmp(j, ascii[i].json),
		      "ASCII quote case %zu: JSON gives %s", i, j ? cli_q(j) : "NULL");
		free(j);
	}
	cli_q_set_utf8(true);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
		return write_seeds(argv[2]);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_quote();
	test_layout_names();
	test_map_status();
	test_layouts();
	test_mtime_bytes();
	test_known_geometry();
	test_v1_orders();
	test_short_bitmap();
	test_ambiguity();
	test_malformed();
	{
		size_t i;

		for (i = 0; i < NR_LAYOUT_NAMES; i++) {
			test_files(layout_names[i], 1 << 20);
			/* odd sizes: short bitmaps, partial last sector */
			test_files(layout_names[i], (1 << 20) + 1024);
			if (strncmp(layout_names[i], "qemu", 4) != 0)
				test_files(layout_names[i], (1 << 20) + 700);
		}
	}
	test_overlap_file();
	test_convert_short();
	test_rebase();
	test_open_path();
	test_outputs();

	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
