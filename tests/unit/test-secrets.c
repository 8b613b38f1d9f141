/*
 * Unit tests of secrets.c and mask.c: every form of a secret is masked
 * (literal, percent-encoded, JSON-escaped, shell-quoted, base64 at the
 * three alignments, across line breaks), in whole texts and in streams cut
 * at every offset; short, empty and NUL-holding secrets are refused at
 * load; the MIGRATE_SECRET_ environment.
 */
#include <check.h>
#include <ctype.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"
#include "mask.h"
#include "secrets.h"
#include "util.h"

/* A secret with something for every encoding: '&', space, quotes, '/', '\', '%', non-ASCII. */
static const char TRICKY[] = "Tr0ub4dor&3 it's/\"q\"\\%x-\xc3\xa9\xf0\x9f\x98\x80";

static char *
masked(struct secrets *s, const char *text)
{
	return secrets_masked(s, text);
}

START_TEST(test_mask_all_occurrences)
{
	struct secrets s = { 0 };
	char *m;

	secrets_add(&s, "token", "hunter2");
	m = masked(&s, "a hunter2 b hunter2hunter2 c");
	ck_assert_str_eq(m, "a *** b ****** c");
	free(m);
	m = masked(&s, "nothing secret here");
	ck_assert_str_eq(m, "nothing secret here");
	free(m);
	secrets_release(&s);
}
END_TEST

START_TEST(test_mask_longest_first)
{
	struct secrets s = { 0 };
	char *m;

	secrets_add(&s, "short", "abcd");
	secrets_add(&s, "long", "xxabcdxx");
	m = masked(&s, "[xxabcdxx] [abcd]");
	ck_assert_str_eq(m, "[***] [***]");
	free(m);
	secrets_release(&s);
}
END_TEST

START_TEST(test_short_secret_masks_nothing)
{
	struct secrets s = { 0 };
	char *m;

	secrets_add(&s, "empty", "");
	secrets_add(&s, "tiny", "ab");
	m = masked(&s, "plain text, about");
	ck_assert_str_eq(m, "plain text, about");
	free(m);
	secrets_release(&s);
}
END_TEST

START_TEST(test_percent_forms)
{
	struct secrets s = { 0 };
	struct buf enc = BUF_INIT, text = BUF_INIT;
	char *m;

	secrets_add(&s, "tok", TRICKY);
	url_encode(&enc, TRICKY);
	buf_addf(&text, "cannot change to directory '/x/%s': No such file", buf_str(&enc));
	m = masked(&s, buf_str(&text));
	ck_assert_str_eq(m, "cannot change to directory '/x/***': No such file");
	free(m);
	/* lower-case hex */
	for (size_t i = 0; i + 2 < enc.len; i++)
		if (enc.data[i] == '%') {
			enc.data[i + 1] = (char)tolower((unsigned char)enc.data[i + 1]);
			enc.data[i + 2] = (char)tolower((unsigned char)enc.data[i + 2]);
		}
	m = masked(&s, buf_str(&enc));
	ck_assert_str_eq(m, "***");
	free(m);
	/* form encoding: '+' for space, the rest as is where safe */
	m = masked(&s, "q=Tr0ub4dor%263+it%27s%2F%22q%22%5C%25x-%C3%A9%F0%9F%98%80&next=1");
	ck_assert_str_eq(m, "q=***&next=1");
	free(m);
	buf_release(&enc);
	buf_release(&text);
	secrets_release(&s);
}
END_TEST

/* Escape as JSON with every non-ASCII character as \uXXXX (Python's json.dumps default). */
static void
json_ascii(struct buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned cp = *p;
		int k = 1;
		if (cp >= 0xf0) {
			cp = (unsigned)(p[0] & 7) << 18 | (unsigned)(p[1] & 63) << 12 | (unsigned)(p[2] & 63) << 6 | (p[3] & 63);
			k = 4;
		} else if (cp >= 0xe0) {
			cp = (unsigned)(p[0] & 15) << 12 | (unsigned)(p[1] & 63) << 6 | (p[2] & 63);
			k = 3;
		} else if (cp >= 0xc0) {
			cp = (unsigned)(p[0] & 31) << 6 | (p[1] & 63);
			k = 2;
		}
		if (cp >= 0x10000)
			buf_addf(out, "\\u%04x\\u%04x", 0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
		else if (cp >= 0x80 || cp < 0x20)
			buf_addf(out, "\\u%04x", cp);
		else if (cp == '"' || cp == '\\')
			buf_addf(out, "\\%c", cp);
		else
			buf_addc(out, (char)cp);
		p += k;
	}
}

