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
SECONDS = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 6
ROUNDS = 3
# Records per flavour in the scale phase; CLIENTELE_BENCH_SCALE=100000 stops at 100k.
SCALE_COUNTS = [c for c in (1_000, 100_000, 1_000_000)
                if c <= int(os.environ.get("CLIENTELE_BENCH_SCALE", "1000000"))]
CONNECTIONS = 32
WRK_THREADS = 2
# Reads are measured at both; the other phases at CONNECTIONS.
READ_CONNECTIONS = (32, 64)

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
    """The release binary; CLIENTELE_BENCH_BINARY names one built already (e.g. a baseline
    kept from an earlier commit) instead."""
    if os.environ.get("CLIENTELE_BENCH_BINARY"):
        return os.environ["CLIENTELE_BENCH_BINARY"]
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


def loadavg():
    """The 1, 5 and 15 minute load averages: how busy the machine was (other builds)."""
    return [round(x, 2) for x in os.getloadavg()]


def wrk(wrk_bin, tmp, server, path, headers=(), script=REPORT_LUA, seconds=None,
        connections=CONNECTIONS):
    """One wrk run against server.url + path; its summary as a dict, with req/s."""
    lua = os.path.join(tmp, "run.lua")
    with open(lua, "w") as f:
        f.write(script + REPORT_LUA if script is not REPORT_LUA else script)
    seconds = seconds or SECONDS
    argv = [wrk_bin, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
            "-s", lua]
    for header in headers:
        argv += ["-H", header]
    argv.append(server.url + path)
    load_before = loadavg()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no summary:\n{out.stdout}\n{out.stderr}")
    r = json.loads(line.removeprefix("WRKJSON "))
    r["rps"] = round(r["requests"] / (r["duration_us"] / 1e6))
    r["loadavg_before"] = load_before
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
    targets = {}
    for conns in READ_CONNECTIONS:
        suffix = "" if conns == CONNECTIONS else f"_c{conns}"
        targets["healthz" + suffix] = ("/healthz", [], conns)
        targets["shieldconex_get_client" + suffix] = (sc_path, ["Authorization: " + SC_AUTH],
                                                      conns)
        targets["makeleaps_get_client" + suffix] = (ml_path, ["Authorization: " + bearer], conns)
    runs = {name: [] for name in targets}
    ratios = {name: [] for name in targets if not name.startswith("healthz")}
    for round_no in range(ROUNDS):
        got = {}
        for name, (path, headers, conns) in targets.items():
            got[name] = wrk(wrk_bin, tmp, server, path, headers, connections=conns)
            runs[name].append(got[name])
            log(f"  round {round_no + 1} {name}: {got[name]['rps']} req/s, "
                f"p99 {got[name]['p99_us'] / 1000:.2f} ms")
        for name in ratios:
            conns = targets[name][2]
            base = "healthz" if conns == CONNECTIONS else f"healthz_c{conns}"
            ratios[name].append(got[name]["rps"] / got[base]["rps"])
        rss_log.append(checkpoint(server, f"after read round {round_no + 1}"))
    out = {name: median_of(r) for name, r in runs.items()}
    for name, values in ratios.items():
        out[name]["ratio_to_healthz"] = round(statistics.median(values), 3)
        out[name]["ratio_each_round"] = [round(v, 3) for v in values]
        out[name]["connections"] = targets[name][2]
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


PEER_VERSION = "1.0.0-beta.15"
PEER_DIR = os.path.join(os.path.expanduser("~"), ".cache", "clientele-bench",
                        f"json-server-{PEER_VERSION}")

# json-server creates: a distinct e-mail per request, like ours.
PEER_CREATE_LUA = r"""
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"company_name":"MX","email":"u%s-%d-%d@example.com","first_name":"A","last_name":"B"}',
    TAG, tid, counter)
  return wrk.format("POST", "/clients", {["Content-Type"] = "application/json"}, body)
end
"""


