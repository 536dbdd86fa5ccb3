// SPDX-License-Identifier: GPL-2.0
/*
 * cli.c - messages, option parsing and the progress bar of umlcow-setup.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_verbose;
bool cli_batch;
int cli_stdout_error_status = EXIT_FAIL;

static void vsay(const char *prefix, const char *file, const char *fmt,
		 va_list ap)
{
	char *msg = NULL;

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	fprintf(stderr, PROG ": ");
	if (file)
		fprintf(stderr, "%s: ", cli_q(file));
	fprintf(stderr, "%s%s\n", prefix, msg ? cli_q(msg) : "(out of memory)");
	free(msg);
}

void cli_err(const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", file, fmt, ap);
	va_end(ap);
}

void cli_warn(const char *file, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("warning: ", file, fmt, ap);
	va_end(ap);
}

void cli_info(const char *file, const char *fmt, ...)
{
	va_list ap;

	if (!cli_verbose)
		return;
	va_start(ap, fmt);
	vsay("", file, fmt, ap);
	va_end(ap);
}

void cli_cow_err(const char *file, const struct cow_err *e)
{
	cli_err(file, "%s", e->msg);
	if (e->detail[0])
		cli_info(file, "%s", e->detail);
}

/* One exit status for each kind of error (act.h), for every command. */
static const int exit_of[ACT_ERR_KINDS] = {
	[ACT_ERR_NONE] = EXIT_OK,
	[ACT_ERR_FAIL] = EXIT_FAIL,
	[ACT_ERR_USAGE] = EXIT_USAGE,
	[ACT_ERR_NOT_MAPPED] = EXIT_NOT_MAPPED,
	[ACT_ERR_BUSY] = EXIT_BUSY,
	[ACT_ERR_NO_DM] = EXIT_NO_DM,
	[ACT_ERR_INTERRUPTED] = EXIT_FAIL,	/* raised again: 128 + N */
};

int cli_exit_status(enum act_err_kind kind)
{
	return kind < ACT_ERR_KINDS ? exit_of[kind] : EXIT_FAIL;
}

int cli_act_err(const struct act_err *e)
{
	const char *file = e->file[0] ? e->file : NULL;

	cli_err(file, "%s", e->msg);
	if (e->detail[0])
		cli_info(file, "%s", e->detail);
	return cli_exit_status(e->kind);
}

void cli_act_log(enum act_log_level level, const char *file, const char *msg)
{
	if (level == ACT_LOG_ERR)
		cli_err(file, "%s", msg);
	else if (level == ACT_LOG_WARN)
		cli_warn(file, "%s", msg);
	else
		cli_info(file, "%s", msg);
}

int cli_data_complete(const struct cow_file *cf)
{
	struct cow_err err;

	if (cow_data_check(cf, &err) == 0)
		return 0;
	cli_cow_err(cf->path, &err);
	return -1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay("", cmd, fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '" PROG " %s%s--help'.\n",
		cmd ? cli_q(cmd) : "", cmd ? " " : "");
	return EXIT_USAGE;
}

void cli_version(void)
{
	printf(PROG " " UMLCOW_VERSION "\n");
}

enum {
	O_BACKING = 'b', O_FORCE = 'f', O_LAYOUT = 'l', O_VERBOSE = 'v',
	O_HELP = 'h', O_YES = 'y', O_VERSION = 'V', O_JSON = 'j',
	O_NAME = 'n', O_READ_ONLY = 'r', O_BATCH = 'q',
	O_IN_PLACE = 256, O_UPDATE_MTIME, O_OVERWRITE, O_NO_DISCARD,
	O_COW_DEV, O_BACKING_DEV, O_COMMIT_INTERVAL, O_DEFERRED, O_DEBUG,
	O_VIA, O_SOCKET, O_PORT, O_DIRECT_IO,
};

/*
 * Every option of the tool, in the order --help lists them: getopt's
 * table, the OPT_ bit of the commands that take it (0: every command),
 * and its help (the value's name, the text; a command may word it its own
 * way with a struct cli_note). An alias (the other tools' spelling) comes
 * right after the option it stands for, with the same val, and has a help
 * line of its own.
 */
