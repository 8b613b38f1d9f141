/*
 * exec-sftp.c - `upload` and `download` over SFTP on the host's SSH session.
 *
 * A file is written to a temporary name beside its destination, synced,
 * given its mode, then renamed over the destination: a failure (or a
 * timeout, or a cancel) removes the temporary file and never leaves a
 * partial file at the destination. The result's output is one line with
 * the size and SHA-256 of what was written.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec.h"
#include "fault.h"
#include "ssh-conn.h"
#include "util.h"

#define XFER_CHUNK (32 * 1024)

struct xfer {
	struct ssh_conn *c;
	const struct exec_req *req;
	struct ssh_wait w;
	enum ssh_wait_result over;
	EVP_MD_CTX *md;
	uint64_t size;
};

static const char *
sftp_status(unsigned long code)
{
	switch (code) {
	case LIBSSH2_FX_NO_SUCH_FILE: return "no such file";
	case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
	case LIBSSH2_FX_NO_SUCH_PATH: return "no such directory";
	case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file exists";
	case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space left";
	case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
	case LIBSSH2_FX_WRITE_PROTECT: return "read-only file system";
	case LIBSSH2_FX_NOT_A_DIRECTORY: return "not a directory";
	case LIBSSH2_FX_FAILURE: return "failure";
	default: return "error";
	}
}

/* The message for a failed SFTP call (c->lock held). */
static char *
xfer_error(struct xfer *x, int rc, const char *what, const char *path)
{
	char *m, *inner;

	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && x->c->sftp)
		return xasprintf("%s: %s '%s': %s", x->c->where, what, path,
		    sftp_status(libssh2_sftp_last_error(x->c->sftp)));
	inner = xasprintf("%s '%s'", what, path);
	m = ssh_conn_error(x->c, rc, inner);
	free(inner);
	return m;
}

/* Loop a libssh2 call returning int while it says EAGAIN; rc, with x->over set when the wait ended. */
#define SFTP_CALL(x, rc, call) \
	do { \
		while (((rc) = (call)) == LIBSSH2_ERROR_EAGAIN && \
		    ((x)->over = ssh_conn_wait((x)->c, &(x)->w)) == SSH_WAIT_READY) \
			; \
	} while (0)

/* The SFTP channel of the connection, opened on first use (c->lock held). */
static int
sftp_channel(struct xfer *x, char **err)
{
	while (x->c->sftp == NULL) {
		x->c->sftp = libssh2_sftp_init(x->c->session);
		if (x->c->sftp)
			break;
		if (libssh2_session_last_errno(x->c->session) != LIBSSH2_ERROR_EAGAIN) {
			*err = ssh_conn_error(x->c, libssh2_session_last_errno(x->c->session),
			    "cannot start SFTP");
			return -1;
		}
		if ((x->over = ssh_conn_wait(x->c, &x->w)) != SSH_WAIT_READY)
			return -1;
	}
	return 0;
}

/* "DIR/.NAME.migrate-RANDOM" beside path. */
static char *
temp_beside(const char *path)
{
	char *d = xstrdup(path), *b = xstrdup(path);
	unsigned char r[6];
	char *t;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		memset(r, 0, sizeof(r));
	t = xasprintf("%s/.%s.migrate-%02x%02x%02x%02x%02x%02x", dirname(d), basename(b),
	    r[0], r[1], r[2], r[3], r[4], r[5]);
	free(d);
	free(b);
	return t;
}

static LIBSSH2_SFTP_HANDLE *
remote_open(struct xfer *x, const char *path, unsigned long flags, long mode)
{
	LIBSSH2_SFTP_HANDLE *h;

	for (;;) {
		h = libssh2_sftp_open_ex(x->c->sftp, path, (unsigned)strlen(path), flags, mode,
		    LIBSSH2_SFTP_OPENFILE);
		if (h || libssh2_session_last_errno(x->c->session) != LIBSSH2_ERROR_EAGAIN)
			return h;
		if ((x->over = ssh_conn_wait(x->c, &x->w)) != SSH_WAIT_READY)
			return NULL;
	}
}

static void
remote_close(struct xfer *x, LIBSSH2_SFTP_HANDLE *h)
{
	struct ssh_wait w = { now_ms() + 2000, -1 };

	while (libssh2_sftp_close_handle(h) == LIBSSH2_ERROR_EAGAIN && ssh_conn_wait(x->c, &w) == SSH_WAIT_READY)
		;
}

static void
remote_unlink(struct xfer *x, const char *path)
{
	struct ssh_wait w = { now_ms() + 2000, -1 };

	while (libssh2_sftp_unlink_ex(x->c->sftp, path, (unsigned)strlen(path)) == LIBSSH2_ERROR_EAGAIN &&
	    ssh_conn_wait(x->c, &w) == SSH_WAIT_READY)
		;
}

