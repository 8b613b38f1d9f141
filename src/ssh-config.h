/*
 * ssh-config.h - hosts named as in ~/.ssh/config (SPEC §5): the fields
 * migrate honours (HostName, User, Port, IdentityFile, ProxyJump) for a
 * name written in a `Host` line. As OpenSSH does, the first value of each
 * keyword among the matching Host blocks wins; `Host *` blocks supply
 * values too, but only a name written out in a Host line (no wildcard)
 * counts as known, so a typo is still an unknown host.
 */
#ifndef MIGRATE_SSH_CONFIG_H
#define MIGRATE_SSH_CONFIG_H

#include <stdbool.h>

struct ssh_config_host {
	char *hostname;      /* NULL: the name itself */
	char *user;
	int port;            /* 0: not given */
	char *identity;      /* ~ expanded */
	char *proxyjump;     /* as written: [user@]host[:port][,...] */
};

/*
 * Look name up in file (NULL: $HOME/.ssh/config). Returns true when a Host
 * line names it, filling *out (release with ssh_config_host_release).
 */
bool ssh_config_lookup(const char *file, const char *name, struct ssh_config_host *out);
void ssh_config_host_release(struct ssh_config_host *h);

#endif
