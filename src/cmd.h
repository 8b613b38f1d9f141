/*
 * cmd.h - the command table and the options the commands share.
 *
 * One command per file (cmd-run.c, cmd-plan.c, ...), each exporting a const
 * struct cmd_entry. main.c finds the entry (unique prefixes allowed), parses
 * the options the entry accepts into struct opts, and calls exec. Commands
 * return an enum exit_code; only main exits.
 */
#ifndef MIGRATE_CMD_H
#define MIGRATE_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "runbook.h"

/* Option flags: which common options a command accepts. */
enum {
	OPT_VARS = 1 << 0,       /* --var, --vars */
	OPT_SELECT = 1 << 1,     /* --phase, --from, --to */
	OPT_DRY_RUN = 1 << 2,
	OPT_APPROVE = 1 << 3,    /* --yes, --approve */
	OPT_NO_ROLLBACK = 1 << 4,
	OPT_FORKS = 1 << 5,
	OPT_STATE_DIR = 1 << 6,
	OPT_REPORT = 1 << 7,
	OPT_HOST_KEYS = 1 << 8,  /* --accept-new-host-keys */
	OPT_FORMAT = 1 << 9,
	OPT_VERBOSITY = 1 << 10, /* -v, -q */
	OPT_COLOR = 1 << 11,
	OPT_RESUME = 1 << 12,    /* --force, --retry-in-doubt, --skip-in-doubt */
	OPT_STRICT = 1 << 13,    /* --strict (validate) */
	OPT_AS = 1 << 14,        /* --as NAME (approve) */
	OPT_YES = 1 << 15,       /* --yes alone (rollback: confirm without asking) */
	OPT_NEW = 1 << 16,       /* --new (run: start beside an unfinished run) */
	OPT_PARTIAL = 1 << 17,   /* --to PHASE|STEP, --past-commit (rollback) */
	OPT_SKIP_PAUSE = 1 << 18, /* --skip-pause (resume) */
};

enum color_mode { COLOR_AUTO, COLOR_ALWAYS, COLOR_NEVER };
enum out_format { FORMAT_TEXT, FORMAT_JSON };

struct report_req {
	char *kind;  /* "junit" or "json" */
	char *path;
};

struct opts {
	struct var_override *overrides;
	size_t n_overrides, cap_overrides;
	char **phases;
	size_t n_phases, cap_phases;
	char *from;
	char *to;
	bool dry_run;
	bool yes;
	bool new_run;            /* --new */
	char **approve;
	size_t n_approve, cap_approve;
	bool no_rollback;
	int forks;
	char *state_dir;
	struct report_req *reports;
	size_t n_reports, cap_reports;
	bool accept_new_host_keys;
	enum out_format format;
	int verbosity;           /* -1 quiet, 0 normal, 1 verbose */
	enum color_mode color;
	bool force;
	bool retry_in_doubt;
	bool skip_in_doubt;
	bool skip_pause;         /* resume: skip what is left of a pause begun earlier */
	bool strict;             /* validate: warnings are errors */
	char *as;                /* approve: who approves */
	bool past_commit;        /* rollback: may go back past a commit point */
	char **args;             /* positional arguments (not owned) */
	size_t n_args;
};

struct cmd_entry {
	const char *name;
	const char *args_usage;  /* e.g. "RUNBOOK [options]" */
	const char *summary;     /* one line for `migrate help` */
	const char *help;        /* the long text for `migrate help NAME` */
	unsigned options;        /* OPT_* accepted */
	int min_args;
	int max_args;            /* -1: unlimited */
	int (*exec)(const struct cmd_entry *self, struct opts *o);
	bool one_shot;           /* builds a runbook and exits: heap_prefer_huge_pages() */
};

extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_plan_entry;
extern const struct cmd_entry cmd_validate_entry;
extern const struct cmd_entry cmd_check_entry;
extern const struct cmd_entry cmd_resume_entry;
extern const struct cmd_entry cmd_rollback_entry;
extern const struct cmd_entry cmd_approve_entry;
extern const struct cmd_entry cmd_status_entry;
extern const struct cmd_entry cmd_history_entry;
extern const struct cmd_entry cmd_version_entry;
extern const struct cmd_entry cmd_help_entry;

/* The table, NULL-terminated, in the order `migrate help` lists them. */
extern const struct cmd_entry *const cmd_table[];

/* Find a command by name or unique prefix. *ambiguous set when several match. */
const struct cmd_entry *cmd_find(const char *name, bool *ambiguous);
/* Parse argv (after the command name) into o. Returns 0, or -1 having printed the problem. */
int cmd_parse(const struct cmd_entry *e, int argc, char **argv, struct opts *o);
void opts_release(struct opts *o);
/* Print "usage: migrate NAME ARGS" and the options the command accepts. */
void cmd_usage(const struct cmd_entry *e, FILE *fp);
/*
 * True when obj may be left for the process's exit to take back instead of
 * being freed piece by piece: the kernel does it at once (as linkers such
 * as lld do). Builds with sanitizers (MIGRATE_SANITIZERS) return false,
 * so that what is not freed shows as a leak; a kept object stays reachable.
 */
bool cmd_keep_until_exit(void *obj);
/* Should stdout (or fp's fd) use colour under mode and NO_COLOR? */
bool cmd_color_on(enum color_mode mode, int fd);
/* Load a runbook with o's overrides; prints diagnostics to stderr. NULL on failure. */
struct runbook *cmd_load_runbook(const char *path, struct opts *o);
/* Print diagnostics about path (sorted, with source lines and carets) to stderr. */
void cmd_print_diags(const char *path, struct diags *d, struct opts *o);
/* Print warnings (diagnostics whose messages say "warning: ...") with source lines, and a count. */
void cmd_print_warnings(const char *path, struct diags *d, struct opts *o);
/*
 * Check that every --approve NAME of o names a gate of rb (a phase with a
 * gate, or a gate step). Returns 0, or -1 having printed, for each unknown
 * name, the nearest gate name and then the runbook's gates (a usage error).
 */
int cmd_check_approve(const char *cmd, const struct runbook *rb, const struct opts *o);
/* Commands not built yet: print a clear message and return EXIT_USAGE. */
int cmd_not_available(const struct cmd_entry *self, struct opts *o);

#endif
