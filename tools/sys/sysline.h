/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sysline - read a one-line file of the kernel's (/sys, /proc): for
 * loopdev, filelock and holders.
 */
#ifndef UMLCOW_SYSLINE_H
#define UMLCOW_SYSLINE_H

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

/*
 * The first line of @path into @buf, without its newline. Returns 0, or a
 * negative errno (-ENAMETOOLONG when the line does not fit: @buf then holds
 * its start). Inline: the host tests build sys/ files one by one.
 */
static inline int sys_read_line(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0) {
		int err = -errno;

		close(fd);
		buf[0] = '\0';
		return err;
	}
	close(fd);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	else if ((size_t)n == len - 1)
		return -ENAMETOOLONG;
	return 0;
}

#endif /* UMLCOW_SYSLINE_H */