static const struct {
	struct option opt;
	unsigned int bit;
	const char *arg;
	const char *help;
} options[] = {
	{ { "json", no_argument, NULL, O_JSON }, OPT_JSON, NULL,
	  "one JSON object on stdout" },
	{ { "name", required_argument, NULL, O_NAME }, OPT_NAME, "NAME",
	  "device name (default: FILE without .cow)" },
	{ { "cow-dev", required_argument, NULL, O_COW_DEV }, OPT_DEVS, "DEV",
	  "the COW file's device (a path or MAJOR:MINOR)" },
	{ { "backing-dev", required_argument, NULL, O_BACKING_DEV }, OPT_DEVS,
	  "DEV", "the backing file's device" },
	{ { "read-only", no_argument, NULL, O_READ_ONLY }, OPT_READ_ONLY, NULL,
	  "map read-only; the COW file is never written" },
	{ { "readonly", no_argument, NULL, O_READ_ONLY }, OPT_READ_ONLY, NULL,
	  "the same (cryptsetup's spelling)" },
	{ { "no-discard", no_argument, NULL, O_NO_DISCARD }, OPT_NO_DISCARD,
	  NULL, "do not pass discards (they read back as zeros)" },
	{ { "direct-io", no_argument, NULL, O_DIRECT_IO }, OPT_DIRECT_IO,
	  NULL, "direct I/O on the loop devices (buffered when the\nfile system refuses it)" },
	{ { "commit-interval", required_argument, NULL, O_COMMIT_INTERVAL },
	  OPT_COMMIT_INTERVAL, "MS",
	  "commit the bitmap every MS milliseconds (0: only\non flush and close; default: the target's, 1000)" },
	{ { "via", required_argument, NULL, O_VIA }, OPT_VIA, "HOW",
	  "dm: the umlcow target (default); nbd: nbdkit and\nthe kernel's nbd driver; auto: dm, else nbd" },
	{ { "socket", required_argument, NULL, O_SOCKET }, OPT_SERVE, "PATH",
	  "listen on the Unix socket PATH" },
	{ { "port", required_argument, NULL, O_PORT }, OPT_SERVE, "N",
	  "listen on TCP port N" },
	{ { "deferred", no_argument, NULL, O_DEFERRED }, OPT_DEFERRED, NULL,
	  "remove it when its last user closes it" },
	{ { "overwrite", no_argument, NULL, O_OVERWRITE }, OPT_OVERWRITE, NULL,
	  "replace an existing output (a regular file)" },
	{ { "in-place", no_argument, NULL, O_IN_PLACE }, OPT_IN_PLACE, NULL,
	  "write into the backing file" },
	{ { "yes", no_argument, NULL, O_YES }, OPT_YES, NULL,
	  "really do it" },
	{ { "update-mtime", no_argument, NULL, O_UPDATE_MTIME },
	  OPT_UPDATE_MTIME, NULL, "store the new file's mtime too" },
	{ { "backing", required_argument, NULL, O_BACKING }, OPT_BACKING,
	  "PATH", "use PATH as the backing file" },
	{ { "force", no_argument, NULL, O_FORCE }, OPT_FORCE, NULL,
	  "go on when the backing file's mtime differs from\nthe header's (UML itself refuses it)" },
	{ { "layout", required_argument, NULL, O_LAYOUT }, OPT_LAYOUT, "NAME",
	  "the header's layout, when detection cannot tell" },
	{ { "batch-mode", no_argument, NULL, O_BATCH }, 0, NULL,
	  "for scripts: ask nothing (stands for --yes where a\ncommand asks for it) and draw no progress bar" },
	{ { "verbose", no_argument, NULL, O_VERBOSE }, 0, NULL, "say more" },
	{ { "debug", no_argument, NULL, O_DEBUG }, 0, NULL,
	  "say more, and libdevmapper's messages too" },
	{ { "help", no_argument, NULL, O_HELP }, 0, NULL, "this help" },
	{ { "version", no_argument, NULL, O_VERSION }, 0, NULL,
	  "print the version" },
};

#define NR_OPTIONS (sizeof(options) / sizeof(options[0]))

/* Whether option @i is another name of the one before it. */
static bool is_alias(size_t i)
{
	return i > 0 && options[i - 1].opt.val == options[i].opt.val;
}

/* The help text of option @i: a command's note, or the table's. */
static const char *help_of(size_t i, const struct cli_note *notes)
{
	for (; notes && notes->name; notes++)
		if (!strcmp(notes->name, options[i].opt.name))
			return notes->help;
	return options[i].help;
}

/* "  -b, --backing PATH   text", continued lines under the text. */
#define HELP_COLUMN	23

static void option_print(FILE *f, size_t i, const struct cli_note *notes)
{
	const char *text = help_of(i, notes), *nl;
	int val = options[i].opt.val, n;

	if (val < 256 && !is_alias(i))
		n = fprintf(f, "  -%c, --%s", val, options[i].opt.name);
	else
		n = fprintf(f, "      --%s", options[i].opt.name);
	if (options[i].arg)
		n += fprintf(f, " %s", options[i].arg);
	if (n > HELP_COLUMN - 3) {
		fputc('\n', f);
		n = 0;
	}
	for (;;) {
		nl = strchr(text, '\n');
		fprintf(f, "%*s%.*s\n", HELP_COLUMN - n, "",
			nl ? (int)(nl - text) : (int)strlen(text), text);
		if (!nl)
			break;
		text = nl + 1;
		n = 0;
	}
}

