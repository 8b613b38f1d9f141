/*
 * http-client.c - one HTTP request with libcurl (see http-client.h).
 *
 * Each request is an easy handle driven by its own multi handle, so the
 * wait is a poll bounded by 100 ms at a time and a cancel flag stops it
 * (removing the handle aborts the transfer). Requests of one run share a
 * CURLSH: connection cache, DNS and TLS sessions, hence keep-alive.
 */
#include "http-client.h"

#include <poll.h>
#include <pthread.h>
#include <sys/select.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "curl-load.h"
#include "util.h"

#define POLL_SLICE_MS 100

struct http_pool {
	pthread_mutex_t setup;       /* guards making share */
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ctx)
{
	struct http_pool *pool = ctx;
	pthread_mutex_lock(&pool->locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *ctx)
{
	struct http_pool *pool = ctx;
	pthread_mutex_unlock(&pool->locks[data]);
}

int
http_client_ready(char **err)
{
	return curl_load(err);
}

struct http_pool *
http_pool_create(void)
{
	struct http_pool *pool = xcalloc(1, sizeof(*pool));

	pthread_mutex_init(&pool->setup, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&pool->locks[i], NULL);
	return pool;
}

/* The pool's CURLSH, made by its first request (libcurl is loaded by then); NULL if it cannot be. */
static CURLSH *
pool_share(struct http_pool *pool)
{
	CURLSH *sh;

	pthread_mutex_lock(&pool->setup);
	if (pool->share == NULL && (pool->share = curl_share_init()) != NULL) {
		curl_share_setopt(pool->share, CURLSHOPT_LOCKFUNC, share_lock);
		curl_share_setopt(pool->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
		curl_share_setopt(pool->share, CURLSHOPT_USERDATA, pool);
		curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(pool->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	sh = pool->share;
	pthread_mutex_unlock(&pool->setup);
	return sh;
}

void
http_pool_free(struct http_pool *pool)
{
	if (pool == NULL)
		return;
	if (pool->share)
		curl_share_cleanup(pool->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&pool->locks[i]);
	pthread_mutex_destroy(&pool->setup);
	free(pool);
}

bool
http_method_changes_state(const char *method)
{
	static const char *const changing[] = { "POST", "PUT", "PATCH", "DELETE" };

	for (size_t i = 0; i < sizeof(changing) / sizeof(changing[0]); i++)
		if (strcasecmp(method, changing[i]) == 0)
			return true;
	return false;
}

struct sink {
	struct buf *body;
	size_t max;
	uint64_t total;
};

/* Keep the first max bytes; count and drop the rest. */
static size_t
on_body(char *data, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;

	if (s->body->len < s->max) {
		size_t keep = s->max - s->body->len;
		buf_add(s->body, data, len < keep ? len : keep);
	}
	s->total += len;
	return len;
}

/* Set the options of one request on h; -1 with *err if one is refused. */
static int
setup(CURL *h, const struct http_pool *pool, const struct http_request *req, struct curl_slist **hdrs,
    struct sink *sink, char *errbuf, char **err)
{
	int64_t total = req->timeout_ms > 0 ? req->timeout_ms : 30000;
	int64_t conn = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : HTTP_CONNECT_TIMEOUT_MS;
	const char *m = req->method ? req->method : "GET";
	CURLcode rc = CURLE_OK;

	if (conn > total)
		conn = total;
#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, req->follow ? 1L : 0L);
	SET(CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
	SET(CURLOPT_TIMEOUT_MS, (long)total);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)conn);
	SET(CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
	SET(CURLOPT_USERAGENT, "migrate/" MIGRATE_VERSION);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, sink);
	if (pool)
		SET(CURLOPT_SHARE, pool->share);
	if (req->ca_cert) {
		/* a CA file replaces curl's bundle; keep the system directory too, so it adds */
		const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
		SET(CURLOPT_CAINFO, req->ca_cert);
		SET(CURLOPT_CAPATH, vi && vi->capath ? vi->capath : "/etc/ssl/certs");
	}
	if (req->connect_only) {
		SET(CURLOPT_CONNECT_ONLY, 1L);
	} else if (strcmp(m, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "GET") != 0) {
		SET(CURLOPT_CUSTOMREQUEST, m);
	}
	if (!req->connect_only && req->body) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body);
		if (strcmp(m, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, m);
	}
	for (const char *const *p = req->headers; p && *p; p++) {
		struct curl_slist *n = curl_slist_append(*hdrs, *p);
		if (n == NULL) {
			*err = xstrdup("out of memory");
			return -1;
		}
		*hdrs = n;
	}
	/* no "Expect: 100-continue" round trip on bodies */
	if (req->body) {
		struct curl_slist *n = curl_slist_append(*hdrs, "Expect:");
		if (n)
			*hdrs = n;
	}
	if (*hdrs)
		SET(CURLOPT_HTTPHEADER, *hdrs);
#undef SET
	if (rc != CURLE_OK) {
		*err = xasprintf("cannot set up the request: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/*
 * The server of req as "host:port" (malloc'ed), never the path or query,
 * which may carry a token.
 */
static char *
server_of(const struct http_request *req)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *m;

	if (u && curl_url_set(u, CURLUPART_URL, req->url, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_HOST, &host, 0);
		curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	}
	m = xasprintf("%s:%s", host ? host : "?", port ? port : "?");
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return m;
}

/* The message of a failed transfer: what curl said, in our words where we have them. */
static char *
failure_text(CURLcode rc, const char *errbuf, const struct http_request *req)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
		return xasprintf("only http, https and file URLs are allowed (%s)", detail);
	case CURLE_COULDNT_RESOLVE_HOST:
		return xasprintf("cannot resolve the host: %s", detail);
	case CURLE_COULDNT_CONNECT:
		return xasprintf("cannot connect: %s", detail);
	case CURLE_PEER_FAILED_VERIFICATION:
		return xasprintf("TLS certificate not trusted: %s%s", detail,
		    req->ca_cert ? "" : " (add its CA with ca_cert:, or insecure: true)");
	case CURLE_SSL_CONNECT_ERROR:
		return xasprintf("TLS handshake failed: %s", detail);
	case CURLE_TOO_MANY_REDIRECTS:
		return xasprintf("more than %d redirects", HTTP_MAX_REDIRECTS);
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE: {
		/* the connection broke: name the server (curl's text does not) */
		char *server = server_of(req), *m;
		m = rc == CURLE_GOT_NOTHING
		    ? xasprintf("%s: the server closed the connection without an answer: %s", server, detail)
		    : xasprintf("%s: the connection broke: %s", server, detail);
		free(server);
		return m;
	}
	default:
		return xasprintf("%s", detail);
	}
}

/* What a timed-out transfer was waiting for, naming the server: a connection, or an answer on one. */
static char *
timeout_text(CURL *h, const struct http_request *req)
{
	char *server = server_of(req), *m;
	curl_off_t connected = 0, got = 0;

	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
	curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &got);
	if (connected <= 0)
		m = xasprintf("%s: cannot connect: no answer", server);
	else if (got <= 0)
		m = xasprintf("%s: connected, but no response", server);
	else
		m = xasprintf("%s: the response did not end in time (%" CURL_FORMAT_CURL_OFF_T " bytes of body received)",
		    server, got);
	free(server);
	return m;
}

struct http_op {
	CURL *h;
	CURLM *multi;
	struct curl_slist *hdrs;
	struct sink sink;
	struct buf body;
	char errbuf[CURL_ERROR_SIZE];
	struct http_request req;   /* the caller's, outlives the op */
	int64_t t0;
	bool done, cancelled, failed;
	CURLcode result;
	char *error;
};

struct http_op *
http_op_start(struct http_pool *pool, const struct http_request *req, char **err)
{
	struct http_op *op;

	if (curl_load(err) < 0)
		return NULL;
	if (pool && pool_share(pool) == NULL) {
		*err = xstrdup("cannot set up libcurl");
		return NULL;
	}
	op = xcalloc(1, sizeof(*op));
	op->req = *req;
	op->t0 = now_ms();
	op->sink.body = &op->body;
	op->sink.max = req->body_max ? req->body_max : HTTP_BODY_MAX;
	if ((op->h = curl_easy_init()) == NULL || (op->multi = curl_multi_init()) == NULL) {
		*err = xstrdup("cannot set up libcurl");
		goto fail;
	}
	if (setup(op->h, pool, req, &op->hdrs, &op->sink, op->errbuf, err) < 0)
		goto fail;
	if (curl_multi_add_handle(op->multi, op->h) != CURLM_OK) {
		*err = xstrdup("cannot start the request");
		goto fail;
	}
	return op;
fail:
	if (op->multi)
		curl_multi_cleanup(op->multi);
	if (op->h)
		curl_easy_cleanup(op->h);
	curl_slist_free_all(op->hdrs);
	buf_release(&op->body);
	free(op);
	return NULL;
}

size_t
http_op_wait_on(struct http_op *op, struct pollfd *fds, size_t max, int64_t *timeout_ms)
{
	fd_set r, w, x;
	int maxfd = -1;
	long t = -1;
	size_t n = 0;

	if (op->done)
		return 0;
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_ZERO(&x);
	curl_multi_fdset(op->multi, &r, &w, &x, &maxfd);
	for (int fd = 0; fd <= maxfd && n < max; fd++) {
		short ev = (short)((FD_ISSET(fd, &r) ? POLLIN : 0) | (FD_ISSET(fd, &w) ? POLLOUT : 0) |
		    (FD_ISSET(fd, &x) ? POLLPRI : 0));
		if (ev == 0)
			continue;
		fds[n].fd = fd;
		fds[n].events = ev;
		fds[n++].revents = 0;
	}
	curl_multi_timeout(op->multi, &t);
	/* nothing to wait on yet (resolving): look again soon */
	if (maxfd < 0 && (t < 0 || t > POLL_SLICE_MS))
		t = POLL_SLICE_MS;
	if (t >= 0 && (*timeout_ms < 0 || t < *timeout_ms))
		*timeout_ms = t;
	return n;
}

int
http_op_advance(struct http_op *op)
{
	int running = 0, left = 0;
	CURLMsg *msg;

	if (op->done)
		return 1;
	if (curl_multi_perform(op->multi, &running) != CURLM_OK) {
		op->failed = true;
		op->error = xstrdup("libcurl failed");
		op->done = true;
		return 1;
	}
	while ((msg = curl_multi_info_read(op->multi, &left)) != NULL) {
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == op->h) {
			op->result = msg->data.result;
			op->done = true;
		}
	}
	if (!running && !op->done) {
		op->result = CURLE_GOT_NOTHING;
		op->done = true;
	}
	return op->done ? 1 : 0;
}

void
http_op_cancel(struct http_op *op)
{
	/* removing the handle aborts the transfer (its connection is not reused) */
	op->cancelled = true;
	op->done = true;
}

void
http_op_finish(struct http_op *op, struct http_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	resp->latency_ms = now_ms() - op->t0;
	resp->body_bytes = op->sink.total;
	resp->truncated = op->sink.total > op->body.len;
	if (op->cancelled) {
		resp->outcome = HTTP_CANCELLED;
	} else if (op->failed) {
		resp->outcome = HTTP_FAILED;
		resp->error = op->error;
		op->error = NULL;
	} else if (op->result == CURLE_OK) {
		long code = 0;
		char *loc = NULL;
		curl_off_t us = 0;
		resp->outcome = HTTP_RESPONSE;
		curl_easy_getinfo(op->h, CURLINFO_RESPONSE_CODE, &code);
		resp->status = (int)code;
		if (curl_easy_getinfo(op->h, CURLINFO_TOTAL_TIME_T, &us) == CURLE_OK && us > 0)
			resp->latency_ms = (int64_t)(us / 1000);
		if (code >= 300 && code < 400 && curl_easy_getinfo(op->h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
			resp->location = xstrdup(loc);
	} else if (op->result == CURLE_OPERATION_TIMEDOUT) {
		resp->outcome = HTTP_TIMED_OUT;
		resp->error = timeout_text(op->h, &op->req);
	} else {
		resp->outcome = HTTP_FAILED;
		resp->error = failure_text(op->result, op->errbuf, &op->req);
	}
	resp->body = op->body;
	curl_multi_remove_handle(op->multi, op->h);
	curl_multi_cleanup(op->multi);
	curl_easy_cleanup(op->h);
	curl_slist_free_all(op->hdrs);
	free(op->error);
	free(op);
}

void
http_perform(struct http_pool *pool, const struct http_request *req, struct http_response *resp)
{
	char *err = NULL;
	struct http_op *op = http_op_start(pool, req, &err);

	if (op == NULL) {
		memset(resp, 0, sizeof(*resp));
		resp->outcome = HTTP_FAILED;
		resp->error = err;
		return;
	}
	while (http_op_advance(op) != 1) {
		struct pollfd fds[64];
		int64_t timeout = -1;
		size_t n;

		if (req->cancel && *req->cancel) {
			http_op_cancel(op);
			continue;
		}
		n = http_op_wait_on(op, fds, 64, &timeout);
		if (timeout < 0 || timeout > POLL_SLICE_MS)
			timeout = POLL_SLICE_MS;   /* the cancel flag is polled */
		poll(fds, (nfds_t)n, (int)timeout);
	}
	http_op_finish(op, resp);
}

void
http_response_release(struct http_response *resp)
{
	buf_release(&resp->body);
	free(resp->location);
	free(resp->error);
	resp->location = NULL;
	resp->error = NULL;
}
