/* SPDX-License-Identifier: GPL-2.0 */
/*
 * quote - the one function that makes an untrusted string (a path from a
 * COW header, a file name, a device name) safe to print on a terminal.
 */
#ifndef UMLCOW_QUOTE_H
#define UMLCOW_QUOTE_H

#include <stddef.h>

/*
 * Length of the valid UTF-8 sequence at @p: 1 for an ASCII byte (NUL
 * included), 2 to 4 for a well-formed multibyte sequence (no overlong
 * forms, no surrogates, at most U+10FFFF), 0 when @p does not start one.
 */
size_t utf8_seq_len(const unsigned char *p);

/*
 * @s as it may reach a terminal: printable ASCII and valid UTF-8 from
 * U+00A0 up pass through; every other byte (C0 and C1 controls, DEL,
 * bytes that are not UTF-8) is written as \xNN, the way `ls -b` and
 * losetup quote names. Idempotent. The result lives until the 8th next
 * call (a ring of buffers, so several may be used in one printf); NULL
 * gives "(null)".
 */
const char *cli_q(const char *s);

#endif /* UMLCOW_QUOTE_H */
