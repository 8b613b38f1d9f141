/*
 * test-report.c - the JUnit and JSON reports of a run built by hand: every
 * unit and rollback state, hostile output (markup, "]]>", control
 * characters, invalid UTF-8), a secret that the engine failed to mask,
 * unwind order, and the atomic write.
 */
#include <check.h>
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "engine.h"
#include "report.h"
#include "runlog.h"
#include "secrets.h"
#include "util.h"

#define SECRET "s3cr3t-pw"
#define BASE_MS INT64_C(1795313700000) /* 2026-11-22T02:15:00Z */

/* Lines before the hostile one, so that the JUnit report keeps only the last 20. */
#define EARLY_LINES 30
#define HOSTILE_LINE "psql: <script>&\"]]>'\x01\x1b[31m\xff\xfe\xc0\xaf bad " SECRET "\n"

/* A runbook of three phases; only what the reports read is filled. */
static struct runbook rb;
static struct phase phases[3];
static struct step steps[6];
static struct rollback rb_completed, rb_always;
static char dir[] = "/tmp/migrate-report-XXXXXX";
static char *junit_path, *json_path, *null_path;

/* The keys of the units in the order the unwind visits them. */
static const char *const unwind_keys[] = {
	"migrate-db[1]", "migrate-db[0]", "drain@web2", "notify", "drain@web1",
};
/* Their display names (SPEC §1), which the JUnit testcases show. */
static const char *const unwind_names[] = {
	"migrate-db[orders]@db", "migrate-db[users]@db", "drain@web2", "notify", "drain@web1",
};

static void
make_runbook(void)
{
	static const char *const step_names[] = {
		"backup", "drain", "notify", "migrate-db", "deploy", "cleanup",
	};
	static const size_t phase_of[] = { 0, 0, 0, 1, 1, 2 };
	static const char *const phase_names[] = { "prepare", "switch", "finish" };

	memset(&rb, 0, sizeof(rb));
	memset(phases, 0, sizeof(phases));
	memset(steps, 0, sizeof(steps));
	memset(&rb_completed, 0, sizeof(rb_completed));
	memset(&rb_always, 0, sizeof(rb_always));
	rb_always.when = WHEN_ALWAYS;
	rb.name = (char *)"cutover";
	rb.file = (char *)"runbooks/cutover.yaml";
	rb.version = 1;
	memset(rb.sha256, 'a', 64);
	rb.phases = phases;
	rb.n_phases = 3;
	rb.n_steps = 6;
	for (size_t i = 0; i < 3; i++)
		phases[i].name = (char *)phase_names[i];
	for (size_t i = 0; i < 6; i++) {
		struct phase *ph = &phases[phase_of[i]];
		steps[i].name = (char *)step_names[i];
		steps[i].index = i;
		steps[i].phase = ph;
		if (ph->steps == NULL)
			ph->steps = &steps[i];
		ph->n_steps++;
	}
	steps[0].rollback = &rb_completed;
	steps[1].rollback = &rb_completed;
	steps[3].rollback = &rb_always;
	steps[4].rollback = &rb_completed;
}

static struct unit *
add_unit(struct run *run, size_t step, const char *key, const char *item,
    const char *host, enum unit_state st, enum rollback_state rbs)
{
	struct unit *u = &run->units[run->n_units];

	u->index = run->n_units++;
	u->step = &steps[step];
	u->key = xstrdup(key);
	u->item = item ? xstrdup(item) : NULL;
	u->host = xstrdup(host);
	{
		struct buf name = BUF_INIT;

		unit_display_name(&name, u->step->name, item, host);
		u->name = buf_detach(&name);
	}
	u->selected = true;
	u->state = st;
	u->exit_code = -1;
	u->rb_state = rbs;
	if (st == UNIT_DONE || st == UNIT_FAILED) {
		u->attempts = 1;
		u->exit_code = st == UNIT_DONE ? 0 : 2;
		u->started_ms = BASE_MS + (int64_t)u->index * 1000;
		u->duration_ms = 250 + (int64_t)u->index;
		buf_addf(&u->tail, "%s done\n", key);
	}
	if (rbs == RB_DONE || rbs == RB_FAILED)
		u->rb_duration_ms = 40;
	return u;
}

/*
 * A run that failed at migrate-db[1] and whose unwind stopped at the
 * failed rollback of drain@web1 (exit 3): backup was never unwound.
 */
