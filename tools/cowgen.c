// SPDX-License-Identifier: GPL-2.0
/*
 * cowgen - put known data into COW files, for tests (not installed).
 *
 *   cowgen fill FILE.cow --seed N --percent P [--layout L]
 *	allocate about P% of the sectors, in runs of 1 to 64 sectors, with
 *	data that depends only on (N, sector): the first 8 bytes are the
 *	sector number (little-endian), the rest pseudo-random; one run in 16
 *	is written as zeros (allocated, but reading zeros)
 *   cowgen write FILE.cow SECTOR HEXBYTE [COUNT] [--layout L]
 *	write COUNT (default 1) sectors filled with the byte HEXBYTE
 *   cowgen setbit FILE.cow BIT [--layout L]
 *	set bit BIT of the bitmap as stored, even past the last sector
 *	(within the bitmap's last byte), without writing data
 *
 * Exit status 0 on success, 1 on failure, 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowfmt.h"

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void sector_data(uint8_t *p, uint32_t ss, uint64_t seed, uint64_t n)
{
	uint64_t st = seed * 0x100000001b3ULL ^ n, v;
	uint32_t i;

	for (i = 0; i < ss; i += 8) {
		v = i == 0 ? n : splitmix64(&st);
		memcpy(p + i, &v, 8);
	}
}

static int usage(void)
{
	fprintf(stderr,
		"usage: cowgen fill FILE.cow --seed N --percent P [--layout L]\n"
		"       cowgen write FILE.cow SECTOR HEXBYTE [COUNT] [--layout L]\n"
		"       cowgen setbit FILE.cow BIT [--layout L]\n");
	return 2;
}

static int num(const char *s, uint64_t *v, int base)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, base);
	return errno || !*s || *end || *s == '-' ? -1 : 0;
}

static int fill(struct cow_file *cf, uint64_t seed, uint64_t pct,
		struct cow_err *err)
{
	const struct cow_info *ci = &cf->info;
	uint64_t st = seed, s = 0, runs = 0;
	uint8_t *buf = malloc((size_t)64 * ci->sector_size);
	int ret = -1;

	if (!buf) {
		cow_seterr(err, "out of memory");
		return -1;
	}
	while (s < ci->nr_sectors) {
		uint64_t len = 1 + splitmix64(&st) % 64, i;
		bool alloc = splitmix64(&st) % 100 < pct;

		if (len > ci->nr_sectors - s)
			len = ci->nr_sectors - s;
		if (alloc) {
			bool zero = ++runs % 16 == 0;

			for (i = 0; i < len; i++) {
				uint8_t *p = buf + i * ci->sector_size;

				if (zero)
					memset(p, 0, ci->sector_size);
				else
					sector_data(p, ci->sector_size, seed,
						    s + i);
			}
			if (cow_write_sectors(cf, s, len, buf, err))
				goto out;
		}
		s += len;
	}
	if (cow_fsync(cf->fd, NULL, err))
		goto out;
	ret = 0;
out:
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	struct cow_open_opts oo = { .writable = true };
	const char *pos[5];
	uint64_t seed = 0, pct = 50, a, b, c = 1;
	bool have_seed = false;
	struct cow_file cf;
	struct cow_err err;
	int i, np = 0, ret = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc) {
			oo.layout = argv[++i];
		} else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
			if (num(argv[++i], &seed, 10))
				return usage();
			have_seed = true;
		} else if (strcmp(argv[i], "--percent") == 0 && i + 1 < argc) {
			if (num(argv[++i], &pct, 10) || pct > 100)
				return usage();
		} else if (argv[i][0] == '-' || np == 5) {
			return usage();
		} else {
			pos[np++] = argv[i];
		}
	}
	if (np < 2)
		return usage();
	if (cow_open(&cf, pos[1], &oo, &err)) {
		fprintf(stderr, "cowgen: %s: %s\n", pos[1], err.msg);
		return 1;
	}

	if (strcmp(pos[0], "fill") == 0 && np == 2 && have_seed) {
		ret = fill(&cf, seed, pct, &err) ? 1 : 0;
	} else if (strcmp(pos[0], "write") == 0 && (np == 4 || np == 5)) {
		uint8_t *buf;

		if (num(pos[2], &a, 0) || num(pos[3], &b, 16) || b > 255 ||
		    (np == 5 && (num(pos[4], &c, 0) || c == 0 || c > 4096))) {
			cow_close(&cf);
			return usage();
		}
		buf = malloc(c * cf.info.sector_size);
		if (!buf) {
			cow_seterr(&err, "out of memory");
		} else {
			memset(buf, (int)b, c * cf.info.sector_size);
			ret = cow_write_sectors(&cf, a, c, buf, &err) ? 1 : 0;
			free(buf);
		}
	} else if (strcmp(pos[0], "setbit") == 0 && np == 3) {
		uint8_t byte;

		if (num(pos[2], &a, 0)) {
			cow_close(&cf);
			return usage();
		}
		ret = 1;
		if (a / 8 >= cf.info.bitmap_span)
			cow_seterr(&err, "bit %llu is past the bitmap",
				   (unsigned long long)a);
		else if (cow_bitmap_read(&cf, a / 8, &byte, 1, &err) == 0) {
			byte |= (uint8_t)(1U << (a % 8));
			ret = cow_pwrite_full(cf.fd, &byte, 1,
					      cf.info.bitmap_offset + a / 8,
					      &err) ? 1 : 0;
		}
	} else {
		cow_close(&cf);
		return usage();
	}
	if (ret)
		fprintf(stderr, "cowgen: %s: %s\n", pos[1], err.msg);
	cow_close(&cf);
	return ret;
}
