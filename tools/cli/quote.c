// SPDX-License-Identifier: GPL-2.0
/*
 * quote.c - printing untrusted strings (see quote.h).
 */
#include <langinfo.h>
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

/*
 * Code points a terminal does not show as themselves: C1 controls, Unicode's
 * Default_Ignorable_Code_Point set (zero-width, joiners, fillers, variation
 * selectors, tags; the bidirectional marks, embeddings, overrides and
 * isolates among them), the line and paragraph separators, the interlinear
 * annotation controls and the noncharacters U+FFFE, U+FFFF. Sorted.
 */
static const struct {
	uint32_t lo, hi;
} hidden[] = {
	{ 0x0080, 0x009f },	/* C1 controls: 0x9b is CSI */
	{ 0x00ad, 0x00ad },	/* soft hyphen */
	{ 0x034f, 0x034f },	/* combining grapheme joiner */
	{ 0x061c, 0x061c },	/* Arabic letter mark */
	{ 0x115f, 0x1160 },	/* Hangul fillers */
	{ 0x17b4, 0x17b5 },	/* Khmer inherent vowels */
	{ 0x180b, 0x180f },	/* Mongolian selectors, vowel separator */
	{ 0x200b, 0x200f },	/* zero width space, joiners, LRM, RLM */
	{ 0x2028, 0x202e },	/* separators, embeddings, overrides */
	{ 0x2060, 0x206f },	/* word joiner, invisibles, isolates */
	{ 0x3164, 0x3164 },	/* Hangul filler */
	{ 0xfe00, 0xfe0f },	/* variation selectors */
	{ 0xfeff, 0xfeff },	/* zero width no-break space */
	{ 0xffa0, 0xffa0 },	/* halfwidth Hangul filler */
	{ 0xfff0, 0xfffb },	/* specials, interlinear annotation */
	{ 0xfffe, 0xffff },	/* noncharacters */
	{ 0x1bca0, 0x1bca3 },	/* shorthand format controls */
	{ 0x1d173, 0x1d17a },	/* musical format controls */
	{ 0xe0000, 0xe0fff },	/* tags, variation selectors supplement */
};

bool utf8_hidden(uint32_t cp)
{
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		if (cp < hidden[i].lo)
			return false;
		if (cp <= hidden[i].hi)
			return true;
	}
	return false;
}

/* 1: the locale's encoding is UTF-8; 0: it is not; -1: not asked yet. */
static int utf8_locale = -1;

void cli_q_set_utf8(bool utf8)
{
	utf8_locale = utf8;
}

bool cli_q_utf8(void)
{
	if (utf8_locale < 0)
		utf8_locale = !strcmp(nl_langinfo(CODESET), "UTF-8");
	return utf8_locale;
}

/*
 * The length of the character at @p when it may reach a terminal as it is:
 * printable ASCII, or in a UTF-8 locale valid UTF-8 from U+00A0 up that is
 * not utf8_hidden(); 0 when it must be escaped (and at the NUL).
 */
static size_t raw_len(const unsigned char *p)
{
	size_t n = utf8_seq_len(p);

	if (n > 1)
		return !cli_q_utf8() || utf8_hidden(utf8_decode(p, n)) ? 0 : n;
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
			/*
			 * every byte of a hidden character, as ls -b does
			 * (outside UTF-8: every byte from 0x80 up)
			 */
			size_t k = cli_q_utf8() ? utf8_seq_len(p) : 1;

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
