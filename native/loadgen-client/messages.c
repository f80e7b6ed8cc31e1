/*
 * messages.c: reading the coordinator's start and stop messages (messages.h).
 * Unknown keys are skipped, so the coordinator may add fields the engine does
 * not use; a known key with a value of the wrong type or out of range fails
 * the plan, and the engine exits with the reason on stderr.
 *
 * Why C: see messages.h.
 */
#include "messages.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define KEY_CHARS 64

int message_type(const char *line, size_t len, char *type, size_t cap)
{
	struct json_in in;
	char key[KEY_CHARS];
	int found = 0;
	json_in_init(&in, line, len);
	if (json_begin(&in, '{') != 0)
		return -1;
	for (size_t i = 0;; i++) {
		int more = json_next_key(&in, i, key, sizeof(key));
		if (more < 0)
			return -1;
		if (more == 0)
			break;
		if (strcmp(key, "type") == 0) {
			if (json_read_string(&in, type, cap) < 0)
				return -1;
			found = 1;
		} else if (json_skip(&in) != 0) {
			return -1;
		}
	}
	return found ? 0 : -1;
}

/* A whole number in [min, max]. */
static int read_whole(struct json_in *in, uint64_t min, uint64_t max, uint64_t *value)
{
	double d;
	if (json_read_number(in, &d) != 0 || !(d >= (double)min && d <= (double)max) || d != floor(d))
		return -1;
	*value = (uint64_t)d;
	return 0;
}

static int read_u32(struct json_in *in, uint32_t min, uint32_t max, uint32_t *value)
{
	uint64_t v;
	if (read_whole(in, min, max, &v) != 0)
		return -1;
	*value = (uint32_t)v;
	return 0;
}

static int parse_address(const char *text, union address *out, socklen_t *len)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		*len = sizeof(out->in);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		*len = sizeof(out->in6);
		return 0;
	}
	return -1;
}

static int parse_share(struct json_in *in, struct plan *plan, const char **bad)
{
	char key[KEY_CHARS];
	if (json_begin(in, '{') != 0)
		return -1;
	for (size_t i = 0;; i++) {
		int more = json_next_key(in, i, key, sizeof(key));
		if (more <= 0)
			return more;
		*bad = "share";
		int rc = 0;
		if (strcmp(key, "index") == 0) {
			rc = read_u32(in, 0, 1u << 20, &plan->index);
		} else if (strcmp(key, "connections") == 0) {
			rc = read_u32(in, 1, MAX_CONNECTIONS, &plan->connections);
		} else if (strcmp(key, "firstConnection") == 0) {
			rc = read_whole(in, 0, 1ull << 40, &plan->first_connection);
		} else if (strcmp(key, "rate") == 0) {
			rc = json_read_number(in, &plan->rate);
			if (rc == 0 && !(plan->rate >= 0 && plan->rate <= 1e7))
				rc = -1;
		} else if (strcmp(key, "maxPending") == 0) {
			rc = read_u32(in, 1, MAX_CONNECTIONS, &plan->max_pending);
		} else {
			rc = json_skip(in);
		}
		if (rc != 0)
			return -1;
	}
}

static int parse_sources(struct json_in *in, struct plan *plan)
{
	char text[INET6_ADDRSTRLEN + 1];
	uint32_t cap = 0;
	if (json_begin(in, '[') != 0)
		return -1;
	for (size_t i = 0;; i++) {
		int more = json_next_element(in, i);
		if (more <= 0)
			return more;
		if (plan->source_count == MAX_SOURCES)
			return -1;
		if (plan->source_count == cap) {
			uint32_t next = cap == 0 ? 64 : cap * 2;
			if (next > MAX_SOURCES)
				next = MAX_SOURCES;
			union address *grown = realloc(plan->sources, next * sizeof(*grown));
			if (grown == NULL)
				return -1;
			plan->sources = grown;
			cap = next;
		}
		socklen_t ignored;
		if (json_read_string(in, text, sizeof(text)) < 0 || parse_address(text, &plan->sources[plan->source_count], &ignored) != 0)
			return -1;
		plan->source_count++;
	}
}

