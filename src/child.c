/*
 * child.c - the one way migrate runs a local process (see child.h).
 *
 * Model: posix_spawn (a vfork-style clone in the C library: no copy of our
 * page tables, whose cost grows with migrate's memory) sets the child up
 * (process group, default signal dispositions, empty mask, pipes,
 * directory, environment) and execs; it returns once the exec happened, or
 * with why not. The parent then pumps all three pipes
 * with poll() from one loop, so neither side can block the other, and
 * watches the deadline, the cancel flag and (through a pidfd when the
 * kernel has one) the child's exit.
 *
 * No static mutable state and no signal handlers: several child_run() may
 * run at once in different threads.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <string.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

extern char **environ;

#define READ_CHUNK (64 * 1024)
/* How long output is still read after the child exited (background holders). */
#define DRAIN_MS 250
/* Longest poll() sleep: bounds how late a cancel request is noticed. */
#define TICK_MS 100
/* Without a pidfd, how often waitpid(WNOHANG) looks for the exit. */
#define NOPIDFD_TICK_MS 10

enum { P_IN, P_OUT, P_ERR, P_NUM };

struct child {
	const struct child_opts *opts;
	struct child_result *res;
	struct child_result result;
	int64_t start;
	pid_t pid;               /* also the process group id */
	int fd[3];               /* our ends of stdin, stdout, stderr; -1 when closed */
	int pidfd;               /* -1: none (old kernel) or already reaped */
	size_t in_off;
	size_t tail_max;
	uint64_t total[3];       /* bytes read per stream */
	char *chunk;
	int64_t deadline;        /* 0: none */
	bool stopping;           /* we sent SIGTERM to the group */
	bool stop_requested;     /* child_stop() was called */
	enum child_status stop_status;
	int64_t kill_at;
	bool killed;
	bool reaped;
	int wstatus;
	int wait_errno;          /* waitpid failed (e.g. SIGCHLD ignored): status unknown */
	int64_t drain_until;
	bool watched;            /* listed in opts->lifeline */
};

const char *
child_status_name(enum child_status st)
{
	switch (st) {
	case CHILD_EXITED: return "exited";
	case CHILD_SIGNALED: return "signaled";
	case CHILD_TIMEOUT: return "timeout";
	case CHILD_CANCELLED: return "cancelled";
	case CHILD_FAILED: return "failed";
	}
	return "unknown";
}

void
child_result_release(struct child_result *res)
{
	if (res == NULL)
		return;
	buf_release(&res->out);
	buf_release(&res->err);
	free(res->error);
	res->error = NULL;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		/* Linux always releases the descriptor, even on EINTR: never retry. */
		close(*fd);
		*fd = -1;
	}
}

/* Move a descriptor above 0-2 so the child's dup2() onto stdio cannot clobber it. */
static int
fd_above_stdio(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int
make_pipe(int p[2])
{
	int saved;

	if (pipe2(p, O_CLOEXEC) < 0) {
		p[0] = p[1] = -1;
		return -1;
	}
	p[0] = fd_above_stdio(p[0]);
	p[1] = fd_above_stdio(p[1]);
	if (p[0] < 0 || p[1] < 0) {
		saved = errno;
		close_fd(&p[0]);
		close_fd(&p[1]);
		errno = saved;
		return -1;
	}
	return 0;
}

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static size_t
env_name_len(const char *s)
{
	const char *eq = strchr(s, '=');

	return eq ? (size_t)(eq - s) : strlen(s);
}

/* Whether one of list names the same variable as s. */
static bool
env_named_in(const char *s, const char *const *list)
{
	size_t n = env_name_len(s);

	for (; *list; list++)
		if (env_name_len(*list) == n && strncmp(*list, s, n) == 0)
			return true;
	return false;
}

/*
 * The child's environment: ours, with add applied in order (a later entry
 * wins; "NAME" without '=' removes NAME). The strings are borrowed, only
 * the array is ours.
 */
static char **
env_build(const char *const *add)
{
	static const char *const none[] = { NULL };
	size_t n, m, i = 0, k;
	char **env;

	if (add == NULL)
		add = none;
	for (n = 0; environ && environ[n]; n++)
		;
	for (m = 0; add[m]; m++)
		;
	env = xcalloc(n + m + 1, sizeof(*env));
	for (k = 0; k < n; k++)
		if (!env_named_in(environ[k], add))
			env[i++] = environ[k];
	for (k = 0; k < m; k++)
		if (strchr(add[k], '=') && !env_named_in(add[k], add + k + 1))
			env[i++] = (char *)add[k];
	env[i] = NULL;
	return env;
}

static int
open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* The descriptor is close-on-exec. */
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	return -1;
#endif
}

