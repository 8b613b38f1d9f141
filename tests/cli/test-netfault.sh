#!/bin/bash
# Network faults (issue 11 item 8), SSH against real sshd servers
# (sshd-lib.sh) and HTTP against tests/httpd.py and raw sockets, all on
# 127.0.0.1:
#   - sshd killed mid-step, and frozen mid-step (SIGSTOP: the connection
#     stays up and says nothing);
#   - a peer that accepts TCP and then says nothing (SSH and HTTP);
#   - a host that never answers (a listener whose accept queue is full: the
#     kernel drops every further SYN);
#   - a connection dropped while a rollback runs on it (one host, and one
#     host of a group), and a rollback whose host is down (refused) or never
#     answers at unwind time;
#   - an HTTP server killed mid-request, and down when the unwind calls it.
# Each unit fails within its timeout plus a margin (the bounds are generous:
# they only catch a hang), with a message naming the host and what
# happened; the unwind goes on with the other steps as SPEC §3 says (a
# failed rollback stops it, exit 3, and `migrate rollback` finishes it once
# the host is back); no process is left behind on either side.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/cli/sshd-lib.sh"
sshd_need

sshd_start b
sshd_start c
sshd_known b
sshd_known c
ST="$T/state"
PIDS=()
cleanup_pids() {
	local p
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	# listeners started in background subshells (their PIDS are not ours)
	[ -f "$T/listeners" ] && kill -9 $(cat "$T/listeners") 2>/dev/null
	for f in "$SSHD_DIR"/*/signalled; do [ -f "$f" ] && kill -CONT $(cat "$f") 2>/dev/null; done
	sshd_stop_all
}
trap cleanup_pids EXIT

# every process's argument list, both sides (the remote side is this machine)
all_ps() { ps -eo args= 2>/dev/null; }
# gone PATTERN: wait up to 15 s until no process matches (lifelines are asynchronous)
gone() {
	for _ in $(seq 150); do all_ps | grep -v grep | grep -q -- "$1" || return 0; sleep 0.1; done
	return 1
}
expect_gone() { # WHAT PATTERN
	if gone "$2"; then pass "$1: no process left"; else fail "$1: processes left" "$(all_ps | grep -- "$2" | grep -v grep)"; fi
}
# wait_ps PATTERN: wait up to 20 s until a process matches
wait_ps() {
	for _ in $(seq 200); do all_ps | grep -v grep | grep -q -- "$1" && return 0; sleep 0.1; done
	return 1
}
# timed CMD...: run_migrate, and the seconds it took in $took
timed() {
	local t0
	t0=$(date +%s)
	run_migrate "$@"
	took=$(($(date +%s) - t0))
}
# within WHAT SECONDS: the last timed run ended within SECONDS (a hang guard, not a timing assertion)
within() {
	if [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] && [ "$took" -le "$2" ]; then
		pass "$1: no hang"
	else
		fail "$1: took ${took}s (exit $rc), bound $2 s"
	fi
}
where() { echo "$1 (${SSH_USER}@127.0.0.1:$(sshd_port "$1"))"; }

# silent_peer PORT: accept every TCP connection and never send a byte
silent_peer() {
	/usr/bin/python3 - "$1" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(64)
conns = []
while True:
    c, _ = s.accept()
    conns.append(c)
PY
	PIDS+=($!)
	echo $! >>"$T/listeners"
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
}
# black_hole PORT: a listener that never accepts, its queue filled, so
# the kernel drops every further SYN: connecting never gets an answer
black_hole() {
	rm -f "$T/bh.ready"
	/usr/bin/python3 - "$1" "$T/bh.ready" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(0)
fill = []
for _ in range(4):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(("127.0.0.1", int(sys.argv[1])))
    except BlockingIOError: pass
    fill.append(c)
time.sleep(0.5)
open(sys.argv[2], "w").close()
time.sleep(3600)
PY
	PIDS+=($!)
	echo $! >>"$T/listeners"
	for _ in $(seq 100); do [ -e "$T/bh.ready" ] && return 0; sleep 0.05; done
}

# runbook NAME HOSTS-YAML: the head of a runbook whose first step l1 is
# local and rolls back into $REMOTE/undo; step ARGS... add steps
runbook() {
	cat <<YAML
runbook: 1
name: $1
$2
vars: {dir: $REMOTE, t: $T}
phases:
  - name: p
    steps:
      - name: l1
        run: 'true'
        rollback: {run: 'echo l1 >> \${dir}/undo'}
YAML
}
# step NAME ON RUN [ROLLBACK [MORE-LINE]]: a step (ON "-" for local)
step() {
	echo "      - name: $1"
	[ "$2" = - ] || echo "        on: $2"
	echo "        run: '$3'"
	[ -z "${4:-}" ] || echo "        rollback: {run: '$4', timeout: 120s}"
	[ -z "${5:-}" ] || echo "        $5"
}
undo() { echo "echo $1 >> \${dir}/undo"; }

# ---- 1. sshd killed mid-step: the unit fails at once, the unwind rolls back the rest ----
{
	runbook nf-killed "$(hosts_yaml b c)"
	step c1 c true "$(undo c1)"
	step b1 b 'sleep 4701' "$(undo b1)" 'timeout: 120s'
} >killed.yaml
rm -f "$REMOTE/undo"
( wait_ps "sleep 4701" && sshd_kill_hard b ) &
killer=$!
timed run killed.yaml --state-dir "$ST"
wait $killer
expect_rc "sshd killed mid-step: the unit fails, the unwind completes" 1
within "sshd killed mid-step (step timeout 120 s)" 60
expect_in "the lost connection names the host" "$T/out" "$(where b): connection lost"
expect_file "the unwind rolled back the other steps, newest first" "$REMOTE/undo" "$(printf 'c1\nl1')"
expect_gone "sshd killed mid-step: the remote command (its lifeline)" "sleep 4701"
sshd_start b

# ---- 2. sshd frozen mid-step: the connection stays up and says nothing ----
# (SIGSTOP of the server and its session processes; the step's timeout ends the unit)
sed 's/sleep 4701/sleep 4702/; s/timeout: 120s/timeout: 3s/; s/nf-killed/nf-frozen/' killed.yaml > frozen.yaml
rm -f "$REMOTE/undo"
( wait_ps "sleep 4702" && sshd_signal b STOP ) &
killer=$!
timed run frozen.yaml --state-dir "$ST"
wait $killer
expect_rc "sshd frozen mid-step: the unit times out, the unwind completes" 1
within "sshd frozen mid-step (step timeout 3 s)" 45
expect_in "the frozen host's unit: the timeout, the host and what happened" "$T/out" "timed out after 3s: $(where b): no answer from the server to stopping the command"
expect_file "the unwind rolled back the other steps" "$REMOTE/undo" "$(printf 'c1\nl1')"
# thaw: the server sees the connection migrate closed, and the lifeline stops the command
kill -CONT $(cat "$SSHD_DIR/b/signalled") 2>/dev/null
expect_gone "sshd frozen mid-step, then thawed: the remote command" "sleep 4702"
sshd_stop b
sshd_start b

# ---- 3. a peer that accepts TCP and says nothing: SSH and HTTP ----
SP=$(free_port)
silent_peer "$SP"
{
	runbook nf-silent "hosts:
  mute: {address: 127.0.0.1, port: $SP, user: $SSH_USER, connect_timeout: 2s}"
	step s mute 'echo never'
} >silent.yaml
rm -f "$REMOTE/undo"
timed run silent.yaml --state-dir "$ST"
expect_rc "SSH: a peer that says nothing fails the unit" 1
within "SSH silent peer (connect_timeout 2 s)" 30
expect_in "SSH silent peer: named, and what happened" "$T/out" "mute (${SSH_USER}@127.0.0.1:$SP)"
expect_in "SSH silent peer: timed out" "$T/out" "timed out after 2s"
expect_file "SSH silent peer: the unwind ran" "$REMOTE/undo" "l1"
# without connect_timeout: the step's timeout bounds the handshake too
sed -i 's/, connect_timeout: 2s//; s/run: .echo never./run: "echo never"\n        timeout: 3s/' silent.yaml
timed run silent.yaml --state-dir "$ST"
expect_rc "SSH silent peer, the step's timeout only" 1
within "SSH silent peer (step timeout 3 s)" 40
expect_in "SSH silent peer, step timeout: named, and what happened" "$T/out" "timed out after 3s: mute (${SSH_USER}@127.0.0.1:$SP): SSH handshake: no answer from the server"

{
	runbook nf-hsilent ""
	echo "      - name: get"
	echo "        http: {url: \"http://127.0.0.1:$SP/health\"}"
	echo "        timeout: 2s"
} >hsilent.yaml
rm -f "$REMOTE/undo"
timed run hsilent.yaml --state-dir "$ST"
expect_rc "HTTP: a peer that says nothing fails the unit" 1
within "HTTP silent peer (timeout 2 s)" 30
expect_in "HTTP silent peer: timed out, the server named, and what happened" "$T/out" "timed out after 2s: 127.0.0.1:$SP: connected, but no response"
expect_file "HTTP silent peer: the unwind ran" "$REMOTE/undo" "l1"

# ---- 4. a host that never answers (SYNs dropped) ----
BP=$(free_port)
black_hole "$BP"
sed "s/$SP/$BP/g; s/nf-silent/nf-hole/" silent.yaml > hole.yaml
sed -i "s/user: $SSH_USER}/user: $SSH_USER, connect_timeout: 2s}/" hole.yaml
rm -f "$REMOTE/undo"
timed run hole.yaml --state-dir "$ST"
expect_rc "SSH: a host that never answers fails the unit" 1
within "SSH black hole (connect_timeout 2 s)" 30
expect_in "SSH black hole: named" "$T/out" "mute (${SSH_USER}@127.0.0.1:$BP)"
expect_in "SSH black hole: cannot connect, timed out" "$T/out" "cannot connect: timed out after 2s"
expect_file "SSH black hole: the unwind ran" "$REMOTE/undo" "l1"
sed "s/$SP/$BP/g; s/nf-hsilent/nf-hhole/" hsilent.yaml > hhole.yaml
rm -f "$REMOTE/undo"
timed run hhole.yaml --state-dir "$ST"
expect_rc "HTTP: a host that never answers fails the unit" 1
within "HTTP black hole (timeout 2 s)" 30
expect_in "HTTP black hole: timed out, the server named, and what happened" "$T/out" "timed out after 2s: 127.0.0.1:$BP: cannot connect: no answer"
expect_file "HTTP black hole: the unwind ran" "$REMOTE/undo" "l1"

# ---- 5. the connection drops while a rollback runs on it ----
{
	runbook nf-unwind "$(hosts_yaml b c)"
	step b1 b true "$(undo b1); if [ -e \${dir}/slow ]; then sleep 4705; fi"
	step c1 c true "$(undo c1)"
	step boom - 'exit 1'
} >unwind.yaml
rm -f "$REMOTE/undo"
touch "$REMOTE/slow"
( wait_ps "sleep 4705" && sshd_kill_hard b ) &
killer=$!
timed run unwind.yaml --state-dir "$ST"
wait $killer
expect_rc "connection dropped during a rollback: the unwind stops there (SPEC §3)" 3
within "connection dropped during a rollback (rollback timeout 120 s)" 60
expect_in "the rollback's lost connection names the host" "$T/out" "$(where b): connection lost"
expect_file "the rollbacks before it ran" "$REMOTE/undo" "$(printf 'c1\nb1')"
expect_gone "connection dropped during a rollback: the remote rollback command" "sleep 4705"
sshd_start b
rm -f "$REMOTE/slow"
timed run unwind.yaml --state-dir "$ST"
expect_rc "a run while the unwind is unfinished is refused" 6
timed rollback --state-dir "$ST" --yes
expect_rc "with the host back, migrate rollback finishes the unwind" 0
within "migrate rollback" 60
expect_file "migrate rollback ran the interrupted rollback again, then the rest" "$REMOTE/undo" "$(printf 'c1\nb1\nb1\nl1')"

# the same on a group: the other host's rollback goes on and completes
{
	runbook nf-gunwind "$(hosts_yaml b c)
  both: {hosts: [b, c]}"
	step g1 both true 'if [ \${host} = b ]; then sleep 4706; else sleep 1; echo \${host} >> \${dir}/gundo; fi'
	step boom - 'exit 1'
} >gunwind.yaml
rm -f "$REMOTE/gundo"
( wait_ps "sleep 4706" && sshd_kill_hard b ) &
killer=$!
timed run gunwind.yaml --state-dir "$ST"
wait $killer
expect_rc "connection to one host of a group dropped during its rollback" 3
within "group rollback with a dropped host" 60
expect_in "the dropped host is named" "$T/out" "$(where b): connection lost"
expect_file "the other host's rollback completed" "$REMOTE/gundo" "c"
expect_gone "group rollback: the remote rollback command of the dropped host" "sleep 4706"
sshd_start b

# ---- 6. a rollback whose host is down at unwind time: refused, then never answering ----
{
	runbook nf-down "$(hosts_yaml b c)"
	step b1 b true "$(undo b1)"
	step c1 c true "$(undo c1)"
	step takedown - 'touch \${t}/take-b-down; while [ ! -e \${t}/b-down ]; do sleep 0.1; done' '' 'timeout: 60s'
	step boom - 'exit 1'
} >down.yaml
# take_b_down [hole]: when the runbook asks, kill b's sshd (and, with hole, leave a black hole on its port)
take_b_down() {
	rm -f "$T/take-b-down" "$T/b-down"
	for _ in $(seq 300); do [ -e "$T/take-b-down" ] && break; sleep 0.1; done
	sshd_kill_hard b
	sshd_stop b
	[ "${1:-}" = hole ] && black_hole "$(sshd_port b)"
	touch "$T/b-down"
}
rm -f "$REMOTE/undo"
take_b_down &
killer=$!
timed run down.yaml --state-dir "$ST"
wait $killer
expect_rc "a rollback whose host is down: the unwind stops there" 3
within "rollback on a host that is down" 60
expect_in "the rollback names the host and says it is down" "$T/out" "$(where b): cannot connect: Connection refused"
expect_file "the rollbacks before it ran" "$REMOTE/undo" "c1"
sshd_start b
timed rollback --state-dir "$ST" --yes
expect_rc "with the host back, migrate rollback finishes the unwind" 0
expect_file "every rollback ran once, newest first" "$REMOTE/undo" "$(printf 'c1\nb1\nl1')"

sed "s/user: $SSH_USER}/user: $SSH_USER, connect_timeout: 2s}/; s/nf-down/nf-hole-unwind/" down.yaml > hole-unwind.yaml
rm -f "$REMOTE/undo"
take_b_down hole &
killer=$!
timed run hole-unwind.yaml --state-dir "$ST"
wait $killer
expect_rc "a rollback whose host never answers: the unwind stops there" 3
within "rollback on a host that never answers (connect_timeout 2 s)" 60
expect_in "the rollback names the host and says it never answered" "$T/out" "$(where b): cannot connect: timed out after 2s"
expect_file "the rollbacks before it ran" "$REMOTE/undo" "c1"

# ---- 7. HTTP: the server killed mid-request, and down when the unwind calls it ----
# start_httpd [PORT]: tests/httpd.py with $T/h.json, its port in $HP, its pid in $HPID
start_httpd() {
	rm -f "$T/h.port"
	python3 "$SRCDIR/tests/httpd.py" --config "$T/h.json" --log "$T/h.log" --port-file "$T/h.port" ${1:+--port "$1"} &
	HPID=$!
	PIDS+=($HPID)
	for _ in $(seq 100); do [ -s "$T/h.port" ] && break; sleep 0.1; done
	HP=$(cat "$T/h.port")
}
echo '{"/apply": [{"status": 200}], "/undo": [{"status": 200}], "/slow": [{"mode": "hang"}]}' >"$T/h.json"
start_httpd
{
	runbook nf-http ""
	echo "      - name: h1"
	echo "        http: {method: POST, url: \"http://127.0.0.1:$HP/apply\", body: x}"
	echo "        rollback:"
	echo "          http: {method: POST, url: \"http://127.0.0.1:$HP/undo\", body: y}"
	echo "      - name: h2"
	echo "        http: {url: \"http://127.0.0.1:$HP/slow\"}"
	echo "        timeout: 120s"
} >http.yaml
rm -f "$REMOTE/undo"
( for _ in $(seq 200); do grep -q '"/slow"' "$T/h.log" 2>/dev/null && break; sleep 0.1; done
  kill -9 $HPID ) &
killer=$!
timed run http.yaml --state-dir "$ST"
wait $killer
wait $HPID 2>/dev/null
expect_rc "HTTP server killed mid-request, down at unwind time: the unwind stops at its rollback" 3
within "HTTP server killed mid-request (timeout 120 s)" 60
# (curl retries a request whose kept-alive connection broke on a new one: refused)
if grep -qE "step 'h2' failed: (127\.0\.0\.1:$HP: (the server closed the connection without an answer|the connection broke)|cannot connect: Failed to connect to 127\.0\.0\.1 port $HP)" "$T/out"; then
	pass "the broken request names the server and what happened"
else
	fail "the broken request names the server and what happened" "$(cat "$T/out")"
fi
expect_in "the rollback names the server that is down" "$T/out" "cannot connect: Failed to connect to 127.0.0.1 port $HP"
start_httpd "$HP"
timed rollback --state-dir "$ST" --yes
expect_rc "with the server back, migrate rollback finishes the unwind" 0
expect_in "the rollback request reached the server" "$T/h.log" '"/undo"'
expect_file "and the unwind went on to the local step" "$REMOTE/undo" "l1"

finish
