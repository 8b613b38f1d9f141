#!/bin/bash
# Rename fault injection (needs a build with -Dfault_injection=true): the
# journal never renames, but other state writes do: a host key recorded
# with --accept-new-host-keys (known_hosts copied and renamed), an SFTP
# upload's temporary file renamed on the server, a download's renamed
# locally, and each --report file renamed into place. For every k, the k-th
# rename of a 20-step run against a real sshd fails (EIO or ENOSPC in turn):
#   - a report: a warning naming the file and the error, the exit code
#     unchanged (0), no report or temporary file left;
#   - anything else: the unit fails, the run exits non-zero with a message
#     naming the file and the error, nothing half-written is left in place;
# and in every case the journal stays readable (status); a failed run
# (--no-rollback, so it stays unfinished) is finished by `migrate rollback`
# from its journal (the steps done before the fault undone, newest first),
# and the next run goes through.
. "$(dirname "$0")/lib.sh"
. "$SRCDIR/tests/cli/sshd-lib.sh"
sshd_need
sshd_start r

N=20
printf 'payload\n' > "$T/up.src"
{
	echo "runbook: 1"
	echo "name: fault-rename"
	hosts_yaml r
	echo "vars: {dir: /tmp, remote: /tmp}"
	echo "phases:"
	echo "  - name: p"
	echo "    steps:"
	echo "      - name: s1"
	echo "        run: 'echo s1 >> \${dir}/ran.log'"
	echo "        rollback: {run: 'echo s1 >> \${dir}/undo.log'}"
	echo "      - name: s2"
	echo "        on: r"
	echo "        upload: {src: \"\${dir}/up.src\", dest: \"\${remote}/up.conf\", mode: \"0644\"}"
	echo "        idempotent: true"
	echo "      - name: s3"
	echo "        on: r"
	echo "        download: {src: \"\${remote}/up.conf\", dest: \"\${dir}/down.conf\"}"
	echo "        idempotent: true"
	for i in $(seq 4 $N); do
		echo "      - name: s$i"
		echo "        run: 'echo s$i >> \${dir}/ran.log'"
		echo "        rollback: {run: 'echo s$i >> \${dir}/undo.log'}"
	done
} > rename.yaml

cat > jq.py <<'PY'
import json, sys
kind = sys.argv[2]
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if kind == "done" and r.get("type") == "unit_end" and r.get("status") == "done":
        print(r["unit"])
PY

# leftovers DIR...: temporary files of a rename that did not happen
leftovers() { find "$@" -maxdepth 1 \( -name '*.migrate-*' -o -name 'r.xml.*' -o -name 'r.json.*' -o -name 'down.conf.*' -o -name '.up.conf*' -o -name 'up.conf.*' \) 2>/dev/null; }

