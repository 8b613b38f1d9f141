/* ssh-conn.c - SSH connections of one run (see ssh-conn.h). */
#include "ssh-conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "duration.h"
#include "ssh-knownhosts.h"
#include "strmap.h"
#include "util.h"

/* Longest sleep when another thread uses the session too. */
#define SHARED_TICK_MS 10
#define TUNNEL_BUF (32 * 1024)

/* Key exchange and host key algorithms, best first (unsupported ones are dropped by libssh2). */
#define KEX_PREF "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256," \
	"ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256," \
	"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
#define HOSTKEY_PREF "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521," \
	"rsa-sha2-512,rsa-sha2-256,ssh-rsa"

struct ssh_tunnel {
	struct ssh_conn *jump;
	LIBSSH2_SESSION *session;  /* the jump's session the channel belongs to */
	LIBSSH2_CHANNEL *ch;
	int fd;                   /* the pump's end of the socketpair */
	pthread_t thread;
	char to_sock[TUNNEL_BUF];
	size_t ts_off, ts_len;
	char to_chan[TUNNEL_BUF];
	size_t tc_off, tc_len;
};

struct ssh_pool {
	struct ssh_pool_opts opts;
	pthread_mutex_t lock;         /* the list of connections */
	pthread_mutex_t kh_lock;      /* known_hosts appends */
	struct ssh_conn **conns;      /* in order of creation: a jump host before its targets */
	size_t n, cap;
	struct strmap *by_id;         /* index in conns of each connection's id */
};

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;

static void
ssh_global_init(void)
{
	libssh2_init(0);
}

struct ssh_pool *
ssh_pool_create(const struct ssh_pool_opts *opts)
{
	struct ssh_pool *p = xcalloc(1, sizeof(*p));

	pthread_once(&ssh_once, ssh_global_init);
	if (opts)
		p->opts = *opts;
	pthread_mutex_init(&p->lock, NULL);
	pthread_mutex_init(&p->kh_lock, NULL);
	p->by_id = strmap_create(16);
	return p;
}

bool
ssh_rc_is_transport(int rc)
{
	return rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
	    rc == LIBSSH2_ERROR_TIMEOUT || rc == LIBSSH2_ERROR_BANNER_RECV ||
	    rc == LIBSSH2_ERROR_BANNER_SEND || rc == LIBSSH2_ERROR_KEX_FAILURE ||
	    rc == LIBSSH2_ERROR_DECRYPT || rc == LIBSSH2_ERROR_BAD_SOCKET;
}

char *
ssh_conn_error(struct ssh_conn *c, int rc, const char *what)
{
	char *msg = NULL;

	if (c->session)
		libssh2_session_last_error(c->session, &msg, NULL, 0);
	if (ssh_rc_is_transport(rc)) {
		c->dead = true;
		return xasprintf("%s: connection lost (%s: %s)", c->where, what,
		    msg && *msg ? msg : "the server closed the connection");
	}
	return xasprintf("%s: %s: %s", c->where, what, msg && *msg ? msg : "error");
}

/* Poll timeout for a wait bounded by w (and an extra cap), in ms; -1: none. */
static int
wait_timeout(const struct ssh_wait *w, int64_t now, int64_t cap)
{
	int64_t t = cap;

	if (w && w->deadline) {
		int64_t left = w->deadline - now;
		if (left < 0)
			left = 0;
		if (t < 0 || left < t)
			t = left;
	}
	return t < 0 ? -1 : (int)t;
}

/* Whether w is over: 0 no, else the reason. */
static enum ssh_wait_result
wait_over(const struct ssh_wait *w, int64_t now)
{
	if (w == NULL)
		return SSH_WAIT_READY;
	if (w->cancel_fd >= 0) {
		struct pollfd pfd = { w->cancel_fd, POLLIN, 0 };
		if (poll(&pfd, 1, 0) > 0)
			return SSH_WAIT_CANCELLED;
	}
	if (w->deadline && now >= w->deadline)
		return SSH_WAIT_TIMEOUT;
	return SSH_WAIT_READY;
}

