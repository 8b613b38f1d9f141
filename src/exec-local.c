/*
 * exec-local.c - shell commands on this machine (`sh -s`, the script on
 * stdin), through child.c, as an exec_ops table. Each runs on the run's
 * lifeline (lifeline.h): if migrate dies, its process group is stopped,
 * as the wrapper does over SSH.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "exec.h"
#include "lifeline.h"
#include "util.h"

void exec_local_init(struct exec_ctx *ctx);

/* The backend's state: the run's lifeline watcher, started with the first command. */
struct local_backend {
	pthread_mutex_t lock;
	struct lifeline_watch *watch;
};

static void
backend_destroy(void *v)
{
	struct local_backend *b = v;

	lifeline_watch_free(b->watch);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* The run's watcher; NULL with *err when it cannot be started. */
static struct lifeline_watch *
backend_watch(struct exec_ctx *ctx, char **err)
{
	struct local_backend *b = exec_ctx_backend(ctx, EXEC_BACKEND_LOCAL);
	struct lifeline_watch *w;

	pthread_mutex_lock(&b->lock);
	if (b->watch == NULL)
		b->watch = lifeline_watch_new();
	w = b->watch;
	if (w == NULL)
		*err = xasprintf("cannot start the lifeline watcher of local commands: %s", strerror(errno));
	pthread_mutex_unlock(&b->lock);
	return w;
}

struct local_op {
	struct exec_ctx *ctx;
	struct child_opts co;
	struct child *child;
	char **env;              /* req->env plus MIGRATE_HOST (test hosts only) */
	char *host_var;
};

static int
local_start(struct exec_ctx *ctx, const struct exec_req *req, void **opp, char **err)
{
	/* the system's sh by its path: a PATH search would try every directory first (SPEC §3: sh) */
	static const char *const sh[] = { "/bin/sh", "-s", NULL };
	static const char *const sudo_sh[] = { "sudo", "-n", "sh", "-s", NULL };
	struct lifeline_watch *watch = backend_watch(ctx, err);
	struct local_op *op;

	if (watch == NULL)
		return -1;
	op = xcalloc(1, sizeof(*op));
	op->ctx = ctx;
	op->co.argv = req->sudo ? sudo_sh : sh;
	op->co.stdin_data = req->script;
	op->co.stdin_len = req->script ? strlen(req->script) : 0;
	op->co.env_add = req->env;
	op->co.workdir = req->workdir;
	op->co.timeout_ms = req->timeout_ms;
	op->co.on_output = req->on_output;
	op->co.ctx = req->ctx;
	op->co.lifeline = watch;
	if (!exec_target_is_local(req->target)) {
		/* only reachable with exec_ctx_opts.test_local_hosts (tests) */
		size_t n = 0;
		while (req->env && req->env[n])
			n++;
		op->env = xcalloc(n + 2, sizeof(*op->env));
		for (size_t i = 0; i < n; i++)
			op->env[i] = (char *)req->env[i];
		op->host_var = xasprintf("MIGRATE_HOST=%s", req->target->address);
		op->env[n] = op->host_var;
		op->co.env_add = (const char *const *)op->env;
	}
	if (child_start(&op->co, &op->child, err) < 0) {
		free(op->env);
		free(op->host_var);
		free(op);
		return -1;
	}
	exec_pgid_add(ctx, child_pid(op->child));
	if (req->on_started && req->on_started(req->ctx, child_pid(op->child)) < 0) {
		/* sh waits for its script on stdin: it never gets it */
		child_withhold_stdin(op->child);
		child_stop(op->child);
	}
	*opp = op;
	return 0;
}

static size_t
local_wait_on(void *vop, struct pollfd *fds, size_t max, int64_t *timeout_ms)
{
	struct local_op *op = vop;
	return child_wait_on(op->child, fds, max, timeout_ms);
}

static int
local_advance(void *vop)
{
	struct local_op *op = vop;
	return child_advance(op->child);
}

static void
local_cancel(void *vop)
{
	struct local_op *op = vop;
	child_stop(op->child);
}

static void
local_finish(void *vop, struct exec_result *res)
{
	struct local_op *op = vop;
	struct child_result cr;

	exec_pgid_remove(op->ctx, child_pid(op->child));
	child_finish(op->child, &cr);
	res->duration_ms = cr.duration_ms;
	res->out = cr.out;
	res->err = cr.err;
	buf_init(&cr.out);
	buf_init(&cr.err);
	switch (cr.status) {
	case CHILD_EXITED:
		res->status = EXEC_DONE;
		res->exit_code = cr.exit_code;
		break;
	case CHILD_SIGNALED:
		res->status = EXEC_DONE;
		res->term_signal = cr.term_signal;
		break;
	case CHILD_TIMEOUT:
		res->status = EXEC_TIMEOUT;
		break;
	case CHILD_CANCELLED:
		res->status = EXEC_CANCELLED;
		break;
	case CHILD_FAILED:
		res->status = EXEC_ERROR;
		res->error = cr.error;
		cr.error = NULL;
		break;
	}
	child_result_release(&cr);
	free(op->env);
	free(op->host_var);
	free(op);
}

static const struct exec_ops local_ops = {
	.name = "local",
	.start = local_start,
	.wait_on = local_wait_on,
	.advance = local_advance,
	.cancel = local_cancel,
	.finish = local_finish,
};

void
exec_local_init(struct exec_ctx *ctx)
{
	struct local_backend *b = xcalloc(1, sizeof(*b));

	pthread_mutex_init(&b->lock, NULL);
	exec_ctx_set_backend(ctx, EXEC_BACKEND_LOCAL, b, backend_destroy);
	exec_register(ctx, ACT_RUN, false, &local_ops);
}
