/*
 * exec.h - the executors: where and how one action (a step's, a probe's or
 * a rollback's) runs. The engine builds a struct exec_req and gets a struct
 * exec_result back, whatever the target; it does not care where the action
 * ran. This release has the local executor (shell commands through
 * `sh -s`) and TCP connect probes; SSH, HTTP and SFTP plug in here.
 */
#ifndef MIGRATE_EXEC_H
#define MIGRATE_EXEC_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "child.h"
#include "runbook.h"

struct exec_req {
	enum action_kind kind;        /* ACT_RUN or ACT_TCP */
	const char *host;             /* target host name; "local" */
	const char *script;           /* ACT_RUN: fed to sh -s on stdin */
	const char *const *env;       /* NULL-terminated NAME=VALUE */
	const char *workdir;          /* NULL: inherit */
	bool sudo;                    /* run through sudo -n */
	const char *tcp;              /* ACT_TCP: HOST:PORT */
	int64_t timeout_ms;
	volatile sig_atomic_t *cancel;
	volatile sig_atomic_t *running_pgid;   /* see child.h */
	void (*on_output)(void *ctx, int fd, const char *data, size_t len);
	void *ctx;
};

enum exec_status {
	EXEC_DONE,       /* ran to its end: see exit_code / term_signal */
	EXEC_TIMEOUT,
	EXEC_CANCELLED,
	EXEC_ERROR,      /* could not run (error says why) */
};

struct exec_result {
	enum exec_status status;
	int exit_code;   /* -1 when killed by a signal */
	int term_signal;
	struct buf out;  /* last 64 KiB of stdout (or the response body) */
	struct buf err;
	int64_t duration_ms;
	char *error;     /* malloc'ed; EXEC_ERROR, or the connect error of a tcp probe */
};

/* Run req. Always fills *res; release with exec_result_release. */
void exec_action(const struct exec_req *req, struct exec_result *res);
void exec_result_release(struct exec_result *res);
/* A short description of how an action ended: "exit 3", "killed by SIGKILL", "timed out after 5s", ... */
void exec_describe(const struct exec_result *res, int64_t timeout_ms, struct buf *out);

#endif
