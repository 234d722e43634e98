#!/usr/bin/env python3
"""What one test pays for its own tenants (bench/README.md, "Per test"): a tenant set, the
first call with each of its credentials, deleting it, a reset, and Nueve09 creates (each
hashing a chosen api_key_password) next to MX creates.

Two servers from one release binary, side by side in the same run: a test server
(`--fast-password-hashing`, what the pytest plugin starts) and a deployment (the standard
argon2id cost). `GET /healthz` on the same connection is the baseline every figure is
compared with. Writes bench/results/per-test.json.

Usage: python3 bench/per_test.py [SAMPLES]  (default 40 tenant sets per server).
`CLIENTELE_BENCH_BINARY=path` measures a binary built already. Only loopback; every loop is
bounded by SAMPLES or by a fixed count of creates.
"""
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = int(sys.argv[1]) if len(sys.argv) > 1 else 40
ADMIN = "bench-admin-token"
MX_ACCEPT = "application/vnd.mx.provisioning.v1+json"
CREATE_THREADS = 8
CREATES_PER_THREAD = 150
ROUNDS = 2


def binary():
    given = os.environ.get("CLIENTELE_BENCH_BINARY")
    if given:
        return given
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "clientele"],
                   cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "clientele")


class Served:
    """One `clientele serve --demo` on a free port, with a database file in `workdir`."""

    def __init__(self, exe, workdir, extra):
        argv = [exe, "serve", "--demo", "--listen=127.0.0.1:0",
                f"--db={workdir}/clientele.db", f"--mail=mbox:{workdir}/clientele.mbox",
                f"--admin-token={ADMIN}", *extra]
        self.stderr = open(os.path.join(workdir, "stderr.log"), "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on http://"):
            self.proc.kill()
            raise SystemExit(f"no readiness line: {line!r}")
        host, port = line.strip().removeprefix("listening on http://").split(":")
        self.address = (host, int(port))

    def connection(self):
        return http.client.HTTPConnection(*self.address, timeout=30)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.stderr.close()


def call(conn, method, path, body=None, headers=None):
    """One request on a kept-alive connection: (status, parsed JSON or None, headers)."""
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=headers)
    reply = conn.getresponse()
    raw = reply.read()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return reply.status, parsed, reply


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def admin(conn, method, path):
    return call(conn, method, "/_admin" + path, headers={"Authorization": f"Bearer {ADMIN}"})


def mx_create(conn, authorization, email):
    body = {"client": {"company_name": "Bench", "email": email,
                       "first_name": "B", "last_name": "B"}}
    return call(conn, "POST", "/mx/clients", body,
                {"Authorization": authorization, "Accept": MX_ACCEPT})


def first_calls(conn, tenant, n):
    """Each flavour's first call with `tenant`'s credentials: ms and status per flavour."""
    partner = tenant["shieldconex"]["partner"]["id"]
    n09 = tenant["nueve09"]
    ml_basic = tenant["makeleaps"]["authorization"]
    steps = {
        "mx_create": lambda: mx_create(conn, tenant["mx"]["authorization"],
                                       f"first-{n}@example.com"),
        "shieldconex_get": lambda: call(
            conn, "GET", f"/shieldconex/api/v1/clients?partner={partner}",
            headers={"Authorization": tenant["shieldconex"]["authorization"]}),
        "nueve09_login": lambda: call(
            conn, "POST", "/nueve09/auth/login",
            {"api_client": {"api_key": n09["api_key"], "password": n09["password"]}}),
        "makeleaps_token": lambda: call(
            conn, "POST", "/makeleaps/user/oauth2/token/", "grant_type=client_credentials",
            {"Authorization": ml_basic, "Content-Type": "application/x-www-form-urlencoded"}),
    }
    out = {}
    for name, step in steps.items():
        ms, (status, _, _) = timed(step)
        if status != 200:
            raise SystemExit(f"{name} answered {status}")
        out[name] = ms
    return out


def summary(values):
    ordered = sorted(values)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p90_ms": round(ordered[max(0, int(len(ordered) * 0.9) - 1)], 3)}


