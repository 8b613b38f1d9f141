#!/usr/bin/python3
"""tty-drive.py - run a command on a new pseudo-terminal, as a person would.

Usage: tty-drive.py [options] -- COMMAND [ARG...]

The command runs in a new session whose controlling terminal is the slave
side of a fresh pty (stdin, stdout and stderr are that terminal, and
/dev/tty opens it). Everything the command writes is recorded.

Options:
  --expect TEXT --send LINE   when TEXT has appeared in the output (after the
                              previous expected text), type LINE and Enter.
                              Repeatable; the pairs are used in order.
                              --send may be a control character written as
                              ^C, ^D, ... (sent without Enter).
  --out FILE                  write the captured bytes to FILE (default:
                              standard output).
  --timeout SECONDS           hang guard for the whole run (default 60): the
                              command's process group is killed and the
                              driver exits 124.
  --think SECONDS             wait this long before typing each answer (an
                              operator who takes time to decide; default 0).

The terminal's output post-processing (ONLCR) is turned off, so the capture
holds exactly the bytes the command wrote ("\\n" is not turned into
"\\r\\n"); echo stays on, as on a real terminal, so typed answers appear in
the capture. The window is 24 rows by 100 columns. An answer is typed once
the expected text has appeared and the command's main thread is asleep
(waiting for input; read from /proc/PID/stat).

Exit status: the command's (128+N if it was killed by signal N), 124 on
timeout, 125 if an expected text never appeared (the capture is still
written), 126/127 if the command could not be run, 2 on a usage error.
Only the Python standard library is used.
"""

import errno
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def usage(msg):
    sys.stderr.write("tty-drive: %s\n" % msg)
    sys.stderr.write("usage: tty-drive.py [--expect TEXT --send LINE]... "
                     "[--out FILE] [--timeout SECONDS] -- COMMAND [ARG...]\n")
    sys.exit(2)


def parse(argv):
    script = []          # [(expect bytes, send bytes)]
    out = None
    timeout = 60.0
    think = 0.0
    pending = None
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if a in ("--expect", "--send", "--out", "--timeout", "--think"):
            if i + 1 >= len(argv):
                usage("%s needs a value" % a)
            v = argv[i + 1]
            i += 2
            if a == "--expect":
                if pending is not None:
                    usage("--expect without --send")
                pending = v.encode()
            elif a == "--send":
                if pending is None:
                    usage("--send without a preceding --expect")
                if len(v) == 2 and v[0] == "^" and "@" <= v[1].upper() <= "_":
                    data = bytes([ord(v[1].upper()) - 64])
                else:
                    data = v.encode() + b"\n"
                script.append((pending, data))
                pending = None
            elif a == "--out":
                out = v
            elif a == "--think":
                try:
                    think = float(v)
                except ValueError:
                    usage("--think wants a number of seconds")
            else:
                try:
                    timeout = float(v)
                except ValueError:
                    usage("--timeout wants a number of seconds")
            continue
        usage("unknown option '%s'" % a)
    if pending is not None:
        usage("--expect without --send")
    cmd = argv[i:]
    if not cmd:
        usage("no command")
    return script, out, timeout, think, cmd


def child(cmd):
    # Runs in the child of pty.fork(): a new session, the pty slave is the
    # controlling terminal and fds 0, 1 and 2.
    try:
        attrs = termios.tcgetattr(0)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(0, termios.TCSANOW, attrs)
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    except OSError:
        pass
    try:
        os.execvp(cmd[0], cmd)
    except OSError as e:
        os.write(2, ("tty-drive: cannot run %s: %s\n" % (cmd[0], e.strerror)).encode())
        os._exit(127 if e.errno == errno.ENOENT else 126)


def kill_all(pid):
    # The child is a session and process group leader; its group holds the
    # command and whatever it started in the same group.
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for target in (lambda s: os.killpg(pid, s), lambda s: os.kill(pid, s)):
            try:
                target(sig)
            except OSError:
                pass
        if sig == signal.SIGTERM:
            time.sleep(0.5)


def wait_until_reading(pid, deadline):
    # Type only once the command is waiting for input, as a person would:
    # its main thread asleep (in the read of its prompt) after the expected
    # text arrived. Input typed earlier would be queued by the terminal and
    # read all the same, but a control character like ^C raises its signal
    # at once, and could land between the prompt and the read. Without
    # /proc, pause briefly instead.
    end = min(deadline, time.monotonic() + 5.0)
    while time.monotonic() < end:
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            time.sleep(0.3)
            return
        if state == b"S":
            return
        time.sleep(0.01)


def status_of(ws):
    if os.WIFEXITED(ws):
        return os.WEXITSTATUS(ws)
    if os.WIFSIGNALED(ws):
        return 128 + os.WTERMSIG(ws)
    return 1


def main():
    script, out, timeout, think, cmd = parse(sys.argv[1:])
    pid, fd = pty.fork()
    if pid == 0:
        child(cmd)
        os._exit(127)

    captured = bytearray()
    searched_from = 0       # expected texts are looked for after this offset
    deadline = time.monotonic() + timeout
    status = None           # exit status once the child has been reaped
    drain_until = None      # after the child exits: read what is left, briefly
    timed_out = False
    eof = False

    while not eof:
        now = time.monotonic()
        if now >= deadline:
            timed_out = status is None
            break
        if status is None:
            try:
                wpid, ws = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                wpid, ws = pid, 0
            if wpid == pid:
                status = status_of(ws)
                # something it left behind may hold the terminal open:
                # read for at most 2 s more, stop after 0.3 s of silence
                drain_until = min(now + 2.0, deadline)
        if drain_until is not None and now >= drain_until:
            break
        wait = 0.1 if drain_until is None else 0.3
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            if drain_until is not None:
                break
            continue
        try:
            data = os.read(fd, 65536)
        except OSError as e:
            if e.errno != errno.EIO:     # EIO: the last slave fd closed
                raise
            data = b""
        if not data:
            eof = True
            break
        captured += data
        while script:
            want, answer = script[0]
            at = captured.find(want, searched_from)
            if at < 0:
                break
            searched_from = at + len(want)
            script.pop(0)
            wait_until_reading(pid, deadline)
            if think > 0:
                time.sleep(min(think, max(0.0, deadline - time.monotonic())))
            os.write(fd, answer)

    if timed_out:
        kill_all(pid)
        sys.stderr.write("tty-drive: %s did not finish within %g s; killed\n" % (cmd[0], timeout))
    if status is None:
        # the terminal closed (or time ran out): reap the child, bounded
        end = time.monotonic() + max(1.0, min(10.0, deadline - time.monotonic()))
        while status is None:
            try:
                wpid, ws = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                wpid, ws = pid, 0
            if wpid == pid:
                status = status_of(ws)
            elif time.monotonic() >= end:
                kill_all(pid)
                try:
                    status = status_of(os.waitpid(pid, 0)[1])
                except ChildProcessError:
                    status = 1
                timed_out = True
            else:
                time.sleep(0.05)
    os.close(fd)

    if out is None:
        sys.stdout.buffer.write(bytes(captured))
        sys.stdout.buffer.flush()
    else:
        with open(out, "wb") as f:
            f.write(bytes(captured))

    if timed_out:
        sys.exit(124)
    if script:
        sys.stderr.write("tty-drive: never saw %r; nothing typed for it\n" % script[0][0].decode(errors="replace"))
        sys.exit(125)
    sys.exit(status)


if __name__ == "__main__":
    main()
