#include "secrets.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static char *
expand_home(const char *path)
{
	const char *home = getenv("HOME");

	if (path[0] == '~' && (path[1] == '/' || path[1] == '\0') && home)
		return xasprintf("%s%s", home, path + 1);
	return xstrdup(path);
}

static int
read_secret_file(const char *path, struct buf *out, char **err)
{
	char *p = expand_home(path);
	char chunk[4096];
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	ssize_t k;
	int rc = -1;

	if (fd < 0) {
		*err = xasprintf("cannot read '%s': %s", path, strerror(errno));
		goto cleanup;
	}
	while ((k = read(fd, chunk, sizeof(chunk))) != 0) {
		if (k < 0) {
			if (errno == EINTR)
				continue;
			*err = xasprintf("cannot read '%s': %s", path, strerror(errno));
			goto cleanup;
		}
		buf_add(out, chunk, (size_t)k);
		if (out->len > 1024 * 1024) {
			*err = xasprintf("'%s' is larger than 1 MiB", path);
			goto cleanup;
		}
	}
	rc = 0;
cleanup:
	explicit_bzero(chunk, sizeof(chunk));
	if (fd >= 0)
		close(fd);
	free(p);
	return rc;
}

/* Why a value read for d cannot be a secret (malloc'ed; never the value). */
static char *
secret_refusal(const struct secret_def *d, size_t len, bool has_nul)
{
	const char *src = d->source == SECRET_ENV ? "environment variable" : "file";

	if (has_nul)
		return xasprintf("secret '%s': %s '%s' holds a NUL byte, which a secret cannot contain",
		    d->name, src, d->ref);
	if (len == 0)
		return xasprintf("secret '%s': %s '%s' is empty", d->name, src, d->ref);
	return xasprintf("secret '%s': the value from %s '%s' is %zu byte%s long; a secret must be at "
	    "least %d bytes (a shorter one would be masked as *** wherever it appears in any output)",
	    d->name, src, d->ref, len, len == 1 ? "" : "s", MASK_MIN_SECRET);
}

int
secrets_load(const struct runbook *rb, struct secrets *s, char **err)
{
	for (size_t i = 0; i < rb->n_secrets; i++) {
		const struct secret_def *d = &rb->secrets[i];
		struct buf val = BUF_INIT;
		char *why = NULL;
		bool has_nul;

		if (d->source == SECRET_ENV) {
			const char *v = getenv(d->ref);
			if (v == NULL) {
				*err = xasprintf("secret '%s': environment variable '%s' is not set", d->name, d->ref);
				return -1;
			}
			buf_adds(&val, v);
		} else if (read_secret_file(d->ref, &val, &why) < 0) {
			*err = xasprintf("secret '%s': %s", d->name, why);
			free(why);
			if (val.data)
				explicit_bzero(val.data, val.cap);
			buf_release(&val);
			return -1;
		}
		if (val.len > 0 && val.data[val.len - 1] == '\n')
			val.data[--val.len] = '\0';
		if (val.len > 0 && val.data[val.len - 1] == '\r')
			val.data[--val.len] = '\0';
		has_nul = val.len > 0 && memchr(val.data, '\0', val.len) != NULL;
		if (val.len < MASK_MIN_SECRET || has_nul) {
			*err = secret_refusal(d, val.len, has_nul);
			if (val.data)
				explicit_bzero(val.data, val.cap);
			buf_release(&val);
			return -1;
		}
		secrets_add(s, d->name, buf_str(&val));
		explicit_bzero(val.data, val.cap);
		buf_release(&val);
	}
	return 0;
}

void
secrets_add(struct secrets *s, const char *name, const char *value)
{
	struct secret sec = { xstrdup(name), xstrdup(value) };

	if (s->mask == NULL)
		s->mask = mask_new();
	mask_add(s->mask, value, strlen(value));
	PUSH(s->v, s->n, s->cap, sec);
}

void
secrets_release(struct secrets *s)
{
	for (size_t i = 0; i < s->n; i++) {
		explicit_bzero(s->v[i].value, strlen(s->v[i].value));
		free(s->v[i].value);
		free(s->v[i].name);
	}
	free(s->v);
	mask_free(s->mask);
	memset(s, 0, sizeof(*s));
}

const char *
secrets_get(const struct secrets *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].name, name) == 0)
			return s->v[i].value;
	return NULL;
}

const char *
secrets_name_of(const struct secrets *s, const char *value)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].value, value) == 0)
			return s->v[i].name;
	return NULL;
}

void
secrets_mask(const struct secrets *s, struct buf *b)
{
	if (s != NULL)
		mask_text(s->mask, b);
}

char *
secrets_masked(const struct secrets *s, const char *str)
{
	struct buf b = BUF_INIT;

	buf_adds(&b, str ? str : "");
	secrets_mask(s, &b);
	return buf_detach(&b);
}

void
secrets_env(const struct secrets *s, char ***envp, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < s->n; i++) {
		struct buf e = BUF_INIT;
		buf_adds(&e, "MIGRATE_SECRET_");
		for (const char *p = s->v[i].name; *p; p++)
			buf_addc(&e, isalnum((unsigned char)*p) ? (char)toupper((unsigned char)*p) : '_');
		buf_addc(&e, '=');
		buf_adds(&e, s->v[i].value);
		PUSH(*envp, *n, *cap, buf_detach(&e));
	}
}
