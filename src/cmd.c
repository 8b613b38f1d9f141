#include "cmd.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "exitcode.h"
#include "util.h"

const struct cmd_entry *const cmd_table[] = {
	&cmd_run_entry,
	&cmd_plan_entry,
	&cmd_validate_entry,
	&cmd_check_entry,
	&cmd_resume_entry,
	&cmd_rollback_entry,
	&cmd_approve_entry,
	&cmd_status_entry,
	&cmd_history_entry,
	&cmd_version_entry,
	&cmd_help_entry,
	NULL,
};

const struct cmd_entry *
cmd_find(const char *name, bool *ambiguous)
{
	const struct cmd_entry *found = NULL;
	size_t len = strlen(name);

	*ambiguous = false;
	if (len == 0)
		return NULL;
	for (size_t i = 0; cmd_table[i]; i++) {
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
		if (strncmp(cmd_table[i]->name, name, len) == 0) {
			if (found)
				*ambiguous = true;
			found = cmd_table[i];
		}
	}
	return *ambiguous ? NULL : found;
}

/* The long options, each tagged with the OPT_* flag that enables it. */
enum {
	LO_VAR = 256, LO_VARS, LO_PHASE, LO_FROM, LO_TO, LO_DRY_RUN, LO_YES,
	LO_APPROVE, LO_NO_ROLLBACK, LO_FORKS, LO_STATE_DIR, LO_REPORT,
	LO_HOST_KEYS, LO_FORMAT, LO_COLOR, LO_FORCE, LO_RETRY_IN_DOUBT,
	LO_SKIP_IN_DOUBT, LO_STRICT, LO_AS, LO_NEW, LO_PAST_COMMIT, LO_SKIP_PAUSE,
};

static const struct {
	struct option opt;
	unsigned flag;
	const char *arg;
	const char *help;
} options[] = {
	{ { "var", required_argument, NULL, LO_VAR }, OPT_VARS, "NAME=VALUE", "override a var (repeatable)" },
	{ { "vars", required_argument, NULL, LO_VARS }, OPT_VARS, "FILE", "override vars from a YAML mapping" },
	{ { "phase", required_argument, NULL, LO_PHASE }, OPT_SELECT, "NAME", "only this phase (repeatable)" },
	{ { "from", required_argument, NULL, LO_FROM }, OPT_SELECT, "STEP", "start at this step" },
	{ { "to", required_argument, NULL, LO_TO }, OPT_SELECT | OPT_PARTIAL, "STEP", "stop after this step (rollback: PHASE|STEP, unwind only what came after it)" },
	{ { "dry-run", no_argument, NULL, LO_DRY_RUN }, OPT_DRY_RUN, NULL, "show the plan; run nothing" },
	{ { "yes", no_argument, NULL, LO_YES }, OPT_APPROVE | OPT_YES, NULL, "approve every gate (rollback: do not ask)" },
	{ { "new", no_argument, NULL, LO_NEW }, OPT_NEW, NULL, "start even though a run of this runbook is unfinished" },
	{ { "approve", required_argument, NULL, LO_APPROVE }, OPT_APPROVE, "NAME", "approve one gate (phase or step name; repeatable)" },
	{ { "no-rollback", no_argument, NULL, LO_NO_ROLLBACK }, OPT_NO_ROLLBACK, NULL, "on failure stop without unwinding (exit 3)" },
	{ { "forks", required_argument, NULL, LO_FORKS }, OPT_FORKS, "N", "hosts worked on at once (default 10)" },
	{ { "state-dir", required_argument, NULL, LO_STATE_DIR }, OPT_STATE_DIR, "DIR", "journals and locks (default $MIGRATE_STATE_DIR,\n  else $XDG_STATE_HOME/migrate, else ~/.local/state/migrate)" },
	{ { "report", required_argument, NULL, LO_REPORT }, OPT_REPORT, "junit=FILE|json=FILE", "write a report when the run ends (repeatable)" },
	{ { "accept-new-host-keys", no_argument, NULL, LO_HOST_KEYS }, OPT_HOST_KEYS, NULL, "trust and record unknown host keys" },
	{ { "format", required_argument, NULL, LO_FORMAT }, OPT_FORMAT, "text|json", "output format" },
	{ { "verbose", no_argument, NULL, 'v' }, OPT_VERBOSITY, NULL, "stream step output live (-v)" },
	{ { "quiet", no_argument, NULL, 'q' }, OPT_VERBOSITY, NULL, "print only failures and the summary (-q)" },
	{ { "color", required_argument, NULL, LO_COLOR }, OPT_COLOR, "auto|always|never", "colour output (NO_COLOR means never)" },
	{ { "force", no_argument, NULL, LO_FORCE }, OPT_RESUME, NULL, "resume even if the runbook changed" },
	{ { "retry-in-doubt", no_argument, NULL, LO_RETRY_IN_DOUBT }, OPT_RESUME, NULL, "run in-doubt units again" },
	{ { "skip-in-doubt", no_argument, NULL, LO_SKIP_IN_DOUBT }, OPT_RESUME, NULL, "count in-doubt units as done" },
	{ { "skip-pause", no_argument, NULL, LO_SKIP_PAUSE }, OPT_SKIP_PAUSE, NULL, "skip what is left of a pause the run was in" },
	{ { "strict", no_argument, NULL, LO_STRICT }, OPT_STRICT, NULL, "treat warnings as errors (exit 2)" },
	{ { "past-commit", no_argument, NULL, LO_PAST_COMMIT }, OPT_PARTIAL, NULL, "unwind past a commit point too" },
	{ { "as", required_argument, NULL, LO_AS }, OPT_AS, "NAME", "approve as NAME (default: your login name)" },
	{ { "help", no_argument, NULL, 'h' }, ~0u, NULL, "show this help" },
};

