/*
 * exec.h - the executors: where and how one action (a step's, a probe's or
 * a rollback's) runs. The engine builds a struct exec_req and gets a struct
 * exec_result back, whatever the target; it does not care where the action
 * ran.
 *
 * Every executor is an ops table (struct exec_ops) registered for an action
 * kind and a kind of target (this machine or a remote host) in the per-run
 * struct exec_ctx. An executor gets a resolved struct exec_target, never
 * the runbook; it never emits events, never touches the run and prints
 * nothing. One action is driven by exec_action() in the calling thread:
 * start, then { wait_on + the cancel token's fd -> poll -> advance } until
 * advance says it finished, then finish.
 *
 * This file: local shell commands (exec-local.c), TCP connect probes
 * (exec-tcp.c) and HTTP requests (exec-http.c, made from this machine
 * whatever the target); SSH and SFTP register themselves the same way.
 */
#ifndef MIGRATE_EXEC_H
#define MIGRATE_EXEC_H

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "cancel.h"
#include "runbook.h"

/*
 * Where an action runs, resolved by the engine from the runbook (hosts:,
 * secrets, ~/.ssh/config): nothing here points into the runbook. Owned by
 * the run; lives as long as the exec ctx.
 */
struct exec_target {
	const char *name;            /* "local", or the host's name */
	const char *address;         /* "localhost" for local */
	int port;                    /* 0: default (22) */
	const char *user;            /* NULL: default */
	const char *key_file;        /* NULL: default keys */
	const char *passphrase;      /* the expanded secret; NULL: none */
	const char *known_hosts;     /* NULL: ~/.ssh/known_hosts */
	int sudo;                    /* -1 not given, else 0/1 */
	int64_t connect_timeout_ms;  /* 0: default */
	const struct exec_target *via; /* jump host; NULL: direct */
};

/* Is t this machine? */
bool exec_target_is_local(const struct exec_target *t);
extern const struct exec_target exec_target_local;

struct exec_req {
	enum action_kind kind;
	const struct exec_target *target;
	/* ACT_RUN */
	const char *script;           /* fed to sh -s on stdin */
	const char *const *env;       /* NULL-terminated NAME=VALUE (secrets included) */
	const char *workdir;          /* NULL: inherit */
	bool sudo;                    /* run through sudo -n */
	/* ACT_TCP */
	const char *tcp;              /* HOST:PORT */
	/* ACT_HTTP */
	struct {
		const char *method;
		const char *url;
		const char *const *headers;  /* NULL-terminated "Name: value" */
		const char *body;            /* NULL: none */
		size_t body_len;
		bool insecure;
		const char *ca_cert;
		bool follow;
		const char *idempotency_key; /* NULL: none */
	} http;
	/* ACT_UPLOAD / ACT_DOWNLOAD */
	struct {
		const char *src;
		const char *dest;
		int mode;                    /* -1: not given */
	} xfer;
	int64_t timeout_ms;           /* 0: none */
	struct cancel_token *cancel;  /* may be NULL */
	/* Called with every chunk of output (fd 1 or 2), in order, in the calling thread. */
	void (*on_output)(void *ctx, int fd, const char *data, size_t len);
	/*
	 * May be NULL. A local command started in process group pgid (its
	 * lifeline is in place, SPEC §4); called once, in the calling thread,
	 * before any output and before the script is written to the command's
	 * stdin, so nothing of it has run yet. A negative return withholds the
	 * script and stops the command (the action ends cancelled).
	 */
	int (*on_started)(void *ctx, pid_t pgid);
	void *ctx;
};

enum exec_status {
	EXEC_DONE,       /* ran to its end: see exit_code / term_signal */
	EXEC_TIMEOUT,    /* error may say what was waited for (the host named) */
	EXEC_CANCELLED,
	EXEC_ERROR,      /* could not run (error says why) */
};

struct exec_result {
	enum exec_status status;
	int exit_code;   /* -1 when killed by a signal */
	int term_signal;
	int http_status; /* ACT_HTTP: the response status; 0 otherwise */
	struct buf out;  /* last 64 KiB of stdout, or the first 1 MiB of the response body */
	struct buf err;
	int64_t duration_ms;
	char *error;     /* malloc'ed; EXEC_ERROR, the connect error of a tcp probe, or NULL or
	                    what an EXEC_TIMEOUT was waiting for */
	bool body_cut;   /* ACT_HTTP: the body was longer than out holds */
	char *location;  /* ACT_HTTP: malloc'ed; a redirect that was not followed */
};

