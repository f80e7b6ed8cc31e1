/*
 * reasons.c: the reason table of reasons.h.
 *
 * Why C: see reasons.h. The errno table is written out rather than taken
 * from glibc's strerrorname_np, so that the engine builds on any libc and
 * the names cannot drift from what Node reports for the same failure.
 */
#include "reasons.h"

#include <errno.h>
#include <string.h>

void reasons_add(struct reason_counts *r, const char *reason)
{
	for (unsigned i = 0; i < r->used; i++) {
		if (strcmp(r->names[i], reason) == 0) {
			r->counts[i]++;
			return;
		}
	}
	if (r->used == MAX_REASONS - 1 && strcmp(reason, "OTHER") != 0) {
		/* The last entry is kept for OTHER, so a flood of odd reasons cannot drop counts. */
		reasons_add(r, "OTHER");
		return;
	}
	if (r->used >= MAX_REASONS)
		return;
	unsigned i = r->used++;
	size_t n = strlen(reason);
	if (n >= MAX_REASON_CHARS)
		n = MAX_REASON_CHARS - 1;
	memcpy(r->names[i], reason, n);
	r->names[i][n] = '\0';
	r->counts[i] = 1;
}

void reasons_write_json(const struct reason_counts *r, struct json_out *out)
{
	json_raw(out, "{");
	for (unsigned i = 0; i < r->used; i++) {
		if (i > 0)
			json_raw(out, ",");
		json_string(out, r->names[i]);
		json_raw(out, ":");
		json_uint(out, r->counts[i]);
	}
	json_raw(out, "}");
}

struct errno_entry {
	int err;
	const char *name;
};

/* The errors a client socket meets: socket, bind, connect, read. */
static const struct errno_entry ERRNO_NAMES[] = {
	{ ECONNREFUSED, "ECONNREFUSED" },
	{ ECONNRESET, "ECONNRESET" },
	{ ECONNABORTED, "ECONNABORTED" },
	{ EADDRNOTAVAIL, "EADDRNOTAVAIL" },
	{ EADDRINUSE, "EADDRINUSE" },
	{ ETIMEDOUT, "ETIMEDOUT" },
	{ EHOSTUNREACH, "EHOSTUNREACH" },
	{ ENETUNREACH, "ENETUNREACH" },
	{ ENETDOWN, "ENETDOWN" },
	{ EPIPE, "EPIPE" },
	{ EMFILE, "EMFILE" },
	{ ENFILE, "ENFILE" },
	{ ENOBUFS, "ENOBUFS" },
	{ ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" },
	{ EPERM, "EPERM" },
	{ EINVAL, "EINVAL" },
	{ EAFNOSUPPORT, "EAFNOSUPPORT" },
	{ EPROTO, "EPROTO" },
};

const char *errno_name(int err)
{
	for (size_t i = 0; i < sizeof(ERRNO_NAMES) / sizeof(ERRNO_NAMES[0]); i++) {
		if (ERRNO_NAMES[i].err == err)
			return ERRNO_NAMES[i].name;
	}
	return "ERROR";
}
