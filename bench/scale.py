#!/usr/bin/env python3
"""Scale benchmark: is migrate's cost linear in the number of units?

Generates runbooks, runs the built binary on them and prints, side by side:
  - plan of 10,000 steps and of 100 steps x 1,000 items (load + validate +
    plan; wall time, CPU time and peak RSS, medians) beside `validate` of
    the same file (the loader alone) and the target;
  - validate and plan of one step on a group of 1,000, 4,000 and 16,000
    hosts, per host;
  - run, resume, status and history per unit at 1,000, 10,000 and 100,000
    units, with the ratio to the 1,000-unit figure (1.0 = constant cost per
    unit).
Prints figures; asserts nothing.

  bench/scale.py [--migrate build/migrate] [--baseline OLD/migrate] [--max-units N] [--repeat R]

The plan cases run their commands interleaved (one of each, repeat times),
so that a machine that speeds up or slows down meanwhile affects all alike;
with --baseline, another build (e.g. of the previous release) runs the
same plans among them, and the ratio of the two is printed: on a shared
machine whose speed changes by the hour, that ratio is steadier than the
milliseconds.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def measure(argv, stdout=subprocess.DEVNULL, ok=(0,)):
    """Run argv once: (wall s, cpu s, peak RSS KiB)."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    if p.returncode not in ok:
        sys.exit(f"scale: {' '.join(argv)} exited {p.returncode}: {err[-2000:]}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def median_of(runs):
    return tuple(statistics.median(r[i] for r in runs) for i in range(3))


def gen_steps(path, n):
    with open(path, "w") as f:
        f.write("runbook: 1\nname: steps\nphases:\n  - name: p\n    steps:\n")
        for i in range(n):
            f.write(f"      - {{name: s{i}, run: 'echo step {i}', rollback: {{run: 'echo undo {i}'}}}}\n")


def gen_items(path, steps, items):
    lst = ", ".join(str(i) for i in range(items))
    with open(path, "w") as f:
        f.write(f"runbook: 1\nname: items\nvars:\n  nums: [{lst}]\nphases:\n  - name: p\n    steps:\n")
        for i in range(steps):
            f.write(f"      - name: s{i}\n        for: ${{nums}}\n        run: 'echo {i} ${{item}}'\n"
                    f"        rollback: {{run: 'echo undo {i} ${{item}}'}}\n")


def gen_units(path, n, port):
    """n TCP-probe units (no fork: migrate's own cost per unit shows), then a
    phase behind a gate, so a run without --yes stops there and resume
    replays the whole journal."""
    lst = ", ".join(str(i) for i in range(n))
    with open(path, "w") as f:
        f.write(f"runbook: 1\nname: units\nvars:\n  nums: [{lst}]\n"
                f"probes:\n  up: {{tcp: '127.0.0.1:{port}'}}\n"
                "phases:\n  - name: work\n    steps:\n"
                "      - name: u\n        for: ${nums}\n        probe: up\n"
                "  - name: last\n    gate: 'continue?'\n    steps:\n"
                "      - name: end\n        probe: up\n")


def listener():
    """A TCP listener on 127.0.0.1 that accepts and closes; returns its port."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(4096)

    def serve():
        while True:
            c, _ = s.accept()
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return s.getsockname()[1]


def fmt_ms(s):
    return f"{s * 1000:8.1f} ms"


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_times():
    """(steal, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return fields[7] if len(fields) > 7 else 0, sum(fields[:8])


def steal_since(before):
    """Share of CPU time the hypervisor took since before (cpu_times()): on a
    virtual machine, a process's CPU time includes what was stolen from it."""
    steal, total = cpu_times()
    return 100.0 * (steal - before[0]) / max(1, total - before[1])


def plan_section(m, tmp, repeat, baseline=None):
    print(f"load average before: {load()}")
    print("plan: load + validate + plan, text to /dev/null "
          f"(median of {repeat}; peer: validate of the same file = the loader alone)")
    print(f"  {'case':34} {'wall':>11} {'cpu':>11} {'peak RSS':>10}   {'target':>22}")
    cases = [
        ("10,000 steps", "steps.yaml", lambda p: gen_steps(p, 10000), 0.100, 32),
        ("100 steps x 1,000 items", "items.yaml", lambda p: gen_items(p, 100, 1000), 1.0, 64),
    ]
    for name, fname, gen, t_target, m_target in cases:
        path = os.path.join(tmp, fname)
        gen(path)
        before = cpu_times()
        rows = [
            ("plan " + name, [m, "plan", path]),
            ("plan --format json " + name, [m, "plan", "--format", "json", path]),
            ("validate (peer) " + name, [m, "validate", "-q", path]),
        ]
        if baseline:
            rows.append(("plan, baseline build " + name, [baseline, "plan", path]))
        samples = {label: [] for label, _ in rows}
        for _ in range(repeat):
            for label, argv in rows:
                samples[label].append(measure(argv))
        res = {label: median_of(runs) for label, runs in samples.items()}
        plan = res["plan " + name]
        val = res["validate (peer) " + name]
        for label, _ in rows:
            w, c, rss = res[label]
            tgt = f"<= {t_target * 1000:.0f} ms, <= {m_target} MiB" if label == "plan " + name else ""
            print(f"  {label:34} {fmt_ms(w)} {fmt_ms(c)} {rss / 1024:6.1f} MiB   {tgt:>22}")
        w, c, rss = plan
        print(f"  {'':34} plan/validate: wall {w / val[0]:.2f}x, cpu {c / val[1]:.2f}x, RSS {rss / val[2]:.2f}x;"
              f" target: wall {'met' if w <= t_target else 'MISSED'}"
              f" (cpu {'met' if c <= t_target else 'MISSED'}), RSS {'met' if rss / 1024 <= m_target else 'MISSED'}")
        cpus = sorted(r[1] for r in samples["plan " + name])
        print(f"  {'':34} plan cpu: fastest {fmt_ms(cpus[0]).strip()}, slowest {fmt_ms(cpus[-1]).strip()};"
              f" CPU stolen by the hypervisor meanwhile: {steal_since(before):.1f} %")
        if baseline:
            old_runs = samples["plan, baseline build " + name]
            bw, bc, brss = res["plan, baseline build " + name]
            print(f"  {'':34} plan/baseline: wall {w / bw:.2f}x, cpu {c / bc:.2f}x"
                  f" (fastest runs {cpus[0] / min(r[1] for r in old_runs):.2f}x), RSS {rss / brss:.2f}x")
    print(f"load average after: {load()}")
    print()


def gen_fleet(path, n):
    """n single hosts and a group of them all, one step on the group."""
    with open(path, "w") as f:
        f.write("runbook: 1\nname: fleet\nhosts:\n")
        for i in range(n):
            f.write(f"  h{i}: {{address: '10.{i // 65536}.{i // 256 % 256}.{i % 256}'}}\n")
        f.write("  all:\n    hosts: [" + ", ".join(f"h{i}" for i in range(n)) + "]\n")
        f.write("phases:\n  - name: p\n    steps:\n      - {name: s, on: all, run: 'true'}\n")


def fleet_section(m, tmp, repeat):
    """validate and plan of one step on a group of 1,000 to 16,000 hosts:
    CPU per host, and the ratio to the 1,000-host figure."""
    print(f"load average before: {load()}")
    print(f"fleet: one step on a group of N hosts (median of {repeat}; ratio to 1,000 hosts, 1.00 = constant per host)")
    sizes = (1000, 4000, 16000)
    for cmd in (["validate", "-q"], ["plan"]):
        per = []
        for n in sizes:
            path = os.path.join(tmp, f"fleet{n}.yaml")
            if not os.path.exists(path):
                gen_fleet(path, n)
            _, c, _ = median_of([measure([m] + cmd + [path]) for _ in range(repeat)])
            per.append(c / n * 1e6)
        print(f"  {cmd[0]:10} " + "  ".join(f"{n:>6,} hosts {u:6.1f} us/host" for n, u in zip(sizes, per))
              + "   ratios " + "  ".join(f"{u / per[0]:.2f}" for u in per))
    print(f"load average after: {load()}")
    print()


def units_section(m, tmp, sizes, repeat):
    print(f"load average before: {load()}")
    port = listener()
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tmp
    print(f"per-unit cost (TCP-probe units against a local listener; state directory in {shm},"
          f" so fsync is not what is measured; median of {repeat}, one run at 100,000)")
    print(f"  {'command':10} {'':6}" + " ".join(f"{n:>14,}" for n in sizes) + "   ratio to 1,000 (1.00 = constant)")
    table = {c: {} for c in ("run", "resume", "status", "history")}
    cpu = {c: {} for c in table}
    rss = {c: {} for c in table}
    for n in sizes:
        path = os.path.join(tmp, f"units{n}.yaml")
        gen_units(path, n, port)
        reps = repeat if n < 100000 else 1
        samples = {c: [] for c in table}
        for _ in range(reps):
            state = tempfile.mkdtemp(prefix="migrate-scale.", dir=shm)
            try:
                samples["run"].append(measure([m, "run", path, "-q", "--state-dir", state], ok=(4,)))
                samples["resume"].append(measure([m, "resume", "--yes", "-q", "--state-dir", state]))
                samples["status"].append(measure([m, "status", "--state-dir", state]))
                samples["history"].append(measure([m, "history", "--state-dir", state]))
            finally:
                shutil.rmtree(state, ignore_errors=True)
        for c in table:
            w, t, r = median_of(samples[c])
            table[c][n] = w / n
            cpu[c][n] = t / n
            rss[c][n] = r
    for c in table:
        for label, d in (("wall", table[c]), ("cpu", cpu[c])):
            first = d[sizes[0]]
            cells = " ".join(f"{d[n] * 1e6:9.1f} us/u" for n in sizes)
            ratios = " ".join(f"{d[n] / first:5.2f}" for n in sizes)
            print(f"  {c if label == 'wall' else '':10} {label:6}{cells}   {ratios}")
    print("  peak RSS (and the memory each unit added between two sizes, KiB/unit: the same figure"
          " at every step = constant memory per unit)")
    for c in table:
        marg = [(rss[c][b] - rss[c][a]) / (b - a) for a, b in zip(sizes, sizes[1:])]
        ratio = f"   ratio {marg[-1] / marg[0]:.2f}" if len(marg) > 1 and marg[0] > 0 else ""
        print(f"  {c:10} {'':6}" + " ".join(f"{rss[c][n] / 1024:9.1f} MiB  " for n in sizes)
              + "   added " + ", ".join(f"{m:.2f}" for m in marg) + " KiB/unit" + ratio)
    print(f"load average after: {load()}")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--migrate", default="build/migrate")
    ap.add_argument("--baseline", help="another migrate binary to run the plans beside (ratios printed)")
    ap.add_argument("--max-units", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    m = os.path.abspath(a.migrate)
    sizes = [n for n in (1000, 10000, 100000) if n <= a.max_units]
    with tempfile.TemporaryDirectory(prefix="migrate-bench.") as tmp:
        plan_section(m, tmp, max(a.repeat, 5), os.path.abspath(a.baseline) if a.baseline else None)
        fleet_section(m, tmp, a.repeat)
        units_section(m, tmp, sizes, a.repeat)


if __name__ == "__main__":
    main()