void
cmd_usage(const struct cmd_entry *e, FILE *fp)
{
	fprintf(fp, "usage: migrate %s%s%s\n", e->name, *e->args_usage ? " " : "", e->args_usage);
	fprintf(fp, "\n%s\n", e->summary);
	if (e->help && *e->help)
		fprintf(fp, "\n%s", e->help);
	fprintf(fp, "\noptions:\n");
	for (size_t i = 0; i < ARRAY_LEN(options); i++) {
		char left[64];
		if (!(options[i].flag & e->options) && options[i].flag != ~0u)
			continue;
		if (options[i].opt.val == 'v' || options[i].opt.val == 'q' || options[i].opt.val == 'h')
			snprintf(left, sizeof(left), "-%c, --%s", options[i].opt.val, options[i].opt.name);
		else if (options[i].arg)
			snprintf(left, sizeof(left), "--%s %s", options[i].opt.name, options[i].arg);
		else
			snprintf(left, sizeof(left), "--%s", options[i].opt.name);
		if (strlen(left) > 28)
			fprintf(fp, "  %s\n  %-28s %s\n", left, "", options[i].help);
		else
			fprintf(fp, "  %-28s %s\n", left, options[i].help);
	}
	fprintf(fp, "\nSee migrate(1) and migrate-runbook(5).\n");
}

static int
usage_error(const struct cmd_entry *e, const char *fmt, const char *arg)
{
	fprintf(stderr, "migrate %s: ", e->name);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'migrate help %s'.\n", e->name);
	return -1;
}

static int
add_override(struct opts *o, const struct cmd_entry *e, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct var_override ov;

	if (eq == NULL || eq == arg)
		return usage_error(e, "--var wants NAME=VALUE, not '%s'", arg);
	memset(&ov, 0, sizeof(ov));
	ov.name = xstrndup(arg, (size_t)(eq - arg));
	ov.value.type = VAL_STR;
	ov.value.str = xstrdup(eq + 1);
	ov.origin = "--var";
	PUSH(o->overrides, o->n_overrides, o->cap_overrides, ov);
	return 0;
}