static struct run *
make_run(void)
{
	struct run *run = xcalloc(1, sizeof(*run));
	struct unit *backup, *drain1, *drain2, *notify, *mig0, *mig1;

	make_runbook();
	run->rb = &rb;
	run->id = xstrdup("20261122T021500Z-cutover-0a1b");
	secrets_add(&run->secrets, "db_password", SECRET);
	run->units = xcalloc(8, sizeof(*run->units));
	backup = add_unit(run, 0, "backup", NULL, "local", UNIT_DONE, RB_NONE);
	drain1 = add_unit(run, 1, "drain@web1", NULL, "web1", UNIT_DONE, RB_FAILED);
	drain2 = add_unit(run, 1, "drain@web2", NULL, "web2", UNIT_DONE, RB_DONE);
	notify = add_unit(run, 2, "notify", NULL, "local", UNIT_DONE, RB_NO_ACTION);
	mig0 = add_unit(run, 3, "migrate-db[0]", "users", "db", UNIT_DONE, RB_DONE);
	mig1 = add_unit(run, 3, "migrate-db[1]", "orders", "db", UNIT_FAILED, RB_DONE);
	add_unit(run, 4, "deploy", NULL, "local", UNIT_PENDING, RB_NONE);
	add_unit(run, 5, "cleanup", NULL, "local", UNIT_SKIPPED, RB_NONE)->selected = false;

	drain1->rb_message = xstrdup("undrain:\tconnection refused\r\nafter 3 tries");
	mig1->message = xstrdup("exit 2: <b>password " SECRET " rejected</b>");
	buf_reset(&mig1->tail);
	for (int i = 1; i <= EARLY_LINES; i++)
		buf_addf(&mig1->tail, "early line %d\n", i);
	buf_add(&mig1->tail, HOSTILE_LINE, strlen(HOSTILE_LINE));
	buf_add(&mig1->tail, "nul\0byte\n", 9);
	/* rollbacks' output is kept apart from their units' (issue 12 item 9) */
	buf_adds(&mig1->rb_tail, "mig1 rollback said so\n");
	buf_adds(&drain1->rb_tail, "undrain tried web1\n");

	/* Completion order; the unwind walks it backwards after mig1. */
	PUSH(run->completed, run->n_completed, run->cap_completed, backup);
	PUSH(run->completed, run->n_completed, run->cap_completed, drain1);
	PUSH(run->completed, run->n_completed, run->cap_completed, notify);
	PUSH(run->completed, run->n_completed, run->cap_completed, drain2);
	PUSH(run->completed, run->n_completed, run->cap_completed, mig0);
	run->failed_unit = mig1;
	run->failure = xasprintf("step 'migrate-db[1]' failed: %s", mig1->message);
	run->outcome = OUTCOME_NEEDS_HUMAN;
	run->started_ms = BASE_MS;
	run->duration_ms = 9876;
	return run;
}

static void
free_run(struct run *run)
{
	for (size_t i = 0; i < run->n_units; i++) {
		struct unit *u = &run->units[i];
		free(u->key);
		free(u->name);
		free(u->item);
		free(u->host);
		free(u->message);
		free(u->rb_message);
		buf_release(&u->tail);
		buf_release(&u->rb_tail);
	}
	free(run->units);
	free(run->completed);
	free(run->id);
	free(run->failure);
	secrets_release(&run->secrets);
	free(run);
}

