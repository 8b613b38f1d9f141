#include "lock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "statedir.h"
#include "util.h"

/* The holder record is a few hundred bytes; anything bigger is not ours. */
#define HOLDER_MAX 4096
/* A holder may have the lock but not yet its record: read again this often. */
#define HOLDER_TRIES 5
#define HOLDER_WAIT_MS 20
/* Times to reopen a lock file that was replaced between open and flock. */
#define LOCK_TRIES 20

struct lock {
	int fd;
};

static int
write_holder(int fd, const char *run_id, char **why)
{
	char host[HOST_NAME_MAX + 1], started[STATEDIR_TIME_SIZE];
	struct json_object *rec = json_object_new_object();
	const char *s;
	size_t len = 0;
	ssize_t n;
	int rc = -1;

	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "unknown");
	host[sizeof(host) - 1] = '\0';
	if (statedir_format_time(wall_ms(), started) < 0)
		started[0] = '\0';
	json_object_object_add(rec, "run_id", json_object_new_string(run_id));
	json_object_object_add(rec, "pid", json_object_new_int64((int64_t)getpid()));
	json_object_object_add(rec, "host", json_object_new_string(host));
	json_object_object_add(rec, "started", json_object_new_string(started));
	s = json_object_to_json_string_length(rec,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	/* Written over the old record, then cut to length: never an empty file. */
	n = pwrite(fd, s, len, 0);
	if (n < 0 || (size_t)n != len) {
		*why = xstrdup(n < 0 ? strerror(errno) : "short write");
		goto cleanup;
	}
	if (ftruncate(fd, (off_t)len) < 0 || fsync(fd) < 0) {
		*why = xstrdup(strerror(errno));
		goto cleanup;
	}
	rc = 0;
cleanup:
	json_object_put(rec);
	return rc;
}

static char *
dup_string_field(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(obj, key, &v) && json_object_is_type(v, json_type_string))
		return xstrdup(json_object_get_string(v));
	return NULL;
}

/* Parse a holder record; returns 0 when it named at least the run. */
static int
parse_holder(const char *text, struct lock_holder *h)
{
	struct json_object *obj = json_tokener_parse(text), *v;

	if (obj == NULL || !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return -1;
	}
	h->run_id = dup_string_field(obj, "run_id");
	h->host = dup_string_field(obj, "host");
	h->started = dup_string_field(obj, "started");
	if (json_object_object_get_ex(obj, "pid", &v) && json_object_is_type(v, json_type_int))
		h->pid = (long)json_object_get_int64(v);
	json_object_put(obj);
	return h->run_id != NULL ? 0 : -1;
}

/* Read who holds the lock, retrying while the holder may still be writing. */
static void
read_holder(int fd, struct lock_holder *h)
{
	char text[HOLDER_MAX + 1];
	int try;

	for (try = 0; try < HOLDER_TRIES; try++) {
		ssize_t n;

		if (try > 0)
			sleep_ms(HOLDER_WAIT_MS, NULL);
		lock_holder_release(h);
		while ((n = pread(fd, text, HOLDER_MAX, 0)) < 0 && errno == EINTR)
			;
		if (n < 0)
			return;
		text[n] = '\0';
		if (parse_holder(text, h) == 0)
			return;
	}
}

/*
 * Is run_id (a journal's name without .jsonl) a run of runbook_name?
 * Run ids are TIME-NAME-HEX (statedir.h), TIME being 16 characters.
 */
static bool
run_of(const char *run_id, size_t id_len, const char *runbook_name)
{
	size_t n = strlen(runbook_name), rest;

	if (id_len < 16 + 1 + n + 2 || run_id[16] != '-' || strncmp(run_id + 17, runbook_name, n) != 0 ||
	    run_id[17 + n] != '-')
		return false;
	rest = id_len - (17 + n + 1);
	return memchr(run_id + 17 + n + 1, '-', rest) == NULL;
}

/* Fill h from the first record (run_start) of the journal open at fd. */
static void
holder_from_journal(int fd, const char *run_id, struct lock_holder *h)
{
	char text[HOLDER_MAX + 1];
	struct json_object *obj, *v;
	ssize_t n;
	char *nl;

	lock_holder_release(h);
	h->run_id = xstrdup(run_id);
	while ((n = pread(fd, text, HOLDER_MAX, 0)) < 0 && errno == EINTR)
		;
	if (n <= 0)
		return;
	text[n] = '\0';
	if ((nl = strchr(text, '\n')) == NULL)
		return;
	*nl = '\0';
	obj = json_tokener_parse(text);
	if (obj != NULL && json_object_is_type(obj, json_type_object)) {
		h->host = dup_string_field(obj, "host");
		h->started = dup_string_field(obj, "ts");
		if (json_object_object_get_ex(obj, "pid", &v) && json_object_is_type(v, json_type_int))
			h->pid = (long)json_object_get_int64(v);
	}
	json_object_put(obj);
}

