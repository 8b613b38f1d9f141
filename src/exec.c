/*
 * exec.c - the executor registry, the per-run exec ctx and the one loop
 * that drives an action (see exec.h).
 */
#include "exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "util.h"

/* Each backend registers its ops (and sets up its state slot) in a new ctx. */
void exec_local_init(struct exec_ctx *ctx);
void exec_tcp_init(struct exec_ctx *ctx);
void exec_ssh_init(struct exec_ctx *ctx);
void exec_sftp_init(struct exec_ctx *ctx);
void exec_http_init(struct exec_ctx *ctx);

static void (*const backend_inits[])(struct exec_ctx *) = {
	exec_local_init,
	exec_tcp_init,
	exec_ssh_init,
	exec_sftp_init,
	exec_http_init,
};

#define N_KINDS (ACT_PROMETHEUS + 1)

struct exec_ctx {
	struct exec_ctx_opts opts;
	const struct exec_ops *ops[N_KINDS][2];   /* [kind][remote] */
	void *backend[EXEC_BACKENDS];
	void (*destroy[EXEC_BACKENDS])(void *);
	pthread_mutex_t pgid_lock;
	volatile sig_atomic_t pgids[EXEC_MAX_PGIDS];   /* 0: free slot */
};

const struct exec_target exec_target_local = {
	.name = "local", .address = "localhost", .sudo = -1,
};

bool
exec_target_is_local(const struct exec_target *t)
{
	return t == NULL || t == &exec_target_local || strcmp(t->name, "local") == 0;
}

struct exec_ctx *
exec_ctx_new(const struct exec_ctx_opts *opts)
{
	struct exec_ctx *ctx = xcalloc(1, sizeof(*ctx));

	if (opts)
		ctx->opts = *opts;
	pthread_mutex_init(&ctx->pgid_lock, NULL);
	for (size_t i = 0; i < ARRAY_LEN(backend_inits); i++)
		backend_inits[i](ctx);
	/* tests only: remote `run` actions run here (exec-local.c sets MIGRATE_HOST) */
	if (ctx->opts.test_local_hosts)
		ctx->ops[ACT_RUN][1] = ctx->ops[ACT_RUN][0];
	return ctx;
}

void
exec_ctx_free(struct exec_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (int b = EXEC_BACKENDS; b-- > 0;)
		if (ctx->destroy[b] && ctx->backend[b])
			ctx->destroy[b](ctx->backend[b]);
	pthread_mutex_destroy(&ctx->pgid_lock);
	free(ctx);
}

const struct exec_ctx_opts *
exec_ctx_opts(const struct exec_ctx *ctx)
{
	return &ctx->opts;
}

void
exec_register(struct exec_ctx *ctx, enum action_kind kind, bool remote, const struct exec_ops *ops)
{
	if ((int)kind >= 0 && kind < N_KINDS)
		ctx->ops[kind][remote ? 1 : 0] = ops;
}

bool
exec_available(const struct exec_ctx *ctx, enum action_kind kind, bool remote)
{
	return (int)kind >= 0 && kind < N_KINDS && ctx->ops[kind][remote ? 1 : 0] != NULL;
}

const struct exec_ops *
exec_lookup(const struct exec_ctx *ctx, enum action_kind kind, const struct exec_target *t)
{
	bool remote = !exec_target_is_local(t);

	if ((int)kind < 0 || kind >= N_KINDS)
		return NULL;
	return ctx->ops[kind][remote ? 1 : 0];
}

void
exec_ctx_set_backend(struct exec_ctx *ctx, enum exec_backend b, void *state, void (*destroy)(void *))
{
	ctx->backend[b] = state;
	ctx->destroy[b] = destroy;
}

void *
exec_ctx_backend(const struct exec_ctx *ctx, enum exec_backend b)
{
	return ctx->backend[b];
}

void
exec_pgid_add(struct exec_ctx *ctx, pid_t pgid)
{
	pthread_mutex_lock(&ctx->pgid_lock);
	for (size_t i = 0; i < EXEC_MAX_PGIDS; i++) {
		if (ctx->pgids[i] == 0) {
			ctx->pgids[i] = (sig_atomic_t)pgid;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->pgid_lock);
}

void
exec_pgid_remove(struct exec_ctx *ctx, pid_t pgid)
{
	pthread_mutex_lock(&ctx->pgid_lock);
	for (size_t i = 0; i < EXEC_MAX_PGIDS; i++) {
		if (ctx->pgids[i] == (sig_atomic_t)pgid) {
			ctx->pgids[i] = 0;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->pgid_lock);
}

void
exec_kill_groups(const struct exec_ctx *ctx)
{
	if (ctx == NULL)
		return;
	for (size_t i = 0; i < EXEC_MAX_PGIDS; i++) {
		pid_t pg = (pid_t)ctx->pgids[i];
		if (pg > 0)
			kill(-pg, SIGKILL);
	}
}

void
exec_action(struct exec_ctx *ctx, const struct exec_req *req, struct exec_result *res)
{
	const struct exec_ops *ops = exec_lookup(ctx, req->kind, req->target);
	bool cancelled = false;
	void *op = NULL;
	char *err = NULL;
	int64_t t0 = now_ms();

	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	if (ops == NULL) {
		res->status = EXEC_ERROR;
		res->error = xstrdup("this kind of action is not available in this release");
		return;
	}
	if (ops->start(ctx, req, &op, &err) < 0) {
		res->status = EXEC_ERROR;
		res->error = err ? err : xstrdup("could not start");
		res->duration_ms = now_ms() - t0;
		return;
	}
	for (;;) {
		struct pollfd fds[EXEC_MAX_FDS + 1];
		int64_t timeout = -1;
		size_t n;

		if (!cancelled && cancel_fired(req->cancel)) {
			ops->cancel(op);
			cancelled = true;
		}
		if (ops->advance(op) == 1)
			break;
		n = ops->wait_on(op, fds, EXEC_MAX_FDS, &timeout);
		if (!cancelled && req->cancel) {
			fds[n].fd = cancel_fd(req->cancel);
			fds[n].events = POLLIN;
			fds[n++].revents = 0;
		}
		if (timeout > 60000)
			timeout = 60000;
		if (poll(fds, (nfds_t)n, (int)timeout) < 0 && errno != EINTR)
			cancel_wait(NULL, 10);
	}
	ops->finish(op, res);
}

void
exec_result_release(struct exec_result *res)
{
	buf_release(&res->out);
	buf_release(&res->err);
	free(res->error);
	free(res->location);
	res->error = NULL;
	res->location = NULL;
}

void
exec_describe(const struct exec_result *res, int64_t timeout_ms, struct buf *out)
{
	switch (res->status) {
	case EXEC_DONE:
		if (res->term_signal)
			buf_addf(out, "killed by signal %d (%s)", res->term_signal, strsignal(res->term_signal));
		else
			buf_addf(out, "exit %d", res->exit_code);
		break;
	case EXEC_TIMEOUT:
		buf_adds(out, "timed out after ");
		duration_format_exact(out, timeout_ms);
		if (res->error)
			buf_addf(out, ": %s", res->error);
		break;
	case EXEC_CANCELLED:
		buf_adds(out, "stopped");
		break;
	case EXEC_ERROR:
		buf_adds(out, res->error ? res->error : "could not run");
		break;
	}
}
