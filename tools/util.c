// SPDX-License-Identifier: GPL-2.0
/*
 * util.c - error messages and full-length I/O for the COW library.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cowfmt.h"

void cow_seterr(struct cow_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->kind = COW_ERR_INVALID;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

int cow_pread_full(int fd, void *buf, size_t len, uint64_t off,
		   struct cow_err *err)
{
	char *p = buf;

	if (off > (uint64_t)INT64_MAX - len) {
		cow_seterr(err, "read at offset %llu overflows",
			   (unsigned long long)off);
		return -1;
	}
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			cow_seterr(err, "read at offset %llu: %s",
				   (unsigned long long)off, strerror(errno));
			if (err)
				err->kind = COW_ERR_SYSTEM;
			return -1;
		}
		if (n == 0) {	/* past the end of the file: zeros */
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int cow_pwrite_full(int fd, const void *buf, size_t len, uint64_t off,
		    struct cow_err *err)
{
	const char *p = buf;

	if (off > (uint64_t)INT64_MAX - len) {
		cow_seterr(err, "write at offset %llu overflows",
			   (unsigned long long)off);
		return -1;
	}
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			cow_seterr(err, "write at offset %llu: %s",
				   (unsigned long long)off, strerror(errno));
			if (err)
				err->kind = COW_ERR_SYSTEM;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

bool cow_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* Compare the buffer with itself shifted by one byte. */
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

bool cow_is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}
