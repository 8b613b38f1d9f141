#include "duration.h"

#include <ctype.h>
#include <string.h>

static int
unit_ms(const char *u, size_t len, int64_t *mult, int *rank)
{
	static const struct { const char *name; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strlen(units[i].name) == len && strncmp(units[i].name, u, len) == 0) {
			*mult = units[i].ms;
			*rank = (int)i;
			return 0;
		}
	}
	return -1;
}

int
duration_parse(const char *s, int64_t *ms)
{
	int64_t total = 0;
	int last_rank = -1;
	const char *p = s;

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	while (*p) {
		int64_t n = 0, mult;
		int rank;
		const char *u;

		if (!isdigit((unsigned char)*p))
			return -1;
		while (isdigit((unsigned char)*p)) {
			n = n * 10 + (*p - '0');
			if (n > DURATION_MAX_MS)
				return -1;
			p++;
		}
		u = p;
		while (isalpha((unsigned char)*p))
			p++;
		if (p == u || unit_ms(u, (size_t)(p - u), &mult, &rank) < 0)
			return -1;
		if (rank <= last_rank)
			return -1;
		last_rank = rank;
		if (n > DURATION_MAX_MS / mult)
			return -1;
		total += n * mult;
		if (total > DURATION_MAX_MS)
			return -1;
	}
	*ms = total;
	return 0;
}

void
duration_format(struct buf *out, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms < 1000)
		buf_addf(out, "%lldms", (long long)ms);
	else if (ms < 60000)
		buf_addf(out, "%lld.%llds", (long long)(ms / 1000), (long long)(ms % 1000 / 100));
	else if (ms < 3600000)
		buf_addf(out, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
	else
		buf_addf(out, "%lldh%02lldm", (long long)(ms / 3600000), (long long)(ms % 3600000 / 60000));
}

void
duration_format_exact(struct buf *out, int64_t ms)
{
	static const struct { const char *name; int64_t ms; } units[] = {
		{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 },
		{ "s", 1000 }, { "ms", 1 },
	};
	if (ms <= 0) {
		buf_adds(out, "0");
		return;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (ms >= units[i].ms) {
			buf_addf(out, "%lld%s", (long long)(ms / units[i].ms), units[i].name);
			ms %= units[i].ms;
		}
	}
}
