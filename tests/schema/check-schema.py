#!/usr/bin/python3
"""Check schemas/runbook.schema.json against the repository's runbooks.

usage: check-schema.py [SOURCE_ROOT]

Every runbooks/*.yaml and tests/valid/*.yaml must validate; every snippet in
MUST_FAIL below must be rejected (so the schema cannot silently become
permissive). Prints one line per file or snippet; exits 1 on any failure,
77 (skipped) when PyYAML or jsonschema is not installed.

YAML is read with YAML 1.2 core-schema scalars, as editors
(yaml-language-server) and libyaml-based migrate read it: `on`, `yes`, `no`
are strings, not booleans as in PyYAML's default YAML 1.1 resolver.
"""

import glob
import json
import os
import re
import sys

try:
    import yaml
    import jsonschema
except ImportError as exc:  # pragma: no cover
    print("SKIP: %s (apt-get install python3-yaml python3-jsonschema)" % exc)
    sys.exit(77)


class Yaml12Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema implicit types."""


Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
     list("-+0123456789")),
    ("tag:yaml.org,2002:float",
     r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
     r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     list("-+0123456789.")),
]:
    Yaml12Loader.add_implicit_resolver(_tag, re.compile(_regexp), _first)


def _construct_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def load_yaml(text):
    return yaml.load(text, Loader=Yaml12Loader)


# Snippets the schema must reject: (label, where the error must be reported
# as a /-joined path into the document ("" for the top level), YAML). The path
# makes sure each snippet fails for the reason it was written for.
MUST_FAIL = [
    ("gate approvals 0", "phases/0/gate", """
runbook: 1
name: x
phases: [{name: p, gate: {message: "go?", approvals: 0}, steps: [{name: s, run: "true"}]}]
"""),
    ("gate on_timeout without timeout", "phases/0/gate", """
runbook: 1
name: x
phases: [{name: p, gate: {message: "go?", on_timeout: rollback}, steps: [{name: s, run: "true"}]}]
"""),
    ("unknown notify event", "notify/0/on", """
runbook: 1
name: x
notify: [{on: [gates], run: "true"}]
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("numeric field with text around a reference", "phases/0/steps/0/timeout", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", timeout: "${t}s"}]}]
"""),
    ("not_before that is not RFC 3339", "not_before", """
runbook: 1
name: x
not_before: tomorrow
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("unknown top-level key", "", """
runbook: 1
name: x
colour: blue
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("unknown step key", "phases/0/steps/0", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", retries: 3}]}]
"""),
    ("unknown key in expect", "phases/0/steps/0/expect", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", expect: {exitcode: 0}}]}]
"""),
    ("two kinds in one step", "phases/0/steps/0", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", http: {url: "https://example.com/"}}]}]
"""),
    ("a gate next to a run", "phases/0/steps/0", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", gate: "Go?"}]}]
"""),
    ("empty command", "phases/0/steps/0/run", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "  "}]}]
"""),
    ("value regex without a capture group", "probes/n/expect/value/regex", """
runbook: 1
name: x
probes: {n: {run: "echo 1", expect: {value: {regex: '\\d+', below: 2}}}}
phases: [{name: p, steps: [{name: s, probe: n}]}]
"""),
    ("step without a kind", "phases/0/steps/0", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, timeout: 5m}]}]
"""),
    ("gate step with other fields", "phases/0/steps/0", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, gate: "Go?", timeout: 5m}]}]
"""),
    ("pause step with a rollback", "phases/0/steps/0", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, pause: 5s, rollback: {run: "true"}}]}]
"""),
    ("bad step name (upper case)", "phases/0/steps/0/name", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: Deploy, run: "true"}]}]
"""),
    ("bad runbook name (leading dash)", "name", """
runbook: 1
name: -x
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("bad duration (no unit)", "phases/0/steps/0/timeout", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", timeout: 30}]}]
"""),
    ("bad duration (increasing units)", "phases/0/steps/0/timeout", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", timeout: 30s1m}]}]
"""),
    ("wrong version", "runbook", """
runbook: 2
name: x
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("missing phases", "", """
runbook: 1
name: x
"""),
    ("step name missing", "phases/0/steps/0", """
runbook: 1
name: x
phases: [{name: p, steps: [{run: "true"}]}]
"""),
    ("http method not in the list", "phases/0/steps/0/http/method", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, http: {method: FETCH, url: "https://example.com/"}}]}]
"""),
    ("host with address and addresses", "hosts/web", """
