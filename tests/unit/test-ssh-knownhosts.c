/*
 * test-ssh-knownhosts.c - host key verification against known_hosts files
 * in a temporary directory. The session is real: a handshake with OpenSSH's
 * sshd started in inetd mode (-i) on one end of a socket pair, with a
 * throwaway host key; the address and port checked are the ones named in
 * struct hostkey_check. Plain entries, `[addr]:port`, hashed |1| entries,
 * comments and marker lines, a changed key (both fingerprints, file left
 * alone), an unknown key refused or recorded (file mode kept).
 */
#include <check.h>
#include <libssh2.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "ssh-knownhosts.h"
#include "util.h"

#define SSHD "/usr/sbin/sshd"

static char dir[] = "/tmp/migrate-knownhosts-XXXXXX";
static char *kh;              /* the known_hosts file under test */
static struct buf hostpub;    /* "ssh-ed25519 AAAA..." of the server */
static struct buf otherpub;   /* another key of the same type */
static char *host_fp;         /* SHA256:... of the server's key, by ssh-keygen */
static char *other_fp;
static LIBSSH2_SESSION *sess;
static pid_t sshd_pid = -1;
static int sock = -1;

static void
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

static void
read_text(const char *path, struct buf *b)
{
	char chunk[4096];
	size_t n;
	FILE *fp = fopen(path, "r");

	buf_reset(b);
	if (fp == NULL)
		return;
	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(b, chunk, n);
	fclose(fp);
}

/* "type base64" of a .pub file, without comment or newline. */
static void
pub_key(const char *path, struct buf *out)
{
	char *sp;

	read_text(path, out);
	sp = strchr(out->data, ' ');
	ck_assert_ptr_nonnull(sp);
	sp = strchr(sp + 1, ' ');
	if (sp) {
		out->len = (size_t)(sp - out->data);
		out->data[out->len] = '\0';
	}
}

static char *
keygen_fp(const char *pub)
{
	char *cmd = xasprintf("ssh-keygen -l -E sha256 -f %s", pub);
	FILE *p = popen(cmd, "r");
	char line[512], fp[128];

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
	pclose(p);
	free(cmd);
	ck_assert_int_eq(sscanf(line, "%*d %127s", fp), 1);
	return xstrdup(fp);
}