/* SIGPIPE is thread-directed: block it around the write and swallow the one we cause. */
static ssize_t
write_nosigpipe(int fd, const void *data, size_t len)
{
	sigset_t pipe_set, old, pending;
	bool was_pending;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	do
		n = write(fd, data, len);
	while (n < 0 && errno == EINTR);
	saved = errno;
	if (n < 0 && saved == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

/* Keep the last max bytes; the buffer may grow to 2*max between trims. */
static void
tail_add(struct buf *b, size_t max, const char *data, size_t len)
{
	if (len >= max) {
		buf_reset(b);
		buf_add(b, data + len - max, max);
		return;
	}
	if (b->len + len > 2 * max)
		buf_consume(b, b->len + len - max);
	buf_add(b, data, len);
}

static void
tail_finish(struct buf *b, bool *truncated, size_t max, uint64_t total)
{
	if (b->len > max)
		buf_consume(b, b->len - max);
	*truncated = total > max;
}

/* Take the group off the lifeline before its id can be reused. */
static void
unwatch(struct child *p)
{
	if (p->watched) {
		lifeline_watch_remove(p->opts->lifeline, p->pid);
		p->watched = false;
	}
}

static void
pump_reap(struct child *p)
{
	pid_t r;

	if (p->watched) {
		siginfo_t si;
		int w;

		/* look without reaping: the lifeline lets go first */
		memset(&si, 0, sizeof(si));
		do
			w = waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT);
		while (w < 0 && errno == EINTR);
		if (w == 0 && si.si_pid == 0)
			return;
		unwatch(p);
	}
	do
		r = waitpid(p->pid, &p->wstatus, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return;
	if (r < 0)
		p->wait_errno = errno;
	p->reaped = true;
	p->drain_until = now_ms() + DRAIN_MS;
	close_fd(&p->pidfd);
	close_fd(&p->fd[P_IN]);
	/* The leader may have died on SIGTERM while others in its group ignore it. */
	if (p->stopping)
		kill(-p->pid, SIGKILL);
}

static void
pump_check_stop(struct child *p, int64_t now)
{
	if (p->stopping) {
		if (!p->killed && now >= p->kill_at) {
			kill(-p->pid, SIGKILL);
			p->killed = true;
		}
		return;
	}
	if (p->stop_requested)
		p->stop_status = CHILD_CANCELLED;
	else if (p->deadline && now >= p->deadline)
		p->stop_status = CHILD_TIMEOUT;
	else
		return;
	/* An exit that already happened is not ours to count as a stop. */
	pump_reap(p);
	if (p->reaped)
		return;
	p->stopping = true;
	p->kill_at = now + (p->opts->kill_grace_ms > 0 ? p->opts->kill_grace_ms : CHILD_KILL_GRACE_MS);
	kill(-p->pid, SIGTERM);
}

static void
pump_stdin(struct child *p)
{
	ssize_t n = write_nosigpipe(p->fd[P_IN], p->opts->stdin_data + p->in_off,
	    p->opts->stdin_len - p->in_off);

	if (n < 0) {
		/* EPIPE: the child does not want the rest, which is its business. */
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			close_fd(&p->fd[P_IN]);
		return;
	}
	p->in_off += (size_t)n;
	if (p->in_off >= p->opts->stdin_len)
		close_fd(&p->fd[P_IN]);
}

static void
pump_output(struct child *p, int which)
{
	struct buf *b = which == P_OUT ? &p->res->out : &p->res->err;
	ssize_t n;

	do
		n = read(p->fd[which], p->chunk, READ_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			close_fd(&p->fd[which]);
		return;
	}
	if (n == 0) {
		close_fd(&p->fd[which]);
		return;
	}
	p->total[which] += (uint64_t)n;
	tail_add(b, p->tail_max, p->chunk, (size_t)n);
	if (p->opts->on_output)
		p->opts->on_output(p->opts->ctx, which, p->chunk, (size_t)n);
}

static int
pump_timeout(const struct child *p, int64_t now)
{
	int64_t t = TICK_MS;

	if (!p->reaped && p->pidfd < 0 && t > NOPIDFD_TICK_MS)
		t = NOPIDFD_TICK_MS;
	if (!p->reaped && !p->stopping && p->deadline && p->deadline - now < t)
		t = p->deadline - now;
	if (p->stopping && !p->killed && p->kill_at - now < t)
		t = p->kill_at - now;
	if (p->reaped && p->drain_until - now < t)
		t = p->drain_until - now;
	return t < 0 ? 0 : (int)t;
}

static void
pump_result(struct child *p)
{
	struct child_result *res = p->res;
	int st = p->wstatus;

	tail_finish(&res->out, &res->out_truncated, p->tail_max, p->total[P_OUT]);
	tail_finish(&res->err, &res->err_truncated, p->tail_max, p->total[P_ERR]);
	if (p->wait_errno) {
		res->status = CHILD_FAILED;
		res->error = xasprintf("cannot wait for process %ld: %s",
		    (long)p->pid, strerror(p->wait_errno));
		return;
	}
	if (WIFEXITED(st))
		res->exit_code = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		res->term_signal = WTERMSIG(st);
	if (p->stopping)
		res->status = p->stop_status;
	else if (WIFSIGNALED(st))
		res->status = CHILD_SIGNALED;
	else
		res->status = CHILD_EXITED;
}

/* envp's PATH (or the default one), as execvp would search it. */
static const char *
env_path(char *const *envp)
{
	for (; *envp; envp++)
		if (strncmp(*envp, "PATH=", 5) == 0)
			return *envp + 5;
	return "/bin:/usr/bin";
}

/*
 * The program execvp would run for name under envp's PATH: name itself
 * when it holds a '/', else the first executable file of that name in a
 * PATH directory. NULL (errno ENOENT or EACCES) when there is none.
 */
static char *
find_program(const char *name, char *const *envp)
{
	const char *dir = env_path(envp);
	int err = ENOENT;

	if (strchr(name, '/'))
		return xstrdup(name);
	for (;;) {
		const char *end = strchr(dir, ':');
		size_t n = end ? (size_t)(end - dir) : strlen(dir);
		char *path = n ? xasprintf("%.*s/%s", (int)n, dir, name) : xstrdup(name);
		struct stat st;

		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (access(path, X_OK) == 0)
				return path;
			err = EACCES;
		}
		free(path);
		if (end == NULL)
			break;
		dir = end + 1;
	}
	errno = err;
	return NULL;
}

/* Why the spawn failed with err: the directory, when it cannot be entered, else the program. */
static char *
start_error(const struct child_opts *opts, int err)
{
	struct stat st;

	if (opts->workdir) {
		int e = 0;
		if (stat(opts->workdir, &st) < 0)
			e = errno;
		else if (!S_ISDIR(st.st_mode))
			e = ENOTDIR;
		else if (access(opts->workdir, X_OK) < 0)
			e = errno;
		if (e != 0)
			return xasprintf("cannot change to directory '%s': %s", opts->workdir, strerror(e));
	}
	return xasprintf("cannot run '%s': %s", opts->argv[0], strerror(err));
}

/*
 * Start the child: its own process group, every signal at its default and
 * none blocked, the pipes as 0, 1 and 2, then the directory. Returns the
 * pid, or -1 with *err set.
 */
static pid_t
spawn_child(const struct child_opts *opts, char **envp, int fds[P_NUM][2], char **err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	char *prog = find_program(opts->argv[0], envp);
	pid_t pid = -1;
	int rc;

	if (prog == NULL) {
		*err = start_error(opts, errno);
		return -1;
	}
	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[P_IN][0], 0);
	posix_spawn_file_actions_adddup2(&fa, fds[P_OUT][1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[P_ERR][1], 2);
	if (opts->workdir)
		posix_spawn_file_actions_addchdir_np(&fa, opts->workdir);
	rc = posix_spawn(&pid, prog, &fa, &attr, (char *const *)opts->argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(prog);
	if (rc != 0) {
		*err = start_error(opts, rc);
		return -1;
	}
	return pid;
}

int
child_start(const struct child_opts *opts, struct child **out, char **err)
{
	int fds[P_NUM][2];
	struct child *p = xcalloc(1, sizeof(*p));
	char **envp = NULL;
	int i, ret = -1;
	pid_t pid;

	*out = NULL;
	p->start = now_ms();
	p->res = &p->result;
	for (i = 0; i < P_NUM; i++)
		fds[i][0] = fds[i][1] = -1;
	p->fd[P_IN] = p->fd[P_OUT] = p->fd[P_ERR] = p->pidfd = -1;
	if (opts->argv == NULL || opts->argv[0] == NULL) {
		*err = xstrdup("no program to run");
		goto cleanup;
	}
	for (i = 0; i < P_NUM; i++) {
		if (make_pipe(fds[i]) < 0) {
			*err = xasprintf("cannot run '%s': cannot create pipe: %s",
			    opts->argv[0], strerror(errno));
			goto cleanup;
		}
	}
	envp = env_build(opts->env_add);
	pid = spawn_child(opts, envp, fds, err);
	if (pid < 0)
		goto cleanup;
	p->result.pid = pid;
	if (opts->lifeline) {
		lifeline_watch_add(opts->lifeline, pid);
		p->watched = true;
	}
	close_fd(&fds[P_IN][0]);
	close_fd(&fds[P_OUT][1]);
	close_fd(&fds[P_ERR][1]);
	p->opts = opts;
	p->pid = pid;

	p->pidfd = open_pidfd(pid);
	p->tail_max = opts->tail_max ? opts->tail_max : CHILD_TAIL_MAX;
	p->deadline = opts->timeout_ms > 0 ? p->start + opts->timeout_ms : 0;
	p->chunk = xmalloc(READ_CHUNK);
	/* We own our ends from here on. */
	p->fd[P_IN] = fds[P_IN][1];
	p->fd[P_OUT] = fds[P_OUT][0];
	p->fd[P_ERR] = fds[P_ERR][0];
	fds[P_IN][1] = fds[P_OUT][0] = fds[P_ERR][0] = -1;
	for (i = P_IN; i <= P_ERR; i++)
		set_nonblock(p->fd[i]);
	if (opts->stdin_data == NULL || opts->stdin_len == 0)
		close_fd(&p->fd[P_IN]);
	ret = 0;

cleanup:
	for (i = 0; i < P_NUM; i++) {
		close_fd(&fds[i][0]);
		close_fd(&fds[i][1]);
	}
	free(envp);
	if (ret < 0) {
		child_result_release(&p->result);
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

pid_t
child_pid(const struct child *c)
{
	return c->pid;
}

size_t
child_wait_on(struct child *p, struct pollfd *fds, size_t max, int64_t *timeout_ms)
{
	size_t n = 0;
	int64_t t = pump_timeout(p, now_ms());

	for (int i = P_IN; i <= P_ERR && n < max; i++) {
		if (p->fd[i] < 0)
			continue;
		fds[n].fd = p->fd[i];
		fds[n].events = i == P_IN ? POLLOUT : POLLIN;
		fds[n++].revents = 0;
	}
	if (p->pidfd >= 0 && n < max) {
		fds[n].fd = p->pidfd;
		fds[n].events = POLLIN;
		fds[n++].revents = 0;
	}
	if (*timeout_ms < 0 || t < *timeout_ms)
		*timeout_ms = t;
	return n;
}

int
child_advance(struct child *p)
{
	struct pollfd pfd[3];
	int which[3], n = 0;
	int64_t now;

	/*
	 * Take a snapshot of what is ready and serve only that: a stream that
	 * becomes ready while another is being read waits for the next round,
	 * so stdout written before stderr is also read before it.
	 */
	for (int i = P_IN; i <= P_ERR; i++) {
		if (p->fd[i] < 0)
			continue;
		pfd[n].fd = p->fd[i];
		pfd[n].events = i == P_IN ? POLLOUT : POLLIN;
		pfd[n].revents = 0;
		which[n++] = i;
	}
	if (n > 0 && poll(pfd, (nfds_t)n, 0) > 0) {
		for (int k = 0; k < n; k++) {
			if (!(pfd[k].revents & (POLLIN | POLLOUT | POLLHUP | POLLERR | POLLNVAL)))
				continue;
			if (which[k] == P_IN)
				pump_stdin(p);
			else
				pump_output(p, which[k]);
		}
	}
	now = now_ms();
	if (!p->reaped)
		pump_check_stop(p, now);
	if (!p->reaped)
		pump_reap(p);
	return p->reaped && ((p->fd[P_OUT] < 0 && p->fd[P_ERR] < 0) || now >= p->drain_until);
}

void
child_stop(struct child *p)
{
	p->stop_requested = true;
	pump_check_stop(p, now_ms());
}

void
child_withhold_stdin(struct child *p)
{
	close_fd(&p->fd[P_IN]);
}

void
child_finish(struct child *p, struct child_result *res)
{
	pump_result(p);
	unwatch(p);
	for (int i = P_IN; i <= P_ERR; i++)
		close_fd(&p->fd[i]);
	close_fd(&p->pidfd);
	p->result.duration_ms = now_ms() - p->start;
	*res = p->result;
	free(p->chunk);
	free(p);
}

int
child_run(const struct child_opts *opts, struct child_result *res)
{
	struct child *c;
	char *err = NULL;
	int64_t start = now_ms();

	if (child_start(opts, &c, &err) < 0) {
		memset(res, 0, sizeof(*res));
		res->status = CHILD_FAILED;
		res->error = err;
		res->duration_ms = now_ms() - start;
		return -1;
	}
	for (;;) {
		struct pollfd pfd[4];
		int64_t t = -1;
		size_t n;

		if (opts->cancel && *opts->cancel && !c->stop_requested)
			child_stop(c);
		if (child_advance(c))
			break;
		n = child_wait_on(c, pfd, 4, &t);
		if (poll(pfd, (nfds_t)n, (int)t) < 0 && errno != EINTR)
			sleep_ms(NOPIDFD_TICK_MS, NULL);
	}
	child_finish(c, res);
	return res->status == CHILD_FAILED ? -1 : 0;
}
