#include "expect.h"

#include <json-c/json.h>
#include <json-c/json_pointer.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "regex.h"
#include "util.h"

static bool
exit_ok(const struct expect *e, int code)
{
	if (e->n_exit == 0)
		return code == 0;
	for (size_t i = 0; i < e->n_exit; i++)
		if (e->exit_codes[i] == code)
			return true;
	return false;
}

static void
describe_exits(const struct expect *e, struct buf *out)
{
	if (e->n_exit == 0) {
		buf_adds(out, "0");
		return;
	}
	for (size_t i = 0; i < e->n_exit; i++)
		buf_addf(out, "%s%d", i ? " or " : "", e->exit_codes[i]);
}

/* Check a must-match / must-not-match pattern on a stream. */
static bool
pattern_ok(const struct regex *re, bool must, const char *what, const struct buf *b, struct buf *why)
{
	int m;

	if (re == NULL)
		return true;
	m = regex_match(re, buf_str(b), b->len);
	if (m < 0) {
		buf_addf(why, "matching %s against '%s' failed (pattern too complex for the match limit)", what, regex_pattern(re));
		return false;
	}
	if (must && m == 0) {
		buf_addf(why, "%s does not match '%s'", what, regex_pattern(re));
		return false;
	}
	if (!must && m == 1) {
		buf_addf(why, "%s matches '%s', which it must not", what, regex_pattern(re));
		return false;
	}
	return true;
}

/* Record a found value in obs: its text and number. */
static void
observe_value(struct observed *obs, const char *text, double v)
{
	free(obs->value_text);
	obs->value_text = xstrdup(text);
	obs->value = v;
	obs->has_value = true;
}

/* Does v hold every bound of e? If not, say which one does not. */
static bool
bounds_ok(const struct expect *ex, const char *text, double v, struct buf *why)
{
	const struct bounds *e = ex->bounds;

	if (e == NULL)
		return true;
	if (e->below.set && !(v < e->below.v))
		buf_addf(why, "value %s is not below %g", text, e->below.v);
	else if (e->above.set && !(v > e->above.v))
		buf_addf(why, "value %s is not above %g", text, e->above.v);
	else if (e->at_most.set && !(v <= e->at_most.v))
		buf_addf(why, "value %s is more than %g", text, e->at_most.v);
	else if (e->at_least.set && !(v >= e->at_least.v))
		buf_addf(why, "value %s is less than %g", text, e->at_least.v);
	else if (e->equals.set && !(v == e->equals.v))
		buf_addf(why, "value %s does not equal %g", text, e->equals.v);
	else
		return true;
	return false;
}

/* A number written as text ("0.0012", " 42 "); false if it is not one. NaN parses (it means no data). */
static bool
parse_number(const char *s, double *v)
{
	char *end;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s == '\0')
		return false;
	*v = strtod(s, &end);
	if (end == s)
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	return *end == '\0';
}

enum found { FOUND, FOUND_NO_DATA, FOUND_BAD };

/* A JSON node as a number: numbers, and strings holding one; null means no data. */
static enum found
json_number(struct json_object *o, const char *where, struct observed *obs, struct buf *why)
{
	char text[64];
	double v;

	if (o == NULL)
		return FOUND_NO_DATA;
	switch (json_object_get_type(o)) {
	case json_type_int:
	case json_type_double:
		v = json_object_get_double(o);
		snprintf(text, sizeof(text), "%.15g", v);
		break;
	case json_type_string:
		if (!parse_number(json_object_get_string(o), &v)) {
			buf_addf(why, "value '%s' at %s is not a number", json_object_get_string(o), where);
			return FOUND_BAD;
		}
		{
			const char *t = json_object_get_string(o);
			size_t n;
			t += strspn(t, " \t\r\n");
			n = strlen(t);
			while (n > 0 && strchr(" \t\r\n", t[n - 1]))
				n--;
			snprintf(text, sizeof(text), "%.*s", (int)n, t);
		}
		break;
	default:
		buf_addf(why, "value at %s is not a number (%s)", where, json_type_to_name(json_object_get_type(o)));
		return FOUND_BAD;
	}
	if (isnan(v))
		return FOUND_NO_DATA;
	observe_value(obs, text, v);
	return FOUND;
}

