#!/bin/bash
# SSH hosts against real OpenSSH sshd servers on 127.0.0.1 (sshd-lib.sh):
# remote steps, captures and rollbacks, host keys, authentication, groups,
# jump hosts, SFTP, timeouts and faults.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/cli/sshd-lib.sh"
sshd_need

sshd_start a
sshd_start b
sshd_start c
for n in a b c; do sshd_known "$n"; done
ST="$T/state"

# remote_ps: the argument lists of every process of the test user (as root: the remote side).
remote_ps() { ps -u "$SSH_USER" -o args= 2>/dev/null; }
no_remote_left() { # PATTERN: wait up to 12 s until no process of the test user matches
	for _ in $(seq 120); do remote_ps | grep -q -- "$1" || return 0; sleep 0.1; done
	return 1
}

# ---- run, capture and rollback on one host ----
cat >one.yaml <<YAML
runbook: 1
name: ssh-one
$(hosts_yaml a)
vars:
  dir: $REMOTE
phases:
  - name: p
    steps:
      - name: make
        on: a
        env: {GREETING: hello}
        workdir: $REMOTE
        run: |
          echo "\$GREETING from \${host} as \$(id -un) in \$(pwd)"
          echo made > made.txt
          echo "size 42 bytes"
        capture: {size: 'size (\\d+) bytes'}
        rollback: {run: 'rm -f \${dir}/made.txt; echo undone > \${dir}/undo.txt'}
      - name: use
        on: a
        run: 'test "\${steps.make.size}" = 42 && echo used-\${steps.make.size}'
      - name: boom
        on: a
        run: 'echo failing on purpose >&2; exit 7'
YAML
run_migrate run one.yaml --state-dir "$ST" -v
expect_rc "a failing remote step unwinds" 1
expect_in "remote env and workdir" "$T/out" "hello from a as $SSH_USER in $REMOTE"
expect_in "capture from remote output reaches a later step" "$T/out" "used-42"
expect_in "exit code of the remote command" "$T/out" "exit 7"
expect_in "remote stderr in the failure tail" "$T/out" "failing on purpose"
expect_in "unit named by its host" "$T/out" "make@a"
[ ! -e "$REMOTE/made.txt" ] && [ -e "$REMOTE/undo.txt" ] && pass "remote rollback ran on the host" ||
	fail "remote rollback did not run" "$(ls -la "$REMOTE")"
