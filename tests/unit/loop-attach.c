// SPDX-License-Identifier: GPL-2.0
/*
 * loop-attach - attach a file to a loop device with sys/loopdev.c and
 * detach it again; for tests/host/400, which runs it under loopshim.so.
 *
 *   loop-attach [--read-only] [--direct-io] FILE [CMD]
 *
 * Prints "attached /dev/loopN" (and "direct I/O: on|off" with --direct-io)
 * or "error: MESSAGE" (exit 1).  CMD, if
 * given, runs through sh while the device is attached and still open here,
 * with its path in $LOOPDEV; its exit status is printed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loopdev.h"

int main(int argc, char **argv)
{
	unsigned int flags = 0;
	const char *file, *cmd;
	struct loopdev ld;
	int fd, err, i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--read-only"))
			flags |= LOOPDEV_READ_ONLY;
		else if (!strcmp(argv[i], "--direct-io"))
			flags |= LOOPDEV_DIRECT_IO;
		else
			break;
	if (argc - i != 1 && argc - i != 2) {
		fprintf(stderr, "usage: loop-attach [--read-only] [--direct-io] FILE [CMD]\n");
		return 2;
	}
	file = argv[i];
	cmd = argc - i == 2 ? argv[i + 1] : NULL;
	fd = open(file, (flags & LOOPDEV_READ_ONLY ? O_RDONLY : O_RDWR) |
		  O_CLOEXEC);
	if (fd < 0) {
		perror(file);
		return 2;
	}
	err = loopdev_attach(fd, flags, file, &ld);
	close(fd);
	if (err) {
		printf("error: %s\n", loopdev_strerror(err));
		return 1;
	}
	printf("attached %s\n", ld.path);
	if (flags & LOOPDEV_DIRECT_IO)
		printf("direct I/O: %s\n", ld.direct_io ? "on" : "off");
	if (cmd) {
		fflush(stdout);
		setenv("LOOPDEV", ld.path, 1);
		printf("command: status %d\n", system(cmd));
	}
	loopdev_detach(&ld);
	return 0;
}