enum ssh_wait_result
ssh_conn_wait(struct ssh_conn *c, const struct ssh_wait *w)
{
	struct pollfd pfd[2];
	int64_t now = now_ms(), cap = -1;
	enum ssh_wait_result over;
	int dirs, n = 1, r;

	if ((over = wait_over(w, now)) != SSH_WAIT_READY)
		return over;
	if (c->session && now >= c->next_keepalive) {
		int secs = SSH_KEEPALIVE_S;
		libssh2_keepalive_send(c->session, &secs);
		c->next_keepalive = now + (int64_t)(secs > 0 ? secs : SSH_KEEPALIVE_S) * 1000;
	}
	cap = c->next_keepalive - now;
	if (c->tunnels > 0 || c->waiters > 0)
		cap = SHARED_TICK_MS;
	dirs = c->session ? libssh2_session_block_directions(c->session) : 0;
	pfd[0].fd = c->sock;
	pfd[0].events = 0;
	if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd[0].events |= POLLIN;
	if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd[0].events |= POLLOUT;
	if (pfd[0].events == 0)
		pfd[0].events = POLLIN;
	pfd[0].revents = 0;
	if (w && w->cancel_fd >= 0) {
		pfd[1].fd = w->cancel_fd;
		pfd[1].events = POLLIN;
		pfd[1].revents = 0;
		n = 2;
	}
	c->waiters++;
	pthread_mutex_unlock(&c->lock);
	do
		r = poll(pfd, (nfds_t)n, wait_timeout(w, now, cap));
	while (r < 0 && errno == EINTR);
	pthread_mutex_lock(&c->lock);
	c->waiters--;
	return wait_over(w, now_ms());
}

/* ---- TCP ---- */

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Connect to address:port before the wait ends. Returns the socket or -1 with *err. */
static int
tcp_connect(const char *where, const char *address, int port, const struct ssh_wait *w,
    int64_t timeout_ms, char **err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char portstr[16];
	int fd = -1, r, one = 1;
	char *last = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	r = getaddrinfo(address, portstr, &hints, &res);
	if (r != 0) {
		*err = xasprintf("%s: cannot resolve '%s': %s", where, address, gai_strerror(r));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
		if (fd < 0)
			continue;
		/* Before the handshake: Nagle and delayed ACKs otherwise stall every round trip. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			struct pollfd pfd[2] = { { fd, POLLOUT, 0 }, { w ? w->cancel_fd : -1, POLLIN, 0 } };
			enum ssh_wait_result over = SSH_WAIT_READY;
			for (;;) {
				int64_t now = now_ms();
				if ((over = wait_over(w, now)) != SSH_WAIT_READY)
					break;
				r = poll(pfd, pfd[1].fd >= 0 ? 2 : 1, wait_timeout(w, now, -1));
				if (r > 0 && pfd[0].revents)
					break;
			}
			if (over == SSH_WAIT_READY) {
				int soerr = 0;
				socklen_t sl = sizeof(soerr);
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (soerr == 0)
					break;
				errno = soerr;
			} else {
				close(fd);
				fd = -1;
				free(last);
				if (over == SSH_WAIT_CANCELLED) {
					last = xasprintf("%s: connecting was stopped", where);
				} else if (timeout_ms <= 0) {
					/* the action's own deadline: its timeout is reported with this */
					last = xasprintf("%s: cannot connect: no answer", where);
				} else {
					struct buf d = BUF_INIT;
					duration_format_exact(&d, timeout_ms);
					last = xasprintf("%s: cannot connect: timed out after %s", where, buf_str(&d));
					buf_release(&d);
				}
				break;
			}
		}
		free(last);
		last = xasprintf("%s: cannot connect: %s", where, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		*err = last ? last : xasprintf("%s: cannot connect: no address", where);
	else
		free(last);
	return fd;
}

/* ---- tunnels through a jump host ---- */

