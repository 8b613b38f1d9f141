/* ssh-config.c - hosts of ~/.ssh/config (see ssh-config.h). */
#include "ssh-config.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "util.h"

static char *
expand_home(const char *v)
{
	const char *home = getenv("HOME");

	if (v[0] == '~' && v[1] == '/' && home)
		return xasprintf("%s%s", home, v + 1);
	return xstrdup(v);
}

/* Does a Host line's pattern list match name? *exact: a pattern without wildcards names it. */
static bool
host_matches(char *patterns, const char *name, bool *exact)
{
	bool match = false;
	char *save = NULL;

	for (char *p = strtok_r(patterns, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		bool neg = p[0] == '!';
		if (neg)
			p++;
		if (fnmatch(p, name, 0) != 0)
			continue;
		if (neg)
			return false;
		match = true;
		if (strpbrk(p, "*?") == NULL)
			*exact = true;
	}
	return match;
}

bool
ssh_config_lookup(const char *file, const char *name, struct ssh_config_host *out)
{
	char *path = file ? xstrdup(file) : NULL, *line = NULL;
	const char *home = getenv("HOME");
	bool in_block = true, exact = false;
	size_t cap = 0;
	FILE *fp;

	memset(out, 0, sizeof(*out));
	if (path == NULL) {
		if (home == NULL)
			return false;
		path = xasprintf("%s/.ssh/config", home);
	}
	fp = fopen(path, "re");
	free(path);
	if (fp == NULL)
		return false;
	while (getline(&line, &cap, fp) > 0) {
		char *k = line, *v, *end;
		while (*k == ' ' || *k == '\t')
			k++;
		if (*k == '#' || *k == '\n' || *k == '\0')
			continue;
		v = k + strcspn(k, " \t=");
		if (*v)
			*v++ = '\0';
		while (*v == ' ' || *v == '\t' || *v == '=')
			v++;
		end = v + strlen(v);
		while (end > v && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (strcasecmp(k, "Host") == 0) {
			in_block = host_matches(v, name, &exact);
			continue;
		}
		if (strcasecmp(k, "Match") == 0) {
			in_block = false;   /* Match criteria are not evaluated */
			continue;
		}
		if (!in_block || *v == '\0')
			continue;
		if (v[0] == '"' && end > v + 1 && end[-1] == '"') {
			end[-1] = '\0';
			v++;
		}
		if (strcasecmp(k, "HostName") == 0 && out->hostname == NULL)
			out->hostname = xstrdup(v);
		else if (strcasecmp(k, "User") == 0 && out->user == NULL)
			out->user = xstrdup(v);
		else if (strcasecmp(k, "Port") == 0 && out->port == 0)
			out->port = atoi(v);
		else if (strcasecmp(k, "IdentityFile") == 0 && out->identity == NULL)
			out->identity = expand_home(v);
		else if (strcasecmp(k, "ProxyJump") == 0 && out->proxyjump == NULL && strcasecmp(v, "none") != 0)
			out->proxyjump = xstrdup(v);
	}
	free(line);
	fclose(fp);
	if (!exact)
		ssh_config_host_release(out);
	return exact;
}

void
ssh_config_host_release(struct ssh_config_host *h)
{
	if (h == NULL)
		return;
	free(h->hostname);
	free(h->user);
	free(h->identity);
	free(h->proxyjump);
	memset(h, 0, sizeof(*h));
}
