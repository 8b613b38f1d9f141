/*
 * exec-ssh.h - actions on SSH hosts: shell commands through the lifeline
 * wrapper (SPEC §5) and SFTP file transfers.
 *
 * Both take the run's connection pool and a resolved target, fill a struct
 * exec_result like every executor, and print nothing.
 */
#ifndef MIGRATE_EXEC_SSH_H
#define MIGRATE_EXEC_SSH_H

#include "exec.h"
#include "ssh-conn.h"

struct ssh_run_req {
	const char *script;
	const char *const *env;       /* NAME=VALUE, NULL-terminated; may be NULL */
	const char *workdir;          /* NULL: the login directory */
	bool sudo;
	int64_t timeout_ms;           /* 0: none */
	int cancel_fd;                /* -1: none */
	volatile sig_atomic_t *cancel;/* NULL: none */
	void (*on_output)(void *ctx, int fd, const char *data, size_t len);
	void *ctx;
};

/*
 * Run a script on t. On timeout or cancel (and when the connection
 * drops) the wrapper stops the remote process group: SIGTERM, SIGKILL 5 s
 * later; this waits for that (plus a margin) before it returns.
 */
void exec_ssh_run(struct ssh_pool *pool, const struct ssh_target *t,
    const struct ssh_run_req *req, struct exec_result *res);

struct sftp_req {
	bool upload;                  /* true: local src to remote dest; false: the reverse */
	const char *src;
	const char *dest;
	int mode;                     /* -1: 0644 for a new file, else the file's mode kept */
	int64_t timeout_ms;
	int cancel_fd;
	volatile sig_atomic_t *cancel;
};

/*
 * Copy a file over SFTP: written to a temporary name beside dest, then
 * renamed over it, so a failure never leaves a partial file at dest. res->out
 * gets one line with the size and SHA-256 of what was written.
 */
void exec_sftp_transfer(struct ssh_pool *pool, const struct ssh_target *t,
    const struct sftp_req *req, struct exec_result *res);

#endif
