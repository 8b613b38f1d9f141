/*
 * sshrun - a test driver for the SSH executors on their own: run one script
 * (or transfer one file) on ADDR:PORT, optionally through jump hosts, with
 * a fresh exec ctx, the way the engine does, and print what came back.
 *
 *   sshrun [-a] [-k KNOWN_HOSTS] [-i KEY] [-t TIMEOUT_MS] [-J ADDR:PORT]...
 *          [-n N] [-u|-d] ADDR PORT SCRIPT|SRC [DEST]
 *
 * -n N runs the action N times in the same ctx (connection reuse); -u / -d
 * upload / download SRC to DEST. Exit: the command's status, or 100 + the
 * exec status when it did not run to its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"

static void
on_output(void *ctx, int fd, const char *data, size_t len)
{
	(void)ctx;
	fwrite(data, 1, len, fd == 2 ? stderr : stdout);
	fflush(fd == 2 ? stderr : stdout);
}

int
main(int argc, char **argv)
{
	struct exec_ctx_opts eo = { false, false };
	struct exec_target hops[8], t;
	size_t n_hops = 0;
	const char *known = NULL, *key = NULL;
	enum action_kind kind = ACT_RUN;
	int64_t timeout = 0;
	int opt, times = 1, rc = 0;

	memset(hops, 0, sizeof(hops));
	memset(&t, 0, sizeof(t));
	while ((opt = getopt(argc, argv, "ak:i:t:J:n:ud")) != -1) {
		switch (opt) {
		case 'a': eo.accept_new_host_keys = true; break;
		case 'k': known = optarg; break;
		case 'i': key = optarg; break;
		case 't': timeout = atoll(optarg); break;
		case 'n': times = atoi(optarg); break;
		case 'u': kind = ACT_UPLOAD; break;
		case 'd': kind = ACT_DOWNLOAD; break;
		case 'J':
			if (n_hops < 8 && strrchr(optarg, ':')) {
				char *colon = strrchr(optarg, ':');
				hops[n_hops].name = optarg;
				hops[n_hops].address = strndup(optarg, (size_t)(colon - optarg));
				hops[n_hops].port = atoi(colon + 1);
				hops[n_hops].known_hosts = known;
				hops[n_hops].user = getenv("SSH_USER");
				if (n_hops > 0)
					hops[n_hops].via = &hops[n_hops - 1];
				n_hops++;
			}
			break;
		default: return 2;
		}
	}
	if (argc - optind != (kind == ACT_RUN ? 3 : 4))
		return 2;
	t.name = "target";
	t.address = argv[optind];
	t.port = atoi(argv[optind + 1]);
	t.user = getenv("SSH_USER");
	t.known_hosts = known;
	t.key_file = key;
	t.via = n_hops ? &hops[n_hops - 1] : NULL;
	struct exec_ctx *ctx = exec_ctx_new(&eo);
	for (int i = 0; i < times; i++) {
		struct exec_req req;
		struct exec_result res;
		struct buf d = BUF_INIT;
		memset(&req, 0, sizeof(req));
		req.kind = kind;
		req.target = &t;
		req.script = argv[optind + 2];
		req.xfer.src = argv[optind + 2];
		req.xfer.dest = kind == ACT_RUN ? NULL : argv[optind + 3];
		req.xfer.mode = -1;
		req.timeout_ms = timeout;
		req.on_output = on_output;
		exec_action(ctx, &req, &res);
		if (kind != ACT_RUN)
			fputs(buf_str(&res.out), stdout);
		exec_describe(&res, timeout, &d);
		fprintf(stderr, "sshrun: %s\n", buf_str(&d));
		buf_release(&d);
		rc = res.status == EXEC_DONE ? (res.term_signal ? 128 + res.term_signal : res.exit_code) : 100 + (int)res.status;
		exec_result_release(&res);
	}
	exec_ctx_free(ctx);
	for (size_t i = 0; i < n_hops; i++)
		free((char *)hops[i].address);
	return rc;
}
