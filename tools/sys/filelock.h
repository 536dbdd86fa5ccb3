/* SPDX-License-Identifier: GPL-2.0 */
/*
 * filelock - take the locks UML takes, so a running UML and a host mapping
 * cannot both use a COW file.
 *
 * UML (arch/um/os-Linux/file.c, os_lock_file) holds a classic POSIX fcntl
 * lock over the whole file: a write lock on a COW file it opens read-write,
 * a read lock on its backing file (and on a COW file opened read-only). We
 * take the same kind of lock with open file description locks (F_OFD_SETLK)
 * on the very file description that is handed to a loop device: the loop
 * device holds that description, so the lock lives exactly as long as the
 * loop device does. On Linux OFD and POSIX locks conflict with each other.
 */
#ifndef UMLCOW_FILELOCK_H
#define UMLCOW_FILELOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Who holds a lock that conflicts with ours. */
struct filelock_holder {
	bool known;		/* the fields below are filled */
	bool ofd;		/* an OFD lock: the kernel names no process */
	bool write;		/* a write (exclusive) lock */
	pid_t pid;		/* the POSIX lock holder, 0 when ofd */
	char comm[64];		/* its /proc/PID/comm, "" when unknown */
};

/*
 * Lock the whole file open on @fd: a write lock when @exclusive (@fd must be
 * open for writing), else a read lock (@fd open for reading). Never waits.
 *
 * Returns 0; -EAGAIN when a conflicting lock is held, with @holder filled
 * (if not NULL) as far as the kernel tells; or another negative errno.
 */
int filelock_take(int fd, bool exclusive, struct filelock_holder *holder);

/*
 * Describe @holder in @buf for a message, e.g.
 * "process 1234 (linux) holds a write lock on it" or
 * "another program holds a read lock on it through an open file description".
 */
void filelock_describe(const struct filelock_holder *holder, char *buf,
		       size_t len);

/*
 * How a caller words a lock refused by a conflict: what the file is, a
 * question after the holder, what did not happen.
 */
struct filelock_words {
	bool backing;		/* "the backing file is in use", not "in use" */
	bool bracket;		/* the holder in parentheses: "in use (HOLDER)" */
	const char *hint;	/* NULL, or "is UML running on it?" */
	const char *outcome;	/* "not mapped", "not served", ... */
};

/*
 * Why filelock_take() refused (its return @err), for a message
 * "FILE: <buf>": "cannot lock: ERROR", or for a conflict (-EAGAIN, the
 * holder @holder) "[the backing file is ]in use: HOLDER[ (HINT)]; OUTCOME",
 * or with @w->bracket "in use (HOLDER); OUTCOME". The one wording of a
 * refused lock, for umlcow-setup's commands, act_lock() and the plugin.
 */
void filelock_refusal(int err, const struct filelock_holder *holder,
		      const struct filelock_words *w, char *buf, size_t len);

#endif /* UMLCOW_FILELOCK_H */
