// SPDX-License-Identifier: GPL-2.0
/*
 * filelock - UML-compatible whole-file locks on open file descriptions
 * (see filelock.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "filelock.h"
#include "sysline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void read_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
	if (sys_read_line(path, buf, len))
		buf[0] = '\0';
}

/* Ask the kernel who holds a lock that conflicts with @type over the file. */
static void find_holder(int fd, short type, struct filelock_holder *holder)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0,
		.l_pid = 0,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl) < 0 || fl.l_type == F_UNLCK)
		return;
	holder->known = true;
	holder->write = fl.l_type == F_WRLCK;
	/* Linux reports l_pid == -1 for a lock held by an open file description. */
	if (fl.l_pid <= 0) {
		holder->ofd = true;
		return;
	}
	holder->pid = fl.l_pid;
	read_comm(fl.l_pid, holder->comm, sizeof(holder->comm));
}

int filelock_take(int fd, bool exclusive, struct filelock_holder *holder)
{
	short type = exclusive ? F_WRLCK : F_RDLCK;
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = 0,
		.l_len = 0,	/* to the end of the file, however it grows */
		.l_pid = 0,	/* must be 0 for OFD locks */
	};
	int err;

	if (holder)
		memset(holder, 0, sizeof(*holder));
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	err = errno;
	if (err == EACCES)
		err = EAGAIN;	/* POSIX allows either for a conflict */
	if (err == EAGAIN && holder)
		find_holder(fd, type, holder);
	return -err;
}

void filelock_describe(const struct filelock_holder *holder, char *buf,
		       size_t len)
{
	const char *kind;

	if (!holder->known) {
		snprintf(buf, len, "another process holds a lock on it");
		return;
	}
	kind = holder->write ? "a write lock" : "a read lock";
	if (holder->ofd)
		snprintf(buf, len,
			 "another program holds %s on it through an open file description",
			 kind);
	else if (holder->comm[0])
		snprintf(buf, len, "process %ld (%s) holds %s on it",
			 (long)holder->pid, holder->comm, kind);
	else
		snprintf(buf, len, "process %ld holds %s on it",
			 (long)holder->pid, kind);
}

void filelock_refusal(int err, const struct filelock_holder *holder,
		      const struct filelock_words *w, char *buf, size_t len)
{
	char who[256], hint[256] = "";

	if (err != -EAGAIN) {
		snprintf(buf, len, "cannot lock: %s", strerror(-err));
		return;
	}
	filelock_describe(holder, who, sizeof(who));
	if (w->hint)
		snprintf(hint, sizeof(hint), " (%s)", w->hint);
	snprintf(buf, len, "%sin use%s%s%s%s; %s",
		 w->backing ? "the backing file is " : "",
		 w->bracket ? " (" : ": ", who, w->bracket ? ")" : "", hint,
		 w->outcome);
}
