// SPDX-License-Identifier: GPL-2.0
/* One "ok"/"FAIL" line per check, counted for the program's summary; paths
 * in the program's scratch directory. */
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

int failures, checks;

void check(bool ok, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (!ok)
		failures++;
	printf("%s - ", ok ? "ok  " : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

char *unit_path(const char *dir, const char *name)
{
	static char buf[8][256];
	static int n;
	char *p = buf[n++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}
