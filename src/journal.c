#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fault.h"
#include "sha256.h"
#include "statedir.h"
#include "util.h"

#define JOURNAL_SUFFIX ".jsonl"
/* Hex digits of SHA-256 kept in the "sum" field. */
#define SUM_HEX_LEN 16
#define SUM_PREFIX ",\"" JOURNAL_KEY_SUM "\":\""
/* ,"sum":"0123456789abcdef"} */
#define SUM_TAIL_LEN (sizeof(SUM_PREFIX) - 1 + SUM_HEX_LEN + 2)
/* Nesting allowed when reading a line back; deeper records are refused on append. */
#define JSON_DEPTH 64

/* write(2), fdatasync(2) and fsync(2) of journals, where faults are injected in test builds. */
static ssize_t
j_write(int fd, const void *p, size_t len)
{
	return fault_now(FAULT_JOURNAL) ? -1 : write(fd, p, len);
}

static int
j_datasync(int fd)
{
	return fault_now(FAULT_JOURNAL) ? -1 : fdatasync(fd);
}

static int
j_fsync(int fd)
{
	return fault_now(FAULT_JOURNAL) ? -1 : fsync(fd);
}

struct journal {
	pthread_mutex_t mu;
	int fd;
	char *path;
	uint64_t seq;  /* seq of the last record in the file */
	uint64_t size; /* bytes in the file, all of them whole lines */
	bool broken;   /* a write failed; refuse every later append */
	bool created;  /* made by journal_create: removed on free while it holds no record */
};

/*
 * Why a line failed its check: what (static), a detail from json-c or NULL,
 * and whether it is damage a torn write leaves (as opposed to a whole line
 * with a valid checksum that is still wrong).
 */
struct line_fault {
	const char *what;
	const char *detail;
	bool torn;
};

/* The checksum of a line whose text without the sum field is x + "}". */
static int
line_sum(const char *x, size_t xlen, char out[SUM_HEX_LEN + 1])
{
	char hex[SHA256_HEX_SIZE];
	struct buf b = BUF_INIT;
	int rc;

	buf_add(&b, x, xlen);
	buf_addc(&b, '}');
	rc = sha256_hex(b.data, b.len, hex);
	buf_release(&b);
	memcpy(out, hex, SUM_HEX_LEN);
	out[SUM_HEX_LEN] = '\0';
	return rc;
}

