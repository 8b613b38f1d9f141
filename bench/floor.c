/*
 * floor.c - the least a journaled local runner must do per step, as a
 * yardstick for `migrate run`: for each of N steps, fork/exec `sh -s`,
 * feed it the command on stdin, wait for it, and append two records to a
 * journal file (a start and an end line, each followed by fdatasync, as
 * migrate's journal does). Prints the elapsed wall time in seconds.
 *
 *   floor N JOURNAL [COMMAND]     (COMMAND defaults to "true")
 *
 * Not part of migrate; built by bench/run-overhead.sh with cc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Append one line and make it durable, like a journal record. */
static void
record(int fd, const char *type, long step)
{
	char line[256];
	int n = snprintf(line, sizeof(line),
	    "{\"seq\":%ld,\"type\":\"%s\",\"unit\":\"s%ld\",\"ts\":\"2026-01-01T00:00:00.000Z\",\"sha256\":"
	    "\"0000000000000000000000000000000000000000000000000000000000000000\"}\n",
	    step * 2 + (type[5] == 'e'), type, step);

	if (n < 0 || (size_t)n >= sizeof(line))
		die("record too long");
	if (write(fd, line, (size_t)n) != n)
		die("write");
	if (fdatasync(fd) < 0)
		die("fdatasync");
}

/* Run `sh -s` with cmd on its stdin and wait for it; returns its status. */
static int
run_sh(const char *cmd)
{
	int in[2], status;
	pid_t pid;
	size_t len = strlen(cmd);

	if (pipe2(in, O_CLOEXEC) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(in[0], 0);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execl("/bin/sh", "sh", "-s", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	if (write(in[1], cmd, len) != (ssize_t)len || write(in[1], "\n", 1) != 1)
		die("write to sh");
	close(in[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	return status;
}

int
main(int argc, char **argv)
{
	long n;
	int fd;
	double t0;
	const char *cmd = argc > 3 ? argv[3] : "true";

	if (argc < 3 || (n = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: floor N JOURNAL [COMMAND]\n");
		return 2;
	}
	fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		die(argv[2]);
	t0 = now();
	for (long i = 0; i < n; i++) {
		record(fd, "unit_start", i);
		if (run_sh(cmd) != 0) {
			fprintf(stderr, "floor: step %ld failed\n", i);
			return 1;
		}
		record(fd, "unit_end", i);
	}
	printf("%.6f\n", now() - t0);
	close(fd);
	return 0;
}