rm -f "$REMOTE"/*

# ---- host keys ----
cat >hk.yaml <<YAML
runbook: 1
name: ssh-hostkeys
$(hosts_yaml a)
phases:
  - name: p
    steps:
      - name: touch
        on: a
        run: 'touch $REMOTE/ran-\$\$; echo ran'
YAML
mv "$HOME/.ssh/known_hosts" "$T/kh.saved"
run_migrate run hk.yaml --state-dir "$ST"
expect_rc "unknown host key refused" 1
expect_in "unknown key message names the host and the fingerprint" "$T/out" "$(sshd_fingerprint a)"
expect_in "unknown key message says how to accept" "$T/out" "--accept-new-host-keys"
[ -z "$(ls "$REMOTE")" ] && pass "nothing ran on an unknown host" || fail "a command ran on an unknown host"
[ -e "$HOME/.ssh/known_hosts" ] && fail "an unknown key was recorded without --accept-new-host-keys" || pass "unknown key not recorded"

run_migrate run hk.yaml --state-dir "$ST" --accept-new-host-keys
expect_rc "--accept-new-host-keys trusts a new host" 0
expect_in "new key recorded as [127.0.0.1]:PORT" "$HOME/.ssh/known_hosts" "[127.0.0.1]:$(sshd_port a) ssh-ed25519 "
[ "$(stat -c %a "$HOME/.ssh/known_hosts")" = 600 ] && pass "known_hosts created mode 0600" || fail "known_hosts mode $(stat -c %a "$HOME/.ssh/known_hosts")"
run_migrate run hk.yaml --state-dir "$ST"
expect_rc "the recorded key is accepted next time" 0
rm -f "$REMOTE"/*

# a changed key: another server's key recorded for a's address
sshd_start x
{ printf '[127.0.0.1]:%s ' "$(sshd_port a)"; cut -d' ' -f1-2 "$SSHD_DIR/x/host_ed25519.pub"; } >"$HOME/.ssh/known_hosts"
chmod 644 "$HOME/.ssh/known_hosts"
cp "$HOME/.ssh/known_hosts" "$T/kh.changed"
run_migrate run hk.yaml --state-dir "$ST" --accept-new-host-keys
expect_rc "changed host key refused even with --accept-new-host-keys" 1
expect_in "changed key: the recorded fingerprint" "$T/out" "$(sshd_fingerprint x)"
expect_in "changed key: the offered fingerprint" "$T/out" "$(sshd_fingerprint a)"
expect_in "changed key is called so" "$T/out" "HOST KEY CHANGED"
[ -z "$(ls "$REMOTE")" ] && pass "nothing ran on a host with a changed key" || fail "a command ran on a host with a changed key"
cmp -s "$HOME/.ssh/known_hosts" "$T/kh.changed" && pass "known_hosts untouched on a changed key" || fail "known_hosts was modified"
sshd_stop x

# hashed entries, and a known_hosts: file of the host's own
rm -f "$HOME/.ssh/known_hosts"
sshd_known a "$T/hashed_known" hashed
grep -q '^|1|' "$T/hashed_known" && pass "fixture is hashed" || fail "ssh-keygen -H did not hash"
sed "s|user: $SSH_USER}|user: $SSH_USER, known_hosts: $T/hashed_known}|" hk.yaml >hk2.yaml
run_migrate run hk2.yaml --state-dir "$ST"
expect_rc "hashed entry in the host's known_hosts: file" 0
cp "$T/kh.saved" "$HOME/.ssh/known_hosts"
rm -f "$REMOTE"/*

# ---- authentication ----
mv "$HOME/.ssh/id_ed25519" "$T/client_key"
mv "$HOME/.ssh/id_ed25519.pub" "$T/client_key.pub"
run_migrate run hk.yaml --state-dir "$ST"
expect_rc "no usable key" 1
expect_in "auth failure names host, user and methods" "$T/out" "authentication as '$SSH_USER' failed; tried: ssh-agent (SSH_AUTH_SOCK not set)"

eval "$(ssh-agent -s)" >/dev/null
ssh-add -q "$T/client_key" 2>/dev/null
run_migrate run hk.yaml --state-dir "$ST"
expect_rc "ssh-agent authentication" 0
kill "$SSH_AGENT_PID" 2>/dev/null
unset SSH_AUTH_SOCK SSH_AGENT_PID

ssh-keygen -q -p -P '' -N 'correct horse battery' -f "$T/client_key" >/dev/null
cat >key.yaml <<YAML
runbook: 1
name: ssh-key
secrets:
  keypass: {env: KEYPASS}
hosts:
  a: {address: 127.0.0.1, port: $(sshd_port a), user: $SSH_USER, key: $T/client_key, passphrase: '\${secrets.keypass}'}
phases:
  - name: p
    steps:
      - name: hi
        on: a
        run: echo key-auth-ok
YAML
KEYPASS='correct horse battery' run_migrate run key.yaml --state-dir "$ST" -v
expect_rc "key file with a passphrase from a secret" 0
expect_in "key auth ran the step" "$T/out" "key-auth-ok"
KEYPASS='not-the-passphrase' run_migrate run key.yaml --state-dir "$ST"
expect_rc "wrong passphrase" 1
expect_in "wrong passphrase is named" "$T/out" "wrong passphrase"
expect_not_in "the passphrase never shows" "$T/out" "not-the-passphrase"
mv "$T/client_key.pub" "$HOME/.ssh/id_ed25519.pub"
ssh-keygen -q -p -P 'correct horse battery' -N '' -f "$T/client_key" >/dev/null
mv "$T/client_key" "$HOME/.ssh/id_ed25519"

# ---- a group, parallel and in batches, after probes on each host ----
cat >group.yaml <<YAML
runbook: 1
name: ssh-group
$(hosts_yaml a b c)
  web: {hosts: [a, b, c]}
probes:
  on-host:
    run: 'echo "probe \${host}" >> $REMOTE/order'
  on-c:
    on: c
    run: 'echo "verify as \$(id -un)" >> $REMOTE/verify'
  per-host:
    run: 'echo "probe step on \${host}" >> $REMOTE/probe-step'
phases:
  - name: p
    steps:
      - name: deploy
        on: web
        batch: 1
        run: 'echo "unit \${host}" >> $REMOTE/order; echo deployed-\${host}'
        after: [on-host]
        rollback: {run: 'echo "undo \${host}" >> $REMOTE/order'}
      - name: all
        on: web
        run: 'echo all-\${host}'
      - name: each
        on: web
        probe: per-host
    verify: [on-c]
YAML
run_migrate run group.yaml --state-dir "$ST" -v
expect_rc "a step on a group of three hosts" 0
for h in a b c; do expect_in "unit on $h" "$T/out" "deploy@$h"; expect_in "output of $h names its host" "$T/out" "│ $h: all-$h"; done
expect_file "a probe with on: runs on that host" "$REMOTE/verify" "verify as $SSH_USER"
[ "$(sort "$REMOTE/probe-step")" = "probe step on a
probe step on b
probe step on c" ] && pass "a probe step on a group runs once per host" || fail "probe step on group" "$(cat "$REMOTE/probe-step")"
expect_file "batch: 1 runs each host's after probe on that host before the next batch" "$REMOTE/order" "unit a
probe a
unit b
probe b
unit c
probe c"
rm -f "$REMOTE"/*

# ---- max_fail: the step completes; the unwind rolls back exactly the hosts that completed ----
cat >maxfail.yaml <<YAML
runbook: 1
name: ssh-maxfail
$(hosts_yaml a b c)
  web: {hosts: [a, b, c]}
phases:
  - name: p
    steps:
      - name: deploy
        on: web
        max_fail: 1
        run: 'if [ "\${host}" = b ]; then exit 3; fi; touch $REMOTE/did-\${host}'
        rollback: {run: 'touch $REMOTE/undo-\${host}'}
      - name: stop
        run: 'exit 1'
YAML
run_migrate run maxfail.yaml --state-dir "$ST"
expect_rc "max_fail: 1 tolerates one host, a later failure unwinds" 1
[ -e "$REMOTE/undo-a" ] && [ -e "$REMOTE/undo-c" ] && [ ! -e "$REMOTE/undo-b" ] &&
	pass "exactly the completed hosts (a, c) were rolled back" || fail "wrong hosts rolled back" "$(ls "$REMOTE")"
rm -f "$REMOTE"/*
sed -i 's/max_fail: 1/max_fail: 0/' maxfail.yaml
run_migrate run maxfail.yaml --state-dir "$ST"
expect_rc "max_fail: 0 fails the step on one host" 1
[ ! -e "$REMOTE/undo-b" ] && pass "the failed host is not rolled back" || fail "the failed host was rolled back"
expect_not_in "the local step after it never ran" "$T/out" "stop "
rm -f "$REMOTE"/*

# ---- SIGKILL of migrate during a fan-out, then resume ----
cat >crash.yaml <<YAML
runbook: 1
name: ssh-crash
$(hosts_yaml a b c)
  web: {hosts: [a, b, c]}
phases:
  - name: p
    steps:
      - name: work
        on: web
        idempotent: true
        run: 'echo ran >> $REMOTE/ran-\${host}; [ "\${host}" != c ] || [ -e $REMOTE/release ] || sleep 314'
YAML
"$MIGRATE" run crash.yaml --state-dir "$ST" --forks 3 </dev/null >"$T/crash.out" 2>&1 &
mpid=$!
for _ in $(seq 200); do
	remote_ps | grep -q 'sleep 314' && [ -e "$REMOTE/ran-a" ] && [ -e "$REMOTE/ran-b" ] && break
	sleep 0.1
done
sleep 1
kill -9 $mpid
wait $mpid 2>/dev/null
no_remote_left "sleep 314" && pass "migrate killed: the remote command of the running unit is stopped" ||
	fail "sleep 314 survived migrate's death"
touch "$REMOTE/release"
timeout -k 5 120 "$MIGRATE" resume --state-dir "$ST" </dev/null >"$T/out" 2>"$T/err"
rc=$?
expect_rc "resume after SIGKILL finishes the fan-out" 0
expect_file "a completed host is not run again" "$REMOTE/ran-a" "ran"
expect_file "b completed host is not run again" "$REMOTE/ran-b" "ran"
expect_file "the in-doubt host (idempotent) runs again" "$REMOTE/ran-c" "ran
ran"
rm -f "$REMOTE"/*

# ---- check: connect to every host, run nothing ----
cat >check.yaml <<YAML
runbook: 1
name: ssh-check
$(hosts_yaml a b c)
  web: {hosts: [a, b]}
  gone: {address: 127.0.0.1, port: $(free_port), user: $SSH_USER}
probes:
  on-c:
    on: c
    run: 'touch $REMOTE/probe-ran'
phases:
  - name: one
    steps:
      - name: fan
        on: web
        run: 'touch $REMOTE/step-ran'
        after: [on-c]
  - name: two
    steps:
      - name: down
        on: gone
        run: 'touch $REMOTE/step-ran'
YAML
run_migrate check check.yaml --phase one
expect_rc "check: every host of the selected phase is reachable" 0
for h in a b c; do expect_in "check: line for $h" "$T/out" "ok      $h "; done
expect_not_in "check: a host of an unselected phase is not contacted" "$T/out" "gone"
run_migrate check check.yaml
expect_rc "check: one host down" 1
expect_in "check: the host that is down is named" "$T/out" "FAILED  gone"
expect_in "check: what failed" "$T/out" "Connection refused"
expect_in "check: summary" "$T/out" "4 SSH hosts: 3 reachable, 1 failed"
[ -z "$(ls "$REMOTE")" ] && pass "check ran nothing" || fail "check ran something" "$(ls "$REMOTE")"
printf 'runbook: 1\nname: bad\nphases: []\nbogus: 1\n' >bad.yaml
run_migrate check bad.yaml
expect_rc "check: an invalid runbook" 2

# ---- jump hosts ----
sshd_start nofwd 127.0.0.1 "AllowTcpForwarding no"
sshd_known nofwd
cat >jump.yaml <<YAML
runbook: 1
name: ssh-jump
$(hosts_yaml a b c nofwd)
  inner: {address: 127.0.0.1, port: $(sshd_port c), user: $SSH_USER, via: b}
  deep: {address: 127.0.0.1, port: $(sshd_port a), user: $SSH_USER, via: inner}
  blocked: {address: 127.0.0.1, port: $(sshd_port a), user: $SSH_USER, via: nofwd}
phases:
  - name: p
    steps:
      - name: through-b
        on: inner
        run: echo via-b-ok
      - name: through-two
        on: deep
        run: echo nested-via-ok
YAML
run_migrate run jump.yaml --state-dir "$ST" -v
expect_rc "via: a jump host, and a nested one" 0
expect_in "through one jump host" "$T/out" "via-b-ok"
expect_in "through two jump hosts" "$T/out" "nested-via-ok"
sed -i 's/on: deep/on: blocked/; s/nested-via-ok/should-not-run/' jump.yaml
run_migrate run jump.yaml --state-dir "$ST" -v
expect_rc "a jump host that refuses forwarding fails the unit" 1
expect_in "refused forwarding is named" "$T/out" "jump host 'nofwd' did not forward"
expect_not_in "the target is not reached directly" "$T/out" "should-not-run"
sshd_stop nofwd

# ---- hosts of ~/.ssh/config ----
cp "$HOME/.ssh/id_ed25519" "$T/other_key"
cat >"$HOME/.ssh/config" <<CFG
Host cfg-jump
    HostName 127.0.0.1
    Port $(sshd_port b)
    User $SSH_USER

Host cfg-app
    HostName 127.0.0.1
    Port $(sshd_port c)
    ProxyJump cfg-jump
    IdentityFile $T/other_key

Host *
    User $SSH_USER
CFG
cat >cfg.yaml <<YAML
runbook: 1
name: ssh-config
phases:
  - name: p
    steps:
      - name: app
        on: cfg-app
        run: echo cfg-app-ok
YAML
run_migrate run cfg.yaml --state-dir "$ST" -v
expect_rc "a host named by ~/.ssh/config (HostName, Port, User, IdentityFile, ProxyJump)" 0
expect_in "the ~/.ssh/config host ran the step" "$T/out" "cfg-app-ok"
sed 's/on: cfg-app/on: cfg-apq/' cfg.yaml >cfg-typo.yaml
run_migrate validate cfg-typo.yaml
expect_rc "a typo in a ~/.ssh/config name is still invalid" 2
expect_in "the typo at FILE:LINE:COL" "$T/err" "cfg-typo.yaml:7:13: unknown host 'cfg-apq'"
rm -f "$HOME/.ssh/config"

# ---- SFTP ----
printf 'listen 8080\n' >app.conf
head -c 300000 /dev/urandom >big.bin
cat >files.yaml <<YAML
runbook: 1
name: ssh-files
$(hosts_yaml a)
phases:
  - name: p
    steps:
      - name: ship
        on: a
        upload: {src: ./app.conf, dest: $REMOTE/app.conf, mode: "0640"}
        rollback: {run: 'rm -f $REMOTE/app.conf'}
      - name: ship-big
        on: a
        upload: {src: ./big.bin, dest: $REMOTE/big.bin}
      - name: fetch
        on: a
        download: {src: $REMOTE/big.bin, dest: ./back.bin, mode: "0600"}
YAML
run_migrate run files.yaml --state-dir "$ST" -v
expect_rc "upload and download" 0
[ "$(stat -c %a "$REMOTE/app.conf")" = 640 ] && pass "upload mode 0640" || fail "upload mode $(stat -c %a "$REMOTE/app.conf")"
cmp -s app.conf "$REMOTE/app.conf" && pass "uploaded content" || fail "uploaded content differs"
cmp -s big.bin back.bin && pass "300 kB round trip" || fail "downloaded content differs"
[ "$(stat -c %a back.bin)" = 600 ] && pass "download mode 0600" || fail "download mode $(stat -c %a back.bin)"
expect_in "size and sha256 reported" "$T/out" "300000 bytes, sha256 $(sha256sum big.bin | cut -d' ' -f1)"
cat >files-bad.yaml <<YAML
runbook: 1
name: ssh-files-bad
$(hosts_yaml a)
phases:
  - name: p
    steps:
      - name: ship
        on: a
        upload: {src: ./app.conf, dest: $REMOTE/app2.conf}
        rollback: {run: 'rm -f $REMOTE/app2.conf'}
      - name: ship-nowhere
        on: a
        upload: {src: ./big.bin, dest: $REMOTE/missing-dir/big.bin}
      - name: fetch-missing
        download: {src: $REMOTE/nope, dest: ./nope}
        on: a
YAML
run_migrate run files-bad.yaml --state-dir "$ST"
expect_rc "an upload into a missing directory fails" 1
expect_in "the failed upload is named" "$T/out" "missing-dir"
[ -z "$(find "$REMOTE" -name '*.migrate-*')" ] && [ ! -e "$REMOTE/missing-dir" ] && pass "no partial or temporary file after a failed upload" ||
	fail "partial files left" "$(find "$REMOTE")"
[ ! -e "$REMOTE/app2.conf" ] && pass "the completed upload was rolled back" || fail "app2.conf left behind"
rm -f "$REMOTE"/*

# ---- timeouts, faults ----
cat >slow.yaml <<YAML
runbook: 1
name: ssh-slow
$(hosts_yaml a)
phases:
  - name: p
    steps:
      - name: stubborn
        on: a
        timeout: 1s
        run: |
          trap '' TERM
          (trap '' TERM; exec sleep 311) &
          exec sleep 312
YAML
run_migrate run slow.yaml --state-dir "$ST"
expect_rc "a remote step that ignores SIGTERM times out" 1
expect_in "the timeout is reported" "$T/out" "timed out after 1s"
no_remote_left "sleep 31[12]" && pass "the remote tree (and its background child) is gone" ||
	fail "remote processes left" "$(remote_ps | grep 'sleep 31')"

cat >secret.yaml <<YAML
runbook: 1
name: ssh-secret
secrets:
  token: {env: SSH_TEST_TOKEN}
$(hosts_yaml a)
phases:
  - name: p
    steps:
      - name: use
        on: a
        run: |
          test "\$MIGRATE_SECRET_TOKEN" = "\${secrets.token}" && echo secret-arrived
          touch $REMOTE/secret-started
          sleep 4
YAML
(for _ in $(seq 200); do [ -e "$REMOTE/secret-started" ] && break; sleep 0.05; done; remote_ps >"$T/ps.txt") &
SSH_TEST_TOKEN=s3cr3t-Value-9876 run_migrate run secret.yaml --state-dir "$ST" -v
wait $!
expect_rc "a secret reaches the remote step" 0
expect_in "the secret arrived in the environment and the script" "$T/out" "secret-arrived"
expect_in "ps saw the remote step" "$T/ps.txt" "sleep 4"
expect_not_in "no secret in the remote process list" "$T/ps.txt" "s3cr3t-Value-9876"
expect_not_in "no secret in the output" "$T/out" "s3cr3t-Value-9876"

cat >killed.yaml <<YAML
runbook: 1
name: ssh-killed
$(hosts_yaml b)
phases:
  - name: p
    steps:
      - name: first
        on: b
        run: echo first-done
        rollback: {run: 'echo undone'}
      - name: long
        on: b
        run: 'sleep 313'
        timeout: 60s
YAML
( for _ in $(seq 100); do remote_ps | grep -q 'sleep 313' && break; sleep 0.1; done
  sshd_kill_hard b ) &
killer=$!
start=$(date +%s)
run_migrate run killed.yaml --state-dir "$ST"
wait $killer
expect_rc "sshd killed mid-step: the unit fails, and the rollback on the dead host too" 3
expect_in "lost connection names the host" "$T/out" "b (${SSH_USER}@127.0.0.1:$(sshd_port b)): connection lost"
[ $(($(date +%s) - start)) -lt 50 ] && pass "no hang after the server died" || fail "took until the step timeout"
expect_in "the unwind still ran and reports the host down" "$T/out" "cannot connect: Connection refused"
no_remote_left "sleep 313" && pass "the orphaned remote command was stopped by its lifeline" || fail "sleep 313 survived"
sshd_start b

cat >down.yaml <<YAML
runbook: 1
name: ssh-down
hosts:
  closed: {address: 127.0.0.1, port: $(free_port), user: $SSH_USER}
phases:
  - name: p
    steps:
      - name: closed-port
        on: closed
        run: echo nope
YAML
run_migrate run down.yaml --state-dir "$ST"
expect_rc "a refused connection fails the unit" 1
expect_in "refused connection is named" "$T/out" "cannot connect: Connection refused"
sport=$(free_port)
/usr/bin/python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $sport)); s.listen(5)
conns = []
end = time.time() + 30
s.settimeout(1)
while time.time() < end:
    try: conns.append(s.accept()[0])
    except OSError: pass
" &
silent=$!
sleep 0.3
sed -i "s/^  closed: .*/  silent: {address: 127.0.0.1, port: $sport, user: $SSH_USER, connect_timeout: 1s}/; s/on: closed/on: silent/" down.yaml
start=$(date +%s)
run_migrate run down.yaml --state-dir "$ST"
expect_rc "a peer that accepts TCP and says nothing" 1
expect_in "the silent peer times out" "$T/out" "timed out after 1s"
[ $(($(date +%s) - start)) -lt 10 ] && pass "within the connect timeout" || fail "took $(($(date +%s) - start)) s"
kill $silent 2>/dev/null

