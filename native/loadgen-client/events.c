/*
 * events.c: the update reader of events.h, a port of
 * src/loadgen/event-reader.ts and arrival-tracker.ts; each function names the
 * TypeScript it mirrors.
 *
 * Why C: see events.h.
 */
#include "events.h"

#include <string.h>

/* Steps within a line (the low 7 bits of `step`). */
enum { NAME, ID_START, ID, TIME_START, TIME, TIME_FRACTION, SKIP, DATA_SEQUENCE };
#define STEP_MASK 0x7f
#define AFTER_CR 0x80

/* Bits of the event being read. */
#define HAS_DATA 1
#define HAS_TIME 2
#define HAS_ID 4
#define TIME_DIGITS 8
#define HAS_DATA_SEQUENCE 16

#define NAME_DATA ((uint32_t)'d' | (uint32_t)'a' << 8 | (uint32_t)'t' << 16 | (uint32_t)'a' << 24)
#define NAME_ID ((uint32_t)'i' | (uint32_t)'d' << 8)
/* Longer names are all "other": no field of interest is that long. */
#define MAX_NAME 5
#define MAX_FRACTION_DIGITS 6
#define NO_SEQUENCE UINT32_MAX
/* Past this a sequence number stops growing rather than wrap. */
#define MAX_SEQUENCE (UINT32_MAX / 10 - 1)

void events_init(struct event_reader *r)
{
	memset(r, 0, sizeof(*r));
	hist_init(&r->delivery);
}

void events_reset(struct event_state *s)
{
	s->step = NAME;
	s->name_len = 0;
	s->name = 0;
	s->flags = 0;
}

/* ArrivalTracker.record */
static void record_arrival(struct event_reader *r, uint32_t sequence, int64_t latency_us)
{
	uint32_t at = sequence % MAX_TRACKED_UPDATES;
	if (r->arrival_seq[at] != sequence) {
		if (r->arrival_seq[at] > sequence)
			return;
		r->arrival_seq[at] = sequence;
		r->arrival_count[at] = 0;
		r->arrival_latest_us[at] = latency_us;
	}
	r->arrival_count[at]++;
	if (latency_us > r->arrival_latest_us[at])
		r->arrival_latest_us[at] = latency_us;
}

/* EventReader.dispatch: a blank line, the event is complete. */
static void dispatch(struct event_reader *r, struct event_state *s)
{
	uint8_t flags = s->flags;
	s->flags = 0;
	if ((flags & HAS_TIME) == 0)
		return;
	double published_ms = s->time;
	for (uint8_t i = 0; i < s->fraction; i++)
		published_ms /= 10;
	int64_t latency_us = r->now_epoch_us - (int64_t)(published_ms * 1000.0);
	r->updates++;
	hist_record(&r->delivery, latency_us, 1);
	uint32_t sequence = (flags & HAS_DATA_SEQUENCE) ? s->data_sequence : (flags & HAS_ID) ? s->sequence : NO_SEQUENCE;
	if (sequence == NO_SEQUENCE || sequence == 0)
		return;
	if (sequence == s->highest) {
		r->duplicates++;
		return;
	}
	if (sequence < s->highest) {
		r->out_of_order++;
		return;
	}
	if (s->highest > 0)
		r->skipped += sequence - s->highest - 1;
	s->highest = sequence;
	record_arrival(r, sequence, latency_us);
}

/* EventReader.endTime: the publish time ends at `byte`; a space after it may start the sequence number. */
static uint8_t end_time(struct event_state *s, unsigned char byte)
{
	if ((s->flags & TIME_DIGITS) == 0)
		return SKIP;
	s->flags |= HAS_TIME;
	if (byte != ' ')
		return SKIP;
	s->data_sequence = 0;
	return DATA_SEQUENCE;
}

/* EventReader.endLine */
static void end_line(struct event_reader *r, struct event_state *s, uint8_t step)
{
	if (step == TIME || step == TIME_FRACTION) {
		end_time(s, '\n');
	} else if (step == NAME) {
		/* A line without a colon is a field with an empty value. */
		if (s->name_len == 0)
			dispatch(r, s);
		else if (s->name_len == 4 && s->name == NAME_DATA)
			s->flags |= HAS_DATA;
		else if (s->name_len == 2 && s->name == NAME_ID) {
			s->flags |= HAS_ID;
			s->sequence = NO_SEQUENCE;
		}
	}
	s->name_len = 0;
	s->name = 0;
}

