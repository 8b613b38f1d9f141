/*
 * runbook.h - the typed form of a version-1 runbook (SPEC §2).
 *
 * runbook_load() (runbook-load.c) builds it from YAML and checks it; the
 * engine, plan and executors only read it. Everything hangs off struct
 * runbook and is freed by runbook_free(). Every element keeps the position
 * (1-based line and column) where it was written, for diagnostics.
 *
 * Strings that may contain ${...} are struct text; they are stored as
 * written and expanded by interp.c at run time. Regular expressions are
 * literal (no interpolation) and compiled at load time.
 */
#ifndef MIGRATE_RUNBOOK_H
#define MIGRATE_RUNBOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

struct regex;

struct pos {
	int line;
	int col;
};

/*
 * A string as written in the runbook, possibly with ${...} references.
 * s == NULL means "not given". col_exact is true when the scalar was written
 * on one line in plain or double/single-quoted style without escapes, so the
 * column of byte i of s is pos.col + col_shift + i.
 */
struct text {
	char *s;
	struct pos pos;
	bool col_exact;
	int col_shift;
};

/* A plain value: vars, --vars files, literal `for:` lists. */
enum value_type { VAL_STR, VAL_LIST, VAL_MAP };

struct value {
	enum value_type type;
	char *str;           /* VAL_STR */
	struct value *items; /* VAL_LIST and VAL_MAP: n items */
	char **keys;         /* VAL_MAP: n keys */
	size_t n;
	struct pos pos;
};

/* Key/value pair with an interpolated value (env:, headers:). */
struct kv {
	char *key;
	struct pos key_pos;
	struct text value;
};

/* A count that may be written as a percentage (batch:, max_fail:). */
struct amount {
	bool set;
	bool percent;
	int n;
	struct pos pos;
};

struct retry {
	int attempts;            /* >= 1; default 1 */
	int64_t interval_ms;     /* default 1000 */
	double backoff;          /* factor >= 1; default 1 */
	int64_t max_interval_ms; /* 0: no cap */
	double jitter;           /* 0..1; default 0 */
};

/*
 * A numeric bound of expect.value: a number (v), or relative to another
 * probe sampled at the same moment (SPEC §7): base × times + plus.
 */
struct bound {
	bool set;
	double v;
	char *probe;                 /* baseline probe name; NULL: absolute */
	struct pos probe_pos;
	const struct probe *base;    /* resolved at load time */
	double times;                /* default 1 */
	double plus;                 /* default 0 */
};

/* The bounds of expect.value: few expects have them, so they live apart. */
struct bounds {
	struct bound below, above, equals, at_most, at_least;
};

/* expect.no_data: what a result without a value means (SPEC §2). */
enum no_data { NO_DATA_FAIL = 0, NO_DATA_PASS, NO_DATA_HOLD };

struct expect {
	int *exit_codes;             /* NULL: default (0) */
	size_t n_exit;
	struct regex *out_re, *err_re;         /* stdout / stderr */
	struct regex *not_out_re, *not_err_re; /* not_stdout / not_stderr */
	/* status: ranges [lo, hi]; n_status == 0 means the default 2xx */
	int (*status)[2];
	size_t n_status;
	struct regex *body_re, *not_body_re;
	int64_t latency_ms;          /* -1: no bound */
	struct regex *value_re;      /* value by regex; NULL: none */
	char *value_json;            /* value by JSON pointer (RFC 6901); NULL: none */
	struct pos value_pos;
	struct bounds *bounds;       /* NULL: no bound written */
	enum no_data no_data;
	struct pos pos;              /* of the expect: key; line 0 if absent */
};

struct capture {
	char *name;
	struct regex *re;
	struct pos pos;
};

struct http_req {
	struct text method;          /* default GET */
	struct text url;
	struct kv *headers;
	size_t n_headers;
	struct text body;            /* s NULL: no body */
	struct text body_file;       /* the body read from this file; s NULL: none */
	struct text query;           /* prometheus: the PromQL query (url is the base) */
	bool insecure;
	struct text ca_cert;
	bool follow;
	struct pos pos;
};

struct transfer {
	struct text src;
	struct text dest;
	int mode;                    /* -1: not given */
	struct pos pos;
};

/* What an action of another kind points at (see struct action). */
extern const struct http_req runbook_http_none;
extern const struct transfer runbook_transfer_none;