static int parse_plan_object(struct json_in *in, struct plan *plan, const char **bad, int *seen_request)
{
	char key[KEY_CHARS];
	static char text[MAX_REQUEST_BYTES + 1];
	uint32_t port = 0;
	int have_host = 0;
	if (json_begin(in, '{') != 0)
		return -1;
	for (size_t i = 0;; i++) {
		int more = json_next_key(in, i, key, sizeof(key));
		if (more < 0)
			return -1;
		if (more == 0)
			break;
		int rc = 0;
		*bad = "plan";
		if (strcmp(key, "share") == 0) {
			rc = parse_share(in, plan, bad);
		} else if (strcmp(key, "host") == 0) {
			*bad = "host (an IP address)";
			rc = json_read_string(in, text, INET6_ADDRSTRLEN + 1) < 0 ? -1 : parse_address(text, &plan->host, &plan->host_len);
			have_host = rc == 0;
		} else if (strcmp(key, "port") == 0) {
			*bad = "port";
			rc = read_u32(in, 1, 65535, &port);
		} else if (strcmp(key, "request") == 0) {
			*bad = "request (at most 65535 bytes)";
			long n = json_read_string(in, text, sizeof(text));
			if (n <= 0) {
				rc = -1;
			} else {
				free(plan->request);
				plan->request = malloc((size_t)n);
				if (plan->request == NULL)
					return -1;
				memcpy(plan->request, text, (size_t)n);
				plan->request_len = (size_t)n;
				*seen_request = 1;
			}
		} else if (strcmp(key, "sources") == 0) {
			*bad = "sources (at most 65536 IP addresses)";
			rc = parse_sources(in, plan);
		} else if (strcmp(key, "connectTimeoutMs") == 0) {
			*bad = "connectTimeoutMs";
			rc = read_u32(in, 1, 3600000, &plan->connect_timeout_ms);
		} else if (strcmp(key, "lateAfterMs") == 0) {
			*bad = "lateAfterMs";
			rc = read_u32(in, 0, 3600000 * 2u, &plan->late_after_ms);
		} else if (strcmp(key, "reconnect") == 0) {
			*bad = "reconnect";
			rc = json_read_bool(in, &plan->reconnect);
		} else if (strcmp(key, "deadlineMs") == 0) {
			*bad = "deadlineMs";
			rc = read_whole(in, 1, 1ull << 40, &plan->deadline_ms);
		} else if (strcmp(key, "topics") == 0) {
			*bad = "topics";
			rc = read_u32(in, 0, MAX_CONNECTIONS, &plan->topics);
		} else if (strcmp(key, "topicAt") == 0) {
			*bad = "topicAt";
			rc = read_u32(in, 0, MAX_REQUEST_BYTES, &plan->topic_at);
		} else if (strcmp(key, "batchMs") == 0) {
			*bad = "batchMs (0 to 1000)";
			rc = read_u32(in, 0, MAX_BATCH_MS, &plan->batch_ms);
		} else {
			rc = json_skip(in);
		}
		if (rc != 0)
			return -1;
	}
	*bad = "host and port";
	if (!have_host || port == 0)
		return -1;
	if (plan->host.sa.sa_family == AF_INET)
		plan->host.in.sin_port = htons((uint16_t)port);
	else
		plan->host.in6.sin6_port = htons((uint16_t)port);
	return 0;
}

int plan_parse(const char *line, size_t len, struct plan *plan, char *why, size_t why_cap)
{
	struct json_in in;
	char key[KEY_CHARS];
	char type[16] = "";
	const char *bad = "the message (not a JSON object)";
	int have_plan = 0, seen_request = 0;
	memset(plan, 0, sizeof(*plan));
	plan->batch_ms = DEFAULT_BATCH_MS;
	json_in_init(&in, line, len);
	if (json_begin(&in, '{') != 0)
		goto fail;
	for (size_t i = 0;; i++) {
		int more = json_next_key(&in, i, key, sizeof(key));
		if (more < 0)
			goto fail;
		if (more == 0)
			break;
		if (strcmp(key, "type") == 0) {
			bad = "type";
			if (json_read_string(&in, type, sizeof(type)) < 0)
				goto fail;
		} else if (strcmp(key, "plan") == 0) {
			if (parse_plan_object(&in, plan, &bad, &seen_request) != 0)
				goto fail;
			have_plan = 1;
		} else if (json_skip(&in) != 0) {
			goto fail;
		}
	}
	/* A topic number has at most 8 digits (MAX_CONNECTIONS), and the request's bytes sent are counted in 16 bits. */
	bad = "topicAt (within the request, which must leave room for a topic number)";
	if (plan->topics > 0 && (plan->topic_at > plan->request_len || plan->request_len + 8 > MAX_REQUEST_BYTES))
		goto fail;
	bad = "type (expected start)";
	if (strcmp(type, "start") != 0)
		goto fail;
	bad = "plan (missing, or without share.connections, request or deadlineMs)";
	if (!have_plan || plan->connections == 0 || !seen_request || plan->deadline_ms == 0 || plan->max_pending == 0 ||
	    plan->connect_timeout_ms == 0)
		goto fail;
	return 0;
fail:
	snprintf(why, why_cap, "bad start message: %s", bad);
	plan_free(plan);
	return -1;
}

void plan_free(struct plan *plan)
{
	free(plan->request);
	free(plan->sources);
	plan->request = NULL;
	plan->sources = NULL;
	plan->source_count = 0;
}
