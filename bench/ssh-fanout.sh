#!/bin/bash
# ssh-fanout.sh - SSH fan-out figures (not a timed test): 20 loopback sshds x
# 10 trivial steps, timed side by side (median of RUNS) for migrate, parallel
# `ssh` with ControlMaster reuse, parallel-ssh (pssh) and Ansible (command
# module, forks 20, pipelining); every OpenSSH-based peer is pinned to the
# key exchange migrate uses (curve25519-sha256). Then migrate alone on 100
# hosts (127.0.0.2-127.0.0.101) x 2 steps.
#
#   bench/ssh-fanout.sh [MIGRATE|BUILD_DIR]   (default: build)   RUNS=3 by default
#
# The argument is the binary (as for the other benchmarks and run-all.sh) or
# the build directory holding it.
#
# Needs root (a test user for sshd), openssh-server, pssh and ansible.
set -u
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
ARG=${1:-$SRCDIR/build}
if [ -d "$ARG" ]; then
	MIGRATE=$(cd "$ARG" && pwd)/migrate
else
	MIGRATE=$(realpath "$ARG")
fi
if [ ! -x "$MIGRATE" ]; then
	echo "ssh-fanout: $MIGRATE is not an executable migrate" >&2
	exit 2
fi
RUNS=${RUNS:-3}
HOSTS=${HOSTS:-20}
STEPS=${STEPS:-10}
export MIGRATE SRCDIR
. "$SRCDIR/tests/cli/lib.sh"
. "$SRCDIR/tests/cli/sshd-lib.sh"
sshd_need
KEX=curve25519-sha256
KEY="$HOME/.ssh/id_ed25519"
SSHOPTS=(-F /dev/null -i "$KEY" -o KexAlgorithms=$KEX -o UserKnownHostsFile="$HOME/.ssh/known_hosts"
	-o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes -l "$SSH_USER")

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
elapsed() { echo "$2 - $1" | bc; }

names=()
for i in $(seq "$HOSTS"); do
	sshd_start "h$i" >/dev/null || exit 1
	sshd_known "h$i"
	names+=("h$i")
done

# migrate: one runbook, STEPS steps on a group of all hosts
{
	echo "runbook: 1"
	echo "name: fanout"
	hosts_yaml "${names[@]}"
	echo "  all: {hosts: [$(IFS=,; echo "${names[*]}")]}"
	echo "phases:"
	echo "  - name: p"
	echo "    steps:"
	for s in $(seq "$STEPS"); do
		echo "      - {name: s$s, on: all, run: 'true'}"
	done
} >fanout.yaml

run_migrate_once() {
	local t0 t1
	rm -rf "$T/state"
	t0=$(now)
	if ! "$MIGRATE" run fanout.yaml --forks "$HOSTS" --state-dir "$T/state" -q >/dev/null 2>"$T/merr"; then
		# no figure for a run that failed: "inf" (sorted last by the median)
		echo "migrate failed: $(tail -3 "$T/merr")" >&2
		echo inf
		return
	fi
	t1=$(now)
	elapsed "$t0" "$t1"
}

run_controlmaster_once() {
	local t0 t1 n s
	t0=$(now)
	for n in "${names[@]}"; do
		ssh "${SSHOPTS[@]}" -p "$(sshd_port "$n")" -o ControlMaster=yes -o ControlPath="$T/cm-$n" \
			-o ControlPersist=60 -fN 127.0.0.1 &
	done
	wait
	for s in $(seq "$STEPS"); do
		for n in "${names[@]}"; do
			ssh "${SSHOPTS[@]}" -p "$(sshd_port "$n")" -o ControlPath="$T/cm-$n" 127.0.0.1 true &
		done
		wait
	done
	t1=$(now)
	for n in "${names[@]}"; do
		ssh -o ControlPath="$T/cm-$n" -O exit 127.0.0.1 2>/dev/null
	done
	elapsed "$t0" "$t1"
}

