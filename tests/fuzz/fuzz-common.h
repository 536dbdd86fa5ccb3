/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz-common.h - what both fuzz targets check of a parsed header, and the
 * memfd they read an input through (one per process, reused).
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cowfmt.h"

/* An accepted header describes a bitmap and a data area inside the file. */
static inline void fuzz_invariants(const struct cow_info *ci, size_t size)
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

/*
 * A memfd of @len bytes holding @data (NULL: zeros); *@fd is created on the
 * first call and truncated and rewritten on the next ones. -1 on failure.
 */
static inline int fuzz_memfd(int *fd, const void *data, size_t len)
{
	if (*fd < 0)
		*fd = memfd_create("fuzz-cow", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, 0) < 0)
		return -1;
	if (data && len) {
		if (pwrite(*fd, data, len, 0) != (ssize_t)len)
			return -1;
	} else if (ftruncate(*fd, (off_t)len) < 0) {
		return -1;
	}
	return *fd;
}

/* @cf reads @data (parsed as @ci) through the memfd *@fd. -1 on failure. */
static inline int fuzz_file(struct cow_file *cf, int *fd, const uint8_t *data,
			    size_t size, const struct cow_info *ci)
{
	memset(cf, 0, sizeof(*cf));
	cf->fd = fuzz_memfd(fd, data, size);
	cf->info = *ci;
	strcpy(cf->why, "fuzz");
	return cf->fd < 0 ? -1 : 0;
}

#endif
