/*
 * Unit tests of the runbook loader (runbook-load.c, runbook-check.c,
 * runbook.c): every valid fixture loads, every invalid fixture gives the
 * diagnostic in its .expected file, and one test per rule with its exact
 * line and column.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "regex.h"
#include "runbook.h"
#include "util.h"

#define HEAD "runbook: 1\nname: t\n"
/* steps written after STEPS start on line 6, indented 6 (keys at column 9) */
#define STEPS HEAD "phases:\n  - name: p\n    steps:\n"

static char tmp_path[] = "/tmp/test-load-XXXXXX.yaml";

/* Write text to a fresh temporary file; returns its path (static). */
static const char *
write_tmp(const char *text, size_t len)
{
	int fd;
	FILE *fp;

	strcpy(tmp_path, "/tmp/test-load-XXXXXX.yaml");
	fd = mkstemps(tmp_path, 5);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "wb");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(text, 1, len, fp), len);
	fclose(fp);
	return tmp_path;
}

static struct runbook *
load_text_with(const char *text, const struct var_override *ov, size_t n, struct diags *d)
{
	const char *path = write_tmp(text, strlen(text));
	struct runbook *rb = runbook_load(path, ov, n, d);

	unlink(path);
	return rb;
}

static struct runbook *
load_text(const char *text, struct diags *d)
{
	return load_text_with(text, NULL, 0, d);
}

static char *
diags_text(const struct diags *d)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < d->n; i++)
		buf_addf(&b, "  %d:%d: %s\n", d->v[i].line, d->v[i].col, d->v[i].msg);
	return buf_detach(&b);
}

/* Is there a diagnostic at line:col whose message contains want? */
static bool
has_diag(const struct diags *d, int line, int col, const char *want)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].line == line && d->v[i].col == col && strstr(d->v[i].msg, want))
			return true;
	return false;
}

static void
expect_error_at(const char *text, int line, int col, const char *want, int src_line)
{
	struct diags d = DIAGS_INIT;
	struct runbook *rb = load_text(text, &d);

	if (rb != NULL || !has_diag(&d, line, col, want)) {
		char *all = diags_text(&d);
		runbook_free(rb);
		ck_abort_msg("line %d: wanted %d:%d: ...%s... got %s\n%s", src_line, line, col, want,
		    rb ? "a runbook" : "", all);
	}
	diags_release(&d);
}

#define EXPECT_ERROR(text, line, col, want) expect_error_at(text, line, col, want, __LINE__)

static struct runbook *
load_ok(const char *text)
{
	struct diags d = DIAGS_INIT;
	struct runbook *rb = load_text(text, &d);

	if (rb == NULL || d.n) {
		char *all = diags_text(&d);
		ck_abort_msg("expected no diagnostics, got:\n%s", all);
	}
	diags_release(&d);
	return rb;
}

static struct runbook *
load_fixture(const char *name)
{
	struct diags d = DIAGS_INIT;
	char *path = xasprintf("%s/%s", TEST_SRCDIR, name);
	struct runbook *rb = runbook_load(path, NULL, 0, &d);

	if (rb == NULL || d.n) {
		char *all = diags_text(&d);
		ck_abort_msg("%s: expected no diagnostics, got:\n%s", path, all);
	}
	free(path);
	diags_release(&d);
	return rb;
}

/* --- fixtures --- */

static bool
has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

START_TEST(test_valid_fixtures)
{
	DIR *dir = opendir(TEST_SRCDIR "/valid");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL) {
		char *name;
		if (!has_suffix(e->d_name, ".yaml"))
			continue;
		name = xasprintf("valid/%s", e->d_name);
		runbook_free(load_fixture(name));
		free(name);
		n++;
	}
	closedir(dir);
	ck_assert_int_ge(n, 4);
}
END_TEST

static char *
read_all(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "r");

	if (fp == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	fclose(fp);
	return buf_detach(&b);
}

/*
 * Every tests/invalid/X.yaml fails, and its first diagnostics, printed as
 * FILE:LINE:COL: message with FILE relative to the source root, are the
 * lines of X.expected.
 */
START_TEST(test_invalid_fixtures)
{
	DIR *dir;
	struct dirent *e;
	int n = 0;

	ck_assert_int_eq(chdir(TEST_SRCDIR "/.."), 0);
	dir = opendir("tests/invalid");
	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL) {
		struct diags d = DIAGS_INIT;
		struct buf got = BUF_INIT;
		char *path, *exp_path, *want;
		struct runbook *rb;
		size_t lines = 0;

		if (!has_suffix(e->d_name, ".yaml"))
			continue;
		path = xasprintf("tests/invalid/%s", e->d_name);
		exp_path = xasprintf("%.*s.expected", (int)(strlen(path) - 5), path);
		want = read_all(exp_path);
		ck_assert_msg(want != NULL, "%s has no .expected file", path);
		for (const char *p = want; *p; p++)
			lines += *p == '\n';
		rb = runbook_load(path, NULL, 0, &d);
		ck_assert_msg(rb == NULL, "%s loaded", path);
		for (size_t i = 0; i < d.n && i < lines; i++) {
			if (d.v[i].line > 0)
				buf_addf(&got, "%s:%d:%d: %s\n", d.v[i].file, d.v[i].line, d.v[i].col, d.v[i].msg);
			else
				buf_addf(&got, "%s: %s\n", d.v[i].file, d.v[i].msg);
		}
		ck_assert_msg(strcmp(buf_str(&got), want) == 0, "%s:\nwant: %sgot:  %s", path, want,
		    buf_str(&got));
		buf_release(&got);
		diags_release(&d);
		free(want);
		free(exp_path);
		free(path);
		n++;
	}
	closedir(dir);
	ck_assert_int_ge(n, 40);
}
END_TEST

/* An .expected file without its .yaml would be a test that never runs. */
START_TEST(test_invalid_fixtures_paired)
{
	DIR *dir = opendir(TEST_SRCDIR "/invalid");
	struct dirent *e;

	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL) {
		char *yaml;
		if (!has_suffix(e->d_name, ".expected"))
			continue;
		yaml = xasprintf("%s/invalid/%.*s.yaml", TEST_SRCDIR,
		    (int)(strlen(e->d_name) - 9), e->d_name);
		ck_assert_msg(access(yaml, R_OK) == 0, "%s has no .yaml", e->d_name);
		free(yaml);
	}
	closedir(dir);
}
END_TEST

/* --- full.yaml: every field parsed as written, defaults applied --- */

static const struct step *
step_named(const struct runbook *rb, const char *name)
{
	const struct step *s = runbook_step(rb, name);

	ck_assert_msg(s != NULL, "no step '%s'", name);
	return s;
}

static const char *
env_get(const struct kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value.s;
	return NULL;
}

START_TEST(test_full_top)
{
	struct runbook *rb = load_fixture("valid/full.yaml");
	const struct value *w, *db;
	const struct host *h;

	ck_assert_int_eq(rb->version, 1);
	ck_assert_str_eq(rb->name, "phantommesh-cutover");
	ck_assert_str_eq(rb->description, "Production cutover of the VPN core");
	ck_assert_int_eq(rb->deadline_ms, 2 * 3600 * 1000);
	ck_assert_uint_eq(strlen(rb->sha256), 64);
	ck_assert_ptr_nonnull(rb->source);
	ck_assert_ptr_nonnull(strstr(rb->source, "phantommesh-cutover"));
	ck_assert_uint_eq(rb->n_phases, 3);
	ck_assert_uint_eq(rb->n_steps, 10);

	/* vars */
	ck_assert_int_eq(rb->vars.type, VAL_MAP);
	w = value_get(&rb->vars, "weights");
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(w->type, VAL_LIST);
	ck_assert_uint_eq(w->n, 4);
	ck_assert_str_eq(w->items[3].str, "100");
	db = value_get(&rb->vars, "db");
	ck_assert_int_eq(db->type, VAL_MAP);
	ck_assert_str_eq(value_get(db, "port")->str, "5432");
	ck_assert_ptr_nonnull(strstr(value_get(&rb->vars, "q")->str, "code=~\"5..\""));

	/* secrets */
	ck_assert_uint_eq(rb->n_secrets, 3);
	ck_assert_str_eq(rb->secrets[0].name, "api_token");
	ck_assert_int_eq(rb->secrets[0].source, SECRET_ENV);
	ck_assert_str_eq(rb->secrets[0].ref, "API_TOKEN");
	ck_assert_int_eq(rb->secrets[1].source, SECRET_FILE);
	ck_assert_str_eq(rb->secrets[1].ref, "~/.secrets/db");

	/* hosts */
	h = runbook_host(rb, "bastion");
	ck_assert_str_eq(h->address.s, "203.0.113.10");
	ck_assert_int_eq(h->port, 2222);
	ck_assert_str_eq(h->user.s, "ops");
	ck_assert_str_eq(h->key.s, "~/.ssh/ops_ed25519");
	ck_assert_str_eq(h->passphrase.s, "${secrets.bastion_key_pass}");
	ck_assert_str_eq(h->known_hosts.s, "./known_hosts");
	ck_assert_int_eq(h->connect_timeout_ms, 10000);
	ck_assert_int_eq(h->sudo, -1);
	h = runbook_host(rb, "db");
	ck_assert_str_eq(h->via, "bastion");
	ck_assert_int_eq(h->port, 0);
	h = runbook_host(rb, "backend");
	ck_assert_uint_eq(h->n_addresses, 3);
	ck_assert_str_eq(h->addresses[2].s, "10.0.1.3");
	ck_assert_int_eq(h->sudo, 1);
	ck_assert_int_eq(runbook_host(rb, "edge2")->sudo, 0);
	h = runbook_host(rb, "edges");
	ck_assert_uint_eq(h->n_members, 2);
	ck_assert_str_eq(h->members[1], "edge2");
	ck_assert_int_eq(h->member_pos[1].line, 32);
	ck_assert_ptr_null(runbook_host(rb, "local"));

	/* defaults */
	ck_assert_str_eq(rb->defaults.on, "local");
	ck_assert_int_eq(rb->defaults.timeout_ms, 5 * 60 * 1000);
	ck_assert(rb->defaults.has_retry);
	ck_assert_int_eq(rb->defaults.retry.attempts, 2);
	ck_assert_str_eq(rb->defaults.workdir.s, "/srv/migrate");
	runbook_free(rb);
}
END_TEST