runbook: 1
name: x
hosts: {web: {address: 192.0.2.1, addresses: [192.0.2.2]}}
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("secret from env and file", "secrets/tok", """
runbook: 1
name: x
secrets: {tok: {env: TOK, file: /tmp/tok}}
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("rollback with two kinds", "phases/0/steps/0/rollback", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", rollback: {run: "true", http: {url: "https://example.com/"}}}]}]
"""),
    ("rollback when: never", "phases/0/steps/0/rollback/when", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", rollback: {run: "true", when: never}}]}]
"""),
    ("retry attempts 0", "phases/0/steps/0/retry/attempts", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", retry: {attempts: 0}}]}]
"""),
    ("jitter above 1", "phases/0/steps/0/retry/jitter", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", retry: {attempts: 2, jitter: 1.5}}]}]
"""),
    ("for: a string that is not one ${var}", "phases/0/steps/0/for", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", for: "a b c"}]}]
"""),
    ("max_fail negative", "phases/0/steps/0/max_fail", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", max_fail: -1}]}]
"""),
    ("batch as a bad percentage", "phases/0/steps/0/batch", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", batch: "150%"}]}]
"""),
    ("probe with two kinds", "probes/up", """
runbook: 1
name: x
probes: {up: {tcp: "192.0.2.1:22", run: "true"}}
phases: [{name: p, steps: [{name: s, probe: up}]}]
"""),
    ("upload mode not octal", "phases/0/steps/0/upload/mode", """
runbook: 1
name: x
hosts: {web: {address: 192.0.2.1}}
phases: [{name: p, steps: [{name: s, on: web, upload: {src: a, dest: b, mode: "0999"}}]}]
"""),
    ("status class 9xx", "phases/0/steps/0/expect/status", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, http: {url: "https://example.com/"}, expect: {status: 9xx}}]}]
