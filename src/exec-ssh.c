/*
 * exec-ssh.c - shell commands on SSH hosts (see exec-ssh.h).
 *
 * The exec command is the fixed lifeline wrapper (lifeline.c); the script,
 * environment, directory and sudo travel framed on the channel's stdin,
 * which then stays open as the lifeline: sending EOF on it (timeout,
 * cancel) or losing the connection makes the wrapper stop the remote
 * process group. stdout and stderr are read in the same loop as stdin is
 * written, so neither side can stall the other.
 */
#include "exec.h"
#include "ssh-conn.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "lifeline.h"
#include "util.h"

#define CHUNK (32 * 1024)
/* After the lifeline is cut: the wrapper's SIGKILL comes 5 s after SIGTERM. */
#define STOP_WAIT_MS (CHILD_KILL_GRACE_MS + 3000)
/* Closing a channel whose command ended. */
#define CLOSE_WAIT_MS 2000

/* Keep the last max bytes of a stream. */
static void
tail_keep(struct buf *b, const char *data, size_t len)
{
	const size_t max = CHILD_TAIL_MAX;

	if (len >= max) {
		buf_reset(b);
		buf_add(b, data + len - max, max);
		return;
	}
	if (b->len + len > max)
		buf_consume(b, b->len + len - max);
	buf_add(b, data, len);
}

static int
signal_number(const char *name)
{
	for (int s = 1; s < NSIG; s++) {
		const char *abbrev = sigabbrev_np(s);
		if (abbrev && strcmp(abbrev, name) == 0)
			return s;
	}
	return 0;
}

struct run_state {
	struct ssh_conn *c;
	LIBSSH2_CHANNEL *ch;
	const struct exec_req *req;
	struct exec_result *res;
	struct buf frame;
	size_t in_off;
	char *chunk;
	bool eof[2];
};

/* Open a session channel and start the wrapper on it (c->lock held). 0, or an rc / -EAGAIN-with-wait-over. */
static int
channel_start(struct run_state *st, const struct ssh_wait *w, enum ssh_wait_result *over)
{
	const char *cmd = lifeline_command();
	int rc;

	*over = SSH_WAIT_READY;
	for (;;) {
		st->ch = libssh2_channel_open_session(st->c->session);
		if (st->ch)
			break;
		rc = libssh2_session_last_errno(st->c->session);
		if (rc != LIBSSH2_ERROR_EAGAIN)
			return rc;
		if ((*over = ssh_conn_wait(st->c, w)) != SSH_WAIT_READY)
			return LIBSSH2_ERROR_EAGAIN;
	}
	while ((rc = libssh2_channel_process_startup(st->ch, "exec", 4, cmd, (unsigned)strlen(cmd))) ==
	    LIBSSH2_ERROR_EAGAIN)
		if ((*over = ssh_conn_wait(st->c, w)) != SSH_WAIT_READY)
			return LIBSSH2_ERROR_EAGAIN;
	return rc;
}

/* Read what is there on one stream. Returns true on progress; rc < 0 (not EAGAIN) in *err_rc. */
static bool
read_stream(struct run_state *st, int stream, int *err_rc)
{
	ssize_t n = libssh2_channel_read_ex(st->ch, stream, st->chunk, CHUNK);

	if (n > 0) {
		tail_keep(stream ? &st->res->err : &st->res->out, st->chunk, (size_t)n);
		if (st->req->on_output) {
			/* The callback may take other locks: never call it holding the session. */
			pthread_mutex_unlock(&st->c->lock);
			st->req->on_output(st->req->ctx, stream ? 2 : 1, st->chunk, (size_t)n);
			pthread_mutex_lock(&st->c->lock);
		}
		return true;
	}
	if (n == 0 || n == LIBSSH2_ERROR_EAGAIN)
		return false;
	*err_rc = (int)n;
	return false;
}

