/* lifeline.c - the process-group wrapper of SPEC §5 (see lifeline.h). */
#include "lifeline.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "interp.h"
#include "util.h"

/*
 * Read the header, then exactly N bytes of payload (dd reads one byte at a
 * time so nothing of the lifeline is consumed), start `sh -s` in a new
 * session (setsid: its own process group, whose id is its pid) fed from
 * memory by the printf builtin, and watch the rest of stdin from a
 * subshell: end of file stops the group. Background jobs of a
 * non-interactive shell read /dev/null unless redirected, hence fd 3.
 */
#define WRAPPER_TEXT \
	"read -r n u || exit 125\n" \
	"case $n in \"\"|*[!0-9]*) exit 125;; esac\n" \
	"s=$(dd bs=1 count=\"$n\" 2>/dev/null; echo .)\n" \
	"s=${s%.}\n" \
	"if [ \"$u\" = 1 ]; then set -- sudo -n sh -s; else set -- sh -s; fi\n" \
	"command -v setsid >/dev/null 2>&1 || { echo \"migrate: setsid is not installed on this host\" >&2; exit 126; }\n" \
	"exec 3<&0\n" \
	"printf \"%s\" \"$s\" | setsid \"$@\" 3<&- &\n" \
	"p=$!\n" \
	"s=\n" \
	"( while IFS= read -r _; do :; done; trap \"\" TERM; kill -s TERM -- -\"$p\"; sleep 5; kill -s KILL -- -\"$p\" ) <&3 >/dev/null 2>&1 &\n" \
	"w=$!\n" \
	"exec 3<&- 0</dev/null\n" \
	"wait \"$p\"\n" \
	"r=$?\n" \
	"kill \"$w\" 2>/dev/null\n" \
	"exit \"$r\"\n"

const char LIFELINE_WRAPPER[] = WRAPPER_TEXT;


const char *
lifeline_command(void)
{
	return "exec sh -c '" WRAPPER_TEXT "'";
}

