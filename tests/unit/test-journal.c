/*
 * test-journal.c - the run journal: modes, symbolic links, seq across
 * reopen, replay, torn and corrupt lines, seq gaps, concurrent appends;
 * and the SHA-256 helpers it relies on.
 */
#include <check.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"
#include "sha256.h"
#include "statedir.h"
#include "statedir-fixture.h"
#include "util.h"

#define RUN_ID "20261122T021500Z-demo-0a1b"

static char *
journal_file(void)
{
	return xasprintf("%s/runs/%s.jsonl", fixture_dir, RUN_ID);
}

static struct json_object *
record(const char *type, int n)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "type", json_object_new_string(type));
	json_object_object_add(r, "n", json_object_new_int(n));
	return r;
}

/* Create the journal and append count records of type "step". */
static void
write_records(int count)
{
	char *err = NULL;
	struct journal *j = journal_create(fixture_sd, RUN_ID, &err);
	int i;

	ck_assert_msg(j != NULL, "%s", err);
	for (i = 1; i <= count; i++) {
		struct json_object *r = record("step", i);
		ck_assert_msg(journal_append(j, r, &err) == 0, "%s", err);
		json_object_put(r);
	}
	ck_assert_uint_eq(journal_seq(j), (uint64_t)count);
	journal_free(j);
}

static struct buf
slurp(const char *path)
{
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "rb");

	ck_assert_ptr_nonnull(fp);
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(&b, chunk, n);
	fclose(fp);
	return b;
}

static void
spit(const char *path, const char *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	fclose(fp);
}

/* Byte offset where line (1-based) starts. */
static size_t
line_start(const struct buf *b, int line)
{
	size_t pos = 0;

	while (--line > 0) {
		const char *nl = memchr(b->data + pos, '\n', b->len - pos);
		ck_assert_ptr_nonnull(nl);
		pos = (size_t)(nl - b->data) + 1;
	}
	return pos;
}

/* Write src[0, keep) + insert + src[resume, end) to the journal file. */
static void
write_spliced(const struct buf *src, size_t keep, const char *insert, size_t resume)
{
	struct buf out = BUF_INIT;
	char *path = journal_file();

	buf_add(&out, src->data, keep);
	buf_adds(&out, insert);
	buf_add(&out, src->data + resume, src->len - resume);
	spit(path, out.data, out.len);
	buf_release(&out);
	free(path);
}

/* Replay and expect success with n records whose seq run 1..n. */
static void
expect_replay(size_t n, bool torn)
{
	char *path = journal_file(), *err = NULL;
	struct json_object **recs = NULL, *v;
	struct journal_info info;
	size_t got = 0, i;

	ck_assert_msg(journal_replay(path, &recs, &got, &info, &err) == 0, "%s", err);
	ck_assert_uint_eq(got, n);
	ck_assert_uint_eq(info.records, n);
	ck_assert_uint_eq(info.last_seq, n);
	ck_assert(info.torn_tail == torn);
	for (i = 0; i < got; i++) {
		ck_assert(json_object_object_get_ex(recs[i], "seq", &v));
		ck_assert_int_eq(json_object_get_int64(v), (int64_t)i + 1);
		ck_assert(json_object_object_get_ex(recs[i], "ts", &v));
		ck_assert(!json_object_object_get_ex(recs[i], "sum", NULL));
	}
	journal_records_free(recs, got);
	free(path);
}

/* Replay and expect JOURNAL_CORRUPT with a message containing each of want[]. */
static void
expect_corrupt(const char *want1, const char *want2)
{
	char *path = journal_file(), *err = NULL;
	struct json_object **recs = NULL;
	size_t got = 7;

	ck_assert_int_eq(journal_replay(path, &recs, &got, NULL, &err), JOURNAL_CORRUPT);
	ck_assert_ptr_null(recs);
	ck_assert_uint_eq(got, 0);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	ck_assert_msg(strstr(err, want1) != NULL, "%s", err);
	ck_assert_msg(strstr(err, want2) != NULL, "%s", err);
	free(err);
	free(path);
}

