// SPDX-License-Identifier: GPL-2.0
/*
 * rawio: exact-size O_DIRECT reads and writes of a block device, for use
 * inside User-Mode Linux (tests/uml/mkrootfs links it statically into the
 * test root image as /bin/rawio).
 *
 * busybox dd is not enough there: when O_DIRECT fails (a buffer that is not
 * aligned, a partial block) it quietly falls back to buffered I/O, so a
 * "512-byte direct write" becomes a read-modify-write of a 4 KiB page and
 * the I/O size one means to test is not the one UML sees.  rawio uses
 * page-aligned buffers, never falls back, and fails loudly instead.
 *
 *   rawio read  DEV BS [SECTOR COUNT]   DEV to stdout, COUNT 512-byte sectors
 *                                       from SECTOR (default: all of DEV),
 *                                       in O_DIRECT reads of BS bytes
 *   rawio write DEV BS SECTOR COUNT     stdin to DEV, same units
 *   rawio size  DEV                     DEV's size in bytes
 *
 * BS must be a multiple of 512; the last read or write may be shorter when
 * COUNT * 512 is not a multiple of BS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static const char *prog = "rawio";

static void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

static uint64_t number(const char *s, const char *what)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end) {
		fprintf(stderr, "%s: bad %s '%s'\n", prog, what, s);
		exit(2);
	}
	return v;
}

/* Read or write exactly len bytes of the std stream, or fewer at its end. */
static size_t stream_io(int fd, char *buf, size_t len, int writing)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = writing ? write(fd, buf + done, len - done)
				    : read(fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die(writing ? "write to stdout" : "read from stdin");
		}
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s read DEV BS [SECTOR COUNT]\n"
		"       %s write DEV BS SECTOR COUNT\n"
		"       %s size DEV\n", prog, prog, prog);
	exit(2);
}

int main(int argc, char **argv)
{
	uint64_t bs, sector = 0, count, size, off, end;
	int writing, fd;
	char *buf;

	if (argc < 3)
		usage();
	if (!strcmp(argv[1], "size")) {
		fd = open(argv[2], O_RDONLY);
		if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size))
			die(argv[2]);
		printf("%" PRIu64 "\n", size);
		return 0;
	}
	writing = !strcmp(argv[1], "write");
	if (!writing && strcmp(argv[1], "read"))
		usage();
	if (writing ? argc != 6 : (argc != 4 && argc != 6))
		usage();

	fd = open(argv[2], (writing ? O_WRONLY : O_RDONLY) | O_DIRECT);
	if (fd < 0)
		die(argv[2]);
	if (ioctl(fd, BLKGETSIZE64, &size))
		die("BLKGETSIZE64");
	bs = number(argv[3], "block size");
	if (bs == 0 || bs % 512 || bs > (64 << 20)) {
		fprintf(stderr, "%s: block size must be a multiple of 512, at most 64 MiB\n", prog);
		return 2;
	}
	if (argc == 6) {
		sector = number(argv[4], "sector");
		count = number(argv[5], "count");
	} else {
		count = size / 512;
	}
	if (sector > size / 512 || count > size / 512 - sector) {
		fprintf(stderr, "%s: sectors %" PRIu64 "+%" PRIu64 " past the end of %s\n",
			prog, sector, count, argv[2]);
		return 1;
	}
	if (posix_memalign((void **)&buf, 4096, bs))
		die("posix_memalign");

	off = sector * 512;
	end = off + count * 512;
	while (off < end) {
		size_t len = end - off < bs ? end - off : bs;
		ssize_t n;

		if (writing) {
			if (stream_io(0, buf, len, 0) != len) {
				fprintf(stderr, "%s: stdin ended early\n", prog);
				return 1;
			}
			n = pwrite(fd, buf, len, off);
		} else {
			n = pread(fd, buf, len, off);
		}
		if (n < 0)
			die(writing ? "pwrite" : "pread");
		if ((size_t)n != len) {
			fprintf(stderr, "%s: short %s at byte %" PRIu64 ": %zd of %zu\n",
				prog, writing ? "write" : "read", off, n, len);
			return 1;
		}
		if (!writing)
			stream_io(1, buf, len, 1);
		off += len;
	}
	if (writing && fsync(fd))
		die("fsync");
	return 0;
}
