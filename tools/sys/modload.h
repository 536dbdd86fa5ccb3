/* SPDX-License-Identifier: GPL-2.0 */
/*
 * modload - ask modprobe for a kernel module, quietly, as the kernel's own
 * request_module() would: whether it loaded is seen by what comes next.
 */
#ifndef UMLCOW_MODLOAD_H
#define UMLCOW_MODLOAD_H

/* Run "modprobe -q @module" with its output discarded, and wait for it. */
void modload_quiet(const char *module);

#endif /* UMLCOW_MODLOAD_H */
