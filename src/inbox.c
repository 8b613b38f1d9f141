/*
 * inbox.c - approvals handed to a live run through files in its inbox
 * directory (see inbox.h for the layout and the rules).
 */
#include "inbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

/* The largest approval file read; anything bigger is refused. */
#define INBOX_FILE_MAX 4096

struct inbox {
	int runs_fd;
	char *dir;      /* "RUN-ID.approvals" */
	int fd;         /* the open directory; -1 when not open */
};

static char *
inbox_dir_name(const char *run_id)
{
	return xasprintf("%s.approvals", run_id);
}

struct inbox *
inbox_new(int runs_fd, const char *run_id)
{
	struct inbox *ib;

	if (run_id == NULL || runs_fd < 0)
		return NULL;
	ib = xcalloc(1, sizeof(*ib));
	ib->runs_fd = runs_fd;
	ib->dir = inbox_dir_name(run_id);
	ib->fd = -1;
	return ib;
}

void
inbox_free(struct inbox *ib)
{
	if (ib == NULL)
		return;
	inbox_close(ib);
	free(ib->dir);
	free(ib);
}

/* Remove every entry of the open inbox. */
static void
inbox_clear(struct inbox *ib)
{
	DIR *d;
	struct dirent *e;
	int fd;

	fd = dup(ib->fd);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL && fd >= 0)
		close(fd);
	/* the duplicate shares its offset with ib->fd: start from the top */
	if (d)
		rewinddir(d);
	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			(void)unlinkat(ib->fd, e->d_name, 0);
	if (d)
		closedir(d);
}

int
inbox_open(struct inbox *ib, char **err)
{
	if (ib == NULL) {
		*err = xstrdup("this run has no inbox for approvals");
		return -1;
	}
	if (ib->fd >= 0)
		return 0;
	if (mkdirat(ib->runs_fd, ib->dir, 0700) < 0 && errno != EEXIST) {
		*err = xasprintf("cannot make the approvals inbox '%s': %s", ib->dir, strerror(errno));
		return -1;
	}
	ib->fd = openat(ib->runs_fd, ib->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ib->fd < 0) {
		*err = xasprintf("cannot open the approvals inbox '%s': %s", ib->dir, strerror(errno));
		return -1;
	}
	/* left by a wait that died: what it holds was never taken, and its senders said so */
	inbox_clear(ib);
	return 0;
}

void
inbox_close(struct inbox *ib)
{
	if (ib == NULL || ib->fd < 0)
		return;
	inbox_clear(ib);
	close(ib->fd);
	ib->fd = -1;
	(void)unlinkat(ib->runs_fd, ib->dir, AT_REMOVEDIR);
}

bool
inbox_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static const char *
obj_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Read and check one file of the inbox; false when it is no valid approval. */
static bool
read_item(int dfd, const char *file, struct inbox_item *it)
{
	char data[INBOX_FILE_MAX + 1];
	struct json_object *o = NULL;
	const char *gate, *name, *host;
	struct passwd *pw;
	struct stat st;
	ssize_t n;
	int fd = openat(dfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	bool ok = false;

	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > INBOX_FILE_MAX)
		goto cleanup;
	n = read(fd, data, INBOX_FILE_MAX);
	if (n <= 0)
		goto cleanup;
	data[n] = '\0';
	o = json_tokener_parse(data);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		goto cleanup;
	gate = obj_str(o, "gate");
	name = obj_str(o, "name");
	host = obj_str(o, "host");
	if (gate == NULL || name == NULL || !inbox_name_valid(name) || strlen(gate) > 256)
		goto cleanup;
	memset(it, 0, sizeof(*it));
	it->gate = xstrdup(gate);
	it->name = xstrdup(name);
	it->host = xstrdup(host && strlen(host) <= 255 ? host : "");
	pw = getpwuid(st.st_uid);
	it->user = pw && pw->pw_name ? xstrdup(pw->pw_name) : xasprintf("%ld", (long)st.st_uid);
	it->file = xstrdup(file);
	ok = true;
cleanup:
	json_object_put(o);
	close(fd);
	return ok;
}

static int
cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct inbox_item *)a)->file, ((const struct inbox_item *)b)->file);
}

size_t
inbox_take(struct inbox *ib, struct inbox_item **items)
{
	struct inbox_item *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	DIR *d;
	int fd;

	*items = NULL;
	if (ib == NULL || ib->fd < 0)
		return 0;
	fd = dup(ib->fd);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return 0;
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		struct inbox_item it;
		size_t len = strlen(e->d_name);
		/* ".ID.tmp" is being written; "." and ".." */
		if (e->d_name[0] == '.')
			continue;
		if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0 || !read_item(ib->fd, e->d_name, &it)) {
			(void)unlinkat(ib->fd, e->d_name, 0);
			continue;
		}
		PUSH(v, n, cap, it);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_item);
	*items = v;
	return n;
}

void
inbox_done(struct inbox *ib, const struct inbox_item *it)
{
	if (ib && ib->fd >= 0)
		(void)unlinkat(ib->fd, it->file, 0);
}

void
inbox_items_free(struct inbox_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].gate);
		free(items[i].name);
		free(items[i].user);
		free(items[i].host);
		free(items[i].file);
	}
	free(items);
}

int
inbox_drop(int runs_fd, const char *run_id, const char *gate, const char *name, char **file, char **err)
{
	char *dir = inbox_dir_name(run_id), *tmp = NULL, *fin = NULL;
	struct json_object *o = json_object_new_object();
	char host[256] = "";
	unsigned int r = 0;
	const char *text;
	size_t len;
	int dfd, fd = -1, rc = -1;

	*file = NULL;
	dfd = openat(runs_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			rc = 1;
		else
			*err = xasprintf("cannot open the run's approvals inbox: %s", strerror(errno));
		goto cleanup;
	}
	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)getpid();
	gethostname(host, sizeof(host) - 1);
	/* names sort by time: the run takes approvals in the order they came */
	fin = xasprintf("%015lld-%ld-%08x.json", (long long)wall_ms(), (long)getpid(), r);
	tmp = xasprintf(".%s.tmp", fin);
	json_object_object_add(o, "gate", json_object_new_string(gate));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "host", json_object_new_string(host));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		*err = xasprintf("cannot write the approval into the run's inbox: %s", strerror(errno));
		(void)unlinkat(dfd, tmp, 0);
		goto cleanup;
	}
	if (renameat(dfd, tmp, dfd, fin) < 0) {
		*err = xasprintf("cannot hand the approval to the run: %s", strerror(errno));
		(void)unlinkat(dfd, tmp, 0);
		goto cleanup;
	}
	*file = fin;
	fin = NULL;
	rc = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	json_object_put(o);
	free(tmp);
	free(fin);
	free(dir);
	return rc;
}

bool
inbox_withdraw(int runs_fd, const char *run_id, const char *file)
{
	char *dir = inbox_dir_name(run_id);
	int dfd = openat(runs_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool there = dfd >= 0 && unlinkat(dfd, file, 0) == 0;

	if (dfd >= 0)
		close(dfd);
	free(dir);
	return there;
}
