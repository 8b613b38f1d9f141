/*
 * fuzz-runbook.c - libFuzzer target: hostile bytes as a runbook, through
 * everything that runs before a run touches the world: load (libyaml and
 * the line table), validate, the injection warnings, interpolation of
 * every text with every filter, and the plan (text and JSON); then the
 * same bytes through the secret masker, whole and as a stream.
 *
 * Built with -Dfuzz=true (clang). Crashes, leaks, sanitizer reports and
 * hangs are the findings; diagnostics are expected and ignored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "engine.h"
#include "interp.h"
#include "mask.h"
#include "plan.h"
#include "runbook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void
remove_input(void)
{
	if (path[0])
		unlink(path);
}

/* The input as a file: runbook_load reads a path (as the command line does). */
static int
write_input(const uint8_t *data, size_t size)
{
	static int fd = -1;

	if (fd < 0) {
		const char *tmp = getenv("TMPDIR");
		snprintf(path, sizeof(path), "%s/fuzz-runbook-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
		fd = mkstemp(path);
		if (fd < 0)
			abort();
		atexit(remove_input);
	}
	if (ftruncate(fd, 0) < 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
	return 0;
}

static void
discard(void *ctx, const char *d, size_t len)
{
	(void)ctx;
	(void)d;
	(void)len;
}

static int
name_lookup(void *ctx, const struct interp_ref *ref, struct buf *out, bool *secret, char **err)
{
	(void)ctx;
	(void)err;
	*secret = ref->ns == REF_SECRET;
	buf_adds(out, ref->name);
	buf_adds(out, "'\"$(x)`;\n\xc3\xa9\xff");
	if (ref->name2)
		buf_adds(out, ref->name2);
	return 0;
}

static void
expand_text(void *ctx, const struct text *t, const struct step *step, const char *field)
{
	struct buf out = BUF_INIT;
	char *err = NULL;
	size_t off = 0;

	(void)ctx;
	(void)step;
	(void)field;
	interp_expand(t->s, name_lookup, NULL, &out, NULL, &err, &off);
	free(err);
	buf_release(&out);
}

static void
fuzz_runbook(void)
{
	struct diags d = DIAGS_INIT, w = DIAGS_INIT;
	struct engine_opts eo;
	struct runbook *rb = runbook_load(path, NULL, 0, &d);
	struct run *run;
	char *err = NULL;

	diags_release(&d);
	if (rb == NULL)
		return;
	runbook_warnings(rb, &w);
	diags_release(&w);
	runbook_foreach_text(rb, expand_text, NULL);
	memset(&eo, 0, sizeof(eo));
	run = run_create(rb, &eo, NULL, &err);
	if (run) {
		plan_write_text(run, false, discard, NULL);
		plan_write_json(run, discard, NULL);
		run_free(run);
	}
	free(err);
	runbook_free(rb);
}

/* The first byte picks a secret's length; the secret is masked out of the rest, whole and in chunks. */
static void
fuzz_mask(const uint8_t *data, size_t size)
{
	struct mask *m;
	struct mask_stream ms;
	struct buf whole = BUF_INIT, streamed = BUF_INIT;
	size_t k;

	if (size < 2)
		return;
	k = MASK_MIN_SECRET + data[0] % 13;
	if (1 + k > size)
		return;
	m = mask_new();
	mask_add(m, (const char *)data + 1, k);
	buf_add(&whole, data + 1 + k, size - 1 - k);
	mask_stream_init(&ms, m);
	for (size_t at = 1 + k, step = 1 + data[0] % 7; at < size; at += step)
		mask_stream_feed(&ms, (const char *)data + at, size - at < step ? size - at : step, &streamed);
	mask_stream_finish(&ms, &streamed);
	mask_stream_release(&ms);
	mask_text(m, &whole);
	/* a stream cut anywhere is masked as the whole text is */
	if (whole.len != streamed.len || (whole.len && memcmp(whole.data, streamed.data, whole.len) != 0))
		abort();
	buf_release(&whole);
	buf_release(&streamed);
	mask_free(m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	write_input(data, size);
	fuzz_runbook();
	fuzz_mask(data, size);
	return 0;
}