START_TEST(test_json_forms)
{
	struct secrets s = { 0 };
	struct json_object *o;
	struct buf text = BUF_INIT;
	char *m;

	secrets_add(&s, "tok", TRICKY);
	o = json_object_new_string(TRICKY);
	for (int flags = 0; flags < 2; flags++) {
		const char *js = json_object_to_json_string_ext(o, flags ? JSON_C_TO_STRING_NOSLASHESCAPE : 0);
		buf_reset(&text);
		buf_addf(&text, "{\"password\": %s}", js);
		m = masked(&s, buf_str(&text));
		ck_assert_str_eq(m, "{\"password\": \"***\"}");
		free(m);
	}
	json_object_put(o);
	buf_reset(&text);
	json_ascii(&text, TRICKY);
	m = masked(&s, buf_str(&text));
	ck_assert_str_eq(m, "***");
	free(m);
	secrets_release(&s);
	secrets_add(&s, "tok", "abc\xc3\xa9\xf0\x9f\x98\x80xyz");
	m = masked(&s, "\"abc\\u00C9\\uD83D\\uDE00xyz\"");
	ck_assert_str_eq(m, "\"abc\\u00C9\\uD83D\\uDE00xyz\"");   /* \u00C9 is another letter: kept */
	free(m);
	m = masked(&s, "\"abc\\u00E9\\uD83D\\uDE00xyz\"");
	ck_assert_str_eq(m, "\"***\"");
	free(m);
	buf_release(&text);
	secrets_release(&s);
}
END_TEST

START_TEST(test_shell_forms)
{
	struct secrets s = { 0 };
	struct buf q = BUF_INIT;
	char *m;

	secrets_add(&s, "tok", TRICKY);
	shell_quote(&q, TRICKY);
	m = masked(&s, buf_str(&q));
	ck_assert_str_eq(m, "'***'");
	free(m);
	/* printf %q style backslashes */
	m = masked(&s, "Tr0ub4dor\\&3\\ it\\'s/\\\"q\\\"\\\\\\%x-\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_str_eq(m, "***");
	free(m);
	buf_release(&q);
	secrets_release(&s);
}
END_TEST

static void
b64_encode(struct buf *out, const unsigned char *v, size_t len, int wrap)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t col = 0;

	for (size_t i = 0; i < len; i += 3) {
		unsigned w = (unsigned)v[i] << 16 | (i + 1 < len ? (unsigned)v[i + 1] << 8 : 0) | (i + 2 < len ? v[i + 2] : 0);
		for (int j = 0; j < 4; j++) {
			char c = (size_t)j <= len - i ? a[(w >> (18 - 6 * j)) & 63] : '=';
			buf_addc(out, c);
			if (wrap && ++col % (size_t)wrap == 0)
				buf_addc(out, '\n');
		}
	}
}

/*
 * The secret at every alignment inside a base64 stream, with or without
 * line breaks every 76 characters: the characters that come from the
 * secret's bits alone are gone; at most one partial character stays at
 * each end.
 */
static void
check_b64(const char *secret, int wrap)
{
	struct secrets s = { 0 };
	size_t L = strlen(secret);

	secrets_add(&s, "tok", secret);
	for (int k = 0; k < 3; k++)
		for (int tail = 0; tail < 3; tail++) {
			struct buf raw = BUF_INIT, enc = BUF_INIT;
			char *m;
			const char *star;
			size_t before, after;

			buf_add(&raw, "{\"k\":\"", 6);
			buf_add(&raw, "QRS", (size_t)k);
			buf_add(&raw, secret, L);
			buf_add(&raw, "\"}xy", 2 + (size_t)tail);
			b64_encode(&enc, (const unsigned char *)raw.data, raw.len, wrap);
			m = masked(&s, buf_str(&enc));
			star = strstr(m, MASK_TEXT);
			ck_assert_msg(star != NULL, "alignment %d, tail %d, wrap %d: '%s' not masked", k, tail, wrap, m);
			before = (size_t)(star - m);
			after = strlen(star + 3);
			/* the bits before the secret: 6 + k bytes, at most one more character */
			ck_assert_msg(before <= ((6 + (size_t)k) * 8 + 5) / 6 + (wrap ? 1 : 0),
			    "alignment %d: %zu characters kept before", k, before);
			ck_assert_msg(after <= ((2 + (size_t)tail) * 8 + 5) / 6 + 3 + (wrap ? 2 : 0),
			    "alignment %d tail %d: %zu characters kept after", k, tail, after);
			free(m);
			buf_release(&raw);
			buf_release(&enc);
		}
	secrets_release(&s);
}

START_TEST(test_base64_alignments)
{
	check_b64("s3cr3t-Value-93f1", 0);
	check_b64("abcd", 0);
	check_b64("abcde", 0);
	check_b64(TRICKY, 0);
	/* long enough to be wrapped, as base64(1) does at 76 columns */
	check_b64("-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n"
	    "Vq9q0x1Ck1wQ\n-----END KEY-----", 76);
}
END_TEST

