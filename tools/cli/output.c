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

static void catch_signals(void)
{
	/*
	 * SIGQUIT and SIGXFSZ (a file size limit, ulimit -f) kill as surely
	 * as SIGTERM does; SIGPIPE, a progress bar's reader gone.
	 */
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGXFSZ,
				    SIGPIPE };
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		struct sigaction old;

		/* A signal ignored on entry (nohup, a background job) stays so. */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
}

/* The directory part of @path ("." when none), malloc'd. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int cli_output_begin(struct cli_output *out, const char *final,
		     bool overwrite, bool can_overwrite)
{
	const char *slash = strrchr(final, '/'), *base;
	unsigned int rnd = 0;
	struct stat st;
	size_t dlen;

	out->final = final;
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
	base = slash ? slash + 1 : final;
	if (!*base) {
		cli_err(final, "is a directory");
		return -1;
	}
	dlen = slash ? (size_t)(slash - final) + 1 : 0;
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = (unsigned int)getpid() ^ (unsigned int)time(NULL);
	if (asprintf(&out->tmp, "%.*s.%s.umlcow-%06x", (int)dlen, final, base,
		     rnd & 0xffffff) < 0) {
		out->tmp = NULL;
		cli_err(NULL, "out of memory");
		return -1;
	}
	catch_signals();
	pending = out->tmp;
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

int cli_output_commit(struct cli_output *out)
{
	char *dir = dir_of(out->final);
	int dfd, ret = -1;

	if (out->overwrite) {
		if (rename(out->tmp, out->final) < 0) {
			cli_err(out->final, "cannot replace it: %s",
				strerror(errno));
			goto out;
		}
	} else if (no_replace(out->tmp, out->final) < 0) {
		/* someone made it meanwhile: never replaced */
		cli_err(out->final, "%s", errno == EEXIST ?
			"appeared meanwhile; not replaced" : strerror(errno));
		goto out;
	}
	pending = NULL;
	free(out->tmp);
	out->tmp = NULL;
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
	if (out->tmp)
		unlink(out->tmp);
	free(out->tmp);
	out->tmp = NULL;
}