enum action_kind {
	ACT_NONE = 0,
	ACT_RUN,
	ACT_HTTP,
	ACT_PROBE,    /* steps only */
	ACT_PAUSE,    /* steps only */
	ACT_GATE,     /* steps only */
	ACT_UPLOAD,
	ACT_DOWNLOAD,
	ACT_TCP,      /* probes only */
	ACT_PROMETHEUS, /* probes only: an instant query, action.http (url, query) */
};

struct probe;
struct gate_cfg;

/* What a step, probe or rollback does: exactly one kind. */
struct action {
	enum action_kind kind;
	struct pos pos;              /* of the kind's key */
	struct text run;             /* ACT_RUN */
	/*
	 * ACT_HTTP, ACT_PROMETHEUS: owned; any other kind: the shared, empty
	 * runbook_http_none (never NULL), so a big runbook's steps do not each
	 * carry an unused request.
	 */
	const struct http_req *http;
	const struct transfer *xfer; /* ACT_UPLOAD / ACT_DOWNLOAD; else runbook_transfer_none */
	struct text tcp;             /* ACT_TCP: HOST:PORT */
	int64_t pause_ms;            /* ACT_PAUSE */
	struct text gate;            /* ACT_GATE: the question */
	struct gate_cfg *gate_cfg;   /* ACT_GATE: NULL when written as a message */
	/* ACT_PROBE: a reference (probe_name set, resolved into probe) or an
	 * inline probe (probe_inline owned here, probe points at it). */
	char *probe_name;
	struct probe *probe_inline;
	const struct probe *probe;
};

/* A reference to a named probe, resolved at load time. */
struct probe_ref {
	char *name;
	struct pos pos;
	const struct probe *probe;
};

struct probe {
	char *name;                  /* NULL for an inline probe */
	struct pos pos;
	struct action action;        /* ACT_RUN, ACT_HTTP, ACT_TCP or ACT_PROMETHEUS */
	char *on;                    /* NULL: local */
	struct pos on_pos;
	int64_t timeout_ms;          /* default 10s */
	struct retry retry;
	struct expect expect;
	struct kv *env;
	size_t n_env;
};

enum rollback_when { WHEN_COMPLETED = 0, WHEN_ALWAYS };

struct rollback {
	struct action action;        /* ACT_RUN, ACT_HTTP, ACT_UPLOAD, ACT_DOWNLOAD */
	char *on;                    /* NULL: the unit's own host */
	struct pos on_pos;
	int64_t timeout_ms;          /* 0: the step's timeout */
	struct retry retry;
	struct expect expect;
	enum rollback_when when;
	/* once: true: a for: step's rollback runs once per host for all its
	 * completed items, at the newest of them (SPEC §2) */
	bool once;
	struct pos once_pos;
	struct kv *env;
	size_t n_env;
	struct pos pos;
};

struct phase;

struct step {
	char *name;
	struct pos pos;              /* of the step's mapping */
	char *description;
	struct action action;
	char *on;                    /* after defaults; "local" if none */
	struct pos on_pos;
	int64_t timeout_ms;          /* after defaults */
	struct retry retry;          /* after defaults */
	struct expect expect;
	struct capture *captures;
	size_t n_captures;
	struct probe_ref *after;
	size_t n_after;
	int64_t pause_ms;            /* pause: after each unit; 0: none */
	/* for: either a literal list (for_list) or one ${var} (for_ref) */
	bool has_for;
	struct value for_list;
	struct text for_ref;
	struct amount batch;
	struct amount max_fail;
	struct rollback *rollback;   /* NULL: none */
	bool idempotent;
	/* check: a probe NAME (check.name set) or an inline probe (check_inline,
	 * owned); check.probe is resolved either way, NULL when no check. */
	struct probe *check_inline;
	struct probe_ref check;
	struct kv *env;
	size_t n_env;
	struct text workdir;
	int sudo;                    /* -1: not given, else 0/1 */
	struct phase *phase;         /* back pointer */
	size_t index;                /* position in the whole runbook, from 0 */
};

struct watch {
	bool set;
	struct probe_ref *probes;
	size_t n_probes;
	int64_t interval_ms;         /* default 30s */
	int failures;                /* default 1 */
	int window;                  /* failed samples counted among the last window; default failures */
	int64_t delay_ms;            /* first sample after this long; default 0 */
	char *from;                  /* run-level watch: phase it starts at; NULL: the first */
	struct pos from_pos;
	const struct phase *from_phase; /* resolved at load time */
	struct pos pos;
};