START_TEST(test_full_probes)
{
	struct runbook *rb = load_fixture("valid/full.yaml");
	const struct probe *p;

	ck_assert_uint_eq(rb->n_probes, 5);
	p = runbook_probe(rb, "api-health");
	ck_assert_int_eq(p->action.kind, ACT_HTTP);
	ck_assert_str_eq(p->action.http->url.s, "${api}/health");
	ck_assert_str_eq(p->action.http->method.s, "GET");
	ck_assert_ptr_null(p->on);
	ck_assert_int_eq(p->timeout_ms, DEFAULT_PROBE_TIMEOUT_MS);
	ck_assert_int_eq(p->retry.attempts, 1);
	ck_assert_int_eq(p->retry.interval_ms, DEFAULT_RETRY_INTERVAL_MS);
	ck_assert_uint_eq(p->expect.n_status, 1);
	ck_assert_int_eq(p->expect.status[0][0], 200);
	ck_assert_int_eq(p->expect.status[0][1], 200);
	ck_assert_int_eq(p->expect.latency_ms, 500);
	ck_assert_int_eq(regex_match(p->expect.body_re, "{\"status\": \"ok\"}", 16), 1);
	ck_assert_ptr_nonnull(p->expect.not_body_re);

	p = runbook_probe(rb, "error-rate");
	ck_assert(p->action.http->insecure);
	ck_assert(p->action.http->follow);
	ck_assert_str_eq(p->action.http->ca_cert.s, "/etc/ssl/internal-ca.pem");
	ck_assert_uint_eq(p->action.http->n_headers, 1);
	ck_assert_str_eq(p->action.http->headers[0].key, "Accept");
	ck_assert_int_eq(p->timeout_ms, 5000);
	ck_assert_int_eq(p->retry.attempts, 3);
	ck_assert_uint_eq(p->expect.n_status, 2);
	ck_assert_int_eq(p->expect.status[1][0], 200);
	ck_assert_int_eq(p->expect.status[1][1], 299);
	ck_assert_ptr_nonnull(p->expect.value_re);
	ck_assert(p->expect.bounds->below.set);
	ck_assert(p->expect.bounds->below.v == 0.001);
	ck_assert(p->expect.bounds->above.set && p->expect.bounds->above.v == -1);
	ck_assert(p->expect.bounds->at_most.set && p->expect.bounds->at_least.set);
	ck_assert(!p->expect.bounds->equals.set);

	p = runbook_probe(rb, "writes-drained");
	ck_assert_int_eq(p->action.kind, ACT_RUN);
	ck_assert_str_eq(p->on, "db");
	ck_assert_str_eq(env_get(p->env, p->n_env, "PGPORT"), "${db.port}");
	ck_assert_uint_eq(p->expect.n_exit, 1);
	ck_assert_int_eq(p->expect.exit_codes[0], 0);
	ck_assert_int_eq(regex_match(p->expect.out_re, "  0\n", 4), 1);
	ck_assert_ptr_nonnull(p->expect.not_err_re);

	p = runbook_probe(rb, "db-port");
	ck_assert_int_eq(p->action.kind, ACT_TCP);
	ck_assert_str_eq(p->action.tcp.s, "10.0.2.5:5432");
	runbook_free(rb);
}
END_TEST

START_TEST(test_full_steps)
{
	struct runbook *rb = load_fixture("valid/full.yaml");
	const struct phase *ph = runbook_phase(rb, "pre-cutover");
	const struct step *s;

	ck_assert_str_eq(ph->description, "Freeze writes and take the last backup");
	ck_assert_str_eq(ph->gate.s, "Backups verified and on-call assembled?");
	ck_assert_uint_eq(ph->n_verify, 1);
	ck_assert_ptr_eq(ph->verify[0].probe, runbook_probe(rb, "api-health"));
	ck_assert(!ph->watch.set);

	s = step_named(rb, "final-backup");
	ck_assert_uint_eq(s->index, 0);
	ck_assert_ptr_eq(s->phase, ph);
	ck_assert_str_eq(s->description, "Dump the database");
	ck_assert_str_eq(s->on, "db");
	ck_assert_int_eq(s->timeout_ms, 30 * 60 * 1000);
	ck_assert_int_eq(s->sudo, 1);
	ck_assert_str_eq(s->workdir.s, "/backups");
	/* defaults env merged; the step's LANG wins */
	ck_assert_str_eq(env_get(s->env, s->n_env, "LANG"), "C");
	ck_assert_str_eq(env_get(s->env, s->n_env, "API"), "${api}");
	ck_assert_str_eq(env_get(s->env, s->n_env, "PGPASSWORD"), "${secrets.db_password}");
	ck_assert_uint_eq(s->n_env, 3);
	ck_assert_uint_eq(s->n_captures, 1);
	ck_assert_str_eq(s->captures[0].name, "size");
	ck_assert_uint_eq(s->expect.n_exit, 2);
	ck_assert_int_eq(s->expect.exit_codes[1], 1);
	ck_assert_ptr_nonnull(s->expect.not_out_re);
	ck_assert_ptr_nonnull(s->expect.not_err_re);
	ck_assert_ptr_nonnull(s->expect.err_re);
	ck_assert_ptr_eq(s->check.probe, runbook_probe(rb, "final-dump-present"));
	ck_assert(s->idempotent);
	ck_assert_ptr_nonnull(s->rollback);
	ck_assert_int_eq(s->rollback->action.kind, ACT_RUN);
	ck_assert_int_eq(s->rollback->when, WHEN_COMPLETED);
	ck_assert_int_eq(s->rollback->retry.attempts, 1);
	/* defaults retry {attempts: 2, interval: 2s} */
	ck_assert_int_eq(s->retry.attempts, 2);
	ck_assert_int_eq(s->retry.interval_ms, 2000);
	ck_assert(s->retry.backoff == 1.0);

	s = step_named(rb, "freeze-writes");
	ck_assert_str_eq(s->on, "local");
	ck_assert_int_eq(s->timeout_ms, 5 * 60 * 1000);
	ck_assert_int_eq(s->action.kind, ACT_HTTP);
	ck_assert_str_eq(s->action.http->method.s, "POST");
	ck_assert_uint_eq(s->action.http->n_headers, 2);
	ck_assert_str_eq(s->action.http->headers[0].value.s, "Bearer ${secrets.api_token}");
	ck_assert_str_eq(s->action.http->body.s, "{\"enabled\": true, \"size\": \"${steps.final-backup.size}\"}");
	ck_assert_uint_eq(s->expect.n_status, 2);
	ck_assert_int_eq(s->expect.status[1][0], 204);
	ck_assert_int_eq(s->rollback->when, WHEN_ALWAYS);
	ck_assert_int_eq(s->rollback->timeout_ms, 60000);
	ck_assert_int_eq(s->rollback->retry.attempts, 5);
	ck_assert_int_eq(s->rollback->retry.interval_ms, 3000);
	ck_assert(s->rollback->retry.backoff == 2.0);
	ck_assert_int_eq(s->rollback->retry.max_interval_ms, 30000);
	ck_assert(s->rollback->retry.jitter == 0.2);
	ck_assert_int_eq(s->rollback->expect.status[0][0], 200);
	ck_assert_int_eq(s->rollback->expect.status[0][1], 299);

	s = step_named(rb, "wait-drain");
	ck_assert_int_eq(s->action.kind, ACT_PROBE);
	ck_assert_str_eq(s->action.probe_name, "writes-drained");
	ck_assert_ptr_eq(s->action.probe, runbook_probe(rb, "writes-drained"));
	ck_assert_int_eq(s->retry.attempts, 30);
	ck_assert_int_eq(s->retry.interval_ms, 10000);
	ck_assert(s->retry.backoff == 1.5);
	ck_assert_int_eq(s->retry.max_interval_ms, 60000);
	ck_assert(s->retry.jitter == 0.1);

	s = step_named(rb, "db-reachable");
	ck_assert_ptr_nonnull(s->action.probe_inline);
	ck_assert_ptr_eq(s->action.probe, s->action.probe_inline);
	ck_assert_int_eq(s->action.probe_inline->action.kind, ACT_TCP);
	ck_assert_int_eq(s->action.probe_inline->timeout_ms, 3000);

	s = step_named(rb, "approve-cutover");
	ck_assert_int_eq(s->action.kind, ACT_GATE);
	ck_assert_str_eq(s->action.gate.s, "Writes drained (${steps.freeze-writes.state}); go?");
	ck_assert_str_eq(s->on, "local");

	s = step_named(rb, "settle");
	ck_assert_int_eq(s->action.kind, ACT_PAUSE);
	ck_assert_int_eq(s->action.pause_ms, 90000);
	ck_assert_int_eq(s->pause_ms, 0);
	runbook_free(rb);
}
END_TEST

START_TEST(test_full_traffic_phase)
{
	struct runbook *rb = load_fixture("valid/full.yaml");
	const struct phase *ph = runbook_phase(rb, "traffic-shift");
	const struct step *s;

	ck_assert(ph->watch.set);
	ck_assert_uint_eq(ph->watch.n_probes, 1);
	ck_assert_ptr_eq(ph->watch.probes[0].probe, runbook_probe(rb, "error-rate"));
	ck_assert_int_eq(ph->watch.interval_ms, 30000);
	ck_assert_int_eq(ph->watch.failures, 2);

	s = step_named(rb, "shift");
	ck_assert_uint_eq(s->index, 6);
	ck_assert(s->has_for);
	ck_assert_str_eq(s->for_ref.s, "${weights}");
	ck_assert_uint_eq(s->n_after, 2);
	ck_assert_ptr_eq(s->after[1].probe, runbook_probe(rb, "error-rate"));
	ck_assert_int_eq(s->after[1].pos.line, 125);
	ck_assert_int_eq(s->pause_ms, 30000);
	ck_assert_int_eq(s->action.kind, ACT_RUN);

	s = step_named(rb, "rolling-restart");
	ck_assert_str_eq(s->on, "backend");
	ck_assert(s->batch.set && !s->batch.percent);
	ck_assert_int_eq(s->batch.n, 1);
	ck_assert(s->max_fail.set);
	ck_assert_int_eq(s->max_fail.n, 0);
	ck_assert_ptr_nonnull(s->check_inline);
	ck_assert_ptr_eq(s->check.probe, s->check_inline);
	ck_assert_ptr_null(s->check.name);
	ck_assert_str_eq(s->rollback->on, "backend");
	ck_assert_str_eq(env_get(s->rollback->env, s->rollback->n_env, "REASON"), "rollback of ${host}");

	s = step_named(rb, "canary");
	ck_assert(s->batch.percent);
	ck_assert_int_eq(s->batch.n, 50);
	ck_assert(s->max_fail.percent);
	ck_assert_int_eq(s->max_fail.n, 10);
	ck_assert(s->has_for);
	ck_assert_int_eq(s->for_list.type, VAL_LIST);
	ck_assert_uint_eq(s->for_list.n, 2);
	ck_assert_str_eq(s->for_list.items[1].str, "b");
	ck_assert_int_eq(s->rollback->action.kind, ACT_DOWNLOAD);
	ck_assert_str_eq(s->rollback->action.xfer->dest.s, "./logs/app-${host}.log");
	ck_assert_int_eq(s->rollback->action.xfer->mode, -1);

	s = step_named(rb, "ship-config");
	ck_assert_int_eq(s->action.kind, ACT_UPLOAD);
	ck_assert_str_eq(s->action.xfer->src.s, "./config/app.conf");
	ck_assert_int_eq(s->action.xfer->mode, 0644);
	ck_assert_int_eq(s->rollback->action.xfer->mode, 0640);
	ck_assert_ptr_null(s->rollback->on);

	ph = runbook_phase(rb, "final-check");
	ck_assert_uint_eq(ph->n_steps, 0);
	ck_assert_uint_eq(ph->n_verify, 2);
	ck_assert_ptr_null(runbook_phase(rb, "nope"));
	runbook_free(rb);
}
END_TEST

