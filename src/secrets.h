/*
 * secrets.h - secret values read at run start, and the masking that keeps
 * them out of every output, report, journal and error message.
 *
 * Values are wiped with explicit_bzero when released.
 */
#ifndef MIGRATE_SECRETS_H
#define MIGRATE_SECRETS_H

#include <stddef.h>

#include "buf.h"
#include "mask.h"
#include "runbook.h"

#define SECRET_MASK MASK_TEXT

struct secret {
	char *name;
	char *value;
};

struct secrets {
	struct secret *v;
	size_t n;
	size_t cap;
	struct mask *mask;   /* every value, in every form (mask.h) */
};

/*
 * Read every secret of rb ({env: NAME} or {file: PATH}, ~ expanded, one
 * trailing newline stripped). A value that is empty, shorter than
 * MASK_MIN_SECRET bytes or holds a NUL byte is refused. Returns 0, or -1
 * with *err (malloc'ed; names the secret and the source, never a value).
 */
int secrets_load(const struct runbook *rb, struct secrets *s, char **err);
/* Add one secret (both strings copied; a value under MASK_MIN_SECRET bytes is kept but never masked). */
void secrets_add(struct secrets *s, const char *name, const char *value);
void secrets_release(struct secrets *s);
const char *secrets_get(const struct secrets *s, const char *name);
/* The name of the first secret whose value is exactly value, or NULL. */
const char *secrets_name_of(const struct secrets *s, const char *value);
/*
 * Replace every occurrence of every secret value in b by ***, in each form
 * mask.h lists (literal, percent-encoded, JSON-escaped, shell-quoted,
 * base64 at the three alignments).
 */
void secrets_mask(const struct secrets *s, struct buf *b);
/* Same, returning a malloc'ed copy of str masked. */
char *secrets_masked(const struct secrets *s, const char *str);
/*
 * Append "MIGRATE_SECRET_<NAME>=value" entries (name uppercased, '-' and '.'
 * as '_') to a NULL-terminated env array being built (envp/n/cap as for PUSH).
 */
void secrets_env(const struct secrets *s, char ***envp, size_t *n, size_t *cap);

#endif
