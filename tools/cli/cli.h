/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cli - the one option, message and exit-code layer of umlcow-setup.
 *
 * Every subcommand is `int cmd_NAME(int argc, char **argv)` with argv[0]
 * the subcommand's name, returning an exit status. It parses its argv with
 * cli_parse() (one option table for the whole tool; each command names the
 * options it takes), reports with cli_err()/cli_warn()/cli_info(), which
 * quote whatever they print (quote.h), and writes JSON with json.h.
 */
#ifndef UMLCOW_CLI_H
#define UMLCOW_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "act.h"
#include "cowfmt.h"
#include "quote.h"

#define PROG		"umlcow-setup"
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2
/*
 * The mapping commands tell apart what a script may want to handle (as
 * cryptsetup's exit codes do): the operand has no mapping, the device or
 * file is in use, device-mapper or the umlcow target is not there.
 */
#define EXIT_NOT_MAPPED	3
#define EXIT_BUSY	4
#define EXIT_NO_DM	5

/* 1 with --verbose, 2 with --debug. */
extern int cli_verbose;

/*
 * -q, --batch-mode (cryptsetup's): nothing is asked (cli_parse() sets
 * ->yes, the confirmation merge --in-place asks for) and no progress bar
 * is drawn. Errors and warnings are still printed: a warning says that
 * something went otherwise than asked, which a script's log must keep.
 */
extern bool cli_batch;

/*
 * The exit status when stdout cannot be written (main()'s close_stdout):
 * EXIT_FAIL; check sets 2, "could not check".
 */
extern int cli_stdout_error_status;

/*
 * "umlcow-setup: FILE: message" (FILE may be NULL) on stderr, the whole
 * line quoted (cli_q), so a hostile name cannot reach the terminal raw.
 */