struct text_count {
	int n, in_steps;
	bool saw_rollback_env, saw_header, saw_check, saw_probe_inline, saw_address;
};

static void
count_text(void *ctx, const struct text *t, const struct step *step, const char *field)
{
	struct text_count *c = ctx;

	ck_assert_ptr_nonnull(t->s);
	c->n++;
	c->in_steps += step != NULL;
	c->saw_rollback_env |= strcmp(field, "rollback.env.REASON") == 0;
	c->saw_header |= strcmp(field, "http.headers.Authorization") == 0;
	c->saw_check |= strcmp(field, "check.run") == 0 && step != NULL;
	c->saw_probe_inline |= strcmp(field, "probe.tcp") == 0 && step != NULL;
	c->saw_address |= strcmp(field, "address") == 0 && step == NULL;
}

START_TEST(test_foreach_text)
{
	struct runbook *rb = load_fixture("valid/full.yaml");
	struct text_count c = { 0 };

	runbook_foreach_text(rb, count_text, &c);
	ck_assert_int_gt(c.n, 40);
	ck_assert_int_gt(c.in_steps, 20);
	ck_assert(c.saw_rollback_env);
	ck_assert(c.saw_header);
	ck_assert(c.saw_check);
	ck_assert(c.saw_probe_inline);
	ck_assert(c.saw_address);
	runbook_free(rb);
}
END_TEST

/* --- positions --- */

START_TEST(test_text_col_exact)
{
	struct runbook *rb = load_ok(STEPS
	    "      - name: s\n"
	    "        run: echo hi\n"
	    "      - name: t\n"
	    "        http: {url: \"http://x/${env.A}\", body: 'it''s'}\n"
	    "      - name: u\n"
	    "        run: |\n"
	    "          echo block\n"
	    "      - name: v\n"
	    "        run: \"tab\\there\"\n");
	const struct step *s = runbook_step(rb, "s");

	ck_assert_int_eq(s->action.run.pos.line, 7);
	ck_assert_int_eq(s->action.run.pos.col, 14);
	ck_assert(s->action.run.col_exact);
	ck_assert_int_eq(s->action.run.col_shift, 0);
	s = runbook_step(rb, "t");
	ck_assert(s->action.http->url.col_exact);
	ck_assert_int_eq(s->action.http->url.col_shift, 1);
	ck_assert_int_eq(s->action.http->url.pos.col, 21);
	ck_assert(!s->action.http->body.col_exact);  /* '' escape */
	ck_assert(!runbook_step(rb, "u")->action.run.col_exact);
	ck_assert(!runbook_step(rb, "v")->action.run.col_exact);
	runbook_free(rb);
}
END_TEST

/* A multi-byte character before a key: columns count bytes. */
START_TEST(test_utf8_columns)
{
	EXPECT_ERROR(HEAD "description: \"é\"\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, run: \"é ${nope}\"}\n", 7, 28, "undefined variable 'nope'");
}
END_TEST

/* --- YAML-level errors --- */

START_TEST(test_syntax_error)
{
	EXPECT_ERROR(HEAD "phases:\n  - name: p\n    steps: [\n", 6, 1, "invalid YAML: did not find expected node content");
	EXPECT_ERROR("runbook: 1\nname: \"unterminated\n", 3, 1, "invalid YAML: found unexpected end of stream");
}
END_TEST

START_TEST(test_flow_interp_hint)
{
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        env: {A: ${x}}\n", 8, 19,
	    "inside {...} or [...] a value containing ${...} must be quoted");
}
END_TEST

START_TEST(test_duplicate_key)
{
	EXPECT_ERROR(HEAD "name: u\nphases: []\n", 3, 1, "duplicate key 'name' (first at 2:1)");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a}\n  db: {address: b}\nphases: []\n", 5, 3,
	    "duplicate key 'db' (first at 4:3)");
}
END_TEST

START_TEST(test_billion_laughs_fast)
{
	struct buf b = BUF_INIT;
	struct diags d = DIAGS_INIT;
	struct runbook *rb;
	int64_t t0 = now_ms();

	buf_adds(&b, HEAD "vars:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 20; i++) {
		buf_addf(&b, "  l%d: &l%d [", i, i);
		for (int j = 0; j < 10; j++)
			buf_addf(&b, "%s*l%d", j ? ", " : "", i - 1);
		buf_adds(&b, "]\n");
	}
	buf_adds(&b, "phases: []\n");
	rb = load_text(b.data, &d);
	ck_assert_ptr_null(rb);
	ck_assert(has_diag(&d, 9, 57, "more than 1000000 nodes (after expanding aliases)"));
	ck_assert_int_lt(now_ms() - t0, 2000);
	diags_release(&d);
	buf_release(&b);
}
END_TEST

START_TEST(test_deep_nesting_fast)
{
	struct buf b = BUF_INIT;
	struct diags d = DIAGS_INIT;
	struct runbook *rb;
	int64_t t0 = now_ms();

	buf_adds(&b, "a: ");
	for (int i = 0; i < 100000; i++)
		buf_addc(&b, '[');
	buf_adds(&b, "\n");
	rb = load_text(b.data, &d);
	ck_assert_ptr_null(rb);
	/* the top-level mapping is the first level */
	ck_assert(has_diag(&d, 1, 3 + 64, "nesting deeper than 64 levels"));
	ck_assert_int_lt(now_ms() - t0, 2000);
	diags_release(&d);
	buf_release(&b);

	/* an alias does not get around the depth limit */
	buf_adds(&b, "a: &a ");
	for (int i = 0; i < 40; i++)
		buf_addc(&b, '[');
	for (int i = 0; i < 40; i++)
		buf_addc(&b, ']');
	buf_adds(&b, "\nb: ");
	for (int i = 0; i < 40; i++)
		buf_addc(&b, '[');
	buf_adds(&b, "*a");
	for (int i = 0; i < 40; i++)
		buf_addc(&b, ']');
	buf_adds(&b, "\n");
	rb = load_text(b.data, &d);
	ck_assert_ptr_null(rb);
	ck_assert(has_diag(&d, 2, 44, "nesting deeper than 64 levels (through an alias)"));
	diags_release(&d);
	buf_release(&b);
}
END_TEST

START_TEST(test_too_many_aliases)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, HEAD "vars:\n  a: &a x\n  l: [");
	for (int i = 0; i < 10001; i++)
		buf_adds(&b, i ? ",*a" : "*a");
	buf_adds(&b, "]\nphases: []\n");
	EXPECT_ERROR(b.data, 5, 7 + 3 * 10000, "too many aliases");
	buf_release(&b);
}
END_TEST

START_TEST(test_file_problems)
{
	struct diags d = DIAGS_INIT;
	char *big;
	const char *path;

	ck_assert_ptr_null(runbook_load("/nonexistent/x.yaml", NULL, 0, &d));
	ck_assert_uint_eq(d.n, 1);
	ck_assert_int_eq(d.v[0].line, 0);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "cannot open '/nonexistent/x.yaml'"));
	diags_release(&d);

	ck_assert_ptr_null(runbook_load(TEST_SRCDIR, NULL, 0, &d));
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "is a directory"));
	diags_release(&d);

	big = xcalloc(1, (9u << 20) + 1);
	memset(big, '#', 9u << 20);
	path = write_tmp(big, 9u << 20);
	ck_assert_ptr_null(runbook_load(path, NULL, 0, &d));
	unlink(path);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "file is too large"));
	diags_release(&d);
	free(big);

	path = write_tmp("runbook: 1\nname: a\0b\n", 21);
	ck_assert_ptr_null(runbook_load(path, NULL, 0, &d));
	unlink(path);
	ck_assert(has_diag(&d, 2, 8, "NUL byte"));
	diags_release(&d);

	path = write_tmp("runbook: 1\nname: \xff\n", 18);
	ck_assert_ptr_null(runbook_load(path, NULL, 0, &d));
	unlink(path);
	ck_assert(has_diag(&d, 2, 7, "invalid YAML: invalid leading UTF-8 octet"));
	diags_release(&d);
}
END_TEST

START_TEST(test_merge_keys)
{
	struct runbook *rb = load_ok(HEAD
	    "hosts:\n"
	    "  base: &base {address: 10.0.0.1, user: ops, port: 2222}\n"
	    "  db:\n"
	    "    <<: *base\n"
	    "    address: 10.0.0.2\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - &s {name: one, run: echo one, timeout: 1m}\n"
	    "      - <<: *s\n"
	    "        name: two\n");
	const struct host *h = runbook_host(rb, "db");

	ck_assert_str_eq(h->address.s, "10.0.0.2");
	ck_assert_str_eq(h->user.s, "ops");
	ck_assert_int_eq(h->port, 2222);
	ck_assert_str_eq(runbook_step(rb, "two")->action.run.s, "echo one");
	ck_assert_int_eq(runbook_step(rb, "two")->timeout_ms, 60000);
	runbook_free(rb);
}
END_TEST

/* --- structure --- */

START_TEST(test_unknown_keys)
{
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        timout: 5s\n", 8, 9,
	    "unknown key 'timout' in step 's' (did you mean 'timeout'?)");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        interval: 5s\n", 8, 9,
	    "unknown key 'interval' in step 's' (it belongs under 'retry:')");
	EXPECT_ERROR(HEAD "phases: []\ndescripton: x\n", 4, 1,
	    "unknown key 'descripton' in runbook (did you mean 'description'?)");
	EXPECT_ERROR(HEAD "probes:\n  p:\n    run: true\n    expect: {stdot: x}\nphases: []\n", 6, 14,
	    "unknown key 'stdot' in expect (did you mean 'stdout'?)");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        rollback: {run: x, attempts: 2}\n", 8, 28,
	    "unknown key 'attempts' in rollback of step 's' (it belongs under 'retry:')");
	EXPECT_ERROR(HEAD "hosts:\n  db: {adress: x}\nphases: []\n", 4, 8,
	    "unknown key 'adress' in host 'db' (did you mean 'address'?)");
}
END_TEST