static void
setup(void)
{
	strcpy(dir + strlen(dir) - 6, "XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	junit_path = xasprintf("%s/report.xml", dir);
	json_path = xasprintf("%s/report.json", dir);
	null_path = xasprintf("%s/null", dir);
}

static void
teardown(void)
{
	unlink(junit_path);
	unlink(json_path);
	unlink(null_path);
	rmdir(dir);
	free(junit_path);
	free(json_path);
	free(null_path);
}

static struct buf
slurp(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "rb");

	ck_assert_msg(fp != NULL, "cannot open '%s'", path);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	fclose(fp);
	return b;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void
write_both(struct run *run)
{
	char *err = NULL;

	ck_assert_msg(report_write_junit(run, junit_path, &err) == 0, "%s", err);
	ck_assert_msg(report_write_json(run, json_path, &err) == 0, "%s", err);
}

static void
assert_xmllint(const char *path)
{
	char *cmd;

	if (system("command -v xmllint >/dev/null 2>&1") != 0) {
		fprintf(stderr, "test-report: xmllint not found, JUnit not validated (install libxml2-utils)\n");
		return;
	}
	cmd = xasprintf("xmllint --noout '%s'", path);
	ck_assert_msg(system(cmd) == 0, "xmllint rejects %s", path);
	free(cmd);
}

START_TEST(junit_report)
{
	struct run *run = make_run();
	struct buf x;
	const char *prev = NULL, *step_failure;
	char *want;

	write_both(run);
	assert_xmllint(junit_path);
	x = slurp(junit_path);

	/* Every unit once in its phase, plus the five units the unwind visited. */
	ck_assert_uint_eq(count(x.data, "<testcase "), run->n_units + ARRAY_LEN(unwind_keys));
	ck_assert_uint_eq(count(x.data, "classname=\"cutover.prepare\""), 4);
	ck_assert_uint_eq(count(x.data, "classname=\"cutover.switch\""), 3);
	ck_assert_uint_eq(count(x.data, "classname=\"cutover.finish\""), 1);
	ck_assert_uint_eq(count(x.data, "classname=\"cutover.rollback\""), ARRAY_LEN(unwind_keys));
	ck_assert_ptr_nonnull(strstr(x.data, "<testsuites name=\"cutover\" tests=\"13\" failures=\"2\" "
	    "errors=\"0\" skipped=\"3\" time=\"9.876\" timestamp=\"2026-11-22T02:15:00\">"));
	ck_assert_ptr_nonnull(strstr(x.data, "<testsuite name=\"prepare\" tests=\"4\" failures=\"0\" "
	    "errors=\"0\" skipped=\"0\" time=\"3.253\" timestamp=\"2026-11-22T02:15:00\""));
	ck_assert_ptr_nonnull(strstr(x.data, "<testsuite name=\"rollback\" tests=\"5\" failures=\"1\""));
	ck_assert_ptr_nonnull(strstr(x.data, "<property name=\"outcome\" value=\"failed, not rolled back\"/>"));
	ck_assert_ptr_nonnull(strstr(x.data, "<property name=\"sha256\" value=\"aaaa"));

	/* The failure, its message escaped and masked, its output cut to the last 20 lines. */
	ck_assert_ptr_nonnull(strstr(x.data, "name=\"migrate-db[orders]@db\" time=\"0.255\">\n      <failure "
	    "message=\"exit 2: &lt;b&gt;password *** rejected&lt;/b&gt;\" type=\"step failed\">"
	    "attempts: 1\nexit code: 2\n"));
	ck_assert_ptr_nonnull(strstr(x.data, "psql: &lt;script&gt;&amp;&quot;]]&gt;&apos;??[31m"));
	ck_assert_ptr_null(strstr(x.data, "]]>"));
	ck_assert_ptr_null(strstr(x.data, "early line 12\n"));
	ck_assert_ptr_nonnull(strstr(x.data, "early line 13\n"));
	ck_assert_ptr_nonnull(strstr(x.data, "nul\xef\xbf\xbd" "byte"));
	ck_assert_ptr_nonnull(strstr(x.data, "<failure message=\"undrain:&#9;connection refused&#13;&#10;after 3 tries\" "
	    "type=\"rollback failed\">rollback output (last 20 lines):\nundrain tried web1\n</failure>"));
	/* a unit's failure text holds its own output, its rollback's goes under the rollback */
	ck_assert_ptr_nonnull(strstr(x.data, "name=\"migrate-db[orders]@db\" time=\"0.040\">\n      "
	    "<system-out>mig1 rollback said so\n</system-out>"));
	step_failure = strstr(x.data, "type=\"step failed\"");
	ck_assert_ptr_nonnull(step_failure);
	ck_assert_ptr_null(memmem(step_failure, (size_t)(strstr(step_failure, "</failure>") - step_failure),
	    "rollback said", 13));

	/* Done units carry their output; not-run units say why. */
	ck_assert_ptr_nonnull(strstr(x.data, "<system-out>backup done\n</system-out>"));
	ck_assert_ptr_nonnull(strstr(x.data, "name=\"deploy\" time=\"0.000\">\n      "
	    "<skipped message=\"not reached\"/>"));
	ck_assert_ptr_nonnull(strstr(x.data, "name=\"cleanup\" time=\"0.000\">\n      "
	    "<skipped message=\"not selected\"/>"));
	ck_assert_ptr_nonnull(strstr(x.data, "name=\"notify\" time=\"0.000\">\n      "
	    "<skipped message=\"no rollback\"/>"));

	/* The rollback suite in unwind order; backup was never unwound. */
	for (size_t i = 0; i < ARRAY_LEN(unwind_keys); i++) {
		const char *at;
		want = xasprintf("classname=\"cutover.rollback\" name=\"%s\"", unwind_names[i]);
		at = strstr(x.data, want);
		ck_assert_msg(at != NULL, "missing %s", want);
		ck_assert_msg(prev == NULL || at > prev, "%s out of unwind order", unwind_names[i]);
		prev = at;
		free(want);
	}
	ck_assert_ptr_null(strstr(x.data, "classname=\"cutover.rollback\" name=\"backup\""));

	ck_assert_ptr_null(memmem(x.data, x.len, SECRET, strlen(SECRET)));
	ck_assert_int_ne(access(junit_path, F_OK), -1);
	want = xasprintf("%s.tmp", junit_path);
	ck_assert_int_eq(access(want, F_OK), -1);
	free(want);
	buf_release(&x);
	free_run(run);
}
END_TEST

static struct json_object *
get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "no \"%s\"", key);
	return v;
}