/* Close the channel and collect the exit status (c->lock held). */
static void
channel_finish(struct run_state *st)
{
	struct ssh_wait w = { now_ms() + CLOSE_WAIT_MS, -1 };
	char *sig = NULL;
	size_t siglen = 0;

	while (libssh2_channel_close(st->ch) == LIBSSH2_ERROR_EAGAIN && ssh_conn_wait(st->c, &w) == SSH_WAIT_READY)
		;
	while (libssh2_channel_wait_closed(st->ch) == LIBSSH2_ERROR_EAGAIN && ssh_conn_wait(st->c, &w) == SSH_WAIT_READY)
		;
	st->res->exit_code = libssh2_channel_get_exit_status(st->ch);
	libssh2_channel_get_exit_signal(st->ch, &sig, &siglen, NULL, NULL, NULL, NULL);
	if (sig && siglen) {
		st->res->term_signal = signal_number(sig);
		if (st->res->term_signal == 0)
			st->res->term_signal = SIGKILL;
		st->res->exit_code = -1;
	}
	/* libssh2 allocated sig with the session's allocator: plain malloc. */
	free(sig);
}

static void
channel_free(struct run_state *st)
{
	struct ssh_wait w = { now_ms() + CLOSE_WAIT_MS, -1 };

	int rc;

	if (st->ch == NULL)
		return;
	while ((rc = libssh2_channel_free(st->ch)) == LIBSSH2_ERROR_EAGAIN &&
	    ssh_conn_wait(st->c, &w) == SSH_WAIT_READY)
		;
	/*
	 * A server that does not answer the close (frozen, or gone without a
	 * word) leaves the channel to the session: the connection is not used
	 * again, and closing it frees the channel (session_close).
	 */
	if (rc == LIBSSH2_ERROR_EAGAIN)
		st->c->dead = true;
	st->ch = NULL;
}

/* Pump stdin, stdout and stderr until the command ends, stopping it on timeout/cancel. */
static void
pump(struct run_state *st, const struct ssh_wait *w)
{
	struct ssh_wait stop = { 0, -1 };
	bool stopping = false;
	enum exec_status stop_status = EXEC_DONE;

	for (;;) {
		bool progress = false;
		int err_rc = 0;
		enum ssh_wait_result over;

		if (st->in_off < st->frame.len) {
			ssize_t n = libssh2_channel_write(st->ch, st->frame.data + st->in_off, st->frame.len - st->in_off);
			if (n > 0) {
				st->in_off += (size_t)n;
				progress = true;
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
				err_rc = (int)n;
			}
		}
		for (int s = 0; s < 2 && err_rc == 0; s++)
			if (read_stream(st, s, &err_rc))
				progress = true;
		if (err_rc) {
			st->res->status = EXEC_ERROR;
			st->res->error = ssh_conn_error(st->c, err_rc,
			    stopping ? "while stopping the command" : "while the command ran");
			return;
		}
		if (!progress && libssh2_channel_eof(st->ch)) {
			channel_finish(st);
			st->res->status = stopping ? stop_status : EXEC_DONE;
			return;
		}
		if (progress)
			continue;
		over = ssh_conn_wait(st->c, stopping ? &stop : w);
		if (over == SSH_WAIT_READY)
			continue;
		if (stopping) {
			/* The wrapper did not finish in time: give up on it. */
			st->res->status = stop_status;
			if (stop_status == EXEC_TIMEOUT && st->res->error == NULL)
				st->res->error = xasprintf("%s: no answer from the server to stopping the command",
				    st->c->where);
			return;
		}
		/* Cut the lifeline: the wrapper stops the process group. */
		stopping = true;
		stop_status = over == SSH_WAIT_TIMEOUT ? EXEC_TIMEOUT : EXEC_CANCELLED;
		stop.deadline = now_ms() + STOP_WAIT_MS;
		st->in_off = st->frame.len;
		{
			struct ssh_wait ew = { stop.deadline, -1 };
			while (libssh2_channel_send_eof(st->ch) == LIBSSH2_ERROR_EAGAIN &&
			    ssh_conn_wait(st->c, &ew) == SSH_WAIT_READY)
				;
		}
	}
}

static void
fail_wait(struct exec_result *res, enum ssh_wait_result over, char *err)
{
	if (over == SSH_WAIT_CANCELLED) {
		res->status = EXEC_CANCELLED;
		free(err);
	} else if (over == SSH_WAIT_TIMEOUT) {
		/* err (if any) says what was waited for: connecting, the handshake */
		res->status = EXEC_TIMEOUT;
		res->error = err;
	} else {
		res->status = EXEC_ERROR;
		res->error = err;
	}
}

/*
 * Run req->script on req->target: connect (or reuse the host's session),
 * start the wrapper, pump until it ends. Blocks the calling worker thread,
 * but every wait in it is bounded by the action's deadline and wakes on its
 * cancel token (ssh_conn_wait polls the token's fd with the socket).
 */