void cli_options_print(FILE *f, unsigned int opts,
		       const struct cli_note *notes)
{
	for (size_t i = 0; i < NR_OPTIONS; i++)
		if (!options[i].bit || (options[i].bit & opts))
			option_print(f, i, notes);
}

void cli_help_print(const struct cli_help *h, FILE *f)
{
	fputs(h->head, f);
	cli_options_print(f, h->opts, h->notes);
	if (h->tail)
		fputs(h->tail, f);
}

/* getopt's short option string, from the table: ":b:fl:vh..." */
static void short_options(char *buf, size_t len)
{
	size_t n = 0;

	buf[n++] = ':';		/* a missing value is reported as such */
	for (size_t i = 0; i < NR_OPTIONS && n + 3 < len; i++) {
		if (options[i].opt.val >= 256 || is_alias(i))
			continue;
		buf[n++] = (char)options[i].opt.val;
		if (options[i].opt.has_arg == required_argument)
			buf[n++] = ':';
	}
	buf[n] = '\0';
}

/*
 * The table entry of the long option word @a ("--layout", "--lay",
 * "--layout=v3"), matched as getopt_long matches it: the exact name, or a
 * prefix of exactly one name. NULL when unknown or ambiguous.
 */
static const struct option *long_option(const char *a)
{
	const struct option *hit = NULL;
	size_t len;

	a += 2;
	len = strcspn(a, "=");
	for (size_t i = 0; i < NR_OPTIONS; i++) {
		const struct option *o = &options[i].opt;

		if (strncmp(o->name, a, len))
			continue;
		if (strlen(o->name) == len)
			return o;
		/* getopt_long: names of one option (an alias) are no choice */
		if (hit && (hit->val != o->val || hit->has_arg != o->has_arg))
			return NULL;
		if (!hit)
			hit = o;
	}
	return hit;
}

/* Whether the long option word @a is the prefix of two names or more. */
static bool ambiguous(const char *a)
{
	size_t len, n = 0;

	if (!a || strncmp(a, "--", 2))
		return false;
	a += 2;
	len = strcspn(a, "=");
	for (size_t i = 0; i < NR_OPTIONS; i++)
		if (!strncmp(options[i].opt.name, a, len) && !is_alias(i))
			n++;
	return n > 1 && !long_option(a - 2);
}

static bool short_takes_value(int c)
{
	for (size_t i = 0; i < NR_OPTIONS; i++)
		if (options[i].opt.val == c)
			return options[i].opt.has_arg == required_argument;
	return false;
}

bool cli_option_takes_next(const char *a)
{
	const struct option *o;

	if (a[0] != '-' || !a[1] || !strcmp(a, "--"))
		return false;
	if (a[1] == '-') {
		o = long_option(a);
		return o && o->has_arg == required_argument && !strchr(a, '=');
	}
	/* "-vb FILE" takes the next word, "-bFILE" does not */
	for (a++; *a; a++)
		if (short_takes_value((unsigned char)*a))
			return a[1] == '\0';
	return false;
}

int cli_option_is(const char *a, int val)
{
	const struct option *o;

	if (a[0] != '-')
		return 0;
	if (a[1] == '-') {
		o = long_option(a);
		return o && o->val == val && !strchr(a, '=');
	}
	return a[1] == val && !a[2];
}

static unsigned int bit_of(int val)
{
	for (size_t i = 0; i < NR_OPTIONS; i++)
		if (options[i].opt.val == val)
			return options[i].bit;
	return 0;
}

/* "--name" of option @val, for a message. */
static const char *name_of(int val)
{
	static char buf[32];

	for (size_t i = 0; i < NR_OPTIONS; i++)
		if (options[i].opt.val == val) {
			snprintf(buf, sizeof(buf), "--%s", options[i].opt.name);
			return buf;
		}
	return "?";
}

/* The option as the user wrote it, for a message. */
static const char *opt_text(char **argv, int optind_now, int optopt_now)
{
	static char buf[3];
	const char *a = argv[optind_now - 1];

	if (a && a[0] == '-' && a[1] == '-')
		return a;
	buf[0] = '-';
	buf[1] = (char)optopt_now;
	buf[2] = '\0';
	return buf;
}

static int parse_ms(const char *s, unsigned int *ms)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	v = strtoul(s, &end, 10);
	if (*end || v > 3600000UL)
		return -1;
	*ms = (unsigned int)v;
	return 0;
}

