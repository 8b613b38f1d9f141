#!/bin/bash
# A probe or a rollback whose on: names a group (SPEC §2 placement) runs on
# every member of the group, against real sshds on loopback (sshd-lib.sh):
# one verdict (it fails when any member fails, naming the member), never
# on this machine instead.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/cli/sshd-lib.sh"
sshd_need

sshd_start a
sshd_start b
sshd_start c
# an addresses: group shares its port: two servers on 127.0.0.2 and .3, one port
sshd_start x 127.0.0.2
mkdir -p "$SSHD_DIR/y" && sshd_port x >"$SSHD_DIR/y/port"
sshd_start y 127.0.0.3
for n in a b c x y; do sshd_known "$n"; done
ST="$T/state"
# expect_exists NAME FILE: FILE was created.
expect_exists() { [ -e "$2" ] && pass "$1" || fail "$1" "missing: $2" "have: $(ls "$(dirname "$2")" | tr '\n' ' ')"; }
PA=$(sshd_port a) PB=$(sshd_port b) PC=$(sshd_port c) PX=$(sshd_port x)
# Each remote command knows which server it reached by the server's address
# and port in SSH_CONNECTION (every server runs commands as the same user).
WHO='$(echo $SSH_CONNECTION | cut -d" " -f3-4 | tr " " _)'

cat >grp.yaml <<YAML
runbook: 1
name: group-probe
$(hosts_yaml a b c)
  web: {hosts: [a, b, c]}
  edge: {addresses: [127.0.0.2, 127.0.0.3], port: $PX, user: $SSH_USER}
probes:
  up:
    on: web
    run: 'echo seen >> $REMOTE/up-$WHO; test ! -e $REMOTE/bad-$WHO'
  edge-up:
    on: edge
    run: 'echo seen >> $REMOTE/edge-$WHO; test ! -e $REMOTE/bad-$WHO'
phases:
  - name: p
    verify: [edge-up]
    steps:
      - name: change
        run: 'touch $T/changed'
        rollback: {on: web, run: 'touch $REMOTE/rb-$WHO'}
      - name: shift
        run: 'true'
        after: [up]
      - name: last
        run: 'test ! -e $T/fail-last'
YAML

run_migrate validate grp.yaml
expect_rc "a probe and a rollback on a group validate" 0
run_migrate plan grp.yaml
expect_in "plan says where the after probe runs" "$T/out" "up (on web"

run_migrate run grp.yaml --state-dir "$ST"
expect_rc "all members pass: the run succeeds" 0
for m in 127.0.0.1_$PA 127.0.0.1_$PB 127.0.0.1_$PC; do
	expect_exists "the after probe ran on member $m" "$REMOTE/up-$m"
done
for m in 127.0.0.2_$PX 127.0.0.3_$PX; do
	expect_exists "the verify probe ran on address $m" "$REMOTE/edge-$m"
done
if ls "$REMOTE" | grep -q -e '^up-$' -e '^up-_' -e '^edge-$' -e '^edge-_'; then
	fail "a group probe ran on this machine" "$(ls "$REMOTE")"
else
	pass "no group probe ran on this machine"
fi
ls "$REMOTE" | grep -q '^rb-' && fail "no rollback ran in a good run" || pass "no rollback ran in a good run"

# one member fails: the after probe fails, naming it; the group rollback runs on every member
rm -f "$REMOTE"/* "$T/changed"
touch "$REMOTE/bad-127.0.0.1_$PB"
run_migrate run grp.yaml --state-dir "$ST"
expect_rc "one failing member fails the probe and the run" 1
expect_in "the failure names the member" "$T/out" "on b:"
expect_not_in "the passing members are not blamed" "$T/out" "on a:"
for m in 127.0.0.1_$PA 127.0.0.1_$PB 127.0.0.1_$PC; do
	expect_exists "the group rollback ran on member $m" "$REMOTE/rb-$m"
done
[ -e "$REMOTE/up-127.0.0.1_$PC" ] && pass "every member was probed, not only up to the failing one" ||
	fail "member c was not probed"

# an address of an addresses: group fails in a verify probe
rm -f "$REMOTE"/*
touch "$REMOTE/bad-127.0.0.3_$PX"
run_migrate run grp.yaml --state-dir "$ST"
expect_rc "a failing address fails the verify probe" 1
expect_in "the failure names the address" "$T/out" "on 127.0.0.3:"

# a member that is down: the probe fails naming it, within its timeout; others still probed
rm -f "$REMOTE"/*
sshd_stop c
run_migrate run grp.yaml --state-dir "$ST"
# ...and the rollback on the group cannot reach it either: exit 3, naming it
expect_rc "a member that is down fails the probe, then its rollback" 3
expect_in "the probe failure names the member that is down" "$T/out" "after probe 'up' failed: c (${SSH_USER}@127.0.0.1:$PC): cannot connect"
expect_in "the rollback failure names it too" "$T/out" "NOT fully rolled back"
expect_exists "member a was still probed" "$REMOTE/up-127.0.0.1_$PA"

finish
