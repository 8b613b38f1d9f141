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

# --- forged journals: a valid checksum does not make a record trusted ---

# forge.py JOURNAL OP LINE ARG...: rewrite a journal, renumbering seq and
# recomputing every checksum, as someone who can write the file could.
#   drop LINE KEY | set LINE KEY JSON | insert AFTER-LINE JSON-RECORD
cat > forge.py <<'PY'
import hashlib, json, sys
path, op, line = sys.argv[1], sys.argv[2], int(sys.argv[3])
recs = [json.loads(l) for l in open(path, encoding="utf-8")]
for r in recs:
    r.pop("sum", None)
if op == "drop":
    del recs[line - 1][sys.argv[4]]
elif op == "set":
    recs[line - 1][sys.argv[4]] = json.loads(sys.argv[5])
elif op == "insert":
    new = json.loads(sys.argv[4])
    new["ts"] = recs[line - 1]["ts"]
    recs.insert(line, new)
with open(path, "w", encoding="utf-8") as f:
    for i, r in enumerate(recs, 1):
        body = {"seq": i, "ts": r.pop("ts")}
        r.pop("seq", None)
        body.update(r)
        x = json.dumps(body, separators=(",", ":"), ensure_ascii=False)[:-1]
        s = hashlib.sha256((x + "}").encode()).hexdigest()[:16]
        f.write(x + ',"sum":"' + s + '"}\n')
PY
cat > forged.yaml <<'EOF2'
runbook: 1
name: forged
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: s1
        run: "echo s1 >> ${dir}/forged.log"
      - name: s2
        run: "echo s2 >> ${dir}/forged.log; while [ -e ${dir}/hold-forged ]; do sleep 0.05; done"
      - name: s3
        run: "echo s3 >> ${dir}/forged.log"
