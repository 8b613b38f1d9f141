/*
 * runbook-load.c - YAML to struct runbook.
 *
 * The file is read whole (at most 8 MiB) and parsed once with libyaml's
 * event API: each event is checked against bounds on nesting depth,
 * anchors, aliases and the size the aliases expand to, then composed into
 * a tree of yaml_node_t (compose()). The steps of each phase are parsed as
 * soon as each is complete and their nodes dropped, so a runbook of many
 * steps never holds the YAML tree of all of them. Each mapping of the format
 * is described by one const table of {key, node type, handler, offset}:
 * parse_map() reports unknown keys, duplicate keys and wrong node types at
 * the key, and hands each value to its handler, which writes the field at
 * the offset. Checks that need the whole runbook (references, ${...},
 * defaults) are in runbook-check.c.
 */
#include "runbook.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "buf.h"
#include "duration.h"
#include "interp.h"
#include "regex.h"
#include "runbook-private.h"
#include "sha256.h"
#include "util.h"

#define MAX_FILE_SIZE ((size_t)8 << 20)
#define MAX_DEPTH 64                   /* nested mappings and lists */
#define MAX_ANCHORS 1000
#define MAX_ALIASES 10000
#define MAX_NODES ((size_t)1000000)    /* after expanding aliases */
#define MAX_BYTES ((size_t)32 << 20)   /* scalar text after expanding aliases */
#define MAX_FIELDS 32                  /* keys of the largest table */

struct loader {
	struct report rep;
	char *src;               /* the file's bytes, NUL-terminated */
	size_t len;
	size_t *lines;           /* byte offset where each line starts */
	size_t n_lines;
	/* last column converted, to walk long lines only once */
	size_t cache_line, cache_char, cache_byte;
	bool ascii;              /* no byte >= 0x80: a column is a byte */
	/* the document (compose()): node i is nodes[i - 1], the root is node 1 */
	yaml_node_t *nodes;
	size_t n_nodes, cap_nodes;
	/* steps parsed while composing, one entry per phase's steps: list */
	struct early *early;
	size_t n_early, cap_early;
	struct runbook *rb;
	const char *what;        /* the object being parsed: "step 'x'" */
	struct step *step;       /* the step being parsed, NULL outside steps */
	struct buf scratch;
};

/* --- positions and errors --- */

/* No byte >= 0x80 and no \r in u (eight bytes at a time). */
static bool
ascii_without_cr(const unsigned char *u, size_t n)
{
	const uint64_t high = 0x8080808080808080ULL, ones = 0x0101010101010101ULL;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w, x;
		memcpy(&w, u + i, 8);
		x = w ^ (ones * '\r');      /* a zero byte where w has \r */
		if ((w & high) || ((x - ones) & ~x & high))
			return false;
	}
	for (; i < n; i++)
		if (u[i] >= 0x80 || u[i] == '\r')
			return false;
	return true;
}

/*
 * Where each line starts, with lines broken where libyaml breaks them
 * (diag_line_break), so that its marks index this table.
 */
static void
build_line_table(struct loader *ld)
{
	const unsigned char *u = (const unsigned char *)ld->src;
	size_t i, brk, cap = 0, start = 0;

	/* libyaml's columns start after a byte order mark */
	if (ld->len >= 3 && memcmp(ld->src, "\xEF\xBB\xBF", 3) == 0)
		start = 3;
	ld->n_lines = 0;
	PUSH(ld->lines, ld->n_lines, cap, start);
	ld->ascii = true;
	/* the common case, all ASCII without a CR: lines end at each \n */
	if (ascii_without_cr(u, ld->len)) {
		for (const char *p = memchr(ld->src, '\n', ld->len); p; p = memchr(p, '\n', ld->len - (size_t)(p - ld->src))) {
			p++;
			PUSH(ld->lines, ld->n_lines, cap, (size_t)(p - ld->src));
		}
		ld->cache_line = (size_t)-1;
		return;
	}
	for (i = 0; i < ld->len; i += brk ? brk : 1) {
		/* only these bytes can start a line break */
		if (u[i] != '\n' && u[i] != '\r' && u[i] != 0xC2 && u[i] != 0xE2) {
			if (u[i] >= 0x80)
				ld->ascii = false;
			brk = 0;
			continue;
		}
		if (u[i] >= 0x80)
			ld->ascii = false;
		if ((brk = diag_line_break(ld->src, ld->len, i)) != 0)
			PUSH(ld->lines, ld->n_lines, cap, i + brk);
	}
	ld->cache_line = (size_t)-1;
}

/* Where line (0-based, < n_lines) ends: the start of its line break, or the end of the file. */
static size_t
line_end(struct loader *ld, size_t line)
{
	size_t e = ld->lines[line];
	size_t lim = line + 1 < ld->n_lines ? ld->lines[line + 1] : ld->len;

	while (e < lim && diag_line_break(ld->src, ld->len, e) == 0)
		e++;
	return e;
}

/*
 * libyaml counts columns in characters; diagnostics and struct text count
 * bytes, so convert through the line table.
 */
static size_t
mark_offset(struct loader *ld, size_t line, size_t column)
{
	size_t byte, ch, end;

	if (line >= ld->n_lines)
		return ld->len;
	byte = ld->lines[line];
	ch = 0;
	end = line + 1 < ld->n_lines ? ld->lines[line + 1] : ld->len;
	if (ld->ascii)
		return column < end - byte ? byte + column : end;
	if (ld->cache_line == line && ld->cache_char <= column && ld->cache_byte >= byte) {
		byte = ld->cache_byte;
		ch = ld->cache_char;
	}
	while (ch < column && byte < end) {
		byte++;
		while (byte < end && ((unsigned char)ld->src[byte] & 0xC0) == 0x80)
			byte++;
		ch++;
	}
	ld->cache_line = line;
	ld->cache_char = ch;
	ld->cache_byte = byte;
	return byte;
}

static struct pos
mark_pos(struct loader *ld, yaml_mark_t m)
{
	struct pos p = { (int)m.line + 1, (int)m.column + 1 };

	if (m.line < ld->n_lines)
		p.col = (int)(mark_offset(ld, m.line, m.column) - ld->lines[m.line]) + 1;
	return p;
}

static struct pos
npos(struct loader *ld, const yaml_node_t *n)
{
	return mark_pos(ld, n->start_mark);
}

/* The position of a byte offset of the file. */
static struct pos
offset_pos(struct loader *ld, size_t off)
{
	size_t lo = 0, hi = ld->n_lines;
	struct pos p;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (ld->lines[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	p.line = (int)lo + 1;
	p.col = off > ld->lines[lo] ? (int)(off - ld->lines[lo]) + 1 : 1;
	return p;
}

static void __attribute__((format(printf, 3, 4)))
err(struct loader *ld, const yaml_node_t *n, const char *fmt, ...)
{
	struct buf msg = BUF_INIT;
	struct pos p = { 0, 0 };
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&msg, fmt, ap);
	va_end(ap);
	if (n)
		p = npos(ld, n);
	report_at(&ld->rep, p, "%s", msg.data);
	buf_release(&msg);
}

/* --- scalars --- */

/* Node `index` (1-based; compose() only stores indexes of nodes it made). */
static yaml_node_t *
node_at(struct loader *ld, int index)
{
	return &ld->nodes[index - 1];
}

static const char *
sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static bool
is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static bool
is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (!is_plain(n))
		return false;
	for (size_t i = 0; i < ARRAY_LEN(nulls); i++)
		if (strcmp(sval(n), nulls[i]) == 0)
			return true;
	return false;
}

/* A scalar with a NUL inside ("\0" in double quotes) cannot be a C string. */
static bool
scalar_ok(struct loader *ld, const char *key, const yaml_node_t *n)
{
	if (strlen(sval(n)) != n->data.scalar.length) {
		err(ld, n, "'%s' contains a NUL character", key);
		return false;
	}
	return true;
}

