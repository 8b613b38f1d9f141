/*
 * http-check.h - `migrate check`'s HTTP part: the HTTP endpoints a run's
 * selected units use (steps, rollbacks, probes), each reached once:
 * resolved, connected and, for https, TLS-handshaken, without sending a
 * request (nothing can change). Prints nothing.
 */
#ifndef MIGRATE_HTTP_CHECK_H
#define MIGRATE_HTTP_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct http_endpoint {
	char *origin;        /* "https://api.example.com:443", or the URL as written when skipped; masked */
	char *url;           /* the expanded URL connected to (may hold a secret: never shown) */
	bool insecure;
	char *ca_cert;       /* NULL: none */
	char *used_by;       /* "step 'x'", "probe 'y'", "rollback of step 'z'" (the first user) */
	size_t n_users;
	bool skipped;        /* the URL depends on something known only at run time */
	bool ok;
	int64_t ms;
	char *message;       /* why it failed or was skipped (masked) */
};

struct http_endpoints {
	struct http_endpoint *v;
	size_t n, cap;
};

/* Collect the endpoints of run's selected units (secrets loaded first). */
void http_endpoints_collect(struct run *run, struct http_endpoints *out);
/* Connect to each endpoint not skipped, within timeout_ms each. */
void http_endpoints_check(struct run *run, struct http_endpoints *eps, int64_t timeout_ms);
void http_endpoints_release(struct http_endpoints *eps);

#endif