def per_call(server):
    conn = server.connection()
    healthz = [timed(lambda: call(conn, "GET", "/healthz"))[0] for _ in range(SAMPLES * 5)]
    sets, deletes, resets, firsts = [], [], [], {}
    per_test = []
    for n in range(SAMPLES):
        ms_set, (status, tenant, _) = timed(lambda: admin(conn, "POST", "/tenants"))
        if status != 201:
            raise SystemExit(f"POST /_admin/tenants answered {status}")
        sets.append(ms_set)
        calls = first_calls(conn, tenant, n)
        for name, ms in calls.items():
            firsts.setdefault(name, []).append(ms)
        ms_delete, (status, _, _) = timed(lambda: admin(conn, "DELETE", f"/tenants/{tenant['id']}"))
        if status != 200:
            raise SystemExit(f"DELETE /_admin/tenants answered {status}")
        deletes.append(ms_delete)
        per_test.append(ms_set + sum(calls.values()) + ms_delete)
    for _ in range(SAMPLES // 2):
        ms, (status, _, _) = timed(lambda: admin(conn, "POST", "/reset"))
        if status != 200:
            raise SystemExit(f"POST /_admin/reset answered {status}")
        resets.append(ms)
    conn.close()
    return {
        "healthz": summary(healthz),
        "tenant_set": summary(sets),
        "first_call": {name: summary(values) for name, values in firsts.items()},
        "delete_set": summary(deletes),
        "per_test_overhead": summary(per_test),
        "reset_with_demo": summary(resets),
    }


def nueve09_body(thread, i):
    """The vendor's create example with this thread's unique alias, RFC and key name."""
    n = thread * 100_000 + i
    letters = ""
    for _ in range(4):
        n, digit = divmod(n, 26)
        letters += chr(ord("A") + digit)
    return {
        "name": "Bench Sub", "alias": f"S{thread}{i:06d}", "email": "sub@example.com",
        "available": 0.01, "phone": "5555555555", "mobile_phone": "6666666666",
        "rfc": f"{letters}9001010A1", "street": "Av. Siempre", "ext_street_number": "1234",
        "int_street_number": "Apt.4", "suburb": "Juarez", "township": "Benito Juarez", "city": "CDMX",
        "state": "CDMX", "postal_code": "55555", "contact_name": "Juan",
        "contact_second_name": "Alberto", "contact_surname": "Perea",
        "contact_second_surname": "Perez", "contact_email": "juan@example.com",
        "contact_telephone_country_code": 52, "contact_telephone": "5555555555",
        "contact_mobile_phone_country_code": 52, "contact_mobile_phone": "6666666666",
        "legal_representative_name": "Iman", "legal_representative_second_name": "Hora",
        "legal_representative_surname": "Martinez",
        "legal_representative_second_surname": "Martinez",
        "legal_representative_email": "iman@example.com",
        "legal_representative_telephone_country_code": 52,
        "legal_representative_telephone": "5555555555",
        "legal_representative_mobile_phone_country_code": 52,
        "legal_representative_mobile_phone": "6666666666",
        "api_key_name": f"KEY_{thread}_{i}", "api_key_description": "Bench key",
        "api_key_password": f"pw-{thread}-{i}",
    }


def creates_per_second(server, flavour, round_no):
    """CREATE_THREADS threads, each on its own connection, CREATES_PER_THREAD creates each."""
    conn = server.connection()
    _, _, reply = call(conn, "POST", "/nueve09/auth/login",
                       {"api_client": {"api_key": "api_key", "password": "password"}})
    n09_token = reply.getheader("Authorization")
    conn.close()
    mx_auth = "Basic " + base64.b64encode(b"PROCESSOR-1234:API-KEY-4567").decode()
    failures = []

    def worker(thread):
        conn = server.connection()
        for i in range(CREATES_PER_THREAD):
            if flavour == "mx":
                status, _, _ = mx_create(conn, mx_auth, f"r{round_no}t{thread}i{i}@example.com")
            else:
                status, _, _ = call(conn, "POST", "/nueve09/clients",
                                    nueve09_body(thread, round_no * 10_000 + i),
                                    {"Authorization": n09_token})
            if status != 200:
                failures.append(status)
        conn.close()

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(CREATE_THREADS)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{flavour} creates failed: {failures[:5]} ({len(failures)} in all)")
    return CREATE_THREADS * CREATES_PER_THREAD / elapsed


def creates(server):
    """MX and Nueve09 creates alternated over ROUNDS rounds; the medians and their ratio."""
    mx, n09 = [], []
    for round_no in range(ROUNDS):
        mx.append(creates_per_second(server, "mx", round_no))
        n09.append(creates_per_second(server, "nueve09", round_no))
    mx_rate, n09_rate = statistics.median(mx), statistics.median(n09)
    return {"threads": CREATE_THREADS, "creates_per_thread": CREATES_PER_THREAD,
            "mx_per_s": round(mx_rate), "nueve09_per_s": round(n09_rate),
            "nueve09_to_mx": round(n09_rate / mx_rate, 3)}


def main():
    exe = binary()
    results = {"samples": SAMPLES, "loadavg_at_start": os.getloadavg()[0]}
    for mode, extra in [("test", ["--fast-password-hashing"]), ("deployment", [])]:
        with tempfile.TemporaryDirectory(prefix="clientele-bench-") as workdir:
            server = Served(exe, workdir, extra)
            try:
                figures = per_call(server)
                figures["creates"] = creates(server)
            finally:
                server.stop()
        results[mode] = figures
    results["loadavg_at_end"] = os.getloadavg()[0]
    test = results["test"]
    results["budgets"] = {
        "tenant_set_p50_le_5ms": test["tenant_set"]["p50_ms"] <= 5,
        "first_calls_p50_le_5ms": all(f["p50_ms"] <= 5 for f in test["first_call"].values()),
        "nueve09_creates_ge_half_of_mx": test["creates"]["nueve09_to_mx"] >= 0.5,
        "reset_p50_le_2ms": test["reset_with_demo"]["p50_ms"] <= 2,
    }
    out = os.path.join(ROOT, "bench", "results",
                       os.environ.get("CLIENTELE_BENCH_OUT", "per-test.json"))
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
