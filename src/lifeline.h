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
#include <sys/types.h>

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

/*
 * The lifeline of local commands (SPEC §4). The wrapper above costs
 * several processes per command, which is a lot beside a local `sh -s`;
 * locally the same promise is kept by one watcher process per run: a fork
 * of migrate (no exec), in its own session, with /dev/null as stdio and
 * no descriptor of ours but one end of a socket pair whose other end only
 * migrate holds (close-on-exec). Each command's process group is added
 * when it starts and removed before it is reaped. When the socket reaches
 * end of file without the watcher having been stopped (migrate died,
 * even by SIGKILL), it sends SIGTERM to every group still listed, and
 * SIGKILL LIFELINE_GRACE_MS later to those still there. The cost is one
 * fork per run and two 8-byte messages per command.
 *
 * Several threads may add and remove at once (each message is one
 * datagram). At most LIFELINE_MAX_GROUPS groups are listed at a time;
 * beyond that a group runs unwatched.
 */
#define LIFELINE_GRACE_MS 5000
#define LIFELINE_MAX_GROUPS 4096
struct lifeline_watch;
/* Start the watcher; NULL with errno set when it cannot be started. */
struct lifeline_watch *lifeline_watch_new(void);
void lifeline_watch_add(struct lifeline_watch *w, pid_t pgid);
void lifeline_watch_remove(struct lifeline_watch *w, pid_t pgid);
/* Stop the watcher without touching any group, and free w (NULL is fine). */
void lifeline_watch_free(struct lifeline_watch *w);

/*
 * This boot of this machine (/proc/sys/kernel/random/boot_id), malloc'ed;
 * NULL when unknown. A process group id means something only with it.
 */
char *lifeline_boot_id(void);
/*
 * Is process group pgid, recorded under boot_id, still there? false when
 * boot_id is not this boot's (the machine restarted, or it was another
 * machine: the group cannot be checked from here).
 */
bool lifeline_group_alive(pid_t pgid, const char *boot_id);

#endif