def ensure_peer():
    """json-server (npm) in a cache outside the repository; None when npm cannot install it."""
    binary = os.path.join(PEER_DIR, "node_modules", ".bin", "json-server")
    if os.path.exists(binary):
        return binary
    if not shutil.which("npm"):
        log("npm missing: the json-server peer is skipped")
        return None
    os.makedirs(PEER_DIR, exist_ok=True)
    log(f"installing json-server@{PEER_VERSION} with npm into {PEER_DIR}")
    done = subprocess.run(["npm", "install", "--prefix", PEER_DIR, "--no-audit", "--no-fund",
                           f"json-server@{PEER_VERSION}"], capture_output=True, text=True,
                          timeout=600)
    if done.returncode != 0 or not os.path.exists(binary):
        log(f"npm install failed: the json-server peer is skipped\n{done.stderr[-2000:]}")
        return None
    return binary


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Peer:
    """json-server on a JSON file of one client, on a free loopback port."""

    def __init__(self, binary, tmp, name):
        self.db = os.path.join(tmp, f"{name}.json")
        with open(self.db, "w") as f:
            json.dump({"clients": [{"id": "1", "company_name": "MX", "email": "a@example.com",
                                    "first_name": "A", "last_name": "B"}]}, f)
        port = free_port()
        self.log_file = open(os.path.join(tmp, f"{name}.log"), "wb")
        self.proc = subprocess.Popen([binary, self.db, "--port", str(port), "--host",
                                      "127.0.0.1"], cwd=tmp, stdout=self.log_file,
                                     stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}"
        self.requests = 0
        for _ in range(100):  # at most 10 s
            try:
                check(self.url + "/clients/1")
                return
            except Exception:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("json-server did not start")

    def rss_mib(self):
        return mib(proc_status(self.proc.pid)["VmRSS"])

    def clients(self):
        with open(self.db) as f:
            return len(json.load(f)["clients"])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def peer_phase(wrk_bin, tmp, binary, server, peer_bin):
    """json-server beside us, interleaved: GET by id (ours authenticated, ShieldConex) and
    creates (ours MX: client + link + outbox mail in one transaction; its: one object
    appended to its JSON file), each pair of runs seconds apart; the medians' ratios."""
    mx_headers = ["Accept: application/vnd.mx.provisioning.v1+json",
                  "Authorization: " + MX_AUTH, "Content-Type: application/json"]
    peer = Peer(peer_bin, tmp, "peer")
    try:
        ours_get, its_get = [], []
        for round_no in range(ROUNDS):
            ours_get.append(wrk(wrk_bin, tmp, server, "/shieldconex/api/v1/clients/744",
                                ["Authorization: " + SC_AUTH]))
            its_get.append(wrk(wrk_bin, tmp, peer, "/clients/1"))
            log(f"  round {round_no + 1} GET by id: ours {ours_get[-1]['rps']} req/s, "
                f"json-server {its_get[-1]['rps']} req/s")
        peer_rss_after_reads = peer.rss_mib()
        ours_create, its_create = [], []
        for round_no in range(2):
            fresh = Server(binary, tmp, os.path.join(tmp, f"peer-creates-{round_no}.db"))
            try:
                ours_create.append(wrk(wrk_bin, tmp, fresh, "/mx/clients", mx_headers,
                                       script=f'TAG = "p{round_no}"\n' + MX_CREATE_LUA))
                ours_rss = mib(fresh.status()["VmRSS"])
            finally:
                fresh.stop()
            its_create.append(wrk(wrk_bin, tmp, peer, "/clients",
                                  script=f'TAG = "p{round_no}"\n' + PEER_CREATE_LUA))
            log(f"  round {round_no + 1} creates: ours {ours_create[-1]['rps']}/s, "
                f"json-server {its_create[-1]['rps']}/s")
        peer_rss = peer.rss_mib()
        time.sleep(1)  # its writes are asynchronous: let the last one land
        persisted = peer.clients() - 1
    finally:
        peer.stop()
    ours_rss_now = mib(server.status()["VmRSS"])
    gets = {"ours": median_of(ours_get), "json_server": median_of(its_get)}
    creates = {"ours": median_of(ours_create), "json_server": median_of(its_create)}
    answered = sum(r["requests"] - r["errors"] for r in its_create)
    return {
        "json_server_version": PEER_VERSION,
        "node": subprocess.run(["node", "--version"], capture_output=True,
                               text=True).stdout.strip(),
        "get_by_id": gets,
        "get_ratio": round(gets["ours"]["rps"] / max(gets["json_server"]["rps"], 1), 2),
        "creates": creates,
        "create_ratio": round(creates["ours"]["rps"] / max(creates["json_server"]["rps"], 1), 2),
        "json_server_creates_answered": answered,
        "json_server_creates_persisted": persisted,
        "rss_mib": {"ours_after_reads": ours_rss_now, "ours_fresh_after_creates": ours_rss,
                    "json_server_after_reads": peer_rss_after_reads,
                    "json_server_after_creates": peer_rss},
    }


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
    "mx_clients": """
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
        INSERT INTO mx_clients (id, processor_id, company_name, email, first_name, last_name,
                                status, created_at, updated_at)
        SELECT printf('CLT-bench-%08d', i), processor_id, company_name,
               printf('seed%d@example.com', i), first_name, last_name, status, created_at,
               updated_at
        FROM n, (SELECT * FROM mx_clients ORDER BY rowid LIMIT 1)""",
}