static struct json_object *
parse_json(const struct buf *subject, const char *what, struct buf *why)
{
	struct json_tokener *tok = json_tokener_new();
	int len = subject->len < INT32_MAX ? (int)subject->len : INT32_MAX;
	struct json_object *doc = json_tokener_parse_ex(tok, buf_str(subject), len);

	if (doc == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		buf_addf(why, "%s is not JSON", what);
		json_object_put(doc);
		doc = NULL;
	}
	json_tokener_free(tok);
	return doc;
}

/* The value of a json: pointer in subject. */
static enum found
value_by_pointer(const char *pointer, const struct buf *subject, const char *what,
    struct observed *obs, struct buf *why)
{
	struct json_object *doc = parse_json(subject, what, why), *node = NULL;
	enum found f;

	if (doc == NULL)
		return FOUND_BAD;
	if (json_pointer_get(doc, pointer, &node) != 0)
		node = NULL;
	f = json_number(node, pointer, obs, why);
	json_object_put(doc);
	return f;
}

/* The value of an instant query's answer: the first sample; an error payload fails. */
static enum found
value_of_prometheus(const struct buf *body, struct observed *obs, struct buf *why)
{
	struct json_object *doc = parse_json(body, "the Prometheus answer", why), *st, *res = NULL, *type = NULL;
	enum found f = FOUND_BAD;

	if (doc == NULL)
		return FOUND_BAD;
	if (!json_object_object_get_ex(doc, "status", &st) || strcmp(json_object_get_string(st), "success") != 0) {
		struct json_object *et = NULL, *e = NULL;
		json_object_object_get_ex(doc, "errorType", &et);
		json_object_object_get_ex(doc, "error", &e);
		buf_addf(why, "Prometheus error: %s%s%s", et ? json_object_get_string(et) : "",
		    et && e ? ": " : "", e ? json_object_get_string(e) : (et ? "" : "no status in the answer"));
		goto cleanup;
	}
	json_pointer_get(doc, "/data/resultType", &type);
	if (json_pointer_get(doc, "/data/result", &res) != 0) {
		buf_adds(why, "the Prometheus answer has no data.result");
		goto cleanup;
	}
	if (type && (strcmp(json_object_get_string(type), "scalar") == 0 ||
	    strcmp(json_object_get_string(type), "string") == 0)) {
		f = json_number(json_object_array_get_idx(res, 1), "data.result", obs, why);
	} else if (json_object_get_type(res) != json_type_array || json_object_array_length(res) == 0) {
		f = FOUND_NO_DATA;
	} else {
		struct json_object *v = NULL;
		if (json_pointer_get(doc, "/data/result/0/value/1", &v) != 0)
			v = NULL;
		f = json_number(v, "data.result[0].value", obs, why);
	}
cleanup:
	json_object_put(doc);
	return f;
}

/*
 * expect.value: find the number (regex, json pointer, or a prometheus
 * answer's first sample) and hold it against the bounds.
 */
static enum verdict
value_eval(const struct expect *e, enum action_kind kind, const struct buf *subject,
    struct observed *obs, struct buf *why)
{
	const char *what = kind == ACT_RUN ? "stdout" : "the body";
	enum found f;

	if (e->value_re) {
		char *cap = NULL;
		double v;
		int m = regex_capture(e->value_re, buf_str(subject), subject->len, 1, &cap);
		if (m != 1) {
			f = FOUND_NO_DATA;
		} else if (!parse_number(cap, &v)) {
			buf_addf(why, "value '%s' is not a number", cap);
			f = FOUND_BAD;
		} else if (isnan(v)) {
			f = FOUND_NO_DATA;
		} else {
			observe_value(obs, cap, v);
			f = FOUND;
		}
		free(cap);
	} else if (e->value_json) {
		f = value_by_pointer(e->value_json, subject, what, obs, why);
	} else if (kind == ACT_PROMETHEUS) {
		f = value_of_prometheus(subject, obs, why);
	} else {
		return VERDICT_PASS;
	}
	if (f == FOUND_BAD)
		return VERDICT_FAIL;
	if (f == FOUND_NO_DATA) {
		obs->no_data = true;
		if (e->no_data == NO_DATA_PASS)
			return VERDICT_PASS;
		buf_adds(why, "no data");
		if (e->value_re)
			buf_addf(why, " (value pattern '%s' found nothing)", regex_pattern(e->value_re));
		else if (e->value_json)
			buf_addf(why, " (nothing at %s)", e->value_json);
		return e->no_data == NO_DATA_HOLD ? VERDICT_HOLD : VERDICT_FAIL;
	}
	return bounds_ok(e, obs->value_text, obs->value, why) ? VERDICT_PASS : VERDICT_FAIL;
}

