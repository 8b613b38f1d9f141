#!/bin/bash
# Hardening regressions (issue 11): line breaks as libyaml counts them,
# forged and damaged journals, the lock and the state directory's
# permissions, report files, SIGHUP and control characters in output.
. "$(dirname "$0")/lib.sh"

# --- line breaks: CR, CRLF, NEL, LS, PS are line breaks for libyaml ---

printf 'runbook: 1\rname: x\rphases:\r- name: p\r  steps:\r  - name: s\r    run: "true"\r' > cr.yaml
run_migrate validate cr.yaml
expect_rc "a runbook with lone CR line breaks validates" 0
run_migrate plan cr.yaml
expect_rc "and plans" 0
expect_in "plan shows the command" "$T/out" "    run: true"

# 3 million CRs before an error: the error names the right line, and the
# printed source line is that line alone.
python3 - <<'PY'
head = b'runbook: 1\rname: x\rphases:\r- name: p\r  steps:\r  - name: s\r    run: "true"\r'
open('many-cr.yaml', 'wb').write(head + b'\r' * 3000000 + b'    bogus: 1\r')
open('many-cr-ok.yaml', 'wb').write(b'\r' * 3000000 + head)
PY
run_migrate validate many-cr.yaml
expect_rc "3 million CRs and an unknown key" 2
expect_in "the error names line 3000008" "$T/err" "many-cr.yaml:3000008:5: unknown key 'bogus'"
if [ "$(sed -n 2p "$T/err")" = "      bogus: 1" ] && [ "$(sed -n 3p "$T/err")" = "      ^" ]; then
	pass "the source line and the caret are those of line 3000008"
else
	fail "source line and caret" "$(head -3 "$T/err" | cat -A)"
fi
run_migrate validate many-cr-ok.yaml
expect_rc "3 million CRs before a valid runbook" 0

# A YAML syntax error after NEL, LS and PS line breaks
printf 'runbook: 1\xc2\x85name: x\xe2\x80\xa8phases:\xe2\x80\xa9- name: p\r\n  steps:\n  - name: s\r    run: "t\xc3\xa9"\n   bad: 1\n' > uni.yaml
run_migrate validate uni.yaml
expect_rc "YAML error after Unicode line breaks" 2
expect_in "the syntax error names line 8, column 4" "$T/err" "uni.yaml:8:4: invalid YAML"
if [ "$(sed -n 2p "$T/err")" = "     bad: 1" ] && [ "$(sed -n 3p "$T/err")" = "     ^" ]; then
	pass "the caret sits under column 4 of line 8"
else
	fail "caret after Unicode line breaks" "$(head -3 "$T/err" | cat -A)"
fi

finish