/* Write all of data to h. 0, or the libssh2 error. */
static int
remote_write(struct xfer *x, LIBSSH2_SFTP_HANDLE *h, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = libssh2_sftp_write(h, data, len);
		if (n == LIBSSH2_ERROR_EAGAIN) {
			if ((x->over = ssh_conn_wait(x->c, &x->w)) != SSH_WAIT_READY)
				return LIBSSH2_ERROR_EAGAIN;
			continue;
		}
		if (n < 0)
			return (int)n;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Local src to remote dest. 0, or -1 with *err (or x->over set). */
static int
upload(struct xfer *x, char **err)
{
	const char *src = x->req->xfer.src, *dest = x->req->xfer.dest;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	char *tmp = temp_beside(dest);
	char *chunk = xmalloc(XFER_CHUNK);
	struct stat st;
	long mode;
	int fd, rc, ret = -1;
	ssize_t n;

	fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		*err = xasprintf("cannot read '%s': %s", src, strerror(errno));
		goto cleanup;
	}
	mode = x->req->xfer.mode >= 0 ? x->req->xfer.mode : (long)(st.st_mode & 0777);
	if (x->req->xfer.mode < 0) {
		/* No mode given: an existing destination keeps its own. */
		SFTP_CALL(x, rc, libssh2_sftp_stat_ex(x->c->sftp, dest, (unsigned)strlen(dest),
		    LIBSSH2_SFTP_STAT, &attrs));
		if (rc == 0 && (attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS))
			mode = (long)(attrs.permissions & 07777);
		else if (rc == LIBSSH2_ERROR_EAGAIN)
			goto cleanup;
	}
	h = remote_open(x, tmp, LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, 0600);
	if (h == NULL) {
		if (x->over == SSH_WAIT_READY)
			*err = xfer_error(x, libssh2_session_last_errno(x->c->session), "cannot create", tmp);
		goto cleanup;
	}
	while ((n = read(fd, chunk, XFER_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = xasprintf("cannot read '%s': %s", src, strerror(errno));
			goto cleanup;
		}
		EVP_DigestUpdate(x->md, chunk, (size_t)n);
		x->size += (uint64_t)n;
		if ((rc = remote_write(x, h, chunk, (size_t)n)) != 0) {
			if (rc != LIBSSH2_ERROR_EAGAIN)
				*err = xfer_error(x, rc, "cannot write", tmp);
			goto cleanup;
		}
	}
	/* fsync@openssh.com: a server without it still gets the rename. */
	SFTP_CALL(x, rc, libssh2_sftp_fsync(h));
	if (rc == LIBSSH2_ERROR_EAGAIN)
		goto cleanup;
	memset(&attrs, 0, sizeof(attrs));
	attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
	attrs.permissions = (unsigned long)mode;
	SFTP_CALL(x, rc, libssh2_sftp_fsetstat(h, &attrs));
	if (rc != 0) {
		if (rc != LIBSSH2_ERROR_EAGAIN)
			*err = xfer_error(x, rc, "cannot set the mode of", tmp);
		goto cleanup;
	}
	remote_close(x, h);
	h = NULL;
	if (fault_now(FAULT_RENAME)) {
		*err = xasprintf("%s: cannot rename the upload to '%s': %s", x->c->where, dest, strerror(errno));
		goto cleanup;
	}
	SFTP_CALL(x, rc, libssh2_sftp_rename_ex(x->c->sftp, tmp, (unsigned)strlen(tmp), dest,
	    (unsigned)strlen(dest), LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
	    LIBSSH2_SFTP_RENAME_NATIVE));
	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL) {
		/* SFTPv3 servers refuse to rename over an existing file: remove it first. */
		remote_unlink(x, dest);
		SFTP_CALL(x, rc, libssh2_sftp_rename_ex(x->c->sftp, tmp, (unsigned)strlen(tmp), dest,
		    (unsigned)strlen(dest), 0));
	}
	if (rc != 0) {
		if (rc != LIBSSH2_ERROR_EAGAIN)
			*err = xfer_error(x, rc, "cannot rename the upload to", dest);
		goto cleanup;
	}
	free(tmp);
	tmp = NULL;
	ret = 0;
cleanup:
	if (h)
		remote_close(x, h);
	if (tmp && !x->c->dead)
		remote_unlink(x, tmp);
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(chunk);
	return ret;
}

