/*
 * ssh-conn.h - SSH connections of one run (SPEC §5): one libssh2 session
 * per host, opened on first use, reused by every action on that host,
 * re-opened once when it dropped.
 *
 * Threads: several worker threads may use one connection (two units on
 * one host, a jump host carrying the tunnels of many targets). A session is
 * never used by two threads at once: every libssh2 call on it is made with
 * conn->lock held, and the lock is released only inside ssh_conn_wait,
 * which polls the socket (in the directions libssh2 is blocked on), the
 * cancel descriptor and the deadline. Because another thread may read the
 * packets we were waiting for (they are queued for our channel), a wait on
 * a shared session polls in short slices.
 *
 * Jump hosts (`via:`): the target's session runs over one end of a
 * socketpair; a pump thread owned by the pool copies bytes between the
 * other end and a direct-tcpip channel of the jump host's session (taking
 * the jump connection's lock for each libssh2 call), as `ssh -J` does.
 * Nested via works the same way. When the jump host refuses forwarding the
 * connection fails; the target is never contacted directly.
 */
#ifndef MIGRATE_SSH_CONN_H
#define MIGRATE_SSH_CONN_H

#include <libssh2.h>
#include <libssh2_sftp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "exec.h"

#define SSH_DEFAULT_CONNECT_TIMEOUT_MS 10000
#define SSH_KEEPALIVE_S 15

/* What bounds a wait: a deadline and cancellation (either form). */
struct ssh_wait {
	int64_t deadline;                 /* monotonic ms; 0: none */
	int cancel_fd;                    /* readable when cancelled (cancel_fd()); -1: none */
};

enum ssh_wait_result {
	SSH_WAIT_READY = 0,   /* try the call again */
	SSH_WAIT_TIMEOUT,
	SSH_WAIT_CANCELLED,
};

struct ssh_pool_opts {
	bool accept_new_host_keys;
};

struct ssh_pool;

struct ssh_conn {
	struct ssh_pool *pool;
	char *id;                     /* user@address:port[/via id]: the pool's key */
	char *name;
	char *where;                  /* "name (user@address:port)" for messages */
	pthread_mutex_t open_lock;    /* held while (re)connecting */
	pthread_mutex_t lock;         /* held around every libssh2 call */
	LIBSSH2_SESSION *session;     /* NULL: not connected */
	LIBSSH2_SFTP *sftp;           /* opened on first use */
	int sock;
	bool dead;                    /* the connection dropped: re-open before the next use */
	int opened;                   /* how many times it was opened */
	int waiters;                  /* threads inside ssh_conn_wait or pumping */
	int tunnels;                  /* direct-tcpip channels it carries */
	int64_t next_keepalive;
	struct ssh_tunnel *tunnel;    /* how the socket reaches the host when via */
};

/* Create / free the connections of one run. Freeing closes every session. */
struct ssh_pool *ssh_pool_create(const struct ssh_pool_opts *opts);
void ssh_pool_free(struct ssh_pool *pool);

/*
 * The connection to t, connected and authenticated (host key verified on
 * every hop), or NULL with *err (malloc'ed, names the host and what
 * happened). The connect timeout of t bounds the connection; w may cut it
 * shorter or cancel it. A connection that dropped is re-opened here once.
 */
struct ssh_conn *ssh_pool_get(struct ssh_pool *pool, const struct exec_target *t,
    const struct ssh_wait *w, char **err);

/*
 * After a libssh2 call on c returned LIBSSH2_ERROR_EAGAIN (c->lock held):
 * release the lock, wait until the session can make progress, the wait is
 * cancelled or its deadline passes, take the lock again. Sends keepalives
 * when due.
 */
enum ssh_wait_result ssh_conn_wait(struct ssh_conn *c, const struct ssh_wait *w);

/*
 * The message for a failed libssh2 call on c ("NAME (where): WHAT: reason"),
 * malloc'ed. A socket-level failure marks the connection dead ("connection
 * to NAME lost"), so the next user re-opens it.
 */
char *ssh_conn_error(struct ssh_conn *c, int rc, const char *what);

/* Whether rc from libssh2 means the transport is gone. */
bool ssh_rc_is_transport(int rc);

/*
 * For the executors (exec-ssh.c, exec-sftp.c): the run's pool, kept in the
 * exec ctx's SSH slot and created on first call; and the ops shared by the
 * actions that run entirely inside start (see exec-ssh.c).
 */
struct ssh_pool *exec_ssh_pool(struct exec_ctx *ctx);
void exec_ssh_init(struct exec_ctx *ctx);
void exec_sftp_init(struct exec_ctx *ctx);
struct ssh_op {
	struct exec_result res;
};
size_t ssh_op_wait_on(void *op, struct pollfd *fds, size_t max, int64_t *timeout_ms);
int ssh_op_advance(void *op);
void ssh_op_cancel(void *op);
void ssh_op_finish(void *op, struct exec_result *res);

#endif
