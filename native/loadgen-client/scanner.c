/*
 * scanner.c: the head parser and the frame counter of scanner.h, a port of
 * src/loadgen/sse-scanner.ts; each function names the TypeScript it mirrors.
 *
 * Why C: see scanner.h. No allocation, no regex engine: each pattern is a
 * bounded scan over the head, which is at most MAX_HEAD_BYTES + 4 bytes long.
 */
#include "scanner.h"

#include <string.h>

/* ---- the head ---- */

static int lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Whether text[at, len) starts with `word`, ignoring ASCII case (the regexes' /i). */
static int starts_with_ci(const char *text, size_t len, size_t at, const char *word)
{
	size_t n = strlen(word);
	if (at > len || len - at < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (lower((unsigned char)text[at + i]) != word[i])
			return 0;
	}
	return 1;
}

/* A regex \w character. */
static int is_word(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* /\r?\n\r?\n/: the index of the first match and its length, or 0 when there is none. */
static size_t find_head_end(const char *text, size_t len, size_t *index)
{
	for (size_t i = 0; i < len; i++) {
		size_t j;
		if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
			j = i + 2;
		else if (text[i] == '\n')
			j = i + 1;
		else
			continue;
		if (j + 1 < len && text[j] == '\r' && text[j + 1] == '\n') {
			*index = i;
			return j + 2 - i;
		}
		if (j < len && text[j] == '\n') {
			*index = i;
			return j + 1 - i;
		}
	}
	return 0;
}

/* /^HTTP\/1\.[01] (\d{3})[ \r\n]/: the status, or -1. */
static int status_of(const char *head, size_t len)
{
	if (len < 13 || memcmp(head, "HTTP/1.", 7) != 0 || (head[7] != '0' && head[7] != '1') || head[8] != ' ')
		return -1;
	int status = 0;
	for (size_t i = 9; i < 12; i++) {
		if (head[i] < '0' || head[i] > '9')
			return -1;
		status = status * 10 + (head[i] - '0');
	}
	if (head[12] != ' ' && head[12] != '\r' && head[12] != '\n')
		return -1;
	return status;
}

/* /\ntransfer-encoding:[^\n]*\bchunked\b/i */
static int is_chunked(const char *head, size_t len)
{
	static const char name[] = "transfer-encoding:";
	for (size_t i = 0; i < len; i++) {
		if (head[i] != '\n' || !starts_with_ci(head, len, i + 1, name))
			continue;
		/* The rest of that line, for a whole word `chunked`. */
		for (size_t j = i + 1 + sizeof(name) - 1; j < len && head[j] != '\n'; j++) {
			if (!starts_with_ci(head, len, j, "chunked"))
				continue;
			int before = is_word((unsigned char)head[j - 1]);
			int after = j + 7 < len && is_word((unsigned char)head[j + 7]);
			if (!before && !after)
				return 1;
		}
	}
	return 0;
}

/* /\ncontent-type:[ \t]*text\/event-stream\b/i */
static int is_event_stream(const char *head, size_t len)
{
	static const char name[] = "content-type:";
	static const char type[] = "text/event-stream";
	for (size_t i = 0; i < len; i++) {
		if (head[i] != '\n' || !starts_with_ci(head, len, i + 1, name))
			continue;
		size_t j = i + 1 + sizeof(name) - 1;
		while (j < len && (head[j] == ' ' || head[j] == '\t'))
			j++;
		if (!starts_with_ci(head, len, j, type))
			continue;
		size_t after = j + sizeof(type) - 1;
		if (after >= len || !is_word((unsigned char)head[after]))
			return 1;
	}
	return 0;
}

void parse_head(const char *text, size_t len, struct head *out)
{
	size_t index = 0;
	size_t match = find_head_end(text, len, &index);
	memset(out, 0, sizeof(*out));
	if (match == 0) {
		out->kind = len > MAX_HEAD_BYTES ? HEAD_BAD : HEAD_INCOMPLETE;
		return;
	}
	/* The head is the text up to and including the first line end of the blank line's pair. */
	size_t head_len = index + 1;
	int status = status_of(text, head_len);
	if (status < 0) {
		out->kind = HEAD_BAD;
		return;
	}
	out->kind = HEAD_DONE;
	out->status = status;
	out->chunked = is_chunked(text, head_len);
	out->event_stream = is_event_stream(text, head_len);
	out->body_start = index + match;
}

/* ---- the body ---- */

/* Bits of the per-connection SSE line state. */
#define AT_LINE_START 1
#define AFTER_CR 2
#define CHUNKED_BODY 4

/* Steps of the chunked-body decoder. */
enum { CHUNK_SIZE, CHUNK_EXTENSION, CHUNK_DATA, CHUNK_DATA_END, CHUNK_LAST };

/* A chunk size past this is garbage; the decoder stops counting rather than overflow. */
#define MAX_CHUNK 0x7fffffffu

static int hex_value(unsigned char byte)
{
	if (byte >= '0' && byte <= '9')
		return byte - '0';
	int l = byte | 0x20;
	if (l >= 'a' && l <= 'f')
		return l - 'a' + 10;
	return -1;
}

void sse_reset(struct sse_state *s, int chunked)
{
	s->line = AT_LINE_START | (chunked ? CHUNKED_BODY : 0);
	s->chunk_step = CHUNK_SIZE;
	s->chunk_left = 0;
}

int sse_ended(const struct sse_state *s)
{
	return (s->line & CHUNKED_BODY) != 0 && s->chunk_step == CHUNK_LAST;
}

/* BodyScanner.scanEvents */
static uint32_t scan_events(struct sse_state *s, const unsigned char *data, size_t start, size_t end, struct event_reader *r,
			    struct event_state *ev)
{
	events_scan(r, ev, data, start, end);
	uint8_t state = s->line;
	uint32_t frames = 0;
	for (size_t i = start; i < end; i++) {
		unsigned char byte = data[i];
		if (byte == '\n') {
			/* The LF of a CRLF pair: the CR already ended the line. */
			if (state & AFTER_CR) {
				state &= (uint8_t)~AFTER_CR;
			} else {
				if (state & AT_LINE_START)
					frames++;
				state |= AT_LINE_START;
			}
		} else if (byte == '\r') {
			if (state & AT_LINE_START)
				frames++;
			state |= AT_LINE_START | AFTER_CR;
		} else if (byte == '\0') {
			frames++;
			state &= (uint8_t)~AFTER_CR;
		} else {
			state &= (uint8_t)~(AT_LINE_START | AFTER_CR);
		}
	}
	s->line = state;
	return frames;
}

/* BodyScanner.scan */
uint32_t sse_scan(struct sse_state *s, const unsigned char *data, size_t start, size_t end, struct event_reader *r,
		  struct event_state *ev)
{
	if ((s->line & CHUNKED_BODY) == 0)
		return scan_events(s, data, start, end, r, ev);
	uint32_t frames = 0;
	uint8_t step = s->chunk_step;
	uint64_t left = s->chunk_left;
	size_t i = start;
	while (i < end) {
		if (step == CHUNK_DATA) {
			size_t take = left < end - i ? (size_t)left : end - i;
			frames += scan_events(s, data, i, i + take, r, ev);
			i += take;
			left -= take;
			if (left == 0)
				step = CHUNK_DATA_END;
			continue;
		}
		unsigned char byte = data[i++];
		if (step == CHUNK_SIZE) {
			int digit = hex_value(byte);
			if (digit >= 0) {
				left = left * 16 + (uint64_t)digit;
				if (left > MAX_CHUNK)
					step = CHUNK_LAST;
			} else if (byte == '\n') {
				step = left == 0 ? CHUNK_LAST : CHUNK_DATA;
			} else if (byte != '\r') {
				step = CHUNK_EXTENSION;
			}
		} else if (step == CHUNK_EXTENSION) {
			if (byte == '\n')
				step = left == 0 ? CHUNK_LAST : CHUNK_DATA;
		} else if (step == CHUNK_DATA_END) {
			if (byte == '\n')
				step = CHUNK_SIZE;
		} else {
			/* CHUNK_LAST: the body is over; trailers and anything after are not events. */
			break;
		}
	}
	s->chunk_step = step;
	s->chunk_left = (uint32_t)left;
	return frames;
}
