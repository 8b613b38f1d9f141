#include "statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

#define JOURNAL_SUFFIX ".jsonl"
/* Length of the time prefix of a run id: 20261122T021500Z */
#define RUN_ID_TIME_LEN 16

struct statedir {
	char *path;
	int runs_fd;
	int locks_fd;
};

char *
statedir_resolve(const char *dir)
{
	const char *env;

	if (dir != NULL && *dir != '\0')
		return xstrdup(dir);
	env = getenv("MIGRATE_STATE_DIR");
	if (env != NULL && *env != '\0')
		return xstrdup(env);
	/* the XDG base directory spec ignores a relative XDG_STATE_HOME */
	env = getenv("XDG_STATE_HOME");
	if (env != NULL && env[0] == '/')
		return xasprintf("%s/migrate", env);
	env = getenv("HOME");
	if (env == NULL || *env == '\0') {
		const struct passwd *pw = getpwuid(getuid());
		env = pw ? pw->pw_dir : NULL;
	}
	if (env == NULL || *env == '\0')
		return NULL;
	return xasprintf("%s/.local/state/migrate", env);
}

/* The directory that holds path: "." for a bare name, "/" for "/x". */
static char *
parent_of(const char *path)
{
	size_t len = strlen(path);

	while (len > 1 && path[len - 1] == '/')
		len--;
	while (len > 0 && path[len - 1] != '/')
		len--;
	if (len == 0)
		return xstrdup(".");
	while (len > 1 && path[len - 1] == '/')
		len--;
	return xstrndup(path, len);
}

static int
sync_dir_fd(int fd, const char *what, char **err)
{
	if (fsync(fd) < 0 && errno != EINVAL) {
		*err = xasprintf("cannot sync directory '%s': %s", what, strerror(errno));
		return -1;
	}
	return 0;
}

/* fsync the directory holding path, after an entry was made in it. */
static int
sync_parent(const char *path, char **err)
{
	char *parent = parent_of(path);
	int fd, rc;

	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*err = xasprintf("cannot open directory '%s': %s", parent, strerror(errno));
		free(parent);
		return -1;
	}
	rc = sync_dir_fd(fd, parent, err);
	close(fd);
	free(parent);
	return rc;
}

/* mkdir -p with mode 0700 for every directory made; each new entry is synced. */
static int
make_dirs(const char *path, char **err)
{
	char *parent;
	int rc;

	if (mkdir(path, 0700) == 0)
		return sync_parent(path, err);
	if (errno == EEXIST)
		return 0;
	if (errno != ENOENT) {
		*err = xasprintf("cannot create directory '%s': %s", path, strerror(errno));
		return -1;
	}
	parent = parent_of(path);
	rc = strcmp(parent, path) == 0 ? 0 : make_dirs(parent, err);
	free(parent);
	if (rc < 0)
		return -1;
	if (mkdir(path, 0700) == 0)
		return sync_parent(path, err);
	if (errno == EEXIST)
		return 0;
	*err = xasprintf("cannot create directory '%s': %s", path, strerror(errno));
	return -1;
}

/*
 * Refuse a directory of the state directory that someone else could write
 * to: anyone could then plant or rewrite journals and locks, and no
 * checksum stops a deliberate forgery. Writable by every user is always
 * refused; owned by another user or writable by its group only when it is
 * setgid, the mark of a directory a team shares on purpose (SPEC §4).
 */
static int
check_private(int fd, const char *path, char **err)
{
	struct stat st;
	unsigned mode;

	if (fstat(fd, &st) < 0) {
		*err = xasprintf("cannot stat '%s': %s", path, strerror(errno));
		return -1;
	}
	mode = (unsigned)st.st_mode & 07777;
	if (st.st_mode & S_IWOTH) {
		*err = xasprintf("'%s' is writable by every user (mode %04o), so anyone could forge its"
		    " journals and locks; fix it with: chmod 700 '%s'", path, mode, path);
		return -1;
	}
	if (st.st_mode & S_ISGID)
		return 0;
	if (st.st_uid != geteuid()) {
		*err = xasprintf("'%s' is owned by another user (uid %ld), who could forge its journals"
		    " and locks; use a state directory of your own (--state-dir), or mark one that a"
		    " team shares on purpose as a setgid group directory (chmod 2770 '%s')",
		    path, (long)st.st_uid, path);
		return -1;
	}
	if (st.st_mode & S_IWGRP) {
		*err = xasprintf("'%s' is writable by its group (mode %04o), so group members could"
		    " forge its journals and locks; fix it with: chmod 700 '%s' (or, for a directory"
		    " a team shares on purpose, mark it setgid: chmod 2770 '%s')", path, mode, path, path);
		return -1;
	}
	return 0;
}

