// SPDX-License-Identifier: GPL-2.0
/*
 * holders - what holds a block device (see holders.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "holders.h"
#include "sysline.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* /sys/class/block/@dev/dm/name into @buf, or "" when it has none. */
static void dm_name(const char *dev, char *buf, size_t len)
{
	char path[320];

	snprintf(path, sizeof(path), "/sys/class/block/%s/dm/name", dev);
	if (sys_read_line(path, buf, len))
		buf[0] = '\0';
}

int holders_of(unsigned int major, unsigned int minor, char *buf,
	       size_t len)
{
	char path[96], name[160];
	struct dirent *de;
	size_t used = 0;
	int count = 0;
	DIR *dir;

	if (len)
		buf[0] = '\0';
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/holders", major,
		 minor);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		int n;

		if (de->d_name[0] == '.')
			continue;
		dm_name(de->d_name, name, sizeof(name));
		if (used < len) {
			n = snprintf(buf + used, len - used, "%s%s%s%s%s",
				     count ? ", " : "", de->d_name,
				     name[0] ? " (" : "", name,
				     name[0] ? ")" : "");
			used += n > 0 ? (size_t)n : 0;
		}
		count++;
	}
	closedir(dir);
	return count;
}