# ---- 25 MB on stdout and 25 MB on stderr at once: the pump never stalls ----
# Both streams are written concurrently (interleaved on the channel); a pump
# that blocks on one stream while the other fills its window hangs here. The
# timeout only detects such a hang. expect checks what is kept of each stream:
# exactly its last 64 KiB (65527 letters, then the 9-byte end marker).
cat >big.yaml <<YAML
runbook: 1
name: ssh-big
$(hosts_yaml a)
phases:
  - name: p
    steps:
      - name: flood
        on: a
        timeout: 240s
        run: |
          { head -c 25000000 /dev/zero | tr '\\0' a; printf '\\nEND-OUT\\n'; } &
          { head -c 25000000 /dev/zero | tr '\\0' b; printf '\\nEND-ERR\\n'; } >&2
          wait
        expect:
          stdout: '\\Aa{65527}\\nEND-OUT\\n\\z'
          stderr: '\\Ab{65527}\\nEND-ERR\\n\\z'
YAML
# the same runbook locally (no on:) goes through the local child's pump
sed '/^        on: a$/d' big.yaml >big-local.yaml
for k in flood@a:big.yaml flood:big-local.yaml; do
	run_migrate run "${k#*:}" --state-dir "$T/st-${k%%:*}"
	expect_rc "25 MB on each stream completes (${k%%:*})" 0
	run_migrate status --state-dir "$T/st-${k%%:*}" --format json
	python3 - "$T/out" "${k%%:*}" <<'PY' && pass "journal tail of ${k%%:*} ends with the last stream's bytes" || fail "${k%%:*} journal tail" "$(head -c 600 "$T/out")"