/*
 * A run of runbook_name that is still writing its journal (the journal's
 * writer flock is held), although we hold the lock: its lock file was
 * deleted or replaced while it ran. Returns true and fills h when found.
 * Only journals of this runbook are touched, and only while we hold its
 * lock, so the probe cannot get in the way of any other run.
 */
static bool
live_run_of(const struct statedir *sd, const char *runbook_name, struct lock_holder *h)
{
	int runs = statedir_runs_fd(sd), dfd;
	bool found = false;
	struct dirent *e;
	DIR *d;

	if (runs < 0 || (dfd = openat(runs, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return false;
	if ((d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return false;
	}
	while (!found && (e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		int fd, rc;

		if (len <= 6 || strcmp(e->d_name + len - 6, ".jsonl") != 0 ||
		    !run_of(e->d_name, len - 6, runbook_name))
			continue;
		fd = openat(runs, e->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		while ((rc = flock(fd, LOCK_SH | LOCK_NB)) < 0 && errno == EINTR)
			;
		if (rc < 0 && errno == EWOULDBLOCK) {
			char *id = xstrndup(e->d_name, len - 6);
			if (h != NULL)
				holder_from_journal(fd, id, h);
			free(id);
			found = true;
		}
		close(fd);
	}
	closedir(d);
	return found;
}

/* Does name in dirfd still name the file open at fd (not deleted, not replaced)? */
static bool
still_named(int dirfd, const char *name, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && fstatat(dirfd, name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int
lock_acquire(const struct statedir *sd, const char *runbook_name,
    const char *run_id, struct lock **out, struct lock_holder *holder, char **err)
{
	int locks = statedir_locks_fd(sd), fd = -1, rc, tries = 0;
	char *path = NULL, *name = NULL, *why = NULL;
	struct stat st;
	struct lock *l;

	*out = NULL;
	if (!statedir_valid_runbook_name(runbook_name)) {
		*err = xasprintf("invalid runbook name '%s'", runbook_name ? runbook_name : "");
		return -1;
	}
	if (locks < 0) {
		*err = xasprintf("state directory '%s' has no locks directory", statedir_path(sd));
		return -1;
	}
	name = xasprintf("%s.lock", runbook_name);
	path = xasprintf("%s/locks/%s", statedir_path(sd), name);
again:
	fd = openat(locks, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd < 0) {
		if (errno == ELOOP)
			*err = xasprintf("lock file '%s' is a symbolic link; refusing to use it", path);
		else
			*err = xasprintf("cannot open lock file '%s': %s", path, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*err = xasprintf("lock file '%s' is not a regular file", path);
		goto fail;
	}
	while ((rc = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (rc < 0 && errno == EWOULDBLOCK) {
		if (holder != NULL)
			read_holder(fd, holder);
		close(fd);
		free(name);
		free(path);
		return 1;
	}
	if (rc < 0) {
		*err = xasprintf("cannot lock '%s': %s", path, strerror(errno));
		goto fail;
	}
	/*
	 * The file may have been deleted or replaced between open and flock:
	 * then the lock is on an inode nobody else will look at. Start over.
	 */
	if (!still_named(locks, name, fd)) {
		close(fd);
		fd = -1;
		if (++tries >= LOCK_TRIES) {
			*err = xasprintf("lock file '%s' keeps being replaced; is something deleting it?", path);
			goto fail;
		}
		goto again;
	}
	/* A run whose lock file was deleted under it still holds its journal. */
	if (live_run_of(sd, runbook_name, holder)) {
		close(fd);
		free(name);
		free(path);
		return 1;
	}
	if (write_holder(fd, run_id, &why) < 0) {
		*err = xasprintf("cannot write lock file '%s': %s", path, why);
		free(why);
		goto fail;
	}
	/*
	 * Lock files are not fsync'ed into their directory: a lock does not
	 * outlive a reboot, so losing the entry in a power cut loses nothing.
	 */
	l = xcalloc(1, sizeof(*l));
	l->fd = fd;
	free(name);
	free(path);
	*out = l;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(name);
	free(path);
	return -1;
}

void
lock_release(struct lock *l)
{
	if (l == NULL)
		return;
	/* Emptied while still held, so it never names a run that has ended. */
	if (ftruncate(l->fd, 0) == 0)
		(void)fsync(l->fd);
	flock(l->fd, LOCK_UN);
	close(l->fd);
	free(l);
}

int
lock_fd(const struct lock *l)
{
	return l->fd;
}

void
lock_holder_release(struct lock_holder *h)
{
	if (h == NULL)
		return;
	free(h->run_id);
	free(h->host);
	free(h->started);
	h->run_id = NULL;
	h->host = NULL;
	h->started = NULL;
	h->pid = 0;
}
