#!/usr/bin/env python3
"""PostgreSQL next to SQLite, in one run: one instance, and two instances on one database.

    python3 bench/postgres.py [SECONDS] [ROUNDS]

Builds `--release` (or takes CLIENTELE_BENCH_BINARY), starts a throwaway PostgreSQL cluster
(Debian's, /usr/lib/postgresql/*/bin; initdb and pg_ctl run as the `postgres` user when this
script runs as root, as in .ci/run) on a free loopback port with a data directory in a
temporary directory, and removes it at the end, on error too. The cluster keeps PostgreSQL's
defaults (fsync, synchronous_commit and full_page_writes on, shared_buffers 128MB); only
the port, the socket directory and listen_addresses=127.0.0.1 are set.

Three setups, interleaved round by round (the order rotates each round), each on a fresh
database (a new SQLite file, or a new PostgreSQL database) with `serve --demo`:

  sqlite  one instance on a SQLite file (the default engine);
  sqlite_durable  the same with --durable (synchronous=FULL), creates only: SQLite as
          durable as PostgreSQL with fsync and synchronous_commit on;
  pg1     one instance on PostgreSQL (`--db postgres://...`, default --db-pool 16);
  pg2     two instances, two `clientele serve` processes on the same `--db` URL, each with
          its own mbox. The load is split across them by two wrk processes started at once,
          one per instance, each with half the threads and connections of the single-instance
          run (1 thread and 16 connections each, 2 and 32 in all); their rates are summed,
          and the pair's p99 is the worse of the two.

In each setup and round, after one unrecorded second of /healthz (the pools open their
connections): GET /healthz (the baseline: on PostgreSQL it runs `SELECT 1`, on SQLite it
touches nothing), the authenticated ShieldConex GET by id, and MX creates (client,
one-time link and outbox mail in one transaction, each with its own e-mail), checked
against the rows in the database once the servers have stopped. For every run it also reads
the CPU time of the servers and of the cluster's processes from /proc: CPU per request, a
figure that a busy machine disturbs less than req/s. Medians over the rounds go to
bench/results/postgres.json (or CLIENTELE_BENCH_OUT), with the load average before every run.

CLIENTELE_BENCH_PG_ARGS adds arguments to the PostgreSQL instances' command line (say
`--db-pool 8`), to compare settings.

Loopback only; every wrk run is bounded (SECONDS, default 5; ROUNDS default 3).
"""
import json
import os
import pwd
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput as t  # noqa: E402

SECONDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
SETUPS = ("sqlite", "sqlite_durable", "pg1", "pg2")
# sqlite_durable (--durable: synchronous=FULL, an fsync per commit group) only for creates:
# the SQLite setting that is as durable as PostgreSQL with fsync and synchronous_commit on.
TARGETS = {"sqlite": ("healthz", "shieldconex_get", "mx_create"),
           "sqlite_durable": ("mx_create",),
           "pg1": ("healthz", "shieldconex_get", "mx_create"),
           "pg2": ("healthz", "shieldconex_get", "mx_create")}
TICKS = os.sysconf("SC_CLK_TCK")
SC_PATH = "/shieldconex/api/v1/clients/744"
MX_HEADERS = ["Accept: application/vnd.mx.provisioning.v1+json", "Authorization: " + t.MX_AUTH,
              "Content-Type: application/json"]


def pg_bin_dir():
    dirs = [os.path.join("/usr/lib/postgresql", v, "bin")
            for v in os.listdir("/usr/lib/postgresql")] if os.path.isdir(
                "/usr/lib/postgresql") else []
    dirs = [d for d in dirs if os.path.exists(os.path.join(d, "pg_ctl"))]
    if not dirs:
        sys.exit("PostgreSQL is missing: apt-get install postgresql (Debian's, as .ci/run)")
    return max(dirs, key=lambda d: [int(x) for x in d.split("/")[-2].split(".") if x.isdigit()])