/* Copy between the socketpair and the direct-tcpip channel until either side ends. */
static void *
tunnel_main(void *arg)
{
	struct ssh_tunnel *tn = arg;
	struct ssh_conn *j = tn->jump;
	bool sock_eof = false, chan_eof = false;
	ssize_t n;

	pthread_mutex_lock(&j->lock);
	for (;;) {
		bool progress = false;
		struct pollfd pfd[2];
		int dirs;

		/* The jump connection dropped (and may have been re-opened): the channel went with it. */
		if (j->session != tn->session || j->dead)
			break;

		if (tn->ts_off == tn->ts_len && !chan_eof) {
			n = libssh2_channel_read(tn->ch, tn->to_sock, sizeof(tn->to_sock));
			if (n > 0) {
				tn->ts_off = 0;
				tn->ts_len = (size_t)n;
				progress = true;
			} else if (n == 0 && libssh2_channel_eof(tn->ch)) {
				chan_eof = true;
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
				if (ssh_rc_is_transport((int)n))
					j->dead = true;
				break;
			}
		}
		if (tn->ts_off < tn->ts_len) {
			n = send(tn->fd, tn->to_sock + tn->ts_off, tn->ts_len - tn->ts_off, MSG_NOSIGNAL);
			if (n > 0) {
				tn->ts_off += (size_t)n;
				progress = true;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				break;
			}
		}
		if (chan_eof && tn->ts_off == tn->ts_len)
			break;
		if (tn->tc_off == tn->tc_len && !sock_eof) {
			n = recv(tn->fd, tn->to_chan, sizeof(tn->to_chan), 0);
			if (n > 0) {
				tn->tc_off = 0;
				tn->tc_len = (size_t)n;
				progress = true;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				sock_eof = true;
			}
		}
		if (tn->tc_off < tn->tc_len) {
			n = libssh2_channel_write(tn->ch, tn->to_chan + tn->tc_off, tn->tc_len - tn->tc_off);
			if (n > 0) {
				tn->tc_off += (size_t)n;
				progress = true;
			} else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
				if (ssh_rc_is_transport((int)n))
					j->dead = true;
				break;
			}
		}
		if (sock_eof && tn->tc_off == tn->tc_len)
			break;
		if (progress)
			continue;
		dirs = libssh2_session_block_directions(j->session);
		pfd[0].fd = j->sock;
		pfd[0].events = (short)(((dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) ? POLLOUT : 0) | POLLIN);
		pfd[0].revents = 0;
		pfd[1].fd = tn->fd;
		pfd[1].events = (short)((tn->tc_off == tn->tc_len && !sock_eof ? POLLIN : 0) |
		    (tn->ts_off < tn->ts_len ? POLLOUT : 0));
		pfd[1].revents = 0;
		j->waiters++;
		pthread_mutex_unlock(&j->lock);
		poll(pfd, 2, SHARED_TICK_MS);
		pthread_mutex_lock(&j->lock);
		j->waiters--;
	}
	/* The channel's end: close it (bounded: the jump session may be gone). */
	if (j->session == tn->session && !j->dead) {
		struct ssh_wait w = { now_ms() + 2000, -1 };
		while (libssh2_channel_free(tn->ch) == LIBSSH2_ERROR_EAGAIN &&
		    ssh_conn_wait(j, &w) == SSH_WAIT_READY)
			;
	}
	tn->ch = NULL;
	j->tunnels--;
	pthread_mutex_unlock(&j->lock);
	shutdown(tn->fd, SHUT_RDWR);
	return NULL;
}

/*
 * Open a direct-tcpip channel to t through jump and start its pump.
 * Returns the socket the target's session uses, or -1 with *err.
 */
static int
tunnel_open(struct ssh_conn *c, struct ssh_conn *jump, const struct exec_target *t, int port,
    const struct ssh_wait *w, char **err)
{
	struct ssh_tunnel *tn;
	LIBSSH2_CHANNEL *ch;
	int sv[2];

	pthread_mutex_lock(&jump->lock);
	for (;;) {
		ch = libssh2_channel_direct_tcpip_ex(jump->session, t->address, port, "127.0.0.1", 22);
		if (ch || libssh2_session_last_errno(jump->session) != LIBSSH2_ERROR_EAGAIN)
			break;
		if (ssh_conn_wait(jump, w) != SSH_WAIT_READY)
			break;
	}
	if (ch == NULL) {
		int rc = libssh2_session_last_errno(jump->session);
		char *why = rc == LIBSSH2_ERROR_EAGAIN ? xstrdup("timed out") : ssh_conn_error(jump, rc, "forwarding");
		pthread_mutex_unlock(&jump->lock);
		*err = xasprintf("%s: jump host '%s' did not forward the connection to %s:%d "
		    "(the host is not contacted directly): %s", c->where, jump->name, t->address, port, why);
		free(why);
		return -1;
	}
	jump->tunnels++;
	pthread_mutex_unlock(&jump->lock);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		*err = xasprintf("%s: cannot create a socket pair: %s", c->where, strerror(errno));
		pthread_mutex_lock(&jump->lock);
		libssh2_channel_free(ch);
		jump->tunnels--;
		pthread_mutex_unlock(&jump->lock);
		return -1;
	}
	set_nonblock(sv[0]);
	set_nonblock(sv[1]);
	tn = xcalloc(1, sizeof(*tn));
	tn->jump = jump;
	tn->session = jump->session;
	tn->ch = ch;
	tn->fd = sv[1];
	if (pthread_create(&tn->thread, NULL, tunnel_main, tn) != 0) {
		*err = xasprintf("%s: cannot start the tunnel through '%s'", c->where, jump->name);
		pthread_mutex_lock(&jump->lock);
		libssh2_channel_free(ch);
		jump->tunnels--;
		pthread_mutex_unlock(&jump->lock);
		close(sv[0]);
		close(sv[1]);
		free(tn);
		return -1;
	}
	c->tunnel = tn;
	return sv[0];
}

