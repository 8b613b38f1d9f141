#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "statedir.h"
#include "util.h"

struct output {
	FILE *fp;
	bool tty;
	bool color;
	int verbosity;
	pthread_mutex_t mu;
	pthread_t ticker;
	bool ticker_on;
	volatile int stop;
	/* the unit being drawn live (tty only) */
	char *live_name;
	char *live_target;
	int64_t live_since;
	bool live_drawn;
	bool prompting;
	size_t n_failed, n_rolled_back, n_no_rollback;
	const char *gate_name;
	int name_w;             /* the name column, in characters (set from the run's units) */
};

/* The name column: as wide as the longest unit name, between these bounds. */
#define NAME_W_MIN 28
#define NAME_W_MAX 48
/* The plain marks' width ("FAILED ", "ok     "). */
#define MARK_W 7


static const char *
col(const struct output *o, const char *code)
{
	return o->color ? code : "";
}

static void
timestamp(struct buf *b)
{
	struct timespec ts;
	struct tm tm;
	char s[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_addf(b, "%s ", s);
}

/* Our own colour sequences: the only escape sequences output_visible() keeps. */
static const char *const own_colors[] = { C_RESET, C_BOLD, C_DIM, C_RED, C_GREEN, C_YELLOW, C_CYAN };

void
output_visible(const char *s, size_t len, bool keep_colors, struct buf *out)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t run = i;
		while (run < len && u[run] >= 0x20 && u[run] != 0x7F && u[run] != 0xC2)
			run++;
		buf_add(out, s + i, run - i);
		i = run;
		if (i >= len)
			break;
		if (u[i] == 0xC2) {
			if (i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F) {
				buf_addf(out, "\\u%04x", u[i + 1]);
				i += 2;
			} else {
				buf_addc(out, (char)u[i++]);
			}
			continue;
		}
		if (u[i] == '\n' || u[i] == '\t') {
			buf_addc(out, (char)u[i++]);
			continue;
		}
		if (keep_colors && u[i] == 0x1B) {
			size_t k;
			for (k = 0; k < ARRAY_LEN(own_colors); k++) {
				size_t n = strlen(own_colors[k]);
				if (len - i >= n && memcmp(s + i, own_colors[k], n) == 0)
					break;
			}
			if (k < ARRAY_LEN(own_colors)) {
				buf_adds(out, own_colors[k]);
				i += strlen(own_colors[k]);
				continue;
			}
		}
		buf_addc(out, '^');
		buf_addc(out, u[i] == 0x7F ? '?' : (char)(u[i] + 0x40));
		i++;
	}
}

/* fputs, with control characters shown (output_visible) and our colours kept. */
static void
put_visible(struct output *o, const char *s, size_t len)
{
	struct buf v = BUF_INIT;

	output_visible(s, len, true, &v);
	fputs(buf_str(&v), o->fp);
	buf_release(&v);
}

/*
 * Print a block of lines: on a terminal as it is; without one each
 * non-empty line gets a timestamp (plain output is one record per line).
 */
static void
put_block(struct output *o, const struct buf *b)
{
	const char *p = buf_str(b);

	if (o->tty) {
		put_visible(o, p, b->len);
		return;
	}
	while (*p) {
		size_t n = strcspn(p, "\n");
		if (n > 0) {
			struct buf ts = BUF_INIT;
			timestamp(&ts);
			fputs(buf_str(&ts), o->fp);
			buf_release(&ts);
		}
		put_visible(o, p, n);
		fputc('\n', o->fp);
		p += n;
		if (*p == '\n')
			p++;
	}
}

/* Erase the live line (tty), caller holds mu. */
static void
clear_live(struct output *o)
{
	if (o->tty && o->live_drawn) {
		fputs("\r\033[K", o->fp);
		o->live_drawn = false;
	}
}

