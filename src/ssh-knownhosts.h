/*
 * ssh-knownhosts.h - host key verification against an OpenSSH known_hosts
 * file (SPEC §5): plain and hashed (|1|) entries, `[addr]:port` for ports
 * other than 22. An unknown key is refused unless accept_new (then it is
 * appended: the file is rewritten to a temporary file beside it with the
 * same mode and renamed); a changed key is always refused with both
 * SHA256 fingerprints. Call it right after the handshake, before anything
 * is sent.
 */
#ifndef MIGRATE_SSH_KNOWNHOSTS_H
#define MIGRATE_SSH_KNOWNHOSTS_H

#include <libssh2.h>
#include <pthread.h>
#include <stdbool.h>

enum hostkey_verdict {
	HOSTKEY_MATCH,
	HOSTKEY_ADDED,      /* was unknown, recorded (accept_new) */
	HOSTKEY_UNKNOWN,
	HOSTKEY_CHANGED,
	HOSTKEY_REVOKED,    /* marked @revoked in the file: refused like a changed key */
	HOSTKEY_ERROR,      /* the key or the file could not be read or written */
};

struct hostkey_check {
	const char *name;         /* host name for messages */
	const char *address;
	int port;
	const char *file;         /* NULL: ~/.ssh/known_hosts */
	bool accept_new;
	pthread_mutex_t *write_lock;  /* serialises appends; may be NULL */
};

/*
 * Verify the host key of a session that finished its handshake. Returns
 * the verdict; for anything but MATCH/ADDED *err (malloc'ed) says why,
 * naming the host.
 */
enum hostkey_verdict ssh_knownhosts_verify(LIBSSH2_SESSION *s, const struct hostkey_check *hc, char **err);

/* "SHA256:..." of a raw public key blob (OpenSSH's format). Returns a malloc'ed string. */
char *ssh_fingerprint(const unsigned char *key, size_t len);

/* The default known_hosts file ($HOME/.ssh/known_hosts). malloc'ed. */
char *ssh_known_hosts_default(void);

#endif