static bool
status_ok(const struct expect *e, int status)
{
	if (e->n_status == 0)
		return status >= 200 && status <= 299;
	for (size_t i = 0; i < e->n_status; i++)
		if (status >= e->status[i][0] && status <= e->status[i][1])
			return true;
	return false;
}

static void
describe_status(const struct expect *e, struct buf *out)
{
	if (e->n_status == 0) {
		buf_adds(out, "2xx");
		return;
	}
	for (size_t i = 0; i < e->n_status; i++) {
		if (i)
			buf_adds(out, " or ");
		if (e->status[i][0] == e->status[i][1])
			buf_addf(out, "%d", e->status[i][0]);
		else if (e->status[i][1] - e->status[i][0] == 99 && e->status[i][0] % 100 == 0)
			buf_addf(out, "%dxx", e->status[i][0] / 100);
		else
			buf_addf(out, "%d-%d", e->status[i][0], e->status[i][1]);
	}
}

bool
expect_whole_value(const struct buf *out, struct observed *obs)
{
	double v;
	const char *t = buf_str(out);
	size_t n;

	if (!parse_number(t, &v) || isnan(v))
		return false;
	t += strspn(t, " \t\r\n");
	n = strlen(t);
	while (n > 0 && strchr(" \t\r\n", t[n - 1]))
		n--;
	{
		char *text = xstrndup(t, n);
		observe_value(obs, text, v);
		free(text);
	}
	return true;
}

void
observed_release(struct observed *obs)
{
	if (obs == NULL)
		return;
	free(obs->value_text);
	memset(obs, 0, sizeof(*obs));
	obs->latency_ms = -1;
}

enum verdict
expect_eval(const struct expect *e, enum action_kind kind, const struct exec_result *res,
    struct observed *obs_out, struct buf *why)
{
	struct observed scratch;
	struct observed *obs = obs_out ? obs_out : &scratch;
	bool is_http = kind == ACT_HTTP || kind == ACT_PROMETHEUS;
	enum verdict v = VERDICT_FAIL;

	memset(obs, 0, sizeof(*obs));
	obs->latency_ms = is_http || kind == ACT_TCP ? res->duration_ms : -1;
	obs->status = is_http && res->status == EXEC_DONE ? res->http_status : 0;
	if (res->status != EXEC_DONE) {
		exec_describe(res, 0, why);
		goto done;
	}
	if (kind == ACT_RUN || kind == ACT_TCP) {
		if (res->term_signal) {
			exec_describe(res, 0, why);
			goto done;
		}
		if (!exit_ok(e, res->exit_code)) {
			if (kind == ACT_TCP && res->error) {
				buf_adds(why, res->error);
				goto done;
			}
			buf_addf(why, "exit %d, expected ", res->exit_code);
			describe_exits(e, why);
			goto done;
		}
	}
	if (is_http && !status_ok(e, res->http_status)) {
		if (kind == ACT_PROMETHEUS) {
			/* its error payload says more than the status */
			struct observed tmp;
			memset(&tmp, 0, sizeof(tmp));
			if (value_of_prometheus(&res->out, &tmp, why) == FOUND_BAD) {
				buf_addf(why, " (status %d)", res->http_status);
				observed_release(&tmp);
				goto done;
			}
			observed_release(&tmp);
			buf_reset(why);
		}
		buf_addf(why, "status %d", res->http_status);
		if (res->location)
			buf_addf(why, " (a redirect to %s, not followed without follow: true)", res->location);
		buf_adds(why, ", expected ");
		describe_status(e, why);
		goto done;
	}
	if (!pattern_ok(e->out_re, true, "stdout", &res->out, why) ||
	    !pattern_ok(e->not_out_re, false, "stdout", &res->out, why) ||
	    !pattern_ok(e->err_re, true, "stderr", &res->err, why) ||
	    !pattern_ok(e->not_err_re, false, "stderr", &res->err, why) ||
	    !pattern_ok(e->body_re, true, "body", &res->out, why) ||
	    !pattern_ok(e->not_body_re, false, "body", &res->out, why))
		goto done;
	if (e->latency_ms > 0 && res->duration_ms > e->latency_ms) {
		buf_adds(why, "took ");
		duration_format(why, res->duration_ms);
		buf_adds(why, ", more than ");
		duration_format_exact(why, e->latency_ms);
		goto done;
	}
	v = value_eval(e, kind, &res->out, obs, why);
done:
	if (obs == &scratch)
		observed_release(&scratch);
	return v;
}