static void
draw_live(struct output *o)
{
	struct buf b = BUF_INIT;

	if (!o->tty || o->live_name == NULL || o->prompting || o->verbosity < 0)
		return;
	buf_addf(&b, "  %s…%s ", col(o, C_CYAN), col(o, C_RESET));
	/* the live line stays one line: a longer name is cut here, and shown whole when the unit ends */
	buf_add_cut(&b, o->live_name, o->name_w);
	buf_addf(&b, "%*s %-16s ", o->name_w - utf8_chars(o->live_name) > 0 ? o->name_w - utf8_chars(o->live_name) : 0,
	    "", o->live_target);
	duration_format(&b, now_ms() - o->live_since);
	fputs("\r\033[K", o->fp);
	put_visible(o, b.data, b.len);
	fflush(o->fp);
	o->live_drawn = true;
	buf_release(&b);
}

static void *
ticker_main(void *arg)
{
	struct output *o = arg;

	while (!o->stop) {
		sleep_ms(200, &o->stop);
		pthread_mutex_lock(&o->mu);
		if (o->live_name)
			draw_live(o);
		pthread_mutex_unlock(&o->mu);
	}
	return NULL;
}

struct output *
output_create(FILE *fp, bool tty, bool color, int verbosity)
{
	struct output *o = xcalloc(1, sizeof(*o));

	o->fp = fp;
	o->tty = tty;
	o->color = color;
	o->verbosity = verbosity;
	o->name_w = NAME_W_MIN;
	pthread_mutex_init(&o->mu, NULL);
	if (tty && pthread_create(&o->ticker, NULL, ticker_main, o) == 0)
		o->ticker_on = true;
	return o;
}

void
output_free(struct output *o)
{
	if (o == NULL)
		return;
	o->stop = 1;
	if (o->ticker_on)
		pthread_join(o->ticker, NULL);
	pthread_mutex_lock(&o->mu);
	clear_live(o);
	pthread_mutex_unlock(&o->mu);
	fflush(o->fp);
	free(o->live_name);
	free(o->live_target);
	pthread_mutex_destroy(&o->mu);
	free(o);
}

void
output_tail_lines(const char *text, size_t len, int n, const char *prefix, struct buf *out)
{
	const char *start = text + len;
	int lines = 0;

	if (len == 0)
		return;
	if (len > 0 && text[len - 1] == '\n')
		start--;
	while (start > text) {
		if (start[-1] == '\n' && ++lines >= n)
			break;
		start--;
	}
	while (start < text + len) {
		const char *nl = memchr(start, '\n', (size_t)(text + len - start));
		size_t l = nl ? (size_t)(nl - start) : (size_t)(text + len - start);
		size_t show = l;
		if (show > OUTPUT_LINE_MAX) {
			/* a very long line: its start, cut on a character boundary */
			show = OUTPUT_LINE_MAX;
			while (show > 0 && ((unsigned char)start[show] & 0xC0) == 0x80)
				show--;
		}
		buf_addf(out, "%s%.*s%s\n", prefix, (int)show, start, show < l ? " …" : "");
		start += l + (nl ? 1 : 0);
	}
}

/* Print one finished line: mark, name, target, duration, note. */
static void
line(struct output *o, const char *mark_color, const char *mark, const char *name,
    const char *target, int64_t ms, const char *note)
{
	struct buf b = BUF_INIT;
	int n = utf8_chars(name), w = utf8_chars(mark);

	if (!o->tty)
		timestamp(&b);
	buf_addf(&b, "  %s%s%s %s", col(o, mark_color), mark, col(o, C_RESET), name);
	if (n > o->name_w) {
		/* too long for the column: the whole name on its own line, the columns below it */
		buf_addc(&b, '\n');
		if (!o->tty)
			timestamp(&b);
		buf_addf(&b, "  %*s ", w, "");
		n = 0;
	}
	/* a wider mark (INTERRUPTED) takes from the padding, so the columns stay */
	n += w > MARK_W ? w - MARK_W : 0;
	buf_addf(&b, "%*s %-16s ", o->name_w > n ? o->name_w - n : 0, "", target ? target : "");
	if (ms >= 0)
		duration_format(&b, ms);
	if (note && *note)
		buf_addf(&b, "  %s%s%s", col(o, C_DIM), note, col(o, C_RESET));
	buf_addc(&b, '\n');
	clear_live(o);
	put_visible(o, b.data, b.len);
	buf_release(&b);
}

static void message(struct output *o, const char *color, const char *fmt, const char *a, const char *b);