START_TEST(test_base64_url_safe)
{
	struct secrets s = { 0 };
	char *m;

	/* "\xfb\xff\xbf..." encodes to "+/+/" in standard and "-_-_" in URL-safe base64 */
	secrets_add(&s, "tok", "\xfb\xff\xbf\xfb\xff\xbf");
	m = masked(&s, "a -_-_-_-_ b +/+/+/+/ c");
	ck_assert_str_eq(m, "a *** b *** c");
	free(m);
	secrets_release(&s);
}
END_TEST

START_TEST(test_multiline_secret)
{
	static const char pem[] = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----";
	struct secrets s = { 0 };
	struct buf crlf = BUF_INIT;
	char *m;

	secrets_add(&s, "key", pem);
	m = masked(&s, "key is:\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----\nend\n");
	ck_assert_str_eq(m, "key is:\n***\nend\n");
	free(m);
	for (const char *p = pem; *p; p++) {
		if (*p == '\n')
			buf_addc(&crlf, '\r');
		buf_addc(&crlf, *p);
	}
	m = masked(&s, buf_str(&crlf));
	ck_assert_str_eq(m, "***");
	free(m);
	/* the first line alone is not the secret */
	m = masked(&s, "-----BEGIN PRIVATE KEY-----\nother\n");
	ck_assert_str_eq(m, "-----BEGIN PRIVATE KEY-----\nother\n");
	free(m);
	buf_release(&crlf);
	secrets_release(&s);
}
END_TEST

/* A text holding the secret in many forms, and near-misses. */
static void
stream_text(struct buf *t, const char *secret)
{
	size_t len = strlen(secret);

	buf_adds(t, "line 1 ");
	buf_adds(t, secret);
	buf_adds(t, "\nurl=");
	url_encode(t, secret);
	buf_adds(t, "&x=%%\\\\ near ");
	buf_add(t, secret, len - 1);
	buf_adds(t, " miss\nquoted ");
	shell_quote(t, secret);
	buf_adds(t, secret);
	buf_adds(t, secret);
	buf_adds(t, " b64 x");
	b64_encode(t, (const unsigned char *)secret, len, 0);
	buf_adds(t, "\nend ");
	buf_add(t, secret, 3);
}

static void
feed_all(struct mask_stream *ms, const char *d, const size_t *cuts, size_t n_cuts, size_t len, struct buf *out)
{
	size_t at = 0;

	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		mask_stream_feed(ms, d + at, end - at, out);
		at = end;
	}
	mask_stream_finish(ms, out);
}

START_TEST(test_stream_every_offset)
{
	static const char *const secrets[] = { "s3cr3t-Value-93f1", "ab'c%d e", TRICKY,
		"multi\nline\nsecret" };

	for (size_t si = 0; si < ARRAY_LEN(secrets); si++) {
		struct mask *m = mask_new();
		struct buf text = BUF_INIT, whole = BUF_INIT;

		mask_add(m, secrets[si], strlen(secrets[si]));
		stream_text(&text, secrets[si]);
		buf_add(&whole, text.data, text.len);
		mask_text(m, &whole);
		ck_assert_ptr_null(strstr(buf_str(&whole), secrets[si]));
		/* one cut at every offset, two cuts at every pair near the secrets, one byte at a time */
		for (size_t a = 0; a <= text.len; a++) {
			for (size_t b = a; b <= text.len && b <= a + 40; b += (b == a ? 1 : 7)) {
				struct mask_stream ms;
				struct buf out = BUF_INIT;
				size_t cuts[2] = { a, b };

				mask_stream_init(&ms, m);
				feed_all(&ms, text.data, cuts, 2, text.len, &out);
				ck_assert_msg(out.len == whole.len && memcmp(out.data, whole.data, out.len) == 0,
				    "secret %zu cut at %zu,%zu: '%s' != '%s'", si, a, b, buf_str(&out), buf_str(&whole));
				mask_stream_release(&ms);
				buf_release(&out);
			}
		}
		{
			struct mask_stream ms;
			struct buf out = BUF_INIT;
			mask_stream_init(&ms, m);
			for (size_t i = 0; i < text.len; i++)
				mask_stream_feed(&ms, text.data + i, 1, &out);
			mask_stream_finish(&ms, &out);
			ck_assert_str_eq(buf_str(&out), buf_str(&whole));
			mask_stream_release(&ms);
			buf_release(&out);
		}
		buf_release(&text);
		buf_release(&whole);
		mask_free(m);
	}
}
END_TEST

