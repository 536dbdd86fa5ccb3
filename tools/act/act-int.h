/* SPDX-License-Identifier: GPL-2.0 */
/*
 * act-int.h - what the act layer's own files share (act.c, act-nbd.c):
 * filling a struct act_err and calling the caller's log function. Not for
 * front ends: they read act.h and act-nbd.h.
 */
#ifndef UMLCOW_ACT_INT_H
#define UMLCOW_ACT_INT_H

#include "act.h"

/* Fill @e: @kind, @file (NULL for none), the message; no detail. */
void act_set_err(struct act_err *e, enum act_err_kind kind, const char *file,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A library error about @file into @e; returns -1. */
int act_cow_failed(struct act_err *e, const char *file,
		   const struct cow_err *ce);

/* A remark to @log (which may be NULL). */
void act_say(act_log_fn log, enum act_log_level level, const char *file,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif /* UMLCOW_ACT_INT_H */