static void
ssh_run(struct ssh_pool *pool, const struct exec_req *req, struct exec_result *res)
{
	int64_t start = now_ms();
	struct ssh_wait w = { req->timeout_ms > 0 ? start + req->timeout_ms : 0,
		req->cancel ? cancel_fd(req->cancel) : -1 };
	struct run_state st;
	enum ssh_wait_result over = SSH_WAIT_READY;
	char *err = NULL;
	int rc = 0;

	memset(&st, 0, sizeof(st));
	st.req = req;
	st.res = res;
	res->exit_code = -1;
	/* One retry: a session that dropped while idle is re-opened, once. */
	for (int attempt = 0; attempt < 2; attempt++) {
		st.c = ssh_pool_get(pool, req->target, &w, &err);
		if (st.c == NULL) {
			over = cancel_fired(req->cancel) ? SSH_WAIT_CANCELLED :
			    w.deadline && now_ms() >= w.deadline ? SSH_WAIT_TIMEOUT : SSH_WAIT_READY;
			fail_wait(res, over, err);
			goto done;
		}
		pthread_mutex_lock(&st.c->lock);
		rc = channel_start(&st, &w, &over);
		if (rc == 0)
			break;
		channel_free(&st);
		if (rc == LIBSSH2_ERROR_EAGAIN) {
			err = over == SSH_WAIT_TIMEOUT
			    ? xasprintf("%s: no answer from the server to starting the command", st.c->where) : NULL;
			pthread_mutex_unlock(&st.c->lock);
			fail_wait(res, over, err);
			goto done;
		}
		err = ssh_conn_error(st.c, rc, "cannot start the command");
		pthread_mutex_unlock(&st.c->lock);
		if (!st.c->dead || attempt == 1) {
			fail_wait(res, SSH_WAIT_READY, err);
			goto done;
		}
		free(err);
		err = NULL;
	}
	lifeline_frame(&st.frame, req->script, req->env, req->workdir, req->sudo);
	st.chunk = xmalloc(CHUNK);
	pump(&st, &w);
	channel_free(&st);
	pthread_mutex_unlock(&st.c->lock);
done:
	lifeline_wipe(&st.frame);
	free(st.chunk);
	res->duration_ms = now_ms() - start;
}

/*
 * The ops: the whole action runs inside start (see ssh_run), so wait_on has
 * nothing to offer and advance finishes at once. A session is thereby only
 * ever used under its connection's lock, from the worker thread that holds
 * it, and a jump host's tunnels are pumped by the pool's own threads.
 */
static int
ssh_start(struct exec_ctx *ctx, const struct exec_req *req, void **opp, char **err)
{
	struct ssh_op *op = xcalloc(1, sizeof(*op));

	ssh_run(exec_ssh_pool(ctx), req, &op->res);
	*opp = op;
	return 0;
}

size_t
ssh_op_wait_on(void *op, struct pollfd *fds, size_t max, int64_t *timeout_ms)
{
	*timeout_ms = 0;
	return 0;
}

int
ssh_op_advance(void *op)
{
	return 1;
}

void
ssh_op_cancel(void *op)
{
}

void
ssh_op_finish(void *vop, struct exec_result *res)
{
	struct ssh_op *op = vop;

	*res = op->res;
	free(op);
}

static const struct exec_ops ssh_ops = {
	.name = "ssh",
	.start = ssh_start,
	.wait_on = ssh_op_wait_on,
	.advance = ssh_op_advance,
	.cancel = ssh_op_cancel,
	.finish = ssh_op_finish,
};

static void
pool_destroy(void *pool)
{
	ssh_pool_free(pool);
}

/* The run's connection pool, made on first use by whichever SSH executor registers first. */
struct ssh_pool *
exec_ssh_pool(struct exec_ctx *ctx)
{
	struct ssh_pool *pool = exec_ctx_backend(ctx, EXEC_BACKEND_SSH);
	struct ssh_pool_opts po;

	if (pool == NULL) {
		po.accept_new_host_keys = exec_ctx_opts(ctx)->accept_new_host_keys;
		pool = ssh_pool_create(&po);
		exec_ctx_set_backend(ctx, EXEC_BACKEND_SSH, pool, pool_destroy);
	}
	return pool;
}

void
exec_ssh_init(struct exec_ctx *ctx)
{
	exec_ssh_pool(ctx);
	exec_register(ctx, ACT_RUN, true, &ssh_ops);
}