/* A pause begins (how long, until when) or its rest is skipped (SPEC §7). */
static void
pause_message(struct output *o, const struct event *ev)
{
	char until[STATEDIR_TIME_SIZE];
	struct buf b = BUF_INIT;

	if (strcmp(ev->detail, "start") != 0 && strcmp(ev->detail, "skipped") != 0)
		return;
	if (statedir_format_time(ev->until_ms, until) < 0)
		until[0] = '\0';
	if (strcmp(ev->detail, "skipped") == 0) {
		buf_adds(&b, "skipped (--skip-pause), ");
		duration_format(&b, ev->delay_ms);
		buf_adds(&b, " of it was left");
	} else if (ev->delay_ms < ev->length_ms) {
		duration_format(&b, ev->delay_ms);
		buf_adds(&b, " left of ");
		duration_format_exact(&b, ev->length_ms);
		buf_addf(&b, " (begun earlier), until %s", until);
	} else {
		duration_format_exact(&b, ev->length_ms);
		buf_addf(&b, ", until %s", until);
	}
	message(o, C_DIM, "  pause %s: %s", ev->unit->name, buf_str(&b));
	buf_release(&b);
}

static void
message(struct output *o, const char *color, const char *fmt, const char *a, const char *b)
{
	struct buf m = BUF_INIT;

	if (!o->tty)
		timestamp(&m);
	buf_adds(&m, col(o, color));
	buf_addf(&m, fmt, a ? a : "", b ? b : "");
	buf_adds(&m, col(o, C_RESET));
	buf_addc(&m, '\n');
	clear_live(o);
	put_visible(o, m.data, m.len);
	buf_release(&m);
}

static const char *
mark(const struct output *o, const char *fancy, const char *plain)
{
	return o->tty ? fancy : plain;
}

/*
 * What a probe saw, next to its bound: "error-rate 0.0042 < 0.01 ok",
 * "error-rate 0.02 < 0.01 FAILED: value 0.02 is not below 0.01",
 * "error-rate no data (hold)", "HTTP 503: status 503, expected 2xx".
 */
static void
probe_note(const char *probe, const struct probe_sample *ps, bool ok, const char *message, struct buf *out)
{
	if (ps && (ps->value_text || ps->no_data)) {
		buf_addf(out, "%s %s", probe, ps->value_text ? ps->value_text : "no data");
		if (ps->bounds && ps->value_text)
			buf_addf(out, " %s", ps->bounds);
		buf_adds(out, ok ? " ok" : ps->verdict == SAMPLE_HOLD ? " (hold)" : "");
		if (!ok && message && ps->verdict != SAMPLE_HOLD && (ps->value_text == NULL || !strstr(message, ps->value_text)))
			buf_addf(out, ": %s", message);
		else if (!ok && ps->value_text && ps->verdict != SAMPLE_HOLD)
			buf_adds(out, " FAILED");
		return;
	}
	if (ps && ps->status)
		buf_addf(out, "HTTP %d%s", ps->status, !ok && message ? ": " : "");
	if (!ok && message)
		buf_adds(out, message);
}

/*
 * A failed (or interrupted) unit or rollback: its line, why, and the last
 * lines of its own output (tail: the unit's, or its rollback's, kept apart).
 */
static void
unit_failed(struct output *o, const struct unit *u, const struct buf *tail, int64_t ms, const char *note,
    const char *msg)
{
	struct buf b = BUF_INIT;
	bool stopped = u->state == UNIT_INTERRUPTED && tail == &u->tail;

	if (stopped)   /* stopped by a signal: it did not fail (issue 12 item 12) */
		line(o, C_YELLOW, mark(o, "■", "INTERRUPTED"), u->name, u->host, ms, note);
	else
		line(o, C_RED, mark(o, "✗", "FAILED "), u->name, u->host, ms, note);
	buf_addf(&b, "      %s%s%s\n", col(o, stopped ? C_YELLOW : C_RED), msg ? msg : "failed", col(o, C_RESET));
	if (tail->len && o->verbosity <= 0) {
		buf_addf(&b, "      %s:\n", tail == &u->tail ? "last output" : "rollback output");
		output_tail_lines(tail->data, tail->len, OUTPUT_FAIL_LINES, "      │ ", &b);
	}
	put_block(o, &b);
	buf_release(&b);
}

