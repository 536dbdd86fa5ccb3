/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nbd - the CLI side of umlcow-setup without the kernel module: serve (the
 * image served by the nbdkit plugin, tools/nbdkit, for NBD clients), and
 * how status and list show a mapping made with open --via nbd. The
 * activation (open --via nbd, its close, commit and leftovers) is
 * act/act-nbd.h's; cmd-map.c calls it and keeps list, status and close for
 * both kinds of mapping.
 */
#ifndef UMLCOW_CLI_NBD_H
#define UMLCOW_CLI_NBD_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "act.h"
#include "act-nbd.h"
#include "cli.h"
#include "dmdev.h"
#include "json.h"

/*
 * Open the JSON object of one mapping, with the keys every kind has: name,
 * device, uuid, and via ("dm" or "nbd"); cmd-map.c.
 */
void cli_mapping_json_begin(struct json *j, const struct dmdev *d,
			    const char *via);

/* The COW options (OPT_COW, --read-only) of @path as act-nbd takes them. */
void nbd_file_of(const struct cli_opts *o, const char *path,
		 struct act_nbd_file *f);

/* What status shows, and list --json, of one nbd-backed mapping. */
void nbd_status_print(const struct act_nbd_mapping *m);
void nbd_mapping_json(struct json *j, const struct act_nbd_mapping *m);

#endif /* UMLCOW_CLI_NBD_H */