void cli_err(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The same, prefixed "warning: ". */
void cli_warn(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Only with --verbose. */
void cli_info(const char *file, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A library error: its message, and its detail with --verbose. */
void cli_cow_err(const char *file, const struct cow_err *e);

/*
 * What the activation layer (act.h) and the library say, shown the CLI's
 * way: the one table from an error's kind to the exit status (a library
 * error through act_cow_kind()); an error printed (its detail with
 * --verbose), returning that status; a remark.
 */
int cli_exit_status(enum act_err_kind kind);
int cli_act_err(const struct act_err *e);
void cli_act_log(enum act_log_level level, const char *file, const char *msg);

/*
 * Whether every allocated sector of @cf has its data in the file
 * (cow_data_check()): 0, or -1 after saying which are lost. merge, upgrade
 * and open refuse a truncated data area with it, as check reports it,
 * before they write or map anything (zeros must not stand in for them).
 */
int cli_data_complete(const struct cow_file *cf);

/*
 * A usage error: "umlcow-setup: CMD: message" and a pointer to CMD's
 * --help; returns EXIT_USAGE.
 */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Options a subcommand may accept besides those every command takes
 * (--verbose, --debug, --help, --version): a bit mask. Any other option is
 * refused ("option not valid here"), as cryptsetup refuses them.
 */
enum {
	OPT_JSON		= 1 << 0,
	OPT_IN_PLACE		= 1 << 1,
	OPT_YES			= 1 << 2,
	OPT_UPDATE_MTIME	= 1 << 3,
	OPT_OVERWRITE		= 1 << 4,
	OPT_NAME		= 1 << 5,
	OPT_READ_ONLY		= 1 << 6,
	OPT_NO_DISCARD		= 1 << 7,
	OPT_DEVS		= 1 << 8,	/* --cow-dev, --backing-dev */
	OPT_COMMIT_INTERVAL	= 1 << 9,
	OPT_DEFERRED		= 1 << 10,
	OPT_BACKING		= 1 << 11,
	OPT_FORCE		= 1 << 12,
	OPT_LAYOUT		= 1 << 13,
	OPT_VIA			= 1 << 14,	/* --via dm|nbd|auto */
	OPT_SERVE		= 1 << 15,	/* --socket, --port */
	OPT_DIRECT_IO		= 1 << 16,
	/* what the commands that read a COW file and its backing file take */
	OPT_COW			= OPT_BACKING | OPT_FORCE | OPT_LAYOUT,
};

/* A command's own wording for an option's help: { "json", "..." }. */
struct cli_note {
	const char *name;	/* the long name; NULL ends a list */
	const char *help;	/* lines separated by '\n', no final one */
};

/*
 * A command's help and the options it takes, in one place: cli_parse()
 * accepts exactly the options cli_help_print() lists (from cli.c's one
 * option table), and the bash completion reads them from --help.
 */
struct cli_help {
	const char *head;	/* usage and description, each line "\n"-ended */
	unsigned int opts;	/* OPT_ bits */
	const struct cli_note *notes;	/* NULL, or ends with { NULL } */
	const char *tail;	/* NULL, or text after the options */
};

/* The help: head, one line per option (table order), tail. */
void cli_help_print(const struct cli_help *h, FILE *f);

/* The option lines alone, for the options of @opts and the common ones. */
void cli_options_print(FILE *f, unsigned int opts,
		       const struct cli_note *notes);

struct cli_opts {
	/* the COW file commands' (OPT_COW) */
	const char *backing;	/* -b, --backing PATH */
	const char *layout;	/* -l, --layout NAME */
	bool force;		/* -f, --force: a differing backing mtime */
	/* per command */
	bool json, in_place, yes, update_mtime, overwrite;
	bool read_only, no_discard, deferred;
	bool direct_io;		/* open --direct-io */
	const char *name;	/* -n, --name */
	const char *cow_dev, *backing_dev;
	const char *via;	/* --via: "dm" (NULL), "nbd" or "auto" */
	const char *socket;	/* serve --socket PATH */
	const char *port;	/* serve --port N */
	unsigned int commit_interval;	/* ms, 0: the target's default */
	bool have_commit_interval;
	int nargs;		/* operands after the options */
	char **args;
};

/*
 * Parse a subcommand's argv: the common options (--verbose, --debug,
 * --help, --version) and those in @help->opts. Returns -1 when the caller
 * should return EXIT_USAGE (message printed), 1 after printing @help for
 * --help or the version (return EXIT_OK), 0 otherwise. Operands must
 * number from @min to @max.
 */
int cli_parse(int argc, char **argv, const struct cli_help *help, int min,
	      int max, struct cli_opts *o);

/*
 * For main()'s look for the command word, from the same table and by the
 * same rules as cli_parse(): whether the option word @a takes the next
 * argument as its value ("--lay v3", "-vb FILE"; not "--layout=v3"), and
 * whether @a is option @val ('h', 'V'; abbreviations included).
 */
bool cli_option_takes_next(const char *a);
int cli_option_is(const char *a, int val);

/* cli_parse() as a command's first line: returns from the command. */
#define CLI_PARSE(argc, argv, help, min, max, o) do {			\
	int r_ = cli_parse(argc, argv, help, min, max, o);		\
	if (r_)								\
		return r_ < 0 ? EXIT_USAGE : EXIT_OK;			\
} while (0)

/* "umlcow-setup VERSION" on stdout. */
void cli_version(void);

/* A progress bar on stderr when it is a terminal, but in batch mode. */
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
extern const struct cli_help cmd_info_help;
extern const struct cli_help cmd_create_help;
extern const struct cli_help cmd_merge_help;
extern const struct cli_help cmd_check_help;
extern const struct cli_help cmd_upgrade_help;
extern const struct cli_help cmd_rebase_help;

/* The mapping subcommands (cmd-map.c). */
int cmd_open(int argc, char **argv);
int cmd_close(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_table(int argc, char **argv);
extern const struct cli_help cmd_open_help;
extern const struct cli_help cmd_close_help;
extern const struct cli_help cmd_list_help;
extern const struct cli_help cmd_status_help;
extern const struct cli_help cmd_commit_help;
extern const struct cli_help cmd_table_help;

/* Without the module (nbd.c). */
int cmd_serve(int argc, char **argv);
extern const struct cli_help cmd_serve_help;

#endif /* UMLCOW_CLI_H */
