#!/usr/bin/env python3
"""Throughput and memory budgets (bench/README.md), measured in one run.

Builds `--release`, starts `clientele serve --demo` on 127.0.0.1:0 (temporary --db and
--mail mbox:), drives it with wrk (Debian's; installed with apt-get when missing) and writes
bench/results/throughput.json:

  1. GET /healthz at 32 connections: the baseline of every ratio;
  2. authenticated GET by id at 32 connections: ShieldConex GET /api/v1/clients/744 (Basic)
     and MakeLeaps GET /api/partner/{mid}/client/{mid}/ (Bearer): ratio to /healthz
     (budget >= 60 %) and p99 (budget < 5 ms);
  3. MX POST /mx/clients, each with a distinct e-mail (client + one-time link + outbox mail
     in one transaction): creates/s (budget >= 3,000/s), checked against the rows in the file;
  4. RSS idle and after >= 100k requests, from /proc/PID/status (budgets 10 MB / 30 MB);
  5. ShieldConex and MakeLeaps get and list at 1k and 100k records (rows cloned from the
     demo's straight into the SQLite file between two starts): latency within 2x.

Two diagnostics without a budget: the latency of a MakeLeaps list page under and over 1 KiB
on one keep-alive connection (what the size of an answer alone costs), and the size of the
-wal file after each create run.

Phases 1 and 2 run ROUNDS times interleaved (healthz, ShieldConex, MakeLeaps, ...), so that
each ratio compares runs seconds apart; the figures kept are the medians of the rounds.
wrk (2 threads) shares the 2 cores with the server: the absolute figures are a floor, the
ratios are what the budgets judge.

Usage: python3 bench/throughput.py [SECONDS]   (seconds per wrk run, default 6; about 2 min)
Only loopback traffic; every loop is bounded in count, and every wrk run in time.
"""
import base64
import json
import os
import platform
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 6
ROUNDS = 3
CONNECTIONS = 32
WRK_THREADS = 2

SC_AUTH = "Basic " + base64.b64encode(b"waterford@example.com:waterford123").decode()
MX_AUTH = "Basic UFJPQ0VTU09SLTEyMzQ6QVBJLUtFWS00NTY3"
ML_BASIC = "Basic " + base64.b64encode(b"demo-client-id:demo-client-secret").decode()
ML_PARTNER = "0000000000000000000"
ML_CLIENT = "0000000000000000000"

# wrk's summary as one JSON line, so nothing is scraped from its human-readable output.
REPORT_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%.0f,"p90_us":%.0f,' ..
    '"p99_us":%.0f,"max_us":%.0f,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""