import json, sys
d = json.load(open(sys.argv[1]))
u = [u for u in d["units"] if u["key"] == sys.argv[2]][0]
t = u["tail"]
assert u["state"] == "done" and u["exit_code"] == 0, u
# the merged tail ends with the marker of the stream that finished last, and
# holds that stream's letters before it (the other stream's last line may
# land between the two: the pumps read both pipes as the data comes)
lines = t.split("\n")
assert lines[-1] == "" and lines[-2] in ("END-OUT", "END-ERR"), t[-200:]
letter = "a" if lines[-2] == "END-OUT" else "b"
assert any(letter in l and l.rstrip(" …").strip(letter) == "" for l in lines[:-2]), t[-200:]
PY
done

# ---- sudo: true runs the remote command as root (sudo -n, a NOPASSWD drop-in) ----
if sshd_sudoers; then
	cat >sudo.yaml <<YAML
runbook: 1
name: ssh-sudo
$(hosts_yaml a)
phases:
  - name: p
    steps:
      - name: plain
        on: a
        run: id -u
        expect: {stdout: '\\A[1-9][0-9]*\\n\\z'}
      - name: root
        on: a
        sudo: true
        env: {WHO: operator}
        run: 'echo "uid \$(id -u) for \$WHO"'
        expect: {stdout: '\\Auid 0 for operator\\n\\z'}
YAML
	run_migrate run sudo.yaml --state-dir "$T/st-sudo"
	expect_rc "sudo: true over SSH" 0
	rm -f "$SSHD_SUDOERS"
	run_migrate run sudo.yaml --state-dir "$T/st-sudo"
	expect_rc "without the sudoers entry sudo -n fails the unit" 1
	expect_in "the sudo refusal is shown" "$T/out" "a password is required"
else
	echo "# sudo over SSH not tested: needs root and sudo (apt-get install sudo)"
fi

finish
