/*
 * cancel.c - cancel tokens (see cancel.h).
 *
 * The tokens of one tree share one mutex, which guards the links between
 * them and their reasons; `fired` is atomic so cancel_fired() takes no
 * lock. Each token has an eventfd that becomes readable when it fires and
 * stays so (nobody reads it).
 */
#include "cancel.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util.h"

struct cancel_tree {
	pthread_mutex_t lock;
	size_t refs;             /* tokens in the tree; under lock */
};

struct cancel_token {
	struct cancel_tree *tree;
	struct cancel_token *parent;
	struct cancel_token **children;
	size_t n_children, cap_children;
	atomic_bool fired;
	char *reason;
	int fd;
};

static int
make_eventfd(void)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0) {
		fprintf(stderr, "migrate: cannot create an eventfd: %s\n", strerror(errno));
		abort();
	}
	return fd;
}

/* Under the tree's lock. */
static void
fire_locked(struct cancel_token *tok, const char *reason)
{
	uint64_t one = 1;
	ssize_t w;

	if (tok->reason == NULL && reason)
		tok->reason = xstrdup(reason);
	if (!atomic_load(&tok->fired)) {
		atomic_store(&tok->fired, true);
		do
			w = write(tok->fd, &one, sizeof(one));
		while (w < 0 && errno == EINTR);
	}
	for (size_t i = 0; i < tok->n_children; i++)
		fire_locked(tok->children[i], tok->reason);
}

struct cancel_token *
cancel_new(struct cancel_token *parent)
{
	struct cancel_token *tok = xcalloc(1, sizeof(*tok));

	atomic_init(&tok->fired, false);
	tok->fd = make_eventfd();
	if (parent == NULL) {
		tok->tree = xcalloc(1, sizeof(*tok->tree));
		pthread_mutex_init(&tok->tree->lock, NULL);
		tok->tree->refs = 1;
		return tok;
	}
	tok->tree = parent->tree;
	pthread_mutex_lock(&tok->tree->lock);
	tok->tree->refs++;
	tok->parent = parent;
	PUSH(parent->children, parent->n_children, parent->cap_children, tok);
	if (atomic_load(&parent->fired))
		fire_locked(tok, parent->reason);
	pthread_mutex_unlock(&tok->tree->lock);
	return tok;
}

void
cancel_free(struct cancel_token *tok)
{
	struct cancel_tree *tree;
	bool last;

	if (tok == NULL)
		return;
	tree = tok->tree;
	pthread_mutex_lock(&tree->lock);
	if (tok->parent) {
		struct cancel_token *p = tok->parent;
		for (size_t i = 0; i < p->n_children; i++) {
			if (p->children[i] == tok) {
				p->children[i] = p->children[--p->n_children];
				break;
			}
		}
	}
	for (size_t i = 0; i < tok->n_children; i++)
		tok->children[i]->parent = NULL;
	last = --tree->refs == 0;
	pthread_mutex_unlock(&tree->lock);
	if (last) {
		pthread_mutex_destroy(&tree->lock);
		free(tree);
	}
	close(tok->fd);
	free(tok->children);
	free(tok->reason);
	free(tok);
}

void
cancel_fire(struct cancel_token *tok, const char *reason)
{
	pthread_mutex_lock(&tok->tree->lock);
	fire_locked(tok, reason);
	pthread_mutex_unlock(&tok->tree->lock);
}

bool
cancel_fired(const struct cancel_token *tok)
{
	return tok && atomic_load(&tok->fired);
}

int
cancel_fd(const struct cancel_token *tok)
{
	return tok->fd;
}

char *
cancel_reason(const struct cancel_token *tok)
{
	char *r = NULL;

	if (tok == NULL || !atomic_load(&tok->fired))
		return NULL;
	pthread_mutex_lock(&tok->tree->lock);
	if (tok->reason)
		r = xstrdup(tok->reason);
	pthread_mutex_unlock(&tok->tree->lock);
	return r;
}

bool
cancel_wait(const struct cancel_token *tok, int64_t ms)
{
	int64_t end = now_ms() + (ms < 0 ? 0 : ms);

	for (;;) {
		struct pollfd p = { tok ? tok->fd : -1, POLLIN, 0 };
		int64_t left = end - now_ms();
		int r;

		if (cancel_fired(tok))
			return true;
		if (ms >= 0 && left <= 0)
			return false;
		/* poll() ignores a negative fd, so without a token this is a plain sleep */
		r = poll(&p, 1, ms < 0 ? -1 : left > 60000 ? 60000 : (int)left);
		if (r < 0 && errno != EINTR)
			return cancel_fired(tok);
	}
}
