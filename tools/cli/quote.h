/* SPDX-License-Identifier: GPL-2.0 */
/*
 * quote - the one function that makes an untrusted string (a path from a
 * COW header, a file name, a device name) safe to print on a terminal.
 */
#ifndef UMLCOW_QUOTE_H
#define UMLCOW_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Length of the valid UTF-8 sequence at @p: 1 for an ASCII byte (NUL
 * included), 2 to 4 for a well-formed multibyte sequence (no overlong
 * forms, no surrogates, at most U+10FFFF), 0 when @p does not start one.
 */
size_t utf8_seq_len(const unsigned char *p);

/* The code point of the valid @n-byte sequence at @p (utf8_seq_len()). */
uint32_t utf8_decode(const unsigned char *p, size_t n);

/*
 * Characters that change what a terminal shows without showing
 * themselves: C1 controls (U+0080-U+009F), bidirectional embeddings,
 * overrides and isolates, zero-width characters, line and paragraph
 * separators. A path made of them can pose as another on screen.
 */
bool utf8_hidden(uint32_t cp);

/*
 * @s as it may reach a terminal: printable ASCII and valid UTF-8 from
 * U+00A0 up pass through, but for utf8_hidden() characters; every other
 * byte (C0 and C1 controls, DEL, hidden characters, bytes that are not
 * UTF-8) is written as \xNN, the way `ls -b` and
 * losetup quote names. Idempotent. The result lives until the 8th next
 * call (a ring of buffers, so several may be used in one printf); NULL
 * gives "(null)".
 */
const char *cli_q(const char *s);

/*
 * Whether cli_q() leaves @s as it is: nothing in it needs escaping. A name
 * the tool makes and prints for scripts to use (open's device path) must
 * be, or it could not be printed both safely and exactly.
 */
bool cli_q_plain(const char *s);

#endif /* UMLCOW_QUOTE_H */
