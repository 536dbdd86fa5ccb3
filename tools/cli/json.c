// SPDX-License-Identifier: GPL-2.0
/*
 * json.c - the JSON writer (see json.h).
 */
#include <inttypes.h>

#include "json.h"
#include "quote.h"

void json_init(struct json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
	j->array[0] = true;
}

/* \uXXXX, or a surrogate pair above U+FFFF. */
static void write_u(FILE *f, uint32_t cp)
{
	if (cp > 0xffff) {
		cp -= 0x10000;
		fprintf(f, "\\u%04x\\u%04x", (unsigned int)(0xd800 | cp >> 10),
			(unsigned int)(0xdc00 | (cp & 0x3ff)));
		return;
	}
	fprintf(f, "\\u%04x", (unsigned int)cp);
}

void json_write_string(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	bool utf8 = cli_q_utf8();

	fputc('"', f);
	while (*p) {
		size_t n = utf8_seq_len(p);

		if (n > 1) {
			uint32_t cp = utf8_decode(p, n);

			/* valid JSON either way; escaped, no terminal acts on it */
			if (!utf8 || utf8_hidden(cp))
				write_u(f, cp);
			else
				fwrite(p, 1, n, f);
			p += n;
			continue;
		}
		if (n == 0) {		/* not UTF-8: U+FFFD */
			if (utf8)
				fputs("\xef\xbf\xbd", f);
			else
				write_u(f, 0xfffd);
		} else if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p, f);
		} else if (*p == '\n') {
			fputs("\\n", f);
		} else if (*p == '\t') {
			fputs("\\t", f);
		} else if (*p < 0x20 || *p == 0x7f) {
			write_u(f, *p);
		} else {
			fputc(*p, f);
		}
		p++;
	}
	fputc('"', f);
}

/* The separator and key before a value at the current level. */
static void member(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		fputs(j->array[j->depth] ? "," : ", ", j->f);
	if (j->array[j->depth] && j->depth > 0)
		fputs("\n  ", j->f);
	j->first[j->depth] = false;
	if (key) {
		json_write_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void begin(struct json *j, const char *key, bool array)
{
	member(j, key);
	fputc(array ? '[' : '{', j->f);
	if (j->depth + 1 < JSON_MAX_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
	j->array[j->depth] = array;
}

static void end(struct json *j, bool array)
{
	if (array && !j->first[j->depth])
		fputc('\n', j->f);
	fputc(array ? ']' : '}', j->f);
	if (j->depth > 0)
		j->depth--;
	if (j->depth == 0)
		fputc('\n', j->f);
}

void json_object_begin(struct json *j, const char *key)
{
	begin(j, key, false);
}

void json_object_end(struct json *j)
{
	end(j, false);
}

void json_array_begin(struct json *j, const char *key)
{
	begin(j, key, true);
}

void json_array_end(struct json *j)
{
	end(j, true);
}

void json_string(struct json *j, const char *key, const char *s)
{
	member(j, key);
	if (s)
		json_write_string(j->f, s);
	else
		fputs("null", j->f);
}

void json_u64(struct json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->f, "%" PRIu64, v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->f);
}
