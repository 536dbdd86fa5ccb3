// SPDX-License-Identifier: GPL-2.0
/*
 * output.c - atomic output files (see output.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"

/* The temporary file a signal must remove (one at a time). */
static char *volatile pending;

static void on_signal(int sig)
{
	char *p = pending;

	if (p)
		unlink(p);
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * SIGQUIT and SIGXFSZ (a file size limit, ulimit -f) kill as surely as
 * SIGTERM does; SIGPIPE, a progress bar's reader gone.
 */
static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGXFSZ,
			    SIGPIPE };
#define NR_SIGS (sizeof(sigs) / sizeof(sigs[0]))

static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NR_SIGS; i++) {
		struct sigaction old;

		/* A signal ignored on entry (nohup, a background job) stays so. */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Block (@block) or unblock the signals above. */
static void hold_signals(bool block, sigset_t *old)
{
	sigset_t set;

	if (!block) {
		sigprocmask(SIG_SETMASK, old, NULL);
		return;
	}
	sigemptyset(&set);
	for (size_t i = 0; i < NR_SIGS; i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, old);
}

/* A free name ".BASE.umlcow-XXXXXX" next to @final, malloc'd, or NULL. */
static char *temp_name(const char *final)
{
	const char *slash = strrchr(final, '/');
	const char *base = slash ? slash + 1 : final;
	size_t dlen = slash ? (size_t)(slash - final) + 1 : 0;
	unsigned int rnd = 0;
	char *tmp;

	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned int)getpid() ^ (unsigned int)time(NULL);
	if (asprintf(&tmp, "%.*s.%s.umlcow-%06x", (int)dlen, final, base,
		     rnd & 0xffffff) < 0)
		return NULL;
	return tmp;
}

/*
 * An unnamed file in @dir, when the file system makes one and /proc is
 * there to link it by (linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH);
 * -1 otherwise (an old kernel says EISDIR, a file system without it
 * EOPNOTSUPP), and the caller makes a named one.
 */
static int open_anonymous(const char *dir, unsigned int mode)
{
	if (access("/proc/self/fd", X_OK) < 0)
		return -1;
	return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, (mode_t)mode);
}

int cli_output_begin(struct cli_output *out, const char *final,
		     bool overwrite, bool can_overwrite, unsigned int mode)
{
	const char *slash = strrchr(final, '/');
	struct stat st;
	char *dir;

	out->final = final;
	out->fd = -1;
	out->anonymous = false;
	out->tmp = NULL;
	out->overwrite = overwrite;
	if (lstat(final, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			/* not even --overwrite replaces it: no hint */
			cli_err(final, "is %s, not a regular file; not replaced",
				cow_file_type(st.st_mode));
			return -1;
		}
		if (!overwrite) {
			cli_err(final, can_overwrite ?
				"already exists (--overwrite replaces it)" :
				"already exists; refusing to overwrite it");
			return -1;
		}
	} else if (errno != ENOENT) {
		cli_err(final, "%s", strerror(errno));
		return -1;
	}
	if (!*(slash ? slash + 1 : final)) {
		cli_err(final, "is a directory");
		return -1;
	}
	dir = cow_dir_of(final);
	if (!dir) {
		cli_err(NULL, "out of memory");
		return -1;
	}
	out->fd = open_anonymous(dir, mode);
	free(dir);
	if (out->fd >= 0) {
		out->anonymous = true;
		return 0;
	}
	out->tmp = temp_name(final);
	if (!out->tmp) {
		cli_err(NULL, "out of memory");
		return -1;
	}
	catch_signals();
	pending = out->tmp;
	out->fd = open(out->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
		       (mode_t)mode);
	if (out->fd < 0) {
		cli_err(final, "cannot create a temporary file next to it: %s",
			strerror(errno));
		pending = NULL;
		free(out->tmp);
		out->tmp = NULL;
		return -1;
	}
	return 0;
}

/*
 * Move @from to @to unless @to exists: renameat2(RENAME_NOREPLACE), or
 * where the file system lacks it, link() and unlink().
 */
static int no_replace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return -1;
	if (link(from, to) < 0)
		return -1;
	unlink(from);
	return 0;
}

/* Give the unnamed file on @fd the name @to (never replacing one). */
static int link_anonymous(int fd, const char *to)
{
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, to, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	/* /proc gone since cli_output_begin(): root may still link it */
	return linkat(fd, "", AT_FDCWD, to, AT_EMPTY_PATH);
}

/* Link the unnamed file under a free temporary name, in @out->tmp. */
static int link_temp(struct cli_output *out)
{
	for (int tries = 0; tries < 8; tries++) {
		out->tmp = temp_name(out->final);
		if (!out->tmp) {
			errno = ENOMEM;
			return -1;
		}
		if (link_anonymous(out->fd, out->tmp) == 0)
			return 0;
		free(out->tmp);
		out->tmp = NULL;
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/*
 * Put the file in place. A temporary name is linked, renamed (or removed
 * again) with the signals held, so that no signal leaves it behind.
 */
static int install(struct cli_output *out)
{
	sigset_t old;
	int ret = 0, e;

	if (out->anonymous && !out->overwrite) {
		ret = link_anonymous(out->fd, out->final);
	} else {
		hold_signals(true, &old);
		if (out->anonymous)
			ret = link_temp(out);
		if (ret == 0)
			ret = out->overwrite ? rename(out->tmp, out->final) :
			      no_replace(out->tmp, out->final);
		e = errno;
		if (ret == 0 || out->anonymous) {
			if (ret && out->tmp)
				unlink(out->tmp);
			pending = NULL;
			free(out->tmp);
			out->tmp = NULL;
		}
		hold_signals(false, &old);
		errno = e;
	}
	if (ret == 0)
		return 0;
	if (out->overwrite)
		cli_err(out->final, "cannot replace it: %s", strerror(errno));
	else	/* someone made it meanwhile: never replaced */
		cli_err(out->final, "%s", errno == EEXIST ?
			"appeared meanwhile; not replaced" : strerror(errno));
	return -1;
}

int cli_output_commit(struct cli_output *out)
{
	char *dir = cow_dir_of(out->final);
	int dfd, ret = -1;

	if (fsync(out->fd) < 0) {
		cli_err(out->final, "%s", strerror(errno));
		goto out;
	}
	if (install(out))
		goto out;
	if (close(out->fd) < 0) {
		/* in place and fsync'd already: only say so */
		cli_warn(out->final, "close: %s", strerror(errno));
	}
	out->fd = -1;
	dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd < 0 || fsync(dfd) < 0) {
		cli_err(dir, "cannot sync the directory: %s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
		goto out;
	}
	close(dfd);
	ret = 0;
out:
	free(dir);
	if (ret)
		cli_output_abort(out);
	return ret;
}

void cli_output_abort(struct cli_output *out)
{
	pending = NULL;
	if (out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	if (out->tmp)
		unlink(out->tmp);
	free(out->tmp);
	out->tmp = NULL;
}