k=0
reached_end=false
seen_kinds=""
while [ $k -lt 50 ]; do
	k=$((k + 1))
	err=EIO msg="Input/output error"
	[ $((k % 2)) -eq 0 ] && err=ENOSPC msg="No space left on device"
	st="$T/st-$k"
	rm -f "$T/ran.log" "$T/down.conf" "$T/r.xml" "$T/r.json" "$REMOTE/up.conf" "$HOME/.ssh/known_hosts"
	touch "$T/ran.log"
	MIGRATE_FAULT_RENAME="$k:$err" timeout -k 5 120 "$MIGRATE" run rename.yaml --var dir="$T" --var remote="$REMOTE" \
		--state-dir "$st" --accept-new-host-keys --no-rollback --report junit="$T/r.xml" --report json="$T/r.json" \
		</dev/null >"$T/out" 2>"$T/err"
	rc=$?
	rc0=$rc
	cat "$T/out" "$T/err" > "$T/all"
	j=$(ls "$st"/runs/*.jsonl 2>/dev/null | head -1)
	left=$(leftovers "$T" "$REMOTE" "$HOME/.ssh")
	[ -z "$left" ] && pass "k=$k ($err): no temporary file left" || fail "k=$k ($err): temporary files left" "$left"
	if [ $rc -eq 0 ] && ! grep -q "$msg" "$T/all"; then
		# k is past the last rename of a whole run: every k before it was tested
		[ -s "$T/r.xml" ] && [ -s "$T/r.json" ] && [ -s "$T/down.conf" ] && grep -q "^\[127.0.0.1\]:$(sshd_port r) " "$HOME/.ssh/known_hosts" &&
			pass "k=$k: no fault, every file in place" || fail "k=$k: a clean run misses a file" "$(ls -la "$T")"
		reached_end=true
		break
	fi
	if [ $rc -eq 0 ]; then
		# only a report may fail without failing the run
		if grep -q "migrate: warning: cannot write [A-Za-z]* report: cannot rename '$T/r\.\(xml\|json\)\.[^']*' to '$T/r\.\(xml\|json\)': $msg (the run's outcome is unchanged)" "$T/err"; then
			pass "k=$k ($err): a report that cannot be renamed is a warning naming it, exit 0"
			seen_kinds="$seen_kinds report"
		else
			fail "k=$k ($err): exit 0 without the report warning" "$(head -20 "$T/all")"
		fi
		n=0
		[ -s "$T/r.xml" ] && n=$((n + 1))
		[ -s "$T/r.json" ] && n=$((n + 1))
		[ $n -eq 1 ] && pass "k=$k: the other report was written" || fail "k=$k: $n reports written, expected 1"
		[ "$(python3 jq.py "$j" done | wc -l)" -eq $N ] && pass "k=$k: every step done in the journal" ||
			fail "k=$k: not every step done" "$(python3 jq.py "$j" done)"
	else
		if grep -q "cannot record the host key in '$HOME/.ssh/known_hosts': $msg" "$T/all"; then
			pass "k=$k ($err): exit $rc, the host key that cannot be recorded is named"
			seen_kinds="$seen_kinds known_hosts"
			grep -q "^\[127.0.0.1\]:$(sshd_port r) " "$HOME/.ssh/known_hosts" 2>/dev/null &&
				fail "k=$k: the key was recorded anyway" || pass "k=$k: known_hosts not replaced"
		elif grep -q "r (${SSH_USER}@127.0.0.1:$(sshd_port r)): cannot rename the upload to '$REMOTE/up.conf': $msg" "$T/all"; then
			pass "k=$k ($err): exit $rc, the upload that cannot be renamed is named with its host"
			seen_kinds="$seen_kinds upload"
			[ -e "$REMOTE/up.conf" ] && fail "k=$k: the upload is in place anyway" || pass "k=$k: no half upload in place"
		elif grep -q "cannot rename '$T/\.down\.conf\.migrate-[^']*' to '$T/down.conf': $msg" "$T/all"; then
			pass "k=$k ($err): exit $rc, the download that cannot be renamed is named"
			seen_kinds="$seen_kinds download"
			[ -e "$T/down.conf" ] && fail "k=$k: the download is in place anyway" || pass "k=$k: no half download in place"
		else
			fail "k=$k ($err): exit $rc without a clear message" "$(head -20 "$T/all")"
		fi
		# the reports are still written (a failed run has its reports too)
		[ -s "$T/r.xml" ] && [ -s "$T/r.json" ] && pass "k=$k: the reports of the failed run are written" ||
			fail "k=$k: reports missing after a failed unit" "$(ls "$T")"
	fi
	if [ -z "$j" ]; then
		fail "k=$k: no journal"
		continue
	fi
	run_migrate status --state-dir "$st"
	expect_rc "k=$k: status reads the journal" 0
	if [ $rc0 -ne 0 ]; then
		# the failed run (--no-rollback) is unfinished: rollback finishes it from its journal
		python3 jq.py "$j" done | grep -v '@' | tac > "$T/undo.want"
		rm -f "$T/undo.log"
		touch "$T/undo.log"
		run_migrate rollback --state-dir "$st" --yes
		expect_rc "k=$k: rollback reads the journal and finishes the run" 0
		expect_file "k=$k: the steps done before the fault are rolled back, newest first" "$T/undo.log" "$(cat "$T/undo.want")"
	fi
	# and the next run of the runbook goes through
	rm -f "$T/ran.log"
	run_migrate run rename.yaml --var dir="$T" --var remote="$REMOTE" --state-dir "$st" --accept-new-host-keys
	expect_rc "k=$k: the next run goes through" 0
	[ "$(sort -u "$T/ran.log" | wc -l)" -eq $((N - 2)) ] && cmp -s "$T/down.conf" "$T/up.src" &&
		pass "k=$k: every step of the next run ran, the file made the round trip" ||
		fail "k=$k: the next run" "$(cat "$T/ran.log")"
done
$reached_end && pass "every k up to a whole run ($((k - 1)) renames) was tested" ||
	fail "the run never got past the faults (k=$k)"
for want in known_hosts upload download report; do
	case " $seen_kinds " in
	*" $want "*) pass "a failing rename of the $want was seen" ;;
	*) fail "no k made the $want rename fail (seen:$seen_kinds)" ;;
	esac
done

finish
