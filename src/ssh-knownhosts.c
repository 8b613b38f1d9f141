/* ssh-knownhosts.c - host key verification (see ssh-knownhosts.h). */
#include "ssh-knownhosts.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fault.h"
#include "util.h"

char *
ssh_known_hosts_default(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home == NULL || *home == '\0') {
		pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : "/";
	}
	return xasprintf("%s/.ssh/known_hosts", home);
}

char *
ssh_fingerprint(const unsigned char *key, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	int n;

	if (!EVP_Digest(key, len, md, &mdlen, EVP_sha256(), NULL))
		return xstrdup("SHA256:?");
	n = EVP_EncodeBlock(b64, md, (int)mdlen);
	/* OpenSSH prints it without the padding. */
	while (n > 0 && b64[n - 1] == '=')
		n--;
	b64[n] = '\0';
	return xasprintf("SHA256:%s", (char *)b64);
}

/* The fingerprint of a known_hosts entry's key (base64 text). */
static char *
entry_fingerprint(const char *b64)
{
	size_t len = strlen(b64);
	unsigned char *raw = xmalloc(len + 3);
	int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
	char *fp;

	if (n < 0) {
		free(raw);
		return xstrdup("SHA256:?");
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (len > 0 && b64[len - 1] == '=') {
		len--;
		n--;
	}
	fp = ssh_fingerprint(raw, (size_t)n);
	free(raw);
	return fp;
}

static int
key_bits(int type, const char **name)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		*name = "ssh-rsa";
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		*name = "ssh-dss";
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
#ifdef LIBSSH2_HOSTKEY_TYPE_ECDSA_256
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*name = "ecdsa-sha2-nistp256";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*name = "ecdsa-sha2-nistp384";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*name = "ecdsa-sha2-nistp521";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
#endif
#ifdef LIBSSH2_HOSTKEY_TYPE_ED25519
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		*name = "ssh-ed25519";
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
#endif
	default:
		*name = NULL;
		return 0;
	}
}

/*
 * If line is an "@revoked PATTERNS TYPE KEY" entry, add " KEY " to revoked:
 * such a key is refused for every host (stricter than OpenSSH, which
 * refuses it for the listed patterns), never taken for an unknown one.
 */