class Cluster:
    """A throwaway PostgreSQL cluster: initdb, pg_ctl start on a free loopback port, and
    stop + remove. As root, initdb and pg_ctl run as `postgres` (initdb refuses root)."""

    def __init__(self, tmp):
        self.bin = pg_bin_dir()
        self.dir = os.path.join(tmp, "pg")
        os.mkdir(self.dir, 0o700)
        self.as_root = os.getuid() == 0
        if self.as_root:
            pw = pwd.getpwnam("postgres")  # Debian's package creates it
            os.chown(tmp, pw.pw_uid, pw.pw_gid)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.port = t.free_port()
        self.data = os.path.join(self.dir, "data")
        self.started = False
        self.pg(f"{self.bin}/initdb -D {self.data} -A trust -U clientele --locale=C.UTF-8 "
                f">{self.dir}/initdb.log 2>&1")
        self.pg(f"{self.bin}/pg_ctl -D {self.data} -l {self.dir}/server.log -w -o "
                f"'-k {self.dir} -p {self.port} -c listen_addresses=127.0.0.1' start >/dev/null")
        self.started = True
        self.url_base = f"postgres://clientele@127.0.0.1:{self.port}"
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            self.postmaster = int(f.readline())
        self.version = self.query("postgres", "SHOW server_version")
        self.settings = {name: self.query("postgres", f"SHOW {name}")
                         for name in ("fsync", "synchronous_commit", "full_page_writes",
                                      "shared_buffers", "max_connections", "wal_level")}

    def pg(self, command):
        argv = (["su", "postgres", "-s", "/bin/sh", "-c", command] if self.as_root
                else ["sh", "-c", command])
        subprocess.run(argv, check=True, timeout=120)

    def query(self, db, sql):
        out = subprocess.run([f"{self.bin}/psql", "-h", "127.0.0.1", "-p", str(self.port),
                              "-U", "clientele", "-d", db, "-AtqX", "-v", "ON_ERROR_STOP=1",
                              "-c", sql], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise SystemExit(f"psql {sql!r}: {out.stderr}")
        return out.stdout.strip()

    def new_database(self, name):
        self.query("postgres", f"CREATE DATABASE {name}")
        return f"{self.url_base}/{name}"

    def cpu_seconds(self):
        """User + system CPU of the postmaster and its children (backends, walwriter, ...)."""
        return sum(cpu_seconds(pid) for pid in [self.postmaster] + children(self.postmaster))

    def stop(self):
        if self.started:
            try:
                self.pg(f"{self.bin}/pg_ctl -D {self.data} -m fast -w -t 30 stop >/dev/null")
            except Exception:
                self.pg(f"{self.bin}/pg_ctl -D {self.data} -m immediate stop >/dev/null")
            self.started = False


def children(ppid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == ppid:
                        out.append(int(name))
            except (OSError, ValueError):
                pass
    return out


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0  # gone meanwhile
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


class Instance:
    """One `clientele serve --demo` with its own mbox and log, stopped with SIGTERM."""

    def __init__(self, binary, tmp, db, name, extra=()):
        self.name = name
        self.log_path = os.path.join(tmp, name + ".log")
        self.log_file = open(self.log_path, "wb")
        argv = [binary, "serve", "--demo", "--listen", "127.0.0.1:0", "--db", db,
                "--mail", "mbox:" + os.path.join(tmp, name + ".mbox"), *extra]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log_file)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            self.stop()
            raise SystemExit(f"{name}: no readiness line: {line!r}; see {self.log_path}")
        self.url = line.removeprefix("listening on ").strip()
        self.requests = 0

    def cpu_seconds(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return self.proc.returncode

    def log_problems(self):
        """The server's log, read after it stopped: request lines by status class, and every
        other line but the known startup and shutdown notices (errors, panics, database
        trouble, dropped log lines), at most 10 of them kept."""
        statuses, other, handler_ms = {}, [], {}
        with open(self.log_path, errors="replace") as f:
            for line in f:
                m = REQUEST_LINE.match(line)
                if m:
                    key = m.group(2)[0] + "xx"
                    statuses[key] = statuses.get(key, 0) + 1
                    handler_ms.setdefault(m.group(1), []).append(float(m.group(3)))
                elif not line.startswith(KNOWN_NOTICES):
                    other.append(line.rstrip()[:300])
        self.handler_ms = {}
        for route, values in handler_ms.items():
            values.sort()
            self.handler_ms[route] = {"requests": len(values),
                                      "over_50ms": sum(v > 50 for v in values),
                                      "p50_ms": values[len(values) // 2],
                                      "p99_ms": values[int(len(values) * 0.99)],
                                      "max_ms": values[-1]}
        return {"requests_by_status": statuses, "other_lines": len(other),
                "other_first": other[:10]}


# "GET /healthz 200 0.1ms": the server's own time, from a worker taking the request to its
# answer being ready, so a tail here is the handler's (the database), and a tail only in
# wrk's figures is spent before or after it (queues, and the cores shared with wrk).
REQUEST_LINE = re.compile(r"^([A-Z]+ /[a-z]*)\S* (\d{3}) ([0-9.]+)ms$")
KNOWN_NOTICES = ("clientele: mail goes to ", "clientele: nueve09 token-signing key: ",
                 "demo tenants ", "  ", "clientele: shutting down")


def run_wrk(wrk_bin, tmp, instances, path, headers, tag=None, seconds=None):
    """wrk against every instance at once: 2 threads and 32 connections in all, split evenly
    between the instances. The sum of their rates, the worse p99; each one's summary kept."""
    n = len(instances)
    threads, conns = t.WRK_THREADS // n, t.CONNECTIONS // n
    procs = []
    load_before = t.loadavg()
    for i, inst in enumerate(instances):
        lua = os.path.join(tmp, f"run-{i}.lua")
        with open(lua, "w") as f:
            if tag is not None:
                f.write(f'TAG = "{tag}{chr(97 + i)}"\n' + t.MX_CREATE_LUA)
            f.write(t.REPORT_LUA)
        argv = [wrk_bin, f"-t{threads}", f"-c{conns}", f"-d{seconds or SECONDS}s", "--timeout",
                "5s",
                "-s", lua]
        for h in headers:
            argv += ["-H", h]
        argv.append(inst.url + path)
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    each = []
    for inst, p in zip(instances, procs):
        out, err = p.communicate(timeout=(seconds or SECONDS) + 60)
        line = next((l for l in out.splitlines() if l.startswith("WRKJSON ")), None)
        if line is None:
            raise SystemExit(f"wrk gave no summary:\n{out}\n{err}")
        r = json.loads(line.removeprefix("WRKJSON "))
        r["rps"] = round(r["requests"] / (r["duration_us"] / 1e6))
        r["errors"] = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors",
                                         "status_errors", "timeouts"))
        inst.requests += r["requests"]
        each.append(r)
    return {"rps": sum(r["rps"] for r in each), "requests": sum(r["requests"] for r in each),
            "errors": sum(r["errors"] for r in each),
            "p50_us": max(r["p50_us"] for r in each), "p99_us": max(r["p99_us"] for r in each),
            "max_us": max(r["max_us"] for r in each), "loadavg_before": load_before,
            "per_instance": [{"rps": r["rps"], "p50_ms": round(r["p50_us"] / 1000, 2),
                              "p99_ms": round(r["p99_us"] / 1000, 2),
                              "requests": r["requests"], "errors": r["errors"]} for r in each]}


def measured(wrk_bin, tmp, instances, cluster, path, headers, tag=None):
    """One run, with the CPU the servers and the cluster spent on it per request."""
    s0 = sum(i.cpu_seconds() for i in instances)
    p0 = cluster.cpu_seconds() if cluster else 0.0
    r = run_wrk(wrk_bin, tmp, instances, path, headers, tag)
    s1 = sum(i.cpu_seconds() for i in instances)
    p1 = cluster.cpu_seconds() if cluster else 0.0
    n = max(r["requests"], 1)
    r["server_cpu_us_per_req"] = round((s1 - s0) / n * 1e6, 1)
    r["postgres_cpu_us_per_req"] = round((p1 - p0) / n * 1e6, 1) if cluster else None
    return r


def count_rows(setup, db):
    queries = ("SELECT count(*) FROM mx_clients WHERE email LIKE 'u%'",
               "SELECT count(*) FROM links WHERE purpose = 'mx.register'",
               "SELECT count(*) FROM mail_outbox WHERE flavour = 'mx'")
    if not isinstance(db, tuple):
        conn = sqlite3.connect(db)
        try:
            return [conn.execute(q).fetchone()[0] for q in queries]
        finally:
            conn.close()
    cluster, name = db
    return [int(cluster.query(name, q)) for q in queries]


def one_setup(wrk_bin, tmp, binary, cluster, setup, round_no):
    """Fresh database, the setup's servers, healthz + GET + creates, stop, count rows."""
    tag = f"{setup}r{round_no}"
    if setup.startswith("sqlite"):
        db = os.path.join(tmp, f"{tag}.db")
        extra = ["--durable"] if setup == "sqlite_durable" else []
        instances = [Instance(binary, tmp, db, tag, extra)]
        rows_db, used_cluster = db, None
    else:
        name = f"bench_{tag}"
        url = cluster.new_database(name)
        count = 1 if setup == "pg1" else 2
        instances = []
        used_cluster = cluster
        rows_db = (cluster, name)
        try:
            pg_extra = os.environ.get("CLIENTELE_BENCH_PG_ARGS", "").split()
            for i in range(count):
                instances.append(Instance(binary, tmp, url, f"{tag}-{chr(97 + i)}", pg_extra))
        except BaseException:
            for inst in instances:
                inst.stop()
            raise
    out = {}
    try:
        for inst in instances:
            t.check(inst.url + "/healthz")
            t.check(inst.url + SC_PATH, {"Authorization": t.SC_AUTH})
        # Not recorded: a second of /healthz at the run's concurrency, so the pools have
        # opened their connections (PostgreSQL forks a backend for each) before any figure.
        run_wrk(wrk_bin, tmp, instances, "/healthz", [], seconds=1)
        if "healthz" in TARGETS[setup]:
            out["healthz"] = measured(wrk_bin, tmp, instances, used_cluster, "/healthz", [])
            out["shieldconex_get"] = measured(wrk_bin, tmp, instances, used_cluster, SC_PATH,
                                              ["Authorization: " + t.SC_AUTH])
        out["mx_create"] = measured(wrk_bin, tmp, instances, used_cluster, "/mx/clients",
                                    MX_HEADERS, tag=tag)
    finally:
        codes = [inst.stop() for inst in instances]
    clients, links, mails = count_rows(setup, rows_db)
    c = out["mx_create"]
    ok = c["requests"] - c["errors"]
    c.update({"rows_clients": clients, "rows_links": links, "rows_outbox": mails,
              "answers_ok": ok,
              # Requests in flight when wrk stops may commit without being counted.
              "rows_match": ok <= clients <= c["requests"] + t.CONNECTIONS
                            and clients == links == mails})
    out["exit_codes"] = codes
    out["log_problems"] = {inst.name: inst.log_problems() for inst in instances}
    out["handler_ms"] = {inst.name: inst.handler_ms for inst in instances}
    return out


def summarise(runs):
    """Medians over rounds of one setup's runs of one target."""
    def med(key):
        values = [r[key] for r in runs if r.get(key) is not None]
        return round(statistics.median(values), 2) if values else None
    return {"rps": round(statistics.median(r["rps"] for r in runs)),
            "p50_ms": round(statistics.median(r["p50_us"] for r in runs) / 1000, 2),
            "p99_ms": round(statistics.median(r["p99_us"] for r in runs) / 1000, 2),
            "server_cpu_us_per_req": med("server_cpu_us_per_req"),
            "postgres_cpu_us_per_req": med("postgres_cpu_us_per_req"),
            "errors": sum(r["errors"] for r in runs),
            "rounds": [{k: r[k] for k in ("rps", "requests", "errors", "loadavg_before",
                                           "server_cpu_us_per_req", "postgres_cpu_us_per_req")}
                       | {"p50_ms": round(r["p50_us"] / 1000, 2),
                          "p99_ms": round(r["p99_us"] / 1000, 2),
                          "max_ms": round(r["max_us"] / 1000, 1)}
                       | ({"per_instance": r["per_instance"]} if len(r["per_instance"]) > 1
                          else {})
                       | ({k: r[k] for k in ("rows_clients", "rows_links", "rows_outbox",
                                             "answers_ok", "rows_match")}
                          if "rows_match" in r else {})
                       for r in runs]}


def median_ratio(pairs):
    return round(statistics.median(a / b for a, b in pairs), 3)


def budgets(results):
    """Issue 28's budgets, from this run's figures: each with its value, what it must be,
    and whether it is met."""
    pg1, pg2, ratios = results["pg1"], results["pg2"], results["ratios"]

    def budget(value, want, met):
        return {"value": value, "want": want, "met": bool(met)}
    create_share = ratios["pg1_over_sqlite"]["mx_create"]
    return {
        "pg1_creates_share_of_sqlite": budget(create_share, ">= 0.30", create_share >= 0.30),
        "pg1_create_p99_ms": budget(pg1["mx_create"]["p99_ms"], "<= 50",
                                    pg1["mx_create"]["p99_ms"] <= 50),
        "pg1_healthz_p99_ms": budget(pg1["healthz"]["p99_ms"], "<= 20",
                                     pg1["healthz"]["p99_ms"] <= 20),
        "pg1_get_p99_ms": budget(pg1["shieldconex_get"]["p99_ms"], "<= 20",
                                 pg1["shieldconex_get"]["p99_ms"] <= 20),
        "pg2_healthz_p99_ms": budget(pg2["healthz"]["p99_ms"], "<= 20",
                                     pg2["healthz"]["p99_ms"] <= 20),
        "pg2_get_p99_ms": budget(pg2["shieldconex_get"]["p99_ms"], "<= 20",
                                 pg2["shieldconex_get"]["p99_ms"] <= 20),
        "pg2_creates_over_pg1": budget(ratios["pg2_over_pg1"]["mx_create"], ">= 1.0",
                                       ratios["pg2_over_pg1"]["mx_create"] >= 1.0),
        "postgres_cpu_us_per_create": budget(pg1["mx_create"]["postgres_cpu_us_per_req"],
                                             "reported", True),
    }


def main():
    started = time.perf_counter()
    binary = t.build()
    wrk_bin = t.ensure_wrk()
    results = {
        "binary": binary,
        "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=t.ROOT,
                                 capture_output=True, text=True).stdout.strip(),
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": {"cores": os.cpu_count()},
        "seconds_per_run": SECONDS, "rounds": ROUNDS,
        "method": ("Setups interleaved round by round (order rotated each round), each on a "
                   "fresh database with serve --demo, warmed by 1 s of /healthz (not "
                   "recorded). wrk: 2 threads and 32 connections in all; for pg2 two wrk "
                   "processes at once (1 thread, 16 connections each, one per instance), "
                   "rates summed, p50/p99 the worse of the two. Ratios: median "
                   "over rounds of the per-round ratio. CPU per request from /proc (servers; "
                   "the cluster's postmaster and children). wrk, the servers and PostgreSQL "
                   "share the machine's cores."),
        "loadavg_at_start": t.loadavg(),
    }
    runs = {s: {target: [] for target in TARGETS[s]} for s in SETUPS}
    problems = {}
    exits = {}
    handler_ms = {}
    tmp = tempfile.mkdtemp(prefix="clientele-bench-pg.")
    cluster = None

    def on_term(signum, frame):
        raise SystemExit(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    try:
        cluster = Cluster(tmp)
        results["postgres"] = {"version": cluster.version, "settings": cluster.settings,
                               "set": "port, unix socket directory, listen_addresses=127.0.0.1;"
                                      " everything else PostgreSQL's default"}
        t.log(f"PostgreSQL {cluster.version} on 127.0.0.1:{cluster.port} ({cluster.settings})")
        for round_no in range(1, ROUNDS + 1):
            shift = (round_no - 1) % len(SETUPS)
            order = SETUPS[shift:] + SETUPS[:shift]
            for setup in order:
                got = one_setup(wrk_bin, tmp, binary, cluster, setup, round_no)
                for target in runs[setup]:
                    runs[setup][target].append(got[target])
                handler_ms.setdefault(setup, {}).update(got["handler_ms"])
                for name, p in got["log_problems"].items():
                    if p["other_lines"] or set(p["requests_by_status"]) - {"2xx"}:
                        problems[name] = p
                exits.update({f"{setup}r{round_no}-{i}": c
                              for i, c in enumerate(got["exit_codes"])})
                c = got["mx_create"]
                reads = (f"healthz {got['healthz']['rps']}/s, GET "
                         f"{got['shieldconex_get']['rps']}/s (p99 "
                         f"{got['shieldconex_get']['p99_us'] / 1000:.1f} ms), "
                         if "healthz" in got else "")
                t.log(f"round {round_no} {setup}: {reads}creates {c['rps']}/s "
                      f"(p99 {c['p99_us'] / 1000:.1f} ms, rows "
                      f"{c['rows_clients']}/{c['rows_links']}/{c['rows_outbox']} for "
                      f"{c['answers_ok']} answers, match {c['rows_match']}); load "
                      f"{t.loadavg()[0]}")
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    for setup in SETUPS:
        out = results.setdefault(setup, {})
        for target, rs in runs[setup].items():
            out[target] = summarise(rs)
        out["mx_create"]["creates_per_s"] = out["mx_create"]["rps"]
        out["mx_create"]["rows_match"] = all(r["rows_match"] for r in runs[setup]["mx_create"])
        if "healthz" not in runs[setup]:
            continue
        out["shieldconex_get"]["ratio_to_healthz"] = median_ratio(
            (g["rps"], h["rps"]) for g, h in zip(runs[setup]["shieldconex_get"],
                                                   runs[setup]["healthz"]))
        out["shieldconex_get"]["ratio_to_healthz_each_round"] = [
            round(g["rps"] / h["rps"], 3) for g, h in zip(runs[setup]["shieldconex_get"],
                                                          runs[setup]["healthz"])]
        out["mx_create"]["ratio_to_healthz"] = median_ratio(
            (c["rps"], h["rps"]) for c, h in zip(runs[setup]["mx_create"],
                                                   runs[setup]["healthz"]))
    results["ratios"] = {
        f"{a}_over_{b}": {target: median_ratio((x["rps"], y["rps"]) for x, y in
                                               zip(runs[a][target], runs[b][target]))
                          for target in TARGETS[b]}
        for a, b in (("pg1", "sqlite"), ("pg2", "sqlite"), ("pg2", "pg1"),
                     ("pg1", "sqlite_durable"), ("pg2", "sqlite_durable"))}
    for setup in SETUPS:
        # Every request of the setup's runs (warm-up included), from the servers' logs.
        results[setup]["server_handler_ms"] = handler_ms.get(setup, {})
    results["budgets"] = budgets(results)
    results["server_log_problems"] = problems
    results["server_exit_codes_nonzero"] = {k: v for k, v in exits.items() if v != 0}
    results["elapsed_s"] = round(time.perf_counter() - started)
    results["loadavg_at_end"] = t.loadavg()
    os.makedirs(os.path.join(t.ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(t.ROOT, "bench", "results",
                        os.environ.get("CLIENTELE_BENCH_OUT", "postgres.json"))
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(f"{results['date_utc']} UTC, {SECONDS} s x {ROUNDS} rounds, loadavg "
          f"{results['loadavg_at_start']} -> {results['loadavg_at_end']}")
    for setup in SETUPS:
        r = results[setup]
        reads = (f"healthz {r['healthz']['rps']:>6}/s p99 {r['healthz']['p99_ms']:>6} ms | GET "
                 f"{r['shieldconex_get']['rps']:>6}/s p99 {r['shieldconex_get']['p99_ms']:>6} ms "
                 f"({r['shieldconex_get']['ratio_to_healthz']:.0%} of healthz) | "
                 if "healthz" in r else "")
        print(f"{setup:<14} {reads}creates "
              f"{r['mx_create']['rps']:>5}/s p99 {r['mx_create']['p99_ms']:>6} ms rows match "
              f"{r['mx_create']['rows_match']}")
    for key, v in results["ratios"].items():
        print(f"{key}: " + ", ".join(f"{k} x{x}" for k, x in v.items()))
    for name, b in results["budgets"].items():
        print(f"budget {name}: {b['value']} (want {b['want']}): "
              f"{'met' if b['met'] else 'NOT met'}")
    if problems:
        print(f"server logs worth a look: {', '.join(problems)} (in {path})")
    print(f"({results['elapsed_s']} s; figures in {path})")


if __name__ == "__main__":
    main()