static const char *
get_str(struct json_object *o, const char *key)
{
	struct json_object *v = get(o, key);

	ck_assert_msg(json_object_is_type(v, json_type_string), "\"%s\" is not a string", key);
	return json_object_get_string(v);
}

START_TEST(json_report)
{
	struct run *run = make_run();
	struct json_object *doc, *phs, *unwind, *mig1 = NULL;
	struct json_tokener *tok;
	struct json_object *strict;
	struct buf j;
	size_t k = 0;
	const char *tail;

	write_both(run);
	j = slurp(json_path);
	ck_assert_ptr_null(memmem(j.data, j.len, SECRET, strlen(SECRET)));

	/* Well-formed UTF-8 throughout. */
	tok = json_tokener_new();
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	strict = json_tokener_parse_ex(tok, j.data, (int)j.len);
	ck_assert_msg(strict != NULL, "strict parse: %s",
	    json_tokener_error_desc(json_tokener_get_error(tok)));
	json_object_put(strict);
	json_tokener_free(tok);

	doc = json_object_from_file(json_path);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(get_str(doc, "run_id"), "20261122T021500Z-cutover-0a1b");
	ck_assert_str_eq(get_str(doc, "runbook"), "cutover");
	ck_assert_str_eq(get_str(doc, "file"), "runbooks/cutover.yaml");
	ck_assert_uint_eq(strlen(get_str(doc, "sha256")), 64);
	ck_assert_str_eq(get_str(doc, "outcome"), outcome_name(OUTCOME_NEEDS_HUMAN));
	ck_assert_int_eq(json_object_get_int(get(doc, "exit_code")), 3);
	ck_assert_str_eq(get_str(doc, "started"), "2026-11-22T02:15:00.000Z");
	ck_assert_int_eq(json_object_get_int64(get(doc, "duration_ms")), 9876);
	ck_assert_str_eq(get_str(doc, "failure"),
	    "step 'migrate-db[1]' failed: exit 2: <b>password *** rejected</b>");

	phs = get(doc, "phases");
	ck_assert_uint_eq(json_object_array_length(phs), 3);
	for (size_t p = 0; p < 3; p++) {
		struct json_object *ph = json_object_array_get_idx(phs, p);
		struct json_object *units = get(ph, "units");
		ck_assert_str_eq(get_str(ph, "name"), phases[p].name);
		for (size_t i = 0; i < json_object_array_length(units); i++, k++) {
			struct json_object *ju = json_object_array_get_idx(units, i);
			const struct unit *u = &run->units[k];
			ck_assert_str_eq(get_str(ju, "unit"), u->key);
			ck_assert_str_eq(get_str(ju, "step"), u->step->name);
			ck_assert_str_eq(get_str(ju, "host"), u->host);
			ck_assert_str_eq(get_str(ju, "state"), unit_state_name(u->state));
			ck_assert_str_eq(get_str(get(ju, "rollback"), "state"), rollback_state_name(u->rb_state));
			ck_assert_int_eq(json_object_get_boolean(get(ju, "selected")), u->selected);
			if (strcmp(u->key, "migrate-db[1]") == 0)
				mig1 = ju;
		}
	}
	ck_assert_uint_eq(k, run->n_units);

	ck_assert_ptr_nonnull(mig1);
	ck_assert_str_eq(get_str(mig1, "item"), "orders");
	ck_assert_int_eq(json_object_get_int(get(mig1, "exit_code")), 2);
	ck_assert_int_eq(json_object_get_int(get(mig1, "attempts")), 1);
	ck_assert_str_eq(get_str(mig1, "started"), "2026-11-22T02:15:05.000Z");
	ck_assert_str_eq(get_str(mig1, "message"), "exit 2: <b>password *** rejected</b>");
	ck_assert_str_eq(get_str(get(json_object_array_get_idx(get(json_object_array_get_idx(phs, 0),
	    "units"), 1), "rollback"), "message"), "undrain:\tconnection refused\r\nafter 3 tries");
	tail = get_str(mig1, "output_tail");
	ck_assert_ptr_nonnull(strstr(tail, "early line 1\n"));
	ck_assert_ptr_nonnull(strstr(tail, "psql: <script>&\"]]>'\x01\x1b[31m"
	    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd bad ***\n"));
	ck_assert_ptr_nonnull(strstr(tail, "nul\xef\xbf\xbd" "byte\n"));
	ck_assert_ptr_null(strstr(tail, "rollback said"));
	ck_assert_str_eq(get_str(get(mig1, "rollback"), "output_tail"), "mig1 rollback said so\n");
	ck_assert(json_object_is_type(get(get(json_object_array_get_idx(
	    get(json_object_array_get_idx(phs, 1), "units"), 1), "rollback"), "message"), json_type_null));

	unwind = get(doc, "unwind");
	ck_assert_uint_eq(json_object_array_length(unwind), ARRAY_LEN(unwind_keys));
	for (size_t i = 0; i < ARRAY_LEN(unwind_keys); i++)
		ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(unwind, i)), unwind_keys[i]);

	json_object_put(doc);
	buf_release(&j);
	free_run(run);
}
END_TEST

