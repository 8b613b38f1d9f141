/*
 * report.c - the JUnit XML and JSON reports of a run (formats in report.h).
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exitcode.h"
#include "fault.h"
#include "gate.h"
#include "output.h"
#include "statedir.h"
#include "util.h"

#define REPLACEMENT_CHAR "\xef\xbf\xbd" /* U+FFFD */
#define JUNIT_TIME_LEN 19                /* YYYY-MM-DDTHH:MM:SS */
#define ROLLBACK_SUITE "rollback"

/* ---- text every reader can hold ---- */

/*
 * Length of the well-formed UTF-8 sequence at p (n > 0 bytes left), with
 * its code point in *cp; 0 when the byte at p does not start one (stray
 * continuation, overlong form, surrogate, beyond U+10FFFF, cut short).
 */
static size_t
utf8_decode(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2, c = p[0] & 0x1fu, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3, c = p[0] & 0x0fu, min = 0x800;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4, c = p[0] & 0x07u, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3fu);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * s (len bytes) masked and made fit for a report, as a malloc'ed string:
 * well-formed UTF-8 with every bad byte and NUL as U+FFFD; with xml also
 * without what XML 1.0 forbids (other control characters become '?',
 * U+FFFE and U+FFFF become U+FFFD). Masked again at the end in case a
 * replacement completed a secret.
 */