SCALE_TARGETS = ("shieldconex_get", "shieldconex_list", "shieldconex_list_1",
                 "shieldconex_list_deep", "makeleaps_get", "makeleaps_list", "makeleaps_list_1",
                 "makeleaps_list_deep", "mx_create")
SCALE_FLAVOURS = 3  # ShieldConex, MakeLeaps and MX get `count` clients each


def seeded_db(binary, tmp, count):
    """A database with the demo plus `count` ShieldConex, MakeLeaps and MX clients."""
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
                # A page in the middle of the list: skip grows with the list (OFFSET paging).
                "shieldconex_list_deep": (f"/shieldconex/api/v1/clients?partner=792&take=20"
                                          f"&skip={count // 2}", SC_AUTH),
                "makeleaps_list_deep": (f"/makeleaps/api/partner/{ML_PARTNER}/client/"
                                        f"?per_page=20&page={max(1, count // 40)}", bearer),
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
            headers = ["Accept: application/vnd.mx.provisioning.v1+json",
                       "Authorization: " + MX_AUTH, "Content-Type: application/json"]
            r = wrk(wrk_bin, tmp, server, "/mx/clients", headers,
                    script=f'TAG = "s{count}"\n' + MX_CREATE_LUA, seconds=max(3, SECONDS // 2))
            sizes["mx_create"] = brief(r)
            log(f"  {count} records, mx_create: {r['rps']}/s, p50 {r['p50_us'] / 1000:.2f} ms,"
                f" p99 {r['p99_us'] / 1000:.2f} ms")
            after = checkpoint(server, "after")
        finally:
            server.stop()
        db_bytes = os.path.getsize(db)
        results[str(count)] = {"seed_seconds": seed_s, "db_mib": mib(db_bytes / 1024),
                               "db_bytes_per_record": round(db_bytes / (count * SCALE_FLAVOURS)),
                               "rss_idle_mib": idle["rss_mib"], "rss_after_mib": after["rss_mib"],
                               **sizes}
    small = results[str(counts[0])]
    for count in counts[1:]:
        large = results[str(count)]
        growth = {}
        for name in SCALE_TARGETS:
            growth[name] = {
                "p50_ratio": round(large[name]["p50_ms"] / max(small[name]["p50_ms"], 0.001), 2),
                "p99_ratio": round(large[name]["p99_ms"] / max(small[name]["p99_ms"], 0.001), 2),
                "rps_ratio": round(large[name]["rps"] / max(small[name]["rps"], 1), 2),
            }
        growth["rss_after_ratio"] = round(large["rss_after_mib"] / small["rss_after_mib"], 2)
        results[f"growth_{counts[0]}_to_{count}"] = growth
    return results


def verdicts(results):
    reads, creates, rss = results["reads"], results["creates"], results["rss"]
    budget = results["budget"]
    v = {}
    for name, r in reads.items():
        if name.startswith("healthz"):
            continue
        v[f"{name}_ratio>=0.70"] = r["ratio_to_healthz"] >= budget["get_by_id_ratio_to_healthz"]
        v[f"{name}_p99<3ms"] = r["p99_ms"] < budget["get_by_id_p99_ms"]
    v["creates>=5000/s"] = creates["default"]["creates_per_s"] >= budget["creates_per_s"]
    v["creates_p99<=20ms"] = creates["default"]["p99_ms"] <= budget["creates_p99_ms"]
    v["creates_durable>=3000/s"] = (creates["durable"]["creates_per_s"]
                                   >= budget["durable_creates_per_s"])
    v["creates_rows_match"] = all(c["rows_match"] for c in creates.values())
    v["idle_rss<=10MB"] = rss["idle_mib"] <= budget["idle_rss_mib"]
    v["rss_after_100k<=30MB"] = rss["after_all_mib"] <= budget["rss_after_100k_mib"]
    if "peer" in results:
        v["peer_reads>=4x"] = results["peer"]["get_ratio"] >= budget["peer_get_ratio"]
        v["peer_creates>=6x"] = results["peer"]["create_ratio"] >= budget["peer_create_ratio"]
    for key, growth in results.get("scale", {}).items():
        if not key.startswith("growth_"):
            continue
        size = key.rsplit("_", 1)[1]
        for name in SCALE_TARGETS:
            if name == "mx_create":
                v[f"scale_{size}_{name}_rps>=0.5x"] = growth[name]["rps_ratio"] >= 0.5
            else:
                v[f"scale_{size}_{name}_p50<=2x"] = growth[name]["p50_ratio"] <= 2
        v[f"scale_{size}_rss<=2x"] = growth["rss_after_ratio"] <= 2
    return v


def main():
    started = time.perf_counter()
    binary = build()
    wrk_bin = ensure_wrk()
    peer_bin = ensure_peer()
    results = {
        "binary": binary,
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                 capture_output=True, text=True).stdout.strip(),
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(),
                    "note": f"wrk ({WRK_THREADS} threads, {CONNECTIONS} connections) shares the "
                            "cores with the server: absolute figures are a floor; the budgets "
                            "judge ratios to /healthz measured in the same run"},
        "seconds_per_run": SECONDS, "rounds": ROUNDS,
        "budget": {"get_by_id_ratio_to_healthz": 0.70, "get_by_id_p99_ms": 3,
                   "creates_per_s": 5000, "creates_p99_ms": 20, "durable_creates_per_s": 3000,
                   "idle_rss_mib": 10, "rss_after_100k_mib": 30, "peer_get_ratio": 4,
                   "peer_create_ratio": 6, "scale_growth": 2},
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "loadavg_at_start": loadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(binary, tmp, os.path.join(tmp, "main.db"))
        try:
            time.sleep(0.5)
            idle = checkpoint(server, "idle")
            rss_log = [idle]
            log("reads (healthz / ShieldConex / MakeLeaps, interleaved):")
            results["reads"] = read_phase(wrk_bin, tmp, server, rss_log)
            if peer_bin:
                log(f"json-server {PEER_VERSION} beside us (interleaved):")
                results["peer"] = peer_phase(wrk_bin, tmp, binary, server, peer_bin)
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
        log(f"scale: {SCALE_COUNTS} records per flavour:")
        results["scale"] = scale_phase(wrk_bin, tmp, binary, SCALE_COUNTS)
    results["verdict"] = verdicts(results)
    results["elapsed_s"] = round(time.perf_counter() - started)
    results["loadavg_at_end"] = loadavg()
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    out = os.path.join(ROOT, "bench", "results",
                       os.environ.get("CLIENTELE_BENCH_OUT", "throughput.json"))
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    summary(results)


def summary(results):
    reads, rss = results["reads"], results["rss"]
    print(f"{results['date_utc']} UTC, loadavg at start {results['loadavg_at_start']}, "
          f"at end {results['loadavg_at_end']}")
    for name, r in reads.items():
        line = f"{name:<28} {r['rps']:>7} req/s  p99 {r['p99_ms']:.2f} ms"
        if "ratio_to_healthz" in r:
            line += f"  {r['ratio_to_healthz']:.0%} of /healthz   (budget >= 70 %, p99 < 3 ms)"
        print(line)
    for name, c in results["creates"].items():
        print(f"MX creates, {name:<12} {c['creates_per_s']:>7} /s     p50 {c['p50_ms']:.2f} ms  "
              f"p99 {c['p99_ms']:.2f} ms  rows match: {c['rows_match']}, WAL file "
              f"{c['wal_file_mib']} MiB")
    if "peer" in results:
        p = results["peer"]
        print(f"json-server {p['json_server_version']}: GET ours {p['get_by_id']['ours']['rps']} "
              f"vs {p['get_by_id']['json_server']['rps']} = {p['get_ratio']}x (budget 4x); creates "
              f"ours {p['creates']['ours']['rps']} vs {p['creates']['json_server']['rps']} = "
              f"{p['create_ratio']}x (budget 6x); RSS {p['rss_mib']}")
    sizes = results["response_size"]
    print("answer size, 1 connection: " + ", ".join(
        f"{v['body_bytes']} bytes p50 {v['p50_ms']} ms" for v in sizes.values()))
    print(f"RSS idle {rss['idle_mib']} MiB; after {rss['after_100k_at_requests']} requests "
          f"{rss['after_100k_mib']} MiB; after {rss['after_all_requests']} "
          f"{rss['after_all_mib']} MiB; peak {rss['peak_mib']} MiB   (budgets 10 / 30 MB)")
    for key, value in results.get("scale", {}).items():
        if key.startswith("growth_"):
            for name, g in value.items():
                if isinstance(g, dict):
                    print(f"{key} {name:<22} p50 x{g['p50_ratio']}, p99 x{g['p99_ratio']}, "
                          f"req/s x{g['rps_ratio']}")
            print(f"{key} RSS x{value['rss_after_ratio']}   (budget: within 2x)")
        else:
            print(f"{key} records: seeded in {value['seed_seconds']} s, {value['db_mib']} MiB "
                  f"({value['db_bytes_per_record']} bytes per record), RSS after "
                  f"{value['rss_after_mib']} MiB")
    failed = [k for k, ok in results["verdict"].items() if not ok]
    print("budgets missed: " + (", ".join(failed) if failed else "none"))
    print(f"({results['elapsed_s']} s; figures in bench/results/throughput.json)")


if __name__ == "__main__":
    main()