/* A clean run: exit 0, no failure, no rollback suite, items and exit codes of skipped units null. */
START_TEST(succeeded_run)
{
	struct run *run = make_run();
	struct json_object *doc, *cleanup;
	struct buf x;

	for (size_t i = 0; i < run->n_units; i++) {
		struct unit *u = &run->units[i];
		if (u->state != UNIT_SKIPPED)
			u->state = UNIT_DONE;
		u->rb_state = RB_NONE;
	}
	run->failed_unit = NULL;
	free(run->failure);
	run->failure = NULL;
	run->outcome = OUTCOME_SUCCEEDED;
	write_both(run);
	assert_xmllint(junit_path);

	x = slurp(junit_path);
	ck_assert_ptr_null(strstr(x.data, "name=\"rollback\""));
	ck_assert_ptr_null(strstr(x.data, "<failure"));
	ck_assert_ptr_null(strstr(x.data, "name=\"failure\""));
	ck_assert_uint_eq(count(x.data, "<testcase "), run->n_units);
	buf_release(&x);

	doc = json_object_from_file(json_path);
	ck_assert_ptr_nonnull(doc);
	ck_assert_str_eq(get_str(doc, "outcome"), "succeeded");
	ck_assert_int_eq(json_object_get_int(get(doc, "exit_code")), 0);
	ck_assert(json_object_is_type(get(doc, "failure"), json_type_null));
	ck_assert_uint_eq(json_object_array_length(get(doc, "unwind")), 0);
	cleanup = json_object_array_get_idx(get(json_object_array_get_idx(get(doc, "phases"), 2), "units"), 0);
	ck_assert(json_object_is_type(get(cleanup, "item"), json_type_null));
	ck_assert(json_object_is_type(get(cleanup, "exit_code"), json_type_null));
	ck_assert(json_object_is_type(get(cleanup, "started"), json_type_null));
	ck_assert_str_eq(get_str(cleanup, "output_tail"), "");
	json_object_put(doc);
	free_run(run);
}
END_TEST