static bool
parse_bool(const yaml_node_t *n, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE" };
	static const char *const f[] = { "false", "False", "FALSE" };

	for (size_t i = 0; i < ARRAY_LEN(t); i++) {
		if (strcmp(sval(n), t[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(sval(n), f[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool
parse_ll(const char *s, long long *out)
{
	char *end;

	if (*s == '\0' || strchr(" \t\n", *s))
		return false;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool
parse_num(const char *s, double *out)
{
	char *end;

	if (*s == '\0' || strchr(" \t\n", *s))
		return false;
	*out = strtod(s, &end);
	return *end == '\0' && isfinite(*out);
}

/*
 * A struct text from a scalar. col_exact when the scalar sits on one line
 * and its source bytes are the value (plain) or the value in quotes.
 */
static struct text
text_of(struct loader *ld, const yaml_node_t *n)
{
	struct text t;
	size_t len = n->data.scalar.length;
	yaml_scalar_style_t style = n->data.scalar.style;

	memset(&t, 0, sizeof(t));
	t.s = xstrndup(sval(n), len);
	t.pos = npos(ld, n);
	if (n->start_mark.line == n->end_mark.line && n->start_mark.line < ld->n_lines && (style == YAML_PLAIN_SCALAR_STYLE ||
	    style == YAML_SINGLE_QUOTED_SCALAR_STYLE || style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)) {
		size_t shift = style == YAML_PLAIN_SCALAR_STYLE ? 0 : 1;
		size_t b = ld->lines[n->start_mark.line] + (size_t)t.pos.col - 1;
		size_t e = mark_offset(ld, n->end_mark.line, n->end_mark.column);
		if (e >= b && e - b == len + 2 * shift && memcmp(ld->src + b + shift, t.s, len) == 0) {
			t.col_exact = true;
			t.col_shift = (int)shift;
		}
	}
	return t;
}

/* --- mappings --- */

struct pair {
	yaml_node_t *key, *val;
	bool merged;             /* came from a << merge key */
	bool drop;
};

struct pairs {
	struct pair *v;
	size_t n, cap;
};

static bool
is_merge_key(const yaml_node_t *k)
{
	return is_plain(k) && strcmp(sval(k), "<<") == 0;
}

/*
 * Collect the pairs of map, then those of its << merge keys (YAML 1.1
 * merge: explicit keys win, then earlier merged mappings win).
 */
static void
gather_pairs(struct loader *ld, yaml_node_t *map, struct pairs *out, bool merged, int depth)
{
	yaml_node_pair_t *p;

	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		struct pair pr = { node_at(ld, p->key), node_at(ld, p->value), merged, false };
		if (pr.key && pr.val && !is_merge_key(pr.key))
			PUSH(out->v, out->n, out->cap, pr);
	}
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key), *v = node_at(ld, p->value);
		if (k == NULL || v == NULL || !is_merge_key(k) || depth >= MAX_DEPTH)
			continue;
		if (v->type == YAML_MAPPING_NODE) {
			gather_pairs(ld, v, out, true, depth + 1);
		} else if (v->type == YAML_SEQUENCE_NODE) {
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			    it < v->data.sequence.items.top; it++) {
				yaml_node_t *m = node_at(ld, *it);
				if (m && m->type == YAML_MAPPING_NODE)
					gather_pairs(ld, m, out, true, depth + 1);
				else if (m)
					err(ld, m, "'<<' (merge key) takes mappings only");
			}
		} else {
			err(ld, v, "'<<' (merge key) must be a mapping or a list of mappings");
		}
	}
}

struct keyref {
	const char *s;
	size_t len;
	size_t i;
};

static int
keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->s, y->s, n);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Sort by key (then document order): most mappings have a few keys, and
 * qsort's set-up costs more than insertion sort then. */
static void
sort_keyrefs(struct keyref *refs, size_t n)
{
	if (n > 16) {
		qsort(refs, n, sizeof(*refs), keyref_cmp);
		return;
	}
	for (size_t i = 1; i < n; i++) {
		struct keyref r = refs[i];
		size_t j = i;
		while (j > 0 && keyref_cmp(&refs[j - 1], &r) > 0) {
			refs[j] = refs[j - 1];
			j--;
		}
		refs[j] = r;
	}
}

/*
 * The pairs of a mapping node in document order, with merge keys applied,
 * non-string keys and duplicates reported (unless quiet) and left out.
 * The caller frees ps->v.
 */
static void
collect_pairs(struct loader *ld, yaml_node_t *map, struct pairs *ps, bool quiet)
{
	struct keyref small[32], *refs = small;
	size_t k = 0;

	memset(ps, 0, sizeof(*ps));
	gather_pairs(ld, map, ps, false, 0);
	if (ps->n > ARRAY_LEN(small))
		refs = xcalloc(ps->n, sizeof(*refs));
	for (size_t i = 0; i < ps->n; i++) {
		yaml_node_t *key = ps->v[i].key;
		if (key->type != YAML_SCALAR_NODE) {
			if (!quiet)
				err(ld, key, "a mapping key must be a plain string");
			ps->v[i].drop = true;
			continue;
		}
		refs[k].s = sval(key);
		refs[k].len = key->data.scalar.length;
		refs[k].i = i;
		k++;
	}
	sort_keyrefs(refs, k);
	for (size_t j = 1, first = 0; j < k; j++) {
		struct pair *dup;
		/* first: where the run of equal keys that j belongs to starts (linear, whatever the run's length) */
		if (refs[j].len != refs[j - 1].len || memcmp(refs[j].s, refs[j - 1].s, refs[j].len) != 0) {
			first = j;
			continue;
		}
		dup = &ps->v[refs[j].i];
		dup->drop = true;
		if (!dup->merged && !quiet) {
			struct pos p = npos(ld, ps->v[refs[first].i].key);
			err(ld, dup->key, "duplicate key '%s' (first at %d:%d)", refs[j].s, p.line, p.col);
		}
	}
	if (refs != small)
		free(refs);
	k = 0;
	for (size_t i = 0; i < ps->n; i++)
		if (!ps->v[i].drop)
			ps->v[k++] = ps->v[i];
	ps->n = k;
}

/* The value of key in a mapping node (explicit pairs only), or NULL. */
static yaml_node_t *
map_get(struct loader *ld, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node_at(ld, p->key);
		if (k && k->type == YAML_SCALAR_NODE && strcmp(sval(k), key) == 0)
			return node_at(ld, p->value);
	}
	return NULL;
}

/* --- tables --- */

struct field;
typedef void (*field_fn)(struct loader *ld, const struct field *f, yaml_node_t *key,
    yaml_node_t *val, void *obj);

/*
 * One key of a mapping: the node type its value must have (YAML_NO_NODE:
 * the handler decides), what the value must be (for type errors: "'k' must
 * be <what>"), the handler, and where it writes: off, and off2 for a second
 * field (an array's count, a name's position).
 */
struct field {
	const char *key;
	yaml_node_type_t type;
	const char *what;
	field_fn fn;
	size_t off;
	size_t off2;
	const void *arg;
};

/* The key and value node of each table entry that the mapping had. */
struct seen {
	yaml_node_t *key[MAX_FIELDS];
	yaml_node_t *val[MAX_FIELDS];
};

#define AT(obj, off, T) ((T *)(void *)((char *)(obj) + (off)))

static void
type_error(struct loader *ld, const struct field *f, yaml_node_t *key)
{
	err(ld, key, "'%s' must be %s", f->key, f->what);
}

/* A gate written as a mapping, while it is parsed. */
struct gate_parse {
	struct text message;
	struct gate_cfg cfg;
};

/* --- handler prototypes (the tables below point at them) --- */

#define HANDLER(name) static void name(struct loader *ld, const struct field *f, \
    yaml_node_t *key, yaml_node_t *val, void *obj)
HANDLER(h_string);
HANDLER(h_text);
HANDLER(h_name);
HANDLER(h_hostname);
HANDLER(h_bool);
HANDLER(h_tristate);
HANDLER(h_int);
HANDLER(h_duration);
HANDLER(h_number);
HANDLER(h_version);
HANDLER(h_vars);
HANDLER(h_secrets);
HANDLER(h_secret_src);
HANDLER(h_hosts);
HANDLER(h_addresses);
HANDLER(h_members);
HANDLER(h_defaults);
HANDLER(h_defaults_retry);
HANDLER(h_bound);
HANDLER(h_probes);
HANDLER(h_phases);
HANDLER(h_steps);
HANDLER(h_watch);
HANDLER(h_kind);
HANDLER(h_retry);
HANDLER(h_expect);
HANDLER(h_value);
HANDLER(h_json_pointer);
HANDLER(h_no_data);
HANDLER(h_regex);
HANDLER(h_exit);
HANDLER(h_status);
HANDLER(h_capture);
HANDLER(h_refs);
HANDLER(h_for);
HANDLER(h_amount);
HANDLER(h_rollback);
HANDLER(h_when);
HANDLER(h_check);
HANDLER(h_kv);
HANDLER(h_method);
HANDLER(h_url);
HANDLER(h_mode);
HANDLER(h_gate);
HANDLER(h_on_timeout);
HANDLER(h_events);
HANDLER(h_wallclock);
HANDLER(h_notify);
HANDLER(h_from);
HANDLER(h_commit);

#define FIELD(k, ty, w, fn, T, m, a) { k, ty, w, fn, offsetof(T, m), 0, a }
#define FIELD2(k, ty, w, fn, T, m, m2, a) { k, ty, w, fn, offsetof(T, m), offsetof(T, m2), a }
#define SCALAR YAML_SCALAR_NODE
#define SEQ YAML_SEQUENCE_NODE
#define MAP YAML_MAPPING_NODE
#define ANY YAML_NO_NODE

#define W_STR "a string"
#define W_NAME "a name"
#define W_BOOL "true or false"
#define W_INT "an integer"
#define W_DUR "a duration such as 30s or 5m"
#define W_NUM "a number"
#define W_MAP "a mapping"
#define W_HOST "a host name"
#define W_GATE "a question to approve, or a mapping (message, show, approvals, timeout, on_timeout)"
#define W_NAMES "a list of probe names"
#define W_TIME "an RFC 3339 time such as 2026-03-01T22:00:00Z"
#define W_BOUND "a number or {probe: NAME, times: N, plus: N}"

struct int_range {
	int min, max;
};
struct num_range {
	double min, max;
};

static const struct int_range r_attempts = { 1, 1000000 };
static const struct int_range r_port = { 1, 65535 };
static const struct int_range r_failures = { 1, 1000000 };
static const struct int_range r_version = { 0, 1000000 };
static const struct num_range r_backoff = { 1.0, 1000.0 };
static const struct num_range r_jitter = { 0.0, 1.0 };
static const struct num_range r_times = { 0.0, 1e12 };
static const struct num_range r_plus = { -1e300, 1e300 };
static const struct int_range r_approvals = { 1, 1000000 };
static const int64_t d_positive = 1, d_any = 0;
static const int a_batch = 1, a_max_fail = 0;
/* arg of a list that must not be empty */
static const bool non_empty = true;
static const enum action_kind k_run = ACT_RUN, k_http = ACT_HTTP, k_probe = ACT_PROBE,
    k_gate = ACT_GATE, k_upload = ACT_UPLOAD, k_download = ACT_DOWNLOAD, k_tcp = ACT_TCP,
    k_prometheus = ACT_PROMETHEUS;
static const enum secret_source s_env = SECRET_ENV, s_file = SECRET_FILE;
enum kv_kind { KV_ENV, KV_HEADERS };
static const enum kv_kind kv_env = KV_ENV, kv_headers = KV_HEADERS;

enum { T_RUNBOOK, T_NAME, T_DESCRIPTION, T_VARS, T_SECRETS, T_HOSTS, T_DEFAULTS, T_PROBES,
	T_PHASES, T_DEADLINE, T_WATCH, T_VERIFY_ROLLBACK, T_NOTIFY, T_NOT_BEFORE, T_NOT_AFTER };
static const struct field top_fields[] = {
	[T_RUNBOOK] = FIELD("runbook", SCALAR, "1 (the format version)", h_version, struct runbook, version, NULL),
	[T_NAME] = FIELD("name", SCALAR, W_NAME, h_name, struct runbook, name, NULL),
	[T_DESCRIPTION] = FIELD("description", SCALAR, W_STR, h_string, struct runbook, description, NULL),
	[T_VARS] = FIELD("vars", MAP, "a mapping of names to values", h_vars, struct runbook, vars, NULL),
	[T_SECRETS] = FIELD2("secrets", MAP, "a mapping of names to {env: NAME} or {file: PATH}", h_secrets, struct runbook, secrets, n_secrets, NULL),
	[T_HOSTS] = FIELD2("hosts", MAP, "a mapping of host names to hosts", h_hosts, struct runbook, hosts, n_hosts, NULL),
	[T_DEFAULTS] = FIELD("defaults", MAP, W_MAP, h_defaults, struct runbook, defaults, NULL),
	[T_PROBES] = FIELD2("probes", MAP, "a mapping of probe names to probes", h_probes, struct runbook, probes, n_probes, NULL),
	[T_PHASES] = FIELD2("phases", SEQ, "a list of phases", h_phases, struct runbook, phases, n_phases, NULL),
	[T_DEADLINE] = FIELD("deadline", SCALAR, W_DUR, h_duration, struct runbook, deadline_ms, &d_positive),
	[T_WATCH] = FIELD("watch", MAP, W_MAP, h_watch, struct runbook, watch, NULL),
	[T_VERIFY_ROLLBACK] = FIELD2("verify_rollback", SEQ, W_NAMES, h_refs, struct runbook, verify_rollback, n_verify_rollback, &non_empty),
	[T_NOTIFY] = FIELD2("notify", SEQ, "a list of hooks (on:, and run: or http:)", h_notify, struct runbook, notify, n_notify, NULL),
	[T_NOT_BEFORE] = FIELD("not_before", SCALAR, W_TIME, h_wallclock, struct runbook, not_before, NULL),
	[T_NOT_AFTER] = FIELD("not_after", SCALAR, W_TIME, h_wallclock, struct runbook, not_after, NULL),
};

static const struct field secret_fields[] = {
	FIELD("env", SCALAR, "an environment variable name", h_secret_src, struct secret_def, ref, &s_env),
	FIELD("file", SCALAR, "a file name", h_secret_src, struct secret_def, ref, &s_file),
};

enum { H_ADDRESS, H_ADDRESSES, H_HOSTS, H_PORT, H_USER, H_KEY, H_PASSPHRASE, H_KNOWN_HOSTS,
	H_VIA, H_SUDO, H_CONNECT_TIMEOUT };
static const struct field host_fields[] = {
	[H_ADDRESS] = FIELD("address", SCALAR, W_STR, h_text, struct host, address, NULL),
	[H_ADDRESSES] = FIELD2("addresses", SEQ, "a list of addresses", h_addresses, struct host, addresses, n_addresses, &non_empty),
	[H_HOSTS] = FIELD2("hosts", SEQ, "a list of host names", h_members, struct host, members, n_members, &non_empty),
	[H_PORT] = FIELD("port", SCALAR, "a port number", h_int, struct host, port, &r_port),
	[H_USER] = FIELD("user", SCALAR, W_STR, h_text, struct host, user, NULL),
	[H_KEY] = FIELD("key", SCALAR, W_STR, h_text, struct host, key, NULL),
	[H_PASSPHRASE] = FIELD("passphrase", SCALAR, "a ${secrets.NAME} reference", h_text, struct host, passphrase, NULL),
	[H_KNOWN_HOSTS] = FIELD("known_hosts", SCALAR, W_STR, h_text, struct host, known_hosts, NULL),
	[H_VIA] = FIELD2("via", SCALAR, W_HOST, h_hostname, struct host, via, via_pos, NULL),
	[H_SUDO] = FIELD("sudo", SCALAR, W_BOOL, h_tristate, struct host, sudo, NULL),
	[H_CONNECT_TIMEOUT] = FIELD("connect_timeout", SCALAR, W_DUR, h_duration, struct host, connect_timeout_ms, &d_positive),
};

enum { D_ON, D_TIMEOUT, D_RETRY, D_SUDO, D_ENV, D_WORKDIR };
static const struct field defaults_fields[] = {
	[D_ON] = FIELD2("on", SCALAR, W_HOST, h_hostname, struct defaults, on, on_pos, NULL),
	[D_TIMEOUT] = FIELD("timeout", SCALAR, W_DUR, h_duration, struct defaults, timeout_ms, &d_positive),
	[D_RETRY] = FIELD("retry", MAP, W_MAP, h_defaults_retry, struct defaults, retry, NULL),
	[D_SUDO] = FIELD("sudo", SCALAR, W_BOOL, h_tristate, struct defaults, sudo, NULL),
	[D_ENV] = FIELD2("env", MAP, "a mapping of variable names to strings", h_kv, struct defaults, env, n_env, &kv_env),
	[D_WORKDIR] = FIELD("workdir", SCALAR, W_STR, h_text, struct defaults, workdir, NULL),
};

static const struct field retry_fields[] = {
	FIELD("attempts", SCALAR, W_INT, h_int, struct retry, attempts, &r_attempts),
	FIELD("interval", SCALAR, W_DUR, h_duration, struct retry, interval_ms, &d_any),
	FIELD("backoff", SCALAR, W_NUM, h_number, struct retry, backoff, &r_backoff),
	FIELD("max_interval", SCALAR, W_DUR, h_duration, struct retry, max_interval_ms, &d_positive),
	FIELD("jitter", SCALAR, W_NUM, h_number, struct retry, jitter, &r_jitter),
};

enum { E_EXIT, E_STDOUT, E_STDERR, E_NOT_STDOUT, E_NOT_STDERR, E_STATUS, E_BODY, E_NOT_BODY,
	E_LATENCY, E_VALUE, E_NO_DATA };
static const struct field expect_fields[] = {
	[E_EXIT] = FIELD2("exit", ANY, "an exit status or a list of them", h_exit, struct expect, exit_codes, n_exit, NULL),
	[E_STDOUT] = FIELD("stdout", SCALAR, "a regular expression", h_regex, struct expect, out_re, NULL),
	[E_STDERR] = FIELD("stderr", SCALAR, "a regular expression", h_regex, struct expect, err_re, NULL),
	[E_NOT_STDOUT] = FIELD("not_stdout", SCALAR, "a regular expression", h_regex, struct expect, not_out_re, NULL),
	[E_NOT_STDERR] = FIELD("not_stderr", SCALAR, "a regular expression", h_regex, struct expect, not_err_re, NULL),
	[E_STATUS] = FIELD2("status", ANY, "an HTTP status (200), a class (\"2xx\") or a list of them", h_status, struct expect, status, n_status, NULL),
	[E_BODY] = FIELD("body", SCALAR, "a regular expression", h_regex, struct expect, body_re, NULL),
	[E_NOT_BODY] = FIELD("not_body", SCALAR, "a regular expression", h_regex, struct expect, not_body_re, NULL),
	[E_LATENCY] = FIELD("latency", SCALAR, W_DUR, h_duration, struct expect, latency_ms, &d_positive),
	[E_VALUE] = FIELD("value", MAP, W_MAP, h_value, struct expect, value_re, NULL),
	[E_NO_DATA] = FIELD("no_data", SCALAR, "'fail', 'pass' or 'hold'", h_no_data, struct expect, no_data, NULL),
};

enum { V_REGEX, V_JSON, V_BELOW, V_ABOVE, V_EQUALS, V_AT_MOST, V_AT_LEAST };
static const struct field value_fields[] = {
	[V_REGEX] = FIELD("regex", SCALAR, "a regular expression", h_regex, struct expect, value_re, NULL),
	[V_JSON] = FIELD("json", SCALAR, "a JSON pointer such as /data/result/0/value/1", h_json_pointer, struct expect, value_json, NULL),
	[V_BELOW] = FIELD("below", ANY, W_BOUND, h_bound, struct bounds, below, NULL),
	[V_ABOVE] = FIELD("above", ANY, W_BOUND, h_bound, struct bounds, above, NULL),
	[V_EQUALS] = FIELD("equals", ANY, W_BOUND, h_bound, struct bounds, equals, NULL),
	[V_AT_MOST] = FIELD("at_most", ANY, W_BOUND, h_bound, struct bounds, at_most, NULL),
	[V_AT_LEAST] = FIELD("at_least", ANY, W_BOUND, h_bound, struct bounds, at_least, NULL),
};

enum { HT_METHOD, HT_URL, HT_HEADERS, HT_BODY, HT_BODY_FILE, HT_INSECURE, HT_CA_CERT, HT_FOLLOW };
static const struct field http_fields[] = {
	[HT_METHOD] = FIELD("method", SCALAR, "an HTTP method", h_method, struct http_req, method, NULL),
	[HT_URL] = FIELD("url", SCALAR, "a URL", h_url, struct http_req, url, NULL),
	[HT_HEADERS] = FIELD2("headers", MAP, "a mapping of header names to values", h_kv, struct http_req, headers, n_headers, &kv_headers),
	[HT_BODY] = FIELD("body", SCALAR, W_STR, h_text, struct http_req, body, NULL),
	[HT_BODY_FILE] = FIELD("body_file", SCALAR, "a file name", h_text, struct http_req, body_file, NULL),
	[HT_INSECURE] = FIELD("insecure", SCALAR, W_BOOL, h_bool, struct http_req, insecure, NULL),
	[HT_CA_CERT] = FIELD("ca_cert", SCALAR, W_STR, h_text, struct http_req, ca_cert, NULL),
	[HT_FOLLOW] = FIELD("follow", SCALAR, W_BOOL, h_bool, struct http_req, follow, NULL),
};

/* prometheus: {url: BASE, query: PROMQL}: an instant query of BASE/api/v1/query */
enum { PR_URL, PR_QUERY, PR_HEADERS, PR_INSECURE, PR_CA_CERT };
static const struct field prometheus_fields[] = {
	[PR_URL] = FIELD("url", SCALAR, "the Prometheus base URL", h_url, struct http_req, url, NULL),
	[PR_QUERY] = FIELD("query", SCALAR, "a PromQL query", h_text, struct http_req, query, NULL),
	[PR_HEADERS] = FIELD2("headers", MAP, "a mapping of header names to values", h_kv, struct http_req, headers, n_headers, &kv_headers),
	[PR_INSECURE] = FIELD("insecure", SCALAR, W_BOOL, h_bool, struct http_req, insecure, NULL),
	[PR_CA_CERT] = FIELD("ca_cert", SCALAR, W_STR, h_text, struct http_req, ca_cert, NULL),
};

enum { X_SRC, X_DEST, X_MODE };
static const struct field transfer_fields[] = {
	[X_SRC] = FIELD("src", SCALAR, W_STR, h_text, struct transfer, src, NULL),
	[X_DEST] = FIELD("dest", SCALAR, W_STR, h_text, struct transfer, dest, NULL),
	[X_MODE] = FIELD("mode", SCALAR, "an octal mode such as \"0644\"", h_mode, struct transfer, mode, NULL),
};

/* Shared by named probes, inline probes (step probe:, check:). */
enum { P_RUN, P_HTTP, P_TCP, P_PROMETHEUS, P_ON, P_TIMEOUT, P_RETRY, P_EXPECT, P_ENV };
static const struct field probe_fields[] = {
	[P_RUN] = FIELD("run", SCALAR, "a shell command", h_kind, struct probe, action, &k_run),
	[P_HTTP] = FIELD("http", MAP, W_MAP, h_kind, struct probe, action, &k_http),
	[P_TCP] = FIELD("tcp", SCALAR, "HOST:PORT", h_kind, struct probe, action, &k_tcp),
	[P_PROMETHEUS] = FIELD("prometheus", MAP, "a mapping {url: BASE, query: PROMQL}", h_kind, struct probe, action, &k_prometheus),
	[P_ON] = FIELD2("on", SCALAR, W_HOST, h_hostname, struct probe, on, on_pos, NULL),
	[P_TIMEOUT] = FIELD("timeout", SCALAR, W_DUR, h_duration, struct probe, timeout_ms, &d_positive),
	[P_RETRY] = FIELD("retry", MAP, W_MAP, h_retry, struct probe, retry, NULL),
	[P_EXPECT] = FIELD("expect", MAP, W_MAP, h_expect, struct probe, expect, NULL),
	[P_ENV] = FIELD2("env", MAP, "a mapping of variable names to strings", h_kv, struct probe, env, n_env, &kv_env),
};

enum { R_RUN, R_HTTP, R_UPLOAD, R_DOWNLOAD, R_ON, R_TIMEOUT, R_RETRY, R_EXPECT, R_WHEN, R_ENV, R_ONCE };
static const struct field rollback_fields[] = {
	[R_RUN] = FIELD("run", SCALAR, "a shell command", h_kind, struct rollback, action, &k_run),
	[R_HTTP] = FIELD("http", MAP, W_MAP, h_kind, struct rollback, action, &k_http),
	[R_UPLOAD] = FIELD("upload", MAP, W_MAP, h_kind, struct rollback, action, &k_upload),
	[R_DOWNLOAD] = FIELD("download", MAP, W_MAP, h_kind, struct rollback, action, &k_download),
	[R_ON] = FIELD2("on", SCALAR, W_HOST, h_hostname, struct rollback, on, on_pos, NULL),
	[R_TIMEOUT] = FIELD("timeout", SCALAR, W_DUR, h_duration, struct rollback, timeout_ms, &d_positive),
	[R_RETRY] = FIELD("retry", MAP, W_MAP, h_retry, struct rollback, retry, NULL),
	[R_EXPECT] = FIELD("expect", MAP, W_MAP, h_expect, struct rollback, expect, NULL),
	[R_WHEN] = FIELD("when", SCALAR, "'completed' or 'always'", h_when, struct rollback, when, NULL),
	[R_ENV] = FIELD2("env", MAP, "a mapping of variable names to strings", h_kv, struct rollback, env, n_env, &kv_env),
	[R_ONCE] = FIELD("once", SCALAR, W_BOOL, h_bool, struct rollback, once, NULL),
};

enum { S_NAME, S_DESCRIPTION, S_ON, S_TIMEOUT, S_RETRY, S_EXPECT, S_CAPTURE, S_AFTER, S_PAUSE,
	S_FOR, S_BATCH, S_MAX_FAIL, S_ROLLBACK, S_IDEMPOTENT, S_CHECK, S_ENV, S_WORKDIR, S_SUDO,
	S_RUN, S_HTTP, S_PROBE, S_GATE, S_UPLOAD, S_DOWNLOAD, S_COUNT };
static const struct field step_fields[] = {
	[S_NAME] = FIELD("name", SCALAR, W_NAME, h_name, struct step, name, NULL),
	[S_DESCRIPTION] = FIELD("description", SCALAR, W_STR, h_string, struct step, description, NULL),
	[S_ON] = FIELD2("on", SCALAR, W_HOST, h_hostname, struct step, on, on_pos, NULL),
	[S_TIMEOUT] = FIELD("timeout", SCALAR, W_DUR, h_duration, struct step, timeout_ms, &d_positive),
	[S_RETRY] = FIELD("retry", MAP, W_MAP, h_retry, struct step, retry, NULL),
	[S_EXPECT] = FIELD("expect", MAP, W_MAP, h_expect, struct step, expect, NULL),
	[S_CAPTURE] = FIELD2("capture", MAP, "a mapping of names to patterns", h_capture, struct step, captures, n_captures, NULL),
	[S_AFTER] = FIELD2("after", SEQ, W_NAMES, h_refs, struct step, after, n_after, NULL),
	[S_PAUSE] = FIELD("pause", SCALAR, W_DUR, h_duration, struct step, pause_ms, &d_positive),
	[S_FOR] = FIELD("for", ANY, "a list or a single ${var} naming a list", h_for, struct step, for_list, NULL),
	[S_BATCH] = FIELD("batch", SCALAR, "a number of hosts or a percentage such as \"25%\"", h_amount, struct step, batch, &a_batch),
	[S_MAX_FAIL] = FIELD("max_fail", SCALAR, "a number of hosts or a percentage such as \"10%\"", h_amount, struct step, max_fail, &a_max_fail),
	[S_ROLLBACK] = FIELD("rollback", MAP, W_MAP, h_rollback, struct step, rollback, NULL),
	[S_IDEMPOTENT] = FIELD("idempotent", SCALAR, W_BOOL, h_bool, struct step, idempotent, NULL),
	[S_CHECK] = FIELD("check", ANY, "a probe name or a probe", h_check, struct step, check, NULL),
	[S_ENV] = FIELD2("env", MAP, "a mapping of variable names to strings", h_kv, struct step, env, n_env, &kv_env),
	[S_WORKDIR] = FIELD("workdir", SCALAR, W_STR, h_text, struct step, workdir, NULL),
	[S_SUDO] = FIELD("sudo", SCALAR, W_BOOL, h_tristate, struct step, sudo, NULL),
	[S_RUN] = FIELD("run", SCALAR, "a shell command", h_kind, struct step, action, &k_run),
	[S_HTTP] = FIELD("http", MAP, W_MAP, h_kind, struct step, action, &k_http),
	[S_PROBE] = FIELD("probe", ANY, "a probe name or a probe", h_kind, struct step, action, &k_probe),
	[S_GATE] = FIELD("gate", ANY, W_GATE, h_kind, struct step, action, &k_gate),
	[S_UPLOAD] = FIELD("upload", MAP, W_MAP, h_kind, struct step, action, &k_upload),
	[S_DOWNLOAD] = FIELD("download", MAP, W_MAP, h_kind, struct step, action, &k_download),
};

enum { PH_NAME, PH_DESCRIPTION, PH_GATE, PH_STEPS, PH_VERIFY, PH_WATCH, PH_COMMIT, PH_DEADLINE,
	PH_NOT_BEFORE, PH_NOT_AFTER };
static const struct field phase_fields[] = {
	[PH_NAME] = FIELD("name", SCALAR, W_NAME, h_name, struct phase, name, NULL),
	[PH_DESCRIPTION] = FIELD("description", SCALAR, W_STR, h_string, struct phase, description, NULL),
	[PH_GATE] = FIELD2("gate", ANY, W_GATE, h_gate, struct phase, gate, gate_cfg, NULL),
	[PH_COMMIT] = FIELD("commit", SCALAR, W_BOOL, h_commit, struct phase, commit, NULL),
	[PH_DEADLINE] = FIELD("deadline", SCALAR, W_DUR, h_duration, struct phase, deadline_ms, &d_positive),
	[PH_NOT_BEFORE] = FIELD("not_before", SCALAR, W_TIME, h_wallclock, struct phase, not_before, NULL),
	[PH_NOT_AFTER] = FIELD("not_after", SCALAR, W_TIME, h_wallclock, struct phase, not_after, NULL),
	[PH_STEPS] = FIELD2("steps", SEQ, "a list of steps", h_steps, struct phase, steps, n_steps, NULL),
	[PH_VERIFY] = FIELD2("verify", SEQ, W_NAMES, h_refs, struct phase, verify, n_verify, NULL),
	[PH_WATCH] = FIELD("watch", MAP, W_MAP, h_watch, struct phase, watch, NULL),
};

enum { WA_PROBES, WA_INTERVAL, WA_FAILURES, WA_WINDOW, WA_DELAY, WA_FROM };
static const struct field watch_fields[] = {
	[WA_PROBES] = FIELD2("probes", SEQ, W_NAMES, h_refs, struct watch, probes, n_probes, &non_empty),
	[WA_INTERVAL] = FIELD("interval", SCALAR, W_DUR, h_duration, struct watch, interval_ms, &d_positive),
	[WA_FAILURES] = FIELD("failures", SCALAR, W_INT, h_int, struct watch, failures, &r_failures),
	[WA_WINDOW] = FIELD("window", SCALAR, W_INT, h_int, struct watch, window, &r_failures),
	[WA_DELAY] = FIELD("delay", SCALAR, W_DUR, h_duration, struct watch, delay_ms, &d_any),
	[WA_FROM] = FIELD2("from", SCALAR, "a phase name", h_from, struct watch, from, from_pos, NULL),
};

enum { G_MESSAGE, G_SHOW, G_APPROVALS, G_TIMEOUT, G_ON_TIMEOUT };
static const struct field gate_fields[] = {
	[G_MESSAGE] = FIELD("message", SCALAR, "a question to approve", h_text, struct gate_parse, message, NULL),
	[G_SHOW] = FIELD2("show", SEQ, W_NAMES, h_refs, struct gate_parse, cfg.show, cfg.n_show, &non_empty),
	[G_APPROVALS] = FIELD("approvals", SCALAR, "a number of approvers (at least 1)", h_int, struct gate_parse, cfg.approvals, &r_approvals),
	[G_TIMEOUT] = FIELD("timeout", SCALAR, W_DUR, h_duration, struct gate_parse, cfg.timeout_ms, &d_positive),
	[G_ON_TIMEOUT] = FIELD("on_timeout", SCALAR, "'stop' or 'rollback'", h_on_timeout, struct gate_parse, cfg.on_timeout, NULL),
};

enum { N_ON, N_RUN, N_HTTP, N_TIMEOUT };
static const struct field notify_fields[] = {
	[N_ON] = FIELD("on", ANY, "a list of events (start, phase, gate, failure, rollback, done)", h_events, struct notify_hook, events, NULL),
	[N_RUN] = FIELD("run", SCALAR, "a shell command", h_kind, struct notify_hook, action, &k_run),
	[N_HTTP] = FIELD("http", MAP, W_MAP, h_kind, struct notify_hook, action, &k_http),
	[N_TIMEOUT] = FIELD("timeout", SCALAR, W_DUR, h_duration, struct notify_hook, timeout_ms, &d_positive),
};

enum { B_PROBE, B_TIMES, B_PLUS };
static const struct field baseline_fields[] = {
	[B_PROBE] = FIELD2("probe", SCALAR, "a probe name", h_hostname, struct bound, probe, probe_pos, NULL),
	[B_TIMES] = FIELD("times", SCALAR, W_NUM, h_number, struct bound, times, &r_times),
	[B_PLUS] = FIELD("plus", SCALAR, W_NUM, h_number, struct bound, plus, &r_plus),
};

/* --- the table walker --- */

/* Tables whose keys are often written one level too high. */
static const struct {
	const char *parent;
	const struct field *tab;
	size_t n;
} nested_tables[] = {
	{ "retry", retry_fields, ARRAY_LEN(retry_fields) },
	{ "expect", expect_fields, ARRAY_LEN(expect_fields) },
	{ "http", http_fields, ARRAY_LEN(http_fields) },
};

static bool
table_has(const struct field *tab, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (tab[i].key && strcmp(tab[i].key, key) == 0)
			return true;
	return false;
}

/* "unknown key 'timout' in step 'x' (did you mean 'timeout'?)" */
static void
unknown_key(struct loader *ld, yaml_node_t *key, const struct field *tab, size_t n, const char *in)
{
	struct suggest sg;

	suggest_init(&sg, sval(key));
	for (size_t j = 0; j < n; j++)
		suggest_try(&sg, tab[j].key);
	if (sg.best == NULL) {
		for (size_t i = 0; i < ARRAY_LEN(nested_tables); i++) {
			if (table_has(tab, n, nested_tables[i].parent) &&
			    table_has(nested_tables[i].tab, nested_tables[i].n, sval(key))) {
				err(ld, key, "unknown key '%s' in %s (it belongs under '%s:')", sval(key),
				    in, nested_tables[i].parent);
				return;
			}
		}
	}
	err(ld, key, "unknown key '%s' in %s%s", sval(key), in, suggest_hint(&sg, &ld->scratch));
}

/*
 * Parse the mapping node against table tab (n entries) into obj. in names
 * the mapping for messages ("step 'x'"). Fills seen when given.
 */
static void
parse_map(struct loader *ld, yaml_node_t *node, const struct field *tab, size_t n,
    void *obj, const char *in, struct seen *seen)
{
	struct pairs ps;
	struct seen local;

	if (seen == NULL)
		seen = &local;
	memset(seen, 0, sizeof(*seen));
	if (node->type != YAML_MAPPING_NODE)
		return;
	collect_pairs(ld, node, &ps, false);
	for (size_t i = 0; i < ps.n; i++) {
		yaml_node_t *key = ps.v[i].key, *val = ps.v[i].val;
		const struct field *f = NULL;
		const char *k = sval(key);
		size_t j;

		for (j = 0; j < n && j < MAX_FIELDS; j++) {
			if (tab[j].key && tab[j].key[0] == k[0] && strcmp(tab[j].key, k) == 0) {
				f = &tab[j];
				break;
			}
		}
		if (f == NULL) {
			unknown_key(ld, key, tab, n, in);
			continue;
		}
		seen->key[j] = key;
		seen->val[j] = val;
		if (f->type != YAML_NO_NODE && (val->type != f->type ||
		    (f->type == YAML_SCALAR_NODE && is_null(val)))) {
			type_error(ld, f, key);
			continue;
		}
		if (val->type == YAML_SCALAR_NODE && !scalar_ok(ld, f->key, val))
			continue;
		f->fn(ld, f, key, val, obj);
	}
	free(ps.v);
}

#define PARSE(ld, node, tab, obj, in, seen) \
	parse_map(ld, node, tab, ARRAY_LEN(tab), obj, in, seen)

/* Report "<what> is missing '<key>'" for a required key not seen. */
static bool
require(struct loader *ld, yaml_node_t *node, const struct seen *seen, const struct field *tab,
    int i, const char *what)
{
	if (seen->key[i])
		return true;
	err(ld, node, "%s is missing '%s'", what, tab[i].key);
	return false;
}

/* --- simple handlers --- */

static void
h_string(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	char **p = AT(obj, f->off, char *);

	free(*p);
	*p = xstrdup(sval(val));
}

static void
h_text(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct text *t = AT(obj, f->off, struct text);

	text_release(t);
	*t = text_of(ld, val);
}

static void
h_name(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	h_string(ld, f, key, val, obj);
	if (!name_valid(sval(val)))
		err(ld, val, "invalid name '%s' (use " NAME_PATTERN ": lowercase letters, digits, "
		    "'.', '_' and '-', starting with a letter or digit)", sval(val));
}

/* A host name for on: or via: (checked against hosts: later), and its position. */
static void
h_hostname(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	h_string(ld, f, key, val, obj);
	*AT(obj, f->off2, struct pos) = npos(ld, val);
}

static void
h_bool(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	if (!parse_bool(val, AT(obj, f->off, bool)))
		type_error(ld, f, key);
}

static void
h_tristate(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	bool b;

	if (!parse_bool(val, &b))
		type_error(ld, f, key);
	else
		*AT(obj, f->off, int) = b;
}

/* Keys that take one ${...} reference instead of a literal (SPEC §7). */
static bool
takes_ref(const char *key)
{
	static const char *const keys[] = { "timeout", "pause", "batch", "max_fail", "attempts",
		"interval", "deadline", "below", "above", "equals", "at_most", "at_least" };

	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/*
 * A numeric or duration value written as ${...}: remember it for
 * runbook_check() (vars) or the engine (the item) and return true; the
 * field keeps its default meanwhile. false: a literal, for the handler.
 */
static bool
deferred(struct loader *ld, const struct field *f, yaml_node_t *val, void *target,
    enum numref_kind kind, int64_t min)
{
	struct numref nr;
	struct interp_ref ref;

	if (val->type != YAML_SCALAR_NODE || strstr(sval(val), "${") == NULL)
		return false;
	if (!takes_ref(f->key)) {
		err(ld, val, "'%s' must be %s; it does not take a ${...} reference", f->key, f->what);
		return true;
	}
	if (!interp_is_single_ref(sval(val), &ref, &ld->scratch)) {
		err(ld, val, "'%s' must be %s, or exactly one ${...} reference", f->key, f->what);
		return true;
	}
	memset(&nr, 0, sizeof(nr));
	nr.ref = text_of(ld, val);
	nr.field = f->key;
	nr.kind = kind;
	nr.min = min;
	nr.target = target;
	nr.step = ld->step;
	nr.per_unit = ref.ns == REF_ITEM;
	if (kind == NUM_BOUND)
		((struct bound *)target)->set = true;   /* its value comes later */
	PUSH(ld->rb->numrefs, ld->rb->n_numrefs, ld->rb->cap_numrefs, nr);
	return true;
}

static bool
int_in(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val,
    const struct int_range *r, int *out)
{
	long long v;

	if (val->type != YAML_SCALAR_NODE || !parse_ll(sval(val), &v)) {
		type_error(ld, f, key);
		return false;
	}
	if (v < r->min || v > r->max) {
		if (r->max >= 1000000)
			err(ld, val, "'%s' must be at least %d", f->key, r->min);
		else
			err(ld, val, "'%s' must be between %d and %d", f->key, r->min, r->max);
		return false;
	}
	*out = (int)v;
	return true;
}

static void
h_int(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	if (deferred(ld, f, val, AT(obj, f->off, int), NUM_INT, ((const struct int_range *)f->arg)->min))
		return;
	int_in(ld, f, key, val, f->arg, AT(obj, f->off, int));
}

static void
h_duration(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	int64_t ms;

	if (deferred(ld, f, val, AT(obj, f->off, int64_t), NUM_DURATION, *(const int64_t *)f->arg))
		return;
	if (duration_parse(sval(val), &ms) < 0) {
		err(ld, val, "invalid duration '%s' for '%s' (write e.g. 250ms, 30s, 5m, 1h30m)",
		    sval(val), f->key);
		return;
	}
	if (ms < *(const int64_t *)f->arg) {
		err(ld, val, "'%s' must be longer than 0", f->key);
		return;
	}
	*AT(obj, f->off, int64_t) = ms;
}

/* A number, into a double or (for expect.value bounds) a struct bound. */
static void
h_number(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	const struct num_range *r = f->arg;
	double v;

	if (!parse_num(sval(val), &v)) {
		type_error(ld, f, key);
		return;
	}
	if (v < r->min || v > r->max) {
		err(ld, val, "'%s' must be between %g and %g", f->key, r->min, r->max);
		return;
	}
	*AT(obj, f->off, double) = v;
}

/*
 * A bound of expect.value: a number, one ${...}, or relative to a baseline
 * probe ({probe: NAME, times: N, plus: N}).
 */
static void
h_bound(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct expect *e = obj;
	struct bound *b;
	struct seen seen;
	char *what;

	if (e->bounds == NULL)
		e->bounds = xcalloc(1, sizeof(*e->bounds));
	b = AT(e->bounds, f->off, struct bound);

	if (val->type == YAML_MAPPING_NODE) {
		b->times = 1.0;
		b->plus = 0.0;
		what = xasprintf("'%s' of expect.value", f->key);
		PARSE(ld, val, baseline_fields, b, what, &seen);
		free(what);
		if (!seen.key[B_PROBE])
			err(ld, key, "'%s' relative to a baseline needs 'probe' (the probe to compare with)", f->key);
		b->set = true;
		return;
	}
	if (val->type != YAML_SCALAR_NODE || is_null(val)) {
		type_error(ld, f, key);
		return;
	}
	if (!scalar_ok(ld, f->key, val) || deferred(ld, f, val, b, NUM_BOUND, 0))
		return;
	if (!parse_num(sval(val), &b->v)) {
		type_error(ld, f, key);
		return;
	}
	b->set = true;
}

static void
h_version(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	int v;

	if (!int_in(ld, f, key, val, &r_version, &v))
		return;
	if (v != 1)
		err(ld, val, "unsupported runbook version %d (this migrate reads version 1)", v);
	*AT(obj, f->off, int) = v;
}

/* --- plain values (vars:, --vars) --- */

static void
value_of(struct loader *ld, yaml_node_t *n, struct value *out)
{
	memset(out, 0, sizeof(*out));
	out->pos = npos(ld, n);
	if (n->type == YAML_SCALAR_NODE) {
		out->type = VAL_STR;
		out->str = xstrdup(is_null(n) ? "" : sval(n));
		if (strlen(sval(n)) != n->data.scalar.length)
			err(ld, n, "value contains a NUL character");
	} else if (n->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it = n->data.sequence.items.start;
		out->type = VAL_LIST;
		out->n = (size_t)(n->data.sequence.items.top - it);
		out->items = xcalloc(out->n, sizeof(*out->items));
		for (size_t i = 0; i < out->n; i++)
			value_of(ld, node_at(ld, it[i]), &out->items[i]);
	} else {
		struct pairs ps;
		collect_pairs(ld, n, &ps, false);
		out->type = VAL_MAP;
		out->n = ps.n;
		out->items = xcalloc(ps.n, sizeof(*out->items));
		out->keys = xcalloc(ps.n, sizeof(*out->keys));
		for (size_t i = 0; i < ps.n; i++) {
			out->keys[i] = xstrdup(sval(ps.v[i].key));
			value_of(ld, ps.v[i].val, &out->items[i]);
		}
		free(ps.v);
	}
}

/* Names of vars and captures: letters, digits, '_' and '-' (no '.': ${a.b} indexes). */
static bool
word_valid(const char *s)
{
	return *s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}

static void
h_vars(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	/* names that ${...} reads as something else */
	static const char *const reserved[] = { "item", "host", "phase", "secrets", "env", "steps", "run" };
	struct value *vars = AT(obj, f->off, struct value);
	struct pairs ps;

	value_release(vars);
	value_of(ld, val, vars);
	collect_pairs(ld, val, &ps, true);
	for (size_t i = 0; i < ps.n; i++) {
		const char *name = sval(ps.v[i].key);
		if (!word_valid(name))
			err(ld, ps.v[i].key, "invalid variable name '%s' (use letters, digits, '_' and '-')", name);
		for (size_t j = 0; j < ARRAY_LEN(reserved); j++)
			if (strcmp(name, reserved[j]) == 0)
				err(ld, ps.v[i].key, "'%s' is a reserved name (${%s} means something else)",
				    name, name);
	}
	free(ps.v);
}

/* --- secrets --- */

static bool
env_name_valid(const char *s)
{
	return (*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')) &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == strlen(s);
}

static void
h_secret_src(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct secret_def *sd = obj;

	if (sd->ref) {
		err(ld, key, "secret '%s' has both 'env' and 'file'", sd->name);
		return;
	}
	sd->source = *(const enum secret_source *)f->arg;
	sd->ref = xstrdup(sval(val));
	if (sd->source == SECRET_ENV && !env_name_valid(sd->ref))
		err(ld, val, "invalid environment variable name '%s'", sd->ref);
}

static void
h_secrets(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct runbook *rb = obj;
	struct pairs ps;

	collect_pairs(ld, val, &ps, false);
	rb->secrets = xcalloc(ps.n, sizeof(*rb->secrets));
	for (size_t i = 0; i < ps.n; i++) {
		struct secret_def *sd = &rb->secrets[rb->n_secrets++];
		yaml_node_t *k = ps.v[i].key, *v = ps.v[i].val;
		char *in;
		sd->name = xstrdup(sval(k));
		sd->pos = npos(ld, k);
		if (!env_name_valid(sd->name))
			err(ld, k, "invalid secret name '%s' (use letters, digits and '_'; it is "
			    "also offered as MIGRATE_SECRET_<NAME>)", sd->name);
		if (v->type != YAML_MAPPING_NODE) {
			err(ld, k, "secret '%s' must be {env: NAME} or {file: PATH}", sd->name);
			continue;
		}
		in = xasprintf("secret '%s'", sd->name);
		PARSE(ld, v, secret_fields, sd, in, NULL);
		free(in);
		if (sd->ref == NULL)
			err(ld, k, "secret '%s' needs 'env' or 'file'", sd->name);
	}
	free(ps.v);
}

/* --- hosts --- */

/*
 * The items of a list of strings (addresses, host names, probe names):
 * returns the good ones (the caller frees the array), *n their number;
 * the others are reported where they stand.
 */
static yaml_node_t **
seq_strings(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, size_t *n)
{
	yaml_node_item_t *it = val->data.sequence.items.start;
	size_t count = (size_t)(val->data.sequence.items.top - it);
	yaml_node_t **out = xcalloc(count, sizeof(*out));

	*n = 0;
	if (count == 0 && f->arg == &non_empty)
		err(ld, key, "'%s' is empty", f->key);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = node_at(ld, it[i]);
		if (item->type != YAML_SCALAR_NODE || is_null(item))
			err(ld, item, "'%s' must be %s", f->key, f->what);
		else if (scalar_ok(ld, f->key, item))
			out[(*n)++] = item;
	}
	return out;
}

static void
h_addresses(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct host *h = obj;
	yaml_node_t **items = seq_strings(ld, f, key, val, &h->n_addresses);

	h->addresses = xcalloc(h->n_addresses, sizeof(*h->addresses));
	for (size_t i = 0; i < h->n_addresses; i++)
		h->addresses[i] = text_of(ld, items[i]);
	free(items);
}

static void
h_members(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct host *h = obj;
	yaml_node_t **items = seq_strings(ld, f, key, val, &h->n_members);

	h->members = xcalloc(h->n_members, sizeof(*h->members));
	h->member_pos = xcalloc(h->n_members, sizeof(*h->member_pos));
	for (size_t i = 0; i < h->n_members; i++) {
		h->members[i] = xstrdup(sval(items[i]));
		h->member_pos[i] = npos(ld, items[i]);
	}
	free(items);
}


static void
parse_host(struct loader *ld, yaml_node_t *k, yaml_node_t *v, struct host *h)
{
	static const int kinds[] = { H_ADDRESS, H_ADDRESSES, H_HOSTS };
	struct seen seen;
	char *in;
	int first = -1;

	host_init(h);
	h->name = xstrdup(sval(k));
	h->pos = npos(ld, k);
	if (strcmp(h->name, "local") == 0)
		err(ld, k, "'local' is built in (this machine) and cannot be defined in hosts:");
	else if (!name_valid(h->name))
		err(ld, k, "invalid host name '%s' (use " NAME_PATTERN ")", h->name);
	if (v->type != YAML_MAPPING_NODE) {
		err(ld, k, "host '%s' must be a mapping ({address: ...}, {addresses: [...]} or "
		    "{hosts: [...]})", h->name);
		return;
	}
	in = xasprintf("host '%s'", h->name);
	PARSE(ld, v, host_fields, h, in, &seen);
	free(in);
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
		if (!seen.key[kinds[i]])
			continue;
		if (first >= 0)
			err(ld, seen.key[kinds[i]], "host '%s' has both '%s' and '%s' (give exactly one)",
			    h->name, host_fields[first].key, host_fields[kinds[i]].key);
		else
			first = kinds[i];
	}
	if (first < 0)
		err(ld, k, "host '%s' needs 'address', 'addresses' or 'hosts'", h->name);
	if (first == H_HOSTS) {
		for (size_t i = 0; i < ARRAY_LEN(host_fields); i++)
			if (seen.key[i] && i != H_HOSTS)
				err(ld, seen.key[i], "'%s' is not allowed in group '%s' of named hosts "
				    "(each member keeps its own fields)", host_fields[i].key, h->name);
	}
	if (h->passphrase.s) {
		struct interp_ref ref;
		if (!interp_is_single_ref(h->passphrase.s, &ref, &ld->scratch) || ref.ns != REF_SECRET ||
		    ref.filter != FILTER_NONE)
			err(ld, seen.val[H_PASSPHRASE], "'passphrase' must be a ${secrets.NAME} reference, "
			    "never the passphrase itself");
	}
}

static void
h_hosts(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct runbook *rb = obj;
	struct pairs ps;

	collect_pairs(ld, val, &ps, false);
	rb->hosts = xcalloc(ps.n, sizeof(*rb->hosts));
	for (size_t i = 0; i < ps.n; i++)
		parse_host(ld, ps.v[i].key, ps.v[i].val, &rb->hosts[rb->n_hosts++]);
	free(ps.v);
}

/* --- small value handlers --- */

static void
h_defaults(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	PARSE(ld, val, defaults_fields, AT(obj, f->off, struct defaults), "defaults", NULL);
}

static void
h_defaults_retry(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct defaults *d = obj;

	d->has_retry = true;
	h_retry(ld, f, key, val, obj);
}

static void
h_retry(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	PARSE(ld, val, retry_fields, AT(obj, f->off, struct retry), "retry", NULL);
}

static void
h_regex(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct regex **re = AT(obj, f->off, struct regex *);
	char *msg = NULL;

	regex_free(*re);
	*re = regex_compile(sval(val), &msg);
	if (*re == NULL) {
		err(ld, val, "%s", msg);
		free(msg);
	}
}

/* Capture patterns (capture:, expect.value) take exactly one group (...). */
static void
require_one_group(struct loader *ld, yaml_node_t *val, const struct regex *re, const char *what)
{
	if (re && regex_groups(re) != 1)
		err(ld, val, "%s must have exactly one capture group (...), it has %d",
		    what, regex_groups(re));
}

static struct regex *
regex_one_group(struct loader *ld, yaml_node_t *val, const char *what)
{
	char *msg = NULL;
	struct regex *re = regex_compile(sval(val), &msg);

	if (re == NULL) {
		err(ld, val, "%s", msg);
		free(msg);
	}
	require_one_group(ld, val, re, what);
	return re;
}

static void
h_value(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct expect *e = obj;
	struct seen seen;

	e->value_pos = npos(ld, key);
	PARSE(ld, val, value_fields, e, "expect.value", &seen);
	if (seen.key[V_REGEX] && seen.key[V_JSON]) {
		err(ld, seen.key[V_JSON], "expect.value takes either 'regex' or 'json', not both");
		return;
	}
	/* without regex or json: a prometheus probe's first sample (checked with the kind) */
	if (seen.key[V_REGEX])
		require_one_group(ld, seen.val[V_REGEX], e->value_re, "the regex of expect.value");
	/* a bound that is written but wrong is reported at the bound, not as missing */
	if (!seen.key[V_BELOW] && !seen.key[V_ABOVE] && !seen.key[V_EQUALS] && !seen.key[V_AT_MOST] &&
	    !seen.key[V_AT_LEAST])
		err(ld, key, "expect.value needs a bound: below, above, equals, at_most or at_least");
}

/* An RFC 6901 JSON pointer: empty (the whole document) or /-separated tokens, ~ only as ~0 or ~1. */
static void
h_json_pointer(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	const char *s = sval(val);

	if (s[0] != '\0' && s[0] != '/') {
		err(ld, val, "'json' must be a JSON pointer starting with '/' (got '%s')", s);
		return;
	}
	for (const char *p = s; *p; p++) {
		if (*p == '~' && p[1] != '0' && p[1] != '1') {
			err(ld, val, "'json': '~' must be followed by 0 or 1 in a JSON pointer (got '%s')", s);
			return;
		}
	}
	*AT(obj, f->off, char *) = xstrdup(s);
}

static void
h_no_data(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	enum no_data *nd = AT(obj, f->off, enum no_data);

	if (strcmp(sval(val), "fail") == 0)
		*nd = NO_DATA_FAIL;
	else if (strcmp(sval(val), "pass") == 0)
		*nd = NO_DATA_PASS;
	else if (strcmp(sval(val), "hold") == 0)
		*nd = NO_DATA_HOLD;
	else
		type_error(ld, f, key);
}

static void
h_expect(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct expect *e = AT(obj, f->off, struct expect);

	e->pos = npos(ld, key);
	PARSE(ld, val, expect_fields, e, "expect", NULL);
}

/*
 * A scalar or a list of scalars, each converted by conv into an int[2]
 * range; *out and *n receive the array. Used by expect.exit and .status.
 */
typedef bool (*range_fn)(const char *s, int r[2]);

static void
int_ranges(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val,
    range_fn conv, int (**out)[2], size_t *n)
{
	yaml_node_t *one[1] = { val };
	size_t count = 1;

	if (val->type == YAML_MAPPING_NODE || (val->type == YAML_SCALAR_NODE && is_null(val))) {
		type_error(ld, f, key);
		return;
	}
	if (val->type == YAML_SEQUENCE_NODE) {
		count = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
		if (count == 0) {
			err(ld, key, "'%s' is an empty list", f->key);
			return;
		}
	}
	*out = xcalloc(count, sizeof(**out));
	*n = 0;
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *it = val->type == YAML_SEQUENCE_NODE ?
		    node_at(ld, val->data.sequence.items.start[i]) : one[0];
		if (it->type != YAML_SCALAR_NODE || !conv(sval(it), (*out)[*n])) {
			err(ld, it, "'%s' must be %s", f->key, f->what);
			continue;
		}
		(*n)++;
	}
}