EOF2
# An interrupted run (s1 done, s2 interrupted), its journal saved to forge copies of.
touch "$T/hold-forged"
"$MIGRATE" run forged.yaml --var dir="$T" --state-dir "$T/st-f" </dev/null >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1000); do grep -qx s2 "$T/forged.log" 2>/dev/null && break; sleep 0.02; done
kill -TERM $pid
wait $pid; rc=$?
expect_rc "the run to forge is interrupted" 5
rm -f "$T/hold-forged"
fj=$(ls "$T"/st-f/runs/*.jsonl)
cp "$fj" "$T/journal.orig"
line_of() { grep -n "$1" "$fj" | head -1 | cut -d: -f1; }
: > "$T/forged.log"

python3 forge.py "$fj" drop 1 file
for cmd in resume rollback status; do
	run_migrate $cmd --state-dir "$T/st-f" $([ $cmd = resume ] && echo --yes)
	expect_rc "$cmd of a journal whose run_start has no file" 6
	expect_in "$cmd names line 1 and the missing field" "$T/err" "is corrupt at line 1: run_start record: \"file\" is missing"
done

cp "$T/journal.orig" "$fj"
n=$(line_of '"type":"unit_end","unit":"s2"')
python3 forge.py "$fj" insert "$n" '{"type":"unit_end","unit":"s3","status":"done","attempts":1,"exit_code":0,"duration_ms":1,"message":null,"captures":{},"tail":""}'
run_migrate resume --state-dir "$T/st-f" --yes
expect_rc "resume with a forged unit_end for a step that never ran" 6
expect_in "names the forged line" "$T/err" "is corrupt at line $((n + 1)): unit_end of a unit that is not running"
run_migrate status --state-dir "$T/st-f"
expect_rc "status refuses it too" 6

cp "$T/journal.orig" "$fj"
n=$(line_of '"type":"unit_end","unit":"s1"')
python3 forge.py "$fj" set "$n" status '"sorted"'
run_migrate resume --state-dir "$T/st-f" --yes
expect_rc "resume with an unknown unit status" 6
expect_in "names the line and the status" "$T/err" "is corrupt at line $n: unit_end record: unknown status 'sorted'"

cp "$T/journal.orig" "$fj"
n=$(line_of '"type":"unit_start","unit":"s1"')
python3 forge.py "$fj" set "$n" unit '"s9"'
# every record of s1 (unit_pgid and unit_end follow its unit_start)
for m in $(grep -n '"unit":"s1"' "$fj" | cut -d: -f1); do
	python3 forge.py "$fj" set "$m" unit '"s9"'
done
run_migrate resume --state-dir "$T/st-f" --yes
expect_rc "resume with a unit the runbook does not have" 6
expect_in "names the line and the unit" "$T/err" "is corrupt at line $n: unit 's9' is not a unit of the runbook"
expect_file "nothing ran on any refusal" "$T/forged.log" ""

cp "$T/journal.orig" "$fj"
python3 forge.py "$fj" set 2 phase '"p"'
run_migrate resume --state-dir "$T/st-f" --yes
expect_rc "the rewritten but well-formed journal resumes" 0
expect_file "s2 and s3 ran, s1 did not" "$T/forged.log" "s2
s3"

# --- file modes under umask 000; reports ---

cat > ok.yaml <<'EOF2'
runbook: 1
name: ok
phases:
  - name: p
    steps:
      - name: s1
        run: "echo one"
      - name: s2
        run: "echo two"
EOF2
mode_of() { stat -c %a "$1"; }
(umask 000; timeout -k 5 120 "$MIGRATE" run ok.yaml --state-dir "$T/st0" --report json="$T/r.json" --report junit="$T/r.xml" </dev/null >"$T/out" 2>"$T/err"; echo $? > "$T/rc")
rc=$(cat "$T/rc")
expect_rc "run under umask 000" 0
for f in "$T/r.json" "$T/r.xml" "$T"/st0/runs/*.jsonl "$T"/st0/locks/*.lock; do
	m=$(mode_of "$f")
	[ "$m" = 600 ] && pass "$(basename "$f") is 0600 under umask 000" || fail "$(basename "$f") is $m under umask 000"
done
for d in "$T/st0" "$T/st0/runs" "$T/st0/locks"; do
	m=$(mode_of "$d")
	[ "$m" = 700 ] && pass "$(basename "$d")/ is 0700 under umask 000" || fail "$(basename "$d")/ is $m under umask 000"
done
ls -a "$T" | grep -q 'r\.json\.' && fail "a temporary report file was left behind" "$(ls -a "$T")" || pass "no temporary report file left behind"

# A report that cannot be written is a warning; the run's exit code stands.
run_migrate run ok.yaml --state-dir "$T/st1" --report json="$T/no/such/dir/r.json"
expect_rc "an unwritable report does not change a successful run's exit code" 0
expect_in "the report failure is a warning naming the file" "$T/err" "warning: cannot write JSON report"
expect_in "  ... naming the file" "$T/err" "no/such/dir/r.json"

# A symlink or hard link planted at the old temporary name is left alone.
echo precious > victim
ln -s "$T/victim" "$T/r2.json.tmp"
run_migrate run ok.yaml --state-dir "$T/st2" --report json="$T/r2.json"
expect_rc "a symlink at PATH.tmp does not fail the run" 0
expect_file "the symlink's target is untouched" victim "precious"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["outcome"] == "succeeded"' "$T/r2.json" && pass "the report was written beside it" || fail "report r2.json"

# --- the lock file deleted under a running run ---

cat > held.yaml <<'EOF2'
runbook: 1
name: held
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: s1
        run: "echo s1 >> ${dir}/held.log"
      - name: s2
        run: "echo s2 >> ${dir}/held.log; while [ -e ${dir}/hold-held ]; do sleep 0.05; done"
EOF2
touch "$T/hold-held"
"$MIGRATE" run held.yaml --var dir="$T" --state-dir "$T/st-held" </dev/null >"$T/first.out" 2>&1 &
first=$!
for _ in $(seq 1000); do grep -qx s2 "$T/held.log" 2>/dev/null && break; sleep 0.02; done
rm -f "$T/st-held/locks/held.lock"
run_migrate run held.yaml --var dir="$T" --state-dir "$T/st-held"
expect_rc "a second run while the first holds its deleted lock" 6
expect_in "the refusal names the first run" "$T/err" "is locked by run $(basename "$(ls "$T"/st-held/runs/*.jsonl)" .jsonl) (pid $first"
rm -f "$T/hold-held"
wait $first; rc=$?
expect_rc "the first run completes" 0
expect_file "every step ran once" "$T/held.log" "s1
s2"
run_migrate run held.yaml --var dir="$T" --state-dir "$T/st-held"
expect_rc "after the first run, the next one starts" 0

# --- a state directory that others can write to is refused ---

mkdir -p "$T/st-open/runs" "$T/st-open/locks"
chmod 700 "$T/st-open" "$T/st-open/runs" "$T/st-open/locks"
chmod 777 "$T/st-open"
run_migrate run ok.yaml --state-dir "$T/st-open"
expect_rc "a world-writable state directory" 6
expect_in "says it is writable by every user" "$T/err" "st-open' is writable by every user (mode 0777)"
expect_in "says how to fix it" "$T/err" "chmod 700 '$T/st-open'"
run_migrate status --state-dir "$T/st-open"
expect_rc "status refuses it too" 6
chmod 700 "$T/st-open"
chmod 770 "$T/st-open/locks"
run_migrate run ok.yaml --state-dir "$T/st-open"
expect_rc "a group-writable locks/" 6
expect_in "says locks/ is writable by its group" "$T/err" "st-open/locks' is writable by its group (mode 0770)"
chmod 2770 "$T/st-open" "$T/st-open/locks" "$T/st-open/runs"
run_migrate run ok.yaml --state-dir "$T/st-open"
expect_rc "a setgid directory shared by a team is accepted" 0
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	mkdir "$T/st-other" && chmod 700 "$T/st-other" && chown nobody "$T/st-other"
	run_migrate run ok.yaml --state-dir "$T/st-other"
	expect_rc "a state directory owned by another user" 6
	expect_in "says it is owned by another user" "$T/err" "st-other' is owned by another user"
fi

# --- control characters in step output are shown, never obeyed ---

cat > esc.yaml <<'EOF2'
runbook: 1
name: esc
phases:
  - name: p
    steps:
      - name: s
        run: "printf 'a\\033]0;pwned\\007b\\rc\\033[2Jd\\ttab\\302\\233e\\n'; exit 3"
EOF2
# no_raw_controls NAME FILE: FILE holds no control byte but tab and newline
no_raw_controls() {
	if python3 - "$2" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
bad = [b for b in data if (b < 0x20 and b not in (9, 10)) or b == 0x7f]
assert not bad and b'\xc2\x9b' not in data, bad[:10]
PY
	then pass "$1"; else fail "$1" "$(cat -A "$2" | head -20)"; fi
}
run_migrate run esc.yaml --state-dir "$T/st-esc" -v
expect_rc "a step printing escape sequences fails as asked" 1
no_raw_controls "live output (-v) carries no raw control character" "$T/out"
expect_in "live output shows them visibly" "$T/out" 'a^[]0;pwned^Gb^Mc^[[2Jd	tab\u009be'
run_migrate run esc.yaml --state-dir "$T/st-esc2"
no_raw_controls "the failure tail carries no raw control character" "$T/out"
expect_in "the failure tail shows them visibly" "$T/out" 'a^[]0;pwned^Gb^Mc^[[2Jd	tab\u009be'
run_migrate status --state-dir "$T/st-esc"
no_raw_controls "status text carries no raw control character" "$T/out"
expect_in "status shows them visibly" "$T/out" 'a^[]0;pwned^Gb^Mc^[[2Jd	tab\u009be'
run_migrate status --state-dir "$T/st-esc" --color always
python3 - "$T/out" <<'PY' && pass "status --color always keeps its own colours only" || fail "status colours" "$(cat -A "$T/out" | head)"
import re, sys
data = open(sys.argv[1], 'rb').read()
escs = re.findall(rb'\x1b\[[0-9;]*[A-Za-z]', data)
assert escs and all(re.fullmatch(rb'\x1b\[(0|1|2|31|32|33|36)m', e) for e in escs), escs
assert b'\x1b]' not in data and b'\x1b[2J' not in data
PY
run_migrate status --state-dir "$T/st-esc" --format json
python3 - "$T/out" <<'PY' && pass "status --format json keeps the bytes (JSON-escaped)" || fail "status json tail"
import json, sys
doc = json.load(open(sys.argv[1]))
tails = [u.get("tail", "") for u in doc["units"]]
assert any("a\x1b]0;pwned\x07b\rc\x1b[2Jd\ttab\u009be" in t for t in tails), tails
PY
grep -qF '\u001b]0;pwned\u0007' "$T"/st-esc/runs/*.jsonl && pass "the journal keeps the raw bytes, JSON-escaped" || fail "journal tail"

# --- SIGHUP: recorded as an interrupt, the running command stopped, exit 5 ---

cat > hup.yaml <<'EOF2'
runbook: 1
name: hup
vars: {dir: /tmp}
phases:
  - name: p
    steps:
      - name: s1
        run: "echo s1 >> ${dir}/hup.log"
      - name: s2
        run: "echo $$ > ${dir}/child.pid; echo s2 >> ${dir}/hup.log; while [ -e ${dir}/hold ]; do sleep 0.05; done"
      - name: s3
        run: "echo s3 >> ${dir}/hup.log"
EOF2
touch "$T/hold"
"$MIGRATE" run hup.yaml --var dir="$T" --state-dir "$T/st-hup" </dev/null >"$T/out" 2>&1 &
pid=$!
for _ in $(seq 1000); do [ -s "$T/child.pid" ] && break; sleep 0.02; done
child=$(cat "$T/child.pid" 2>/dev/null)
kill -HUP $pid
wait $pid; rc=$?
expect_rc "SIGHUP" 5
for _ in $(seq 250); do kill -0 "$child" 2>/dev/null || break; sleep 0.02; done
[ -n "$child" ] && kill -0 "$child" 2>/dev/null && { fail "the step's process survived SIGHUP"; kill -KILL "$child"; } || pass "the step's process was stopped"
journal=$(ls "$T"/st-hup/runs/*.jsonl)
grep -q '"type":"interrupted","signal":"SIGHUP"' "$journal" && pass "the journal records the SIGHUP" || fail "no SIGHUP interrupt record" "$(cat "$journal")"
grep -q '"status":"interrupted"' "$journal" && pass "the running unit is recorded interrupted" || fail "unit not recorded interrupted"
rm -f "$T/hold"
run_migrate resume --state-dir "$T/st-hup" --yes
expect_rc "resume after SIGHUP" 0
expect_file "s2 ran again, s1 did not, s3 ran" "$T/hup.log" "s1
s2
s2
s3"

finish