static void
run_summary(struct output *o, const struct event *ev)
{
	const struct run *run = ev->run;
	struct buf b = BUF_INIT;
	struct run_counts c;

	/* the whole run: units of earlier sessions count, and their working time */
	run_count_units(run, &c);
	clear_live(o);
	buf_addc(&b, '\n');
	switch (run->outcome) {
	case OUTCOME_SUCCEEDED:
		buf_addf(&b, "%srun %s succeeded%s: %zu unit%s in ", col(o, C_GREEN C_BOLD), run->id, col(o, C_RESET),
		    c.done, c.done == 1 ? "" : "s");
		duration_format(&b, run->work_ms);
		if (run->sessions > 1)
			buf_addf(&b, " of working time over %d sessions", run->sessions);
		break;
	case OUTCOME_ROLLED_BACK:
		if (run->failure)
			buf_addf(&b, "%srun %s failed and was rolled back%s: %s\n", col(o, C_YELLOW C_BOLD), run->id,
			    col(o, C_RESET), run->failure);
		else
			buf_addf(&b, "%srun %s was rolled back%s\n", col(o, C_YELLOW C_BOLD), run->id, col(o, C_RESET));
		buf_addf(&b, "  %zu unit%s rolled back, %zu without a rollback; details: migrate status %s",
		    o->n_rolled_back, o->n_rolled_back == 1 ? "" : "s", o->n_no_rollback, run->id);
		break;
	case OUTCOME_NEEDS_HUMAN:
		buf_addf(&b, "%srun %s failed and is NOT fully rolled back%s: %s\n", col(o, C_RED C_BOLD), run->id,
		    col(o, C_RESET), run->failure ? run->failure : "");
		if (run->record_error)
			buf_addf(&b, "  the journal could not be written, so nothing more was run or rolled back\n");
		else if (run->opts->no_rollback)
			buf_addf(&b, "  --no-rollback: completed steps were left in place\n");
		else if (run->failure && strncmp(run->failure, "rolled back, but ", 17) == 0)
			buf_addf(&b, "  the unwind completed, but a verify_rollback probe failed: check the system by hand\n");
		else if (run->commit_phase && run->failure && strncmp(run->failure, "failed after commit point", 25) == 0)
			buf_addf(&b, "  the units up to commit point %s stay in place; `migrate rollback %s --past-commit` "
			    "goes further\n", run->commit_phase->name, run->id);
		else
			buf_addf(&b, "  a rollback action failed; the steps before it in the unwind are still in place\n");
		buf_addf(&b, "  see where with: migrate status %s\n  unwind the rest with: migrate rollback %s",
		    run->id, run->id);
		break;
	case OUTCOME_GATE:
		buf_addf(&b, "%srun %s stopped at gate '%s'%s: not approved; nothing after it ran\n",
		    col(o, C_YELLOW C_BOLD), run->id, o->gate_name ? o->gate_name : "?", col(o, C_RESET));
		buf_addf(&b, "  %zu unit%s done so far\n", c.done, c.done == 1 ? "" : "s");
		buf_addf(&b, "  continue with: migrate resume %s --approve %s (or --yes)", run->id,
		    o->gate_name ? o->gate_name : "NAME");
		if (o->gate_name && runbook_gate_approvals(run->rb, o->gate_name) > 1)
			buf_addf(&b, "\n  it needs %d distinct approvals: each person records one with"
			    " migrate approve %s %s --as NAME", runbook_gate_approvals(run->rb, o->gate_name),
			    run->id, o->gate_name);
		break;
	case OUTCOME_INTERRUPTED:
		buf_addf(&b, "%srun %s interrupted%s\n", col(o, C_YELLOW C_BOLD), run->id, col(o, C_RESET));
		if (o->n_rolled_back || run->failure)
			buf_addf(&b, "  the unwind was under way; finish it with: migrate rollback %s", run->id);
		else
			buf_addf(&b, "  continue with: migrate resume %s", run->id);
		break;
	case OUTCOME_WINDOW:
		buf_addf(&b, "%srun %s stopped%s: %s", col(o, C_YELLOW C_BOLD), run->id, col(o, C_RESET),
		    run->failure ? run->failure : "");
		break;
	case OUTCOME_RUNNING:
		break;
	}
	buf_addc(&b, '\n');
	put_block(o, &b);
	buf_release(&b);
}