static bool
exit_range(const char *s, int r[2])
{
	long long v;

	if (!parse_ll(s, &v) || v < 0 || v > 255)
		return false;
	r[0] = r[1] = (int)v;
	return true;
}

static bool
status_range(const char *s, int r[2])
{
	long long v;

	if (strlen(s) == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
	    (s[2] == 'x' || s[2] == 'X')) {
		r[0] = (s[0] - '0') * 100;
		r[1] = r[0] + 99;
		return true;
	}
	if (!parse_ll(s, &v) || v < 100 || v > 599)
		return false;
	r[0] = r[1] = (int)v;
	return true;
}

static void
h_exit(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct expect *e = obj;
	int (*r)[2] = NULL;
	size_t n = 0;

	int_ranges(ld, f, key, val, exit_range, &r, &n);
	if (r == NULL)
		return;
	e->exit_codes = xcalloc(n, sizeof(*e->exit_codes));
	for (size_t i = 0; i < n; i++)
		e->exit_codes[i] = r[i][0];
	e->n_exit = n;
	free(r);
}

static void
h_status(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct expect *e = obj;

	int_ranges(ld, f, key, val, status_range, &e->status, &e->n_status);
}

static void
h_capture(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct step *s = obj;
	struct pairs ps;

	collect_pairs(ld, val, &ps, false);
	s->captures = xcalloc(ps.n, sizeof(*s->captures));
	for (size_t i = 0; i < ps.n; i++) {
		yaml_node_t *k = ps.v[i].key, *v = ps.v[i].val;
		struct capture *c = &s->captures[s->n_captures++];
		char *what;
		c->name = xstrdup(sval(k));
		c->pos = npos(ld, k);
		if (!word_valid(c->name))
			err(ld, k, "invalid capture name '%s' (use letters, digits, '_' and '-')", c->name);
		if (v->type != YAML_SCALAR_NODE || is_null(v) || !scalar_ok(ld, c->name, v)) {
			err(ld, k, "capture '%s' must be a regular expression", c->name);
			continue;
		}
		what = xasprintf("capture '%s'", c->name);
		c->re = regex_one_group(ld, v, what);
		free(what);
	}
	free(ps.v);
}

