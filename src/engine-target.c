/*
 * engine-target.c - resolving where each unit runs: from the runbook's
 * hosts: (and the secrets) to the struct exec_target the executors get,
 * so no executor reads the runbook.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "ssh-config.h"
#include "strmap.h"
#include "util.h"

static char *
expand_field(struct run *run, const struct text *t, char **err)
{
	struct buf b = BUF_INIT;

	if (t->s == NULL)
		return NULL;
	if (run_expand(run, NULL, t, false, &b, err) < 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

static struct exec_target *
target_find(struct run *run, const char *name)
{
	size_t i = run->target_index ? strmap_get(run->target_index, name) : STRMAP_NONE;

	return i == STRMAP_NONE ? NULL : &run->targets[i];
}

/*
 * The target named name with the fields of host h (NULL: a bare name),
 * reached at address. The array was sized up front: pointers stay valid.
 */
static struct exec_target *target_add(struct run *run, const char *name, const char *address,
    const struct host *h, int depth, char **err);

/*
 * Fill what the runbook left unset from ~/.ssh/config's Host entry for
 * t's address (HostName, User, Port, IdentityFile, ProxyJump): the
 * runbook's fields win.
 */
static void
target_ssh_config(struct run *run, struct exec_target *t, int depth, char **err)
{
	struct ssh_config_host sc;
	struct exec_target *prev = NULL;
	char *list, *save = NULL;

	if (!ssh_config_lookup(NULL, t->address, &sc))
		return;
	if (sc.hostname) {
		free((char *)t->address);
		t->address = sc.hostname;
		sc.hostname = NULL;
	}
	if (t->user == NULL) {
		t->user = sc.user;
		sc.user = NULL;
	}
	if (t->port == 0)
		t->port = sc.port;
	if (t->key_file == NULL) {
		t->key_file = sc.identity;
		sc.identity = NULL;
	}
	/* ProxyJump a,b: through a, then b, then t */
	list = sc.proxyjump;
	for (char *hop = list ? strtok_r(list, ",", &save) : NULL; hop && t->via == NULL && *err == NULL;
	    hop = strtok_r(NULL, ",", &save)) {
		char *at = strchr(hop, '@'), *host = at ? at + 1 : hop, *colon = strrchr(host, ':');
		struct exec_target *j;
		if (colon)
			*colon = '\0';
		if (depth > 16) {
			*err = xasprintf("host '%s': the ProxyJump chain is too long", t->name);
			break;
		}
		j = target_add(run, host, host, runbook_host(run->rb, host), depth + 1, err);
		if (j == NULL || j == t)
			break;
		if (at && j->user == NULL)
			j->user = xstrndup(hop, (size_t)(at - hop));
		if (colon && j->port == 0)
			j->port = atoi(colon + 1);
		if (prev && j->via == NULL)
			j->via = prev;
		prev = j;
		if (save == NULL || *save == '\0')
			t->via = prev;
	}
	ssh_config_host_release(&sc);
}

static struct exec_target *
target_add(struct run *run, const char *name, const char *address, const struct host *h,
    int depth, char **err)
{
	struct exec_target *t = target_find(run, name);

	if (t)
		return t;
	if (run->n_targets == run->cap_targets) {
		/* only a ProxyJump chain of ~/.ssh/config names outside hosts: can get here */
		if (*err == NULL)
			*err = xasprintf("host '%s': too many hosts reached through ProxyJump", name);
		return NULL;
	}
	t = &run->targets[run->n_targets++];
	memset(t, 0, sizeof(*t));
	t->name = xstrdup(name);
	strmap_put(run->target_index, t->name, run->n_targets - 1);
	t->address = xstrdup(address);
	t->sudo = -1;
	if (h == NULL) {
		target_ssh_config(run, t, depth, err);
		return t;
	}
	t->port = h->port;
	t->sudo = h->sudo;
	t->connect_timeout_ms = h->connect_timeout_ms;
	t->user = expand_field(run, &h->user, err);
	if (*err == NULL)
		t->key_file = expand_field(run, &h->key, err);
	if (*err == NULL)
		t->passphrase = expand_field(run, &h->passphrase, err);
	if (*err == NULL)
		t->known_hosts = expand_field(run, &h->known_hosts, err);
	if (*err == NULL && h->via) {
		const struct host *j = runbook_host(run->rb, h->via);
		/* the loader refuses via cycles; depth only guards against a bug */
		if (depth > 16)
			*err = xasprintf("host '%s': the via chain is too long", name);
		else
			t->via = target_add(run, h->via, j && j->address.s ? j->address.s : h->via,
			    j, depth + 1, err);
	}
	if (*err == NULL)
		target_ssh_config(run, t, depth, err);
	return t;
}