void
output_on_event(void *ctx, const struct event *ev)
{
	struct output *o = ctx;
	const struct unit *u = ev->unit;
	bool quiet = o->verbosity < 0;

	pthread_mutex_lock(&o->mu);
	switch (ev->type) {
	case EV_RUN_START:
		for (size_t i = 0; i < ev->run->n_units; i++) {
			int n = utf8_chars(ev->run->units[i].name);
			if (n > o->name_w)
				o->name_w = n < NAME_W_MAX ? n : NAME_W_MAX;
		}
		if (!quiet)
			message(o, C_BOLD, "run %s%s", ev->run->id, "");
		break;
	case EV_PHASE_START:
		if (!quiet)
			message(o, C_BOLD, "phase %s%s", ev->phase->name, "");
		break;
	case EV_PHASE_END:
		break;
	case EV_GATE:
		if (strcmp(ev->detail, "asked") == 0) {
			if (!quiet)
				message(o, C_YELLOW, "  gate %s: %s", ev->probe, ev->message);
		} else if (strcmp(ev->detail, "waiting") == 0) {
			if (ev->delay_ms > 0 && !quiet) {
				struct buf d = BUF_INIT;
				duration_format_exact(&d, ev->delay_ms);
				buf_addf(&d, " for approvals: migrate approve %s %s --as NAME", ev->run->id, ev->probe);
				message(o, C_YELLOW, "  gate %s: waits up to %s", ev->probe, buf_str(&d));
				buf_release(&d);
			}
			if (ev->by)
				message(o, C_YELLOW, "  gate %s: approvals from `migrate approve` cannot reach this run: %s",
				    ev->probe, ev->by);
		} else if (strcmp(ev->detail, "approved") == 0) {
			if (!quiet) {
				char *m = xasprintf("gate approved by %s", ev->by ? ev->by : "?");
				line(o, C_GREEN, mark(o, "✓", "GATE OK"), ev->probe, NULL, -1, m);
				free(m);
			}
		} else if (strcmp(ev->detail, "rollback") == 0 || strcmp(ev->detail, "stopped") == 0) {
			/* the run fails at the gate and unwinds; the summary says why */
			line(o, C_RED, mark(o, "✗", "FAILED "), ev->probe, NULL, -1, ev->by);
		} else {
			o->gate_name = ev->probe;
			line(o, C_YELLOW, mark(o, "■", "STOPPED"), ev->probe, NULL, -1,
			    strcmp(ev->detail, "declined") == 0 ? "gate declined" :
			    strcmp(ev->detail, "interrupted") == 0 ? "interrupted at the gate" :
			    strcmp(ev->detail, "timed-out") == 0 ? ev->by :
			    ev->by ? ev->by : "gate needs approval (no terminal)");
		}
		break;
	case EV_COMMIT:
		message(o, C_BOLD, "commit point %s: a later failure unwinds only what comes after it%s",
		    ev->phase->name, "");
		break;
	case EV_APPROVAL:
		if (!quiet)
			message(o, C_GREEN, "  gate %s: approved by %s", ev->probe, ev->by);
		break;
	case EV_UNIT_START:
		if (u->step->action.kind == ACT_GATE)
			break;
		free(o->live_name);
		free(o->live_target);
		o->live_name = xstrdup(u->name);
		o->live_target = xstrdup(u->host);
		o->live_since = now_ms();
		if (!o->tty && o->verbosity > 0)
			line(o, C_CYAN, "start  ", u->name, u->host, -1, NULL);
		draw_live(o);
		break;
	case EV_UNIT_PGID:
		break;
	case EV_UNIT_OUTPUT:
		if (o->verbosity > 0) {
			struct buf b = BUF_INIT;
			if (!o->tty)
				timestamp(&b);
			if (u && strcmp(u->host, "local") != 0) {
				/* units on hosts run in parallel: each line names its host */
				const char *p = ev->data, *end = ev->data + ev->len;
				while (p < end) {
					const char *nl = memchr(p, '\n', (size_t)(end - p));
					size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
					if (p != ev->data && !o->tty)
						timestamp(&b);
					buf_addf(&b, "      %s│ %s:%s ", col(o, C_DIM), u->host, col(o, C_RESET));
					output_visible(p, n, false, &b);
					buf_addc(&b, '\n');
					p += n + (nl ? 1 : 0);
				}
			} else {
				buf_addf(&b, "      %s│%s ", col(o, C_DIM), col(o, C_RESET));
				output_visible(ev->data, ev->len, false, &b);
			}
			if (b.len && b.data[b.len - 1] != '\n')
				buf_addc(&b, '\n');
			clear_live(o);
			fputs(buf_str(&b), o->fp);
			buf_release(&b);
			draw_live(o);
		}
		break;
	case EV_UNIT_RETRY:
		if (!quiet) {
			struct buf note = BUF_INIT;
			buf_addf(&note, "attempt %d failed: %s; retrying in ", u->attempts, ev->message);
			duration_format(&note, ev->delay_ms);
			line(o, C_YELLOW, mark(o, "↻", "RETRY  "), u->name, u->host, -1, buf_str(&note));
			buf_release(&note);
			draw_live(o);
		}
		break;
	case EV_UNIT_END:
		free(o->live_name);
		o->live_name = NULL;
		if (u->state == UNIT_DONE) {
			char note[64] = "";
			if (u->step->action.kind == ACT_GATE)
				break;
			if (u->attempts > 1)
				snprintf(note, sizeof(note), "after %d attempts", u->attempts);
			if (u->result && u->result->value_text)
				snprintf(note + strlen(note), sizeof(note) - strlen(note), "%s%s %s", note[0] ? "; " : "",
				    u->result->value_text, u->result->bounds ? u->result->bounds : "");
			else if (u->result && u->result->status)
				snprintf(note + strlen(note), sizeof(note) - strlen(note), "%sHTTP %d", note[0] ? "; " : "",
				    u->result->status);
			if (!quiet)
				line(o, C_GREEN, mark(o, "✓", "ok     "), u->name, u->host, u->duration_ms, note);
		} else {
			o->n_failed += u->state != UNIT_INTERRUPTED;
			unit_failed(o, u, &u->tail, u->duration_ms, NULL, u->message);
		}
		break;
	case EV_PROBE:
		/* passing watch samples only with -v: the others always (but -q shows only failures) */
		if (!ev->ok || (!quiet && (o->verbosity > 0 || strcmp(ev->detail, "watch") != 0))) {
			const struct probe_sample *ps = ev->sample;
			bool hold = ps && ps->verdict == SAMPLE_HOLD;
			bool warn = !ev->ok && !hold && ev->by != NULL;   /* a watch sample that did not trip it */
			struct buf name = BUF_INIT, note = BUF_INIT;
			buf_addf(&name, "%s probe %s", ev->detail, ev->probe);
			probe_note(ev->probe, ps, ev->ok, ev->message, &note);
			if (warn)
				buf_addf(&note, " (warning: %s)", ev->by);
			line(o, ev->ok ? C_GREEN : hold || warn ? C_YELLOW : C_RED,
			    ev->ok ? mark(o, "✓", "ok     ") : hold ? mark(o, "?", "NO DATA") :
			    warn ? mark(o, "!", "WARN   ") : mark(o, "✗", "FAILED "),
			    buf_str(&name), u ? u->host : "local",
			    ps && ps->duration_ms >= 0 ? ps->duration_ms : ps && ps->latency_ms >= 0 ? ps->latency_ms : -1,
			    buf_str(&note));
			buf_release(&name);
			buf_release(&note);
			draw_live(o);
		}
		break;
	case EV_UNWIND_START:
		message(o, C_BOLD, "unwinding: rollback in reverse order of completion%s%s", "", "");
		break;
	case EV_ROLLBACK_START:
		free(o->live_name);
		free(o->live_target);
		o->live_name = xasprintf("↶ %s", u->name);
		o->live_target = xstrdup(u->host);
		o->live_since = now_ms();
		draw_live(o);
		break;
	case EV_ROLLBACK_END:
		free(o->live_name);
		o->live_name = NULL;
		if (u->rb_state == RB_DONE && u->rb_covered_by) {
			o->n_rolled_back++;
			if (!quiet) {
				char *m = xasprintf("rolled back by %s's rollback (once: true)", u->rb_covered_by->name);
				line(o, C_DIM, mark(o, "↶", "UNDONE "), u->name, u->host, -1, m);
				free(m);
			}
		} else if (u->rb_state == RB_DONE) {
			o->n_rolled_back++;
			if (!quiet)
				line(o, C_GREEN, mark(o, "↶", "UNDONE "), u->name, u->host, u->rb_duration_ms, "rolled back");
		} else if (u->rb_state == RB_NO_ACTION) {
			o->n_no_rollback++;
			if (!quiet)
				line(o, C_DIM, mark(o, "–", "KEPT   "), u->name, u->host, -1, "no rollback");
		} else if (u->rb_state == RB_FAILED) {
			unit_failed(o, u, &u->rb_tail, u->rb_duration_ms, "rollback failed", ev->message);
		}
		break;
	case EV_IN_DOUBT:
		line(o, C_YELLOW, mark(o, "?", "INDOUBT"), u->name, u->host, -1, ev->message);
		break;
	case EV_PAUSE:
		if (!quiet)
			pause_message(o, ev);
		break;
	case EV_RUN_END:
		run_summary(o, ev);
		break;
	}
	fflush(o->fp);
	pthread_mutex_unlock(&o->mu);
}