/* EventReader.nameByte: a byte of a field name; the colon picks what the value is. */
static uint8_t name_byte(struct event_state *s, unsigned char byte)
{
	uint8_t len = s->name_len;
	if (byte != ':') {
		if (len < 4)
			s->name |= (uint32_t)byte << (8 * len);
		if (len < MAX_NAME)
			s->name_len = (uint8_t)(len + 1);
		return NAME;
	}
	/* The colon is taken: the line is no longer empty. */
	s->name_len = MAX_NAME;
	if (len == 2 && s->name == NAME_ID) {
		s->sequence = 0;
		s->flags |= HAS_ID;
		return ID_START;
	}
	if (len == 4 && s->name == NAME_DATA) {
		if (s->flags & HAS_DATA)
			return SKIP;
		s->flags |= HAS_DATA;
		s->time = 0;
		s->fraction = 0;
		return TIME_START;
	}
	return SKIP;
}

/* EventReader.scan */
void events_scan(struct event_reader *r, struct event_state *s, const unsigned char *data, size_t start, size_t end)
{
	uint8_t step = s->step;
	for (size_t i = start; i < end; i++) {
		unsigned char byte = data[i];
		if (byte == '\n' || byte == '\r') {
			/* The LF of a CRLF pair: the CR already ended the line. */
			if (byte == '\n' && (step & AFTER_CR)) {
				step &= STEP_MASK;
				continue;
			}
			end_line(r, s, step & STEP_MASK);
			step = byte == '\r' ? (uint8_t)(NAME | AFTER_CR) : (uint8_t)NAME;
			continue;
		}
		step &= STEP_MASK;
		int digit = byte >= '0' && byte <= '9' ? byte - '0' : -1;
		switch (step) {
		case NAME:
			step = name_byte(s, byte);
			break;
		case ID_START:
		case ID:
			if (step == ID_START && byte == ' ') {
				step = ID;
				break;
			}
			step = ID;
			/* The number that ends the id: any other byte starts it again. */
			if (digit >= 0) {
				uint32_t current = s->sequence == NO_SEQUENCE ? 0 : s->sequence;
				s->sequence = current >= MAX_SEQUENCE ? MAX_SEQUENCE : current * 10 + (uint32_t)digit;
			} else {
				s->sequence = NO_SEQUENCE;
			}
			break;
		case TIME_START:
		case TIME:
			if (step == TIME_START && byte == ' ') {
				step = TIME;
				break;
			}
			if (digit >= 0) {
				s->time = s->time * 10 + digit;
				s->flags |= TIME_DIGITS;
				step = TIME;
			} else {
				step = byte == '.' && (s->flags & TIME_DIGITS) ? (uint8_t)TIME_FRACTION : end_time(s, byte);
			}
			break;
		case TIME_FRACTION:
			if (digit >= 0) {
				if (s->fraction < MAX_FRACTION_DIGITS) {
					s->time = s->time * 10 + digit;
					s->fraction++;
				}
			} else {
				step = end_time(s, byte);
			}
			break;
		case DATA_SEQUENCE:
			if (digit >= 0) {
				s->data_sequence = s->data_sequence >= MAX_SEQUENCE ? MAX_SEQUENCE : s->data_sequence * 10 + (uint32_t)digit;
				s->flags |= HAS_DATA_SEQUENCE;
			} else {
				step = SKIP;
			}
			break;
		default:
			break;
		}
	}
	s->step = step;
}

/* ArrivalTracker.toJSON: slots in sequence order (a sort of at most MAX_TRACKED_UPDATES indices). */
void events_write_arrivals(const struct event_reader *r, struct json_out *out)
{
	static uint32_t order[MAX_TRACKED_UPDATES];
	uint32_t n = 0;
	for (uint32_t at = 0; at < MAX_TRACKED_UPDATES; at++) {
		if (r->arrival_count[at] == 0)
			continue;
		/* Insertion sort: the slots are nearly in order already (sequence mod size). */
		uint32_t j = n++;
		while (j > 0 && r->arrival_seq[order[j - 1]] > r->arrival_seq[at]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = at;
	}
	json_raw(out, "[");
	for (uint32_t k = 0; k < n; k++) {
		uint32_t at = order[k];
		json_raw(out, k == 0 ? "[" : ",[");
		json_uint(out, r->arrival_seq[at]);
		json_raw(out, ",");
		json_uint(out, r->arrival_count[at]);
		json_raw(out, ",");
		int64_t latest = r->arrival_latest_us[at];
		if (latest < 0)
			json_raw(out, "-");
		json_millis(out, (uint64_t)(latest < 0 ? -latest : latest));
		json_raw(out, "]");
	}
	json_raw(out, "]");
}