START_TEST(test_wrong_types)
{
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        retry: {attempts: many}\n", 8, 17,
	    "'attempts' must be an integer");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        retry: 3\n", 8, 9,
	    "'retry' must be a mapping");
	EXPECT_ERROR(STEPS "      - name: s\n        run: [a, b]\n", 7, 9, "'run' must be a shell command");
	EXPECT_ERROR(STEPS "      - name: s\n        run:\n", 7, 9, "'run' must be a shell command");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        after: api\n", 8, 9,
	    "'after' must be a list of probe names");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        after: [[a]]\n", 8, 17,
	    "'after' must be a list of probe names");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        idempotent: maybe\n", 8, 9,
	    "'idempotent' must be true or false");
	EXPECT_ERROR(HEAD "phases: {a: b}\n", 3, 1, "'phases' must be a list of phases");
	EXPECT_ERROR(HEAD "phases:\n  - just-a-name\n", 4, 5, "a phase must be a mapping");
	EXPECT_ERROR(STEPS "      - just-a-name\n", 6, 9, "a step must be a mapping");
	EXPECT_ERROR(HEAD "phases: []\n{a: 1}: x\n", 4, 1, "a mapping key must be a plain string");
}
END_TEST

START_TEST(test_required)
{
	EXPECT_ERROR(STEPS "      - run: true\n", 6, 9, "step is missing 'name'");
	EXPECT_ERROR("runbook: 1\nphases: []\n", 1, 1, "runbook is missing 'name'");
	EXPECT_ERROR("runbook: 1\nname: x\n", 1, 1, "runbook is missing 'phases'");
	EXPECT_ERROR("name: x\nphases: []\n", 1, 1, "runbook is missing 'runbook: 1'");
	EXPECT_ERROR(HEAD "phases:\n  - steps: []\n", 4, 5, "phase is missing 'name'");
	EXPECT_ERROR(HEAD "phases:\n  - name: p\n", 4, 5, "phase 'p' has no 'steps' (or 'verify')");
	EXPECT_ERROR(STEPS "      - name: s\n        http: {method: GET}\n", 7, 9, "http is missing 'url'");
	EXPECT_ERROR(HEAD "phases:\n  - name: p\n    watch: {interval: 5s}\n    steps: []\n", 5, 5,
	    "watch is missing 'probes'");
}
END_TEST

START_TEST(test_names)
{
	EXPECT_ERROR("runbook: 1\nname: Cutover\nphases: []\n", 2, 7, "invalid name 'Cutover'");
	EXPECT_ERROR(STEPS "      - name: -dash\n        run: true\n", 6, 15, "invalid name '-dash'");
	EXPECT_ERROR(HEAD "hosts:\n  Db: {address: x}\nphases: []\n", 4, 3, "invalid host name 'Db'");
	EXPECT_ERROR(HEAD "hosts:\n  local: {address: x}\nphases: []\n", 4, 3, "'local' is built in");
	EXPECT_ERROR(HEAD "probes:\n  API: {run: x}\nphases: []\n", 4, 3, "invalid probe name 'API'");
	EXPECT_ERROR(HEAD "vars:\n  a.b: 1\nphases: []\n", 4, 3, "invalid variable name 'a.b'");
	EXPECT_ERROR(HEAD "vars:\n  host: 1\nphases: []\n", 4, 3, "'host' is a reserved name");
	EXPECT_ERROR(HEAD "secrets:\n  api-token: {env: T}\nphases: []\n", 4, 3, "invalid secret name 'api-token'");
	EXPECT_ERROR(STEPS "      - name: s\n        run: x\n        capture: {a.b: '(x)'}\n", 8, 19,
	    "invalid capture name 'a.b'");
	EXPECT_ERROR(STEPS "      - name: s\n        run: x\n        env: {1X: y}\n", 8, 15,
	    "invalid environment variable name '1X'");
	ck_assert(name_valid("a"));
	ck_assert(name_valid("0.1_x-y"));
	ck_assert(!name_valid(""));
	ck_assert(!name_valid("_a"));
	ck_assert(!name_valid("a b"));
	ck_assert(!name_valid("aB"));
}
END_TEST

START_TEST(test_duplicate_names)
{
	EXPECT_ERROR(HEAD "phases:\n  - name: p\n    steps:\n      - {name: s, run: a}\n"
	    "  - name: q\n    steps:\n      - {name: s, run: b}\n", 9, 9, "duplicate step name 's' (first at 6:9)");
	EXPECT_ERROR(HEAD "phases:\n  - {name: p, steps: []}\n  - {name: p, steps: []}\n", 5, 5,
	    "duplicate phase name 'p' (first at 4:5)");
}
END_TEST

START_TEST(test_version)
{
	EXPECT_ERROR("runbook: 2\nname: t\nphases: []\n", 1, 10, "unsupported runbook version 2");
	EXPECT_ERROR("runbook: one\nname: t\nphases: []\n", 1, 1, "'runbook' must be 1 (the format version)");
}
END_TEST

START_TEST(test_durations)
{
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        timeout: 5 minutes\n", 8, 18,
	    "invalid duration '5 minutes' for 'timeout'");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        timeout: 0\n", 8, 18,
	    "'timeout' must be longer than 0");
	EXPECT_ERROR(HEAD "deadline: 1y\nphases: []\n", 3, 11, "invalid duration '1y' for 'deadline'");
	EXPECT_ERROR(STEPS "      - name: s\n        run: true\n        retry: {interval: soon}\n", 8, 27,
	    "invalid duration 'soon' for 'interval'");
}
END_TEST

START_TEST(test_kinds)
{
	EXPECT_ERROR(STEPS "      - name: x\n        run: a\n        http: {url: \"https://e\"}\n", 8, 9,
	    "step 'x' has two kinds: 'run' and 'http'");
	EXPECT_ERROR(STEPS "      - name: s\n        timeout: 5s\n", 6, 9, "step 's' has no kind");
	EXPECT_ERROR(STEPS "      - name: s\n        gate: ok?\n        run: x\n", 8, 9,
	    "step 's' has two kinds: 'gate' and 'run'");
	EXPECT_ERROR(STEPS "      - name: s\n        gate: ok?\n        on: local\n", 8, 9,
	    "'on' is not allowed in a gate step (it takes only name, description and gate)");
	EXPECT_ERROR(STEPS "      - name: s\n        pause: 5s\n        timeout: 1m\n", 8, 9,
	    "'timeout' is not allowed in a pause step (it takes only name, description and pause)");
	EXPECT_ERROR(HEAD "probes:\n  p: {timeout: 5s}\nphases: []\n", 4, 6, "probe 'p' has no kind (one of run, http, tcp, prometheus)");
	EXPECT_ERROR(HEAD "probes:\n  p: {tcp: db}\nphases: []\n", 4, 12, "'tcp' must be HOST:PORT");
	EXPECT_ERROR(STEPS "      - name: s\n        run: x\n        rollback: {timeout: 5s}\n", 8, 9,
	    "rollback of step 's' has no kind (one of run, http, upload, download)");
	EXPECT_ERROR(STEPS "      - name: s\n        run: x\n        rollback: {gate: ok?}\n", 8, 20,
	    "unknown key 'gate' in rollback of step 's'");
	EXPECT_ERROR(STEPS "      - name: s\n        run: \"  \"\n", 7, 14, "'run' is empty");
	/* both kinds are still checked */
	EXPECT_ERROR(STEPS "      - name: x\n        run: a\n        http: {url: \"https://e\", methd: GET}\n",
	    8, 34, "unknown key 'methd' in http (did you mean 'method'?)");
}
END_TEST

/* pause: alone is the step's kind; next to another kind it waits after each unit. */
START_TEST(test_pause_and_gate)
{
	struct runbook *rb = load_ok(STEPS
	    "      - {name: a, pause: 10s, description: wait}\n"
	    "      - {name: b, run: x, pause: 5s}\n"
	    "      - {name: c, gate: Go?}\n");

	ck_assert_int_eq(runbook_step(rb, "a")->action.kind, ACT_PAUSE);
	ck_assert_int_eq(runbook_step(rb, "a")->action.pause_ms, 10000);
	ck_assert_int_eq(runbook_step(rb, "b")->action.kind, ACT_RUN);
	ck_assert_int_eq(runbook_step(rb, "b")->pause_ms, 5000);
	ck_assert_int_eq(runbook_step(rb, "c")->action.kind, ACT_GATE);
	ck_assert_str_eq(runbook_step(rb, "c")->action.gate.s, "Go?");
	runbook_free(rb);
}
END_TEST

/* --- hosts --- */

START_TEST(test_hosts)
{
	EXPECT_ERROR(HEAD "hosts:\n  db: {user: x}\nphases: []\n", 4, 3,
	    "host 'db' needs 'address', 'addresses' or 'hosts'");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a, hosts: [b]}\n  b: {address: b}\nphases: []\n", 4, 20,
	    "host 'db' has both 'address' and 'hosts'");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a, port: 65536}\nphases: []\n", 4, 26,
	    "'port' must be between 1 and 65535");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a, port: ssh}\nphases: []\n", 4, 20, "'port' must be a port number");
	EXPECT_ERROR(HEAD "hosts:\n  g: {hosts: [a, b]}\n  a: {address: a}\nphases: []\n", 4, 18,
	    "unknown host 'b' in 'hosts'");
	EXPECT_ERROR(HEAD "hosts:\n  g: {hosts: [a, a]}\n  a: {address: a}\nphases: []\n", 4, 18,
	    "host 'a' is listed twice in group 'g'");
	/* each repeat is named once, not once per earlier mention */
	EXPECT_ERROR(HEAD "hosts:\n  g: {hosts: [a, b, a, a]}\n  a: {address: a}\n  b: {address: b}\nphases: []\n",
	    4, 21, "host 'a' is listed twice in group 'g'");
	EXPECT_ERROR(HEAD "hosts:\n  g: {hosts: [a, b, a, a]}\n  a: {address: a}\n  b: {address: b}\nphases: []\n",
	    4, 24, "host 'a' is listed twice in group 'g'");
	{
		struct diags d = DIAGS_INIT;
		struct runbook *rb = load_text(HEAD "hosts:\n  g: {hosts: [a, b, a, a]}\n  a: {address: a}\n"
		    "  b: {address: b}\nphases: []\n", &d);
		ck_assert_ptr_null(rb);
		ck_assert_uint_eq(d.n, 3);     /* the two repeats, and the empty phases */
		diags_release(&d);
	}
	EXPECT_ERROR(HEAD "hosts:\n  g: {hosts: [w]}\n  w: {addresses: [a, b]}\nphases: []\n", 4, 15,
	    "group 'g' cannot contain group 'w'");
	EXPECT_ERROR(HEAD "hosts:\n  g: {hosts: [a], user: x}\n  a: {address: a}\nphases: []\n", 4, 19,
	    "'user' is not allowed in group 'g' of named hosts");
	EXPECT_ERROR(HEAD "hosts:\n  a: {address: a, via: w}\n  w: {addresses: [a, b]}\nphases: []\n", 4, 24,
	    "'via' must name a single host, but 'w' is a group");
	EXPECT_ERROR(HEAD "hosts:\n  a: {address: a, via: a}\nphases: []\n", 4, 24,
	    "the 'via' jump hosts of 'a' lead back to 'a'");
	EXPECT_ERROR(HEAD "hosts:\n  a: {address: a, via: local}\nphases: []\n", 4, 24, "'via' cannot be 'local'");
	EXPECT_ERROR(HEAD "hosts:\n  a: {addresses: []}\nphases: []\n", 4, 7, "'addresses' is empty");
	EXPECT_ERROR(HEAD "hosts:\n  a: {address: a, passphrase: \"pw${secrets.k}\"}\nsecrets:\n  k: {env: K}\nphases: []\n",
	    4, 31, "'passphrase' must be a ${secrets.NAME} reference");
	EXPECT_ERROR(HEAD "hosts:\n  a: {address: a, passphrase: \"${secrets.k}\"}\nphases: []\n",
	    4, 32, "undefined secret 'k' in 'passphrase'");
	EXPECT_ERROR(HEAD "hosts:\n  a: 10.0.0.1\nphases: []\n", 4, 3, "host 'a' must be a mapping");
}
END_TEST

