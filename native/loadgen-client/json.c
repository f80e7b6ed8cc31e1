/*
 * json.c: the bounded JSON writer and reader of json.h. JSON is RFC 8259
 * (https://www.rfc-editor.org/rfc/rfc8259); Node's IPC channel in 'json'
 * mode carries one JSON.stringify'd message per line.
 *
 * Why C: see json.h; this is the engine's only text protocol.
 */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer ---- */

void json_out_init(struct json_out *out, char *buf, size_t cap)
{
	out->buf = buf;
	out->cap = cap;
	out->len = 0;
	out->overflow = 0;
	if (cap > 0)
		buf[0] = '\0';
}

static void put(struct json_out *out, const char *text, size_t n)
{
	if (out->overflow)
		return;
	/* One byte stays free for the terminating NUL. */
	if (n >= out->cap - out->len) {
		out->overflow = 1;
		return;
	}
	memcpy(out->buf + out->len, text, n);
	out->len += n;
	out->buf[out->len] = '\0';
}

void json_raw(struct json_out *out, const char *text)
{
	put(out, text, strlen(text));
}

void json_uint(struct json_out *out, uint64_t value)
{
	char digits[24];
	int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)value);
	put(out, digits, (size_t)n);
}

void json_millis(struct json_out *out, uint64_t micros)
{
	char text[32];
	unsigned long long whole = micros / 1000, fraction = micros % 1000;
	int n;
	/* Trailing zeros of the fraction are left out, as JSON.stringify would. */
	if (fraction == 0)
		n = snprintf(text, sizeof(text), "%llu", whole);
	else if (fraction % 100 == 0)
		n = snprintf(text, sizeof(text), "%llu.%01llu", whole, fraction / 100);
	else if (fraction % 10 == 0)
		n = snprintf(text, sizeof(text), "%llu.%02llu", whole, fraction / 10);
	else
		n = snprintf(text, sizeof(text), "%llu.%03llu", whole, fraction);
	put(out, text, (size_t)n);
}

void json_bool(struct json_out *out, int value)
{
	json_raw(out, value ? "true" : "false");
}

void json_string(struct json_out *out, const char *text)
{
	static const char hex[] = "0123456789abcdef";
	put(out, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)text; *c != '\0'; c++) {
		if (*c == '"' || *c == '\\') {
			char escaped[2] = { '\\', (char)*c };
			put(out, escaped, 2);
		} else if (*c < 0x20 || *c >= 0x7f) {
			char escaped[6] = { '\\', 'u', '0', '0', hex[*c >> 4], hex[*c & 15] };
			put(out, escaped, 6);
		} else {
			put(out, (const char *)c, 1);
		}
	}
	put(out, "\"", 1);
}

/* ---- reader ---- */

void json_in_init(struct json_in *in, const char *text, size_t len)
{
	in->p = text;
	in->end = text + len;
	in->depth = 0;
	in->error = 0;
}

static int fail(struct json_in *in)
{
	in->error = 1;
	return -1;
}

int json_peek(struct json_in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t' || *in->p == '\r' || *in->p == '\n'))
		in->p++;
	return in->p < in->end ? (unsigned char)*in->p : -1;
}

static int take(struct json_in *in, char c)
{
	if (json_peek(in) != (unsigned char)c)
		return fail(in);
	in->p++;
	return 0;
}

int json_begin(struct json_in *in, char open)
{
	if (in->depth >= JSON_MAX_DEPTH)
		return fail(in);
	if (take(in, open) != 0)
		return -1;
	in->depth++;
	return 0;
}

static int next_member(struct json_in *in, size_t index, char close)
{
	int c = json_peek(in);
	if (c == close) {
		in->p++;
		in->depth--;
		return 0;
	}
	if (index > 0 && take(in, ',') != 0)
		return -1;
	return 1;
}

int json_next_key(struct json_in *in, size_t index, char *key, size_t cap)
{
	int more = next_member(in, index, '}');
	if (more <= 0)
		return more;
	if (json_read_string(in, key, cap) < 0 || take(in, ':') != 0)
		return -1;
	return 1;
}