/* An interrupted run: the unit left running is a JUnit error; exit 5. */
START_TEST(interrupted_run)
{
	struct run *run = make_run();
	struct json_object *doc;
	struct buf x;

	run->units[6].state = UNIT_RUNNING;
	run->outcome = OUTCOME_INTERRUPTED;
	write_both(run);
	assert_xmllint(junit_path);
	x = slurp(junit_path);
	ck_assert_ptr_nonnull(strstr(x.data, "name=\"deploy\" time=\"0.000\">\n      "
	    "<error message=\"interrupted while running\" type=\"interrupted\"/>"));
	ck_assert_ptr_nonnull(strstr(x.data, "errors=\"1\""));
	buf_release(&x);
	doc = json_object_from_file(json_path);
	ck_assert_int_eq(json_object_get_int(get(doc, "exit_code")), 5);
	json_object_put(doc);
	free_run(run);
}
END_TEST

/*
 * A report that cannot be written says so and leaves nothing behind; an old
 * report is replaced whole; a device (here a link to /dev/null) is written
 * in place, not replaced.
 */
START_TEST(write_errors)
{
	struct run *run = make_run();
	char *err = NULL, *bad = xasprintf("%s/missing/report.xml", dir), *tmp;
	struct stat st;
	FILE *fp;
	struct buf x;

	ck_assert_int_eq(report_write_junit(run, bad, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "missing/report.xml"));
	free(err);
	err = NULL;
	ck_assert_int_eq(report_write_json(run, bad, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot write JSON report"));
	free(err);
	free(bad);

	fp = fopen(json_path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("old and much longer content than fits in nothing at all\n", fp);
	fclose(fp);
	ck_assert_int_eq(report_write_json(run, json_path, &err), 0);
	x = slurp(json_path);
	ck_assert_int_eq(x.data[0], '{');
	ck_assert_ptr_null(strstr(x.data, "old and much longer"));
	buf_release(&x);

	ck_assert_int_eq(symlink("/dev/null", null_path), 0);
	ck_assert_msg(report_write_junit(run, null_path, &err) == 0, "%s", err);
	ck_assert_int_eq(lstat(null_path, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
	tmp = xasprintf("%s.tmp", null_path);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	free(tmp);
	free_run(run);
}
END_TEST

/* The entries of dir, sorted, joined by spaces. */
static char *
dir_listing(void)
{
	struct buf b = BUF_INIT;
	struct dirent **names;
	int n = scandir(dir, &names, NULL, alphasort);

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.')
			buf_addf(&b, "%s%s", b.len ? " " : "", names[i]->d_name);
		free(names[i]);
	}
	free(names);
	return buf_detach(&b);
}

/*
 * Under umask 000 a report is created 0600; a file planted at the old
 * predictable temporary name (PATH.tmp), here a hard link to a file of
 * someone else's, is neither followed nor overwritten; no temporary file is
 * left behind.
 */
START_TEST(report_mode_and_temp)
{
	struct run *run = make_run();
	char *err = NULL, *victim = xasprintf("%s/victim", dir);
	char *planted = xasprintf("%s.tmp", json_path), *list;
	struct stat st;
	struct buf x;
	mode_t old = umask(0);
	FILE *fp = fopen(victim, "w");

	ck_assert_ptr_nonnull(fp);
	fputs("precious\n", fp);
	fclose(fp);
	ck_assert_int_eq(link(victim, planted), 0);
	ck_assert_msg(report_write_json(run, json_path, &err) == 0, "%s", err);
	ck_assert_msg(report_write_junit(run, junit_path, &err) == 0, "%s", err);
	umask(old);
	ck_assert_int_eq(stat(json_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(stat(junit_path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	x = slurp(victim);
	ck_assert_str_eq(x.data, "precious\n");
	buf_release(&x);
	list = dir_listing();
	ck_assert_str_eq(list, "report.json report.json.tmp report.xml victim");
	free(list);
	unlink(planted);
	unlink(victim);
	free(planted);
	free(victim);
	free_run(run);
}
END_TEST

static Suite *
report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, junit_report);
	tcase_add_test(tc, json_report);
	tcase_add_test(tc, succeeded_run);
	tcase_add_test(tc, interrupted_run);
	tcase_add_test(tc, write_errors);
	tcase_add_test(tc, report_mode_and_temp);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(report_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
