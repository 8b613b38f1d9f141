# sshd-lib.sh - real OpenSSH sshd servers for the SSH tests (source after lib.sh).
#
# Every server runs /usr/sbin/sshd in the foreground on a loopback address
# and a free port, with its own sshd_config, host key and authorized_keys in
# $T/sshd/NAME, never the machine's. All of them are stopped when the test
# exits. The client side gets a clean HOME ($T/home) with no ~/.ssh of the
# person running the tests, and no ssh-agent unless a test starts one.
#
#   sshd_need                      skip the test (exit 77) when sshd is missing
#   sshd_start NAME [ADDR] [LINE...]   start a server; extra sshd_config lines
#   sshd_port NAME / sshd_pid NAME     its port / pid
#   sshd_stop NAME                 stop it (SIGTERM, then SIGKILL)
#   sshd_kill_hard NAME            SIGKILL it and its sessions (a crash)
#   sshd_signal NAME SIG           signal it and its sessions (STOP: a freeze)
#   sshd_known NAME                add its host key to ~/.ssh/known_hosts
#   sshd_fingerprint NAME          its host key's SHA256 fingerprint
#   sshd_sudoers                   as root with sudo installed: let $SSH_USER run
#                                  anything as root without a password (a
#                                  sudoers drop-in removed when the test exits);
#                                  returns 1 otherwise
#
# The client key is $T/home/.ssh/id_ed25519 (found by migrate by default) and
# its public half is authorized on every server for $SSH_USER: as root, a
# dedicated user `migrate-test` (login shell /bin/sh, an empty home: no rc
# file of root's slows each command down or prints anything); otherwise the
# current user. Remote commands write into $REMOTE ($T/remote, mode 1777).

SSHD_BIN=/usr/sbin/sshd
SSHD_DIR="$T/sshd"
SSHD_NAMES=""
REMOTE="$T/remote"
export HOME="$T/home"
unset SSH_AUTH_SOCK SSH_AGENT_PID
mkdir -p "$HOME/.ssh" "$SSHD_DIR"
chmod 700 "$HOME/.ssh"