/* Remote src to local dest. 0, or -1 with *err (or x->over set). */
static int
download(struct xfer *x, char **err)
{
	const char *src = x->req->xfer.src, *dest = x->req->xfer.dest;
	LIBSSH2_SFTP_ATTRIBUTES attrs;
	LIBSSH2_SFTP_HANDLE *h = NULL;
	char *tmp = NULL, *chunk = xmalloc(XFER_CHUNK);
	struct stat st;
	mode_t mode = 0644;
	int fd = -1, rc, ret = -1;
	ssize_t n;

	h = remote_open(x, src, LIBSSH2_FXF_READ, 0);
	if (h == NULL) {
		if (x->over == SSH_WAIT_READY)
			*err = xfer_error(x, libssh2_session_last_errno(x->c->session), "cannot open", src);
		goto cleanup;
	}
	SFTP_CALL(x, rc, libssh2_sftp_fstat_ex(h, &attrs, 0));
	if (rc == 0 && (attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS))
		mode = (mode_t)(attrs.permissions & 0777);
	if (stat(dest, &st) == 0)
		mode = st.st_mode & 07777;
	if (x->req->xfer.mode >= 0)
		mode = (mode_t)x->req->xfer.mode;
	{
		char *t = temp_beside(dest);
		tmp = xasprintf("%s", t);
		free(t);
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		*err = xasprintf("cannot create '%s': %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto cleanup;
	}
	for (;;) {
		n = libssh2_sftp_read(h, chunk, XFER_CHUNK);
		if (n == LIBSSH2_ERROR_EAGAIN) {
			if ((x->over = ssh_conn_wait(x->c, &x->w)) != SSH_WAIT_READY)
				goto cleanup;
			continue;
		}
		if (n < 0) {
			*err = xfer_error(x, (int)n, "cannot read", src);
			goto cleanup;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(x->md, chunk, (size_t)n);
		x->size += (uint64_t)n;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, chunk + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				*err = xasprintf("cannot write '%s': %s", tmp, strerror(errno));
				goto cleanup;
			}
			off += w;
		}
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		*err = xasprintf("cannot write '%s': %s", tmp, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (fault_rename(tmp, dest) < 0) {
		*err = xasprintf("cannot rename '%s' to '%s': %s", tmp, dest, strerror(errno));
		goto cleanup;
	}
	free(tmp);
	tmp = NULL;
	ret = 0;
cleanup:
	if (h)
		remote_close(x, h);
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(chunk);
	return ret;
}

static void
sftp_transfer(struct ssh_pool *pool, const struct exec_req *req, struct exec_result *res)
{
	int64_t start = now_ms();
	struct xfer x;
	char *err = NULL;
	bool up = req->kind == ACT_UPLOAD;
	int rc = -1;

	memset(&x, 0, sizeof(x));
	x.req = req;
	x.w.deadline = req->timeout_ms > 0 ? start + req->timeout_ms : 0;
	x.w.cancel_fd = req->cancel ? cancel_fd(req->cancel) : -1;
	res->exit_code = -1;
	x.c = ssh_pool_get(pool, req->target, &x.w, &err);
	if (x.c) {
		x.md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(x.md, EVP_sha256(), NULL);
		pthread_mutex_lock(&x.c->lock);
		if (sftp_channel(&x, &err) == 0)
			rc = up ? upload(&x, &err) : download(&x, &err);
		pthread_mutex_unlock(&x.c->lock);
	}
	if (rc == 0) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0;
		EVP_DigestFinal_ex(x.md, md, &mdlen);
		buf_addf(&res->out, "%s %s%s to %s%s: %llu bytes, sha256 ", up ? "uploaded" : "downloaded",
		    up ? "" : "remote ", req->xfer.src, up ? "remote " : "", req->xfer.dest,
		    (unsigned long long)x.size);
		for (unsigned i = 0; i < mdlen; i++)
			buf_addf(&res->out, "%02x", md[i]);
		buf_addc(&res->out, '\n');
		if (req->on_output)
			req->on_output(req->ctx, 1, res->out.data, res->out.len);
		res->status = EXEC_DONE;
		res->exit_code = 0;
	} else if (cancel_fired(req->cancel) || x.over == SSH_WAIT_CANCELLED) {
		res->status = EXEC_CANCELLED;
		free(err);
	} else if (x.over == SSH_WAIT_TIMEOUT || (x.w.deadline && now_ms() >= x.w.deadline)) {
		res->status = EXEC_TIMEOUT;
		free(err);
	} else {
		res->status = EXEC_ERROR;
		res->error = err ? err : xstrdup("transfer failed");
	}
	EVP_MD_CTX_free(x.md);
	res->duration_ms = now_ms() - start;
}

static int
sftp_start(struct exec_ctx *ctx, const struct exec_req *req, void **opp, char **err)
{
	struct ssh_op *op = xcalloc(1, sizeof(*op));

	sftp_transfer(exec_ssh_pool(ctx), req, &op->res);
	*opp = op;
	return 0;
}

static const struct exec_ops sftp_ops = {
	.name = "sftp",
	.start = sftp_start,
	.wait_on = ssh_op_wait_on,
	.advance = ssh_op_advance,
	.cancel = ssh_op_cancel,
	.finish = ssh_op_finish,
};

void
exec_sftp_init(struct exec_ctx *ctx)
{
	exec_ssh_pool(ctx);
	exec_register(ctx, ACT_UPLOAD, true, &sftp_ops);
	exec_register(ctx, ACT_DOWNLOAD, true, &sftp_ops);
}