START_TEST(test_stream_holds_back_only_a_possible_start)
{
	struct mask *m = mask_new();
	struct mask_stream ms;
	struct buf out = BUF_INIT;

	mask_add(m, "s3cr3t-Value", 12);
	mask_stream_init(&ms, m);
	mask_stream_feed(&ms, "progress 10%\nno secret here\n", 28, &out);
	/* '%' may begin %73...: but a newline follows, so everything is passed on */
	ck_assert_str_eq(buf_str(&out), "progress 10%\nno secret here\n");
	mask_stream_feed(&ms, "token s3cr", 10, &out);
	ck_assert_str_eq(buf_str(&out), "progress 10%\nno secret here\ntoken ");
	mask_stream_feed(&ms, "3t-Value.\nnext s3c", 18, &out);
	ck_assert_str_eq(buf_str(&out), "progress 10%\nno secret here\ntoken ***.\nnext ");
	mask_stream_finish(&ms, &out);
	ck_assert_str_eq(buf_str(&out), "progress 10%\nno secret here\ntoken ***.\nnext s3c");
	mask_stream_release(&ms);
	buf_release(&out);
	mask_free(m);
}
END_TEST

START_TEST(test_stream_without_secrets)
{
	struct mask_stream ms;
	struct buf out = BUF_INIT;

	mask_stream_init(&ms, NULL);
	mask_stream_feed(&ms, "abc", 3, &out);
	mask_stream_finish(&ms, &out);
	ck_assert_str_eq(buf_str(&out), "abc");
	mask_stream_release(&ms);
	buf_release(&out);
}
END_TEST

/* secrets_load of one {env: VAR} or {file: PATH} secret; returns its error or NULL. */
static char *
load_one(enum secret_source src, const char *ref)
{
	struct runbook rb;
	struct secret_def d;
	struct secrets s = { 0 };
	char *err = NULL;

	memset(&rb, 0, sizeof(rb));
	memset(&d, 0, sizeof(d));
	d.name = (char *)"tok";
	d.source = src;
	d.ref = (char *)ref;
	rb.secrets = &d;
	rb.n_secrets = 1;
	if (secrets_load(&rb, &s, &err) == 0)
		ck_assert_ptr_null(err);
	secrets_release(&s);
	return err;
}

START_TEST(test_load_refuses_short_secrets)
{
	char path[] = "/tmp/migrate-secret-XXXXXX";
	int fd = mkstemp(path);
	char *err;

	ck_assert_int_ge(fd, 0);
	setenv("MIGRATE_TEST_SECRET", "abc", 1);
	err = load_one(SECRET_ENV, "MIGRATE_TEST_SECRET");
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "3 bytes") && strstr(err, "at least 4") && strstr(err, "tok") && !strstr(err, "abc"),
	    "%s", err);
	free(err);
	setenv("MIGRATE_TEST_SECRET", "", 1);
	err = load_one(SECRET_ENV, "MIGRATE_TEST_SECRET");
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "is empty") != NULL, "%s", err);
	free(err);
	setenv("MIGRATE_TEST_SECRET", "abcd", 1);
	ck_assert_ptr_null(load_one(SECRET_ENV, "MIGRATE_TEST_SECRET"));
	/* a file: the trailing newline does not count */
	ck_assert_int_eq(write(fd, "abc\n", 4), 4);
	err = load_one(SECRET_FILE, path);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "3 bytes") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, "abcd\0efgh\n", 10, 0), 10);
	err = load_one(SECRET_FILE, path);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "NUL") != NULL, "%s", err);
	free(err);
	close(fd);
	unlink(path);
	unsetenv("MIGRATE_TEST_SECRET");
}
END_TEST

START_TEST(test_env_names)
{
	struct secrets s = { 0 };
	char **env = NULL;
	size_t n = 0, cap = 0;

	secrets_add(&s, "api_token", "v1-value");
	secrets_add(&s, "db-pass.main", "v2-value");
	secrets_env(&s, &env, &n, &cap);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(env[0], "MIGRATE_SECRET_API_TOKEN=v1-value");
	ck_assert_str_eq(env[1], "MIGRATE_SECRET_DB_PASS_MAIN=v2-value");
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
	ck_assert_str_eq(secrets_get(&s, "api_token"), "v1-value");
	ck_assert_ptr_null(secrets_get(&s, "nope"));
	secrets_release(&s);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("secrets");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_mask_all_occurrences);
	tcase_add_test(tc, test_mask_longest_first);
	tcase_add_test(tc, test_short_secret_masks_nothing);
	tcase_add_test(tc, test_percent_forms);
	tcase_add_test(tc, test_json_forms);
	tcase_add_test(tc, test_shell_forms);
	tcase_add_test(tc, test_base64_alignments);
	tcase_add_test(tc, test_base64_url_safe);
	tcase_add_test(tc, test_multiline_secret);
	tcase_add_test(tc, test_stream_every_offset);
	tcase_add_test(tc, test_stream_holds_back_only_a_possible_start);
	tcase_add_test(tc, test_stream_without_secrets);
	tcase_add_test(tc, test_load_refuses_short_secrets);
	tcase_add_test(tc, test_env_names);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
