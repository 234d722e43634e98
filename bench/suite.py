#!/usr/bin/env python3
"""What a test suite feels (bench/README.md, "Per test"): N pytest tests, each making one
call per flavour (an MX create, a ShieldConex list, a Nueve09 login, a MakeLeaps token),
through the project's own pytest plugin and the release binary.

Each N runs twice in the same run, interleaved: every test with its own `clientele_tenant`
(isolation: a fresh tenant set per test, deleted after it), and the same tests on one
tenant set shared by the session (the baseline). The figure is the ratio of their wall
times, serially and under `pytest -n 4` (pytest-xdist, one server shared by the workers).
Writes bench/results/suite.json.

Usage: python3 bench/suite.py [N,N,...] [ROUNDS]  (default 200,1000 and 2 rounds).
Needs pytest and pytest-xdist: installed into ~/.cache/clientele-bench/suite-venv when
missing. `CLIENTELE_BENCH_BINARY=path` measures a binary built already. Only loopback;
every loop is bounded by N and ROUNDS.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COUNTS = [int(n) for n in (sys.argv[1] if len(sys.argv) > 1 else "200,1000").split(",")]
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 2
VENV = os.path.expanduser("~/.cache/clientele-bench/suite-venv")

TESTS = '''
import os

import pytest

N = int(os.environ["BENCH_N"])
SHARED = os.environ["BENCH_TENANT"] == "shared"
MX_ACCEPT = "application/vnd.mx.provisioning.v1+json"


@pytest.fixture(scope="session")
def shared_tenant(clientele_server):
    tenant = clientele_server.admin.tenants()
    yield tenant
    clientele_server.admin.delete_tenants(tenant["id"])


@pytest.fixture
def tenant(request):
    return request.getfixturevalue("shared_tenant" if SHARED else "clientele_tenant")


@pytest.mark.parametrize("i", range(N))
def test_one_call_per_flavour(i, tenant, clientele_server):
    server = clientele_server
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    client = {"client": {"company_name": "Suite", "email": f"t{i}-{worker}@example.com",
                         "first_name": "S", "last_name": "T"}}
    reply = server.post("/mx/clients", json=client,
                        headers={"Authorization": tenant["mx"]["authorization"],
                                 "Accept": MX_ACCEPT})
    assert reply.status == 200, reply.body
    partner = tenant["shieldconex"]["partner"]["id"]
    reply = server.get(f"/shieldconex/api/v1/clients?partner={partner}",
                       headers={"Authorization": tenant["shieldconex"]["authorization"]})
    assert reply.status == 200, reply.body
    n09 = tenant["nueve09"]
    reply = server.post("/nueve09/auth/login", json={"api_client": {
        "api_key": n09["api_key"], "password": n09["password"]}})
    assert reply.status == 200, reply.body
    reply = server.post("/makeleaps/user/oauth2/token/",
                        headers={"Authorization": tenant["makeleaps"]["authorization"]},
                        form={"grant_type": "client_credentials"})
    assert reply.status == 200, reply.body
'''


def binary():
    given = os.environ.get("CLIENTELE_BENCH_BINARY")
    if given:
        return os.path.abspath(given)
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "clientele"],
                   cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "clientele")


def python_with_pytest():
    python = os.path.join(VENV, "bin", "python")
    if not os.path.exists(python):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "pytest", "pytest-xdist"], check=True)
    return python


def one_run(python, exe, workdir, n, tenant, workers):
    """Seconds of wall time for one pytest run of N tests."""
    env = dict(os.environ, BENCH_N=str(n), BENCH_TENANT=tenant, CLIENTELE_BINARY=exe,
               PYTHONPATH=os.path.join(ROOT, "python"))
    argv = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "clientele.pytest_plugin", "test_suite_bench.py"]
    if workers:
        argv += ["-n", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=1800)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pytest failed ({n} tests, {tenant}, -n {workers}):\n"
                         f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    return elapsed


def main():
    exe = binary()
    python = python_with_pytest()
    results = {"rounds": ROUNDS, "loadavg_at_start": os.getloadavg()[0], "runs": []}
    with tempfile.TemporaryDirectory(prefix="clientele-suite-") as workdir:
        with open(os.path.join(workdir, "test_suite_bench.py"), "w") as f:
            f.write(TESTS)
        for n in COUNTS:
            for workers in (0, 4):
                times = {"fresh": [], "shared": []}
                for _ in range(ROUNDS):
                    for tenant in ("shared", "fresh"):
                        times[tenant].append(one_run(python, exe, workdir, n, tenant, workers))
                fresh, shared = statistics.median(times["fresh"]), statistics.median(times["shared"])
                run = {"tests": n, "workers": workers,
                       "fresh_tenant_per_test_s": round(fresh, 3),
                       "one_shared_tenant_s": round(shared, 3),
                       "ratio": round(fresh / shared, 3),
                       "isolation_cost_per_test_ms": round((fresh - shared) / n * 1000, 3),
                       "all_s": {k: [round(t, 3) for t in v] for k, v in times.items()}}
                print(json.dumps(run), flush=True)
                results["runs"].append(run)
    results["loadavg_at_end"] = os.getloadavg()[0]
    results["budget_ratio_le_1_5"] = all(r["ratio"] <= 1.5 for r in results["runs"])
    out = os.path.join(ROOT, "bench", "results",
                       os.environ.get("CLIENTELE_BENCH_OUT", "suite.json"))
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