struct exec_ctx;

/*
 * One executor. An operation (op) is its private state for one action.
 * start: begin req (which outlives the op); 0 with *op, or -1 with *err
 * (malloc'ed, no op).
 * wait_on: fill up to max pollfds, return how many; lower *timeout_ms
 * (-1: none) to when advance must be called even if nothing is ready.
 * advance: make progress without blocking; 1 when finished.
 * cancel: stop as cancelled (may take a while: keep advancing until 1).
 * finish: fill *res (status, output, ...) and free the op.
 * The op enforces req->timeout_ms itself (EXEC_TIMEOUT).
 */
struct exec_ops {
	const char *name;
	int (*start)(struct exec_ctx *ctx, const struct exec_req *req, void **op, char **err);
	size_t (*wait_on)(void *op, struct pollfd *fds, size_t max, int64_t *timeout_ms);
	int (*advance)(void *op);
	void (*cancel)(void *op);
	void (*finish)(void *op, struct exec_result *res);
};

/* The pollfds exec_action offers wait_on (one more is the cancel token's). */
#define EXEC_MAX_FDS 32

/* Per-backend state slots of an exec ctx (connections, sessions). */
enum exec_backend { EXEC_BACKEND_LOCAL, EXEC_BACKEND_SSH, EXEC_BACKEND_HTTP, EXEC_BACKENDS };

struct exec_ctx_opts {
	bool accept_new_host_keys;   /* SSH: record unknown host keys */
	/*
	 * TESTS ONLY (unit tests set it; no command-line option or
	 * environment variable reaches it): run `run` actions on remote
	 * targets on this machine, with MIGRATE_HOST=<address> in their
	 * environment, so the scheduler can be tested over host groups.
	 */
	bool test_local_hosts;
};

/*
 * The per-run executor context: the ops registry, the backends' state
 * (every host's SSH session, shared jump sessions, HTTP connections), and
 * the process groups of the local commands running now. Created by the
 * engine for a run; safe to use from several threads (each backend guards
 * its own state).
 */
struct exec_ctx *exec_ctx_new(const struct exec_ctx_opts *opts);
void exec_ctx_free(struct exec_ctx *ctx);
const struct exec_ctx_opts *exec_ctx_opts(const struct exec_ctx *ctx);

/* Register ops for (kind, local or remote targets); a later registration wins. */
void exec_register(struct exec_ctx *ctx, enum action_kind kind, bool remote, const struct exec_ops *ops);
/* The ops for kind on target t; NULL: not available in this build. */
const struct exec_ops *exec_lookup(const struct exec_ctx *ctx, enum action_kind kind, const struct exec_target *t);
bool exec_available(const struct exec_ctx *ctx, enum action_kind kind, bool remote);

/* A backend's state slot; destroy (may be NULL) runs in exec_ctx_free. */
void exec_ctx_set_backend(struct exec_ctx *ctx, enum exec_backend b, void *state, void (*destroy)(void *));
void *exec_ctx_backend(const struct exec_ctx *ctx, enum exec_backend b);

/*
 * The process groups of running local commands, for the hard exit on a
 * second SIGINT: a fixed table of sig_atomic_t written under a lock and
 * read without one (async-signal-safe) by exec_kill_groups().
 */
#define EXEC_MAX_PGIDS 1100
void exec_pgid_add(struct exec_ctx *ctx, pid_t pgid);
void exec_pgid_remove(struct exec_ctx *ctx, pid_t pgid);
/* Async-signal-safe: SIGKILL every registered group of ctx (may be NULL). */
void exec_kill_groups(const struct exec_ctx *ctx);

/*
 * Run req to its end in the calling thread. Always fills *res; release it
 * with exec_result_release. A kind/target without registered ops is an
 * EXEC_ERROR (engine_preflight refuses those before anything runs).
 */
void exec_action(struct exec_ctx *ctx, const struct exec_req *req, struct exec_result *res);
void exec_result_release(struct exec_result *res);
/* A short description of how an action ended: "exit 3", "killed by SIGKILL", "timed out after 5s", ... */
void exec_describe(const struct exec_result *res, int64_t timeout_ms, struct buf *out);

#endif
