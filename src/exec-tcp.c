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

void exec_tcp_connect(const struct exec_req *req, struct exec_result *res);

/* Try one address until deadline; 0 connected, -1 failed (errno-ish code in *why). */
static int
try_connect(const struct addrinfo *ai, int64_t deadline, volatile sig_atomic_t *cancel, int *why)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	int rc = -1;

	if (fd < 0) {
		*why = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		rc = 0;
		goto cleanup;
	}
	if (errno != EINPROGRESS) {
		*why = errno;
		goto cleanup;
	}
	for (;;) {
		struct pollfd p = { fd, POLLOUT, 0 };
		int64_t left = deadline - now_ms();
		int err = 0;
		socklen_t len = sizeof(err);
		int n;

		if (left <= 0 || (cancel && *cancel)) {
			*why = ETIMEDOUT;
			goto cleanup;
		}
		n = poll(&p, 1, left > 100 ? 100 : (int)left);
		if (n < 0 && errno != EINTR) {
			*why = errno;
			goto cleanup;
		}
		if (n <= 0)
			continue;
		getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err) {
			*why = err;
			goto cleanup;
		}
		rc = 0;
		goto cleanup;
	}
cleanup:
	close(fd);
	return rc;
}

void
exec_tcp_connect(const struct exec_req *req, struct exec_result *res)
{
	const char *colon = strrchr(req->tcp, ':');
	int64_t start = now_ms();
	int64_t deadline = start + (req->timeout_ms > 0 ? req->timeout_ms : 10000);
	struct addrinfo hints, *list = NULL;
	char *host = NULL;
	int why = 0, gai;

	res->status = EXEC_DONE;
	if (colon == NULL || colon == req->tcp || colon[1] == '\0') {
		res->status = EXEC_ERROR;
		res->error = xasprintf("tcp probe wants HOST:PORT, not '%s'", req->tcp);
		return;
	}
	host = xstrndup(req->tcp, (size_t)(colon - req->tcp));
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(host, colon + 1, &hints, &list);
	if (gai != 0) {
		res->exit_code = 1;
		res->error = xasprintf("cannot resolve '%s': %s", host, gai_strerror(gai));
		goto cleanup;
	}
	res->exit_code = 1;
	for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
		if (try_connect(ai, deadline, req->cancel, &why) == 0) {
			res->exit_code = 0;
			break;
		}
	}
	if (res->exit_code != 0) {
		if (req->cancel && *req->cancel)
			res->status = EXEC_CANCELLED;
		else if (why == ETIMEDOUT && now_ms() >= deadline)
			res->status = EXEC_TIMEOUT;
		res->error = xasprintf("cannot connect to %s: %s", req->tcp, strerror(why));
		buf_adds(&res->err, res->error);
	}
cleanup:
	res->duration_ms = now_ms() - start;
	if (list)
		freeaddrinfo(list);
	free(host);
}