static void
tunnel_close(struct ssh_tunnel *tn)
{
	if (tn == NULL)
		return;
	pthread_join(tn->thread, NULL);
	close(tn->fd);
	free(tn);
}

/* ---- authentication ---- */

static const char *
local_user(void)
{
	struct passwd *pw = getpwuid(getuid());
	const char *u = getenv("USER");

	return pw ? pw->pw_name : u ? u : "root";
}

/* Try every identity of the ssh-agent. 1: authenticated, 0: not, -1: wait ended. */
static int
auth_agent(struct ssh_conn *c, const char *user, const struct ssh_wait *w, struct buf *tried)
{
	LIBSSH2_AGENT *agent;
	struct libssh2_agent_publickey *id = NULL, *prev = NULL;
	int rc, n = 0, ok = 0;

	if (getenv("SSH_AUTH_SOCK") == NULL || *getenv("SSH_AUTH_SOCK") == '\0') {
		buf_adds(tried, "ssh-agent (SSH_AUTH_SOCK not set)");
		return 0;
	}
	agent = libssh2_agent_init(c->session);
	if (agent == NULL || libssh2_agent_connect(agent) != 0) {
		buf_adds(tried, "ssh-agent (cannot connect to it)");
		goto cleanup;
	}
	while ((rc = libssh2_agent_list_identities(agent)) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) != SSH_WAIT_READY) {
			ok = -1;
			goto cleanup;
		}
	if (rc != 0) {
		buf_adds(tried, "ssh-agent (cannot list its keys)");
		goto cleanup;
	}
	while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
		prev = id;
		n++;
		while ((rc = libssh2_agent_userauth(agent, user, id)) == LIBSSH2_ERROR_EAGAIN)
			if (ssh_conn_wait(c, w) != SSH_WAIT_READY) {
				ok = -1;
				goto cleanup;
			}
		if (rc == 0) {
			ok = 1;
			goto cleanup;
		}
		if (ssh_rc_is_transport(rc))
			break;
	}
	buf_addf(tried, "ssh-agent (%d key%s refused)", n, n == 1 ? "" : "s");
cleanup:
	if (agent) {
		libssh2_agent_disconnect(agent);
		libssh2_agent_free(agent);
	}
	return ok;
}

/* Try one private key file. 1: authenticated, 0: not, -1: wait ended. */
static int
auth_key(struct ssh_conn *c, const char *user, const char *file, const char *label,
    const char *passphrase, const struct ssh_wait *w, struct buf *tried)
{
	struct buf pub = BUF_INIT;
	struct stat st;
	int rc;

	buf_addf(&pub, "%s.pub", file);
	while ((rc = libssh2_userauth_publickey_fromfile_ex(c->session, user, (unsigned)strlen(user),
	    stat(buf_str(&pub), &st) == 0 ? buf_str(&pub) : NULL, file, passphrase)) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, w) != SSH_WAIT_READY) {
			buf_release(&pub);
			return -1;
		}
	buf_release(&pub);
	if (tried->len)
		buf_adds(tried, ", ");
	if (rc == 0)
		return 1;
	if (passphrase) {
		buf_addf(tried, "key %s (refused, or wrong passphrase)", label);
	} else if (rc == LIBSSH2_ERROR_FILE) {
		buf_addf(tried, "key %s (cannot use it: unreadable, or protected by a passphrase; "
		    "give one with passphrase: ${secrets.X})", label);
	} else {
		buf_addf(tried, "key %s (refused)", label);
	}
	return 0;
}

