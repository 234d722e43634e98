#!/usr/bin/env python3
"""Startup budget (bench/README.md): time from exec to the readiness line, and idle RSS.

Measures `clientele serve --demo` (fresh database each run, and an existing one) against a
bare tiny_http server (examples/bare_server.rs) in the same run, and writes the figures to
bench/results/startup.json. Usage: python3 bench/startup.py [RUNS]  (default 30).
Only loopback; every loop is bounded by RUNS.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 30


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "clientele",
                    "--example", "bare_server"], cwd=ROOT, check=True)
    target = os.path.join(ROOT, "target", "release")
    return os.path.join(target, "clientele"), os.path.join(target, "examples", "bare_server")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one_start(argv):
    """Seconds from exec to the readiness line, and the RSS (KiB) once idle."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    if not line.startswith(b"listening on "):
        proc.kill()
        raise SystemExit(f"no readiness line from {argv[0]}: {line!r}")
    time.sleep(0.2)
    rss = rss_kib(proc.pid)
    proc.terminate()
    proc.wait(timeout=10)
    return elapsed, rss


def measure(make_argv):
    times, rsses = [], []
    for i in range(RUNS):
        elapsed, rss = one_start(make_argv(i))
        times.append(elapsed * 1000)
        rsses.append(rss)
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(sorted(times)[int(len(times) * 0.9) - 1], 2),
        "idle_rss_mib": round(statistics.median(rsses) / 1024, 1),
    }


def main():
    clientele, bare = build()
    with tempfile.TemporaryDirectory() as tmp:
        def fresh(i):
            return [clientele, "serve", "--demo", "--listen", "127.0.0.1:0",
                    "--db", os.path.join(tmp, f"fresh-{i}.db"),
                    "--mail", "mbox:" + os.path.join(tmp, "mail.mbox")]

        def existing(_):
            return [clientele, "serve", "--demo", "--listen", "127.0.0.1:0",
                    "--db", os.path.join(tmp, "existing.db"),
                    "--mail", "mbox:" + os.path.join(tmp, "mail.mbox")]

        baseline = measure(lambda _: [bare])
        results = {
            "runs": RUNS,
            "baseline_bare_tiny_http": baseline,
            "clientele_demo_fresh_db": measure(fresh),
            "clientele_demo_existing_db": measure(existing),
        }
    for key in ("clientele_demo_fresh_db", "clientele_demo_existing_db"):
        results[key]["ratio_to_baseline"] = round(
            results[key]["median_ms"] / max(baseline["median_ms"], 0.001), 1)
    results["budget"] = {"median_ms": 10, "idle_rss_mib": 10}
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", "startup.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