void
targets_free(struct run *run)
{
	for (size_t i = 0; i < run->n_targets; i++) {
		struct exec_target *t = &run->targets[i];
		free((char *)t->name);
		free((char *)t->address);
		free((char *)t->user);
		free((char *)t->key_file);
		if (t->passphrase)
			explicit_bzero((char *)t->passphrase, strlen(t->passphrase));
		free((char *)t->passphrase);
		free((char *)t->known_hosts);
	}
	free(run->targets);
	run->targets = NULL;
	run->n_targets = run->cap_targets = 0;
	strmap_free(run->target_index);
	run->target_index = NULL;
	for (size_t i = 0; i < run->n_units; i++)
		run->units[i].target = NULL;
}

int
run_resolve_targets(struct run *run, char **err)
{
	const struct runbook *rb = run->rb;

	*err = NULL;
	targets_free(run);
	size_t members = 0;

	for (size_t i = 0; i < rb->n_hosts; i++)
		members += rb->hosts[i].n_addresses + rb->hosts[i].n_members;
	/* units' hosts, plus every host by name (probes' and rollbacks' on:, via) and group member */
	run->cap_targets = 2 * (run->n_units + rb->n_hosts + members) + 16;
	run->targets = xcalloc(run->cap_targets, sizeof(*run->targets));
	run->target_index = strmap_create(run->cap_targets);
	for (size_t i = 0; i < run->n_units && *err == NULL; i++) {
		struct unit *u = &run->units[i];
		const struct host *h;

		if (strcmp(u->host, "local") == 0)
			continue;
		/* a member of an addresses: group is named by its address and has the group's fields */
		h = runbook_host(rb, u->host);
		if (h == NULL || h->n_addresses > 0 || h->n_members > 0)
			h = u->step->on ? runbook_host(rb, u->step->on) : NULL;
		if (h && h->n_members > 0)
			h = NULL;
		u->target = target_add(run, u->host, u->address, h, 0, err);
	}
	/* single hosts named by a probe's or a rollback's on: */
	for (size_t i = 0; i < rb->n_hosts && *err == NULL; i++) {
		const struct host *h = &rb->hosts[i];
		if (h->address.s)
			target_add(run, h->name, h->address.s, h, 0, err);
	}
	/* the members of groups a probe's or a rollback's on: names, as units name them */
	for (size_t i = 0; i < rb->n_hosts && *err == NULL; i++) {
		const struct host *h = &rb->hosts[i];
		for (size_t j = 0; j < h->n_addresses && *err == NULL; j++)
			target_add(run, h->addresses[j].s, h->addresses[j].s, h, 0, err);
		for (size_t j = 0; j < h->n_members && *err == NULL; j++) {
			const struct host *m = runbook_host(rb, h->members[j]);
			target_add(run, h->members[j], m && m->address.s ? m->address.s : h->members[j], m, 0, err);
		}
	}
	return *err ? -1 : 0;
}

const struct exec_target *
run_target(struct run *run, const char *name)
{
	struct exec_target *t;

	if (name == NULL || strcmp(name, "local") == 0)
		return &exec_target_local;
	t = target_find(run, name);
	return t ? t : &exec_target_local;
}

size_t
run_group_targets(struct run *run, const char *on, const struct exec_target ***out)
{
	const struct host *h = on ? runbook_host(run->rb, on) : NULL;
	size_t n;

	*out = NULL;
	if (h == NULL || (h->n_addresses == 0 && h->n_members == 0))
		return 0;
	n = h->n_addresses > 0 ? h->n_addresses : h->n_members;
	*out = xcalloc(n, sizeof(**out));
	for (size_t i = 0; i < n; i++)
		(*out)[i] = run_target(run, h->n_addresses > 0 ? h->addresses[i].s : h->members[i]);
	return n;
}

void
member_why(struct buf *out, const struct exec_target *t, const struct buf *why)
{
	const char *w = buf_str(why);
	size_t n = strlen(t->name);

	/* "HOST (user@addr:port): ..." from the SSH executor already names it */
	if (!(strncmp(w, t->name, n) == 0 && w[n] == ' '))
		buf_addf(out, "on %s: ", t->name);
	buf_adds(out, w);
}
