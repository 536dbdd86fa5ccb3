/* SPDX-License-Identifier: GPL-2.0 */
/*
 * act-nbd - activation without the kernel module: a COW file served by the
 * nbdkit plugin (tools/nbdkit) and mapped as /dev/mapper/NAME through the
 * kernel's nbd driver and a dm linear table (open --via nbd); close, commit
 * and the leftovers of an interrupted open; and the nbdkit command line
 * that serve runs in the foreground.
 *
 * An nbd-backed mapping is a device-mapper device whose one target is
 * linear over /dev/nbdN and whose UUID starts with ACT_NBD_UUID_PREFIX
 * "UMLCOW-NBD-DEV:INO-NAME"; its server's state lives in a 0700 runtime
 * directory, $UMLCOW_RUN_DIR/NAME (default /run/umlcow/NAME): the Unix
 * socket, nbdkit's pid file, the COW and backing files' paths, and the nbd
 * device the open connected.
 *
 * The rules of act.h hold: nothing here prints; errors come back in a
 * struct act_err, remarks go to the caller's act_log_fn (ACT_LOG_INFO ones
 * are for --verbose).
 */
#ifndef UMLCOW_ACT_NBD_H
#define UMLCOW_ACT_NBD_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "act.h"
#include "dmdev.h"

/* The plugin's file name in a build tree (see act_nbd_plugin()). */
#define ACT_NBD_PLUGIN_FILE "nbdkit-umlcow-plugin.so"

/* The COW file the plugin serves, with the options it takes. */
struct act_nbd_file {
	const char *path;		/* the COW file */
	const char *backing;		/* --backing, or NULL */
	const char *layout;		/* --layout, or NULL */
	bool force;			/* a differing backing mtime */
	bool read_only;
};

/* An nbdkit command line being built (a fixed argv, no allocation fails). */
struct act_nbd_args {
	char *v[64];
	int n;
	char *owned[8];
	int nowned;
	char plugin[PATH_MAX];
};

/*
 * nbdkit itself: $UMLCOW_NBDKIT, else nbdkit from $PATH. The plugin nbdkit
 * loads: $UMLCOW_NBDKIT_PLUGIN; else the build tree's,
 * nbdkit/nbdkit-umlcow-plugin.so next to this program (tools/umlcow-setup
 * and tools/nbdkit/); else "umlcow", which nbdkit finds in its plugin
 * directory (pkg-config --variable=plugindir nbdkit) once installed.
 */
const char *act_nbdkit_prog(void);

/* Add @s to @a (kept by the caller until the command has run). */
void act_nbd_arg(struct act_nbd_args *a, const char *s);
/* Add the plugin and its parameters for @f. */
void act_nbd_plugin_args(struct act_nbd_args *a, const struct act_nbd_file *f);
/* The command line in @buf, words separated by spaces (for --verbose). */
void act_nbd_args_line(const struct act_nbd_args *a, char *buf, size_t len);
void act_nbd_args_free(struct act_nbd_args *a);

struct act_nbd_open_opts {
	struct act_nbd_file file;
	const char *name;		/* the device name, checked by the caller */
	bool no_discard;
	act_log_fn log;			/* may be NULL */
};

struct act_nbd_open_result {
	char node[DM_NAME_LEN + 16];	/* /dev/mapper/NAME */
};

/*
 * open --via nbd: refuse a file mapped already, check the file the way the
 * plugin will (so a refusal is in the tool's words), start nbdkit in the
 * background on a socket in the runtime directory, connect /dev/nbdN to it
 * and put a linear table on it. Every step is undone when a later one
 * fails. 0, or -1 with @e filled.
 */
int act_nbd_open(const struct act_nbd_open_opts *o,
		 struct act_nbd_open_result *r, struct act_err *e);

/*
 * close for an nbd-backed mapping @d: remove the dm device (refused, changing
 * nothing, while it is open), disconnect the nbd device, stop nbdkit (it
 * writes the bitmap back) and remove the runtime directory. 0, or -1 with
 * @e filled (busy: in use).
 */
int act_nbd_close(const struct dmdev *d, act_log_fn log, struct act_err *e);

/*
 * Whether NAME has a runtime directory; with no device NAME, that is what
 * an interrupted open --via nbd left (a server, maybe an nbd connection).
 */
bool act_nbd_leftover(const char *name);

/*
 * Clean those leftovers: disconnect the nbd device the open connected (if
 * it is still that connection), stop the server, remove the runtime
 * directory, and say so (a warning to @log). 0, or -1 with @e filled.
 */
int act_nbd_close_leftover(const char *name, act_log_fn log,
			   struct act_err *e);

/* commit: flush the device, so the plugin writes the bitmap back. */
int act_nbd_commit(const char *name, act_log_fn log, struct act_err *e);

/* What status and list show of one nbd-backed mapping. */
struct act_nbd_mapping {
	const struct dmdev *dev;
	char cow_file[4096], backing_file[4096];
	char socket[4096];
	char nbd_dev[32];	/* "/dev/nbdN", or the table's MAJ:MIN */
	pid_t pid;		/* nbdkit's, 0 when unknown */
	bool running;		/* it is alive */
	bool read_only;
};
void act_nbd_mapping_get(const struct dmdev *d, struct act_nbd_mapping *m);

#endif /* UMLCOW_ACT_NBD_H */