START_TEST(test_on)
{
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, on: dbb, run: x}\n", 8, 23, "unknown host 'dbb' in 'on' (did you mean 'db'?)");
	EXPECT_ERROR(STEPS "      - {name: s, on: prod-7, run: x}\n", 6, 23,
	    "unknown host 'prod-7' in 'on': it is not in hosts: nor a Host of ~/.ssh/config");
	EXPECT_ERROR(HEAD "defaults: {on: nowhere}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, run: x}\n      - {name: t, run: y}\n", 3, 16, "unknown host 'nowhere' in 'on'");
	EXPECT_ERROR(HEAD "probes:\n  p: {run: x, on: nowhere}\nphases: []\n", 4, 19, "unknown host 'nowhere'");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, rollback: {run: y, on: nope}}\n", 6, 50, "unknown host 'nope'");
}
END_TEST

/* defaults: on of a group must not be reported once per step. */
START_TEST(test_defaults_error_once)
{
	struct diags d = DIAGS_INIT;

	ck_assert_ptr_null(load_text(HEAD "defaults: {on: nowhere, env: {A: \"${nope}\"}}\n"
	    "phases:\n  - name: p\n    steps:\n"
	    "      - {name: s, run: x}\n      - {name: t, run: y}\n", &d));
	ck_assert_uint_eq(d.n, 2);
	ck_assert(has_diag(&d, 3, 16, "unknown host 'nowhere'"));
	ck_assert(has_diag(&d, 3, 35, "undefined variable 'nope' in 'env.A'"));
	diags_release(&d);
}
END_TEST

START_TEST(test_transfers)
{
	EXPECT_ERROR(STEPS "      - {name: s, upload: {src: a, dest: b}}\n", 6, 19,
	    "'upload' needs a remote host (it uses SFTP), but step 's' runs on 'local'");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, on: db, run: x, rollback: {download: {src: a, dest: b}, on: local}}\n", 8, 46,
	    "'download' needs a remote host");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, on: db, upload: {src: a}}\n", 8, 27, "upload is missing 'dest'");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, on: db, upload: {src: a, dest: b, mode: 0999}}\n", 8, 53,
	    "'mode' must be an octal mode such as \"0644\"");
}
END_TEST

/* --- probes and references --- */

#define PROBES HEAD "probes:\n  api-health: {http: {url: \"https://e/h\"}}\n"

START_TEST(test_probe_refs)
{
	EXPECT_ERROR(PROBES "phases:\n  - name: p\n    steps:\n      - {name: s, run: x, after: [api-helth]}\n",
	    8, 35, "unknown probe 'api-helth' (did you mean 'api-health'?)");
	EXPECT_ERROR(PROBES "phases:\n  - {name: p, steps: [], verify: [nope]}\n", 6, 35, "unknown probe 'nope'");
	EXPECT_ERROR(PROBES "phases:\n  - {name: p, steps: [], watch: {probes: [nope]}}\n", 6, 43, "unknown probe 'nope'");
	EXPECT_ERROR(PROBES "phases:\n  - name: p\n    steps:\n      - {name: s, probe: nope}\n", 8, 19,
	    "unknown probe 'nope'");
	EXPECT_ERROR(PROBES "phases:\n  - name: p\n    steps:\n      - {name: s, run: x, check: api-healt}\n", 8, 34,
	    "unknown probe 'api-healt' (did you mean 'api-health'?)");
	EXPECT_ERROR(PROBES "phases:\n  - {name: p, steps: [], watch: {probes: []}}\n", 6, 34, "'probes' is empty");
	EXPECT_ERROR(PROBES "phases:\n  - {name: p, steps: [], watch: {probes: [api-health], failures: 0}}\n", 6, 66,
	    "'failures' must be at least 1");
}
END_TEST

START_TEST(test_probe_step)
{
	struct runbook *rb = load_ok(PROBES "phases:\n  - name: p\n    steps:\n"
	    "      - name: s\n        probe: {run: test -f /x, expect: {exit: [0, 2]}}\n"
	    "        retry: {attempts: 5}\n");
	const struct step *s = runbook_step(rb, "s");

	ck_assert_int_eq(s->action.kind, ACT_PROBE);
	ck_assert_ptr_eq(s->action.probe, s->action.probe_inline);
	ck_assert_uint_eq(s->action.probe->expect.n_exit, 2);
	ck_assert_int_eq(s->action.probe->timeout_ms, DEFAULT_PROBE_TIMEOUT_MS);
	ck_assert_int_eq(s->retry.attempts, 5);
	runbook_free(rb);
	EXPECT_ERROR(PROBES "phases:\n  - name: p\n    steps:\n"
	    "      - {name: s, probe: api-health, expect: {status: 200}}\n", 8, 38,
	    "'expect' is not allowed in a probe step");
}
END_TEST

/* --- expect --- */

START_TEST(test_expect)
{
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {status: 200}}\n", 6, 36,
	    "'status' in expect does not apply to a run step");
	EXPECT_ERROR(STEPS "      - {name: s, http: {url: \"https://e\"}, expect: {stdout: x}}\n", 6, 54,
	    "'stdout' in expect does not apply to a http step");
	EXPECT_ERROR(HEAD "probes:\n  p: {tcp: \"a:1\", expect: {exit: 0}}\nphases: []\n", 4, 28,
	    "'exit' in expect does not apply to a tcp probe");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, rollback: {run: y, expect: {body: x}}}\n", 6, 55,
	    "'body' in expect does not apply to a run rollback");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {exit: 256}}\n", 6, 42,
	    "'exit' must be an exit status or a list of them");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {exit: []}}\n", 6, 36, "'exit' is an empty list");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {exit: {a: 1}}}\n", 6, 36,
	    "'exit' must be an exit status or a list of them");
	EXPECT_ERROR(STEPS "      - {name: s, http: {url: \"https://e\"}, expect: {status: 600}}\n", 6, 62,
	    "'status' must be an HTTP status (200), a class (\"2xx\") or a list of them");
	EXPECT_ERROR(STEPS "      - {name: s, http: {url: \"https://e\"}, expect: {status: [200, 6xx]}}\n", 6, 68,
	    "'status' must be an HTTP status");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {stdout: '(a'}}\n", 6, 44,
	    "invalid regular expression '(a': missing closing parenthesis");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {value: {regex: '(\\d+)', below: low}}}\n", 6, 60,
	    "'below' must be a number");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {value: {regex: '\\d+', above: 1}}}\n", 6, 51,
	    "the regex of expect.value must have exactly one capture group (...), it has 0");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {value: {regex: '(\\d+)'}}}\n", 6, 36,
	    "expect.value needs a bound");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, expect: {value: {below: 1}}}\n", 6, 36,
	    "expect.value needs 'regex' or 'json'");
	EXPECT_ERROR(STEPS "      - {name: s, http: {url: \"https://e\"}, expect: {latency: fast}}\n", 6, 63,
	    "invalid duration 'fast' for 'latency'");
}
END_TEST

START_TEST(test_expect_defaults)
{
	struct runbook *rb = load_ok(STEPS "      - {name: s, run: x}\n      - {name: t, http: {url: \"https://e\"}, "
	    "expect: {status: 3XX}}\n");
	const struct step *s = runbook_step(rb, "s");

	ck_assert_uint_eq(s->expect.n_exit, 0);
	ck_assert_ptr_null(s->expect.exit_codes);
	ck_assert_uint_eq(s->expect.n_status, 0);
	ck_assert_int_eq(s->expect.latency_ms, -1);
	ck_assert_ptr_null(s->expect.value_re);
	ck_assert_int_eq(s->expect.pos.line, 0);
	s = runbook_step(rb, "t");
	ck_assert_int_eq(s->expect.status[0][0], 300);
	ck_assert_int_eq(s->expect.status[0][1], 399);
	ck_assert_int_eq(s->expect.pos.line, 7);
	runbook_free(rb);
}
END_TEST

START_TEST(test_captures)
{
	EXPECT_ERROR(STEPS "      - {name: s, run: x, capture: {a: '(x)(y)'}}\n", 6, 40,
	    "capture 'a' must have exactly one capture group (...), it has 2");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, capture: {a: 'x'}}\n", 6, 40, "it has 0");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, capture: {a: '(x'}}\n", 6, 40, "invalid regular expression '(x'");
	EXPECT_ERROR(STEPS "      - {name: s, gate: ok, capture: {a: '(x)'}}\n", 6, 29, "'capture' is not allowed in a gate step");
	EXPECT_ERROR(HEAD "hosts:\n  db: {address: a}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, on: db, upload: {src: a, dest: b}, capture: {a: '(x)'}}\n", 8, 54,
	    "'capture' needs a run or http step, not upload");
	/* non-capturing and named groups count as they should */
	runbook_free(load_ok(STEPS "      - {name: s, run: x, capture: {a: '(?:v)(?<n>\\d+)'}}\n"));
}
END_TEST

/* --- http --- */

