/* SPDX-License-Identifier: GPL-2.0 */
/*
 * json - the one JSON writer of umlcow-setup (info --json, list --json,
 * status --json).
 *
 * Output is always valid UTF-8 JSON whatever the bytes of a string:
 * control characters and the characters quote.h's utf8_hidden() names (C1
 * controls, bidirectional and zero-width characters, ...) are escaped
 * \uXXXX (a surrogate pair above U+FFFF), other valid UTF-8 passes through,
 * and every byte that is not part of a valid UTF-8 sequence (a stray byte,
 * an overlong form, a surrogate) becomes U+FFFD, so a path that is not
 * UTF-8 cannot be told apart from another in JSON (the text output shows
 * its bytes \xNN). Outside a UTF-8 locale (cli_q_utf8()) every character
 * from U+0080 up is escaped, so the output is ASCII.
 * Layout: {"key": value, "key": value} on one line per top-level value;
 * the elements of an array start on a line of their own.
 */
#ifndef UMLCOW_JSON_H
#define UMLCOW_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 8

struct json {
	FILE *f;
	int depth;
	bool first[JSON_MAX_DEPTH];	/* nothing written at this level yet */
	bool array[JSON_MAX_DEPTH];	/* this level is an array */
};

void json_init(struct json *j, FILE *f);

/* Containers: @key names it inside an object, NULL in an array or at top. */
void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);

/* Members; @key NULL inside an array. A NULL @s is written as null. */
void json_string(struct json *j, const char *key, const char *s);
void json_u64(struct json *j, const char *key, uint64_t v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);

/* Write @s as a JSON string literal (with quotes) to @f. */
void json_write_string(FILE *f, const char *s);

#endif /* UMLCOW_JSON_H */
