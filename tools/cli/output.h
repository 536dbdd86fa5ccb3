/* SPDX-License-Identifier: GPL-2.0 */
/*
 * output - a new file that appears whole or not at all (create, merge,
 * upgrade).
 *
 * The file is made in the target's directory as an unnamed O_TMPFILE where
 * the file system has one: until it is complete it has no name, so nothing
 * (not even SIGKILL or a power cut) leaves a partial file or a temporary
 * name behind. On success it is fsync'd, linked into place (a new file) or
 * linked under a temporary name and renamed over the old one (--overwrite,
 * with the signals below blocked), and the directory fsync'd. Where
 * O_TMPFILE is missing (or /proc, to link it) the file is a named
 * ".NAME.umlcow-XXXXXX" next to the target, moved into place the same way;
 * on failure, and on SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGXFSZ (a file
 * size limit) or SIGPIPE, it is removed. An existing output is never
 * truncated or half-written.
 */
#ifndef UMLCOW_OUTPUT_H
#define UMLCOW_OUTPUT_H

#include <stdbool.h>

struct cli_output {
	const char *final;	/* the path asked for */
	int fd;			/* the new file, read-write */
	bool anonymous;		/* O_TMPFILE: no name until committed */
	char *tmp;		/* the named temporary file, or NULL */
	bool overwrite;
};

/*
 * Check @final (must not exist unless @overwrite; must be a regular file
 * if it does; @can_overwrite: the command has --overwrite), then create
 * the new file in its directory with @mode (before umask), open read-write
 * in @out->fd, and install the signal handlers that remove a named one.
 * Returns 0, or -1 after saying why.
 */
int cli_output_begin(struct cli_output *out, const char *final,
		     bool overwrite, bool can_overwrite, unsigned int mode);

/*
 * fsync the new file, close it and put it in place (never replacing a file
 * that appeared meanwhile, unless --overwrite); 0, or -1 after saying why
 * (then aborted).
 */
int cli_output_commit(struct cli_output *out);

/* Close and remove the new file (if any) and forget it. */
void cli_output_abort(struct cli_output *out);

#endif /* UMLCOW_OUTPUT_H */