static void
h_refs(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct probe_ref **refs = AT(obj, f->off, struct probe_ref *);
	size_t *n = AT(obj, f->off2, size_t);
	yaml_node_t **items = seq_strings(ld, f, key, val, n);

	*refs = xcalloc(*n, sizeof(**refs));
	for (size_t i = 0; i < *n; i++) {
		(*refs)[i].name = xstrdup(sval(items[i]));
		(*refs)[i].pos = npos(ld, items[i]);
	}
	free(items);
}

static void
h_for(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct step *s = obj;

	if (val->type == YAML_SEQUENCE_NODE) {
		value_of(ld, val, &s->for_list);
		for (size_t i = 0; i < s->for_list.n; i++) {
			const struct value *it = &s->for_list.items[i];
			bool plain = it->type == VAL_STR || (it->type == VAL_MAP && it->n > 0);
			for (size_t k = 0; it->type == VAL_MAP && k < it->n; k++)
				plain = plain && it->items[k].type == VAL_STR;
			if (!plain)
				report_at(&ld->rep, it->pos, "item %zu of 'for' must be a plain value or a "
				    "mapping of plain values ({pct: 10, bake: 5m})", i + 1);
		}
	} else if (val->type == YAML_SCALAR_NODE && !is_null(val)) {
		s->for_ref = text_of(ld, val);
	} else {
		type_error(ld, f, key);
		return;
	}
	s->has_for = true;
}