bool
expect_check(const struct expect *e, enum action_kind kind, const struct exec_result *res, struct buf *why)
{
	return expect_eval(e, kind, res, NULL, why) == VERDICT_PASS;
}

/* "< 0.01", or relative to a baseline probe: "< legacy-p95 \u00d7 1.2 + 0.01". */
static void
describe_bound(const struct bound *b, const char *op, bool comma, struct buf *out)
{
	if (comma)
		buf_adds(out, ", ");
	if (b->probe == NULL) {
		buf_addf(out, "%s %g", op, b->v);
		return;
	}
	buf_addf(out, "%s ", op);
	expect_describe_relative(b->probe, b->times, b->plus, out);
}

void
expect_describe_relative(const char *base, double times, double plus, struct buf *out)
{
	buf_adds(out, base);
	if (times != 1.0)
		buf_addf(out, " \u00d7 %g", times);
	if (plus != 0.0)
		buf_addf(out, " %s %g", plus < 0 ? "-" : "+", plus < 0 ? -plus : plus);
}

void
expect_describe_bounds(const struct expect *e, struct buf *out)
{
	size_t start = out->len;

	if (e->bounds == NULL)
		return;
#define BOUND(b, op) do { if (e->bounds->b.set) describe_bound(&e->bounds->b, op, out->len > start, out); } while (0)
	BOUND(above, ">");
	BOUND(at_least, ">=");
	BOUND(below, "<");
	BOUND(at_most, "<=");
	BOUND(equals, "==");
#undef BOUND
}

static void
sep(struct buf *out)
{
	if (out->len)
		buf_adds(out, "; ");
}

void
expect_describe(const struct expect *e, enum action_kind kind, struct buf *out)
{
	if (kind == ACT_HTTP || kind == ACT_PROMETHEUS) {
		buf_adds(out, "status ");
		describe_status(e, out);
	} else if (kind == ACT_RUN) {
		buf_adds(out, "exit ");
		describe_exits(e, out);
	} else if (kind == ACT_TCP) {
		buf_adds(out, "connects");
	}
	if (e->out_re) { sep(out); buf_addf(out, "stdout =~ /%s/", regex_pattern(e->out_re)); }
	if (e->not_out_re) { sep(out); buf_addf(out, "stdout !~ /%s/", regex_pattern(e->not_out_re)); }
	if (e->err_re) { sep(out); buf_addf(out, "stderr =~ /%s/", regex_pattern(e->err_re)); }
	if (e->not_err_re) { sep(out); buf_addf(out, "stderr !~ /%s/", regex_pattern(e->not_err_re)); }
	if (e->body_re) { sep(out); buf_addf(out, "body =~ /%s/", regex_pattern(e->body_re)); }
	if (e->not_body_re) { sep(out); buf_addf(out, "body !~ /%s/", regex_pattern(e->not_body_re)); }
	if (e->latency_ms > 0) { sep(out); buf_adds(out, "latency <= "); duration_format_exact(out, e->latency_ms); }
	if (e->value_re || e->value_json || kind == ACT_PROMETHEUS) {
		sep(out);
		if (e->value_re)
			buf_addf(out, "value /%s/ ", regex_pattern(e->value_re));
		else if (e->value_json)
			buf_addf(out, "value json %s ", e->value_json);
		else
			buf_adds(out, "value (first sample) ");
		expect_describe_bounds(e, out);
		if (e->no_data != NO_DATA_FAIL)
			buf_adds(out, e->no_data == NO_DATA_PASS ? "; no data passes" : "; no data holds");
	}
}
