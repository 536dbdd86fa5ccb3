/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cli - what the umlcow-setup subcommands share: messages, exit codes and
 * option parsing. Every subcommand is `int cmd_NAME(int argc, char **argv)`
 * with argv[0] the subcommand's name, returning an exit status.
 */
#ifndef UMLCOW_CLI_H
#define UMLCOW_CLI_H

#include <stdbool.h>

#include "cowfmt.h"

#define PROG		"umlcow-setup"
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

/* Set by --verbose anywhere on the command line. */
extern int cli_verbose;

/* "umlcow-setup: FILE: message" (FILE may be NULL) on stderr. */
void cli_err(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same, prefixed "warning: ". */
void cli_warn(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Only with --verbose. */
void cli_info(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Options a format subcommand may accept (a bit mask). */
enum {
	OPT_JSON	= 1 << 0,
	OPT_IN_PLACE	= 1 << 1,
	OPT_YES		= 1 << 2,
	OPT_UPDATE_MTIME = 1 << 3,
};

struct cli_opts {
	const char *backing;	/* --backing PATH */
	const char *layout;	/* --layout NAME */
	bool force, json, in_place, yes, update_mtime;
	int nargs;		/* operands after the options */
	char **args;
};

/*
 * Parse a subcommand's argv: the global options (--backing, --force,
 * --layout, --verbose, --help) and those in @allowed. Returns -1 when the
 * caller should return EXIT_USAGE (message printed), 1 after printing
 * @help for --help (return EXIT_OK), 0 otherwise. Operands must number
 * from @min to @max.
 */
int cli_parse(int argc, char **argv, unsigned int allowed, const char *help,
	      int min, int max, struct cli_opts *o);

/* A progress bar on stderr when it is a terminal. */
struct cli_bar {
	const char *what;
	int last;		/* last percent shown, -1 none */
	bool on;
};
void cli_bar_start(struct cli_bar *bar, const char *what);
void cli_bar_update(void *bar, uint64_t done, uint64_t total);
void cli_bar_end(struct cli_bar *bar);

/* The format subcommands (cmd-format.c). */
int cmd_info(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
int cmd_rebase(int argc, char **argv);
extern const char cmd_info_help[];
extern const char cmd_create_help[];
extern const char cmd_merge_help[];
extern const char cmd_check_help[];
extern const char cmd_upgrade_help[];
extern const char cmd_rebase_help[];

#endif /* UMLCOW_CLI_H */
