/* exec-local.c - shell commands on this machine, through child.c. */
#include <string.h>

#include "exec.h"
#include "util.h"

void exec_local_run(const struct exec_req *req, struct exec_result *res);

void
exec_local_run(const struct exec_req *req, struct exec_result *res)
{
	static const char *const sh[] = { "sh", "-s", NULL };
	static const char *const sudo_sh[] = { "sudo", "-n", "sh", "-s", NULL };
	struct child_opts co;
	struct child_result cr;

	memset(&co, 0, sizeof(co));
	co.argv = req->sudo ? sudo_sh : sh;
	co.stdin_data = req->script;
	co.stdin_len = strlen(req->script);
	co.env_add = req->env;
	co.workdir = req->workdir;
	co.timeout_ms = req->timeout_ms;
	co.cancel = req->cancel;
	co.running_pgid = req->running_pgid;
	co.on_output = req->on_output;
	co.ctx = req->ctx;
	child_run(&co, &cr);

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
}