int json_next_element(struct json_in *in, size_t index)
{
	return next_member(in, index, ']');
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes one UTF-8 sequence starting at in->p; returns the code point, or -1. */
static long utf8_code_point(struct json_in *in)
{
	const unsigned char *s = (const unsigned char *)in->p;
	size_t left = (size_t)(in->end - in->p);
	long cp;
	size_t n;
	if (s[0] < 0x80) {
		cp = s[0];
		n = 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = s[0] & 0x1f;
		n = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = s[0] & 0x0f;
		n = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		cp = s[0] & 0x07;
		n = 4;
	} else {
		return -1;
	}
	if (n > left)
		return -1;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	in->p += n;
	return cp;
}

long json_read_string(struct json_in *in, char *out, size_t cap)
{
	if (cap == 0 || take(in, '"') != 0)
		return -1;
	size_t len = 0;
	/* Each pass takes at least one byte of the bounded input. */
	while (in->p < in->end) {
		char c = *in->p;
		long units[2];
		int count = 1;
		if (c == '"') {
			in->p++;
			out[len] = '\0';
			return (long)len;
		}
		if ((unsigned char)c < 0x20)
			return fail(in);
		if (c == '\\') {
			if (in->end - in->p < 2)
				return fail(in);
			char e = in->p[1];
			in->p += 2;
			switch (e) {
			case '"': units[0] = '"'; break;
			case '\\': units[0] = '\\'; break;
			case '/': units[0] = '/'; break;
			case 'b': units[0] = '\b'; break;
			case 'f': units[0] = '\f'; break;
			case 'n': units[0] = '\n'; break;
			case 'r': units[0] = '\r'; break;
			case 't': units[0] = '\t'; break;
			case 'u': {
				if (in->end - in->p < 4)
					return fail(in);
				long unit = 0;
				for (int i = 0; i < 4; i++) {
					int d = hex_digit(in->p[i]);
					if (d < 0)
						return fail(in);
					unit = unit * 16 + d;
				}
				in->p += 4;
				/* A \u escape is one UTF-16 code unit, surrogate halves included. */
				units[0] = unit;
				break;
			}
			default:
				return fail(in);
			}
		} else {
			long cp = utf8_code_point(in);
			if (cp < 0)
				return fail(in);
			if (cp > 0xffff) {
				/* Outside the BMP a JavaScript string holds a surrogate pair: two code units. */
				cp -= 0x10000;
				units[0] = 0xd800 + (cp >> 10);
				units[1] = 0xdc00 + (cp & 0x3ff);
				count = 2;
			} else {
				units[0] = cp;
			}
		}
		for (int i = 0; i < count; i++) {
			if (len + 1 >= cap)
				return fail(in);
			out[len++] = (char)(units[i] & 0xff);
		}
	}
	return fail(in);
}

int json_read_number(struct json_in *in, double *value)
{
	char text[64];
	size_t n = 0;
	json_peek(in);
	while (in->p < in->end && n + 1 < sizeof(text) && strchr("-+.eE0123456789", *in->p) != NULL && *in->p != '\0')
		text[n++] = *in->p++;
	text[n] = '\0';
	if (n == 0)
		return fail(in);
	char *rest;
	*value = strtod(text, &rest);
	if (*rest != '\0')
		return fail(in);
	return 0;
}

static int literal(struct json_in *in, const char *word)
{
	size_t n = strlen(word);
	json_peek(in);
	if ((size_t)(in->end - in->p) < n || memcmp(in->p, word, n) != 0)
		return fail(in);
	in->p += n;
	return 0;
}

int json_read_bool(struct json_in *in, int *value)
{
	int c = json_peek(in);
	if (c == 't' && literal(in, "true") == 0) {
		*value = 1;
		return 0;
	}
	if (c == 'f' && literal(in, "false") == 0) {
		*value = 0;
		return 0;
	}
	return fail(in);
}

int json_skip(struct json_in *in)
{
	int c = json_peek(in);
	if (c == '"') {
		/* Skipped strings may be long (a source list): step over them without copying. */
		in->p++;
		while (in->p < in->end && *in->p != '"') {
			/* An escape takes the next byte too, unless it is the last one (then the string never ends). */
			if (*in->p == '\\' && in->end - in->p > 1)
				in->p++;
			in->p++;
		}
		if (in->p >= in->end)
			return fail(in);
		in->p++;
		return 0;
	}
	if (c == '{' || c == '[') {
		if (json_begin(in, (char)c) != 0)
			return -1;
		/* Each member takes at least one byte of the bounded input, or fails. */
		for (size_t i = 0;; i++) {
			int more;
			if (c == '{') {
				/* Keys of skipped objects are not needed: skipped as strings, not copied. */
				more = next_member(in, i, '}');
				if (more == 1 && (json_peek(in) != '"' || json_skip(in) != 0 || take(in, ':') != 0))
					return fail(in);
			} else {
				more = json_next_element(in, i);
			}
			if (more < 0)
				return -1;
			if (more == 0)
				return 0;
			if (json_skip(in) != 0)
				return -1;
		}
	}
	if (c == 't' || c == 'f') {
		int ignored;
		return json_read_bool(in, &ignored);
	}
	if (c == 'n')
		return literal(in, "null");
	double ignored;
	return json_read_number(in, &ignored);
}