"""),
    ("zero timeout", "phases/0/steps/0/timeout", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", timeout: 0s}]}]
"""),
    ("HTTP status expected of a run step", "phases/0/steps/0/expect", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", expect: {status: 200}}]}]
"""),
    ("exit code expected of a tcp probe", "probes/db/expect", """
runbook: 1
name: x
probes: {db: {tcp: "192.0.2.1:5432", expect: {exit: 0}}}
phases: [{name: p, steps: [{name: s, probe: db}]}]
"""),
    ("expect in a probe step", "phases/0/steps/0", """
runbook: 1
name: x
probes: {db: {tcp: "192.0.2.1:5432"}}
phases: [{name: p, steps: [{name: s, probe: db, expect: {exit: 0}}]}]
"""),
    ("capture in an upload step", "phases/0/steps/0", """
runbook: 1
name: x
hosts: {web: {address: 192.0.2.1}}
phases: [{name: p, steps: [{name: s, on: web, upload: {src: a, dest: b}, capture: {x: '(.)'}}]}]
"""),
    ("value without a bound", "phases/0/steps/0/expect/value", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, run: "true", expect: {value: {regex: '(\\d+)'}}}]}]
"""),
    ("a group of named hosts with a user", "hosts/g", """
runbook: 1
name: x
hosts: {a: {address: 192.0.2.1}, g: {hosts: [a], user: root}}
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("reserved variable name", "vars", """
runbook: 1
name: x
vars: {item: 1}
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("secret name with a dash", "secrets", """
runbook: 1
name: x
secrets: {api-token: {env: TOKEN}}
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
    ("phase without steps or verify", "phases/0", """
runbook: 1
name: x
phases: [{name: p, gate: "Go?"}]
"""),
    ("url without a scheme", "phases/0/steps/0/http/url", """
runbook: 1
name: x
phases: [{name: p, steps: [{name: s, http: {url: example.com/health}}]}]
"""),
    ("a host named local", "hosts", """
runbook: 1
name: x
hosts: {local: {address: 192.0.2.1}}
phases: [{name: p, steps: [{name: s, run: "true"}]}]
"""),
]

# Snippets the schema must accept (corner cases of the format).
MUST_PASS = [
    ("durations and kinds", """
runbook: 1
name: corner.cases_1
deadline: 1h30m
vars: {list: [a, b]}
defaults: {on: local, timeout: 90s, retry: {attempts: 2, interval: 0, backoff: 2, max_interval: 1m, jitter: 0.2}}
probes:
  port: {tcp: "192.0.2.1:5432", timeout: 2s}
  page: {http: {url: "https://example.com/"}, expect: {status: [200, 3xx], latency: 500ms}}
phases:
  - name: p
    watch: {probes: [page], interval: 1m, failures: 2}
    steps:
      - {name: wait, pause: 1d2h3m4s5ms}
      - {name: ok, gate: "Go?"}
      - {name: a, run: "true", pause: 5s, for: [1, 2, x], after: [port]}
      - {name: b, probe: {run: "true", expect: {value: {regex: '(\\d+)', below: 1}}}}
      - {name: c, run: "true", for: "${list}", batch: "50%", max_fail: 0, check: port, idempotent: true}
    verify: [page]
  - name: checks-only
    verify: [page]
"""),
    ("http details and host groups", """
runbook: 1
name: http-and-hosts
vars: {base: "https://example.com", my-var_2: 1}
secrets: {TOKEN_1: {env: TOKEN}, key_pass: {file: ~/.secrets/pass}}
hosts:
  a: {address: 192.0.2.1, port: 2222, user: ops, key: ~/.ssh/id, passphrase: "${secrets.key_pass}", known_hosts: ./kh, connect_timeout: 5s}
  b: {address: 192.0.2.2, via: a, sudo: true}
  both: {hosts: [a, b]}
  many: {addresses: [192.0.2.3, 192.0.2.4], user: ops}
phases:
  - name: p
    steps:
      - name: call
        http: {method: post, url: "${base}/x", headers: {X-Count: 5, Accept: application/json}, body: "{}", insecure: false, ca_cert: ./ca.pem, follow: true}
        expect: {status: 2XX, body: ok, not_body: error, latency: 2s, value: {regex: '(\\d+)', at_most: 3}}
        capture: {req-id: 'id=(\\w+)'}
        rollback: {http: {method: DELETE, url: "${base}/x/${steps.call.req-id}"}, when: always, expect: {status: [200, 404]}}
      - name: ship
        on: many
        upload: {src: ./a.conf, dest: /etc/a.conf, mode: "644"}
        rollback: {download: {src: /etc/a.conf.orig, dest: ./a.orig}}
"""),
]


def undescribed(node, path=""):
    """Paths of property schemas without a description (editors show it on hover)."""
    out = []
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            # `true` only declares a name that a subschema requires (for
            # ajv's strictRequired); the property is described where defined
            if sub is True:
                continue
            if not isinstance(sub, dict) or not sub.get("description"):
                out.append("%s/properties/%s" % (path, key))
        for key in ("$defs", "properties"):
            for name, sub in node.get(key, {}).items():
                if key == "$defs" and not sub.get("description"):
                    out.append("%s/$defs/%s" % (path, name))
        for key, sub in node.items():
            if isinstance(sub, (dict, list)):
                out += undescribed(sub, "%s/%s" % (path, key))
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            out += undescribed(sub, "%s/%d" % (path, i))
    return sorted(set(out))


def undeclared_required(node, path=""):
    """Paths of `required` names not declared in the same (sub)schema's
    properties, and of propertyNames without "type": "object": ajv's strict
    mode (strictRequired, strictTypes) rejects both. Declare a name that
    only a subschema requires as `"NAME": true`."""
    out = []
    if isinstance(node, dict):
        req = node.get("required")
        if isinstance(req, list):
            props = node.get("properties", {})
            out += ["%s: required '%s'" % (path or "/", r) for r in req if r not in props]
        if "propertyNames" in node and "type" not in node:
            out.append("%s: propertyNames without type" % (path or "/"))
        for key, sub in node.items():
            if isinstance(sub, (dict, list)):
                out += undeclared_required(sub, "%s/%s" % (path, key))
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            out += undeclared_required(sub, "%s/%d" % (path, i))
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    schema_path = os.path.join(root, "schemas", "runbook.schema.json")
    with open(schema_path, encoding="utf-8") as fp:
        schema = json.load(fp)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    validator = cls(schema)
    failed = 0
    missing = undescribed(schema)
    if missing:
        failed += 1
        print("FAIL schema: no description at %s" % ", ".join(missing))
    else:
        print("ok   schema: every property has a description")
    strict = undeclared_required(schema)
    if strict:
        failed += 1
        print("FAIL schema: ajv strict mode rejects %s" % ", ".join(strict))
    else:
        print("ok   schema: required names declared where required (ajv strict mode)")

    def problems(doc):
        errs = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        out = []
        for err in errs:
            where = "/".join(str(p) for p in err.absolute_path) or "(top)"
            out.append("%s: %s" % (where, err.message[:300]))
        return out

    files = sorted(glob.glob(os.path.join(root, "runbooks", "*.yaml")))
    valid_dir = os.path.join(root, "tests", "valid")
    if os.path.isdir(valid_dir):
        files += sorted(glob.glob(os.path.join(valid_dir, "*.yaml")))
    if not glob.glob(os.path.join(root, "runbooks", "*.yaml")):
        print("FAIL runbooks/: no runbook found")
        failed += 1

    for path in files:
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8") as fp:
                doc = load_yaml(fp.read())
        except (OSError, yaml.YAMLError) as exc:
            print("FAIL %s: cannot read: %s" % (rel, exc))
            failed += 1
            continue
        errs = problems(doc)
        if errs:
            failed += 1
            print("FAIL %s" % rel)
            for e in errs:
                print("     %s" % e)
        else:
            print("ok   %s" % rel)

    for label, text in MUST_PASS:
        errs = problems(load_yaml(text))
        if errs:
            failed += 1
            print("FAIL accepts %s" % label)
            for e in errs:
                print("     %s" % e)
        else:
            print("ok   accepts %s" % label)

    for label, where, text in MUST_FAIL:
        errs = list(validator.iter_errors(load_yaml(text)))
        paths = ["/".join(str(p) for p in e.absolute_path) for e in errs]
        if not errs:
            failed += 1
            print("FAIL schema accepts a bad runbook: %s" % label)
        elif where not in paths:
            failed += 1
            print("FAIL rejects %s, but not at %r: %s" % (label, where or "(top)", "; ".join(
                "%s: %s" % (p or "(top)", e.message[:120]) for p, e in zip(paths, errs))))
        else:
            print("ok   rejects %s" % label)

    print("%d problem(s)" % failed if failed else "all good")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