static char *
clean_text(const struct run *run, const char *s, size_t len, bool xml)
{
	struct buf in = BUF_INIT, out = BUF_INIT;
	size_t i = 0;

	buf_add(&in, s ? s : "", s ? len : 0);
	secrets_mask(&run->secrets, &in);
	while (i < in.len) {
		const unsigned char *p = (const unsigned char *)in.data + i;
		uint32_t cp = 0;
		size_t n = utf8_decode(p, in.len - i, &cp);

		if (n == 0 || cp == 0 || (xml && (cp == 0xfffe || cp == 0xffff)))
			buf_adds(&out, REPLACEMENT_CHAR);
		else if (xml && cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r')
			buf_addc(&out, '?');
		else
			buf_add(&out, p, n);
		i += n ? n : 1;
	}
	buf_release(&in);
	secrets_mask(&run->secrets, &out);
	return buf_detach(&out);
}

/* The last OUTPUT_FAIL_LINES lines of a unit's or its rollback's output, cleaned (malloc'ed, maybe ""). */
static char *
tail_lines(const struct run *run, const struct buf *tail)
{
	char *all = clean_text(run, tail->data, tail->len, false);
	struct buf last = BUF_INIT;

	output_tail_lines(all, strlen(all), OUTPUT_FAIL_LINES, "", &last);
	free(all);
	return buf_detach(&last);
}

/* ---- the unwind ---- */

static bool
unwound(const struct unit *u)
{
	return u->rb_state != RB_NONE && u->rb_state != RB_NOT_NEEDED;
}

/*
 * The units the unwind visited, in its order: the failed unit first when
 * its rollback ran (when: always), then the completed units newest first.
 * Returns a malloc'ed array (NULL when empty) and its length in *n.
 */
static const struct unit **
unwind_order(const struct run *run, size_t *n)
{
	const struct unit **v = NULL;
	const struct unit *f = run->failed_unit;
	size_t cap = 0;

	*n = 0;
	if (f && unwound(f))
		PUSH(v, *n, cap, f);
	for (size_t i = run->n_completed; i-- > 0;) {
		const struct unit *u = run->completed[i];
		if (u != f && unwound(u))
			PUSH(v, *n, cap, u);
	}
	return v;
}

/* ---- writing a file whole ---- */

/*
 * Write data to path through a new temporary file beside it (PATH.XXXXXX,
 * created exclusively with mode 0600 whatever the umask) and rename(2), so
 * a reader sees the old file or the new one, and nothing planted at a
 * predictable name is followed or overwritten. A path that exists and is
 * not a regular file (a FIFO, /dev/stdout) is written directly.
 */
static int
write_whole(const char *path, const char *data, size_t len, char **err)
{
	struct stat st;
	bool direct = stat(path, &st) == 0 && !S_ISREG(st.st_mode);
	char *tmp = direct ? xstrdup(path) : xasprintf("%s.XXXXXX", path);
	int fd = direct ? open(tmp, O_WRONLY | O_CLOEXEC) : mkostemp(tmp, O_CLOEXEC);
	bool created = fd >= 0 && !direct;
	size_t off = 0;
	int rc = -1;

	if (fd < 0) {
		*err = direct ? xasprintf("cannot open '%s': %s", path, strerror(errno))
		    : xasprintf("cannot create a temporary file beside '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	if (created && fchmod(fd, 0600) < 0) {
		*err = xasprintf("cannot set the mode of '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	while (off < len) {
		ssize_t k = write(fd, data + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			*err = xasprintf("cannot write '%s': %s", tmp, strerror(errno));
			goto cleanup;
		}
		off += (size_t)k;
	}
	if (!direct && fsync(fd) < 0) {
		*err = xasprintf("cannot write '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	if (close(fd) < 0) {
		fd = -1;
		*err = xasprintf("cannot write '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (!direct && fault_rename(tmp, path) < 0) {
		*err = xasprintf("cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && created)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* ---- JUnit ---- */

struct counts {
	size_t tests, failures, errors, skipped;
};

/*
 * Append s (len bytes) cleaned and escaped as XML character data or, with
 * attr, as an attribute value (where tab and newline must be references to
 * survive attribute normalisation; "\r" must be one everywhere).
 */
static void
xml_add(struct buf *out, const struct run *run, const char *s, size_t len, bool attr)
{
	static const char special[] = "&<>\"'\r\n\t";
	static const char *const entity[] = {
		"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#13;", "&#10;", "&#9;",
	};
	char *c = clean_text(run, s, len, true);

	for (const char *p = c; *p; p++) {
		const char *hit = strchr(special, *p);
		if (hit && (attr || (*p != '\n' && *p != '\t')))
			buf_adds(out, entity[hit - special]);
		else
			buf_addc(out, *p);
	}
	free(c);
}

static void
xml_text(struct buf *out, const struct run *run, const char *s)
{
	xml_add(out, run, s, s ? strlen(s) : 0, false);
}

/* Append ` name="value"`. */
static void
xml_attr(struct buf *out, const struct run *run, const char *name, const char *value)
{
	buf_addf(out, " %s=\"", name);
	xml_add(out, run, value, value ? strlen(value) : 0, true);
	buf_addc(out, '"');
}

/* Append ` name="S.mmm"`. */
static void
xml_seconds(struct buf *out, const char *name, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	buf_addf(out, " %s=\"%" PRId64 ".%03d\"", name, ms / 1000, (int)(ms % 1000));
}

static void
xml_counts(struct buf *out, const struct counts *c)
{
	buf_addf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\"",
	    c->tests, c->failures, c->errors, c->skipped);
}

static void
xml_property(struct buf *out, const struct run *run, const char *name, const char *value)
{
	buf_adds(out, "      <property");
	xml_attr(out, run, "name", name);
	xml_attr(out, run, "value", value);
	buf_adds(out, "/>\n");
}

/* One gate of the runbook: a phase's gate, or a gate step. */
struct gate_ref {
	const char *name;
	const struct phase *phase;
	const struct gate_cfg *cfg;
};

/* The gates of phase ph (NULL: of every phase), in runbook order; the caller frees the array. */
static struct gate_ref *
gates_of(const struct run *run, const struct phase *ph, size_t *n)
{
	struct gate_ref *v = NULL;
	size_t cap = 0;

	*n = 0;
	for (size_t p = 0; p < run->rb->n_phases; p++) {
		const struct phase *q = &run->rb->phases[p];
		if (ph && q != ph)
			continue;
		if (q->gate.s) {
			struct gate_ref g = { q->name, q, q->gate_cfg };
			PUSH(v, *n, cap, g);
		}
		for (size_t i = 0; i < q->n_steps; i++)
			if (q->steps[i].action.kind == ACT_GATE) {
				struct gate_ref g = { q->steps[i].name, q, q->steps[i].action.gate_cfg };
				PUSH(v, *n, cap, g);
			}
	}
	return v;
}

/* Is approval i the first of its name for its gate? (a name counts once) */
static bool
approval_first(const struct run *run, size_t i)
{
	const struct gate_approval *a = &run->approvals[i];

	for (size_t k = 0; k < i; k++)
		if (strcmp(run->approvals[k].gate, a->gate) == 0 && strcmp(run->approvals[k].name, a->name) == 0)
			return false;
	return true;
}

/* "approved by alice (alice@ops1, migrate approve), bob (...)", or the state and why. */
static void
gate_summary(const struct run *run, const struct gate_ref *g, struct buf *out)
{
	const struct gate_outcome *o = gate_outcome(run, g->name);
	size_t n = 0;

	buf_adds(out, o ? o->state : "not reached");
	if (o && o->why && strcmp(o->state, "approved") != 0)
		buf_addf(out, ": %s", o->why);
	for (size_t i = 0; i < run->n_approvals; i++) {
		const struct gate_approval *a = &run->approvals[i];
		if (strcmp(a->gate, g->name) != 0 || !approval_first(run, i))
			continue;
		buf_addf(out, "%s%s (%s@%s%s%s)", n++ ? ", " : "; approved by ", a->name, a->user, a->host,
		    *a->via ? ", " : "", a->via);
	}
}

static void
junit_properties(struct buf *out, const struct run *run, const struct phase *ph)
{
	struct gate_ref *gates;
	size_t n_gates;
	char code[16];

	snprintf(code, sizeof(code), "%d", outcome_exit_code(run->outcome));
	buf_adds(out, "    <properties>\n");
	xml_property(out, run, "run_id", run->id);
	xml_property(out, run, "runbook", run->rb->name);
	xml_property(out, run, "file", run->rb->file);
	xml_property(out, run, "sha256", run->rb->sha256);
	xml_property(out, run, "outcome", outcome_name(run->outcome));
	xml_property(out, run, "exit_code", code);
	if (run->failure)
		xml_property(out, run, "failure", run->failure);
	/* the commit point reached, if any (SPEC §7) */
	if (run->commit_phase)
		xml_property(out, run, "commit_point", run->commit_phase->name);
	/* the phase's gates: how each ended and who approved it (SPEC §7) */
	gates = ph ? gates_of(run, ph, &n_gates) : NULL;
	n_gates = ph ? n_gates : 0;
	for (size_t i = 0; i < n_gates; i++) {
		struct buf v = BUF_INIT;
		char *key = xasprintf("gate.%s", gates[i].name);
		gate_summary(run, &gates[i], &v);
		xml_property(out, run, key, buf_str(&v));
		free(key);
		buf_release(&v);
	}
	free(gates);
	buf_adds(out, "    </properties>\n");
}

/* Open a <testcase> of classname RUNBOOK.SUITE for unit u, without closing its tag. */
static void
junit_case_open(struct buf *out, const struct run *run, const char *suite,
    const struct unit *u, int64_t ms)
{
	char *classname = xasprintf("%s.%s", run->rb->name, suite);

	buf_adds(out, "    <testcase");
	xml_attr(out, run, "classname", classname);
	xml_attr(out, run, "name", u->name);
	xml_seconds(out, "time", ms);
	free(classname);
}

/* Close a testcase that passed: with its output, if any, as <system-out>. */
static void
junit_case_close(struct buf *out, const struct run *run, const char *tail)
{
	if (*tail == '\0') {
		buf_adds(out, "/>\n");
		return;
	}
	buf_adds(out, ">\n      <system-out>");
	xml_text(out, run, tail);
	buf_adds(out, "</system-out>\n    </testcase>\n");
}

static void
junit_unit(struct buf *out, const struct run *run, const struct unit *u, struct counts *c)
{
	char *tail = tail_lines(run, &u->tail);

	c->tests++;
	junit_case_open(out, run, u->step->phase->name, u, u->duration_ms);
	switch (u->state) {
	case UNIT_DONE:
		junit_case_close(out, run, tail);
		break;
	case UNIT_FAILED:
		c->failures++;
		buf_adds(out, ">\n      <failure");
		xml_attr(out, run, "message", u->message ? u->message : "failed");
		buf_adds(out, " type=\"step failed\">");
		buf_addf(out, "attempts: %d\n", u->attempts);
		if (u->exit_code >= 0)
			buf_addf(out, "exit code: %d\n", u->exit_code);
		else
			buf_adds(out, "exit code: none\n");
		if (*tail) {
			buf_addf(out, "output (last %d lines):\n", OUTPUT_FAIL_LINES);
			xml_text(out, run, tail);
		}
		buf_adds(out, "</failure>\n    </testcase>\n");
		break;
	case UNIT_RUNNING:
	case UNIT_INTERRUPTED:
		c->errors++;
		buf_adds(out, ">\n      <error");
		xml_attr(out, run, "message", run->outcome == OUTCOME_INTERRUPTED
		    ? "interrupted while running" : "did not finish");
		buf_adds(out, " type=\"interrupted\"/>\n    </testcase>\n");
		break;
	case UNIT_PENDING:
	case UNIT_SKIPPED:
		c->skipped++;
		buf_addf(out, ">\n      <skipped message=\"%s\"/>\n    </testcase>\n",
		    u->selected ? "not reached" : "not selected");
		break;
	}
	free(tail);
}

/* A rollback testcase: its own output, apart from the unit's (issue 12 item 9). */
static void
junit_rollback(struct buf *out, const struct run *run, const struct unit *u, struct counts *c)
{
	char *tail = tail_lines(run, &u->rb_tail);

	c->tests++;
	junit_case_open(out, run, ROLLBACK_SUITE, u, u->rb_duration_ms);
	switch (u->rb_state) {
	case RB_DONE:
		junit_case_close(out, run, tail);
		break;
	case RB_FAILED:
		c->failures++;
		buf_adds(out, ">\n      <failure");
		xml_attr(out, run, "message", u->rb_message ? u->rb_message : "rollback failed");
		buf_adds(out, " type=\"rollback failed\"");
		if (*tail) {
			buf_addf(out, ">rollback output (last %d lines):\n", OUTPUT_FAIL_LINES);
			xml_text(out, run, tail);
			buf_adds(out, "</failure>\n    </testcase>\n");
		} else {
			buf_adds(out, "/>\n    </testcase>\n");
		}
		break;
	default:
		c->skipped++;
		buf_adds(out, ">\n      <skipped message=\"no rollback\"/>\n    </testcase>\n");
		break;
	}
	free(tail);
}

/* Append one <testsuite> holding the testcases already written to cases. */
static void
junit_suite(struct buf *out, const struct run *run, const struct phase *ph, const char *name,
    const struct counts *c, int64_t started_ms, int64_t ms, const char *host, const struct buf *cases)
{
	char ts[STATEDIR_TIME_SIZE];

	buf_adds(out, "  <testsuite");
	xml_attr(out, run, "name", name);
	xml_counts(out, c);
	xml_seconds(out, "time", ms);
	if (started_ms > 0 && statedir_format_time(started_ms, ts) == 0) {
		ts[JUNIT_TIME_LEN] = '\0';
		xml_attr(out, run, "timestamp", ts);
	}
	xml_attr(out, run, "hostname", host);
	buf_adds(out, ">\n");
	junit_properties(out, run, ph);
	buf_add(out, cases->data ? cases->data : "", cases->len);
	buf_adds(out, "  </testsuite>\n");
}

static void
counts_add(struct counts *total, const struct counts *c)
{
	total->tests += c->tests;
	total->failures += c->failures;
	total->errors += c->errors;
	total->skipped += c->skipped;
}

/* When the run's first session started (wall clock). */
static int64_t
run_first_start(const struct run *run)
{
	return run->first_started_ms > 0 ? run->first_started_ms : run->started_ms;
}

/* The run's working time over all its sessions (this one's length before it ended). */
static int64_t
run_whole_ms(const struct run *run)
{
	return run->work_ms > 0 ? run->work_ms : run->duration_ms;
}

/* The whole JUnit document. */
static void
junit_document(const struct run *run, struct buf *out)
{
	struct buf suites = BUF_INIT, cases = BUF_INIT;
	struct counts total = { 0 };
	const struct unit **order;
	size_t n_order;
	int64_t last_end = 0;
	char host[256], ts[STATEDIR_TIME_SIZE];

	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';

	for (size_t p = 0; p < run->rb->n_phases; p++) {
		const struct phase *ph = &run->rb->phases[p];
		struct counts c = { 0 };
		int64_t first = 0, end = 0;

		buf_reset(&cases);
		for (size_t i = 0; i < run->n_units; i++) {
			const struct unit *u = &run->units[i];
			if (u->step->phase != ph)
				continue;
			junit_unit(&cases, run, u, &c);
			if (u->started_ms <= 0)
				continue;
			if (first == 0 || u->started_ms < first)
				first = u->started_ms;
			if (u->started_ms + u->duration_ms > end)
				end = u->started_ms + u->duration_ms;
		}
		junit_suite(&suites, run, ph, ph->name, &c, first, first ? end - first : 0, host, &cases);
		counts_add(&total, &c);
		if (end > last_end)
			last_end = end;
	}

	order = unwind_order(run, &n_order);
	if (n_order > 0) {
		struct counts c = { 0 };
		int64_t ms = 0;

		buf_reset(&cases);
		for (size_t i = 0; i < n_order; i++) {
			junit_rollback(&cases, run, order[i], &c);
			ms += order[i]->rb_duration_ms;
		}
		/* Units keep no rollback start; the unwind began after the last unit ended. */
		junit_suite(&suites, run, NULL, ROLLBACK_SUITE, &c, last_end, ms, host, &cases);
		counts_add(&total, &c);
	}
	free(order);

	buf_adds(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	xml_attr(out, run, "name", run->rb->name);
	xml_counts(out, &total);
	xml_seconds(out, "time", run_whole_ms(run));
	if (statedir_format_time(run_first_start(run), ts) == 0) {
		ts[JUNIT_TIME_LEN] = '\0';
		xml_attr(out, run, "timestamp", ts);
	}
	buf_adds(out, ">\n");
	buf_add(out, suites.data ? suites.data : "", suites.len);
	buf_adds(out, "</testsuites>\n");
	buf_release(&suites);
	buf_release(&cases);
}

int
report_write_junit(const struct run *run, const char *path, char **err)
{
	struct buf doc = BUF_INIT;
	char *why = NULL;
	int rc;

	junit_document(run, &doc);
	rc = write_whole(path, buf_str(&doc), doc.len, &why);
	if (rc < 0) {
		*err = xasprintf("cannot write JUnit report: %s", why);
		free(why);
	}
	buf_release(&doc);
	return rc;
}

/* ---- JSON ---- */

/* A cleaned JSON string, or JSON null for NULL. */
static struct json_object *
json_text(const struct run *run, const char *s, size_t len)
{
	struct json_object *o;
	char *c;

	if (s == NULL)
		return NULL;
	c = clean_text(run, s, len, false);
	o = json_object_new_string(c);
	free(c);
	return o;
}

static struct json_object *
json_str(const struct run *run, const char *s)
{
	return json_text(run, s, s ? strlen(s) : 0);
}

/* RFC 3339 UTC with milliseconds, or null when ms is not a time. */
static struct json_object *
json_time(int64_t ms)
{
	char ts[STATEDIR_TIME_SIZE];

	if (ms <= 0 || statedir_format_time(ms, ts) < 0)
		return NULL;
	return json_object_new_string(ts);
}

static struct json_object *
json_unit(const struct run *run, const struct unit *u)
{
	struct json_object *o = json_object_new_object();
	struct json_object *rb = json_object_new_object();

	json_object_object_add(o, "unit", json_str(run, u->key));
	json_object_object_add(o, "name", json_str(run, u->name));
	json_object_object_add(o, "step", json_str(run, u->step->name));
	json_object_object_add(o, "item", json_str(run, u->item));
	json_object_object_add(o, "host", json_str(run, u->host));
	json_object_object_add(o, "state", json_object_new_string(unit_state_name(u->state)));
	json_object_object_add(o, "selected", json_object_new_boolean(u->selected));
	json_object_object_add(o, "attempts", json_object_new_int(u->attempts));
	json_object_object_add(o, "exit_code",
	    u->exit_code >= 0 ? json_object_new_int(u->exit_code) : NULL);
	json_object_object_add(o, "started", json_time(u->started_ms));
	json_object_object_add(o, "duration_ms", json_object_new_int64(u->duration_ms));
	json_object_object_add(o, "message", json_str(run, u->message));
	json_object_object_add(o, "output_tail", json_text(run, u->tail.data ? u->tail.data : "", u->tail.len));
	json_object_object_add(rb, "state", json_object_new_string(rollback_state_name(u->rb_state)));
	json_object_object_add(rb, "message", json_str(run, u->rb_message));
	json_object_object_add(rb, "duration_ms", json_object_new_int64(u->rb_duration_ms));
	json_object_object_add(rb, "output_tail", json_text(run, u->rb_tail.data ? u->rb_tail.data : "", u->rb_tail.len));
	json_object_object_add(o, "rollback", rb);
	if (u->result) {
		struct json_object *res = json_object_new_object();
		probe_sample_json(u->result, res);
		json_object_object_add(o, "result", res);
	}
	return o;
}

/* Every probe result of the run, in order: each watch sample too, so the curve can be read afterwards. */
static struct json_object *
json_samples(const struct run *run)
{
	struct json_object *all = json_object_new_array();

	for (size_t i = 0; i < run->n_samples; i++) {
		const struct probe_sample *ps = run->samples[i];
		struct json_object *o = json_object_new_object();
		const struct unit *u;
		json_object_object_add(o, "probe", json_str(run, ps->probe));
		json_object_object_add(o, "context", json_str(run, ps->context));
		json_object_object_add(o, "unit", json_str(run, ps->unit));
		u = NULL;
		for (size_t k = 0; ps->unit && u == NULL && k < run->n_units; k++)
			u = strcmp(run->units[k].key, ps->unit) == 0 ? &run->units[k] : NULL;
		json_object_object_add(o, "unit_name", u ? json_str(run, u->name) : NULL);
		json_object_object_add(o, "at", json_time(ps->at_ms));
		json_object_object_add(o, "at_ms", json_object_new_int64(ps->at_ms));
		probe_sample_json(ps, o);
		json_object_object_add(o, "message", json_str(run, ps->message));
		json_object_array_add(all, o);
	}
	return all;
}

/* Every gate of the runbook: how it ended and who approved it, people not mechanisms (SPEC §7). */
static struct json_object *
json_gates(const struct run *run)
{
	struct json_object *all = json_object_new_array();
	size_t n;
	struct gate_ref *gates = gates_of(run, NULL, &n);

	for (size_t g = 0; g < n; g++) {
		const struct gate_outcome *o = gate_outcome(run, gates[g].name);
		struct json_object *j = json_object_new_object(), *by = json_object_new_array();
		bool approved = o && strcmp(o->state, "approved") == 0;

		json_object_object_add(j, "name", json_str(run, gates[g].name));
		json_object_object_add(j, "phase", json_str(run, gates[g].phase->name));
		json_object_object_add(j, "state", json_object_new_string(o ? o->state : "not reached"));
		json_object_object_add(j, "reason", approved || o == NULL ? NULL : json_str(run, o->why));
		json_object_object_add(j, "approvals_needed",
		    json_object_new_int(gates[g].cfg ? gates[g].cfg->approvals : 1));
		for (size_t i = 0; i < run->n_approvals; i++) {
			const struct gate_approval *a = &run->approvals[i];
			struct json_object *ja;
			if (strcmp(a->gate, gates[g].name) != 0 || !approval_first(run, i))
				continue;
			ja = json_object_new_object();
			json_object_object_add(ja, "name", json_str(run, a->name));
			json_object_object_add(ja, "user", json_str(run, a->user));
			json_object_object_add(ja, "host", json_str(run, a->host));
			json_object_object_add(ja, "via", json_str(run, a->via));
			json_object_object_add(ja, "at", json_time(a->at_ms));
			json_object_array_add(by, ja);
		}
		json_object_object_add(j, "approved_by", by);
		json_object_array_add(all, j);
	}
	free(gates);
	return all;
}

struct json_object *
report_json(const struct run *run)
{
	struct json_object *doc = json_object_new_object();
	struct json_object *phases = json_object_new_array();
	struct json_object *unwind = json_object_new_array();
	struct json_object *unwind_names = json_object_new_array();
	struct json_object *counts = json_object_new_object();
	struct run_counts c;
	int code = outcome_exit_code(run->outcome);
	const struct unit **order;
	size_t n_order;

	json_object_object_add(doc, "run_id", json_str(run, run->id));
	json_object_object_add(doc, "runbook", json_str(run, run->rb->name));
	json_object_object_add(doc, "file", json_str(run, run->rb->file));
	json_object_object_add(doc, "sha256", json_str(run, run->rb->sha256));
	json_object_object_add(doc, "outcome", json_object_new_string(outcome_name(run->outcome)));
	json_object_object_add(doc, "exit_code", code >= 0 ? json_object_new_int(code) : NULL);
	/* the whole run, every session of it (issue 12 item 11) */
	json_object_object_add(doc, "started", json_time(run_first_start(run)));
	json_object_object_add(doc, "duration_ms", json_object_new_int64(run_whole_ms(run)));
	json_object_object_add(doc, "sessions", json_object_new_int(run->sessions > 0 ? run->sessions : 1));
	json_object_object_add(doc, "session_started", json_time(run->started_ms));
	json_object_object_add(doc, "session_duration_ms", json_object_new_int64(run->duration_ms));
	run_count_units(run, &c);
	json_object_object_add(counts, "done", json_object_new_int64((int64_t)c.done));
	json_object_object_add(counts, "failed", json_object_new_int64((int64_t)c.failed));
	json_object_object_add(counts, "skipped", json_object_new_int64((int64_t)c.skipped));
	json_object_object_add(counts, "interrupted", json_object_new_int64((int64_t)c.interrupted));
	json_object_object_add(counts, "not_run", json_object_new_int64((int64_t)c.pending));
	json_object_object_add(doc, "counts", counts);
	json_object_object_add(doc, "failure", json_str(run, run->failure));
	json_object_object_add(doc, "commit_point",
	    run->commit_phase ? json_str(run, run->commit_phase->name) : NULL);

	for (size_t p = 0; p < run->rb->n_phases; p++) {
		const struct phase *ph = &run->rb->phases[p];
		struct json_object *jp = json_object_new_object();
		struct json_object *units = json_object_new_array();

		for (size_t i = 0; i < run->n_units; i++)
			if (run->units[i].step->phase == ph)
				json_object_array_add(units, json_unit(run, &run->units[i]));
		json_object_object_add(jp, "name", json_str(run, ph->name));
		if (ph->commit)
			json_object_object_add(jp, "commit_point", json_object_new_boolean(run->commit_phase == ph));
		json_object_object_add(jp, "units", units);
		json_object_array_add(phases, jp);
	}
	json_object_object_add(doc, "phases", phases);

	order = unwind_order(run, &n_order);
	for (size_t i = 0; i < n_order; i++) {
		json_object_array_add(unwind, json_str(run, order[i]->key));
		json_object_array_add(unwind_names, json_str(run, order[i]->name));
	}
	free(order);
	json_object_object_add(doc, "unwind", unwind);
	json_object_object_add(doc, "unwind_names", unwind_names);
	json_object_object_add(doc, "gates", json_gates(run));
	json_object_object_add(doc, "probes", json_samples(run));
	return doc;
}

int
report_write_json(const struct run *run, const char *path, char **err)
{
	struct json_object *doc = report_json(run);
	struct buf text = BUF_INIT;
	char *why = NULL;
	int rc;

	buf_adds(&text, json_object_to_json_string_ext(doc,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_addc(&text, '\n');
	rc = write_whole(path, text.data, text.len, &why);
	if (rc < 0) {
		*err = xasprintf("cannot write JSON report: %s", why);
		free(why);
	}
	buf_release(&text);
	json_object_put(doc);
	return rc;
}