static void
h_amount(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct amount *a = AT(obj, f->off, struct amount);
	int min = *(const int *)f->arg;
	const char *s = sval(val);
	size_t len = strlen(s);
	long long v;

	a->pos = npos(ld, val);
	if (deferred(ld, f, val, a, NUM_AMOUNT, min))
		return;
	if (len > 1 && s[len - 1] == '%') {
		char *num = xstrndup(s, len - 1);
		bool ok = parse_ll(num, &v);
		free(num);
		if (!ok || v < min || v > 100) {
			err(ld, val, "'%s' must be a percentage from %d%% to 100%%", f->key, min);
			return;
		}
		a->percent = true;
	} else if (!parse_ll(s, &v)) {
		type_error(ld, f, key);
		return;
	} else if (v < min || v > 1000000) {
		err(ld, val, "'%s' must be at least %d", f->key, min);
		return;
	}
	a->set = true;
	a->n = (int)v;
}

static void
h_when(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	enum rollback_when *w = AT(obj, f->off, enum rollback_when);

	if (strcmp(sval(val), "completed") == 0)
		*w = WHEN_COMPLETED;
	else if (strcmp(sval(val), "always") == 0)
		*w = WHEN_ALWAYS;
	else
		type_error(ld, f, key);
}

static bool
header_name_valid(const char *s)
{
	return *s && strspn(s, "!#$%&'*+-.^_`|~0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == strlen(s);
}

static void
h_kv(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct kv **out = AT(obj, f->off, struct kv *);
	size_t *n = AT(obj, f->off2, size_t);
	enum kv_kind kind = *(const enum kv_kind *)f->arg;
	struct pairs ps;

	collect_pairs(ld, val, &ps, false);
	*out = xcalloc(ps.n, sizeof(**out));
	for (size_t i = 0; i < ps.n; i++) {
		yaml_node_t *k = ps.v[i].key, *v = ps.v[i].val;
		struct kv *kv;
		if (kind == KV_ENV && !env_name_valid(sval(k)))
			err(ld, k, "invalid environment variable name '%s'", sval(k));
		else if (kind == KV_HEADERS && !header_name_valid(sval(k)))
			err(ld, k, "invalid header name '%s'", sval(k));
		if (v->type != YAML_SCALAR_NODE || is_null(v)) {
			err(ld, k, "the value of '%s' in '%s' must be a string", sval(k), f->key);
			continue;
		}
		if (!scalar_ok(ld, sval(k), v))
			continue;
		if (kind == KV_HEADERS && strpbrk(sval(v), "\r\n"))
			err(ld, v, "header '%s' contains a line break (CR or LF)", sval(k));
		kv = &(*out)[(*n)++];
		kv->key = xstrdup(sval(k));
		kv->key_pos = npos(ld, k);
		kv->value = text_of(ld, v);
	}
	free(ps.v);
}

static void
h_method(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS" };
	struct text *t = AT(obj, f->off, struct text);

	h_text(ld, f, key, val, obj);
	for (char *p = t->s; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	for (size_t i = 0; i < ARRAY_LEN(methods); i++)
		if (strcmp(t->s, methods[i]) == 0)
			return;
	err(ld, val, "unsupported HTTP method '%s' (use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)",
	    sval(val));
}

static void
h_url(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	static const char *const schemes[] = { "http://", "https://", "file:", "${" };
	const char *s = sval(val);

	h_text(ld, f, key, val, obj);
	for (size_t i = 0; i < ARRAY_LEN(schemes); i++)
		if (strncasecmp(s, schemes[i], strlen(schemes[i])) == 0)
			return;
	err(ld, val, "'url' must start with http://, https:// or file: (got '%s')", s);
}

static void
h_mode(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	const char *s = sval(val);
	size_t len = strlen(s);

	if (len < 3 || len > 4 || strspn(s, "01234567") != len) {
		type_error(ld, f, key);
		return;
	}
	*AT(obj, f->off, int) = (int)strtol(s, NULL, 8);
}

/* --- actions and the objects that hold one --- */

static void parse_probe(struct loader *ld, yaml_node_t *node, struct probe *p, const char *what);

static void
parse_http(struct loader *ld, yaml_node_t *key, yaml_node_t *val, struct http_req *h)
{
	struct seen seen;

	h->pos = npos(ld, key);
	PARSE(ld, val, http_fields, h, "http", &seen);
	require(ld, key, &seen, http_fields, HT_URL, "http");
	if (seen.key[HT_BODY] && seen.key[HT_BODY_FILE])
		err(ld, seen.key[HT_BODY_FILE], "http takes either 'body' or 'body_file', not both");
	if (h->method.s == NULL) {
		h->method.s = xstrdup("GET");
		h->method.pos = h->pos;
	}
}

static void
parse_prometheus(struct loader *ld, yaml_node_t *key, yaml_node_t *val, struct http_req *h)
{
	struct seen seen;

	h->pos = npos(ld, key);
	PARSE(ld, val, prometheus_fields, h, "prometheus", &seen);
	require(ld, key, &seen, prometheus_fields, PR_URL, "prometheus");
	require(ld, key, &seen, prometheus_fields, PR_QUERY, "prometheus");
	h->method.s = xstrdup("GET");
	h->method.pos = h->pos;
}

static void
parse_transfer(struct loader *ld, yaml_node_t *key, yaml_node_t *val, struct transfer *x)
{
	struct seen seen;

	x->pos = npos(ld, key);
	PARSE(ld, val, transfer_fields, x, sval(key), &seen);
	require(ld, key, &seen, transfer_fields, X_SRC, sval(key));
	require(ld, key, &seen, transfer_fields, X_DEST, sval(key));
}

static void
check_tcp(struct loader *ld, yaml_node_t *val)
{
	const char *s = sval(val), *colon = strrchr(s, ':');
	long long port;

	if (strstr(s, "${"))
		return;
	if (colon == NULL || colon == s || !parse_ll(colon + 1, &port) || port < 1 || port > 65535)
		err(ld, val, "'tcp' must be HOST:PORT (got '%s')", s);
}

/*
 * A gate: a question (message only), or a mapping with message, show,
 * approvals, timeout and on_timeout (SPEC §7); *cfg stays NULL for a
 * question.
 */
static void
parse_gate(struct loader *ld, yaml_node_t *key, yaml_node_t *val, struct text *msg,
    struct gate_cfg **cfg)
{
	struct gate_parse gp;
	struct seen seen;

	text_release(msg);
	gate_cfg_free(*cfg);
	*cfg = NULL;
	if (val->type == YAML_SCALAR_NODE && !is_null(val)) {
		if (scalar_ok(ld, "gate", val))
			*msg = text_of(ld, val);
		return;
	}
	if (val->type != YAML_MAPPING_NODE) {
		err(ld, key, "'gate' must be " W_GATE);
		return;
	}
	memset(&gp, 0, sizeof(gp));
	gp.cfg.approvals = 1;
	gp.cfg.pos = npos(ld, key);
	PARSE(ld, val, gate_fields, &gp, "gate", &seen);
	if (seen.key[G_APPROVALS])
		gp.cfg.approvals_pos = npos(ld, seen.val[G_APPROVALS]);
	if (seen.key[G_TIMEOUT])
		gp.cfg.timeout_pos = npos(ld, seen.key[G_TIMEOUT]);
	if (seen.key[G_SHOW])
		gp.cfg.show_pos = npos(ld, seen.key[G_SHOW]);
	if (seen.key[G_ON_TIMEOUT] && !seen.key[G_TIMEOUT])
		err(ld, seen.key[G_ON_TIMEOUT], "'on_timeout' needs a 'timeout' in the gate");
	if (gp.message.s == NULL) {
		err(ld, key, "the gate is missing 'message' (the question to approve)");
		gp.message = text_of(ld, key);
	}
	*msg = gp.message;
	*cfg = xcalloc(1, sizeof(**cfg));
	**cfg = gp.cfg;
}

static void
h_gate(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	parse_gate(ld, key, val, AT(obj, f->off, struct text), AT(obj, f->off2, struct gate_cfg *));
}

static void
h_on_timeout(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	enum on_timeout *o = AT(obj, f->off, enum on_timeout);

	if (strcmp(sval(val), "stop") == 0)
		*o = ON_TIMEOUT_STOP;
	else if (strcmp(sval(val), "rollback") == 0)
		*o = ON_TIMEOUT_ROLLBACK;
	else
		type_error(ld, f, key);
}

static void
h_commit(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct phase *ph = obj;

	h_bool(ld, f, key, val, obj);
	ph->commit_pos = npos(ld, key);
}

/* The phase a run-level watch starts at (resolved by runbook_check()). */
static void
h_from(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	if (ld->what == NULL || strcmp(ld->what, "runbook") != 0) {
		err(ld, key, "'from' is only for the run-level watch (a phase's watch covers its phase)");
		return;
	}
	h_hostname(ld, f, key, val, obj);
}

static void
h_wallclock(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct wallclock *w = AT(obj, f->off, struct wallclock);

	if (!rfc3339_parse(sval(val), &w->epoch_ms)) {
		err(ld, val, "'%s' must be %s (with Z or an offset such as +02:00), not '%s'",
		    f->key, W_TIME, sval(val));
		return;
	}
	free(w->text);
	w->text = xstrdup(sval(val));
	w->pos = npos(ld, val);
	w->set = true;
}

static void require_kind(struct loader *ld, yaml_node_t *node, const struct action *a,
    const struct seen *seen, const int *kinds, size_t n, const char *list);

/* on: of a notify hook: one event or a list of them. */
static void
h_events(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	static const char *const names[] = { "start", "phase", "gate", "failure", "rollback", "done" };
	unsigned *ev = AT(obj, f->off, unsigned);
	yaml_node_t *one[1] = { val }, **items = one;
	size_t n = 1;

	if (val->type == YAML_SEQUENCE_NODE)
		items = seq_strings(ld, f, key, val, &n);
	else if (val->type != YAML_SCALAR_NODE || is_null(val)) {
		type_error(ld, f, key);
		return;
	}
	*ev = 0;
	for (size_t i = 0; i < n; i++) {
		struct suggest sg;
		size_t j;
		suggest_init(&sg, sval(items[i]));
		for (j = 0; j < ARRAY_LEN(names); j++) {
			if (strcmp(names[j], sval(items[i])) == 0)
				break;
			suggest_try(&sg, names[j]);
		}
		if (j == ARRAY_LEN(names))
			err(ld, items[i], "unknown event '%s' (events: start, phase, gate, failure, "
			    "rollback, done)%s", sval(items[i]), suggest_hint(&sg, &ld->scratch));
		else
			*ev |= 1u << j;
	}
	if (items != one)
		free(items);
	if (n == 0)
		err(ld, key, "'on' is empty");
}

static void
h_notify(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	static const int kinds[] = { N_RUN, N_HTTP };
	struct runbook *rb = obj;
	yaml_node_item_t *it = val->data.sequence.items.start;
	size_t n = (size_t)(val->data.sequence.items.top - it);
	const char *old = ld->what;

	rb->notify = xcalloc(n, sizeof(*rb->notify));
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *node = node_at(ld, it[i]);
		struct notify_hook *h = &rb->notify[rb->n_notify++];
		struct seen seen;
		char *what = xasprintf("notify hook %zu", i + 1);

		action_init(&h->action);
		h->events = NOTIFY_ALL;
		h->timeout_ms = DEFAULT_NOTIFY_TIMEOUT_MS;
		h->pos = npos(ld, node);
		if (node->type != YAML_MAPPING_NODE) {
			err(ld, node, "a notify hook must be a mapping (on: [...], and run: or http:)");
			free(what);
			continue;
		}
		ld->what = what;
		PARSE(ld, node, notify_fields, h, what, &seen);
		require_kind(ld, node, &h->action, &seen, kinds, ARRAY_LEN(kinds), "run, http");
		ld->what = old;
		free(what);
	}
}

/*
 * A kind key (run, http, probe, gate, upload, download, tcp). A second kind
 * is reported, and still parsed (into a scratch action) so its own errors
 * show too.
 */
static void
h_kind(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct action *a = AT(obj, f->off, struct action), tmp;
	enum action_kind kind = *(const enum action_kind *)f->arg;

	if (a->kind != ACT_NONE) {
		err(ld, key, "%s has two kinds: '%s' and '%s'", ld->what, action_kind_name(a->kind), f->key);
		action_init(&tmp);
		a = &tmp;
	}
	a->kind = kind;
	a->pos = npos(ld, key);
	switch (kind) {
	case ACT_RUN:
		a->run = text_of(ld, val);
		if (a->run.s[strspn(a->run.s, " \t\n")] == '\0')
			err(ld, val, "'run' is empty");
		break;
	case ACT_HTTP:
	case ACT_PROMETHEUS: {
		struct http_req *h = xcalloc(1, sizeof(*h));
		a->http = h;
		if (kind == ACT_HTTP)
			parse_http(ld, key, val, h);
		else
			parse_prometheus(ld, key, val, h);
		break;
	}
	case ACT_UPLOAD:
	case ACT_DOWNLOAD: {
		struct transfer *x = xcalloc(1, sizeof(*x));
		x->mode = -1;
		a->xfer = x;
		parse_transfer(ld, key, val, x);
		break;
	}
	case ACT_TCP:
		a->tcp = text_of(ld, val);
		check_tcp(ld, val);
		break;
	case ACT_GATE:
		parse_gate(ld, key, val, &a->gate, &a->gate_cfg);
		break;
	case ACT_PROBE:
		if (val->type == YAML_MAPPING_NODE) {
			char *what = xasprintf("probe of %s", ld->what);
			a->probe_inline = xcalloc(1, sizeof(*a->probe_inline));
			parse_probe(ld, val, a->probe_inline, what);
			a->probe = a->probe_inline;
			free(what);
		} else if (val->type == YAML_SCALAR_NODE && !is_null(val)) {
			a->probe_name = xstrdup(sval(val));
		} else {
			type_error(ld, f, key);
		}
		break;
	default:
		break;
	}
	if (a == &tmp)
		action_release(&tmp);
}

/* Which expect: keys make sense for which kind of action. */
static const struct {
	const char *key;
	unsigned kinds;
} expect_applies[] = {
	{ "exit", 1u << ACT_RUN },
	{ "stdout", 1u << ACT_RUN },
	{ "stderr", 1u << ACT_RUN },
	{ "not_stdout", 1u << ACT_RUN },
	{ "not_stderr", 1u << ACT_RUN },
	{ "status", 1u << ACT_HTTP | 1u << ACT_PROMETHEUS },
	{ "body", 1u << ACT_HTTP | 1u << ACT_PROMETHEUS },
	{ "not_body", 1u << ACT_HTTP | 1u << ACT_PROMETHEUS },
	{ "latency", 1u << ACT_HTTP | 1u << ACT_TCP | 1u << ACT_PROMETHEUS },
	{ "value", 1u << ACT_RUN | 1u << ACT_HTTP | 1u << ACT_PROMETHEUS },
	{ "no_data", 1u << ACT_RUN | 1u << ACT_HTTP | 1u << ACT_PROMETHEUS },
};

/* Report expect: keys that do not apply to an action of this kind. */
static void
check_expect_kind(struct loader *ld, yaml_node_t *expect, enum action_kind kind, const char *noun)
{
	struct pairs ps;

	if (expect == NULL || expect->type != YAML_MAPPING_NODE || kind == ACT_NONE)
		return;
	collect_pairs(ld, expect, &ps, true);
	for (size_t i = 0; i < ps.n; i++) {
		yaml_node_t *v = ps.v[i].val;
		if (strcmp(sval(ps.v[i].key), "value") == 0 && kind != ACT_PROMETHEUS &&
		    v->type == YAML_MAPPING_NODE && map_get(ld, v, "regex") == NULL && map_get(ld, v, "json") == NULL)
			err(ld, ps.v[i].key, "expect.value needs 'regex' or 'json' (where the number is)");
	}
	for (size_t i = 0; i < ps.n; i++)
		for (size_t j = 0; j < ARRAY_LEN(expect_applies); j++)
			if (strcmp(sval(ps.v[i].key), expect_applies[j].key) == 0 &&
			    !(expect_applies[j].kinds & (1u << kind)))
				err(ld, ps.v[i].key, "'%s' in expect does not apply to a %s %s",
				    expect_applies[j].key, action_kind_name(kind), noun);
	free(ps.v);
}

/* "<what> has no kind (one of ...)" unless a kind key was given (and had an error). */
static void
require_kind(struct loader *ld, yaml_node_t *node, const struct action *a, const struct seen *seen,
    const int *kinds, size_t n, const char *list)
{
	if (a->kind != ACT_NONE)
		return;
	for (size_t i = 0; i < n; i++)
		if (seen->key[kinds[i]])
			return;
	err(ld, node, "%s has no kind (one of %s)", ld->what, list);
}

static void
parse_probe(struct loader *ld, yaml_node_t *node, struct probe *p, const char *what)
{
	static const int kinds[] = { P_RUN, P_HTTP, P_TCP, P_PROMETHEUS };
	const char *old = ld->what;
	struct seen seen;

	probe_init(p);
	p->pos = npos(ld, node);
	ld->what = what;
	PARSE(ld, node, probe_fields, p, what, &seen);
	require_kind(ld, node, &p->action, &seen, kinds, ARRAY_LEN(kinds), "run, http, tcp, prometheus");
	check_expect_kind(ld, seen.val[P_EXPECT], p->action.kind, "probe");
	ld->what = old;
}

static void
h_probes(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct runbook *rb = obj;
	struct pairs ps;

	collect_pairs(ld, val, &ps, false);
	rb->probes = xcalloc(ps.n, sizeof(*rb->probes));
	for (size_t i = 0; i < ps.n; i++) {
		yaml_node_t *k = ps.v[i].key, *v = ps.v[i].val;
		struct probe *p = &rb->probes[rb->n_probes++];
		char *what = xasprintf("probe '%s'", sval(k));

		if (v->type == YAML_MAPPING_NODE) {
			parse_probe(ld, v, p, what);
		} else {
			probe_init(p);
			err(ld, k, "%s must be a mapping (run:, http:, tcp: or prometheus:, and expect:)", what);
		}
		p->name = xstrdup(sval(k));
		p->pos = npos(ld, k);
		if (!name_valid(p->name))
			err(ld, k, "invalid probe name '%s' (use " NAME_PATTERN ")", p->name);
		free(what);
	}
	free(ps.v);
}

static void
h_check(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct step *s = obj;

	s->check.pos = npos(ld, val);
	if (val->type == YAML_MAPPING_NODE) {
		char *what = xasprintf("check of %s", ld->what);
		s->check_inline = xcalloc(1, sizeof(*s->check_inline));
		parse_probe(ld, val, s->check_inline, what);
		s->check.probe = s->check_inline;
		free(what);
	} else if (val->type == YAML_SCALAR_NODE && !is_null(val)) {
		s->check.name = xstrdup(sval(val));
	} else {
		type_error(ld, f, key);
	}
}

static void
h_rollback(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	static const int kinds[] = { R_RUN, R_HTTP, R_UPLOAD, R_DOWNLOAD };
	struct step *s = obj;
	const char *old = ld->what;
	char *what = xasprintf("rollback of %s", old);
	struct seen seen;

	s->rollback = xcalloc(1, sizeof(*s->rollback));
	rollback_init(s->rollback);
	s->rollback->pos = npos(ld, key);
	ld->what = what;
	PARSE(ld, val, rollback_fields, s->rollback, what, &seen);
	require_kind(ld, key, &s->rollback->action, &seen, kinds, ARRAY_LEN(kinds),
	    "run, http, upload, download");
	check_expect_kind(ld, seen.val[R_EXPECT], s->rollback->action.kind, "rollback");
	if (seen.key[R_ONCE])
		s->rollback->once_pos = npos(ld, seen.key[R_ONCE]);
	ld->what = old;
	free(what);
}

/* Keys a gate or pause step may have besides its kind. */
static bool
alone_ok(int i)
{
	return i == S_NAME || i == S_DESCRIPTION;
}

/* Point a deferred ${...} field at another place; true if one was there. */
static bool
retarget(struct runbook *rb, void *from, void *to)
{
	bool found = false;

	for (size_t i = 0; i < rb->n_numrefs; i++) {
		if (rb->numrefs[i].target == from) {
			rb->numrefs[i].target = to;
			found = true;
		}
	}
	return found;
}

static void
parse_step(struct loader *ld, yaml_node_t *node, struct step *s)
{
	static const int kinds[] = { S_RUN, S_HTTP, S_PROBE, S_GATE, S_UPLOAD, S_DOWNLOAD, S_PAUSE };
	yaml_node_t *name = map_get(ld, node, "name");
	const char *old = ld->what;
	char *what;
	struct seen seen;
	int kind_key = -1;

	step_init(s);
	s->pos = npos(ld, node);
	if (node->type != YAML_MAPPING_NODE) {
		err(ld, node, "a step must be a mapping (name: ..., run: ...)");
		return;
	}
	if (name && name->type == YAML_SCALAR_NODE && !is_null(name))
		what = xasprintf("step '%s'", sval(name));
	else
		what = xstrdup("step");
	ld->what = what;
	ld->step = s;
	PARSE(ld, node, step_fields, s, what, &seen);
	ld->step = NULL;
	require(ld, node, &seen, step_fields, S_NAME, "step");
	/* pause: is the step's kind when nothing else is, else a wait after each unit */
	if (s->action.kind == ACT_NONE && seen.key[S_PAUSE] &&
	    (s->pause_ms > 0 || retarget(ld->rb, &s->pause_ms, &s->action.pause_ms))) {
		bool other = false;
		for (size_t i = 0; i + 1 < ARRAY_LEN(kinds); i++)
			other |= seen.key[kinds[i]] != NULL;
		if (!other) {
			s->action.kind = ACT_PAUSE;
			s->action.pos = npos(ld, seen.key[S_PAUSE]);
			s->action.pause_ms = s->pause_ms;
			s->pause_ms = 0;
		}
	}
	require_kind(ld, node, &s->action, &seen, kinds, ARRAY_LEN(kinds),
	    "run, http, probe, pause, gate, upload, download");
	if (s->action.kind == ACT_GATE)
		kind_key = S_GATE;
	else if (s->action.kind == ACT_PAUSE)
		kind_key = S_PAUSE;
	for (int i = 0; kind_key >= 0 && i < S_COUNT; i++)
		if (seen.key[i] && i != kind_key && !alone_ok(i))
			err(ld, seen.key[i], "'%s' is not allowed in a %s step (it takes only name, "
			    "description and %s)", step_fields[i].key, step_fields[kind_key].key,
			    step_fields[kind_key].key);
	if (s->action.kind == ACT_PROBE && seen.key[S_EXPECT])
		err(ld, seen.key[S_EXPECT], "'expect' is not allowed in a probe step (the probe's own "
		    "expect decides)");
	else if (kind_key < 0)
		check_expect_kind(ld, seen.val[S_EXPECT], s->action.kind, "step");
	if (seen.key[S_CAPTURE] && kind_key < 0 && s->action.kind != ACT_NONE &&
	    s->action.kind != ACT_RUN && s->action.kind != ACT_HTTP)
		err(ld, seen.key[S_CAPTURE], "'capture' needs a run or http step, not %s",
		    action_kind_name(s->action.kind));
	ld->what = old;
	free(what);
}

/*
 * Steps parsed while the document is composed (see compose()): those of
 * one phase's steps: list, which is node `node` (it keeps no items).
 */
struct early {
	int node;
	struct step *v;
	size_t n, cap;
};

static struct early *
early_of(struct loader *ld, const yaml_node_t *list)
{
	int node = (int)(list - ld->nodes) + 1;

	for (size_t i = 0; i < ld->n_early; i++)
		if (ld->early[i].node == node && ld->early[i].v)
			return &ld->early[i];
	return NULL;
}

/*
 * Make room for one more step in e. Deferred ${...} fields (numrefs) point
 * into the steps: when the array moves, move them along.
 */
static void
early_grow(struct loader *ld, struct early *e)
{
	uintptr_t lo = (uintptr_t)e->v, hi = (uintptr_t)(e->v + e->n);
	struct step *old = e->v;

	if (e->n < e->cap)
		return;
	e->cap = e->cap ? e->cap * 2 : 16;
	e->v = xrealloc(e->v, e->cap * sizeof(*e->v));
	if (old == NULL || e->v == old)
		return;
	for (size_t i = 0; i < ld->rb->n_numrefs; i++) {
		struct numref *nr = &ld->rb->numrefs[i];
		uintptr_t t = (uintptr_t)nr->target, st = (uintptr_t)nr->step;
		if (t >= lo && t < hi)
			nr->target = (char *)e->v + (t - lo);
		if (nr->step && st >= lo && st < hi)
			nr->step = e->v + (st - lo) / sizeof(*e->v);
	}
}

/* Free the steps of an early list that no phase took, and the numrefs into them. */
static void
early_release(struct loader *ld, struct early *e)
{
	uintptr_t lo = (uintptr_t)e->v, hi = (uintptr_t)(e->v + e->n);
	size_t k = 0;

	if (e->v == NULL)
		return;
	for (size_t i = 0; i < ld->rb->n_numrefs; i++) {
		struct numref *nr = &ld->rb->numrefs[i];
		if ((uintptr_t)nr->target >= lo && (uintptr_t)nr->target < hi) {
			text_release(&nr->ref);
			continue;
		}
		ld->rb->numrefs[k++] = *nr;
	}
	ld->rb->n_numrefs = k;
	for (size_t i = 0; i < e->n; i++)
		step_release(&e->v[i]);
	free(e->v);
	e->v = NULL;
}

static void
h_steps(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct phase *ph = obj;
	yaml_node_item_t *it = val->data.sequence.items.start;
	size_t n = (size_t)(val->data.sequence.items.top - it);
	struct early *e = early_of(ld, val);

	if (e) {
		/* parsed while composing (early_step) */
		ph->steps = e->v;
		ph->n_steps = e->n;
		e->v = NULL;
		e->n = e->cap = 0;
		for (size_t i = 0; i < ph->n_steps; i++)
			ph->steps[i].phase = ph;
		return;
	}
	ph->steps = xcalloc(n, sizeof(*ph->steps));
	for (size_t i = 0; i < n; i++) {
		struct step *s = &ph->steps[ph->n_steps++];
		parse_step(ld, node_at(ld, it[i]), s);
		s->phase = ph;
	}
}

static void
h_watch(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct watch *w = AT(obj, f->off, struct watch);
	struct seen seen;

	const char *old = ld->what;

	w->set = true;
	w->pos = npos(ld, key);
	w->interval_ms = DEFAULT_WATCH_INTERVAL_MS;
	w->failures = 1;
	/* h_from tells the run-level watch by ld->what */
	ld->what = f == &top_fields[T_WATCH] ? "runbook" : "watch";
	PARSE(ld, val, watch_fields, w, "watch", &seen);
	ld->what = old;
	require(ld, key, &seen, watch_fields, WA_PROBES, "watch");
	if (!seen.key[WA_WINDOW])
		w->window = w->failures;
	else if (w->window < w->failures)
		err(ld, seen.key[WA_WINDOW], "watch: 'window' (%d) must be at least 'failures' (%d)", w->window, w->failures);
}

static void
parse_phase(struct loader *ld, yaml_node_t *node, struct phase *ph)
{
	yaml_node_t *name = map_get(ld, node, "name");
	struct seen seen;
	char *what;

	ph->pos = npos(ld, node);
	if (node->type != YAML_MAPPING_NODE) {
		err(ld, node, "a phase must be a mapping (name: ..., steps: [...])");
		return;
	}
	if (name && name->type == YAML_SCALAR_NODE && !is_null(name))
		what = xasprintf("phase '%s'", sval(name));
	else
		what = xstrdup("phase");
	PARSE(ld, node, phase_fields, ph, what, &seen);
	require(ld, node, &seen, phase_fields, PH_NAME, "phase");
	if (seen.key[PH_DEADLINE])
		ph->deadline_pos = npos(ld, seen.key[PH_DEADLINE]);
	if (!seen.key[PH_STEPS] && !seen.key[PH_VERIFY])
		err(ld, node, "%s has no 'steps' (or 'verify')", what);
	free(what);
}

static void
h_phases(struct loader *ld, const struct field *f, yaml_node_t *key, yaml_node_t *val, void *obj)
{
	struct runbook *rb = obj;
	yaml_node_item_t *it = val->data.sequence.items.start;
	size_t n = (size_t)(val->data.sequence.items.top - it);

	if (n == 0)
		err(ld, key, "'phases' is empty");
	rb->phases = xcalloc(n, sizeof(*rb->phases));
	for (size_t i = 0; i < n; i++)
		parse_phase(ld, node_at(ld, it[i]), &rb->phases[rb->n_phases++]);
}

static void
parse_runbook(struct loader *ld, yaml_node_t *root)
{
	struct runbook *rb = ld->rb;
	struct seen seen;

	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		err(ld, root, "a runbook must be a mapping (runbook: 1, name: ..., phases: [...])");
		return;
	}
	PARSE(ld, root, top_fields, rb, "runbook", &seen);
	if (!seen.key[T_RUNBOOK])
		err(ld, root, "runbook is missing 'runbook: 1' (the format version)");
	require(ld, root, &seen, top_fields, T_NAME, "runbook");
	require(ld, root, &seen, top_fields, T_PHASES, "runbook");
}