static bool
shell_name(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

void
lifeline_frame(struct buf *out, const char *script, const char *const *env,
    const char *workdir, bool sudo)
{
	struct buf payload = BUF_INIT;

	for (size_t i = 0; env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (eq == NULL || !shell_name(env[i], (size_t)(eq - env[i])))
			continue;
		buf_adds(&payload, "export ");
		buf_add(&payload, env[i], (size_t)(eq - env[i]));
		buf_addc(&payload, '=');
		shell_quote(&payload, eq + 1);
		buf_addc(&payload, '\n');
	}
	if (workdir && *workdir) {
		buf_adds(&payload, "cd ");
		shell_quote(&payload, workdir);
		buf_adds(&payload, " || exit 1\n");
	}
	buf_adds(&payload, script ? script : "");
	buf_addf(out, "%zu %d\n", payload.len, sudo ? 1 : 0);
	buf_add(out, payload.data ? payload.data : "", payload.len);
	lifeline_wipe(&payload);
}

void
lifeline_wipe(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	buf_release(b);
}

/* ---- the lifeline of local commands ---- */

struct lifeline_watch {
	pid_t pid;
	int fd;
};

/* One message: op 'a' (add) or 'r' (remove), and the group. */
struct watch_msg {
	int32_t op;
	int32_t pgid;
};

#define WATCH_TICK_MS 100

/* In the watcher: stop every listed group (SIGTERM, then SIGKILL), then exit. */
static void __attribute__((noreturn))
watch_fire(pid_t *groups, size_t n)
{
	struct timespec tick = { 0, WATCH_TICK_MS * 1000000L };
	size_t left = 0;

	for (size_t i = 0; i < n; i++)
		if (groups[i] > 1 && kill(-groups[i], SIGTERM) == 0)
			left++;
		else
			groups[i] = 0;
	for (int t = 0; left > 0 && t < LIFELINE_GRACE_MS / WATCH_TICK_MS; t++) {
		nanosleep(&tick, NULL);
		left = 0;
		for (size_t i = 0; i < n; i++) {
			if (groups[i] == 0)
				continue;
			/* a zombie still counts: its parent (init, now) reaps it */
			if (kill(-groups[i], 0) < 0 && errno == ESRCH)
				groups[i] = 0;
			else
				left++;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (groups[i] != 0)
			kill(-groups[i], SIGKILL);
	_exit(0);
}

/*
 * The watcher, in a fork of a possibly multi-threaded process: only
 * async-signal-safe calls, no allocation. Every signal stays blocked (the
 * parent blocked them around fork); SIGKILL, how migrate stops it, cannot
 * be.
 */
static void __attribute__((noreturn))
watch_main(int fd)
{
	pid_t groups[LIFELINE_MAX_GROUPS];
	size_t n = 0;
	struct watch_msg m;
	ssize_t r;
	int devnull;

	setsid();
	/* a copy of our memory (secrets included) that never needs to be dumped */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (fd != 3 && dup2(fd, 3) < 0)
		_exit(1);
	/* hold nothing of ours: no other lifeline, not our stdout */
	if (syscall(SYS_close_range, 4U, ~0U, 0U) < 0)
		for (int i = 4; i < 4096; i++)
			close(i);
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0) {
		dup2(devnull, 0);
		dup2(devnull, 1);
		dup2(devnull, 2);
		if (devnull > 2)
			close(devnull);
	}
	for (;;) {
		r = recv(3, &m, sizeof(m), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			watch_fire(groups, n);
		if (r != (ssize_t)sizeof(m) || m.pgid <= 1)
			continue;
		if (m.op == 'a') {
			size_t i;
			for (i = 0; i < n && groups[i] != 0; i++)
				;
			if (i < LIFELINE_MAX_GROUPS) {
				groups[i] = (pid_t)m.pgid;
				if (i == n)
					n++;
			}
		} else {
			for (size_t i = 0; i < n; i++)
				if (groups[i] == (pid_t)m.pgid)
					groups[i] = 0;
			while (n > 0 && groups[n - 1] == 0)
				n--;
		}
	}
}

struct lifeline_watch *
lifeline_watch_new(void)
{
	struct lifeline_watch *w;
	sigset_t all, old;
	int sv[2], saved;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return NULL;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		watch_main(sv[1]);
	}
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		errno = saved;
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->pid = pid;
	w->fd = sv[0];
	return w;
}

static void
watch_send(struct lifeline_watch *w, char op, pid_t pgid)
{
	struct watch_msg m = { op, (int32_t)pgid };
	ssize_t r;

	if (w == NULL)
		return;
	/* a watcher that is gone (killed by someone) leaves the group unwatched */
	do
		r = send(w->fd, &m, sizeof(m), MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
}

void
lifeline_watch_add(struct lifeline_watch *w, pid_t pgid)
{
	watch_send(w, 'a', pgid);
}

void
lifeline_watch_remove(struct lifeline_watch *w, pid_t pgid)
{
	watch_send(w, 'r', pgid);
}

void
lifeline_watch_free(struct lifeline_watch *w)
{
	pid_t r;

	if (w == NULL)
		return;
	/* kill first: closing our end alone would look like our death */
	kill(w->pid, SIGKILL);
	do
		r = waitpid(w->pid, NULL, 0);
	while (r < 0 && errno == EINTR);
	close(w->fd);
	free(w);
}

char *
lifeline_boot_id(void)
{
	char line[128];
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	size_t n;

	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	n = strcspn(line, "\n");
	line[n] = '\0';
	return n > 0 ? xstrdup(line) : NULL;
}

/*
 * Has group pgid a member that is not a zombie? Zombies count as gone: a
 * group whose leader died with migrate is reparented to an init that may
 * reap late (or, in a container, never). -1: /proc cannot be read.
 */
static int
group_has_live_member(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int found = 0;

	if (d == NULL)
		return -1;
	while (found == 0 && (e = readdir(d)) != NULL) {
		char path[300], line[512], state;
		const char *p;
		int ppid, pgrp;
		FILE *f;
		size_t n;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name) >= sizeof(path))
			continue;
		if ((f = fopen(path, "re")) == NULL)
			continue;   /* it ended meanwhile */
		n = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		line[n] = '\0';
		/* pid (comm) state ppid pgrp ...; comm may hold anything, even ')' */
		if ((p = strrchr(line, ')')) == NULL || sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) != 3)
			continue;
		if (pgrp == (int)pgid && state != 'Z' && state != 'X')
			found = 1;
	}
	closedir(d);
	return found;
}

bool
lifeline_group_alive(pid_t pgid, const char *boot_id)
{
	char *now;
	bool same;
	int live;

	if (pgid <= 1 || boot_id == NULL)
		return false;
	now = lifeline_boot_id();
	same = now && strcmp(now, boot_id) == 0;
	free(now);
	/* EPERM: it exists, under another user */
	if (!same || (kill(-pgid, 0) < 0 && errno != EPERM))
		return false;
	live = group_has_live_member(pgid);
	return live != 0;
}