/*
 * Open (and with create, first make) the subdirectory name of the state
 * directory, refusing a symbolic link. Returns the descriptor, -1 with
 * *err set on failure, or -2 when it does not exist and create is false.
 */
static int
open_subdir(int dirfd, const char *statepath, const char *name, bool create,
    char **err)
{
	bool made = false;
	int fd;

	if (create) {
		if (mkdirat(dirfd, name, 0700) == 0)
			made = true;
		else if (errno != EEXIST) {
			*err = xasprintf("cannot create directory '%s/%s': %s",
			    statepath, name, strerror(errno));
			return -1;
		}
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;
		struct stat st;

		if (saved == ENOENT && !create)
			return -2;
		/* O_NOFOLLOW|O_DIRECTORY on a link to a directory gives ENOTDIR. */
		if ((saved == ELOOP || saved == ENOTDIR) &&
		    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			*err = xasprintf("directory '%s/%s' is a symbolic link; refusing to use it",
			    statepath, name);
		else if (saved == ENOTDIR)
			*err = xasprintf("'%s/%s' is not a directory", statepath, name);
		else
			*err = xasprintf("cannot open directory '%s/%s': %s",
			    statepath, name, strerror(saved));
		return -1;
	}
	if (made && (fchmod(fd, 0700) < 0 || sync_dir_fd(dirfd, statepath, err) < 0)) {
		if (*err == NULL)
			*err = xasprintf("cannot set the mode of '%s/%s': %s",
			    statepath, name, strerror(errno));
		close(fd);
		return -1;
	}
	if (!made) {
		char *sub = xasprintf("%s/%s", statepath, name);
		int rc = check_private(fd, sub, err);
		free(sub);
		if (rc < 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

struct statedir *
statedir_open(const char *dir, bool create, char **err)
{
	struct statedir *sd = xcalloc(1, sizeof(*sd));
	int dirfd = -1;

	*err = NULL;
	sd->path = statedir_resolve(dir);
	sd->runs_fd = -1;
	sd->locks_fd = -1;
	if (sd->path == NULL) {
		*err = xstrdup("no state directory: HOME is not set; use --state-dir or MIGRATE_STATE_DIR");
		goto fail;
	}
	if (create && make_dirs(sd->path, err) < 0)
		goto fail;
	dirfd = open(sd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (errno == ENOENT && !create)
			return sd;
		if (errno == ENOTDIR)
			*err = xasprintf("state directory '%s' is not a directory", sd->path);
		else
			*err = xasprintf("cannot open state directory '%s': %s",
			    sd->path, strerror(errno));
		goto fail;
	}
	if (check_private(dirfd, sd->path, err) < 0)
		goto fail;
	sd->runs_fd = open_subdir(dirfd, sd->path, "runs", create, err);
	if (sd->runs_fd == -1)
		goto fail;
	sd->locks_fd = open_subdir(dirfd, sd->path, "locks", create, err);
	if (sd->locks_fd == -1)
		goto fail;
	if (sd->runs_fd == -2)
		sd->runs_fd = -1;
	if (sd->locks_fd == -2)
		sd->locks_fd = -1;
	close(dirfd);
	return sd;
fail:
	if (dirfd >= 0)
		close(dirfd);
	statedir_free(sd);
	return NULL;
}

void
statedir_free(struct statedir *sd)
{
	if (sd == NULL)
		return;
	if (sd->runs_fd >= 0)
		close(sd->runs_fd);
	if (sd->locks_fd >= 0)
		close(sd->locks_fd);
	free(sd->path);
	free(sd);
}

const char *
statedir_path(const struct statedir *sd)
{
	return sd->path;
}

bool
statedir_exists(const struct statedir *sd)
{
	return sd->runs_fd >= 0;
}

int
statedir_runs_fd(const struct statedir *sd)
{
	return sd->runs_fd;
}

int
statedir_locks_fd(const struct statedir *sd)
{
	return sd->locks_fd;
}

static bool
is_name_char(char c, bool upper)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    (upper && c >= 'A' && c <= 'Z');
}

/* 1 to max characters: a letter or digit, then letters, digits, '.', '_', '-'. */
static bool
valid_name(const char *s, size_t max, bool upper)
{
	size_t i;

	if (s == NULL || !is_name_char(s[0], upper))
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max)
			return false;
		if (!is_name_char(s[i], upper) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

bool
statedir_valid_runbook_name(const char *name)
{
	return valid_name(name, STATEDIR_NAME_MAX, false);
}

bool
statedir_valid_run_id(const char *id)
{
	return valid_name(id, STATEDIR_RUN_ID_MAX, true);
}

int
statedir_format_time(int64_t ms, char out[STATEDIR_TIME_SIZE])
{
	int64_t secs = ms / 1000, frac = ms % 1000;
	time_t t;
	struct tm tm;
	int n;

	out[0] = '\0';
	if (frac < 0) {
		frac += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	n = snprintf(out, STATEDIR_TIME_SIZE, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)frac);
	if (n < 0 || n >= STATEDIR_TIME_SIZE) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

char *
statedir_new_run_id(const struct statedir *sd, const char *runbook_name,
    char **err)
{
	char stamp[RUN_ID_TIME_LEN + 1];
	time_t t = (time_t)(wall_ms() / 1000);
	struct tm tm;
	int tries;

	if (!statedir_valid_runbook_name(runbook_name)) {
		*err = xasprintf("invalid runbook name '%s'", runbook_name ? runbook_name : "");
		return NULL;
	}
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm) != RUN_ID_TIME_LEN) {
		*err = xasprintf("cannot format the current time");
		return NULL;
	}
	for (tries = 0; tries < 64; tries++) {
		unsigned char rnd[2];
		char *id, *file;
		bool taken;

		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			*err = xasprintf("cannot get random bytes for a run id: %s",
			    strerror(errno));
			return NULL;
		}
		id = xasprintf("%s-%s-%02x%02x", stamp, runbook_name, rnd[0], rnd[1]);
		if (sd->runs_fd < 0)
			return id;
		file = xasprintf("%s%s", id, JOURNAL_SUFFIX);
		taken = faccessat(sd->runs_fd, file, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
		free(file);
		if (!taken)
			return id;
		free(id);
	}
	*err = xasprintf("cannot find a free run id for runbook '%s'", runbook_name);
	return NULL;
}

char *
statedir_journal_path(const struct statedir *sd, const char *run_id, char **err)
{
	if (!statedir_valid_run_id(run_id)) {
		*err = xasprintf("invalid run id '%s'", run_id ? run_id : "");
		return NULL;
	}
	return xasprintf("%s/runs/%s%s", sd->path, run_id, JOURNAL_SUFFIX);
}

struct run_entry {
	char *id;
	struct timespec mtime;
};

/* Newest first: time prefix of the id, then modification time, then the id. */
static int
cmp_runs(const void *pa, const void *pb)
{
	const struct run_entry *a = pa, *b = pb;
	int c = strncmp(b->id, a->id, RUN_ID_TIME_LEN);

	if (c != 0)
		return c;
	if (a->mtime.tv_sec != b->mtime.tv_sec)
		return a->mtime.tv_sec < b->mtime.tv_sec ? 1 : -1;
	if (a->mtime.tv_nsec != b->mtime.tv_nsec)
		return a->mtime.tv_nsec < b->mtime.tv_nsec ? 1 : -1;
	return strcmp(b->id, a->id);
}

int
statedir_list_runs(const struct statedir *sd, char ***ids, size_t *n, char **err)
{
	struct run_entry *v = NULL;
	size_t nv = 0, cap = 0, i;
	struct dirent *de;
	DIR *d;
	int fd;

	*ids = NULL;
	*n = 0;
	if (sd->runs_fd < 0)
		return 0;
	/* A fresh descriptor: readdir must not move the offset of runs_fd. */
	fd = openat(sd->runs_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		*err = xasprintf("cannot read directory '%s/runs': %s", sd->path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name), slen = strlen(JOURNAL_SUFFIX);
		struct run_entry e;
		struct stat st;

		if (len <= slen || strcmp(de->d_name + len - slen, JOURNAL_SUFFIX) != 0)
			continue;
		if (fstatat(sd->runs_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		e.id = xstrndup(de->d_name, len - slen);
		if (!statedir_valid_run_id(e.id)) {
			free(e.id);
			continue;
		}
		e.mtime = st.st_mtim;
		PUSH(v, nv, cap, e);
	}
	if (errno != 0) {
		*err = xasprintf("cannot read directory '%s/runs': %s", sd->path,
		    strerror(errno));
		closedir(d);
		for (i = 0; i < nv; i++)
			free(v[i].id);
		free(v);
		return -1;
	}
	closedir(d);
	if (nv > 1)
		qsort(v, nv, sizeof(*v), cmp_runs);
	if (nv > 0) {
		*ids = xcalloc(nv, sizeof(**ids));
		for (i = 0; i < nv; i++)
			(*ids)[i] = v[i].id;
	}
	*n = nv;
	free(v);
	return 0;
}

void
statedir_free_list(char **ids, size_t n)
{
	size_t i;

	if (ids == NULL)
		return;
	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}