/* --- reading and bounding the file --- */

static int
read_source(struct loader *ld, const char *path)
{
	struct buf b = BUF_INIT;
	struct stat st;
	size_t n;
	FILE *fp = fopen(path, "rb");
	struct pos nowhere = { 0, 0 };

	if (fp == NULL) {
		report_at(&ld->rep, nowhere, "cannot open '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) != 0)
		st.st_mode = 0;
	if (S_ISDIR(st.st_mode)) {
		report_at(&ld->rep, nowhere, "cannot read '%s': it is a directory", path);
		fclose(fp);
		return -1;
	}
	/* read into place: a file's size is known, a pipe's grows the buffer */
	if (S_ISREG(st.st_mode) && st.st_size > 0 && (uintmax_t)st.st_size <= MAX_FILE_SIZE)
		buf_reserve(&b, (size_t)st.st_size + 1);
	for (;;) {
		if (b.cap - b.len < 2)
			buf_reserve(&b, 65536);
		if ((n = fread(b.data + b.len, 1, b.cap - b.len - 1, fp)) == 0)
			break;
		b.len += n;
		b.data[b.len] = '\0';
		if (b.len > MAX_FILE_SIZE)
			break;
	}
	if (ferror(fp)) {
		report_at(&ld->rep, nowhere, "cannot read '%s': %s", path, strerror(errno));
		fclose(fp);
		buf_release(&b);
		return -1;
	}
	fclose(fp);
	if (b.len > MAX_FILE_SIZE) {
		report_at(&ld->rep, nowhere, "file is too large (the limit is %zu MiB)", MAX_FILE_SIZE >> 20);
		buf_release(&b);
		return -1;
	}
	ld->len = b.len;
	ld->src = buf_detach(&b);
	build_line_table(ld);
	if (strlen(ld->src) != ld->len) {
		report_at(&ld->rep, offset_pos(ld, strlen(ld->src)),
		    "file contains a NUL byte (a runbook is UTF-8 text)");
		return -1;
	}
	return 0;
}

/* Does line (0-based) of the source hold ${ after a flow-style { ? */
static bool
line_has_flow_ref(struct loader *ld, size_t line)
{
	const char *p, *end, *ref;

	if (line >= ld->n_lines)
		return false;
	p = ld->src + ld->lines[line];
	end = ld->src + line_end(ld, line);
	for (ref = p; ref + 1 < end; ref++)
		if (ref[0] == '$' && ref[1] == '{')
			break;
	if (ref + 1 >= end)
		return false;
	for (const char *q = p; q < ref; q++)
		if ((*q == '{' || *q == '[') && (q == p || q[-1] != '$'))
			return true;
	return false;
}

static void
yaml_error(struct loader *ld, const yaml_parser_t *p)
{
	struct buf msg = BUF_INIT;
	struct pos pos;

	buf_addf(&msg, "invalid YAML: %s", p->problem ? p->problem : "cannot parse");
	if (p->error == YAML_READER_ERROR) {
		pos = offset_pos(ld, p->problem_offset < ld->len ? p->problem_offset : ld->len);
	} else {
		pos = mark_pos(ld, p->problem_mark);
		if (p->context) {
			struct pos c = mark_pos(ld, p->context_mark);
			buf_addf(&msg, " (%s that started at %d:%d)", p->context, c.line, c.col);
		}
		if (p->problem_mark.line < ld->n_lines &&
		    ld->src[mark_offset(ld, p->problem_mark.line, p->problem_mark.column)] == '\t')
			buf_adds(&msg, "; YAML indents with spaces, not tabs");
		if (line_has_flow_ref(ld, p->problem_mark.line) ||
		    (p->context && line_has_flow_ref(ld, p->context_mark.line)))
			buf_adds(&msg, "; inside {...} or [...] a value containing ${...} must be quoted");
	}
	report_at(&ld->rep, pos, "%s", msg.data);
	buf_release(&msg);
}

/* What an anchored node expands to: nodes, scalar bytes, nesting height. */
struct anchor_size {
	char *name;
	size_t nodes, bytes;
	int height;
	int node;                /* its node in ld->nodes (compose()) */
};

struct scan_frame {
	size_t nodes, bytes;
	int height;
	char *anchor;
};

struct scan {
	struct scan_frame frames[MAX_DEPTH + 1];
	int depth;
	struct anchor_size *anchors;
	size_t n_anchors, cap_anchors;
	size_t n_aliases;
	int docs;
};

static const char *
scan_done_node(struct scan *sc, size_t nodes, size_t bytes, int height, char *anchor)
{
	struct scan_frame *parent = &sc->frames[sc->depth];

	parent->nodes += nodes;
	parent->bytes += bytes;
	if (height > parent->height)
		parent->height = height;
	if (anchor) {
		struct anchor_size a = { anchor, nodes, bytes, height, 0 };
		if (sc->n_anchors >= MAX_ANCHORS) {
			free(anchor);
			return "too many anchors (the limit is 1000)";
		}
		PUSH(sc->anchors, sc->n_anchors, sc->cap_anchors, a);
	}
	if (parent->nodes > MAX_NODES)
		return "document too large: more than 1000000 nodes (after expanding aliases)";
	if (parent->bytes > MAX_BYTES)
		return "document too large: more than 32 MiB of text (after expanding aliases)";
	return NULL;
}

static const char *
scan_alias(struct scan *sc, const char *name)
{
	if (++sc->n_aliases > MAX_ALIASES)
		return "too many aliases (the limit is 10000)";
	for (size_t i = sc->n_anchors; i-- > 0;) {
		const struct anchor_size *a = &sc->anchors[i];
		if (strcmp(a->name, name) != 0)
			continue;
		if (sc->depth + a->height > MAX_DEPTH)
			return "nesting deeper than 64 levels (through an alias)";
		return scan_done_node(sc, a->nodes, a->bytes, a->height, NULL);
	}
	for (int d = 1; d <= sc->depth; d++)
		if (sc->frames[d].anchor && strcmp(sc->frames[d].anchor, name) == 0)
			return "alias refers to the node that contains it (recursive alias)";
	return "alias to an undefined anchor";
}

static const char *
scan_event(struct scan *sc, yaml_event_t *ev)
{
	struct scan_frame *f;
	char *anchor = NULL;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++sc->docs > 1)
			return "a runbook file holds one YAML document, this is a second one";
		return NULL;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (sc->depth >= MAX_DEPTH)
			return "nesting deeper than 64 levels";
		f = &sc->frames[++sc->depth];
		memset(f, 0, sizeof(*f));
		anchor = (char *)(ev->type == YAML_SEQUENCE_START_EVENT ?
		    ev->data.sequence_start.anchor : ev->data.mapping_start.anchor);
		f->anchor = anchor ? xstrdup(anchor) : NULL;
		return NULL;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		f = &sc->frames[sc->depth--];
		anchor = f->anchor;
		f->anchor = NULL;
		return scan_done_node(sc, f->nodes + 1, f->bytes, f->height + 1, anchor);
	case YAML_SCALAR_EVENT:
		anchor = (char *)ev->data.scalar.anchor;
		return scan_done_node(sc, 1, ev->data.scalar.length, 0,
		    anchor ? xstrdup(anchor) : NULL);
	case YAML_ALIAS_EVENT:
		return scan_alias(sc, (const char *)ev->data.alias.anchor);
	default:
		return NULL;
	}
}