/* Authenticate: agent, then t->key_file, then the default keys. 0, or -1 with *err. */
static int
session_auth(struct ssh_conn *c, const struct exec_target *t, const char *user,
    const struct ssh_wait *w, char **err)
{
	static const char *const defaults[] = { "id_ed25519", "id_ecdsa", "id_rsa" };
	struct buf tried = BUF_INIT;
	const char *home = getenv("HOME");
	char *list;
	int r = 0;

	for (;;) {
		list = libssh2_userauth_list(c->session, user, (unsigned)strlen(user));
		if (list || libssh2_session_last_errno(c->session) != LIBSSH2_ERROR_EAGAIN)
			break;
		if (ssh_conn_wait(c, w) != SSH_WAIT_READY)
			goto waitend;
	}
	if (list == NULL && libssh2_userauth_authenticated(c->session))
		return 0;
	if (list == NULL) {
		*err = ssh_conn_error(c, libssh2_session_last_errno(c->session), "authentication");
		return -1;
	}
	if (strstr(list, "publickey") == NULL) {
		*err = xasprintf("%s: the server offers no public key authentication for user '%s' (only: %s)",
		    c->where, user, list);
		return -1;
	}
	r = auth_agent(c, user, w, &tried);
	if (r == 0 && t->key_file) {
		r = auth_key(c, user, t->key_file, t->key_file, t->passphrase, w, &tried);
	}
	for (size_t i = 0; r == 0 && home && i < ARRAY_LEN(defaults); i++) {
		struct buf f = BUF_INIT, label = BUF_INIT;
		struct stat st;
		buf_addf(&f, "%s/.ssh/%s", home, defaults[i]);
		buf_addf(&label, "~/.ssh/%s", defaults[i]);
		if (stat(buf_str(&f), &st) == 0 && (t->key_file == NULL || strcmp(t->key_file, buf_str(&f)) != 0))
			r = auth_key(c, user, buf_str(&f), buf_str(&label), NULL, w, &tried);
		buf_release(&f);
		buf_release(&label);
	}
	if (r == 1) {
		buf_release(&tried);
		return 0;
	}
	if (r < 0)
		goto waitend;
	*err = xasprintf("%s: authentication as '%s' failed; tried: %s%s", c->where, user,
	    buf_str(&tried), strstr(buf_str(&tried), "key ") ? "" :
	    ", no key file (no key: given, no ~/.ssh/id_ed25519, id_ecdsa or id_rsa)");
	buf_release(&tried);
	return -1;
waitend:
	buf_release(&tried);
	*err = wait_over(w, now_ms()) == SSH_WAIT_CANCELLED ? xasprintf("%s: connecting was stopped", c->where) :
	    xasprintf("%s: authentication timed out", c->where);
	return -1;
}

/* ---- sessions ---- */

static void
session_close(struct ssh_conn *c)
{
	if (c->session) {
		struct ssh_wait w = { now_ms() + 1000, -1 };
		pthread_mutex_lock(&c->lock);
		if (c->sftp) {
			while (libssh2_sftp_shutdown(c->sftp) == LIBSSH2_ERROR_EAGAIN &&
			    ssh_conn_wait(c, &w) == SSH_WAIT_READY)
				;
			c->sftp = NULL;
		}
		if (!c->dead)
			while (libssh2_session_disconnect(c->session, "done") == LIBSSH2_ERROR_EAGAIN &&
			    ssh_conn_wait(c, &w) == SSH_WAIT_READY)
				;
		/*
		 * Freeing closes the channels left open, which waits on the server:
		 * on a dead (or unanswering) connection, shut the socket down first
		 * so that fails at once instead of leaving the session unfreed.
		 */
		bool shut = c->dead && c->sock >= 0;
		if (shut)
			shutdown(c->sock, SHUT_RDWR);
		while (libssh2_session_free(c->session) == LIBSSH2_ERROR_EAGAIN) {
			if (ssh_conn_wait(c, &w) == SSH_WAIT_READY)
				continue;
			if (shut || c->sock < 0)
				break; /* never hang here: leave the session */
			shutdown(c->sock, SHUT_RDWR);
			shut = true;
			w.deadline = now_ms() + 1000;
		}
		c->session = NULL;
		pthread_mutex_unlock(&c->lock);
	}
	if (c->sock >= 0) {
		close(c->sock);
		c->sock = -1;
	}
	tunnel_close(c->tunnel);
	c->tunnel = NULL;
}

