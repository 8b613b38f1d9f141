/*
 * sshrun - a test driver for the SSH modules on their own: run one script
 * on ADDR:PORT (optionally through jump hosts) with the run's connection
 * pool, the way the engine does, and print what came back.
 *
 *   sshrun [-a] [-k KNOWN_HOSTS] [-i KEY] [-t TIMEOUT_MS] [-J ADDR:PORT]... [-n N] ADDR PORT SCRIPT
 *
 * -n N runs the script N times on the same pool (connection reuse).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec-ssh.h"

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
	struct ssh_pool_opts po = { false };
	struct ssh_target hops[8], t;
	size_t n_hops = 0;
	const char *known = NULL, *key = NULL;
	int64_t timeout = 0;
	int opt, times = 1, rc = 0;

	memset(hops, 0, sizeof(hops));
	memset(&t, 0, sizeof(t));
	while ((opt = getopt(argc, argv, "ak:i:t:J:n:")) != -1) {
		switch (opt) {
		case 'a': po.accept_new_host_keys = true; break;
		case 'k': known = optarg; break;
		case 'i': key = optarg; break;
		case 't': timeout = atoll(optarg); break;
		case 'n': times = atoi(optarg); break;
		case 'J':
			if (n_hops < 8) {
				char *colon = strrchr(optarg, ':');
				hops[n_hops].name = optarg;
				hops[n_hops].address = strndup(optarg, (size_t)(colon - optarg));
				hops[n_hops].port = atoi(colon + 1);
				hops[n_hops].known_hosts = known;
				if (n_hops > 0)
					hops[n_hops].via = &hops[n_hops - 1];
				n_hops++;
			}
			break;
		default: return 2;
		}
	}
	if (argc - optind != 3)
		return 2;
	t.name = "target";
	t.address = argv[optind];
	t.port = atoi(argv[optind + 1]);
	t.known_hosts = known;
	t.key_file = key;
	t.via = n_hops ? &hops[n_hops - 1] : NULL;
	struct ssh_pool *pool = ssh_pool_create(&po);
	for (int i = 0; i < times; i++) {
		struct ssh_run_req req;
		struct exec_result res;
		memset(&req, 0, sizeof(req));
		memset(&res, 0, sizeof(res));
		req.script = argv[optind + 2];
		req.timeout_ms = timeout;
		req.cancel_fd = -1;
		req.on_output = on_output;
		exec_ssh_run(pool, &t, &req, &res);
		struct buf d = BUF_INIT;
		exec_describe(&res, timeout, &d);
		fprintf(stderr, "sshrun: %s\n", buf_str(&d));
		buf_release(&d);
		rc = res.status == EXEC_DONE ? (res.term_signal ? 128 + res.term_signal : res.exit_code) : 100 + (int)res.status;
		exec_result_release(&res);
	}
	ssh_pool_free(pool);
	for (size_t i = 0; i < n_hops; i++)
		free((char *)hops[i].address);
	return rc;
}