/* --- composing the document --- */

/* What a mapping or sequence being composed is, for parsing steps early. */
enum role { R_OTHER, R_ROOT, R_PHASES, R_PHASE, R_STEPS };

struct cframe {
	int node;                /* the open mapping or sequence */
	size_t base;             /* its children start here on the child stack */
	enum role role;
	bool anchored;           /* it or a node around it has an anchor */
	bool keyed;              /* R_ROOT: 'phases' came; R_PHASE: 'steps' came */
	enum role next;          /* mapping: what the value of the last key is */
	size_t anchors;          /* anchors defined before it started */
	size_t early;            /* R_STEPS: its entry in ld->early */
};

struct composer {
	struct cframe frames[MAX_DEPTH + 1];
	int depth;               /* frames[1..depth] are open */
	int *kids;               /* children of the open nodes, innermost last */
	size_t n_kids, cap_kids;
};

static int
add_node(struct loader *ld, yaml_node_type_t type, const yaml_event_t *ev)
{
	yaml_node_t n;

	memset(&n, 0, sizeof(n));
	n.type = type;
	n.start_mark = ev->start_mark;
	n.end_mark = ev->end_mark;
	if (type == YAML_SCALAR_NODE) {
		/* the node takes the event's text */
		n.data.scalar.value = ev->data.scalar.value;
		n.data.scalar.length = ev->data.scalar.length;
		n.data.scalar.style = ev->data.scalar.style;
	} else if (type == YAML_SEQUENCE_NODE) {
		n.data.sequence.style = ev->data.sequence_start.style;
	} else {
		n.data.mapping.style = ev->data.mapping_start.style;
	}
	PUSH(ld->nodes, ld->n_nodes, ld->cap_nodes, n);
	return (int)ld->n_nodes;
}