static bool
is_sum_hex(const char *s)
{
	size_t i;

	for (i = 0; i < SUM_HEX_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * Check one line (without its newline): checksum, then strict JSON of one
 * object with "seq" and "ts". On success returns the parsed object (the
 * caller puts it) and its seq; else NULL with *fault set.
 */
static struct json_object *
check_line(const char *line, size_t len, int64_t *seq, struct line_fault *fault)
{
	const char *tail, *hex;
	char want[SUM_HEX_LEN + 1];
	struct json_tokener *tok;
	struct json_object *obj, *v;

	fault->detail = NULL;
	fault->torn = true;
	if (len < SUM_TAIL_LEN + 1) {
		fault->what = "missing checksum";
		return NULL;
	}
	if (len > INT_MAX) {
		fault->what = "line too long";
		return NULL;
	}
	tail = line + len - SUM_TAIL_LEN;
	hex = tail + sizeof(SUM_PREFIX) - 1;
	if (memcmp(tail, SUM_PREFIX, sizeof(SUM_PREFIX) - 1) != 0 || !is_sum_hex(hex) ||
	    memcmp(hex + SUM_HEX_LEN, "\"}", 2) != 0) {
		fault->what = "missing checksum";
		return NULL;
	}
	if (line_sum(line, len - SUM_TAIL_LEN, want) < 0 ||
	    memcmp(want, hex, SUM_HEX_LEN) != 0) {
		fault->what = "checksum mismatch";
		return NULL;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (tok == NULL) {
		fault->what = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, line, (int)len);
	if (obj == NULL || json_tokener_get_parse_end(tok) != len) {
		enum json_tokener_error e = json_tokener_get_error(tok);
		fault->what = "invalid JSON";
		if (obj == NULL && e != json_tokener_success)
			fault->detail = json_tokener_error_desc(e);
		json_object_put(obj);
		json_tokener_free(tok);
		return NULL;
	}
	json_tokener_free(tok);
	fault->torn = false;
	if (!json_object_is_type(obj, json_type_object)) {
		fault->what = "not a JSON object";
	} else if (!json_object_object_get_ex(obj, JOURNAL_KEY_SEQ, &v) ||
	    !json_object_is_type(v, json_type_int)) {
		fault->what = "missing seq";
	} else {
		*seq = json_object_get_int64(v);
		if (json_object_object_get_ex(obj, JOURNAL_KEY_TS, &v) &&
		    json_object_is_type(v, json_type_string))
			return obj;
		fault->what = "missing ts";
	}
	json_object_put(obj);
	return NULL;
}

/*
 * Reads a journal a block at a time: only the line being checked is held,
 * however long the journal (status, history and resume of 100,000 units).
 */
struct line_reader {
	int fd;
	const char *path;
	struct buf b;
	size_t pos;              /* start of the next line in b */
	bool eof;
};

/* Read one more block into r->b, keeping the unread part. 0, or -1 with *err. */
static int
reader_fill(struct line_reader *r, char **err)
{
	char chunk[65536];
	ssize_t got;

	if (r->pos > 0) {
		memmove(r->b.data, r->b.data + r->pos, r->b.len - r->pos);
		r->b.len -= r->pos;
		r->pos = 0;
	}
	for (;;) {
		got = read(r->fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			*err = xasprintf("cannot read journal '%s': %s", r->path, strerror(errno));
			return -1;
		}
		if (got == 0)
			r->eof = true;
		else
			buf_add(&r->b, chunk, (size_t)got);
		return 0;
	}
}

/*
 * The next line (without its newline; *nl says whether it had one): 1,
 * 0 at the end of the file, -1 on a read error (*err set). The line stays
 * valid until the next call.
 */
static int
reader_next(struct line_reader *r, const char **line, size_t *len, bool *nl, char **err)
{
	for (;;) {
		const char *p = r->b.data ? r->b.data + r->pos : NULL;
		const char *end = p ? memchr(p, '\n', r->b.len - r->pos) : NULL;
		if (end) {
			*line = p;
			*len = (size_t)(end - p);
			*nl = true;
			r->pos += *len + 1;
			return 1;
		}
		if (r->eof) {
			if (p == NULL || r->pos >= r->b.len)
				return 0;
			*line = p;
			*len = r->b.len - r->pos;
			*nl = false;
			r->pos = r->b.len;
			return 1;
		}
		if (reader_fill(r, err) < 0)
			return -1;
	}
}

/* Is nothing left after the line just returned? 1, 0, or -1 on a read error (may read ahead). */
static int
reader_at_end(struct line_reader *r, char **err)
{
	while (r->pos >= r->b.len && !r->eof)
		if (reader_fill(r, err) < 0)
			return -1;
	return r->pos >= r->b.len && r->eof;
}

/*
 * Check every line of the journal open on fd (from its current offset),
 * handing each record to fn (when not NULL), which borrows it. Returns 0,
 * -1 (cannot read), JOURNAL_CORRUPT with *err set, or what fn returned
 * when it was not 0 (fn sets *err).
 */
static int
replay_fd(int fd, const char *path, journal_record_fn fn, void *ctx,
    struct journal_info *info, char **err)
{
	struct line_reader r = { fd, path, BUF_INIT, 0, false };
	size_t line = 0;
	struct json_object *obj;
	struct line_fault fault;
	const char *data;
	size_t len;
	bool nl;
	int rc = 0, got = 0, at_end;

	memset(info, 0, sizeof(*info));
	while (rc == 0 && (got = reader_next(&r, &data, &len, &nl, err)) > 0) {
		int64_t seq = 0;

		line++;
		if (!nl) {
			info->torn_tail = true;
			info->torn_line = line;
			info->torn_bytes = len;
			info->torn_reason = "no trailing newline";
			break;
		}
		obj = check_line(data, len, &seq, &fault);
		if (obj == NULL && fault.torn && (at_end = reader_at_end(&r, err)) != 0) {
			if (at_end < 0) {
				rc = -1;
				break;
			}
			info->torn_tail = true;
			info->torn_line = line;
			info->torn_bytes = len + 1;
			info->torn_reason = fault.what;
			break;
		}
		if (obj == NULL) {
			*err = xasprintf("journal '%s' is corrupt at line %zu: %s%s%s%s", path,
			    line, fault.what, fault.detail ? " (" : "",
			    fault.detail ? fault.detail : "", fault.detail ? ")" : "");
			rc = JOURNAL_CORRUPT;
			break;
		}
		if (seq < 0 || (uint64_t)seq != info->last_seq + 1) {
			*err = xasprintf("journal '%s' is corrupt at line %zu: expected seq %llu, found %lld",
			    path, line, (unsigned long long)info->last_seq + 1, (long long)seq);
			json_object_put(obj);
			rc = JOURNAL_CORRUPT;
			break;
		}
		if (fn) {
			json_object_object_del(obj, JOURNAL_KEY_SUM);
			rc = fn(ctx, obj, err);
		}
		json_object_put(obj);
		if (rc != 0)
			break;
		info->last_seq = (uint64_t)seq;
		info->records++;
		info->valid_size += len + 1;
	}
	if (rc == 0 && got < 0)
		rc = -1;
	buf_release(&r.b);
	return rc;
}

/*
 * Open an existing journal relative to dirfd (or AT_FDCWD), refusing a
 * symbolic link or anything but a regular file. Returns the fd or -1.
 */
static int
open_existing(int dirfd, const char *name, const char *path, int flags, char **err)
{
	struct stat st;
	int fd;

	fd = openat(dirfd, name, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			*err = xasprintf("journal '%s' is a symbolic link; refusing to use it", path);
		else
			*err = xasprintf("cannot open journal '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*err = xasprintf("journal '%s' is not a regular file", path);
		close(fd);
		return -1;
	}
	return fd;
}

int
journal_replay_each(const char *path, journal_record_fn fn, void *ctx,
    struct journal_info *info, char **err)
{
	struct journal_info local;
	int fd, rc;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	fd = open_existing(AT_FDCWD, path, path, O_RDONLY, err);
	if (fd < 0)
		return -1;
	rc = replay_fd(fd, path, fn, ctx, info, err);
	close(fd);
	return rc;
}

struct collected {
	struct json_object **v;
	size_t n, cap;
};

static int
collect(void *ctx, struct json_object *record, char **err)
{
	struct collected *c = ctx;

	PUSH(c->v, c->n, c->cap, json_object_get(record));
	return 0;
}

int
journal_replay(const char *path, struct json_object ***records, size_t *n,
    struct journal_info *info, char **err)
{
	struct collected c = { NULL, 0, 0 };
	int rc = journal_replay_each(path, collect, &c, info, err);

	if (rc != 0) {
		journal_records_free(c.v, c.n);
		c.v = NULL;
		c.n = 0;
	}
	*records = c.v;
	*n = c.n;
	return rc;
}

void
journal_records_free(struct json_object **records, size_t n)
{
	size_t i;

	if (records == NULL)
		return;
	for (i = 0; i < n; i++)
		json_object_put(records[i]);
	free(records);
}

/* One writer per journal: a second process that tries is refused. */
static int
lock_writer(int fd, const char *path, char **err)
{
	int rc;

	while ((rc = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (rc == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		*err = xasprintf("journal '%s' is in use by another process", path);
	else
		*err = xasprintf("cannot lock journal '%s': %s", path, strerror(errno));
	return -1;
}

static struct journal *
journal_new(int fd, char *path, uint64_t seq, uint64_t size)
{
	struct journal *j = xcalloc(1, sizeof(*j));

	pthread_mutex_init(&j->mu, NULL);
	j->fd = fd;
	j->path = path;
	j->seq = seq;
	j->size = size;
	return j;
}

/* Checks shared by create and open_append; returns the journal's path or NULL. */
static char *
journal_target(const struct statedir *sd, const char *run_id, char **err)
{
	if (statedir_runs_fd(sd) < 0) {
		*err = xasprintf("state directory '%s' has no runs directory",
		    statedir_path(sd));
		return NULL;
	}
	return statedir_journal_path(sd, run_id, err);
}

struct journal *
journal_create(const struct statedir *sd, const char *run_id, char **err)
{
	int runs = statedir_runs_fd(sd), fd;
	struct journal *j;
	char *path, *name;
	struct stat st;

	path = journal_target(sd, run_id, err);
	if (path == NULL)
		return NULL;
	name = xasprintf("%s%s", run_id, JOURNAL_SUFFIX);
	fd = openat(runs, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0) {
		if (errno == EEXIST && fstatat(runs, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			*err = xasprintf("journal '%s' is a symbolic link; refusing to use it", path);
		else if (errno == EEXIST)
			*err = xasprintf("journal '%s' already exists", path);
		else
			*err = xasprintf("cannot create journal '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (fchmod(fd, 0600) < 0) {
		*err = xasprintf("cannot set the mode of journal '%s': %s", path, strerror(errno));
		goto fail_created;
	}
	if (lock_writer(fd, path, err) < 0)
		goto fail_created;
	if (j_fsync(runs) < 0 && errno != EINVAL) {
		*err = xasprintf("cannot sync directory '%s/runs': %s", statedir_path(sd),
		    strerror(errno));
		goto fail_created;
	}
	free(name);
	j = journal_new(fd, path, 0, 0);
	j->created = true;
	return j;
fail_created:
	unlinkat(runs, name, 0);
	close(fd);
fail:
	free(name);
	free(path);
	return NULL;
}

struct journal *
journal_open_append(const struct statedir *sd, const char *run_id,
    struct journal_info *info, char **err)
{
	struct journal_info local;
	char *path, *name = NULL;
	int fd = -1;

	if (info == NULL)
		info = &local;
	memset(info, 0, sizeof(*info));
	path = journal_target(sd, run_id, err);
	if (path == NULL)
		return NULL;
	name = xasprintf("%s%s", run_id, JOURNAL_SUFFIX);
	fd = open_existing(statedir_runs_fd(sd), name, path, O_RDWR | O_APPEND, err);
	if (fd < 0)
		goto fail;
	if (lock_writer(fd, path, err) < 0 || replay_fd(fd, path, NULL, NULL, info, err) != 0)
		goto fail;
	if (info->torn_tail && (ftruncate(fd, (off_t)info->valid_size) < 0 ||
	    j_datasync(fd) < 0)) {
		*err = xasprintf("cannot cut the torn last line of journal '%s': %s",
		    path, strerror(errno));
		goto fail;
	}
	free(name);
	return journal_new(fd, path, info->last_seq, info->valid_size);
fail:
	if (fd >= 0)
		close(fd);
	free(name);
	free(path);
	return NULL;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = j_write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Why value cannot go into a journal line, or NULL: JSON has no NaN or
 * infinity (json-c would write them anyway), and replay limits nesting.
 */
static const char *
unjournalable(struct json_object *value, int depth)
{
	const char *why = NULL;
	size_t i;

	if (depth >= JSON_DEPTH - 1)
		return "nested too deeply";
	switch (json_object_get_type(value)) {
	case json_type_double:
		if (!isfinite(json_object_get_double(value)))
			return "a number is not finite";
		break;
	case json_type_object: {
		json_object_object_foreach(value, key, member) {
			(void)key;
			if ((why = unjournalable(member, depth + 1)) != NULL)
				return why;
		}
		break;
	}
	case json_type_array:
		for (i = 0; i < json_object_array_length(value); i++)
			if ((why = unjournalable(json_object_array_get_idx(value, i), depth + 1)) != NULL)
				return why;
		break;
	default:
		break;
	}
	return NULL;
}

/* Serialize {"seq":seq,"ts":now,...record...} and append the sum: one line with its newline. */
static int
format_line(const char *path, uint64_t seq, struct json_object *record,
    struct buf *line, char **err)
{
	struct json_object *full = json_object_new_object();
	char ts[STATEDIR_TIME_SIZE], sum[SUM_HEX_LEN + 1];
	struct line_fault fault;
	struct json_object *check;
	const char *s;
	size_t slen = 0;
	int64_t seen = 0;
	int rc = -1;

	if (full == NULL || statedir_format_time(wall_ms(), ts) < 0) {
		*err = xasprintf("cannot build a record for journal '%s'", path);
		goto cleanup;
	}
	json_object_object_add(full, JOURNAL_KEY_SEQ, json_object_new_int64((int64_t)seq));
	json_object_object_add(full, JOURNAL_KEY_TS, json_object_new_string(ts));
	json_object_object_foreach(record, key, val)
		json_object_object_add(full, key, json_object_get(val));
	s = json_object_to_json_string_length(full,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &slen);
	if (s == NULL || slen < 2 || s[slen - 1] != '}' || memchr(s, '\n', slen) != NULL) {
		*err = xasprintf("cannot serialize a record for journal '%s'", path);
		goto cleanup;
	}
	if (line_sum(s, slen - 1, sum) < 0) {
		*err = xasprintf("cannot checksum a record for journal '%s'", path);
		goto cleanup;
	}
	buf_add(line, s, slen - 1);
	buf_addf(line, "%s%s\"}", SUM_PREFIX, sum);
	/* Safety net behind unjournalable(): what would not replay is not written. */
	check = check_line(line->data, line->len, &seen, &fault);
	if (check == NULL || (uint64_t)seen != seq) {
		*err = xasprintf("cannot add a record to journal '%s': it would not read back (%s)",
		    path, check ? "wrong seq" : fault.what);
		json_object_put(check);
		goto cleanup;
	}
	json_object_put(check);
	buf_addc(line, '\n');
	rc = 0;
cleanup:
	json_object_put(full);
	return rc;
}

int
journal_append(struct journal *j, struct json_object *record, char **err)
{
	static const char *const reserved[] = { JOURNAL_KEY_SEQ, JOURNAL_KEY_TS, JOURNAL_KEY_SUM };
	struct buf line = BUF_INIT;
	const char *why;
	size_t i;
	int rc = -1;

	if (!json_object_is_type(record, json_type_object)) {
		*err = xasprintf("cannot add a record to journal '%s': not a JSON object", j->path);
		return -1;
	}
	for (i = 0; i < ARRAY_LEN(reserved); i++) {
		if (json_object_object_get_ex(record, reserved[i], NULL)) {
			*err = xasprintf("cannot add a record to journal '%s': key '%s' is reserved",
			    j->path, reserved[i]);
			return -1;
		}
	}
	if ((why = unjournalable(record, 0)) != NULL) {
		*err = xasprintf("cannot add a record to journal '%s': %s", j->path, why);
		return -1;
	}
	pthread_mutex_lock(&j->mu);
	if (j->broken) {
		*err = xasprintf("journal '%s' is not writable after an earlier write error", j->path);
		goto unlock;
	}
	if (format_line(j->path, j->seq + 1, record, &line, err) < 0)
		goto unlock;
	if (write_all(j->fd, line.data, line.len) < 0) {
		*err = xasprintf("cannot write journal '%s': %s", j->path, strerror(errno));
		j->broken = true;
		/* Best effort: leave only whole lines, so a resume sees no torn tail. */
		if (ftruncate(j->fd, (off_t)j->size) == 0)
			(void)fdatasync(j->fd);
		goto unlock;
	}
	if (j_datasync(j->fd) < 0) {
		/* After a failed sync the page cache cannot be trusted: stop here. */
		*err = xasprintf("cannot sync journal '%s': %s", j->path, strerror(errno));
		j->broken = true;
		goto unlock;
	}
	j->size += line.len;
	j->seq++;
	rc = 0;
unlock:
	pthread_mutex_unlock(&j->mu);
	buf_release(&line);
	return rc;
}

uint64_t
journal_seq(struct journal *j)
{
	uint64_t seq;

	pthread_mutex_lock(&j->mu);
	seq = j->seq;
	pthread_mutex_unlock(&j->mu);
	return seq;
}

const char *
journal_path(const struct journal *j)
{
	return j->path;
}

void
journal_free(struct journal *j)
{
	if (j == NULL)
		return;
	/* a run whose first record could not be written leaves no empty journal behind */
	if (j->created && j->seq == 0)
		(void)unlink(j->path);
	close(j->fd);
	pthread_mutex_destroy(&j->mu);
	free(j->path);
	free(j);
}