/* The operator's answer to a gate: 1 go, 0 stop, 2 roll back now. */
static int
gate_answer(const char *a)
{
	if (strcmp(a, "y") == 0 || strcmp(a, "yes") == 0)
		return 1;
	if (strcmp(a, "r") == 0 || strcmp(a, "rollback") == 0)
		return 2;
	return 0;
}

int
output_ask(void *ctx, const struct gate_prompt *gp)
{
	struct output *o = ctx;
	struct buf prompt = BUF_INIT, answer = BUF_INIT;
	int fd, verdict = 0;

	if (!isatty(STDIN_FILENO))
		return -1;
	fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	pthread_mutex_lock(&o->mu);
	o->prompting = true;
	clear_live(o);
	fflush(o->fp);
	pthread_mutex_unlock(&o->mu);
	/* the "gate NAME: QUESTION" line said it already, unless it went elsewhere or -q kept it back */
	if (!o->tty || o->verbosity < 0)
		buf_addf(&prompt, "\n  %s%s%s\n", col(o, C_BOLD), gp->question, col(o, C_RESET));
	buf_addf(&prompt, "  approve gate '%s'? y = go on, n = stop here (resume later), r = roll back now: ", gp->name);
	if (write(fd, prompt.data, prompt.len) < 0) {
		verdict = -1;
		goto cleanup;
	}
	/* Wait for a line; a signal (Ctrl-C) interrupts the question, not answers it. */
	for (;;) {
		struct pollfd p[2] = { { fd, POLLIN, 0 }, { gp->wake_fd, POLLIN, 0 } };
		char c;
		ssize_t n;
		int r;

		if (engine_interrupted) {
			verdict = -2;
			break;
		}
		/* approvals from elsewhere, the gate's timeout, a watch trip */
		if (gp->tick && gp->tick(gp->tick_arg) != 0) {
			verdict = 3;
			break;
		}
		r = poll(p, gp->wake_fd >= 0 ? 2 : 1, 100);
		if (r > 0 && gp->wake_fd >= 0 && (p[1].revents & POLLIN)) {
			verdict = 3;
			break;
		}
		if (r <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n')
			break;   /* end of input: not approved */
		if (answer.len < 256)
			buf_addc(&answer, c);
	}
	if (verdict == 0)
		verdict = gate_answer(buf_str(&answer));
	if ((verdict == -2 || verdict == 3) && write(fd, "\n", 1) < 0)
		verdict = verdict == 3 ? 3 : -2;
cleanup:
	close(fd);
	pthread_mutex_lock(&o->mu);
	o->prompting = false;
	pthread_mutex_unlock(&o->mu);
	buf_release(&prompt);
	buf_release(&answer);
	return verdict;
}
