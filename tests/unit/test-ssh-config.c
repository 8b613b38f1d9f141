/*
 * test-ssh-config.c - hosts of an OpenSSH client config file: Host
 * patterns (wildcards, negation, several names on a line), the fields
 * migrate honours, the first value of a keyword wins, comments, quoted
 * values, `Keyword=value`, unknown keywords and Match blocks ignored, and
 * only a name written out in a Host line counts as known.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ssh-config.h"

static char dir[] = "/tmp/migrate-sshcfg-XXXXXX";
static char *cfg;

static void
setup(void)
{
	strcpy(dir + strlen(dir) - 6, "XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	cfg = xasprintf("%s/config", dir);
	setenv("HOME", dir, 1);
}

static void
teardown(void)
{
	unlink(cfg);
	free(cfg);
	rmdir(dir);
}

static void
write_cfg(const char *text)
{
	FILE *fp = fopen(cfg, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

#define STR_OR_NULL(got, want) \
	do { \
		if ((want) == NULL) \
			ck_assert_ptr_null(got); \
		else { \
			ck_assert_ptr_nonnull(got); \
			ck_assert_str_eq(got, want); \
		} \
	} while (0)

static void
expect_host(const char *name, const char *hostname, const char *user, int port,
    const char *identity, const char *proxyjump)
{
	struct ssh_config_host h;

	ck_assert_msg(ssh_config_lookup(cfg, name, &h), "%s not found", name);
	STR_OR_NULL(h.hostname, hostname);
	STR_OR_NULL(h.user, user);
	ck_assert_int_eq(h.port, port);
	STR_OR_NULL(h.identity, identity);
	STR_OR_NULL(h.proxyjump, proxyjump);
	ssh_config_host_release(&h);
}

static void
expect_unknown(const char *name)
{
	struct ssh_config_host h;

	ck_assert_msg(!ssh_config_lookup(cfg, name, &h), "%s should be unknown", name);
	ck_assert_ptr_null(h.hostname);
	ck_assert_ptr_null(h.user);
	ck_assert_ptr_null(h.identity);
	ck_assert_ptr_null(h.proxyjump);
	ck_assert_int_eq(h.port, 0);
}

START_TEST(test_fields)
{
	char *key;

	write_cfg("# the database\n"
	    "Host db1\n"
	    "    HostName 10.0.0.5\n"
	    "    User deploy\n"
	    "    Port 2222\n"
	    "    IdentityFile ~/.ssh/id_db\n"
	    "    ProxyJump ops@bastion:2200,edge\n");
	key = xasprintf("%s/.ssh/id_db", dir);
	expect_host("db1", "10.0.0.5", "deploy", 2222, key, "ops@bastion:2200,edge");
	free(key);
}
END_TEST

START_TEST(test_first_value_wins)
{
	write_cfg("Host web\n"
	    "  User first\n"
	    "  User second\n"
	    "Host web other\n"
	    "  User third\n"
	    "  Port 2200\n"
	    "Host *\n"
	    "  Port 9999\n"
	    "  HostName wildcard.example\n"
	    "  IdentityFile /keys/default\n");
	/* the first value among the matching blocks; Host * fills the rest */
	expect_host("web", "wildcard.example", "first", 2200, "/keys/default", NULL);
	expect_host("other", "wildcard.example", "third", 2200, "/keys/default", NULL);
}
END_TEST

START_TEST(test_patterns)
{
	write_cfg("Host app-* !app-secret\n"
	    "  User wild\n"
	    "Host app-1 app-secret app-?x\n"
	    "  Port 2201\n"
	    "Host *\n"
	    "  User everyone\n");
	/* named exactly: known; a wildcard pattern supplies values */
	expect_host("app-1", NULL, "wild", 2201, NULL, NULL);
	/* negated in the wildcard block: that block does not apply */
	expect_host("app-secret", NULL, "everyone", 2201, NULL, NULL);
	/* only matched by wildcards: not a known host (a typo stays unknown) */
	expect_unknown("app-2");
	expect_unknown("app-zx");
	expect_unknown("nowhere");
}
END_TEST

START_TEST(test_syntax)
{
	write_cfg("   # indented comment\n"
	    "\n"
	    "host quoted\n"
	    "\tHOSTNAME \"10.1.2.3\"\n"
	    "\tIdentityFile \"/keys/with space\"\n"
	    "\tuser=eq\n"
	    "\tPort = 2022   \r\n"
	    "\tForwardAgent yes\n"
	    "\tSomeFutureKeyword whatever\n"
	    "\t# User commented\n"
	    "\tProxyJump none\n"
	    "Match host quoted\n"
	    "\tUser from-match\n"
	    "\tPort 1\n");
	expect_host("quoted", "10.1.2.3", "eq", 2022, "/keys/with space", NULL);
}
END_TEST

START_TEST(test_missing_file)
{
	char *missing = xasprintf("%s/nope", dir);
	struct ssh_config_host h;

	ck_assert(!ssh_config_lookup(missing, "db1", &h));
	free(missing);
	/* NULL: $HOME/.ssh/config, absent here */
	ck_assert(!ssh_config_lookup(NULL, "db1", &h));
	ck_assert_ptr_null(h.hostname);
}
END_TEST

static Suite *
ssh_config_suite(void)
{
	Suite *s = suite_create("ssh-config");
	TCase *tc = tcase_create("ssh-config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fields);
	tcase_add_test(tc, test_first_value_wins);
	tcase_add_test(tc, test_patterns);
	tcase_add_test(tc, test_syntax);
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ssh_config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