/* A wall-clock time (RFC 3339) of a maintenance window (SPEC §7). */
struct wallclock {
	bool set;
	int64_t epoch_ms;
	char *text;                  /* as written */
	struct pos pos;
};

enum on_timeout { ON_TIMEOUT_STOP = 0, ON_TIMEOUT_ROLLBACK };

/* What a gate written as a mapping adds to its message (SPEC §7). */
struct gate_cfg {
	struct probe_ref *show;      /* probes run and shown before asking */
	size_t n_show;
	int approvals;               /* distinct approvers; default 1 */
	int64_t timeout_ms;          /* 0: none */
	enum on_timeout on_timeout;
	struct pos pos;              /* of the gate: key */
	struct pos approvals_pos, timeout_pos, show_pos;
};

/* Events a notify hook listens to (bits). */
enum notify_event {
	NOTIFY_START = 1 << 0,
	NOTIFY_PHASE = 1 << 1,
	NOTIFY_GATE = 1 << 2,
	NOTIFY_FAILURE = 1 << 3,
	NOTIFY_ROLLBACK = 1 << 4,
	NOTIFY_DONE = 1 << 5,
};
#define NOTIFY_ALL 0x3f

struct notify_hook {
	unsigned events;             /* enum notify_event bits; default all */
	struct action action;        /* ACT_RUN or ACT_HTTP */
	int64_t timeout_ms;          /* default 10s */
	struct pos pos;
};

enum numref_kind { NUM_DURATION, NUM_INT, NUM_AMOUNT, NUM_BOUND };

/*
 * A numeric or duration field written as exactly one ${...} reference
 * (SPEC §7). One that names vars is resolved into target at load time;
 * one that names the item (${item} or ${item.KEY}) is checked against
 * every item at load time and resolved per unit by the engine.
 */
struct numref {
	struct text ref;
	const char *field;           /* the key as written: "timeout", "pause", ... */
	enum numref_kind kind;
	int64_t min;                 /* smallest value allowed */
	void *target;                /* the field it fills (inside the runbook) */
	struct step *step;           /* the step it is written in; NULL elsewhere */
	bool per_unit;               /* names the item */
};

/*
 * Parse s as a value of nr's kind into out, which points at what the
 * kind fills: int64_t (ms), int, struct amount or struct bound. Returns
 * NULL, or a static description of what was expected ("a duration such
 * as 30s or 5m").
 */
const char *numref_parse(const struct numref *nr, const char *s, void *out);

struct phase {
	char *name;
	struct pos pos;
	char *description;
	struct text gate;            /* s NULL: no gate */
	struct gate_cfg *gate_cfg;   /* NULL when the gate is a plain message */
	bool commit;                 /* a point of no return (SPEC §7) */
	struct pos commit_pos;
	int64_t deadline_ms;         /* working time of this phase; 0: none */
	struct pos deadline_pos;
	struct wallclock not_before, not_after;
	struct step *steps;
	size_t n_steps;
	struct probe_ref *verify;
	size_t n_verify;
	struct watch watch;
};

struct host {
	char *name;
	struct pos pos;
	struct text address;         /* one host */
	struct text *addresses;      /* group of addresses */
	size_t n_addresses;
	char **members;              /* group of other hosts */
	struct pos *member_pos;
	size_t n_members;
	int port;                    /* 0: default 22 */
	struct text user;
	struct text key;
	struct text passphrase;      /* must be a ${secrets.X} reference */
	struct text known_hosts;
	char *via;
	struct pos via_pos;
	int sudo;                    /* -1 not given */
	int64_t connect_timeout_ms;  /* 0: default */
};

enum secret_source { SECRET_ENV, SECRET_FILE };

struct secret_def {
	char *name;
	struct pos pos;
	enum secret_source source;
	char *ref;                   /* variable name or file path (~ expanded at read) */
};

struct defaults {
	char *on;
	struct pos on_pos;
	int64_t timeout_ms;          /* 0: built-in default */
	bool has_retry;
	struct retry retry;
	int sudo;                    /* -1 not given */
	struct kv *env;
	size_t n_env;
	struct text workdir;
};

struct strmap;

