/*
 * http-client.h - one way to make an HTTP request (SPEC §6), with libcurl.
 *
 * A struct http_pool holds what a run shares between its requests: the
 * connection cache (one kept-alive connection per host), DNS answers and
 * TLS sessions. It is safe to use from several threads at once (a watch
 * probe and a step). http_perform() makes one request on a pool: connect
 * and total timeouts, cancellation through a flag, at most HTTP_BODY_MAX
 * bytes of the body kept (the rest is read and thrown away), redirects
 * followed only when asked (at most 10, http/https only), only http, https
 * and file URLs, TLS verified unless insecure. It prints nothing.
 */
#ifndef MIGRATE_HTTP_CLIENT_H
#define MIGRATE_HTTP_CLIENT_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define HTTP_BODY_MAX ((size_t)1024 * 1024)
#define HTTP_CONNECT_TIMEOUT_MS ((int64_t)10000)
#define HTTP_MAX_REDIRECTS 10

struct http_pool;

struct http_request {
	const char *method;            /* GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS */
	const char *url;
	const char *const *headers;    /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *body;              /* NULL: no body */
	size_t body_len;
	bool insecure;                 /* do not verify the server's certificate */
	const char *ca_cert;           /* a CA file added to the system's; NULL: none */
	bool follow;                   /* follow redirects */
	bool connect_only;             /* preflight: connect (and TLS handshake) only */
	int64_t timeout_ms;            /* total; <= 0: 30 s */
	int64_t connect_timeout_ms;    /* <= 0: HTTP_CONNECT_TIMEOUT_MS (cut by timeout_ms) */
	volatile sig_atomic_t *cancel; /* set: stop within about 100 ms */
	size_t body_max;               /* 0: HTTP_BODY_MAX */
};

enum http_outcome {
	HTTP_RESPONSE,     /* a response came back (any status) */
	HTTP_FAILED,       /* no response: error says why */
	HTTP_TIMED_OUT,
	HTTP_CANCELLED,
};

struct http_response {
	enum http_outcome outcome;
	int status;                    /* 0 for a file: URL read or connect_only */
	struct buf body;               /* at most body_max bytes */
	uint64_t body_bytes;           /* how many bytes the body had in all */
	bool truncated;                /* body_bytes > body.len */
	int64_t latency_ms;            /* request sent to response read */
	char *location;                /* a redirect not followed: where to (malloc'ed) */
	char *error;                   /* malloc'ed; HTTP_FAILED/HTTP_TIMED_OUT */
};

/*
 * Whether HTTP works here: libcurl is opened on first use (curl-load.h).
 * 0, or -1 with *err (malloc'ed) saying why not.
 */
int http_client_ready(char **err);

/* The run's connection pool; libcurl is loaded by the first request (curl-load.h). */
struct http_pool *http_pool_create(void);
void http_pool_free(struct http_pool *pool);

/*
 * One request, steppable (the shape of an exec_ops, exec.h): start it,
 * then { wait_on -> poll -> advance } until advance returns 1, then
 * finish. cancel stops it (advance then returns 1). pool may be NULL (no
 * connection reuse). start returns NULL with *err (malloc'ed).
 */
struct http_op;
struct http_op *http_op_start(struct http_pool *pool, const struct http_request *req, char **err);
size_t http_op_wait_on(struct http_op *op, struct pollfd *fds, size_t max, int64_t *timeout_ms);
int http_op_advance(struct http_op *op);
void http_op_cancel(struct http_op *op);
/* Fill *resp (release it with http_response_release) and free op. */
void http_op_finish(struct http_op *op, struct http_response *resp);

/*
 * Make one request to its end in the calling thread (req->cancel polled
 * every 100 ms). Always fills *resp; release it with http_response_release.
 */
void http_perform(struct http_pool *pool, const struct http_request *req, struct http_response *resp);
void http_response_release(struct http_response *resp);

/* Does the method change state (POST, PUT, PATCH, DELETE)? */
bool http_method_changes_state(const char *method);

#endif
