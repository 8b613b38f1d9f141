/* http-check.c - reaching a run's HTTP endpoints without sending a request (see http-check.h). */
#include "http-check.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl-load.h"
#include "http-client.h"
#include "secrets.h"
#include "util.h"

/* "scheme://host:port" of url, or NULL if it does not parse. */
static char *
origin_of(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *o = NULL;

	if (u == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
		goto cleanup;
	if (strcasecmp(scheme, "file") == 0) {
		if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK)
			o = xasprintf("file://%s", path);
	} else if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		o = xasprintf("%s://%s:%s", scheme, host, port);
	}
cleanup:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return o;
}

static void
add(struct run *run, struct http_endpoints *out, const struct action *a, const struct unit *u, const char *who)
{
	struct buf url = BUF_INIT, ca = BUF_INIT;
	char *err = NULL, *origin = NULL;
	struct http_endpoint e;

	if (a->kind != ACT_HTTP && a->kind != ACT_PROMETHEUS)
		return;
	memset(&e, 0, sizeof(e));
	if (run_expand(run, u, &a->http->url, false, &url, &err) < 0 ||
	    (a->http->ca_cert.s && run_expand(run, u, &a->http->ca_cert, false, &ca, &err) < 0)) {
		e.skipped = true;
		e.origin = secrets_masked(&run->secrets, a->http->url.s);
		e.message = xasprintf("not checked: %s", err);
		free(err);
	} else if (curl_load(&err) < 0) {
		e.skipped = true;
		e.origin = secrets_masked(&run->secrets, buf_str(&url));
		e.message = xasprintf("not checked: %s", err);
		free(err);
	} else if ((origin = origin_of(buf_str(&url))) == NULL) {
		e.skipped = true;
		e.origin = secrets_masked(&run->secrets, buf_str(&url));
		e.message = xstrdup("not checked: not a URL");
	} else {
		e.origin = secrets_masked(&run->secrets, origin);
	}
	free(origin);
	e.insecure = a->http->insecure;
	e.ca_cert = ca.len ? buf_detach(&ca) : NULL;
	/* one check per origin and TLS options */
	for (size_t i = 0; i < out->n; i++) {
		struct http_endpoint *o = &out->v[i];
		if (strcmp(o->origin, e.origin) == 0 && o->insecure == e.insecure && o->skipped == e.skipped &&
		    ((o->ca_cert == NULL && e.ca_cert == NULL) ||
		     (o->ca_cert && e.ca_cert && strcmp(o->ca_cert, e.ca_cert) == 0))) {
			o->n_users++;
			free(e.origin);
			free(e.ca_cert);
			free(e.message);
			buf_release(&url);
			return;
		}
	}
	e.url = buf_detach(&url);
	e.used_by = xstrdup(who);
	e.n_users = 1;
	PUSH(out->v, out->n, out->cap, e);
	buf_release(&ca);
}

static void
add_probe(struct run *run, struct http_endpoints *out, const struct probe *p, const char *name,
    const struct unit *u)
{
	char *who;

	if (p == NULL)
		return;
	who = name ? xasprintf("probe '%s'", name) : xasprintf("the probe of step '%s'", u ? u->step->name : "?");
	add(run, out, &p->action, u, who);
	free(who);
}

void
http_endpoints_collect(struct run *run, struct http_endpoints *out)
{
	const struct runbook *rb = run->rb;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < run->n_units; i++) {
		const struct unit *u = &run->units[i];
		const struct step *s = u->step;
		char *who;

		if (!u->selected)
			continue;
		who = xasprintf("step '%s'", s->name);
		add(run, out, &s->action, u, who);
		free(who);
		if (s->action.kind == ACT_PROBE)
			add_probe(run, out, s->action.probe, s->action.probe_name, u);
		for (size_t k = 0; k < s->n_after; k++)
			add_probe(run, out, s->after[k].probe, s->after[k].name, u);
		add_probe(run, out, s->check.probe, s->check.name, u);
		if (s->rollback) {
			who = xasprintf("rollback of step '%s'", s->name);
			add(run, out, &s->rollback->action, u, who);
			free(who);
		}
	}
	for (size_t p = 0; p < rb->n_phases; p++) {
		const struct phase *ph = &rb->phases[p];
		bool selected = false;
		for (size_t i = 0; i < run->n_units && !selected; i++)
			selected = run->units[i].selected && run->units[i].step->phase == ph;
		if (!selected)
			continue;
		for (size_t k = 0; k < ph->n_verify; k++)
			add_probe(run, out, ph->verify[k].probe, ph->verify[k].name, NULL);
		for (size_t k = 0; k < ph->watch.n_probes; k++)
			add_probe(run, out, ph->watch.probes[k].probe, ph->watch.probes[k].name, NULL);
	}
}

void
http_endpoints_check(struct run *run, struct http_endpoints *eps, int64_t timeout_ms)
{
	struct http_pool *pool = http_pool_create();

	for (size_t i = 0; i < eps->n; i++) {
		struct http_endpoint *e = &eps->v[i];
		bool file = strncasecmp(e->url ? e->url : "", "file:", 5) == 0;
		struct http_request req = {
			.method = "GET", .url = e->url, .insecure = e->insecure, .ca_cert = e->ca_cert,
			.connect_only = !file, .timeout_ms = timeout_ms, .body_max = 1,
		};
		struct http_response resp;

		if (e->skipped)
			continue;
		http_perform(pool, &req, &resp);
		e->ms = resp.latency_ms;
		e->ok = resp.outcome == HTTP_RESPONSE;
		if (!e->ok)
			e->message = secrets_masked(&run->secrets, resp.error ? resp.error
			    : resp.outcome == HTTP_TIMED_OUT ? "timed out" : "stopped");
		http_response_release(&resp);
	}
	http_pool_free(pool);
}

void
http_endpoints_release(struct http_endpoints *eps)
{
	for (size_t i = 0; i < eps->n; i++) {
		struct http_endpoint *e = &eps->v[i];
		free(e->origin);
		if (e->url)
			explicit_bzero(e->url, strlen(e->url));
		free(e->url);
		free(e->ca_cert);
		free(e->used_by);
		free(e->message);
	}
	free(eps->v);
	memset(eps, 0, sizeof(*eps));
}