START_TEST(test_http)
{
	EXPECT_ERROR(STEPS "      - {name: s, http: {url: \"https://e\", method: FETCH}}\n", 6, 52,
	    "unsupported HTTP method 'FETCH'");
	EXPECT_ERROR(STEPS "      - {name: s, http: {url: \"ftp://e\"}}\n", 6, 31,
	    "'url' must start with http://, https:// or file:");
	EXPECT_ERROR(STEPS "      - {name: s, http: {url: \"https://e\", follow: 1}}\n", 6, 44,
	    "'follow' must be true or false");
	EXPECT_ERROR(STEPS "      - name: s\n        http:\n          url: https://e\n"
	    "          headers: {X-A: \"v\\nX-B: w\"}\n", 9, 26, "header 'X-A' contains a line break (CR or LF)");
	EXPECT_ERROR(STEPS "      - name: s\n        http:\n          url: https://e\n"
	    "          headers: {\"X A\": v}\n", 9, 21, "invalid header name 'X A'");

	struct runbook *rb = load_ok(HEAD "vars: {api: \"https://e\"}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, http: {url: \"${api}/x\", method: post}}\n"
	    "      - {name: t, http: {url: \"file:///tmp/x\"}}\n");
	ck_assert_str_eq(runbook_step(rb, "s")->action.http->method.s, "POST");
	runbook_free(rb);
}
END_TEST

/* --- retry, batch --- */

START_TEST(test_retry)
{
	EXPECT_ERROR(STEPS "      - {name: s, run: x, retry: {attempts: 0}}\n", 6, 45, "'attempts' must be at least 1");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, retry: {backoff: 0.5}}\n", 6, 44, "'backoff' must be between 1 and 1000");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, retry: {jitter: 1.5}}\n", 6, 43, "'jitter' must be between 0 and 1");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, retry: {jitter: lots}}\n", 6, 35, "'jitter' must be a number");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, retry: {max_interval: 0}}\n", 6, 49, "'max_interval' must be longer than 0");
}
END_TEST

/* A step's retry fields fill in from defaults: field by field, then from the built-in defaults. */
START_TEST(test_retry_defaults)
{
	struct runbook *rb = load_ok(HEAD "defaults:\n  retry: {interval: 5s, jitter: 0.5}\n  timeout: 2m\n"
	    "phases:\n  - name: p\n    steps:\n"
	    "      - {name: s, run: x, retry: {attempts: 3}}\n"
	    "      - {name: t, run: x, timeout: 10s}\n"
	    "      - {name: u, gate: ok?}\n");
	const struct step *s = runbook_step(rb, "s");

	ck_assert_int_eq(s->retry.attempts, 3);
	ck_assert_int_eq(s->retry.interval_ms, 5000);
	ck_assert(s->retry.jitter == 0.5);
	ck_assert(s->retry.backoff == 1.0);
	ck_assert_int_eq(s->retry.max_interval_ms, 0);
	ck_assert_int_eq(s->timeout_ms, 120000);
	s = runbook_step(rb, "t");
	ck_assert_int_eq(s->retry.attempts, 1);
	ck_assert_int_eq(s->timeout_ms, 10000);
	ck_assert_str_eq(runbook_step(rb, "u")->on, "local");
	runbook_free(rb);

	rb = load_ok(STEPS "      - {name: s, run: x}\n");
	s = runbook_step(rb, "s");
	ck_assert_str_eq(s->on, "local");
	ck_assert_int_eq(s->timeout_ms, DEFAULT_STEP_TIMEOUT_MS);
	ck_assert_int_eq(s->retry.attempts, 1);
	ck_assert_int_eq(s->retry.interval_ms, DEFAULT_RETRY_INTERVAL_MS);
	ck_assert(s->retry.backoff == 1.0);
	ck_assert(s->retry.jitter == 0.0);
	ck_assert_int_eq(s->sudo, -1);
	ck_assert_ptr_null(s->rollback);
	ck_assert(!s->has_for);
	ck_assert(!s->batch.set);
	runbook_free(rb);
}
END_TEST

START_TEST(test_batch)
{
	EXPECT_ERROR(STEPS "      - {name: s, run: x, batch: 0}\n", 6, 34, "'batch' must be at least 1");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, batch: 0%}\n", 6, 34, "'batch' must be a percentage from 1% to 100%");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, max_fail: 101%}\n", 6, 37, "'max_fail' must be a percentage from 0% to 100%");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, max_fail: -1}\n", 6, 37, "'max_fail' must be at least 0");
	EXPECT_ERROR(STEPS "      - {name: s, run: x, batch: half}\n", 6, 27, "'batch' must be a number of hosts or a percentage");
}
END_TEST

START_TEST(test_rollback_when)
{
	EXPECT_ERROR(STEPS "      - {name: s, run: x, rollback: {run: y, when: failed}}\n", 6, 46,
	    "'when' must be 'completed' or 'always'");
}
END_TEST

/* --- secrets --- */

START_TEST(test_secrets)
{
	EXPECT_ERROR(HEAD "secrets:\n  t: {env: T, file: /x}\nphases: []\n", 4, 15, "secret 't' has both 'env' and 'file'");
	EXPECT_ERROR(HEAD "secrets:\n  t: {}\nphases: []\n", 4, 3, "secret 't' needs 'env' or 'file'");
	EXPECT_ERROR(HEAD "secrets:\n  t: T\nphases: []\n", 4, 3, "secret 't' must be {env: NAME} or {file: PATH}");
	EXPECT_ERROR(HEAD "secrets:\n  t: {env: T-1}\nphases: []\n", 4, 12, "invalid environment variable name 'T-1'");
	EXPECT_ERROR(HEAD "secrets:\n  t: {vault: x}\nphases: []\n", 4, 7, "unknown key 'vault' in secret 't'");
}
END_TEST

/* --- interpolation --- */

#define VARS HEAD "vars:\n  api: https://e\n  weights: [1, 2]\n  db: {name: app, ports: [1]}\n" \
	"secrets:\n  token: {env: T}\n"
/* with VARS, steps start on line 12 */
#define VSTEPS VARS "phases:\n  - name: p\n    steps:\n"

START_TEST(test_interp_vars)
{
	struct runbook *rb = load_ok(VSTEPS "      - name: s\n        run: |\n          curl ${api} ${db.name} "
	    "${secrets.token} ${env.HOME} ${host} ${host.address} ${run.id} ${phase} $${literal}\n");
	runbook_free(rb);

	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${apii}\"}\n", 12, 30,
	    "undefined variable 'apii' in 'run' (did you mean 'api'?)");
	/* a block scalar is reported at its start */
	EXPECT_ERROR(VSTEPS "      - name: s\n        run: |\n          echo ${apii}\n", 13, 14,
	    "undefined variable 'apii' in 'run'");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${weights}\"}\n", 12, 30,
	    "list variable 'weights' cannot be used in 'run' (only 'for:' takes a list)");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${db}\"}\n", 12, 30, "mapping variable 'db' cannot be used");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${db.user}\"}\n", 12, 30, "undefined variable 'db.user' in 'run'");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${api.x}\"}\n", 12, 30,
	    "undefined variable 'api.x' in 'run' ('api' is not a mapping)");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${secrets.tokn}\"}\n", 12, 30,
	    "undefined secret 'tokn' in 'run' (did you mean 'token'?)");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${api|shout}\"}\n", 12, 30,
	    "unknown filter (use |quote, |urlencode or |json) in 'run'");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${api\"}\n", 12, 30, "unterminated ${");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: x, env: {A: \"${nope}\"}}\n", 12, 37, "undefined variable 'nope' in 'env.A'");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: x, workdir: \"/${nope}\"}\n", 12, 38, "in 'workdir'");
	EXPECT_ERROR(VSTEPS "      - {name: s, run: x, rollback: {run: \"${nope}\"}}\n", 12, 44, "in 'rollback.run'");
	EXPECT_ERROR(VSTEPS "      - {name: s, http: {url: \"${api}/${nope}\"}}\n", 12, 39, "in 'http.url'");
	EXPECT_ERROR(VARS "hosts:\n  h: {address: \"${nope}\"}\nphases: []\n", 10, 17, "in 'address'");
	EXPECT_ERROR(VARS "phases:\n  - {name: p, gate: \"ok ${nope}?\", steps: []}\n", 10, 25, "in 'gate'");
	EXPECT_ERROR(VARS "probes:\n  p: {tcp: \"${nope}:1\"}\nphases: []\n", 10, 13, "in 'tcp'");
}
END_TEST

START_TEST(test_interp_item)
{
	runbook_free(load_ok(VSTEPS "      - name: s\n        for: [a, b]\n        run: echo ${item}\n"
	    "        rollback: {run: \"undo ${item|quote}\"}\n"
	    "        check: {run: \"test ${item}\"}\n"));
	EXPECT_ERROR(VSTEPS "      - {name: s, run: \"echo ${item}\"}\n", 12, 30,
	    "${item} in 'run' is only defined in a step with 'for:'");
	EXPECT_ERROR(VARS "probes:\n  p: {run: \"echo ${item}\"}\nphases:\n  - name: p\n    steps:\n"
	    "      - {name: s, for: [a], run: x, after: [p]}\n", 10, 18, "${item} in 'run' is only defined");
}
END_TEST

START_TEST(test_interp_captures)
{
	runbook_free(load_ok(VARS "probes:\n  p: {run: \"echo ${steps.b.v}\"}\n"
	    "phases:\n  - name: p\n    steps:\n"
	    "      - {name: a, run: \"echo v=1\", capture: {v: 'v=(\\d)'}, rollback: {run: \"${steps.a.v}\"}}\n"
	    "      - {name: b, run: \"echo ${steps.a.v}\", capture: {v: '(x)'}}\n"
	    "  - name: q\n    gate: \"${steps.b.v}?\"\n    steps:\n"
	    "      - {name: c, run: \"echo ${steps.b.v}\"}\n"));
	EXPECT_ERROR(VSTEPS "      - {name: a, run: \"echo ${steps.b.v}\"}\n      - {name: b, run: x, capture: {v: '(x)'}}\n",
	    12, 30, "capture 'v' of step 'b' is not available in step 'a', which runs before it");
	EXPECT_ERROR(VSTEPS "      - {name: a, run: \"echo ${steps.nope.v}\"}\n", 12, 30, "unknown step 'nope' in ${steps.nope.v}");
	EXPECT_ERROR(VSTEPS "      - {name: a, run: x, capture: {v: '(x)'}}\n      - {name: b, run: \"${steps.a.w}\"}\n",
	    13, 25, "step 'a' has no capture 'w'");
	EXPECT_ERROR(VSTEPS "      - {name: a, run: \"${steps.a}\"}\n", 12, 25, "a capture is written ${steps.STEP.CAPTURE}");
}
END_TEST