# MX creates: every request a new e-mail (thread number + counter + a per-run tag).
MX_CREATE_LUA = r"""
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"client":{"company_name":"MX","email":"u%s-%d-%d@example.com","first_name":"A","last_name":"B"}}',
    TAG, tid, counter)
  return wrk.format("POST", "/mx/clients", nil, body)
end
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "clientele"],
                   cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "clientele")


def ensure_wrk():
    if shutil.which("wrk"):
        return shutil.which("wrk")
    log("wrk missing: apt-get install -y wrk")
    if subprocess.run(["apt-get", "install", "-y", "wrk"]).returncode != 0:
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


def proc_status(pid):
    """VmRSS and VmHWM in KiB, and the thread count."""
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
            elif key == "Threads":
                out[key] = int(value)
    return out


def mib(kib):
    return round(kib / 1024, 1)


class Server:
    """One `clientele serve --demo` on a free port, stopped with SIGTERM."""

    def __init__(self, binary, tmp, db, extra=()):
        self.log_path = os.path.join(tmp, os.path.basename(db) + ".log")
        argv = [binary, "serve", "--demo", "--listen", "127.0.0.1:0", "--db", db,
                "--mail", "mbox:" + os.path.join(tmp, "mail.mbox"), *extra]
        # Logs go to a file: one line per request, as a fixture's stderr would take them.
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log_file)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            self.stop()
            raise SystemExit(f"no readiness line: {line!r}; see {self.log_path}")
        self.url = line.removeprefix("listening on ").strip()
        self.requests = 0  # sent by this script, for the RSS checkpoints

    def status(self):
        return proc_status(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def http(method, url, headers=None, data=None):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read()


def check(url, headers=None, expect=200):
    status, body = http("GET", url, headers)
    if status != expect:
        raise SystemExit(f"GET {url}: {status} {body[:200]!r}")
    return body


def makeleaps_token(base):
    status, body = http("POST", base + "/makeleaps/user/oauth2/token/",
                        {"Authorization": ML_BASIC,
                         "Content-Type": "application/x-www-form-urlencoded"},
                        b"grant_type=client_credentials")
    if status != 200:
        raise SystemExit(f"token: {status} {body!r}")
    return "Bearer " + json.loads(body)["access_token"]


def wrk(wrk_bin, tmp, server, path, headers=(), script=REPORT_LUA, seconds=None):
    """One wrk run against server.url + path; its summary as a dict, with req/s."""
    lua = os.path.join(tmp, "run.lua")
    with open(lua, "w") as f:
        f.write(script + REPORT_LUA if script is not REPORT_LUA else script)
    seconds = seconds or SECONDS
    argv = [wrk_bin, f"-t{WRK_THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "5s",
            "-s", lua]
    for header in headers:
        argv += ["-H", header]
    argv.append(server.url + path)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no summary:\n{out.stdout}\n{out.stderr}")
    r = json.loads(line.removeprefix("WRKJSON "))
    r["rps"] = round(r["requests"] / (r["duration_us"] / 1e6))
    r["errors"] = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors",
                                     "status_errors", "timeouts"))
    server.requests += r["requests"]
    return r


def brief(r):
    return {"rps": r["rps"], "p50_ms": round(r["p50_us"] / 1000, 2),
            "p99_ms": round(r["p99_us"] / 1000, 2), "max_ms": round(r["max_us"] / 1000, 1),
            "requests": r["requests"], "errors": r["errors"]}


def median_of(runs):
    """Median req/s and p99 over rounds, with every round kept."""
    return {"rps": round(statistics.median(r["rps"] for r in runs)),
            "p50_ms": round(statistics.median(r["p50_us"] for r in runs) / 1000, 2),
            "p99_ms": round(statistics.median(r["p99_us"] for r in runs) / 1000, 2),
            "errors": sum(r["errors"] for r in runs),
            "rounds": [brief(r) for r in runs]}


def read_phase(wrk_bin, tmp, server, rss_log):
    """Phases 1 and 2: /healthz and the two authenticated GETs, interleaved in rounds."""
    sc_path = "/shieldconex/api/v1/clients/744"
    ml_path = f"/makeleaps/api/partner/{ML_PARTNER}/client/{ML_CLIENT}/"
    check(server.url + "/healthz")
    check(server.url + sc_path, {"Authorization": SC_AUTH})
    bearer = makeleaps_token(server.url)
    check(server.url + ml_path, {"Authorization": bearer})
    targets = {
        "healthz": ("/healthz", []),
        "shieldconex_get_client": (sc_path, ["Authorization: " + SC_AUTH]),
        "makeleaps_get_client": (ml_path, ["Authorization: " + bearer]),
    }
    runs = {name: [] for name in targets}
    ratios = {name: [] for name in targets if name != "healthz"}
    for round_no in range(ROUNDS):
        got = {}
        for name, (path, headers) in targets.items():
            got[name] = wrk(wrk_bin, tmp, server, path, headers)
            runs[name].append(got[name])
            log(f"  round {round_no + 1} {name}: {got[name]['rps']} req/s, "
                f"p99 {got[name]['p99_us'] / 1000:.2f} ms")
        for name in ratios:
            ratios[name].append(got[name]["rps"] / got["healthz"]["rps"])
        rss_log.append(checkpoint(server, f"after read round {round_no + 1}"))
    out = {name: median_of(r) for name, r in runs.items()}
    for name, values in ratios.items():
        out[name]["ratio_to_healthz"] = round(statistics.median(values), 3)
        out[name]["ratio_each_round"] = [round(v, 3) for v in values]
    return out


def response_size_phase(wrk_bin, tmp, server):
    """One keep-alive connection, one request at a time: a MakeLeaps list page of one client
    (under 1 KiB) against a page of two (over 1 KiB), so the latency that the size of an
    answer alone adds is seen apart from any work done for it."""
    bearer = makeleaps_token(server.url)
    status, body = http("POST", server.url + f"/makeleaps/api/partner/{ML_PARTNER}/client/",
                        {"Authorization": bearer, "Content-Type": "application/json"},
                        json.dumps({"contacts": [{"contact_type": "organization",
                                                  "name": "Bench Co", "addresses": [],
                                                  "email": None}]}).encode())
    if status != 201:
        raise SystemExit(f"makeleaps create: {status} {body[:200]!r}")
    out = {}
    for per_page in (1, 2):
        path = f"/makeleaps/api/partner/{ML_PARTNER}/client/?per_page={per_page}"
        size = len(check(server.url + path, {"Authorization": bearer}))
        argv = [wrk_bin, "-t1", "-c1", "-d2s", "-s", os.path.join(tmp, "size.lua"),
                "-H", "Authorization: " + bearer, server.url + path]
        with open(argv[5], "w") as f:
            f.write(REPORT_LUA)
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        line = next(l for l in run.stdout.splitlines() if l.startswith("WRKJSON "))
        r = json.loads(line.removeprefix("WRKJSON "))
        server.requests += r["requests"]
        out[f"per_page_{per_page}"] = {"body_bytes": size,
                                       "rps": round(r["requests"] / (r["duration_us"] / 1e6)),
                                       "p50_ms": round(r["p50_us"] / 1000, 2)}
        log(f"  1 connection, list page of {per_page} ({size} bytes): "
            f"p50 {r['p50_us'] / 1000:.2f} ms")
    return out


def checkpoint(server, label):
    s = server.status()
    return {"at": label, "requests_so_far": server.requests, "rss_mib": mib(s["VmRSS"]),
            "hwm_mib": mib(s["VmHWM"]), "threads": s["Threads"]}


def create_phase(wrk_bin, tmp, binary, extra, label, tag):
    """Phase 3 on a fresh database: MX creates/s, checked against the rows committed."""
    db = os.path.join(tmp, f"creates-{tag}.db")
    server = Server(binary, tmp, db, extra)
    try:
        headers = ["Accept: application/vnd.mx.provisioning.v1+json",
                   "Authorization: " + MX_AUTH, "Content-Type: application/json"]
        r = wrk(wrk_bin, tmp, server, "/mx/clients", headers,
                script=f'TAG = "{tag}"\n' + MX_CREATE_LUA)
        after = checkpoint(server, f"after {label} creates")
        wal_mib = mib(os.path.getsize(db + "-wal") / 1024)
    finally:
        server.stop()
    conn = sqlite3.connect(db)
    try:
        clients = conn.execute("SELECT count(*) FROM mx_clients WHERE email LIKE 'u%'").fetchone()[0]
        mails = conn.execute("SELECT count(*) FROM mail_outbox WHERE flavour = 'mx'").fetchone()[0]
        links = conn.execute("SELECT count(*) FROM links WHERE purpose = 'mx.register'").fetchone()[0]
    finally:
        conn.close()
    ok = r["requests"] - r["errors"]
    log(f"  {label}: {r['rps']} creates/s, p99 {r['p99_us'] / 1000:.2f} ms; rows: "
        f"{clients} clients, {links} links, {mails} mails for {ok} answers 200; "
        f"WAL {wal_mib} MiB")
    result = brief(r)
    result.update({"creates_per_s": r["rps"], "rows_clients": clients, "rows_links": links,
                   "rows_outbox": mails, "answers_200": ok, "rss_after_mib": after["rss_mib"],
                   # The -wal file while the server still runs: it is only reused from its
                   # start once a checkpoint caught up with every frame.
                   "wal_file_mib": wal_mib,
                   # In-flight requests at wrk's stop may commit without being counted.
                   "rows_match": ok <= clients <= r["requests"] + CONNECTIONS
                                 and clients == mails == links})
    return result


# Phase 5: clone the demo's records straight into the file (faster than the API by far).
SEED_SQL = {
    "shieldconex": """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
        INSERT INTO sc_clients (name, billing_id, mid, location, is_active, version,
                                direct_partner_id, contact_id, created_at, modified_at)
        SELECT 'Bench client ' || i, billing_id, mid, location, is_active, version,
               direct_partner_id, contact_id, created_at, modified_at
        FROM n, sc_clients WHERE sc_clients.id = 744""",
    "makeleaps_clients": """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
        INSERT INTO ml_clients (mid, partner_mid, client_external_id, display_name,
                                is_organization, default_contact_mid, created_at, updated_at)
        SELECT printf('1%018d', i), partner_mid, '', display_name || ' ' || i,
               is_organization, printf('2%018d', i), created_at, updated_at
        FROM n, ml_clients WHERE ml_clients.mid = '0000000000000000000'""",
    "makeleaps_contacts": """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
        INSERT INTO ml_contacts (mid, client_mid, partner_mid, position, contact_type, name,
                                 family_name, given_name, title, department, phone_number,
                                 email, addresses, created_at)
        SELECT printf('2%018d', i), printf('1%018d', i), partner_mid, 0, contact_type,
               name || ' ' || i, family_name, given_name, title, department, phone_number,
               email, addresses, created_at
        FROM n, ml_contacts WHERE ml_contacts.mid = '0000000000000000001'""",
}


SCALE_TARGETS = ("shieldconex_get", "shieldconex_list", "shieldconex_list_1", "makeleaps_get",
                 "makeleaps_list", "makeleaps_list_1")


def seeded_db(binary, tmp, count):
    """A database with the demo plus `count` ShieldConex and `count` MakeLeaps clients."""
    db = os.path.join(tmp, f"scale-{count}.db")
    Server(binary, tmp, db).stop()  # creates the schema and the demo tenants
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    try:
        with conn:
            for sql in SEED_SQL.values():
                conn.execute(sql, {"count": count})
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return db, round(time.perf_counter() - started, 1)


def scale_phase(wrk_bin, tmp, binary, counts):
    """Phase 5: get and list at each size; ratios of the largest to the smallest."""
    results = {}
    for count in counts:
        db, seed_s = seeded_db(binary, tmp, count)
        server = Server(binary, tmp, db)
        try:
            time.sleep(0.3)
            idle = checkpoint(server, "idle")
            bearer = makeleaps_token(server.url)
            # The middle record, so neither end of an index is favoured.
            conn = sqlite3.connect(db)
            sc_id = conn.execute("SELECT id FROM sc_clients WHERE name = ?",
                                 (f"Bench client {count // 2}",)).fetchone()[0]
            conn.close()
            ml_mid = "1%018d" % (count // 2)
            targets = {
                "shieldconex_get": (f"/shieldconex/api/v1/clients/{sc_id}", SC_AUTH),
                "shieldconex_list": ("/shieldconex/api/v1/clients?partner=792&take=20", SC_AUTH),
                "makeleaps_get": (f"/makeleaps/api/partner/{ML_PARTNER}/client/{ml_mid}/", bearer),
                "makeleaps_list": (f"/makeleaps/api/partner/{ML_PARTNER}/client/", bearer),
                # Pages of one record: answers under 1 KiB, so the list's own work is seen
                # apart from what the size of an answer costs (see response_size).
                "shieldconex_list_1": ("/shieldconex/api/v1/clients?partner=792&take=1", SC_AUTH),
                "makeleaps_list_1": (f"/makeleaps/api/partner/{ML_PARTNER}/client/?per_page=1",
                                     bearer),
            }
            sizes = {}
            for name, (path, auth) in targets.items():
                body = check(server.url + path, {"Authorization": auth})
                r = wrk(wrk_bin, tmp, server, path, ["Authorization: " + auth],
                        seconds=max(3, SECONDS // 2))
                sizes[name] = brief(r)
                sizes[name]["body_bytes"] = len(body)
                log(f"  {count} records, {name}: {r['rps']} req/s, p50 {r['p50_us'] / 1000:.2f} ms,"
                    f" p99 {r['p99_us'] / 1000:.2f} ms")
            after = checkpoint(server, "after")
        finally:
            server.stop()
        results[str(count)] = {"seed_seconds": seed_s, "db_mib": mib(os.path.getsize(db) / 1024),
                               "rss_idle_mib": idle["rss_mib"], "rss_after_mib": after["rss_mib"],
                               **sizes}
    small, large = results[str(counts[0])], results[str(counts[-1])]
    growth = {}
    for name in SCALE_TARGETS:
        growth[name] = {
            "p50_ratio": round(large[name]["p50_ms"] / max(small[name]["p50_ms"], 0.001), 2),
            "p99_ratio": round(large[name]["p99_ms"] / max(small[name]["p99_ms"], 0.001), 2),
            "rps_ratio": round(large[name]["rps"] / max(small[name]["rps"], 1), 2),
        }
    growth["rss_after_ratio"] = round(large["rss_after_mib"] / small["rss_after_mib"], 2)
    results[f"growth_{counts[0]}_to_{counts[-1]}"] = growth
    return results


def verdicts(results):
    reads, creates, rss = results["reads"], results["creates"], results["rss"]
    v = {}
    for name in ("shieldconex_get_client", "makeleaps_get_client"):
        v[f"{name}_ratio>=0.60"] = reads[name]["ratio_to_healthz"] >= 0.60
        v[f"{name}_p99<5ms"] = reads[name]["p99_ms"] < 5
    v["creates>=3000/s"] = creates["default"]["creates_per_s"] >= 3000
    v["idle_rss<=10MB"] = rss["idle_mib"] <= 10
    v["rss_after_100k<=30MB"] = rss["after_all_mib"] <= 30
    if "scale" in results:
        growth = next(g for k, g in results["scale"].items() if k.startswith("growth_"))
        for name in SCALE_TARGETS:
            v[f"scale_{name}_p50<=2x"] = growth[name]["p50_ratio"] <= 2
        v["scale_rss<=2x"] = growth["rss_after_ratio"] <= 2
    return v


def main():
    started = time.perf_counter()
    binary = build()
    wrk_bin = ensure_wrk()
    results = {
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                    "note": f"wrk ({WRK_THREADS} threads, {CONNECTIONS} connections) shares the "
                            "cores with the server: absolute figures are a floor; the budgets "
                            "judge ratios to /healthz measured in the same run"},
        "seconds_per_run": SECONDS, "rounds": ROUNDS,
        "budget": {"get_by_id_ratio_to_healthz": 0.60, "get_by_id_p99_ms": 5,
                   "creates_per_s": 3000, "idle_rss_mib": 10, "rss_after_100k_mib": 30,
                   "scale_latency_growth": 2},
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(binary, tmp, os.path.join(tmp, "main.db"))
        try:
            time.sleep(0.5)
            idle = checkpoint(server, "idle")
            rss_log = [idle]
            log("reads (healthz / ShieldConex / MakeLeaps, interleaved):")
            results["reads"] = read_phase(wrk_bin, tmp, server, rss_log)
            log("answer size alone (one connection):")
            results["response_size"] = response_size_phase(wrk_bin, tmp, server)
            log("MX creates on the same server (RSS after writes too):")
            headers = ["Accept: application/vnd.mx.provisioning.v1+json",
                       "Authorization: " + MX_AUTH, "Content-Type: application/json"]
            wrk(wrk_bin, tmp, server, "/mx/clients", headers,
                script='TAG = "rss"\n' + MX_CREATE_LUA, seconds=max(3, SECONDS // 2))
            rss_log.append(checkpoint(server, "after creates"))
            time.sleep(1)
            rss_log.append(checkpoint(server, "1 s later"))
        finally:
            server.stop()
        past_100k = next(c for c in rss_log if c["requests_so_far"] >= 100_000)
        results["rss"] = {"idle_mib": idle["rss_mib"],
                          "after_100k_mib": past_100k["rss_mib"],
                          "after_100k_at_requests": past_100k["requests_so_far"],
                          "after_all_mib": rss_log[-1]["rss_mib"],
                          "after_all_requests": rss_log[-1]["requests_so_far"],
                          "peak_mib": max(c["hwm_mib"] for c in rss_log),
                          "checkpoints": rss_log}
        log("creates on fresh databases:")
        results["creates"] = {
            "default": create_phase(wrk_bin, tmp, binary, [], "default (synchronous=NORMAL)",
                                    "n"),
            "durable": create_phase(wrk_bin, tmp, binary, ["--durable"],
                                    "--durable (synchronous=FULL)", "f"),
        }
        log("scale: 1k vs 100k records:")
        results["scale"] = scale_phase(wrk_bin, tmp, binary, [1_000, 100_000])
    results["verdict"] = verdicts(results)
    results["elapsed_s"] = round(time.perf_counter() - started)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results", "throughput.json")
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    summary(results)


def summary(results):
    reads, rss = results["reads"], results["rss"]
    h = reads["healthz"]
    print(f"/healthz                 {h['rps']:>7} req/s  p99 {h['p99_ms']:.2f} ms")
    for name in ("shieldconex_get_client", "makeleaps_get_client"):
        r = reads[name]
        print(f"{name:<24} {r['rps']:>7} req/s  p99 {r['p99_ms']:.2f} ms  "
              f"{r['ratio_to_healthz']:.0%} of /healthz   (budget >= 60 %, p99 < 5 ms)")
    for name, c in results["creates"].items():
        print(f"MX creates, {name:<12} {c['creates_per_s']:>7} /s     p99 {c['p99_ms']:.2f} ms  "
              f"rows match: {c['rows_match']}, WAL file {c['wal_file_mib']} MiB   "
              f"(budget >= 3,000/s)")
    sizes = results["response_size"]
    print("answer size, 1 connection: " + ", ".join(
        f"{v['body_bytes']} bytes p50 {v['p50_ms']} ms" for v in sizes.values()))
    print(f"RSS idle {rss['idle_mib']} MiB; after {rss['after_100k_at_requests']} requests "
          f"{rss['after_100k_mib']} MiB; after {rss['after_all_requests']} "
          f"{rss['after_all_mib']} MiB; peak {rss['peak_mib']} MiB   (budgets 10 / 30 MB)")
    if "scale" in results:
        for key, growth in results["scale"].items():
            if key.startswith("growth_"):
                for name, g in growth.items():
                    if isinstance(g, dict):
                        print(f"{key} {name:<18} p50 x{g['p50_ratio']}, p99 x{g['p99_ratio']}, "
                              f"req/s x{g['rps_ratio']}")
                print(f"{key} RSS x{growth['rss_after_ratio']}   (budget: within 2x)")
    failed = [k for k, ok in results["verdict"].items() if not ok]
    print("budgets missed: " + (", ".join(failed) if failed else "none"))
    print(f"({results['elapsed_s']} s; figures in bench/results/throughput.json)")


if __name__ == "__main__":
    main()
