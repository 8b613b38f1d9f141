#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "util.h"

struct regex {
	char *pattern;
	pcre2_code *code;
};

/* Bound the work one match may do, so a pathological pattern cannot hang a run. */
#define MATCH_LIMIT 10000000u

struct regex *
regex_compile(const char *pattern, char **err)
{
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *code;
	struct regex *re;

	code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    PCRE2_MULTILINE | PCRE2_UTF, &errcode, &erroff, NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		if (err)
			*err = xasprintf("invalid regular expression '%s': %s at offset %zu",
			    pattern, (const char *)msg, (size_t)erroff);
		return NULL;
	}
	re = xcalloc(1, sizeof(*re));
	re->pattern = xstrdup(pattern);
	re->code = code;
	return re;
}

void
regex_free(struct regex *re)
{
	if (re == NULL)
		return;
	pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
}

const char *
regex_pattern(const struct regex *re)
{
	return re->pattern;
}

int
regex_groups(const struct regex *re)
{
	uint32_t n = 0;
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n);
	return (int)n;
}

static int
run_match(const struct regex *re, const char *subject, size_t len, pcre2_match_data *md)
{
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	int rc;

	if (mc == NULL)
		return -1;
	pcre2_set_match_limit(mc, MATCH_LIMIT);
	rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, PCRE2_NO_UTF_CHECK * 0, md, mc);
	pcre2_match_context_free(mc);
	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc == PCRE2_ERROR_BADUTFOFFSET || (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21))
		return -2;
	return rc < 0 ? -1 : 1;
}

/* Output may not be valid UTF-8; retry such subjects with invalid bytes as '?'. */
static char *
sanitize_utf8(const char *s, size_t len)
{
	char *out = xstrndup(s, len);
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)out[i];
		size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		size_t k;
		if (n == 0 || i + n > len) {
			out[i++] = '?';
			continue;
		}
		for (k = 1; k < n; k++)
			if (((unsigned char)out[i + k] >> 6) != 2)
				break;
		if (k < n) {
			out[i++] = '?';
			continue;
		}
		i += n;
	}
	return out;
}

int
regex_capture(const struct regex *re, const char *subject, size_t len, int group, char **out)
{
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
	char *clean = NULL;
	int rc;

	if (md == NULL)
		return -1;
	rc = run_match(re, subject, len, md);
	if (rc == -2) {
		clean = sanitize_utf8(subject, len);
		subject = clean;
		rc = run_match(re, subject, len, md);
	}
	if (rc == 1 && out) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		uint32_t n = pcre2_get_ovector_count(md);
		*out = NULL;
		if ((uint32_t)group >= n || ov[2 * group] == PCRE2_UNSET)
			rc = 0;
		else
			*out = xstrndup(subject + ov[2 * group], ov[2 * group + 1] - ov[2 * group]);
	}
	pcre2_match_data_free(md);
	free(clean);
	return rc < 0 ? -1 : rc;
}

int
regex_match(const struct regex *re, const char *subject, size_t len)
{
	return regex_capture(re, subject, len, 0, NULL);
}
