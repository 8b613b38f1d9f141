#include "expect.h"

#include <math.h>
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

static bool
value_ok(const struct expect *e, const struct buf *subject, struct buf *why)
{
	char *cap = NULL, *end;
	double v;
	int m;

	if (e->value_re == NULL)
		return true;
	m = regex_capture(e->value_re, buf_str(subject), subject->len, 1, &cap);
	if (m != 1) {
		buf_addf(why, "value pattern '%s' found no value", regex_pattern(e->value_re));
		free(cap);
		return false;
	}
	v = strtod(cap, &end);
	if (end == cap || *end != '\0' || isnan(v)) {
		buf_addf(why, "value '%s' is not a number", cap);
		free(cap);
		return false;
	}
	if (e->below.set && !(v < e->below.v))
		buf_addf(why, "value %s is not below %g", cap, e->below.v);
	else if (e->above.set && !(v > e->above.v))
		buf_addf(why, "value %s is not above %g", cap, e->above.v);
	else if (e->at_most.set && !(v <= e->at_most.v))
		buf_addf(why, "value %s is more than %g", cap, e->at_most.v);
	else if (e->at_least.set && !(v >= e->at_least.v))
		buf_addf(why, "value %s is less than %g", cap, e->at_least.v);
	else if (e->equals.set && !(v == e->equals.v))
		buf_addf(why, "value %s does not equal %g", cap, e->equals.v);
	else {
		free(cap);
		return true;
	}
	free(cap);
	return false;
}

bool
expect_check(const struct expect *e, enum action_kind kind, const struct exec_result *res, struct buf *why)
{
	if (res->status != EXEC_DONE) {
		exec_describe(res, 0, why);
		return false;
	}
	if (kind == ACT_RUN || kind == ACT_TCP) {
		if (res->term_signal) {
			exec_describe(res, 0, why);
			return false;
		}
		if (!exit_ok(e, res->exit_code)) {
			if (kind == ACT_TCP && res->error) {
				buf_adds(why, res->error);
				return false;
			}
			buf_addf(why, "exit %d, expected ", res->exit_code);
			describe_exits(e, why);
			return false;
		}
	}
	if (!pattern_ok(e->out_re, true, "stdout", &res->out, why) ||
	    !pattern_ok(e->not_out_re, false, "stdout", &res->out, why) ||
	    !pattern_ok(e->err_re, true, "stderr", &res->err, why) ||
	    !pattern_ok(e->not_err_re, false, "stderr", &res->err, why) ||
	    !pattern_ok(e->body_re, true, "body", &res->out, why) ||
	    !pattern_ok(e->not_body_re, false, "body", &res->out, why))
		return false;
	if (e->latency_ms >= 0 && res->duration_ms > e->latency_ms && e->latency_ms > 0) {
		buf_adds(why, "took ");
		duration_format(why, res->duration_ms);
		buf_adds(why, ", more than ");
		duration_format_exact(why, e->latency_ms);
		return false;
	}
	return value_ok(e, &res->out, why);
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
	if (kind == ACT_HTTP) {
		if (e->n_status == 0) {
			buf_adds(out, "status 2xx");
		} else {
			buf_adds(out, "status ");
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
	if (e->value_re) {
		sep(out);
		buf_addf(out, "value /%s/", regex_pattern(e->value_re));
		if (e->below.set) buf_addf(out, " < %g", e->below.v);
		if (e->above.set) buf_addf(out, " > %g", e->above.v);
		if (e->at_most.set) buf_addf(out, " <= %g", e->at_most.v);
		if (e->at_least.set) buf_addf(out, " >= %g", e->at_least.v);
		if (e->equals.set) buf_addf(out, " == %g", e->equals.v);
	}
}
