// SPDX-License-Identifier: GPL-2.0
/*
 * cli.c - messages, option parsing and the progress bar of umlcow-setup.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int cli_verbose;

static void vsay(const char *prefix, const char *file, const char *fmt,
		 va_list ap)
{
	fprintf(stderr, PROG ": ");
	if (file)
		fprintf(stderr, "%s: ", file);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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

enum {
	O_BACKING = 'b', O_FORCE = 'f', O_LAYOUT = 'l', O_VERBOSE = 'v',
	O_HELP = 'h', O_YES = 'y',
	O_JSON = 256, O_IN_PLACE, O_UPDATE_MTIME,
};

static const struct option long_opts[] = {
	{ "backing", required_argument, NULL, O_BACKING },
	{ "force", no_argument, NULL, O_FORCE },
	{ "layout", required_argument, NULL, O_LAYOUT },
	{ "verbose", no_argument, NULL, O_VERBOSE },
	{ "help", no_argument, NULL, O_HELP },
	{ "json", no_argument, NULL, O_JSON },
	{ "in-place", no_argument, NULL, O_IN_PLACE },
	{ "yes", no_argument, NULL, O_YES },
	{ "update-mtime", no_argument, NULL, O_UPDATE_MTIME },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *cmd, const char *msg, const char *arg)
{
	fprintf(stderr, PROG ": %s: %s%s\nTry '" PROG " %s --help'.\n", cmd,
		msg, arg ? arg : "", cmd);
	return -1;
}

int cli_parse(int argc, char **argv, unsigned int allowed, const char *help,
	      int min, int max, struct cli_opts *o)
{
	const char *cmd = argv[0];
	int c, idx;

	memset(o, 0, sizeof(*o));
	optind = 0;	/* reset getopt for this argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:fl:vhy", long_opts, &idx)) !=
	       -1) {
		switch (c) {
		case O_BACKING:
			o->backing = optarg;
			break;
		case O_FORCE:
			o->force = true;
			break;
		case O_LAYOUT:
			o->layout = optarg;
			break;
		case O_VERBOSE:
			cli_verbose++;
			break;
		case O_HELP:
			fputs(help, stdout);
			return 1;
		case O_JSON:
			if (!(allowed & OPT_JSON))
				goto not_here;
			o->json = true;
			break;
		case O_IN_PLACE:
			if (!(allowed & OPT_IN_PLACE))
				goto not_here;
			o->in_place = true;
			break;
		case O_YES:
			if (!(allowed & OPT_YES))
				goto not_here;
			o->yes = true;
			break;
		case O_UPDATE_MTIME:
			if (!(allowed & OPT_UPDATE_MTIME))
				goto not_here;
			o->update_mtime = true;
			break;
		case ':':
			return usage_error(cmd, "option needs a value: ",
					   argv[optind - 1]);
		default:
			return usage_error(cmd, "unknown option ",
					   argv[optind - 1]);
		}
		continue;
not_here:
		return usage_error(cmd, "option not valid here: ",
				   argv[optind - 1]);
	}
	o->args = argv + optind;
	o->nargs = argc - optind;
	if (o->nargs < min)
		return usage_error(cmd, "missing operand", NULL);
	if (o->nargs > max)
		return usage_error(cmd, "extra operand ", o->args[max]);
	return 0;
}

void cli_bar_start(struct cli_bar *bar, const char *what)
{
	bar->what = what;
	bar->last = -1;
	bar->on = isatty(STDERR_FILENO);
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
