/*
 * exec-http.c - ACT_HTTP actions (http: steps, rollbacks and probes, and
 * prometheus: probes) as exec ops over http-client.c. The run's HTTP pool
 * (kept-alive connections, DNS, TLS sessions) lives in the exec ctx's
 * HTTP backend slot. Requests are made from this machine whatever the
 * unit's target.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "exec.h"
#include "http-client.h"
#include "util.h"

void exec_http_init(struct exec_ctx *ctx);

struct xhttp_op {
	const struct exec_req *req;
	struct http_op *op;
	char **headers;           /* the request's plus the Idempotency-Key */
	struct http_request hr;
};

static void
free_headers(char **h)
{
	for (size_t i = 0; h && h[i]; i++)
		free(h[i]);
	free(h);
}

static bool
has_header(const char *const *h, const char *name)
{
	size_t n = strlen(name);

	for (; h && *h; h++)
		if (strncasecmp(*h, name, n) == 0 && ((*h)[n] == ':' || (*h)[n] == ';'))
			return true;
	return false;
}

static int
xhttp_start(struct exec_ctx *ctx, const struct exec_req *req, void **opp, char **err)
{
	struct xhttp_op *x = xcalloc(1, sizeof(*x));
	size_t n = 0;

	x->req = req;
	for (const char *const *h = req->http.headers; h && *h; h++)
		n++;
	x->headers = xcalloc(n + 2, sizeof(*x->headers));
	for (size_t i = 0; i < n; i++)
		x->headers[i] = xstrdup(req->http.headers[i]);
	if (req->http.idempotency_key && http_method_changes_state(req->http.method ? req->http.method : "GET") &&
	    !has_header(req->http.headers, "Idempotency-Key"))
		x->headers[n++] = xasprintf("Idempotency-Key: %s", req->http.idempotency_key);
	x->hr.method = req->http.method;
	x->hr.url = req->http.url;
	x->hr.headers = (const char *const *)x->headers;
	x->hr.body = req->http.body;
	x->hr.body_len = req->http.body_len;
	x->hr.insecure = req->http.insecure;
	x->hr.ca_cert = req->http.ca_cert;
	x->hr.follow = req->http.follow;
	x->hr.timeout_ms = req->timeout_ms;
	x->op = http_op_start(exec_ctx_backend(ctx, EXEC_BACKEND_HTTP), &x->hr, err);
	if (x->op == NULL) {
		free_headers(x->headers);
		free(x);
		return -1;
	}
	*opp = x;
	return 0;
}

static size_t
xhttp_wait_on(void *op, struct pollfd *fds, size_t max, int64_t *timeout_ms)
{
	struct xhttp_op *x = op;
	return http_op_wait_on(x->op, fds, max, timeout_ms);
}

static int
xhttp_advance(void *op)
{
	struct xhttp_op *x = op;
	return http_op_advance(x->op);
}

static void
xhttp_cancel(void *op)
{
	struct xhttp_op *x = op;
	http_op_cancel(x->op);
}

static void
xhttp_finish(void *op, struct exec_result *res)
{
	struct xhttp_op *x = op;
	const struct exec_req *req = x->req;
	struct http_response resp;

	http_op_finish(x->op, &resp);
	res->duration_ms = resp.latency_ms;
	switch (resp.outcome) {
	case HTTP_RESPONSE:
		res->status = EXEC_DONE;
		res->exit_code = 0;
		/* a file: URL read has no status: count it as 200 */
		res->http_status = resp.status == 0 ? 200 : resp.status;
		res->body_cut = resp.truncated;
		res->out = resp.body;
		memset(&resp.body, 0, sizeof(resp.body));
		res->location = resp.location;
		resp.location = NULL;
		/* the body is the action's output (a failed step shows its tail) */
		if (req->on_output && res->out.len)
			req->on_output(req->ctx, 1, res->out.data, res->out.len < 65536 ? res->out.len : 65536);
		break;
	case HTTP_TIMED_OUT:
		res->status = EXEC_TIMEOUT;
		res->error = resp.error; /* what it waited for, naming the server */
		resp.error = NULL;
		break;
	case HTTP_CANCELLED:
		res->status = EXEC_CANCELLED;
		break;
	case HTTP_FAILED:
		res->status = EXEC_ERROR;
		res->error = resp.error;
		resp.error = NULL;
		break;
	}
	http_response_release(&resp);
	free_headers(x->headers);
	free(x);
}

static const struct exec_ops http_ops = {
	.name = "http",
	.start = xhttp_start,
	.wait_on = xhttp_wait_on,
	.advance = xhttp_advance,
	.cancel = xhttp_cancel,
	.finish = xhttp_finish,
};

static void
pool_destroy(void *state)
{
	http_pool_free(state);
}

void
exec_http_init(struct exec_ctx *ctx)
{
	struct http_pool *pool = http_pool_create();

	exec_ctx_set_backend(ctx, EXEC_BACKEND_HTTP, pool, pool_destroy);
	/* requests leave from this machine, whatever host the unit names */
	exec_register(ctx, ACT_HTTP, false, &http_ops);
	exec_register(ctx, ACT_HTTP, true, &http_ops);
	exec_register(ctx, ACT_PROMETHEUS, false, &http_ops);
	exec_register(ctx, ACT_PROMETHEUS, true, &http_ops);
}
