/* exec-tcp.c - tcp: HOST:PORT probes: does a connection open within the timeout? */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec.h"
#include "util.h"

void exec_tcp_init(struct exec_ctx *ctx);

struct tcp_op {
	const struct exec_req *req;
	struct addrinfo *list;
	struct addrinfo *ai;     /* the address being tried */
	int fd;                  /* -1: none in progress */
	int64_t start, deadline;
	int why;                 /* errno of the last failure */
	int gai;                 /* getaddrinfo's error; 0: resolved */
	bool connected, cancelled, done;
};

static void
tcp_close(struct tcp_op *op)
{
	if (op->fd >= 0) {
		close(op->fd);
		op->fd = -1;
	}
}

/* Begin connecting to the next address; finishes the op when none is left. */
static void
tcp_next(struct tcp_op *op)
{
	tcp_close(op);
	for (; op->ai; op->ai = op->ai->ai_next) {
		const struct addrinfo *ai = op->ai;
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			op->why = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			close(fd);
			op->connected = op->done = true;
			return;
		}
		if (errno == EINPROGRESS) {
			op->fd = fd;
			op->ai = op->ai->ai_next;
			return;
		}
		op->why = errno;
		close(fd);
	}
	op->done = true;
}

static int
tcp_start(struct exec_ctx *ctx, const struct exec_req *req, void **opp, char **err)
{
	const char *colon = strrchr(req->tcp, ':');
	struct tcp_op *op;
	struct addrinfo hints;
	char *host;
	int gai;

	(void)ctx;
	if (colon == NULL || colon == req->tcp || colon[1] == '\0') {
		*err = xasprintf("tcp probe wants HOST:PORT, not '%s'", req->tcp);
		return -1;
	}
	op = xcalloc(1, sizeof(*op));
	op->req = req;
	op->fd = -1;
	op->start = now_ms();
	op->deadline = op->start + (req->timeout_ms > 0 ? req->timeout_ms : 10000);
	host = xstrndup(req->tcp, (size_t)(colon - req->tcp));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(host, colon + 1, &hints, &op->list);
	if (gai != 0) {
		op->list = NULL;
		op->gai = gai;
		op->done = true;
		*opp = op;
		free(host);
		return 0;
	}
	free(host);
	op->ai = op->list;
	tcp_next(op);
	*opp = op;
	return 0;
}

static size_t
tcp_wait_on(void *vop, struct pollfd *fds, size_t max, int64_t *timeout_ms)
{
	struct tcp_op *op = vop;
	int64_t left = op->deadline - now_ms();

	if (left < 0)
		left = 0;
	if (*timeout_ms < 0 || left < *timeout_ms)
		*timeout_ms = left;
	if (op->fd < 0 || max == 0)
		return 0;
	fds[0].fd = op->fd;
	fds[0].events = POLLOUT;
	fds[0].revents = 0;
	return 1;
}

static int
tcp_advance(void *vop)
{
	struct tcp_op *op = vop;
	struct pollfd p;
	int err = 0;
	socklen_t len = sizeof(err);

	if (op->done)
		return 1;
	if (op->cancelled || now_ms() >= op->deadline) {
		op->why = ETIMEDOUT;
		tcp_close(op);
		op->done = true;
		return 1;
	}
	p.fd = op->fd;
	p.events = POLLOUT;
	p.revents = 0;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		op->why = err;
		tcp_next(op);
		return op->done;
	}
	tcp_close(op);
	op->connected = op->done = true;
	return 1;
}

static void
tcp_cancel(void *vop)
{
	struct tcp_op *op = vop;
	op->cancelled = true;
}

static void
tcp_finish(void *vop, struct exec_result *res)
{
	struct tcp_op *op = vop;
	const struct exec_req *req = op->req;

	res->status = EXEC_DONE;
	res->exit_code = op->connected ? 0 : 1;
	if (!op->connected) {
		if (op->gai) {
			char *host = xstrndup(req->tcp, (size_t)(strrchr(req->tcp, ':') - req->tcp));
			res->error = xasprintf("cannot resolve '%s': %s", host, gai_strerror(op->gai));
			free(host);
		} else {
			if (op->cancelled)
				res->status = EXEC_CANCELLED;
			else if (op->why == ETIMEDOUT && now_ms() >= op->deadline)
				res->status = EXEC_TIMEOUT;
			res->error = xasprintf("cannot connect to %s: %s", req->tcp, strerror(op->why));
			buf_adds(&res->err, res->error);
		}
	}
	res->duration_ms = now_ms() - op->start;
	tcp_close(op);
	if (op->list)
		freeaddrinfo(op->list);
	free(op);
}

static const struct exec_ops tcp_ops = {
	.name = "tcp",
	.start = tcp_start,
	.wait_on = tcp_wait_on,
	.advance = tcp_advance,
	.cancel = tcp_cancel,
	.finish = tcp_finish,
};

void
exec_tcp_init(struct exec_ctx *ctx)
{
	/* a tcp probe connects from this machine, whatever host it names */
	exec_register(ctx, ACT_TCP, false, &tcp_ops);
}