START_TEST(create_mode_and_format)
{
	char *path = journal_file();
	struct json_object **recs = NULL, *v;
	struct journal_info info;
	struct stat st;
	struct buf b;
	size_t n = 0;
	char *err = NULL;

	write_records(2);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	b = slurp(path);
	ck_assert_int_eq(strncmp(b.data, "{\"seq\":1,\"ts\":\"", 15), 0);
	ck_assert_ptr_nonnull(strstr(b.data, ",\"type\":\"step\",\"n\":1,\"sum\":\""));
	ck_assert_int_eq(b.data[b.len - 1], '\n');
	buf_release(&b);

	ck_assert_int_eq(journal_replay(path, &recs, &n, &info, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(!info.torn_tail);
	ck_assert_uint_eq(info.valid_size, (uint64_t)st.st_size);
	ck_assert(json_object_object_get_ex(recs[1], "type", &v));
	ck_assert_str_eq(json_object_get_string(v), "step");
	ck_assert(json_object_object_get_ex(recs[1], "ts", &v));
	ck_assert_uint_eq(strlen(json_object_get_string(v)), STATEDIR_TIME_SIZE - 1);
	journal_records_free(recs, n);
	journal_records_free(NULL, 0);
	journal_free(NULL);

	/* A second create of the same run is refused. */
	ck_assert_ptr_null(journal_create(fixture_sd, RUN_ID, &err));
	ck_assert_ptr_nonnull(strstr(err, "already exists"));
	free(err);
	free(path);
}
END_TEST

START_TEST(newlines_escaped)
{
	char *err = NULL, *path = journal_file();
	struct journal *j = journal_create(fixture_sd, RUN_ID, &err);
	struct json_object *r = json_object_new_object(), **recs = NULL, *v;
	struct buf b;
	size_t n = 0;

	ck_assert_msg(j != NULL, "%s", err);
	json_object_object_add(r, "tail", json_object_new_string("line one\nline two\r\n\ttab /x"));
	ck_assert_msg(journal_append(j, r, &err) == 0, "%s", err);
	journal_free(j);
	b = slurp(path);
	ck_assert_ptr_eq(memchr(b.data, '\n', b.len), b.data + b.len - 1);
	ck_assert_ptr_nonnull(strstr(b.data, "tab /x"));
	buf_release(&b);
	ck_assert_int_eq(journal_replay(path, &recs, &n, NULL, &err), 0);
	ck_assert(json_object_object_get_ex(recs[0], "tail", &v));
	ck_assert_str_eq(json_object_get_string(v), "line one\nline two\r\n\ttab /x");
	journal_records_free(recs, n);
	json_object_put(r);
	free(path);
}
END_TEST

START_TEST(bad_records_refused)
{
	char *err = NULL;
	struct journal *j = journal_create(fixture_sd, RUN_ID, &err);
	struct json_object *r, *deep;
	int i;

	ck_assert_msg(j != NULL, "%s", err);
	r = json_object_new_array();
	ck_assert_int_eq(journal_append(j, r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a JSON object"));
	free(err);
	json_object_put(r);

	r = record("x", 1);
	json_object_object_add(r, "seq", json_object_new_int(5));
	ck_assert_int_eq(journal_append(j, r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "'seq' is reserved"));
	free(err);
	json_object_put(r);

	/* NaN would not read back as JSON: refused before anything is written. */
	r = record("x", 1);
	json_object_object_add(r, "v", json_object_new_double(0.0 / 0.0));
	ck_assert_int_eq(journal_append(j, r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "not finite"));
	free(err);
	json_object_put(r);

	/* Nesting replay would refuse. */
	r = record("x", 1);
	deep = json_object_new_array();
	json_object_object_add(r, "deep", deep);
	for (i = 0; i < 100; i++) {
		struct json_object *inner = json_object_new_array();
		json_object_array_add(deep, inner);
		deep = inner;
	}
	ck_assert_int_eq(journal_append(j, r, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "nested too deeply"));
	free(err);
	json_object_put(r);

	/* The journal is still usable and the refused records took no seq. */
	r = record("x", 1);
	ck_assert_msg(journal_append(j, r, &err) == 0, "%s", err);
	json_object_put(r);
	ck_assert_uint_eq(journal_seq(j), 1);
	journal_free(j);
	expect_replay(1, false);
}
END_TEST

START_TEST(symlink_refused)
{
	char *path = journal_file(), *target = xasprintf("%s/target", fixture_dir), *err = NULL;
	struct json_object **recs = NULL;
	size_t n = 0;

	spit(target, "", 0);
	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_ptr_null(journal_create(fixture_sd, RUN_ID, &err));
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	free(err);
	ck_assert_ptr_null(journal_open_append(fixture_sd, RUN_ID, NULL, &err));
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(journal_replay(path, &recs, &n, NULL, &err), -1);
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	free(err);
	free(path);
	free(target);
}
END_TEST

START_TEST(seq_continues_after_reopen)
{
	char *err = NULL;
	struct journal_info info;
	struct journal *j;
	struct json_object *r;

	write_records(3);
	j = journal_open_append(fixture_sd, RUN_ID, &info, &err);
	ck_assert_msg(j != NULL, "%s", err);
	ck_assert_uint_eq(info.last_seq, 3);
	ck_assert(!info.torn_tail);
	ck_assert_uint_eq(journal_seq(j), 3);
	r = record("resume", 4);
	ck_assert_msg(journal_append(j, r, &err) == 0, "%s", err);
	json_object_put(r);
	ck_assert_uint_eq(journal_seq(j), 4);

	/* Only one writer at a time. */
	ck_assert_ptr_null(journal_open_append(fixture_sd, RUN_ID, NULL, &err));
	ck_assert_ptr_nonnull(strstr(err, "in use"));
	free(err);
	journal_free(j);
	expect_replay(4, false);
}
END_TEST

START_TEST(missing_journal)
{
	char *path = journal_file(), *err = NULL;
	struct json_object **recs = NULL;
	size_t n = 0;

	ck_assert_int_eq(journal_replay(path, &recs, &n, NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open journal"));
	free(err);
	ck_assert_ptr_null(journal_open_append(fixture_sd, RUN_ID, NULL, &err));
	free(err);
	free(path);
}
END_TEST

/* A journal created and closed without a record (its run could not start) is removed. */
START_TEST(empty_journal)
{
	char *err = NULL, *path = journal_file();
	struct journal *j = journal_create(fixture_sd, RUN_ID, &err);

	ck_assert_msg(j != NULL, "%s", err);
	ck_assert_int_eq(access(path, F_OK), 0);
	journal_free(j);
	ck_assert_int_eq(access(path, F_OK), -1);
	free(path);
}
END_TEST

START_TEST(torn_tail_ignored_then_cut)
{
	char *path = journal_file(), *err = NULL;
	struct journal_info info;
	struct journal *j;
	struct json_object *r;
	struct buf b;
	size_t cut;

	write_records(3);
	b = slurp(path);
	cut = line_start(&b, 3) + 20;
	ck_assert_int_eq(truncate(path, (off_t)cut), 0);

	expect_replay(2, true);
	j = journal_open_append(fixture_sd, RUN_ID, &info, &err);
	ck_assert_msg(j != NULL, "%s", err);
	ck_assert(info.torn_tail);
	ck_assert_uint_eq(info.torn_line, 3);
	ck_assert_uint_eq(info.torn_bytes, 20);
	ck_assert_str_eq(info.torn_reason, "no trailing newline");
	ck_assert_uint_eq(info.valid_size, line_start(&b, 3));
	r = record("after", 3);
	ck_assert_msg(journal_append(j, r, &err) == 0, "%s", err);
	json_object_put(r);
	journal_free(j);
	expect_replay(3, false);
	buf_release(&b);
	free(path);
}
END_TEST

START_TEST(damaged_last_line_ignored)
{
	char *path = journal_file();
	struct json_object **recs = NULL;
	struct journal_info info;
	size_t n = 0;
	char *err = NULL;
	struct buf b;

	write_records(3);
	b = slurp(path);
	b.data[line_start(&b, 3) + 30] ^= 0x01;
	spit(path, b.data, b.len);
	ck_assert_int_eq(journal_replay(path, &recs, &n, &info, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(info.torn_tail);
	ck_assert_uint_eq(info.torn_line, 3);
	ck_assert_str_eq(info.torn_reason, "checksum mismatch");
	journal_records_free(recs, n);
	buf_release(&b);
	free(path);
}
END_TEST

START_TEST(corrupt_middle_line)
{
	char *path = journal_file();
	struct buf b;
	size_t l2, l3;

	write_records(4);
	b = slurp(path);
	l2 = line_start(&b, 2);
	l3 = line_start(&b, 3);

	b.data[l2 + 30] ^= 0x01;
	spit(path, b.data, b.len);
	expect_corrupt("corrupt at line 2", "checksum mismatch");

	/* The first damaged line is the one named. */
	b.data[l3] = 'x';
	spit(path, b.data, b.len);
	expect_corrupt("corrupt at line 2", "checksum mismatch");
	b.data[l3] = '{';
	b.data[l2 + 30] ^= 0x01;

	/* A line cut short and glued onto the next one is corruption, not a torn tail. */
	write_spliced(&b, l2 + 25, "", l3);
	expect_corrupt("corrupt at line 2", "checksum mismatch");

	/* A blank line in the middle too. */
	write_spliced(&b, l2, "\n", l2);
	expect_corrupt("corrupt at line 2", "missing checksum");
	buf_release(&b);
	free(path);
}
END_TEST

START_TEST(seq_gap)
{
	char *path = journal_file();
	struct buf b;

	write_records(4);
	b = slurp(path);
	/* Drop line 2: line 2 now holds seq 3, with a valid checksum. */
	write_spliced(&b, line_start(&b, 2), "", line_start(&b, 3));
	expect_corrupt("corrupt at line 2", "expected seq 2, found 3");

	/* On the last line too: a whole line with a wrong seq is not a torn write. */
	write_spliced(&b, line_start(&b, 3), "", line_start(&b, 4));
	expect_corrupt("corrupt at line 3", "expected seq 3, found 4");
	buf_release(&b);
	free(path);
}
END_TEST

struct worker {
	struct journal *j;
	int id;
	int failures;
};

#define THREADS 4
#define PER_THREAD 200

static void *
append_many(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		struct json_object *r = record("thread", i);
		char *err = NULL;

		json_object_object_add(r, "thread", json_object_new_int(w->id));
		if (journal_append(w->j, r, &err) != 0) {
			w->failures++;
			free(err);
		}
		json_object_put(r);
	}
	return NULL;
}

START_TEST(concurrent_appends)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	char *err = NULL;
	struct journal *j = journal_create(fixture_sd, RUN_ID, &err);
	int i;

	ck_assert_msg(j != NULL, "%s", err);
	for (i = 0; i < THREADS; i++) {
		w[i].j = j;
		w[i].id = i;
		w[i].failures = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, append_many, &w[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(w[i].failures, 0);
	}
	ck_assert_uint_eq(journal_seq(j), THREADS * PER_THREAD);
	journal_free(j);
	expect_replay(THREADS * PER_THREAD, false);
}
END_TEST

START_TEST(sha256_vectors)
{
	char out[SHA256_HEX_SIZE], *path, *err = NULL;

	ck_assert_int_eq(sha256_hex("abc", 3, out), 0);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert_int_eq(sha256_hex("", 0, out), 0);
	ck_assert_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	path = xasprintf("%s/abc", fixture_dir);
	spit(path, "abc", 3);
	ck_assert_msg(sha256_file(path, out, &err) == 0, "%s", err);
	ck_assert_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	free(path);

	path = xasprintf("%s/absent", fixture_dir);
	ck_assert_int_eq(sha256_file(path, out, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	free(err);
	free(path);
}
END_TEST

static Suite *
journal_suite(void)
{
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");
	TCase *hash = tcase_create("sha256");

	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, create_mode_and_format);
	tcase_add_test(tc, newlines_escaped);
	tcase_add_test(tc, bad_records_refused);
	tcase_add_test(tc, symlink_refused);
	tcase_add_test(tc, seq_continues_after_reopen);
	tcase_add_test(tc, missing_journal);
	tcase_add_test(tc, empty_journal);
	tcase_add_test(tc, torn_tail_ignored_then_cut);
	tcase_add_test(tc, damaged_last_line_ignored);
	tcase_add_test(tc, corrupt_middle_line);
	tcase_add_test(tc, seq_gap);
	tcase_add_test(tc, concurrent_appends);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(hash, fixture_setup, fixture_teardown);
	tcase_add_test(hash, sha256_vectors);
	suite_add_tcase(s, hash);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(journal_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