static void
note_revoked(const char *p, struct buf *revoked)
{
	size_t n;

	if (strncmp(p, "@revoked", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
		return;
	p += 8;
	for (int field = 0; field < 2; field++) {   /* skip the patterns and the key type */
		p += strspn(p, " \t");
		p += strcspn(p, " \t\r\n");
	}
	p += strspn(p, " \t");
	n = strcspn(p, " \t\r\n");
	if (n == 0)
		return;
	buf_addc(revoked, ' ');
	buf_add(revoked, p, n);
	buf_addc(revoked, ' ');
}

/*
 * Load file line by line, so one line libssh2 cannot parse (a marker such
 * as @cert-authority, a key type it lacks) does not hide the others.
 * The keys of @revoked lines go to revoked. Returns 0 (a missing file is
 * empty), or -1 with *err.
 */
static int
load_file(LIBSSH2_KNOWNHOSTS *kh, const char *file, struct buf *revoked, char **err)
{
	FILE *fp = fopen(file, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (fp == NULL) {
		if (errno == ENOENT)
			return 0;
		*err = xasprintf("cannot read known hosts file '%s': %s", file, strerror(errno));
		return -1;
	}
	while ((n = getline(&line, &cap, fp)) > 0) {
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '@')
			note_revoked(p, revoked);
		if (*p == '#' || *p == '\n' || *p == '\0' || *p == '@')
			continue;
		libssh2_knownhost_readline(kh, line, (size_t)n, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	}
	free(line);
	fclose(fp);
	return 0;
}

static void
host_pattern(struct buf *b, const char *address, int port)
{
	if (port == 22)
		buf_adds(b, address);
	else
		buf_addf(b, "[%s]:%d", address, port);
}

/* Make the directory of a default known_hosts file (~/.ssh, mode 0700) when missing. */
static void
ensure_dir(const char *file)
{
	char *dir = xstrdup(file);
	char *slash = strrchr(dir, '/');

	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0700);
	}
	free(dir);
}

/* Append line to file: copy to a temporary file beside it (same mode), fsync, rename. */
static int
append_line(const char *file, const char *line, char **err)
{
	struct buf old = BUF_INIT, tmp = BUF_INIT;
	struct stat st;
	mode_t mode = 0600;
	FILE *in;
	int fd = -1, ret = -1;
	char chunk[8192];
	size_t k;

	ensure_dir(file);
	if (stat(file, &st) == 0)
		mode = st.st_mode & 07777;
	in = fopen(file, "re");
	if (in) {
		while ((k = fread(chunk, 1, sizeof(chunk), in)) > 0)
			buf_add(&old, chunk, k);
		fclose(in);
	}
	if (old.len > 0 && old.data[old.len - 1] != '\n')
		buf_addc(&old, '\n');
	buf_adds(&old, line);
	buf_addf(&tmp, "%s.migrate-XXXXXX", file);
	fd = mkstemp(tmp.data);
	if (fd < 0) {
		*err = xasprintf("cannot record the host key in '%s': %s", file, strerror(errno));
		goto cleanup;
	}
	if (fchmod(fd, mode) < 0 || write(fd, old.data, old.len) != (ssize_t)old.len ||
	    fsync(fd) < 0 || close(fd) < 0) {
		*err = xasprintf("cannot record the host key in '%s': %s", file, strerror(errno));
		fd = -1;
		unlink(tmp.data);
		goto cleanup;
	}
	fd = -1;
	if (fault_rename(tmp.data, file) < 0) {
		*err = xasprintf("cannot record the host key in '%s': %s", file, strerror(errno));
		unlink(tmp.data);
		goto cleanup;
	}
	ret = 0;
cleanup:
	if (fd >= 0)
		close(fd);
	buf_release(&old);
	buf_release(&tmp);
	return ret;
}

enum hostkey_verdict
ssh_knownhosts_verify(LIBSSH2_SESSION *s, const struct hostkey_check *hc, char **err)
{
	LIBSSH2_KNOWNHOSTS *kh = NULL;
	struct libssh2_knownhost *found = NULL;
	const char *key, *type_name = NULL;
	char *file = hc->file ? xstrdup(hc->file) : ssh_known_hosts_default();
	char *fp = NULL, *old_fp = NULL;
	struct buf where = BUF_INIT, line = BUF_INIT, revoked = BUF_INIT;
	enum hostkey_verdict v = HOSTKEY_ERROR;
	size_t len = 0;
	int type = 0, bits, r;

	host_pattern(&where, hc->address, hc->port);
	key = libssh2_session_hostkey(s, &len, &type);
	bits = key ? key_bits(type, &type_name) : 0;
	if (key == NULL || bits == 0) {
		*err = xasprintf("%s (%s): cannot read the server's host key", hc->name, buf_str(&where));
		goto cleanup;
	}
	fp = ssh_fingerprint((const unsigned char *)key, len);
	kh = libssh2_knownhost_init(s);
	if (kh == NULL) {
		*err = xasprintf("%s: cannot check the host key: out of memory", hc->name);
		goto cleanup;
	}
	if (load_file(kh, file, &revoked, err) < 0)
		goto cleanup;
	if (revoked.len > 0) {
		unsigned char *b64 = xmalloc(4 * ((len + 2) / 3) + 3);
		int n = EVP_EncodeBlock(b64 + 1, (const unsigned char *)key, (int)len);
		b64[0] = ' ';
		b64[n + 1] = ' ';
		b64[n + 2] = '\0';
		if (strstr(buf_str(&revoked), (char *)b64) != NULL) {
			free(b64);
			*err = xasprintf("%s (%s): host key %s %s is marked @revoked in %s; refusing to "
			    "connect, nothing was sent", hc->name, buf_str(&where), type_name, fp, file);
			v = HOSTKEY_REVOKED;
			goto cleanup;
		}
		free(b64);
	}
	r = libssh2_knownhost_checkp(kh, hc->address, hc->port, key, len,
	    LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | bits, &found);
	switch (r) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		v = HOSTKEY_MATCH;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		old_fp = found && found->key ? entry_fingerprint(found->key) : xstrdup("SHA256:?");
		*err = xasprintf("%s (%s): HOST KEY CHANGED: %s records %s, the server offers %s; "
		    "refusing to connect, nothing was sent (if the change is expected, remove the old "
		    "entry: ssh-keygen -R '%s' -f '%s')", hc->name, buf_str(&where), file, old_fp, fp,
		    buf_str(&where), file);
		v = HOSTKEY_CHANGED;
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (!hc->accept_new) {
			*err = xasprintf("%s (%s): host key %s %s is not known (not in %s); refusing to "
			    "connect (run with --accept-new-host-keys to trust and record it)",
			    hc->name, buf_str(&where), type_name, fp, file);
			v = HOSTKEY_UNKNOWN;
			break;
		}
		{
			unsigned char *b64 = xmalloc(4 * ((len + 2) / 3) + 1);
			EVP_EncodeBlock(b64, (const unsigned char *)key, (int)len);
			buf_addf(&line, "%s %s %s\n", buf_str(&where), type_name, (char *)b64);
			free(b64);
		}
		if (hc->write_lock)
			pthread_mutex_lock(hc->write_lock);
		r = append_line(file, buf_str(&line), err);
		if (hc->write_lock)
			pthread_mutex_unlock(hc->write_lock);
		v = r < 0 ? HOSTKEY_ERROR : HOSTKEY_ADDED;
		break;
	default:
		*err = xasprintf("%s (%s): cannot check the host key against %s", hc->name,
		    buf_str(&where), file);
		break;
	}
cleanup:
	if (kh)
		libssh2_knownhost_free(kh);
	free(file);
	free(fp);
	free(old_fp);
	buf_release(&where);
	buf_release(&line);
	buf_release(&revoked);
	return v;
}
