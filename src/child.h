/*
 * child.h - the one way migrate runs a local process.
 *
 * Two ways to drive it: child_run() runs to completion in the calling
 * thread; child_start() / child_wait_on() / child_advance() / child_stop()
 * / child_finish() let a caller's own poll() loop pump it alongside other
 * things (the executors' loop, which also waits on a cancel token).
 *
 * The child gets its own process group; its stdin is fed from memory and
 * its stdout/stderr are pumped with poll(), so a chatty child can never
 * deadlock us. Only the last tail_max bytes of each stream are kept. On
 * timeout or cancel the whole group gets SIGTERM, then SIGKILL after
 * kill_grace_ms. When the child exits normally, its output is drained until
 * EOF (bounded: processes it left in the background that keep the pipes open
 * are not waited for beyond a short grace, and are left alone).
 */
#ifndef MIGRATE_CHILD_H
#define MIGRATE_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "buf.h"
#include "lifeline.h"

#define CHILD_TAIL_MAX (64 * 1024)
#define CHILD_KILL_GRACE_MS 5000

struct child_opts {
	const char *const *argv;      /* argv[0] is looked up in PATH */
	const char *stdin_data;       /* may be NULL: stdin is /dev/null-like (closed at once) */
	size_t stdin_len;
	const char *const *env_add;   /* NULL-terminated "NAME=VALUE" added to the environment; may be NULL */
	const char *workdir;          /* NULL: inherit */
	int64_t timeout_ms;           /* 0: none */
	int64_t kill_grace_ms;        /* 0: CHILD_KILL_GRACE_MS */
	size_t tail_max;              /* 0: CHILD_TAIL_MAX */
	/* child_run only: polled at least every 100 ms; non-zero stops the child like a timeout */
	volatile sig_atomic_t *cancel;
	/* Called with every chunk read (fd 1 or 2), in order. May be NULL. */
	void (*on_output)(void *ctx, int fd, const char *data, size_t len);
	void *ctx;
	/*
	 * May be NULL. The child's group is listed there from its start until
	 * just before it is reaped (so the group's id cannot have been reused
	 * while listed): if migrate dies meanwhile, the group is stopped.
	 */
	struct lifeline_watch *lifeline;
};

enum child_status {
	CHILD_EXITED,     /* exit_code is valid */
	CHILD_SIGNALED,   /* killed by term_signal (not by us) */
	CHILD_TIMEOUT,    /* we stopped it: timeout_ms passed */
	CHILD_CANCELLED,  /* we stopped it: *cancel became non-zero */
	CHILD_FAILED,     /* could not start; error says why */
};

struct child_result {
	enum child_status status;
	int exit_code;
	int term_signal;
	struct buf out;               /* last tail_max bytes of stdout */
	struct buf err;               /* last tail_max bytes of stderr */
	bool out_truncated;
	bool err_truncated;
	int64_t duration_ms;
	pid_t pid;
	char *error;                  /* malloc'ed; CHILD_FAILED only */
};

#include <poll.h>

struct child;

/*
 * Start opts->argv (opts must outlive the child). 0 with *out set, or -1
 * with *err (malloc'ed) when it could not start.
 */
int child_start(const struct child_opts *opts, struct child **out, char **err);
/* The child's pid, which is also its process group id. */
pid_t child_pid(const struct child *c);
/*
 * What to poll before the next child_advance(): fills up to max (>= 4)
 * descriptors, returns how many, and lowers *timeout_ms (-1: none) to
 * the child's next deadline.
 */
size_t child_wait_on(struct child *c, struct pollfd *fds, size_t max, int64_t *timeout_ms);
/* Do what can be done without blocking. 1 when the child is reaped and drained. */
int child_advance(struct child *c);
/* Stop the child's group as cancelled: SIGTERM, then SIGKILL after the grace. */
void child_stop(struct child *c);
/* Close the child's stdin without writing what is left of stdin_data (none of it, right after child_start). */
void child_withhold_stdin(struct child *c);
/* Fill *res and free c. */
void child_finish(struct child *c, struct child_result *res);

/* Run to completion. Always fills *res (release it with child_result_release). Returns 0 unless CHILD_FAILED (-1). */
int child_run(const struct child_opts *opts, struct child_result *res);
void child_result_release(struct child_result *res);
const char *child_status_name(enum child_status st);

#endif
