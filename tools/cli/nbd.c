// SPDX-License-Identifier: GPL-2.0
/*
 * nbd.c - serve, and what status and list show of a mapping made with
 * open --via nbd (see nbd.h); the activation itself is act/act-nbd.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "act-nbd.h"
#include "cli.h"
#include "dmdev.h"
#include "json.h"
#include "nbd.h"

/* ---- serve ------------------------------------------------------------ */

const struct cli_help cmd_serve_help = {
	"Usage: " PROG " serve [OPTIONS] (--socket PATH | --port N) FILE.cow\n"
	"           [-- NBDKIT-OPTIONS...]\n"
	"\n"
	"Serve a UML COW file (with its backing file) over NBD with nbdkit and the\n"
	"umlcow plugin, in the foreground until SIGTERM or SIGINT: for QEMU\n"
	"(-drive file=nbd+unix:///?socket=PATH) and other NBD clients, without\n"
	"the kernel module. Words after -- go to nbdkit before the plugin: its TLS\n"
	"options (nbdkit-tls(1)), -i ADDR, --run CMD (nbdkit-captive(1)), ...\n"
	"\n",
	OPT_SERVE | OPT_READ_ONLY | OPT_COW,
	(const struct cli_note[]){
		{ "read-only", "serve read-only (nbdkit -r) and take only a\nread lock on the COW file" },
		{ NULL, NULL },
	},
	"\n"
	"The plugin takes UML's locks: a second server, a mapping, or a UML running\n"
	"on the file refuse each other. The plugin is $UMLCOW_NBDKIT_PLUGIN if set,\n"
	"else nbdkit/" ACT_NBD_PLUGIN_FILE " next to this program (a build\n"
	"tree), else nbdkit's installed 'umlcow' plugin; nbdkit is $UMLCOW_NBDKIT or\n"
	"nbdkit from $PATH.\n",
};

/* argv[0..argc) without the words from the first "--" on. */
static int split_dashdash(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return i;
		if (cli_option_takes_next(argv[i]))
			i++;
	}
	return argc;
}

/* The COW options as the plugin's parameters take them. */
void nbd_file_of(const struct cli_opts *o, const char *path,
		 struct act_nbd_file *f)
{
	*f = (struct act_nbd_file){
		.path = path,
		.backing = o->backing,
		.layout = o->layout,
		.force = o->force,
		.read_only = o->read_only,
	};
}

int cmd_serve(int argc, char **argv)
{
	struct cli_opts o;
	struct act_nbd_args a = { .n = 0 };
	struct act_nbd_file f;
	char line[4096];
	int cut = split_dashdash(argc, argv);

	CLI_PARSE(cut, argv, &cmd_serve_help, 1, 1, &o);
	if (!o.socket == !o.port)
		return cli_usage_error(argv[0], "give one of --socket PATH and --port N");
	act_nbd_arg(&a, act_nbdkit_prog());
	act_nbd_arg(&a, "-f");
	if (o.socket) {
		act_nbd_arg(&a, "-U");
		act_nbd_arg(&a, o.socket);
	} else {
		act_nbd_arg(&a, "-p");
		act_nbd_arg(&a, o.port);
	}
	if (o.read_only)
		act_nbd_arg(&a, "-r");
	for (int i = cut + 1; i < argc; i++)
		act_nbd_arg(&a, argv[i]);
	nbd_file_of(&o, o.args[0], &f);
	act_nbd_plugin_args(&a, &f);
	if (cli_verbose) {
		act_nbd_args_line(&a, line, sizeof(line));
		cli_info(NULL, "running: %s", line);
	}
	fflush(stdout);
	execvp(a.v[0], a.v);
	cli_err(NULL, "cannot run %s: %s", a.v[0], strerror(errno));
	act_nbd_args_free(&a);
	return EXIT_FAIL;
}

void nbd_status_print(const struct act_nbd_mapping *m)
{
	printf("name:              %s\n", cli_q(m->dev->name));
	printf("device:            %s/%s\n", DMDEV_DIR, cli_q(m->dev->name));
	printf("via:               nbd (%s)\n", cli_q(m->nbd_dev));
	printf("access:            %s\n",
	       m->read_only ? "read_only" : "writable");
	printf("cow file:          %s\n", cli_q(m->cow_file));
	printf("backing file:      %s\n", cli_q(m->backing_file));
	if (m->running)
		printf("server:            nbdkit, pid %d, running\n",
		       (int)m->pid);
	else
		printf("server:            not running\n");
	printf("socket:            %s\n", cli_q(m->socket));
	printf("open count:        %d\n", m->dev->open_count);
}

void nbd_mapping_json(struct json *j, const struct act_nbd_mapping *m)
{
	cli_mapping_json_begin(j, m->dev, "nbd");
	json_string(j, "access", m->read_only ? "read_only" : "writable");
	json_bool(j, "read_only", m->read_only);
	json_string(j, "cow_file", m->cow_file);
	json_string(j, "backing_file", m->backing_file);
	json_string(j, "nbd_device", m->nbd_dev);
	if (m->running)
		json_u64(j, "server_pid", (uint64_t)m->pid);
	else
		json_null(j, "server_pid");
	json_string(j, "socket", m->socket);
	json_u64(j, "sectors", m->dev->dev_len);
	json_u64(j, "open_count", (uint64_t)m->dev->open_count);
	json_bool(j, "deferred_remove", m->dev->deferred_remove);
	json_string(j, "table", m->dev->table);
	json_object_end(j);
}