struct runbook {
	char *file;                  /* path as given */
	char *source;                /* the file's text */
	char *name;
	char *description;
	int version;
	struct value vars;           /* VAL_MAP; overrides already applied */
	struct secret_def *secrets;
	size_t n_secrets;
	struct host *hosts;
	size_t n_hosts;
	struct defaults defaults;
	struct probe *probes;
	size_t n_probes;
	struct phase *phases;
	size_t n_phases;
	size_t n_steps;              /* over all phases */
	int64_t deadline_ms;         /* 0: none */
	struct pos deadline_pos;
	struct watch watch;          /* run-level guard (SPEC §7) */
	struct probe_ref *verify_rollback;
	size_t n_verify_rollback;
	struct notify_hook *notify;
	size_t n_notify;
	struct wallclock not_before, not_after;
	struct numref *numrefs;      /* fields written as one ${...} */
	size_t n_numrefs, cap_numrefs;
	char sha256[65];             /* hex digest of the file's bytes */
	struct strmap *host_index;   /* hosts by name (runbook_index_hosts); NULL: none yet */
};

/* Built-in defaults, documented in man/migrate-runbook.5. */
#define DEFAULT_STEP_TIMEOUT_MS ((int64_t)30 * 60 * 1000)
#define DEFAULT_PROBE_TIMEOUT_MS ((int64_t)10 * 1000)
#define DEFAULT_RETRY_INTERVAL_MS 1000
#define DEFAULT_WATCH_INTERVAL_MS 30000
#define DEFAULT_NOTIFY_TIMEOUT_MS 10000
#define NAME_PATTERN "[a-z0-9][a-z0-9._-]*"

/* Overrides from the command line, applied on top of vars: at load time. */
struct var_override {
	char *name;
	struct value value;          /* owned */
	const char *origin;          /* "--var" or the --vars file name */
};

/*
 * Load, parse and check a runbook. On success returns the runbook and
 * leaves diags empty. On any problem returns NULL and appends every problem
 * found to diags (FILE:LINE:COL). overrides may be NULL.
 */
struct runbook *runbook_load(const char *path, const struct var_override *overrides,
    size_t n_overrides, struct diags *diags);
void runbook_free(struct runbook *rb);

/*
 * Parse a YAML file holding one mapping of plain values (--vars FILE) into
 * *out (VAL_MAP). Returns 0, or -1 with diagnostics appended.
 */
int vars_file_load(const char *path, struct value *out, struct diags *diags);

/* Lookups; NULL when absent. */
const struct value *value_get(const struct value *map, const char *key);
/* The host (or group) named name, or NULL; by the index once runbook_index_hosts() made it. */
const struct host *runbook_host(const struct runbook *rb, const char *name);
/* Index the hosts by name, for runbook_host() in constant time (a fleet of 16,000 hosts). */
void runbook_index_hosts(struct runbook *rb);
const struct probe *runbook_probe(const struct runbook *rb, const char *name);
const struct step *runbook_step(const struct runbook *rb, const char *name);
const struct phase *runbook_phase(const struct runbook *rb, const char *name);
/* The distinct approvals gate (a phase's or a gate step's name) needs; 0: no such gate. */
int runbook_gate_approvals(const struct runbook *rb, const char *gate);

/*
 * Visit every interpolated text of the runbook (steps, their rollbacks,
 * probes, hosts, gates, ...). step is the step the text belongs to (NULL for
 * probes, hosts, defaults and phase gates); field names the key ("run",
 * "http.url", "rollback.run", ...).
 */
typedef void (*text_visit_fn)(void *ctx, const struct text *t,
    const struct step *step, const char *field);
void runbook_foreach_text(const struct runbook *rb, text_visit_fn fn, void *ctx);

/*
 * Warnings about a loaded runbook, appended to w as "warning: ..."
 * diagnostics (FILE:LINE:COL): every var, capture, ${item}, ${host} or
 * ${host.address} interpolated into a command (the run: of a step, probe,
 * check or rollback) without |quote or |urlencode, which a value holding
 * shell syntax could inject into (for a secret, "$MIGRATE_SECRET_NAME" is
 * the way). Returns how many.
 */
size_t runbook_warnings(const struct runbook *rb, struct diags *w);

/*
 * The value of a unit's item for ${item} (key NULL) or ${item.KEY}: a
 * string, or NULL when the item has no such key or is not a string.
 */
const char *item_field(const struct value *item, const char *key);

void value_release(struct value *v);
void value_copy(struct value *dst, const struct value *src);
/* Is name a valid step/probe/host/runbook name ([a-z0-9][a-z0-9._-]*)? */
bool name_valid(const char *name);

#endif
