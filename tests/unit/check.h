/* SPDX-License-Identifier: GPL-2.0 */
/* The unit test programs' one way to report a check, and their counters. */
#ifndef UMLCOW_UNIT_CHECK_H
#define UMLCOW_UNIT_CHECK_H

#include <stdbool.h>

extern int failures, checks;

void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* DIR/NAME in one of eight rotating buffers: a few may be in use at once. */
char *unit_path(const char *dir, const char *name);

#endif
