#include "exec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "util.h"

/* exec-local.c and exec-tcp.c */
void exec_local_run(const struct exec_req *req, struct exec_result *res);
void exec_tcp_connect(const struct exec_req *req, struct exec_result *res);

void
exec_action(const struct exec_req *req, struct exec_result *res)
{
	memset(res, 0, sizeof(*res));
	res->exit_code = -1;
	switch (req->kind) {
	case ACT_RUN:
		exec_local_run(req, res);
		break;
	case ACT_TCP:
		exec_tcp_connect(req, res);
		break;
	default:
		res->status = EXEC_ERROR;
		res->error = xstrdup("this kind of action is not available in this release");
		break;
	}
}

void
exec_result_release(struct exec_result *res)
{
	buf_release(&res->out);
	buf_release(&res->err);
	free(res->error);
	res->error = NULL;
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
		break;
	case EXEC_CANCELLED:
		buf_adds(out, "stopped");
		break;
	case EXEC_ERROR:
		buf_adds(out, res->error ? res->error : "could not run");
		break;
	}
}