START_TEST(test_for)
{
	struct runbook *rb = load_ok(VSTEPS "      - {name: s, for: \"${weights}\", run: \"echo ${item}\"}\n"
	    "      - {name: t, for: \"${db.ports}\", run: \"echo ${item}\"}\n"
	    "      - {name: u, for: [], run: \"echo ${item}\"}\n");
	ck_assert_str_eq(runbook_step(rb, "s")->for_ref.s, "${weights}");
	ck_assert(runbook_step(rb, "u")->has_for);
	ck_assert_uint_eq(runbook_step(rb, "u")->for_list.n, 0);
	runbook_free(rb);

	EXPECT_ERROR(VSTEPS "      - {name: s, for: \"${api}\", run: x}\n", 12, 24,
	    "'for' needs a list, but variable 'api' is a string");
	EXPECT_ERROR(VSTEPS "      - {name: s, for: \"${db}\", run: x}\n", 12, 24, "variable 'db' is a mapping");
	EXPECT_ERROR(VSTEPS "      - {name: s, for: \"${nope}\", run: x}\n", 12, 24, "undefined variable 'nope' in 'for'");
	EXPECT_ERROR(VSTEPS "      - {name: s, for: \"${weights|quote}\", run: x}\n", 12, 24,
	    "'for' must be a list or a single ${var} naming a list");
	EXPECT_ERROR(VSTEPS "      - {name: s, for: \"${secrets.token}\", run: x}\n", 12, 24, "'for' must be a list");
	EXPECT_ERROR(VSTEPS "      - {name: s, for: {a: 1}, run: x}\n", 12, 19, "'for' must be a list or a single ${var}");
	EXPECT_ERROR(VSTEPS "      - {name: s, for: [a, [b]], run: x}\n", 12, 28,
	    "item 2 of 'for' must be a plain value or a mapping of plain values");
}
END_TEST

/* --- rollout control (SPEC §7) --- */

#define RVARS HEAD "vars:\n  bake: 2s\n  who: bob\n  stages: [{pct: 1, bake: 1s}, {pct: 5, bake: 2s}]\n" \
	"probes:\n  up: {run: 'true'}\n  base: {run: 'echo 1', expect: {value: {regex: '(\\d+)', at_least: 0}}}\n"
/* with RVARS, what follows starts on line 10; with RSTEPS, steps on line 12 */
#define RSTEPS RVARS "phases:\n  - name: p\n    steps:\n"

START_TEST(test_mapping_items)
{
	struct runbook *rb = load_ok(RSTEPS
	    "      - name: shift\n"
	    "        for: [{pct: 1, bake: 10m}, {pct: 10, bake: 30m}]\n"
	    "        run: flagctl set ${item.pct}\n"
	    "        pause: ${item.bake}\n"
	    "        timeout: ${bake}\n"
	    "      - {name: ramp, for: \"${stages}\", run: \"echo ${item.pct}\", retry: {attempts: \"${item.pct}\"}}\n");
	const struct step *s = runbook_step(rb, "shift");
	ck_assert_int_eq(s->for_list.n, 2);
	ck_assert_int_eq(s->for_list.items[1].type, VAL_MAP);
	ck_assert_int_eq(s->timeout_ms, 2000);     /* ${bake} resolved at load time */
	ck_assert_int_eq(s->pause_ms, 0);          /* per unit */
	ck_assert_str_eq(item_field(&s->for_list.items[1], "bake"), "30m");
	runbook_free(rb);

	/* an item without the key: named by its position and first field */
	EXPECT_ERROR(RSTEPS "      - {name: s, for: [{pct: 1, bake: 1m}, {pct: 2}], run: \"x ${item.bake}\"}\n",
	    13, 45, "item 2 of 'for' (pct: 2) has no key 'bake' (used by ${item.bake} in 'run')");
	/* a per-item duration that is text */
	EXPECT_ERROR(RSTEPS "      - {name: s, for: [{pct: 1, bake: soon}], pause: \"${item.bake}\", run: x}\n",
	    13, 40, "'pause' of step 's' is ${item.bake} = 'soon' for item 1 of 'for' (pct: 1, ...), "
	    "which is not a duration");
	/* a ${var} numeric field that is text */
	EXPECT_ERROR(RSTEPS "      - {name: s, timeout: \"${who}\", run: x}\n", 13, 28,
	    "'timeout' is ${who} = 'bob', which is not a duration such as 30s or 5m");
	EXPECT_ERROR(RSTEPS "      - {name: s, retry: {attempts: \"${who}\"}, run: x}\n", 13, 37,
	    "'attempts' is ${who} = 'bob', which is not a whole number");
	EXPECT_ERROR(RSTEPS "      - {name: s, timeout: \"${who}s\", run: x}\n", 13, 28,
	    "'timeout' must be a duration such as 30s or 5m, or exactly one ${...} reference");
	EXPECT_ERROR(RSTEPS "      - {name: s, run: x, retry: {max_interval: \"${bake}\"}}\n", 13, 49,
	    "it does not take a ${...} reference");
	EXPECT_ERROR(RSTEPS "      - {name: s, for: [1], run: x}\n      - {name: t, pause: \"${item}\"}\n", 14, 26,
	    "${item} in 'pause' is only defined in a step with 'for:'");
	EXPECT_ERROR(RSTEPS "      - {name: s, for: [{a: 1}], run: \"x ${item}\"}\n", 13, 42,
	    "${item} in 'run' is a mapping for item 1 of 'for' (a: 1): write ${item.KEY}");
	EXPECT_ERROR(RSTEPS "      - {name: s, for: [{a: 1}], run: x, expect: {value: {regex: '(1)', below: \"${item.a}\"}}}\n",
	    13, 80, "'below' cannot name the item here");
}
END_TEST

START_TEST(test_rollout_keys)
{
	struct runbook *rb = load_ok(RVARS
	    "watch: {probes: [up], interval: 5s, failures: 2, window: 5, delay: 1s, from: q}\n"
	    "verify_rollback: [up]\n"
	    "not_before: 2026-03-01T22:00:00Z\n"
	    "not_after: 2026-03-02T01:00:00+01:00\n"
	    "notify:\n"
	    "  - {on: [gate, done], run: \"echo ${event.kind} ${event.text|quote}\", timeout: 3s}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    commit: true\n"
	    "    deadline: 45m\n"
	    "    gate: {message: go?, show: [up], approvals: 2, timeout: 30m, on_timeout: rollback}\n"
	    "    steps:\n"
	    "      - {name: s, run: 'echo 2', expect: {value: {regex: '(\\d+)', below: {probe: base, times: 1.2, plus: 1}}}}\n"
	    "      - {name: g, gate: {message: again?, approvals: 2}}\n"
	    "  - name: q\n"
	    "    watch: {probes: [up], failures: 2, window: 3}\n"
	    "    steps: [{name: t, run: x}]\n");
	const struct phase *p = runbook_phase(rb, "p");
	ck_assert(rb->watch.set);
	ck_assert_ptr_eq(rb->watch.from_phase, runbook_phase(rb, "q"));
	ck_assert_int_eq(rb->watch.window, 5);
	ck_assert_int_eq(rb->watch.delay_ms, 1000);
	ck_assert_int_eq(rb->n_verify_rollback, 1);
	ck_assert_int_eq(rb->not_before.epoch_ms, 1772402400000LL);
	ck_assert_int_eq(rb->not_after.epoch_ms, 1772409600000LL);
	ck_assert_int_eq(rb->n_notify, 1);
	ck_assert_uint_eq(rb->notify[0].events, NOTIFY_GATE | NOTIFY_DONE);
	ck_assert_int_eq(rb->notify[0].timeout_ms, 3000);
	ck_assert(p->commit);
	ck_assert_int_eq(p->deadline_ms, 45 * 60000);
	ck_assert_str_eq(p->gate.s, "go?");
	ck_assert_int_eq(p->gate_cfg->approvals, 2);
	ck_assert_int_eq(p->gate_cfg->on_timeout, ON_TIMEOUT_ROLLBACK);
	ck_assert_ptr_eq(p->gate_cfg->show[0].probe, runbook_probe(rb, "up"));
	ck_assert_ptr_eq(runbook_step(rb, "s")->expect.bounds->below.base, runbook_probe(rb, "base"));
	ck_assert(runbook_step(rb, "s")->expect.bounds->below.times > 1.19);
	ck_assert_str_eq(runbook_step(rb, "g")->action.gate.s, "again?");
	ck_assert_int_eq(runbook_step(rb, "g")->action.gate_cfg->approvals, 2);
	runbook_free(rb);

	EXPECT_ERROR(RVARS "watch: {probes: [up], from: nowhere}\nphases: [{name: p, steps: [{name: s, run: x}]}]\n",
	    10, 29, "'from' names no phase: 'nowhere'");
	EXPECT_ERROR(RSTEPS "      - {name: g, gate: {message: go?, approvals: 0}}\n", 13, 51,
	    "'approvals' must be at least 1");
	EXPECT_ERROR(RVARS "phases:\n  - {name: p, gate: {message: go?, on_timeout: stop}, steps: [{name: s, run: x}]}\n",
	    11, 36, "'on_timeout' needs a 'timeout' in the gate");
	EXPECT_ERROR(RVARS "phases:\n  - {name: p, gate: {show: [up]}, steps: [{name: s, run: x}]}\n",
	    11, 15, "the gate is missing 'message'");
	EXPECT_ERROR(RVARS "phases:\n  - {name: p, gate: {message: go?, on_timeout: later, timeout: 1m}, steps: [{name: s, run: x}]}\n",
	    11, 36, "'on_timeout' must be 'stop' or 'rollback'");
	EXPECT_ERROR(RVARS "notify: [{on: [gates], run: x}]\nphases: [{name: p, steps: [{name: s, run: x}]}]\n",
	    10, 16, "unknown event 'gates' (events: start, phase, gate, failure, rollback, done) (did you mean 'gate'?)");
	EXPECT_ERROR(RVARS "notify: [{on: [done]}]\nphases: [{name: p, steps: [{name: s, run: x}]}]\n",
	    10, 10, "notify hook 1 has no kind (one of run, http)");
	EXPECT_ERROR(RVARS "phases: [{name: p, steps: [{name: s, run: \"${event.kind}\"}]}]\n",
	    10, 44, "${event.kind} in 'run' is only defined in a notify hook");
	EXPECT_ERROR(RVARS "not_before: tomorrow\nphases: [{name: p, steps: [{name: s, run: x}]}]\n",
	    10, 13, "'not_before' must be an RFC 3339 time");
	EXPECT_ERROR(RVARS "phases:\n  - {name: p, watch: {probes: [up], from: p}, steps: [{name: s, run: x}]}\n",
	    11, 37, "'from' is only for the run-level watch");
	EXPECT_ERROR(RVARS "phases:\n  - {name: p, watch: {probes: [up], failures: 3, window: 2}, steps: [{name: s, run: x}]}\n",
	    11, 50, "'window' (2) must be at least 'failures' (3)");
	EXPECT_ERROR(RSTEPS "      - {name: s, run: x, expect: {value: {regex: '(1)', below: {probe: nope}}}}\n",
	    13, 73, "unknown probe 'nope'");
	EXPECT_ERROR(RSTEPS "      - {name: s, run: x, expect: {value: {regex: '(1)', below: {times: 2}}}}\n",
	    13, 58, "'below' relative to a baseline needs 'probe'");
}
END_TEST

