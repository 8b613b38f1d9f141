/*
 * statedir-fixture.h - a fresh state directory for each test of the storage
 * modules (test-statedir, test-journal, test-lock).
 *
 * Register with tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown):
 * before each test fixture_dir is a new directory under /tmp and fixture_sd
 * the state directory opened (created) there; afterwards both are gone.
 * Include from one test program file only (the definitions are static).
 */
#ifndef MIGRATE_TEST_STATEDIR_FIXTURE_H
#define MIGRATE_TEST_STATEDIR_FIXTURE_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>

#include "statedir.h"

static char fixture_dir[] = "/tmp/migrate-state-XXXXXX";
static struct statedir *fixture_sd;

static int
fixture_remove(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static void
fixture_setup(void)
{
	char *err = NULL;

	strcpy(fixture_dir + strlen(fixture_dir) - 6, "XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fixture_dir));
	fixture_sd = statedir_open(fixture_dir, true, &err);
	ck_assert_msg(fixture_sd != NULL, "%s", err);
}

static void
fixture_teardown(void)
{
	statedir_free(fixture_sd);
	fixture_sd = NULL;
	nftw(fixture_dir, fixture_remove, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
