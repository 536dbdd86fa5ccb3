// SPDX-License-Identifier: GPL-2.0
/*
 * umlcow-setup - use User-Mode-Linux COW disk images on the host.
 *
 * A table of subcommands; each parses its own options (cli_parse) and
 * returns the exit status: 0 success, 1 failure, 2 usage. Global options
 * given before the subcommand are handed to it; with no subcommand the
 * arguments are those of `open`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#ifdef HAVE_CMD_MAP
#include "cmd-map.h"
#endif

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
	const char *summary;
};

static const struct command commands[] = {
#ifdef HAVE_CMD_MAP
	{ "open", cmd_open, cmd_open_help,
	  "map FILE.cow as /dev/mapper/NAME (the default command)" },
	{ "close", cmd_close, cmd_close_help,
	  "remove a mapping" },
	{ "list", cmd_list, cmd_list_help,
	  "show the umlcow mappings" },
	{ "table", cmd_table, cmd_table_help,
	  "print the dm table line, for dmsetup" },
#endif
	{ "info", cmd_info, cmd_info_help,
	  "show a COW file's header and allocation" },
	{ "create", cmd_create, cmd_create_help,
	  "create an empty COW file, as UML does" },
	{ "merge", cmd_merge, cmd_merge_help,
	  "write the full image (or merge into the backing file)" },
	{ "check", cmd_check, cmd_check_help,
	  "check a COW file (exit 0 clean, 1 problems, 2 error)" },
	{ "upgrade", cmd_upgrade, cmd_upgrade_help,
	  "rewrite a legacy COW file as v3" },
	{ "rebase", cmd_rebase, cmd_rebase_help,
	  "point the header at a moved backing file" },
};

#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"Usage: " PROG " [OPTIONS] COMMAND [ARGS]\n"
#ifdef HAVE_CMD_MAP
		"       " PROG " [OPTIONS] FILE.cow   (same as 'open FILE.cow')\n"
#endif
		"Use User-Mode-Linux COW disk images on the host.\n\n"
		"Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\nGlobal options (every command takes them):\n"
		"  -b, --backing PATH   use PATH as the backing file\n"
		"  -f, --force          go on when the backing file's mtime differs\n"
		"  -l, --layout NAME    the COW header's layout, when detection cannot tell\n"
		"  -v, --verbose        say more\n"
		"  -h, --help           help (" PROG " COMMAND --help for a command's)\n"
		"\nExit status: 0 success, 1 failure, 2 usage error.\n"
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

/* Options that take a value as the next argument (any command's). */
static bool takes_value(const char *a)
{
	static const char *const with_value[] = {
		"--backing", "-b", "--layout", "-l", "--name", "-n",
		"--cow-dev", "--backing-dev",
	};
	size_t i;

	for (i = 0; i < sizeof(with_value) / sizeof(with_value[0]); i++)
		if (strcmp(a, with_value[i]) == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	char **nargv;
	int i, pos = -1, n = 0, ret;

	/* The first operand names the command, unless it is a file. */
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			if (i + 1 < argc)
				pos = i + 1;
			break;
		}
		if (argv[i][0] == '-' && argv[i][1]) {
			if (takes_value(argv[i]))
				i++;
			continue;
		}
		pos = i;
		break;
	}
	if (pos >= 0)
		cmd = find(argv[pos]);
	if (!cmd) {
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 ||
			    strcmp(argv[i], "-h") == 0) {
				usage(stdout);
				return EXIT_OK;
			}
			if (strcmp(argv[i], "--version") == 0) {
				printf(PROG " " UMLCOW_VERSION "\n");
				return EXIT_OK;
			}
		}
#ifdef HAVE_CMD_MAP
		if (pos >= 0) {
			cmd = find("open");
			pos = -1;
		}
#endif
	}
	if (!cmd) {
		if (pos >= 0)
			fprintf(stderr, PROG ": unknown command '%s'\n",
				argv[pos]);
		usage(stderr);
		return EXIT_USAGE;
	}

	/* argv for the command: its name, then every other argument. */
	nargv = calloc((size_t)argc + 1, sizeof(*nargv));
	if (!nargv) {
		fprintf(stderr, PROG ": out of memory\n");
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
