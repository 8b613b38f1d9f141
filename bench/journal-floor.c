/*
 * journal-floor.c - the floor of a journaled run: N units, each two
 * records (start, end) of about the journal's size appended to one file
 * and made durable with fdatasync, as migrate's journal does. For bench/http-probes.sh.
 *
 *   journal-floor FILE N
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	char rec[512];
	int fd, n;

	if (argc != 3 || (n = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: journal-floor FILE N\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		for (int r = 0; r < 2; r++) {
			int len = snprintf(rec, sizeof(rec),
			    "{\"seq\":%d,\"type\":\"%s\",\"unit\":\"probe[%d]\",\"time\":\"2026-01-01T00:00:00.000Z\","
			    "\"status\":\"done\",\"duration_ms\":1,\"sum\":\"0123456789abcdef\"}\n",
			    2 * i + r, r ? "unit_end" : "unit_start", i);
			if (write(fd, rec, (size_t)len) != len || fdatasync(fd) != 0) {
				perror("write");
				return 1;
			}
		}
	}
	close(fd);
	return 0;
}