static int
add_vars_file(struct opts *o, const struct cmd_entry *e, const char *path)
{
	struct diags d = DIAGS_INIT;
	struct value map;

	memset(&map, 0, sizeof(map));
	if (vars_file_load(path, &map, &d) < 0) {
		diags_print(&d, NULL, stderr, 0);
		diags_release(&d);
		value_release(&map);
		return -1;
	}
	for (size_t i = 0; i < map.n; i++) {
		struct var_override ov;
		memset(&ov, 0, sizeof(ov));
		ov.name = xstrdup(map.keys[i]);
		value_copy(&ov.value, &map.items[i]);
		ov.origin = "--vars";
		PUSH(o->overrides, o->n_overrides, o->cap_overrides, ov);
	}
	value_release(&map);
	diags_release(&d);
	return 0;
}

static int
parse_report(struct opts *o, const struct cmd_entry *e, const char *arg)
{
	const char *eq = strchr(arg, '=');
	struct report_req r;

	if (eq == NULL || eq[1] == '\0')
		return usage_error(e, "--report wants junit=FILE or json=FILE, not '%s'", arg);
	r.kind = xstrndup(arg, (size_t)(eq - arg));
	if (strcmp(r.kind, "junit") != 0 && strcmp(r.kind, "json") != 0) {
		free(r.kind);
		return usage_error(e, "unknown report kind in '%s' (use junit=FILE or json=FILE)", arg);
	}
	r.path = xstrdup(eq + 1);
	PUSH(o->reports, o->n_reports, o->cap_reports, r);
	return 0;
}

int
cmd_parse(const struct cmd_entry *e, int argc, char **argv, struct opts *o)
{
	struct option longopts[ARRAY_LEN(options) + 1];
	char shortopts[8] = "+h";
	size_t n = 0;

	memset(o, 0, sizeof(*o));
	o->forks = 10;
	for (size_t i = 0; i < ARRAY_LEN(options); i++)
		if (options[i].flag & e->options || options[i].flag == ~0u)
			longopts[n++] = options[i].opt;
	memset(&longopts[n], 0, sizeof(longopts[n]));
	if (e->options & OPT_VERBOSITY)
		strcpy(shortopts, "hvq");
	else
		strcpy(shortopts, "h");

	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);
		char *end;
		long v;

		if (c == -1)
			break;
		switch (c) {
		case 'h':
			cmd_usage(e, stdout);
			return 1;
		case 'v':
			o->verbosity = 1;
			break;
		case 'q':
			o->verbosity = -1;
			break;
		case LO_VAR:
			if (add_override(o, e, optarg) < 0)
				return -1;
			break;
		case LO_VARS:
			if (add_vars_file(o, e, optarg) < 0)
				return -1;
			break;
		case LO_PHASE:
			PUSH(o->phases, o->n_phases, o->cap_phases, optarg);
			break;
		case LO_FROM:
			o->from = optarg;
			break;
		case LO_TO:
			o->to = optarg;
			break;
		case LO_DRY_RUN:
			o->dry_run = true;
			break;
		case LO_YES:
			o->yes = true;
			break;
		case LO_NEW:
			o->new_run = true;
			break;
		case LO_APPROVE:
			PUSH(o->approve, o->n_approve, o->cap_approve, optarg);
			break;
		case LO_NO_ROLLBACK:
			o->no_rollback = true;
			break;
		case LO_FORKS:
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 1000)
				return usage_error(e, "--forks wants a number from 1 to 1000, not '%s'", optarg);
			o->forks = (int)v;
			break;
		case LO_STATE_DIR:
			o->state_dir = optarg;
			break;
		case LO_REPORT:
			if (parse_report(o, e, optarg) < 0)
				return -1;
			break;
		case LO_HOST_KEYS:
			o->accept_new_host_keys = true;
			break;
		case LO_FORMAT:
			if (strcmp(optarg, "text") == 0)
				o->format = FORMAT_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->format = FORMAT_JSON;
			else
				return usage_error(e, "--format wants text or json, not '%s'", optarg);
			break;
		case LO_COLOR:
			if (strcmp(optarg, "auto") == 0)
				o->color = COLOR_AUTO;
			else if (strcmp(optarg, "always") == 0)
				o->color = COLOR_ALWAYS;
			else if (strcmp(optarg, "never") == 0)
				o->color = COLOR_NEVER;
			else
				return usage_error(e, "--color wants auto, always or never, not '%s'", optarg);
			break;
		case LO_FORCE:
			o->force = true;
			break;
		case LO_STRICT:
			o->strict = true;
			break;
		case LO_AS:
			o->as = optarg;
			break;
		case LO_PAST_COMMIT:
			o->past_commit = true;
			break;
		case LO_RETRY_IN_DOUBT:
			o->retry_in_doubt = true;
			break;
		case LO_SKIP_IN_DOUBT:
			o->skip_in_doubt = true;
			break;
		case LO_SKIP_PAUSE:
			o->skip_pause = true;
			break;
		case ':':
			return usage_error(e, "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error(e, "unknown option '%s'", argv[optind - 1]);
		}
	}
	o->args = argv + optind;
	o->n_args = (size_t)(argc - optind);
	if ((int)o->n_args < e->min_args) {
		fprintf(stderr, "usage: migrate %s %s\nTry 'migrate help %s'.\n", e->name, e->args_usage, e->name);
		return -1;
	}
	if (e->max_args >= 0 && (int)o->n_args > e->max_args)
		return usage_error(e, "unexpected argument '%s'", o->args[e->max_args]);
	if (o->retry_in_doubt && o->skip_in_doubt)
		return usage_error(e, "%s", "--retry-in-doubt and --skip-in-doubt exclude each other");
	return 0;
}