/* --- overrides and --vars --- */

START_TEST(test_overrides)
{
	struct var_override ov[2];
	struct diags d = DIAGS_INIT;
	struct runbook *rb;

	memset(ov, 0, sizeof(ov));
	ov[0].name = "api";
	ov[0].value.type = VAL_STR;
	ov[0].value.str = "http://staging";
	ov[0].origin = "--var";
	ov[1].name = "weights";
	ov[1].value.type = VAL_STR;
	ov[1].value.str = "5";
	ov[1].origin = "w.yaml";
	rb = load_text_with(VSTEPS "      - {name: s, run: \"echo ${api}\"}\n", ov, 1, &d);
	ck_assert_ptr_nonnull(rb);
	ck_assert_str_eq(value_get(&rb->vars, "api")->str, "http://staging");
	runbook_free(rb);

	/* overriding a list with a string breaks its for: */
	rb = load_text_with(VSTEPS "      - {name: s, for: \"${weights}\", run: x}\n", ov, 2, &d);
	ck_assert_ptr_null(rb);
	ck_assert(has_diag(&d, 12, 24, "'for' needs a list, but variable 'weights' is a string"));
	diags_release(&d);

	ov[0].name = "apii";
	rb = load_text_with(VSTEPS "      - {name: s, run: x}\n", ov, 1, &d);
	ck_assert_ptr_null(rb);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_str_eq(d.v[0].file, "--var");
	ck_assert_int_eq(d.v[0].line, 0);
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "'apii' is not declared in vars: of /tmp/test-load-"));
	ck_assert_ptr_nonnull(strstr(d.v[0].msg, "(did you mean 'api'?)"));
	diags_release(&d);
}
END_TEST

START_TEST(test_vars_file)
{
	struct diags d = DIAGS_INIT;
	struct value v;
	const char *path = write_tmp("api: http://x\nlist: [1, 2]\nmap: {a: b}\nempty:\n", 45);

	ck_assert_int_eq(vars_file_load(path, &v, &d), 0);
	unlink(path);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_int_eq(v.type, VAL_MAP);
	ck_assert_uint_eq(v.n, 4);
	ck_assert_str_eq(value_get(&v, "api")->str, "http://x");
	ck_assert_int_eq(value_get(&v, "list")->type, VAL_LIST);
	ck_assert_str_eq(value_get(value_get(&v, "map"), "a")->str, "b");
	ck_assert_str_eq(value_get(&v, "empty")->str, "");
	ck_assert_ptr_null(value_get(&v, "nope"));
	{
		struct value copy;
		value_copy(&copy, &v);
		ck_assert_str_eq(value_get(value_get(&copy, "map"), "a")->str, "b");
		ck_assert_str_eq(value_get(&copy, "list")->items[1].str, "2");
		value_release(&copy);
	}
	value_release(&v);

	path = write_tmp("- a\n- b\n", 8);
	ck_assert_int_eq(vars_file_load(path, &v, &d), -1);
	unlink(path);
	ck_assert(has_diag(&d, 1, 1, "a vars file must hold one mapping"));
	diags_release(&d);

	path = write_tmp("a: 1\na: 2\n", 10);
	ck_assert_int_eq(vars_file_load(path, &v, &d), -1);
	unlink(path);
	ck_assert(has_diag(&d, 2, 1, "duplicate key 'a'"));
	diags_release(&d);
}
END_TEST

/* --- many errors at once --- */

START_TEST(test_collects_all_errors)
{
	struct diags d = DIAGS_INIT;
	struct runbook *rb = load_text(HEAD
	    "hosts:\n"
	    "  db: {address: a, port: 0}\n"                                /* 4 */
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - name: s\n"                                            /* 8 */
	    "        on: dbb\n"                                            /* 9 */
	    "        run: echo ${nope}\n"                                  /* 10 */
	    "        timout: 5s\n"                                         /* 11 */
	    "        retry: {attempts: 0}\n"                               /* 12 */
	    "        after: [missing]\n"                                   /* 13 */
	    "      - name: s\n"                                            /* 14 */
	    "        http: {url: \"ftp://x\"}\n"                           /* 15 */
	    "        expect: {stdout: x}\n", &d);                          /* 16 */

	ck_assert_ptr_null(rb);
	ck_assert(has_diag(&d, 4, 26, "'port' must be between 1 and 65535"));
	ck_assert(has_diag(&d, 9, 13, "unknown host 'dbb'"));
	ck_assert(has_diag(&d, 10, 19, "undefined variable 'nope'"));
	ck_assert(has_diag(&d, 11, 9, "unknown key 'timout'"));
	ck_assert(has_diag(&d, 12, 27, "'attempts' must be at least 1"));
	ck_assert(has_diag(&d, 13, 17, "unknown probe 'missing'"));
	ck_assert(has_diag(&d, 14, 9, "duplicate step name 's'"));
	ck_assert(has_diag(&d, 15, 21, "'url' must start with"));
	ck_assert(has_diag(&d, 16, 18, "'stdout' in expect does not apply to a http step"));
	ck_assert_uint_eq(d.n, 9);
	/* sorted top to bottom */
	for (size_t i = 1; i < d.n; i++)
		ck_assert_int_le(d.v[i - 1].line, d.v[i].line);
	diags_release(&d);
}
END_TEST

START_TEST(test_error_cap)
{
	struct buf b = BUF_INIT;
	struct diags d = DIAGS_INIT;

	buf_adds(&b, STEPS);
	for (int i = 0; i < 300; i++)
		buf_addf(&b, "      - {name: s%d, run: x, bad: 1}\n", i);
	ck_assert_ptr_null(load_text(b.data, &d));
	ck_assert_uint_eq(d.n, 201);
	ck_assert_ptr_nonnull(strstr(d.v[200].msg, "too many errors"));
	diags_release(&d);
	buf_release(&b);
}
END_TEST

/*
 * Steps are parsed while the YAML is read and their nodes dropped, except
 * a step holding an anchor: a later alias or merge key into it still works,
 * ${...} numeric fields of many steps (the steps array grows and moves)
 * keep pointing at their own step.
 */
START_TEST(test_steps_parsed_early)
{
	struct buf y = BUF_INIT;
	struct runbook *rb;

	buf_adds(&y, "runbook: 1\nname: t\nvars: {t: 7s}\nphases:\n  - name: p\n    steps:\n"
	    "      - name: a\n        run: &cmd \"echo a\"\n        timeout: 5s\n"
	    "      - &tmpl {name: b, run: \"echo b\", timeout: 9s}\n"
	    "      - <<: *tmpl\n        name: c\n"
	    "      - {name: d, run: *cmd}\n");
	for (int i = 0; i < 300; i++)
		buf_addf(&y, "      - {name: n%d, run: \"true\", timeout: \"${t}\"}\n", i);
	buf_adds(&y, "  - name: q\n    steps:\n      - {name: e, run: *cmd, timeout: \"${t}\"}\n");
	rb = load_ok(buf_str(&y));
	ck_assert_uint_eq(rb->n_steps, 305);
	ck_assert_str_eq(step_named(rb, "a")->action.run.s, "echo a");
	ck_assert_str_eq(step_named(rb, "c")->action.run.s, "echo b");
	ck_assert_int_eq(step_named(rb, "c")->timeout_ms, 9000);
	ck_assert_str_eq(step_named(rb, "d")->action.run.s, "echo a");
	ck_assert_str_eq(step_named(rb, "e")->action.run.s, "echo a");
	ck_assert_int_eq(step_named(rb, "e")->timeout_ms, 7000);
	ck_assert_int_eq(step_named(rb, "n0")->timeout_ms, 7000);
	ck_assert_int_eq(step_named(rb, "n299")->timeout_ms, 7000);
	ck_assert_ptr_eq(step_named(rb, "n299")->phase, &rb->phases[0]);
	ck_assert_ptr_eq(step_named(rb, "e")->phase, &rb->phases[1]);
	ck_assert_int_eq(step_named(rb, "n150")->pos.line, 14 + 150);
	runbook_free(rb);
	buf_release(&y);
}
END_TEST

static Suite *
load_suite(void)
{
	Suite *s = suite_create("load");
	TCase *tc = tcase_create("fixtures");

	tcase_add_test(tc, test_valid_fixtures);
	tcase_add_test(tc, test_invalid_fixtures);
	tcase_add_test(tc, test_invalid_fixtures_paired);
	tcase_add_test(tc, test_full_top);
	tcase_add_test(tc, test_full_probes);
	tcase_add_test(tc, test_full_steps);
	tcase_add_test(tc, test_full_traffic_phase);
	tcase_add_test(tc, test_foreach_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("yaml");
	tcase_add_test(tc, test_text_col_exact);
	tcase_add_test(tc, test_utf8_columns);
	tcase_add_test(tc, test_syntax_error);
	tcase_add_test(tc, test_flow_interp_hint);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_billion_laughs_fast);
	tcase_add_test(tc, test_deep_nesting_fast);
	tcase_add_test(tc, test_too_many_aliases);
	tcase_add_test(tc, test_file_problems);
	tcase_add_test(tc, test_merge_keys);
	suite_add_tcase(s, tc);

	tc = tcase_create("rules");
	tcase_add_test(tc, test_unknown_keys);
	tcase_add_test(tc, test_wrong_types);
	tcase_add_test(tc, test_required);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_duplicate_names);
	tcase_add_test(tc, test_version);
	tcase_add_test(tc, test_durations);
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_pause_and_gate);
	tcase_add_test(tc, test_hosts);
	tcase_add_test(tc, test_on);
	tcase_add_test(tc, test_defaults_error_once);
	tcase_add_test(tc, test_transfers);
	tcase_add_test(tc, test_probe_refs);
	tcase_add_test(tc, test_probe_step);
	tcase_add_test(tc, test_expect);
	tcase_add_test(tc, test_expect_defaults);
	tcase_add_test(tc, test_captures);
	tcase_add_test(tc, test_http);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_retry_defaults);
	tcase_add_test(tc, test_batch);
	tcase_add_test(tc, test_rollback_when);
	tcase_add_test(tc, test_secrets);
	suite_add_tcase(s, tc);

	tc = tcase_create("references");
	tcase_add_test(tc, test_interp_vars);
	tcase_add_test(tc, test_interp_item);
	tcase_add_test(tc, test_interp_captures);
	tcase_add_test(tc, test_for);
	tcase_add_test(tc, test_mapping_items);
	tcase_add_test(tc, test_rollout_keys);
	tcase_add_test(tc, test_overrides);
	tcase_add_test(tc, test_vars_file);
	tcase_add_test(tc, test_collects_all_errors);
	tcase_add_test(tc, test_error_cap);
	tcase_add_test(tc, test_steps_parsed_early);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(load_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
