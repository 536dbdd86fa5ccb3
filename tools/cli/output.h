/* SPDX-License-Identifier: GPL-2.0 */
/*
 * output - a new file that appears whole or not at all (merge, upgrade).
 *
 * The data goes to a temporary file in the target's directory, named
 * ".NAME.umlcow-XXXXXX"; on success it is fsync'd (by the writer), then
 * linked (new file) or renamed (--overwrite) into place and the directory
 * fsync'd. On failure, and on SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGXFSZ
 * (a file size limit) or SIGPIPE, the temporary file is removed: an
 * existing output is never truncated or half-written.
 */
#ifndef UMLCOW_OUTPUT_H
#define UMLCOW_OUTPUT_H

#include <stdbool.h>

struct cli_output {
	const char *final;	/* the path asked for */
	char *tmp;		/* the temporary file's path */
	bool overwrite;
};

/*
 * Check @final (must not exist unless @overwrite; must be a regular file
 * if it does; @can_overwrite: the command has --overwrite) and choose a temporary path next to it, in @out->tmp (not
 * created: the writer creates it with O_EXCL). Installs the signal
 * handlers that remove it. Returns 0, or -1 after saying why.
 */
int cli_output_begin(struct cli_output *out, const char *final,
		     bool overwrite, bool can_overwrite);

/* Move the written (and fsync'd) temporary file into place; 0 or -1. */
int cli_output_commit(struct cli_output *out);

/* Remove the temporary file (if any) and forget it. */
void cli_output_abort(struct cli_output *out);

#endif /* UMLCOW_OUTPUT_H */
