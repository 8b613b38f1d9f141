#!/bin/bash
# validate on the invalid fixtures: exit 2 and the expected FILE:LINE:COL
# diagnostics; valid fixtures and examples validate and plan.
. "$(dirname "$0")/lib.sh"

cd "$SRCDIR" || exit 1
for f in tests/invalid/*.yaml; do
	exp="${f%.yaml}.expected"
	[ -f "$exp" ] || { fail "$f has no .expected file"; continue; }
	run_migrate validate "$f"
	expect_rc "validate $f" 2
	while IFS= read -r want; do
		[ -n "$want" ] || continue
		# .expected lines are "FILE:LINE:COL: message" (message may be a prefix)
		if grep -qF -- "$want" "$T/err"; then
			pass "$f reports '$want'"
		else
			fail "$f: '$want' not reported" "$(head -c 2000 "$T/err")"
		fi
	done < "$exp"
done

for f in tests/valid/*.yaml; do
	run_migrate validate "$f"
	expect_rc "validate $f" 0
	run_migrate plan "$f"
	expect_rc "plan $f" 0
	run_migrate plan "$f" --format json
	if python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/out"; then pass "plan --format json $f parses"; else fail "plan json of $f"; fi
done

run_migrate validate --format json tests/invalid/bad-duration.yaml runbooks/demo.yaml
expect_rc "validate --format json with one bad file" 2
if python3 - "$T/out" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
assert [d["valid"] for d in doc] == [False, True], doc
e = doc[0]["errors"][0]
assert e["line"] > 0 and e["column"] > 0 and e["message"], e
PY
then pass "validate json lists errors with line and column"; else fail "validate json document"; fi

# The caret points at the column.
run_migrate validate tests/invalid/bad-duration.yaml
if python3 - "$T/err" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
m = re.match(r'^[^:]+:(\d+):(\d+): ', lines[0])
assert m, lines[0]
col = int(m.group(2))
assert lines[2].index('^') - 2 == col - 1, lines[:3]
PY
then pass "caret under the reported column"; else fail "caret position" "$(head -3 "$T/err")"; fi

finish
