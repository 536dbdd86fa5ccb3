// SPDX-License-Identifier: GPL-2.0
/*
 * loop-attach - attach a file to a loop device with sys/loopdev.c and
 * detach it again; for tests/host/400, which runs it under loopshim.so.
 *
 *   loop-attach [--read-only] FILE [CMD]
 *
 * Prints "attached /dev/loopN" or "error: MESSAGE" (exit 1).  CMD, if
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
	bool ro = argc >= 3 && !strcmp(argv[1], "--read-only");
	const char *cmd = argc == 3 + ro ? argv[2 + ro] : NULL;
	struct loopdev ld;
	int fd, err;

	if (argc != 2 + ro && argc != 3 + ro) {
		fprintf(stderr, "usage: loop-attach [--read-only] FILE [CMD]\n");
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
	if (cmd) {
		fflush(stdout);
		setenv("LOOPDEV", ld.path, 1);
		printf("command: status %d\n", system(cmd));
	}
	loopdev_detach(&ld);
	return 0;
}