void
opts_release(struct opts *o)
{
	for (size_t i = 0; i < o->n_overrides; i++) {
		free(o->overrides[i].name);
		value_release(&o->overrides[i].value);
	}
	free(o->overrides);
	free(o->phases);
	free(o->approve);
	for (size_t i = 0; i < o->n_reports; i++) {
		free(o->reports[i].kind);
		free(o->reports[i].path);
	}
	free(o->reports);
	memset(o, 0, sizeof(*o));
}

bool
cmd_keep_until_exit(void *obj)
{
#ifdef MIGRATE_SANITIZERS
	(void)obj;
	return false;
#else
	static void *kept[8];
	static size_t n;

	if (n == sizeof(kept) / sizeof(kept[0]))
		return false;
	kept[n++] = obj;
	return true;
#endif
}

bool
cmd_color_on(enum color_mode mode, int fd)
{
	const char *nc = getenv("NO_COLOR");

	if (mode == COLOR_NEVER)
		return false;
	if (mode == COLOR_ALWAYS)
		return true;
	if (nc && *nc)
		return false;
	return isatty(fd) == 1;
}

/* Print d with the source lines of path; noun names what they are in the closing count. */
static void
print_diags(const char *path, struct diags *d, struct opts *o, const char *noun)
{
	char *src = NULL;
	FILE *fp = fopen(path, "r");

	if (fp) {
		struct buf b = BUF_INIT;
		char chunk[4096];
		size_t k;
		while ((k = fread(chunk, 1, sizeof(chunk), fp)) > 0 && b.len < (8u << 20))
			buf_add(&b, chunk, k);
		fclose(fp);
		src = buf_detach(&b);
	}
	diags_sort(d);
	diags_print(d, src, stderr, cmd_color_on(o->color, 2));
	if (d->n > 1)
		fprintf(stderr, "%zu %ss in %s\n", d->n, noun, path);
	free(src);
}

