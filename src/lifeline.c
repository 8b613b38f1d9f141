/* lifeline.c - the process-group wrapper of SPEC §5 (see lifeline.h). */
#include "lifeline.h"

#include <stdlib.h>
#include <string.h>

#include "interp.h"

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
