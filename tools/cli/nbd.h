/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nbd - umlcow-setup without the kernel module: the image served by the
 * nbdkit plugin (tools/nbdkit), for NBD clients (serve) or as
 * /dev/mapper/NAME through the kernel's nbd driver and a dm linear table
 * (open --via nbd). Used by cmd-map.c, which keeps list, status and close
 * for both kinds of mapping.
 *
 * An nbd-backed mapping is a device-mapper device whose one target is
 * linear over /dev/nbdN and whose UUID starts with ACT_NBD_UUID_PREFIX
 * "UMLCOW-NBD-DEV:INO-NAME"; its server's state lives in a 0700 runtime
 * directory, $UMLCOW_RUN_DIR/NAME (default /run/umlcow/NAME): the Unix
 * socket, nbdkit's pid file, and the COW and backing files' paths.
 */
#ifndef UMLCOW_CLI_NBD_H
#define UMLCOW_CLI_NBD_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "act.h"
#include "cli.h"
#include "dmdev.h"
#include "json.h"

/*
 * Open the JSON object of one mapping, with the keys every kind has: name,
 * device, uuid, and via ("dm" or "nbd"); cmd-map.c.
 */
void cli_mapping_json_begin(struct json *j, const struct dmdev *d,
			    const char *via);

/*
 * What the activation layer (act.h) says, shown the CLI's way (cmd-map.c):
 * the one table from an error's kind to the exit status; an error printed
 * (its detail with --verbose), returning that status; a remark.
 */
int cli_exit_status(enum act_err_kind kind);
int cli_act_err(const struct act_err *e);
void cli_act_log(enum act_log_level level, const char *file, const char *msg);

/*
 * open --via nbd: serve @path with nbdkit and map it as /dev/mapper/@name.
 * Prints the device path; returns an exit status.
 */
int nbd_open(const struct cli_opts *o, const char *path, const char *name);

/*
 * close for an nbd-backed mapping: remove the dm device (refused, changing
 * nothing, while it is open), disconnect the nbd device, stop nbdkit (it
 * writes the bitmap back) and remove the runtime directory. An exit status.
 */
int nbd_close(const struct dmdev *d);

/*
 * Whether NAME has a runtime directory; with no device NAME, that is what
 * an interrupted open --via nbd left (a server, maybe an nbd connection).
 */
bool nbd_leftover(const char *name);

/*
 * close NAME for such leftovers: disconnect the nbd device the open
 * connected (if it is still that connection), stop the server, remove the
 * runtime directory; says so on stderr. An exit status.
 */
int nbd_close_leftover(const char *name);

/* commit: flush the device, so the plugin writes the bitmap back. */
int nbd_commit(const char *name);

/* What status and list show of one nbd-backed mapping. */
struct nbd_mapping {
	const struct dmdev *dev;
	char cow_file[4096], backing_file[4096];
	char socket[4096];
	char nbd_dev[32];	/* "/dev/nbdN", or the table's MAJ:MIN */
	pid_t pid;		/* nbdkit's, 0 when unknown */
	bool running;		/* it is alive */
	bool read_only;
};
void nbd_mapping_get(const struct dmdev *d, struct nbd_mapping *m);
void nbd_status_print(const struct nbd_mapping *m);
void nbd_mapping_json(struct json *j, const struct nbd_mapping *m);

#endif /* UMLCOW_CLI_NBD_H */
