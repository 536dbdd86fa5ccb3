// SPDX-License-Identifier: GPL-2.0
/*
 * loop-attach - attach a file to a loop device with sys/loopdev.c and
 * detach it again; for tests/host/400, which runs it under loopshim.so.
 *
 *   loop-attach [--read-only] FILE
 *
 * Prints "attached /dev/loopN" or "error: MESSAGE" (exit 1).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loopdev.h"

int main(int argc, char **argv)
{
	bool ro = argc == 3 && !strcmp(argv[1], "--read-only");
	struct loopdev ld;
	int fd, err;

	if (argc != 2 + ro) {
		fprintf(stderr, "usage: loop-attach [--read-only] FILE\n");
		return 2;
	}
	fd = open(argv[1 + ro], (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		perror(argv[1 + ro]);
		return 2;
	}
	err = loopdev_attach(fd, ro, argv[1 + ro], &ld);
	close(fd);
	if (err) {
		printf("error: %s\n", loopdev_strerror(err));
		return 1;
	}
	printf("attached %s\n", ld.path);
	loopdev_detach(&ld);
	return 0;
}