static void
setup(void)
{
	int sv[2];
	char *cfg;
	FILE *fp;

	if (access(SSHD, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s missing (apt-get install openssh-server)\n", SSHD);
		exit(77);
	}
	strcpy(dir + strlen(dir) - 6, "XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	kh = xasprintf("%s/known_hosts", dir);
	sh("ssh-keygen -q -t ed25519 -N '' -f %s/host >/dev/null && "
	   "ssh-keygen -q -t ed25519 -N '' -f %s/other >/dev/null", dir, dir);
	{
		struct buf p = BUF_INIT;
		buf_addf(&p, "%s/host.pub", dir);
		pub_key(p.data, &hostpub);
		host_fp = keygen_fp(p.data);
		buf_reset(&p);
		buf_addf(&p, "%s/other.pub", dir);
		pub_key(p.data, &otherpub);
		other_fp = keygen_fp(p.data);
		buf_release(&p);
	}
	cfg = xasprintf("%s/sshd_config", dir);
	fp = fopen(cfg, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "HostKey %s/host\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
	    "AuthorizedKeysFile none\nPidFile none\nLogLevel QUIET\nKexAlgorithms curve25519-sha256\n", dir);
	fclose(fp);
	if (geteuid() == 0)
		mkdir("/run/sshd", 0755);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	sshd_pid = fork();
	ck_assert_int_ge(sshd_pid, 0);
	if (sshd_pid == 0) {
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		execl(SSHD, SSHD, "-i", "-e", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	free(cfg);
	close(sv[1]);
	sock = sv[0];
	ck_assert_int_eq(libssh2_init(0), 0);
	sess = libssh2_session_init();
	ck_assert_ptr_nonnull(sess);
	ck_assert_msg(libssh2_session_handshake(sess, sock) == 0, "handshake with sshd -i failed");
}

static void
teardown(void)
{
	libssh2_session_free(sess);
	sess = NULL;
	close(sock);
	kill(sshd_pid, SIGTERM);
	waitpid(sshd_pid, NULL, 0);
	sh("rm -rf %s", dir);
	free(kh);
	free(host_fp);
	free(other_fp);
	buf_release(&hostpub);
	buf_release(&otherpub);
}

static void
write_kh(const char *text, mode_t mode)
{
	FILE *fp = fopen(kh, "w");

	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	ck_assert_int_eq(chmod(kh, mode), 0);
}

static enum hostkey_verdict
verify(int port, bool accept_new, char **err)
{
	struct hostkey_check hc = { .name = "db", .address = "127.0.0.1", .port = port, .file = kh,
		.accept_new = accept_new };

	*err = NULL;
	return ssh_knownhosts_verify(sess, &hc, err);
}

static void
expect_match(int port)
{
	char *err;

	ck_assert_msg(verify(port, false, &err) == HOSTKEY_MATCH, "%s", err ? err : "?");
	ck_assert_ptr_null(err);
}

START_TEST(test_fingerprint)
{
	size_t len;
	int type;
	const char *key = libssh2_session_hostkey(sess, &len, &type);
	char *fp;

	ck_assert_ptr_nonnull(key);
	fp = ssh_fingerprint((const unsigned char *)key, len);
	ck_assert_str_eq(fp, host_fp);
	free(fp);
}
END_TEST

START_TEST(test_plain_port_22)
{
	struct buf t = BUF_INIT;

	buf_addf(&t, "127.0.0.1 %s\n", buf_str(&hostpub));
	write_kh(t.data, 0600);
	expect_match(22);
	buf_release(&t);
}
END_TEST

START_TEST(test_bracketed_port)
{
	struct buf t = BUF_INIT;
	char *err;

	buf_addf(&t, "# a comment\n\n@cert-authority *.example %s\nother.example %s\n"
	    "  [127.0.0.1]:2222,db.example %s\n", buf_str(&otherpub), buf_str(&otherpub), buf_str(&hostpub));
	write_kh(t.data, 0600);
	expect_match(2222);
	/* the entry names port 2222 only: on port 22 the key is not known */
	ck_assert_int_eq(verify(22, false, &err), HOSTKEY_UNKNOWN);
	ck_assert_ptr_nonnull(err);
	free(err);
	buf_release(&t);
}
END_TEST

START_TEST(test_hashed)
{
	struct buf t = BUF_INIT;

	buf_addf(&t, "[127.0.0.1]:2222 %s\n127.0.0.1 %s\n", buf_str(&hostpub), buf_str(&hostpub));
	write_kh(t.data, 0600);
	sh("ssh-keygen -q -H -f %s >/dev/null 2>&1", kh);
	read_text(kh, &t);
	ck_assert_msg(strncmp(t.data, "|1|", 3) == 0 && strstr(t.data, "127.0.0.1") == NULL,
	    "not hashed: %s", t.data);
	expect_match(2222);
	expect_match(22);
	buf_release(&t);
}
END_TEST

START_TEST(test_changed)
{
	struct buf t = BUF_INIT, after = BUF_INIT;
	char *err;

	buf_addf(&t, "[127.0.0.1]:2222 %s\n", buf_str(&otherpub));
	write_kh(t.data, 0644);
	ck_assert_int_eq(verify(2222, true, &err), HOSTKEY_CHANGED);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "HOST KEY CHANGED") && strstr(err, host_fp) && strstr(err, other_fp) &&
	    strstr(err, "db"), "%s", err);
	free(err);
	read_text(kh, &after);
	ck_assert_str_eq(after.data, t.data);
	buf_release(&t);
	buf_release(&after);
}
END_TEST

START_TEST(test_unknown_refused)
{
	struct buf after = BUF_INIT;
	char *err;

	ck_assert_int_eq(verify(2222, false, &err), HOSTKEY_UNKNOWN);
	ck_assert_msg(err && strstr(err, host_fp) && strstr(err, "--accept-new-host-keys"), "%s", err);
	free(err);
	ck_assert_int_ne(access(kh, F_OK), 0);
	/* an existing file without the host is left as it was */
	write_kh("other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx2\n", 0600);
	ck_assert_int_eq(verify(2222, false, &err), HOSTKEY_UNKNOWN);
	free(err);
	read_text(kh, &after);
	ck_assert_str_eq(after.data, "other.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx2\n");
	buf_release(&after);
}
END_TEST

START_TEST(test_unknown_added_keeps_mode)
{
	struct buf t = BUF_INIT, want = BUF_INIT;
	struct stat st;
	char *err;

	/* no final newline: the new entry still starts a line of its own */
	buf_addf(&t, "# kept\nother.example %s", buf_str(&otherpub));
	write_kh(t.data, 0640);
	ck_assert_msg(verify(2222, true, &err) == HOSTKEY_ADDED, "%s", err ? err : "?");
	ck_assert_ptr_null(err);
	ck_assert_int_eq(stat(kh, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
	buf_addf(&want, "%s\n[127.0.0.1]:2222 %s\n", t.data, buf_str(&hostpub));
	read_text(kh, &t);
	ck_assert_str_eq(t.data, want.data);
	expect_match(2222);
	/* no temporary file left beside it */
	sh("test $(ls -A %s | grep -c known_hosts) -eq 1", dir);
	buf_release(&t);
	buf_release(&want);
}
END_TEST

START_TEST(test_unknown_added_new_file)
{
	struct stat st;
	char *err;

	ck_assert_msg(verify(22, true, &err) == HOSTKEY_ADDED, "%s", err ? err : "?");
	ck_assert_int_eq(stat(kh, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	expect_match(22);
}
END_TEST

/* a key marked @revoked is refused, even with accept_new, and not appended */
START_TEST(test_revoked)
{
	struct buf t = BUF_INIT, after = BUF_INIT;
	char *err;

	buf_addf(&t, "@revoked * %s\n", buf_str(&hostpub));
	write_kh(t.data, 0600);
	ck_assert_int_eq(verify(2222, true, &err), HOSTKEY_REVOKED);
	ck_assert_msg(err && strstr(err, "@revoked") && strstr(err, host_fp), "%s", err ? err : "?");
	free(err);
	read_text(kh, &after);
	ck_assert_str_eq(after.data, t.data);
	/* another key revoked: this one is still only unknown */
	buf_reset(&t);
	buf_addf(&t, "@revoked * %s\n", buf_str(&otherpub));
	write_kh(t.data, 0600);
	ck_assert_int_eq(verify(2222, false, &err), HOSTKEY_UNKNOWN);
	free(err);
	buf_release(&t);
	buf_release(&after);
}
END_TEST

static Suite *
ssh_knownhosts_suite(void)
{
	Suite *s = suite_create("ssh-knownhosts");
	TCase *tc = tcase_create("ssh-knownhosts");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fingerprint);
	tcase_add_test(tc, test_plain_port_22);
	tcase_add_test(tc, test_bracketed_port);
	tcase_add_test(tc, test_hashed);
	tcase_add_test(tc, test_changed);
	tcase_add_test(tc, test_unknown_refused);
	tcase_add_test(tc, test_unknown_added_keeps_mode);
	tcase_add_test(tc, test_unknown_added_new_file);
	tcase_add_test(tc, test_revoked);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ssh_knownhosts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	libssh2_exit();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