static char *
timeout_message(const struct ssh_conn *c, const struct ssh_wait *w, const char *what, int64_t timeout_ms)
{
	struct buf d = BUF_INIT;
	char *m;

	if (wait_over(w, now_ms()) == SSH_WAIT_CANCELLED)
		return xasprintf("%s: connecting was stopped", c->where);
	if (timeout_ms <= 0)
		return xasprintf("%s: %s: no answer from the server", c->where, what);
	duration_format_exact(&d, timeout_ms);
	m = xasprintf("%s: %s timed out after %s (no answer from the server)", c->where, what, buf_str(&d));
	buf_release(&d);
	return m;
}

/*
 * Set a method preference, keeping only what this libssh2 supports: 1.10
 * strips unknown names itself with an overlapping memcpy.
 */
static void
set_pref(LIBSSH2_SESSION *s, int type, const char *pref)
{
	const char **algs = NULL;
	struct buf b = BUF_INIT;
	char *list = xstrdup(pref), *save = NULL;
	int n = libssh2_session_supported_algs(s, type, &algs);

	for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save))
		for (int i = 0; i < n; i++)
			if (strcmp(algs[i], m) == 0) {
				buf_addf(&b, "%s%s", b.len ? "," : "", m);
				break;
			}
	if (b.len)
		libssh2_session_method_pref(s, type, buf_str(&b));
	if (algs)
		libssh2_free(s, algs);
	buf_release(&b);
	free(list);
}

/* Connect c to t (its lock not held by anyone else: open_lock is ours). 0, or -1 with *err. */
static int
session_open(struct ssh_conn *c, const struct exec_target *t, const struct ssh_wait *uw, char **err)
{
	int64_t timeout = t->connect_timeout_ms > 0 ? t->connect_timeout_ms : SSH_DEFAULT_CONNECT_TIMEOUT_MS;
	struct ssh_wait w = { now_ms() + timeout, -1 };
	const char *user = t->user ? t->user : local_user();
	int port = t->port > 0 ? t->port : 22;
	struct hostkey_check hc;
	int rc;

	if (uw) {
		w.cancel_fd = uw->cancel_fd;
		if (uw->deadline && uw->deadline < w.deadline) {
			/* the caller's deadline comes first: messages leave its timeout to the caller */
			w.deadline = uw->deadline;
			timeout = 0;
		}
	}
	c->dead = false;
	if (t->via) {
		struct ssh_conn *jump = ssh_pool_get(c->pool, t->via, &w, err);
		if (jump == NULL) {
			char *inner = *err;
			*err = xasprintf("%s: jump host '%s' is not reachable: %s", c->where, t->via->name, inner);
			free(inner);
			return -1;
		}
		c->sock = tunnel_open(c, jump, t, port, &w, err);
	} else {
		c->sock = tcp_connect(c->where, t->address, port, &w, timeout, err);
	}
	if (c->sock < 0)
		return -1;
	c->session = libssh2_session_init();
	if (c->session == NULL) {
		*err = xasprintf("%s: cannot create an SSH session", c->where);
		return -1;
	}
	libssh2_session_set_blocking(c->session, 0);
	set_pref(c->session, LIBSSH2_METHOD_KEX, KEX_PREF);
	set_pref(c->session, LIBSSH2_METHOD_HOSTKEY, HOSTKEY_PREF);
	pthread_mutex_lock(&c->lock);
	c->next_keepalive = now_ms() + SSH_KEEPALIVE_S * 1000;
	while ((rc = libssh2_session_handshake(c->session, c->sock)) == LIBSSH2_ERROR_EAGAIN)
		if (ssh_conn_wait(c, &w) != SSH_WAIT_READY)
			break;
	if (rc == LIBSSH2_ERROR_EAGAIN) {
		*err = timeout_message(c, &w, "SSH handshake", timeout);
		goto fail;
	}
	if (rc != 0) {
		*err = ssh_conn_error(c, rc, "SSH handshake failed");
		goto fail;
	}
	memset(&hc, 0, sizeof(hc));
	hc.name = c->name;
	hc.address = t->address;
	hc.port = port;
	hc.file = t->known_hosts;
	hc.accept_new = c->pool->opts.accept_new_host_keys;
	hc.write_lock = &c->pool->kh_lock;
	switch (ssh_knownhosts_verify(c->session, &hc, err)) {
	case HOSTKEY_MATCH:
	case HOSTKEY_ADDED:
		break;
	default:
		goto fail;
	}
	if (session_auth(c, t, user, &w, err) < 0)
		goto fail;
	libssh2_keepalive_config(c->session, 1, SSH_KEEPALIVE_S);
	c->opened++;
	pthread_mutex_unlock(&c->lock);
	return 0;
fail:
	c->dead = true;
	pthread_mutex_unlock(&c->lock);
	return -1;
}