void
cmd_print_diags(const char *path, struct diags *d, struct opts *o)
{
	print_diags(path, d, o, "error");
}

void
cmd_print_warnings(const char *path, struct diags *d, struct opts *o)
{
	print_diags(path, d, o, "warning");
}

struct runbook *
cmd_load_runbook(const char *path, struct opts *o)
{
	struct diags d = DIAGS_INIT;
	struct runbook *rb = runbook_load(path, o->overrides, o->n_overrides, &d);

	if (rb == NULL)
		cmd_print_diags(path, &d, o);
	diags_release(&d);
	return rb;
}

int
cmd_not_available(const struct cmd_entry *self, struct opts *o)
{
	fprintf(stderr, "migrate %s: not available in this release yet; nothing was done\n", self->name);
	return EXIT_USAGE;
}

/* Edit distance between a and b (for "did you mean"). */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *row = xcalloc(lb + 1, sizeof(*row));
	size_t d;

	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	d = row[lb];
	free(row);
	return d;
}

struct gate_name {
	const char *name;  /* the phase's or the step's */
	const char *kind;  /* "phase gate", "gate step" or "probe with no_data: hold" */
};

/* The runbook's gates in runbook order (malloc'ed array; names not owned). */
static struct gate_name *
list_gates(const struct runbook *rb, size_t *n)
{
	struct gate_name *g = NULL;
	size_t cap = 0;

	*n = 0;
	for (size_t p = 0; p < rb->n_phases; p++) {
		const struct phase *ph = &rb->phases[p];
		if (ph->gate.s)
			PUSH(g, *n, cap, ((struct gate_name){ ph->name, "phase gate" }));
		for (size_t i = 0; i < ph->n_steps; i++)
			if (ph->steps[i].action.kind == ACT_GATE)
				PUSH(g, *n, cap, ((struct gate_name){ ph->steps[i].name, "gate step" }));
	}
	/* a probe with no_data: hold stops the run as a gate does (its name approves it) */
	for (size_t i = 0; i < rb->n_probes; i++)
		if (rb->probes[i].expect.no_data == NO_DATA_HOLD)
			PUSH(g, *n, cap, ((struct gate_name){ rb->probes[i].name, "probe holding on no data" }));
	return g;
}

int
cmd_check_approve(const char *cmd, const struct runbook *rb, const struct opts *o)
{
	struct gate_name *g;
	size_t n;
	int rc = 0;

	if (o->n_approve == 0)
		return 0;
	g = list_gates(rb, &n);
	for (size_t a = 0; a < o->n_approve; a++) {
		const char *want = o->approve[a];
		const char *best = NULL;
		size_t best_d = (size_t)-1;
		bool found = false;

		for (size_t i = 0; i < n && !found; i++) {
			size_t d = edit_distance(want, g[i].name);
			found = d == 0;
			if (d < best_d) {
				best_d = d;
				best = g[i].name;
			}
		}
		if (found)
			continue;
		rc = -1;
		fprintf(stderr, "migrate %s: --approve '%s' names no gate of runbook '%s'", cmd, want, rb->name);
		/* a suggestion only when it is plausibly a typo of it */
		if (best && best_d <= (strlen(want) > 6 ? strlen(want) / 3 : 2))
			fprintf(stderr, "; did you mean '%s'?", best);
		fputc('\n', stderr);
	}
	if (rc == 0)
		goto out;
	if (n == 0) {
		fprintf(stderr, "migrate %s: runbook '%s' has no gates\n", cmd, rb->name);
	} else {
		fprintf(stderr, "migrate %s: the gates of runbook '%s':\n", cmd, rb->name);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "  %s (%s)\n", g[i].name, g[i].kind);
	}
	fprintf(stderr, "migrate %s: nothing was run\n", cmd);
out:
	free(g);
	return rc;
}
