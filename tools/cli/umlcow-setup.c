// SPDX-License-Identifier: GPL-2.0
/*
 * umlcow-setup - use User-Mode-Linux COW disk images on the host.
 *
 * A table of subcommands; each parses its own options (cli_parse) and
 * returns the exit status: 0 success, 1 failure, 2 usage. Global options
 * given before the subcommand are handed to it; with no subcommand the
 * arguments are those of `open`.
 */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "open", cmd_open,
	  "map FILE.cow as /dev/mapper/NAME (the default command)" },
	{ "close", cmd_close, "remove a mapping" },
	{ "list", cmd_list, "show the umlcow mappings" },
	{ "status", cmd_status, "show one mapping" },
	{ "commit", cmd_commit, "write a mapping's dirty bitmap now" },
	{ "table", cmd_table, "print the dm table line, for dmsetup" },
	{ "serve", cmd_serve,
	  "serve FILE.cow over NBD with nbdkit (no module needed)" },
	{ "info", cmd_info, "show a COW file's header and allocation" },
	{ "create", cmd_create, "create an empty COW file, as UML does" },
	{ "merge", cmd_merge,
	  "write the full image (or merge into the backing file)" },
	{ "check", cmd_check,
	  "check a COW file (exit 0 clean, 1 problems, 2 error)" },
	{ "upgrade", cmd_upgrade, "rewrite a legacy COW file as v3" },
	{ "rebase", cmd_rebase, "point the header at a moved backing file" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
		"       " PROG " [OPTIONS] FILE.cow   (same as 'open FILE.cow')\n"
		"Use User-Mode-Linux COW disk images on the host.\n\n"
		"Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nOptions (before or after the command; '" PROG " COMMAND --help'\n"
		"lists the options each command takes):\n");
	cli_options_print(f, OPT_COW, NULL);
	fprintf(f,
		"\nExit status: 0 success, 1 failure, 2 usage error; the mapping commands\nalso 3 not mapped, 4 busy, 5 device-mapper or the target not available.\n"
		"See umlcow-setup(8).\n");
}

static const struct command *find(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/*
 * At exit, as util-linux's close_stdout(): output that did not reach
 * stdout (a full disk, a closed pipe's EIO) makes the command fail; a
 * script must not take a truncated `info --json` for the whole answer.
 */
static void close_stdout(void)
{
	bool failed = ferror(stdout) != 0;
	int e = 0;

	if (fclose(stdout) != 0) {
		failed = true;
		e = errno;
	}
	if (!failed)
		return;
	if (e == EPIPE)		/* the reader went away, as util-linux */
		return;
	cli_err(NULL, "write error on standard output%s%s",
		e ? ": " : "", e ? strerror(e) : "");
	_exit(cli_stdout_error_status);
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	char **nargv;
	int i, pos = -1, n = 0, ret;

	/* only the encoding: what cli_q() may show as it is (quote.h) */
	setlocale(LC_CTYPE, "");
	atexit(close_stdout);
	/* The first operand names the command, unless it is a file. */
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			if (i + 1 < argc)
				pos = i + 1;
			break;
		}
		if (a[0] == '-' && a[1]) {
			/* the option table's rules, getopt's abbreviations */
			if (cli_option_takes_next(a))
				i++;
			continue;
		}
		pos = i;
		break;
	}
	if (pos >= 0)
		cmd = find(argv[pos]);
	if (!cmd) {
		for (i = 1; i < argc && i != pos; i++) {
			if (cli_option_is(argv[i], 'h')) {
				usage(stdout);
				return EXIT_OK;
			}
			if (cli_option_is(argv[i], 'V')) {
				cli_version();
				return EXIT_OK;
			}
		}
	}
	if (!cmd && pos >= 0) {
		struct stat st;

		/* A word that is neither a command nor a file: a typo. */
		if (!strchr(argv[pos], '/') && lstat(argv[pos], &st) < 0) {
			cli_err(NULL, "'%s' is neither a command nor a file; try '" PROG " --help'",
				argv[pos]);
			return EXIT_USAGE;
		}
		cmd = find("open");
		pos = -1;
	}
	if (!cmd) {
		static const struct cli_help any = { "", ~0U, NULL, NULL };
		struct cli_opts o;
		char *name = argv[0];

		/* A bad option or value is named before what is missing. */
		argv[0] = NULL;
		ret = cli_parse(argc, argv, &any, 0, argc, &o);
		argv[0] = name;
		if (ret == 0)
			cli_err(NULL, "no command or file given; try '" PROG " --help'");
		return EXIT_USAGE;
	}

	/* argv for the command: its name, then every other argument. */
	nargv = calloc((size_t)argc + 1, sizeof(*nargv));
	if (!nargv) {
		cli_err(NULL, "out of memory");
		return EXIT_FAIL;
	}
	nargv[n++] = (char *)cmd->name;
	for (i = 1; i < argc; i++)
		if (i != pos)
			nargv[n++] = argv[i];
	ret = cmd->fn(n, nargv);
	free(nargv);
	return ret;
}