/* Drop the nodes from index `from` on (the last ones composed). */
static void
nodes_release(struct loader *ld, size_t from)
{
	while (ld->n_nodes >= from && ld->n_nodes > 0) {
		yaml_node_t *n = &ld->nodes[--ld->n_nodes];
		if (n->type == YAML_SCALAR_NODE)
			free(n->data.scalar.value);
		else if (n->type == YAML_SEQUENCE_NODE)
			free(n->data.sequence.items.start);
		else if (n->type == YAML_MAPPING_NODE)
			free(n->data.mapping.pairs.start);
	}
}

/*
 * A step of a phase's steps: list is complete: parse it now, and drop its
 * nodes when nothing can refer to them later (no anchor inside).
 */
static void
early_step(struct loader *ld, struct cframe *list, int node, bool drop)
{
	struct early *e = &ld->early[list->early];
	struct step *s;

	early_grow(ld, e);
	s = &e->v[e->n++];
	memset(s, 0, sizeof(*s));
	parse_step(ld, node_at(ld, node), s);
	if (drop)
		nodes_release(ld, (size_t)node);
}

/* The role of a mapping or sequence that starts inside parent. */
static enum role
role_in(struct loader *ld, struct composer *c, yaml_node_type_t type)
{
	struct cframe *parent = &c->frames[c->depth];

	if (ld->rb == NULL)
		return R_OTHER;
	if (c->depth == 0)
		return type == YAML_MAPPING_NODE ? R_ROOT : R_OTHER;
	if (parent->anchored)
		return R_OTHER;
	if (parent->role == R_PHASES)
		return type == YAML_MAPPING_NODE ? R_PHASE : R_OTHER;
	if ((parent->role == R_ROOT || parent->role == R_PHASE) && (c->n_kids - parent->base) % 2 == 1 &&
	    type == YAML_SEQUENCE_NODE)
		return parent->next;
	return R_OTHER;
}

/* Node is complete: hand it to the node that holds it. */
static void
child_done(struct loader *ld, struct composer *c, int node, bool fresh, bool anchors)
{
	struct cframe *parent = &c->frames[c->depth];
	const yaml_node_t *n;

	if (c->depth == 0)
		return;
	if (parent->role == R_STEPS) {
		early_step(ld, parent, node, fresh && !anchors);
		return;
	}
	if ((parent->role == R_ROOT || parent->role == R_PHASE) && (c->n_kids - parent->base) % 2 == 0) {
		/* a key: is its value the list of phases, or of steps? */
		const char *want = parent->role == R_ROOT ? "phases" : "steps";
		n = node_at(ld, node);
		parent->next = R_OTHER;
		if (n->type == YAML_SCALAR_NODE && strcmp(sval(n), want) == 0 && !parent->keyed) {
			parent->keyed = true;
			parent->next = parent->role == R_ROOT ? R_PHASES : R_STEPS;
		}
	}
	PUSH(c->kids, c->n_kids, c->cap_kids, node);
}

static void
open_node(struct loader *ld, struct composer *c, struct scan *sc, yaml_node_type_t type,
    const yaml_event_t *ev, bool anchor)
{
	enum role role = role_in(ld, c, type);
	struct cframe *f;
	bool anchored = anchor || (c->depth > 0 && c->frames[c->depth].anchored);

	f = &c->frames[++c->depth];
	memset(f, 0, sizeof(*f));
	f->node = add_node(ld, type, ev);
	f->base = c->n_kids;
	f->role = anchored ? R_OTHER : role;
	f->anchored = anchored;
	f->anchors = sc->n_anchors;
	if (f->role == R_STEPS) {
		struct early e = { f->node, NULL, 0, 0 };
		f->early = ld->n_early;
		PUSH(ld->early, ld->n_early, ld->cap_early, e);
	}
}

static void
close_node(struct loader *ld, struct composer *c, struct scan *sc, const yaml_event_t *ev)
{
	struct cframe *f = &c->frames[c->depth];
	yaml_node_t *n = node_at(ld, f->node);
	size_t k = c->n_kids - f->base;
	int *kid = c->kids + f->base;
	int node = f->node;
	bool anchors = sc->n_anchors != f->anchors;

	n->end_mark = ev->end_mark;
	if (n->type == YAML_SEQUENCE_NODE && k > 0) {
		n->data.sequence.items.start = xcalloc(k, sizeof(yaml_node_item_t));
		memcpy(n->data.sequence.items.start, kid, k * sizeof(yaml_node_item_t));
		n->data.sequence.items.end = n->data.sequence.items.top = n->data.sequence.items.start + k;
	} else if (n->type == YAML_MAPPING_NODE && k > 0) {
		yaml_node_pair_t *p = xcalloc(k / 2, sizeof(*p));
		for (size_t i = 0; i + 1 < k; i += 2) {
			p[i / 2].key = kid[i];
			p[i / 2].value = kid[i + 1];
		}
		n->data.mapping.pairs.start = p;
		n->data.mapping.pairs.end = n->data.mapping.pairs.top = p + k / 2;
	}
	c->n_kids = f->base;
	c->depth--;
	child_done(ld, c, node, true, anchors);
}

/* The node an alias names: the latest anchor of that name (the scan found it). */
static int
alias_node(const struct scan *sc, const char *name)
{
	for (size_t i = sc->n_anchors; i-- > 0;)
		if (strcmp(sc->anchors[i].name, name) == 0)
			return sc->anchors[i].node;
	return 0;
}

/* Compose one event; sc has accepted it. */
static void
compose_event(struct loader *ld, struct composer *c, struct scan *sc, yaml_event_t *ev,
    size_t anchors_before)
{
	int node;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		node = add_node(ld, YAML_SCALAR_NODE, ev);
		ev->data.scalar.value = NULL;
		if (sc->n_anchors != anchors_before)
			sc->anchors[sc->n_anchors - 1].node = node;
		child_done(ld, c, node, true, sc->n_anchors != anchors_before);
		break;
	case YAML_ALIAS_EVENT:
		node = alias_node(sc, (const char *)ev->data.alias.anchor);
		if (node > 0)
			child_done(ld, c, node, false, false);
		break;
	case YAML_SEQUENCE_START_EVENT:
		open_node(ld, c, sc, YAML_SEQUENCE_NODE, ev, ev->data.sequence_start.anchor != NULL);
		break;
	case YAML_MAPPING_START_EVENT:
		open_node(ld, c, sc, YAML_MAPPING_NODE, ev, ev->data.mapping_start.anchor != NULL);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		node = c->frames[c->depth].node;
		close_node(ld, c, sc, ev);
		if (sc->n_anchors != anchors_before)
			sc->anchors[sc->n_anchors - 1].node = node;
		break;
	default:
		break;
	}
}

/*
 * The anchor just defined (the last one) repeats an earlier name: YAML
 * would let the later one win, but a runbook that reuses a name is more
 * likely a mistake (libyaml's loader refused it too). The message, in msg,
 * or NULL.
 */
static const char *
duplicate_anchor(struct loader *ld, const struct scan *sc, struct buf *msg)
{
	const struct anchor_size *last = &sc->anchors[sc->n_anchors - 1];

	for (size_t i = 0; i + 1 < sc->n_anchors; i++) {
		if (strcmp(sc->anchors[i].name, last->name) == 0) {
			struct pos first = npos(ld, node_at(ld, sc->anchors[i].node));
			buf_addf(msg, "invalid YAML: duplicate anchor '&%s' (first at %d:%d)", last->name,
			    first.line, first.col);
			return buf_str(msg);
		}
	}
	return NULL;
}

/*
 * Parse the file's events once, check each against the bounds (the scan:
 * everything that walks the tree sees aliases expanded, so bound what
 * they expand to, and the nesting; anchors are resolved by linear search,
 * so their number is bounded too) and compose the tree into ld->nodes.
 * A runbook's steps are parsed as they complete (early_step). On a YAML
 * error or a bound exceeded, that alone is reported (not what the early
 * steps said) and -1 returned.
 */
static int
compose(struct loader *ld)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct scan *sc = xcalloc(1, sizeof(*sc));
	struct composer *c = xcalloc(1, sizeof(*c));
	const char *problem = NULL;
	struct buf msg = BUF_INIT;
	size_t diags_before = ld->rep.diags->n;
	int errors_before = ld->rep.n;
	int rc = 0;

	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)ld->src, ld->len);
	for (;;) {
		size_t anchors_before = sc->n_anchors;
		if (!yaml_parser_parse(&parser, &ev)) {
			diags_truncate(ld->rep.diags, diags_before);
			ld->rep.n = errors_before;
			yaml_error(ld, &parser);
			rc = -1;
			break;
		}
		problem = scan_event(sc, &ev);
		if (problem) {
			diags_truncate(ld->rep.diags, diags_before);
			ld->rep.n = errors_before;
			report_at(&ld->rep, mark_pos(ld, ev.start_mark), "%s", problem);
			yaml_event_delete(&ev);
			rc = -1;
			break;
		}
		compose_event(ld, c, sc, &ev, anchors_before);
		if (sc->n_anchors > anchors_before && (problem = duplicate_anchor(ld, sc, &msg)) != NULL) {
			diags_truncate(ld->rep.diags, diags_before);
			ld->rep.n = errors_before;
			report_at(&ld->rep, npos(ld, node_at(ld, sc->anchors[sc->n_anchors - 1].node)), "%s", problem);
			buf_release(&msg);
			yaml_event_delete(&ev);
			rc = -1;
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	if (rc == 0 && sc->docs == 0) {
		struct pos first = { 1, 1 };
		report_at(&ld->rep, first, "the file is empty");
		rc = -1;
	}
	for (int d = 1; d <= sc->depth; d++)
		free(sc->frames[d].anchor);
	for (size_t i = 0; i < sc->n_anchors; i++)
		free(sc->anchors[i].name);
	free(sc->anchors);
	free(sc);
	free(c->kids);
	free(c);
	yaml_parser_delete(&parser);
	return rc;
}

/* Read, bound and compose path into ld->nodes; 0 or -1 (reported). */
static int
load_document(struct loader *ld, const char *path)
{
	if (read_source(ld, path) < 0)
		return -1;
	return compose(ld);
}

static void
loader_init(struct loader *ld, const char *path, struct diags *diags)
{
	memset(ld, 0, sizeof(*ld));
	ld->rep.file = path;
	ld->rep.diags = diags;
}

static void
loader_release(struct loader *ld)
{
	for (size_t i = 0; i < ld->n_early; i++)
		early_release(ld, &ld->early[i]);
	free(ld->early);
	nodes_release(ld, 1);
	free(ld->nodes);
	free(ld->src);
	free(ld->lines);
	buf_release(&ld->scratch);
}

struct runbook *
runbook_load(const char *path, const struct var_override *overrides, size_t n_overrides,
    struct diags *diags)
{
	struct loader ld;
	struct runbook *rb = xcalloc(1, sizeof(*rb));
	size_t before = diags->n;

	loader_init(&ld, path, diags);
	ld.rb = rb;
	rb->file = xstrdup(path);
	rb->vars.type = VAL_MAP;
	rb->defaults.sudo = -1;
	retry_unset(&rb->defaults.retry);
	if (load_document(&ld, path) == 0) {
		if (sha256_hex(ld.src, ld.len, rb->sha256) < 0)
			err(&ld, NULL, "cannot compute the SHA-256 of the file");
		parse_runbook(&ld, ld.n_nodes > 0 ? node_at(&ld, 1) : NULL);
		runbook_apply_overrides(rb, overrides, n_overrides, &ld.rep);
		runbook_check(rb, &ld.rep);
		rb->source = ld.src;
		ld.src = NULL;
	}
	loader_release(&ld);
	if (diags->n > before) {
		diags_sort(diags);
		runbook_free(rb);
		return NULL;
	}
	return rb;
}

int
vars_file_load(const char *path, struct value *out, struct diags *diags)
{
	struct loader ld;
	size_t before = diags->n;
	yaml_node_t *root;

	memset(out, 0, sizeof(*out));
	out->type = VAL_MAP;
	loader_init(&ld, path, diags);
	if (load_document(&ld, path) == 0) {
		root = ld.n_nodes > 0 ? node_at(&ld, 1) : NULL;
		if (root == NULL || root->type != YAML_MAPPING_NODE)
			err(&ld, root, "a vars file must hold one mapping of names to values");
		else
			value_of(&ld, root, out);
	}
	loader_release(&ld);
	if (diags->n > before) {
		value_release(out);
		out->type = VAL_MAP;
		return -1;
	}
	return 0;
}