static char *
target_id(const struct exec_target *t)
{
	struct buf b = BUF_INIT;

	for (; t; t = t->via)
		buf_addf(&b, "%s%s@%s:%d", b.len ? "/" : "", t->user ? t->user : "", t->address,
		    t->port > 0 ? t->port : 22);
	return buf_detach(&b);
}

struct ssh_conn *
ssh_pool_get(struct ssh_pool *pool, const struct exec_target *t, const struct ssh_wait *w, char **err)
{
	struct ssh_conn *c = NULL;
	char *id = target_id(t);
	size_t i;

	pthread_mutex_lock(&pool->lock);
	if ((i = strmap_get(pool->by_id, id)) != STRMAP_NONE)
		c = pool->conns[i];
	if (c == NULL) {
		c = xcalloc(1, sizeof(*c));
		c->pool = pool;
		c->id = id;
		id = NULL;
		c->name = xstrdup(t->name ? t->name : t->address);
		c->where = xasprintf("%s (%s@%s:%d)", c->name, t->user ? t->user : local_user(),
		    t->address, t->port > 0 ? t->port : 22);
		c->sock = -1;
		pthread_mutex_init(&c->open_lock, NULL);
		pthread_mutex_init(&c->lock, NULL);
		PUSH(pool->conns, pool->n, pool->cap, c);
		strmap_put(pool->by_id, c->id, pool->n - 1);
	}
	pthread_mutex_unlock(&pool->lock);
	free(id);

	pthread_mutex_lock(&c->open_lock);
	if (c->session == NULL || c->dead) {
		session_close(c);
		if (session_open(c, t, w, err) < 0) {
			session_close(c);
			pthread_mutex_unlock(&c->open_lock);
			return NULL;
		}
	}
	pthread_mutex_unlock(&c->open_lock);
	return c;
}

/* Whether a connection not yet closed tunnels through c. */
static bool
carries_tunnels(const struct ssh_pool *pool, const struct ssh_conn *c, const bool *closed)
{
	for (size_t i = 0; i < pool->n; i++)
		if (!closed[i] && pool->conns[i]->tunnel && pool->conns[i]->tunnel->jump == c)
			return true;
	return false;
}

void
ssh_pool_free(struct ssh_pool *pool)
{
	if (pool == NULL)
		return;
	/* Targets before the jump hosts their tunnels run through. */
	bool *closed = xcalloc(pool->n + 1, sizeof(*closed));
	size_t left = pool->n;
	while (left > 0) {
		for (size_t i = 0; i < pool->n; i++) {
			if (closed[i] || carries_tunnels(pool, pool->conns[i], closed))
				continue;
			session_close(pool->conns[i]);
			closed[i] = true;
			left--;
		}
	}
	free(closed);
	for (size_t i = 0; i < pool->n; i++) {
		struct ssh_conn *c = pool->conns[i];
		pthread_mutex_destroy(&c->open_lock);
		pthread_mutex_destroy(&c->lock);
		free(c->id);
		free(c->name);
		free(c->where);
		free(c);
	}
	free(pool->conns);
	strmap_free(pool->by_id);
	pthread_mutex_destroy(&pool->lock);
	pthread_mutex_destroy(&pool->kh_lock);
	free(pool);
}
