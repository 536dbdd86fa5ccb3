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
 * themselves: C1 controls (U+0080-U+009F), Unicode's default-ignorable
 * code points (zero-width characters and joiners, U+00AD, fillers,
 * variation selectors, tags, and the bidirectional marks, embeddings,
 * overrides and isolates: U+061C, U+200E/F, U+202A-U+202E,
 * U+2066-U+2069), the line and paragraph separators, the interlinear
 * annotation controls and U+FFFE/U+FFFF. A path made of them can pose as
 * another on screen.
 */
bool utf8_hidden(uint32_t cp);

/*
 * Whether the locale's character encoding (LC_CTYPE: main() calls
 * setlocale(LC_CTYPE, "")) is UTF-8; asked once, on first use.
 * cli_q_set_utf8() decides it instead (the unit tests).
 */
bool cli_q_utf8(void);
void cli_q_set_utf8(bool utf8);

/*
 * @s as it may reach a terminal: printable ASCII passes through, and in a
 * UTF-8 locale valid UTF-8 from U+00A0 up but for utf8_hidden()
 * characters; every other byte (C0 and C1 controls, DEL, hidden
 * characters, bytes that are not UTF-8 or overlong forms, and in any other
 * locale every byte from 0x80 up) is written as \xNN, the way `ls -b` and
 * losetup quote names. Idempotent. The result lives until the 8th next
 * call (a ring of buffers, so several may be used in one printf); NULL
 * gives "(null)".
 */
const char *cli_q(const char *s);

/*
 * Whether cli_q() leaves @s as it is: nothing in it needs escaping (in
 * this locale). A name the tool makes and prints for scripts to use
 * (open's device path) must be, or it could not be printed both safely
 * and exactly.
 */
bool cli_q_plain(const char *s);

#endif /* UMLCOW_QUOTE_H */
