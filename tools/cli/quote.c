// SPDX-License-Identifier: GPL-2.0
/*
 * quote.c - printing untrusted strings (see quote.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quote.h"

size_t utf8_seq_len(const unsigned char *p)
{
	uint32_t cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)	/* a NUL stops here too */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

uint32_t utf8_decode(const unsigned char *p, size_t n)
{
	static const unsigned char mask[] = { 0, 0x7f, 0x1f, 0x0f, 0x07 };
	uint32_t cp = p[0] & mask[n];

	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

bool utf8_hidden(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) ||	/* C1: 0x9b is CSI */
	       cp == 0x061c ||			/* Arabic letter mark */
	       (cp >= 0x200b && cp <= 0x200f) ||	/* zero width, LRM, RLM */
	       (cp >= 0x2028 && cp <= 0x202e) ||	/* separators, embeddings */
	       (cp >= 0x2060 && cp <= 0x2064) ||	/* word joiner, invisibles */
	       (cp >= 0x2066 && cp <= 0x2069) ||	/* isolates */
	       cp == 0xfeff;			/* zero width no-break space */
}

/*
 * The length of the character at @p when it may reach a terminal as it is:
 * printable ASCII, or valid UTF-8 from U+00A0 up that is not
 * utf8_hidden(); 0 when it must be escaped (and at the NUL).
 */
static size_t raw_len(const unsigned char *p)
{
	size_t n = utf8_seq_len(p);

	if (n > 1)
		return utf8_hidden(utf8_decode(p, n)) ? 0 : n;
	return n == 1 && *p >= 0x20 && *p != 0x7f ? 1 : 0;
}

bool cli_q_plain(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		n = raw_len(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

#define RING 8

const char *cli_q(const char *s)
{
	static char *ring[RING];
	static unsigned int next;
	const unsigned char *p;
	char *out, *o;

	if (!s)
		return "(null)";
	out = malloc(strlen(s) * 4 + 1);
	if (!out)
		return "(out of memory)";
	o = out;
	for (p = (const unsigned char *)s; *p;) {
		size_t n = raw_len(p);

		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			/* every byte of a hidden character, as ls -b does */
			size_t k = utf8_seq_len(p);

			for (k = k ? k : 1; k--;)
				o += sprintf(o, "\\x%02x", *p++);
		}
	}
	*o = '\0';
	free(ring[next]);
	ring[next] = out;
	next = (next + 1) % RING;
	return out;
}
