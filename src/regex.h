/*
 * regex.h - PCRE2 patterns from runbooks, compiled once at load time.
 * Every regular expression in migrate goes through this module.
 */
#ifndef MIGRATE_REGEX_H
#define MIGRATE_REGEX_H

#include <stdbool.h>
#include <stddef.h>

struct regex;

/*
 * Compile pattern (UTF-8, multiline so ^ and $ match at line ends).
 * Returns NULL and sets *err (malloc'ed; includes the offset) when invalid.
 */
struct regex *regex_compile(const char *pattern, char **err);
void regex_free(struct regex *re);
const char *regex_pattern(const struct regex *re);
/* Number of capture groups in the pattern. */
int regex_groups(const struct regex *re);
/* Does the pattern match anywhere in subject? Returns 1, 0, or -1 on a match error. */
int regex_match(const struct regex *re, const char *subject, size_t len);
/*
 * Match and return group `group` (0 = whole match) as a malloc'ed string in
 * *out. Returns 1 if matched (and the group took part), 0 if not, -1 on error.
 */
int regex_capture(const struct regex *re, const char *subject, size_t len,
    int group, char **out);

#endif