: >pssh-hosts
for n in "${names[@]}"; do echo "127.0.0.1:$(sshd_port "$n")" >>pssh-hosts; done
run_pssh_once() {
	local t0 t1 s
	t0=$(now)
	for s in $(seq "$STEPS"); do
		parallel-ssh -h pssh-hosts -p "$HOSTS" -l "$SSH_USER" -x "${SSHOPTS[*]}" true >/dev/null ||
			echo "pssh failed" >&2
	done
	t1=$(now)
	elapsed "$t0" "$t1"
}

{
	echo "all:"
	echo "  hosts:"
	for n in "${names[@]}"; do
		echo "    $n: {ansible_host: 127.0.0.1, ansible_port: $(sshd_port "$n")}"
	done
	echo "  vars:"
	echo "    ansible_user: $SSH_USER"
	echo "    ansible_ssh_private_key_file: $KEY"
	echo "    ansible_ssh_common_args: '-F /dev/null -o KexAlgorithms=$KEX -o UserKnownHostsFile=$HOME/.ssh/known_hosts'"
	echo "    ansible_python_interpreter: /usr/bin/python3"
} >inventory.yml
{
	echo "- hosts: all"
	echo "  gather_facts: false"
	echo "  tasks:"
	for s in $(seq "$STEPS"); do
		echo "    - {name: s$s, command: 'true'}"
	done
} >play.yml
run_ansible_once() {
	local t0 t1
	t0=$(now)
	ANSIBLE_PIPELINING=True ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_FORKS="$HOSTS" ANSIBLE_NOCOLOR=1 \
		ANSIBLE_LOCAL_TEMP="$T/ansible-tmp" ANSIBLE_SSH_CONTROL_PATH_DIR="$T/ansible-cp" \
		ansible-playbook -i inventory.yml -f "$HOSTS" play.yml >"$T/ansible.log" 2>&1 ||
		echo "ansible failed: $(tail -5 "$T/ansible.log")" >&2
	t1=$(now)
	elapsed "$t0" "$t1"
}

measure() { # NAME FUNCTION
	local i
	for i in $(seq "$RUNS"); do "$2"; done | median
}

echo "$HOSTS loopback sshds x $STEPS trivial steps, median of $RUNS runs ($(nproc) cores)"
m=$(measure migrate run_migrate_once)
cm=$(measure controlmaster run_controlmaster_once)
printf '  %-28s %6.2f s\n' "migrate" "$m" "ssh + ControlMaster" "$cm"
if command -v parallel-ssh >/dev/null; then
	p=$(measure pssh run_pssh_once)
	printf '  %-28s %6.2f s\n' "parallel-ssh" "$p"
fi
if command -v ansible-playbook >/dev/null; then
	a=$(measure ansible run_ansible_once)
	printf '  %-28s %6.2f s\n' "ansible (command, pipelining)" "$a"
fi
printf '  migrate / ControlMaster   = %.2f (target <= 0.75)\n' "$(echo "$m / $cm" | bc -l)"
[ -z "${p:-}" ] || printf '  migrate / parallel-ssh     = %.2f\n' "$(echo "$m / $p" | bc -l)"
[ -z "${a:-}" ] || printf '  migrate / ansible          = %.2f\n' "$(echo "$m / $a" | bc -l)"

# 100 hosts x 2 steps, each sshd on its own loopback address
for n in "${names[@]}"; do sshd_stop "$n"; done
SSHD_NAMES=""
big=()
for i in $(seq 2 101); do
	sshd_start "b$i" "127.0.0.$i" >/dev/null || exit 1
	sshd_known "b$i"
	big+=("b$i")
done
{
	echo "runbook: 1"
	echo "name: fanout100"
	hosts_yaml "${big[@]}"
	echo "  all: {hosts: [$(IFS=,; echo "${big[*]}")]}"
	echo "phases:"
	echo "  - name: p"
	echo "    steps:"
	echo "      - {name: s1, on: all, run: 'true'}"
	echo "      - {name: s2, on: all, run: 'true'}"
} >fanout.yaml
HOSTS=100
b=$(measure migrate run_migrate_once)
printf '100 hosts x 2 steps, migrate --forks 100: %.2f s (median of %s)\n' "$b" "$RUNS"
