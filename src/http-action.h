/*
 * http-action.h - the request of an `http:` step, rollback or probe, or of
 * a `prometheus:` probe, for one unit: its texts expanded, headers checked,
 * body_file read, the Idempotency-Key added (SPEC §6).
 */
#ifndef MIGRATE_HTTP_ACTION_H
#define MIGRATE_HTTP_ACTION_H

#include "buf.h"
#include "http-client.h"
#include "runbook.h"

/* Largest body_file sent. */
#define HTTP_BODY_FILE_MAX ((size_t)64 * 1024 * 1024)

/* Expands one runbook text into out; -1 with *err (malloc'ed). */
typedef int (*http_expand_fn)(void *ctx, const struct text *t, struct buf *out, char **err);

struct http_call {
	struct http_request req;   /* points into the fields below */
	struct buf url, body, ca_cert;
	char **headers;            /* NULL-terminated "Name: value" */
	size_t n_headers;
};

/*
 * Build the request of action a (ACT_HTTP or ACT_PROMETHEUS).
 * idempotency_key (may be NULL) is sent as Idempotency-Key on a POST, PUT,
 * PATCH or DELETE, unless the runbook sets that header itself. Returns 0,
 * or -1 with *err; release c either way.
 */
int http_call_build(struct http_call *c, const struct action *a, http_expand_fn expand, void *ctx,
    const char *idempotency_key, char **err);
void http_call_release(struct http_call *c);

/*
 * The Idempotency-Key of a unit: "RUN-ID-" and 32 hex digits of the
 * SHA-256 of the unit's key and purpose ("step" or "rollback"), the same
 * on every retry and after a resume. malloc'ed.
 */
char *http_idempotency_key(const char *run_id, const char *unit_key, const char *purpose);

#endif
