// SPDX-License-Identifier: GPL-2.0
/* One "ok"/"FAIL" line per check, counted for the program's summary. */
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