int cli_parse(int argc, char **argv, const struct cli_help *help, int min,
	      int max, struct cli_opts *o)
{
	unsigned int allowed = help->opts;
	struct option long_opts[NR_OPTIONS + 1];
	const char *cmd = argv[0];
	char shorts[2 * NR_OPTIONS + 2];
	int c;

	for (size_t i = 0; i < NR_OPTIONS; i++)
		long_opts[i] = options[i].opt;
	memset(&long_opts[NR_OPTIONS], 0, sizeof(long_opts[0]));
	memset(o, 0, sizeof(*o));
	short_options(shorts, sizeof(shorts));
	optind = 0;	/* reset getopt for this argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, long_opts, NULL)) != -1) {
		unsigned int bit;

		if (c == ':')
			return cli_usage_error(cmd, "option needs a value: %s",
					       opt_text(argv, optind, optopt)),
			       -1;
		if (c == '?')
			return cli_usage_error(cmd, "%s option %s",
					       ambiguous(argv[optind - 1]) ?
					       "ambiguous" : "unknown",
					       opt_text(argv, optind, optopt)),
			       -1;
		bit = bit_of(c);
		if (bit && !(allowed & bit))
			return cli_usage_error(cmd, "option not valid here: %s",
					       name_of(c)),
			       -1;
		switch (c) {
		case O_BACKING: o->backing = optarg; break;
		case O_FORCE: o->force = true; break;
		case O_LAYOUT:
			if (!cow_layout_find(optarg, NULL))
				return cli_usage_error(cmd, "unknown layout '%s' (known: %s)",
						       optarg, cow_layout_names()),
				       -1;
			o->layout = optarg;
			break;
		case O_BATCH: cli_batch = true; o->yes = true; break;
		case O_VERBOSE: if (!cli_verbose) cli_verbose = 1; break;
		case O_DEBUG: cli_verbose = 2; break;
		case O_HELP: cli_help_print(help, stdout); return 1;
		case O_VERSION: cli_version(); return 1;
		case O_JSON: o->json = true; break;
		case O_IN_PLACE: o->in_place = true; break;
		case O_YES: o->yes = true; break;
		case O_UPDATE_MTIME: o->update_mtime = true; break;
		case O_OVERWRITE: o->overwrite = true; break;
		case O_NAME: o->name = optarg; break;
		case O_READ_ONLY: o->read_only = true; break;
		case O_NO_DISCARD: o->no_discard = true; break;
		case O_DIRECT_IO: o->direct_io = true; break;
		case O_COW_DEV: o->cow_dev = optarg; break;
		case O_BACKING_DEV: o->backing_dev = optarg; break;
		case O_DEFERRED: o->deferred = true; break;
		case O_VIA:
			if (strcmp(optarg, "dm") && strcmp(optarg, "nbd") &&
			    strcmp(optarg, "auto"))
				return cli_usage_error(cmd, "--via takes dm, nbd or auto, not '%s'",
						       optarg), -1;
			o->via = optarg;
			break;
		case O_SOCKET: o->socket = optarg; break;
		case O_PORT:
			if (strspn(optarg, "0123456789") != strlen(optarg) ||
			    !*optarg || strlen(optarg) > 5 ||
			    atoi(optarg) < 1 || atoi(optarg) > 65535)
				return cli_usage_error(cmd, "--port takes a TCP port from 1 to 65535, not '%s'",
						       optarg), -1;
			o->port = optarg;
			break;
		case O_COMMIT_INTERVAL:
			if (parse_ms(optarg, &o->commit_interval))
				return cli_usage_error(cmd, "--commit-interval takes milliseconds from 0 to 3600000, not '%s'",
						       optarg), -1;
			o->have_commit_interval = true;
			break;
		}
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	if (o->nargs < min)
		return cli_usage_error(cmd, "missing operand"), -1;
	if (o->nargs > max)
		return cli_usage_error(cmd, "extra operand %s", o->args[max]),
		       -1;
	return 0;
}

void cli_bar_start(struct cli_bar *bar, const char *what)
{
	bar->what = what;
	bar->last = -1;
	bar->on = !cli_batch && isatty(STDERR_FILENO);
}

void cli_bar_update(void *p, uint64_t done, uint64_t total)
{
	struct cli_bar *bar = p;
	int pct, i;

	if (!bar->on || total == 0)
		return;
	pct = (int)((long double)done * 100 / total);
	if (pct == bar->last)
		return;
	bar->last = pct;
	fprintf(stderr, "\r%s [", bar->what);
	for (i = 0; i < 40; i++)
		fputc(i < pct * 40 / 100 ? '#' : ' ', stderr);
	fprintf(stderr, "] %3d%%", pct);
	fflush(stderr);
}

void cli_bar_end(struct cli_bar *bar)
{
	if (bar->on && bar->last >= 0)
		fputc('\n', stderr);
}
