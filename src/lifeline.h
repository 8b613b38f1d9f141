/*
 * lifeline.h - the fixed POSIX-sh wrapper that runs a step's script in its
 * own process group and stops that group when its "lifeline" breaks
 * (SPEC §5, and §4 for local commands).
 *
 * The wrapper is run as `sh -c LIFELINE_WRAPPER` (over SSH: as the exec
 * command, see lifeline_command). Its standard input carries, in order:
 *
 *   "<N> <S>\n"   N: length in bytes of the payload; S: 1 to run under sudo -n
 *   payload       N bytes: `export NAME='value'` lines, `cd 'DIR' || exit 1`,
 *                 then the step's script; all of it goes to `sh -s` (or
 *                 `sudo -n sh -s`) on its standard input, never in argv
 *   lifeline      the rest of stdin: nothing is ever sent on it; when it
 *                 reaches end of file (the caller closed it, or the
 *                 connection died) the wrapper sends SIGTERM to the
 *                 script's process group and SIGKILL 5 s later.
 *
 * The exit status is the script's (125: bad framing; 126: no setsid on the
 * host). The wrapper holds no step text and no secret; a secret lives only
 * in the payload, in memory of the wrapper shell and in the environment of
 * the script's shell (not in any argv).
 */
#ifndef MIGRATE_LIFELINE_H
#define MIGRATE_LIFELINE_H

#include <stdbool.h>

#include "buf.h"

/* The wrapper's text: a POSIX sh program without single quotes. */
extern const char LIFELINE_WRAPPER[];

/* The exec command for a remote session: sh -c '<wrapper>'. Static. */
const char *lifeline_command(void);

/*
 * Append the framed input of the wrapper to out: header and payload.
 * env: NULL-terminated "NAME=VALUE" (names that are not shell identifiers
 * are skipped; a later entry wins, as in the environment); workdir: NULL
 * for the login directory. The caller keeps the stream open afterwards as
 * the lifeline. out holds secrets: release it with lifeline_wipe.
 */
void lifeline_frame(struct buf *out, const char *script, const char *const *env,
    const char *workdir, bool sudo);
/* Zero and release a buffer that held a frame. */
void lifeline_wipe(struct buf *b);

#endif