sshd_need() {
	if [ ! -x "$SSHD_BIN" ] || ! command -v ssh-keygen >/dev/null; then
		echo "SKIP: $SSHD_BIN or ssh-keygen missing (apt-get install openssh-server openssh-client)"
		exit 77
	fi
	# A root sshd refuses to start without its privilege separation directory.
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p /run/sshd
		if ! id migrate-test >/dev/null 2>&1; then
			useradd --system --no-create-home --home-dir /var/lib/migrate-test \
				--shell /bin/sh migrate-test 2>/dev/null || id migrate-test >/dev/null 2>&1 || exit 1
		fi
		# A locked account ('!' password) is refused by sshd without PAM; '*' is not locked.
		usermod -p '*' migrate-test
		mkdir -p /var/lib/migrate-test
		SSH_USER=migrate-test
	else
		SSH_USER=$(id -un)
	fi
	export SSH_USER
	chmod 711 "$T"
	mkdir -p "$REMOTE"
	chmod 1777 "$REMOTE"
	[ -f "$HOME/.ssh/id_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C migrate-test -f "$HOME/.ssh/id_ed25519" || exit 1
}

sshd_stop_all() {
	local n
	for n in $SSHD_NAMES; do sshd_stop "$n"; done
	[ -z "${SSH_AGENT_PID:-}" ] || kill "$SSH_AGENT_PID" 2>/dev/null
	[ -z "${SSHD_SUDOERS:-}" ] || rm -f "$SSHD_SUDOERS"
	rm -rf "$T"
}
trap sshd_stop_all EXIT

sshd_sudoers() {
	[ "$(id -u)" -eq 0 ] && [ "$SSH_USER" = migrate-test ] && command -v sudo >/dev/null && [ -d /etc/sudoers.d ] || return 1
	SSHD_SUDOERS=/etc/sudoers.d/migrate-test-$$
	echo "migrate-test ALL=(root) NOPASSWD: ALL" >"$SSHD_SUDOERS.tmp"
	chmod 440 "$SSHD_SUDOERS.tmp"
	visudo -cq -f "$SSHD_SUDOERS.tmp" && mv "$SSHD_SUDOERS.tmp" "$SSHD_SUDOERS" || { rm -f "$SSHD_SUDOERS.tmp"; return 1; }
}

# A TCP port nobody listens on now.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

sshd_port() { cat "$SSHD_DIR/$1/port"; }
sshd_pid() { cat "$SSHD_DIR/$1/pid"; }
sshd_addr() { cat "$SSHD_DIR/$1/addr"; }

sshd_fingerprint() {
	ssh-keygen -l -E sha256 -f "$SSHD_DIR/$1/host_ed25519.pub" | awk '{print $2}'
}

# sshd_known NAME [FILE] [hashed]: record NAME's host key as [addr]:port (or addr for port 22).
sshd_known() {
	local d="$SSHD_DIR/$1" file=${2:-$HOME/.ssh/known_hosts} host
	host="[$(sshd_addr "$1")]:$(sshd_port "$1")"
	printf '%s %s\n' "$host" "$(cut -d' ' -f1-2 "$d/host_ed25519.pub")" >>"$file"
	if [ "${3:-}" = hashed ]; then
		ssh-keygen -q -H -f "$file" >/dev/null 2>&1 && rm -f "$file.old"
	fi
}

# sshd_start NAME [ADDR] [CONFIG-LINE...]
sshd_start() {
	local name=$1 addr=${2:-127.0.0.1} d port i
	shift
	[ $# -eq 0 ] || shift
	d="$SSHD_DIR/$name"
	mkdir -p "$d"
	[ -f "$d/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "host-$name" -f "$d/host_ed25519" || return 1
	cat "$HOME/.ssh/id_ed25519.pub" >"$d/authorized_keys"
	[ -f "$d/port" ] && port=$(cat "$d/port") || port=$(free_port)
	cat >"$d/sshd_config" <<EOF
Port $port
ListenAddress $addr
HostKey $d/host_ed25519
AuthorizedKeysFile $d/authorized_keys
PidFile $d/sshd.pid
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitTTY no
PrintMotd no
MaxStartups 200:30:400
MaxSessions 100
KexAlgorithms curve25519-sha256
Subsystem sftp internal-sftp
LogLevel ERROR
EOF
	for i in "$@"; do echo "$i" >>"$d/sshd_config"; done
	echo "$port" >"$d/port"
	echo "$addr" >"$d/addr"
	"$SSHD_BIN" -D -e -f "$d/sshd_config" 2>>"$d/log" &
	echo $! >"$d/pid"
	case " $SSHD_NAMES " in *" $name "*) ;; *) SSHD_NAMES="$SSHD_NAMES $name" ;; esac
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then return 0; fi
		kill -0 "$(cat "$d/pid")" 2>/dev/null || break
		sleep 0.05
	done
	echo "sshd $name did not start on $addr:$port:" >&2
	cat "$d/log" >&2
	return 1
}

# sshd_signal NAME SIG: send SIG to the server and every sshd process of its
# sessions (STOP: the machine freezes, connections stay up and say nothing).
sshd_signal() {
	local pid kids all
	pid=$(cat "$SSHD_DIR/$1/pid" 2>/dev/null) || return 0
	all=$pid
	kids=$pid
	while [ -n "$kids" ]; do
		kids=$(ps -eo pid=,ppid=,comm= | awk -v p=" $kids " '$3 == "sshd" && index(p, " " $2 " ") { print $1 }' | tr '\n' ' ')
		all="$all $kids"
	done
	kill -"$2" $all 2>/dev/null
	echo "$all" >"$SSHD_DIR/$1/signalled"
}

# sshd_kill_hard NAME: SIGKILL the server and every sshd process of its
# sessions (a crash of the machine's sshd: connections drop at once; the
# commands they ran are left to their lifeline).
sshd_kill_hard() { sshd_signal "$1" KILL; }

sshd_stop() {
	local pid
	pid=$(cat "$SSHD_DIR/$1/pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$SSHD_DIR/$1/pid"
}

# hosts_yaml NAME...: a `hosts:` block naming each server by its NAME.
hosts_yaml() {
	local n
	echo "hosts:"
	for n in "$@"; do
		echo "  $n: {address: $(sshd_addr "$n"), port: $(sshd_port "$n"), user: $SSH_USER}"
	done
}
