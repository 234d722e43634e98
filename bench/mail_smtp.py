#!/usr/bin/env python3
"""Mail over SMTP at the pace of a test suite (bench/README.md, "Mail over SMTP").

Builds `--release` (or takes CLIENTELE_BENCH_BINARY), starts an SMTP sink of its own on
127.0.0.1 (a thread per connection, no TLS, no login; it answers RSET and NOOP), and times
N MX invitations, each round on fresh servers and databases, the medians kept:

  1. pace: from the first `POST /mx/clients` (one after another, as a test suite makes
     them) until the last mail has arrived, through `--mail smtp://127.0.0.1:PORT?tls=none`
     into the sink, and into `--mail mbox:`, the baseline, in the same round: their ratio;
  2. backlog: the sink lets connections wait in its listen queue (no greeting) until all N
     are created, and then the time from its first greeting to the last mail: how fast the
     sender works off mail that queued up;
  3. the same backlog to a slow relay, one that takes SLOW_RELAY_MS to answer each mail's
     end of data (as a relay that writes the mail to its disk queue first does): what
     sending on several connections at once is for.

Writes bench/results/mail-smtp.json (CLIENTELE_BENCH_OUT names another file there).

Usage: python3 bench/mail_smtp.py [N] [ROUNDS]   (default 400 mails, 3 rounds; ~30 s)
Only loopback; every loop is bounded in count and every wait in time.
"""
import http.client
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 400
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
# The demo processor's credentials (docs/mx.md) and MX's media type.
MX_AUTH = "Basic UFJPQ0VTU09SLTEyMzQ6QVBJLUtFWS00NTY3"
MX_ACCEPT = "application/vnd.mx.provisioning.v1+json"
# The longest a round may take before it counts as lost mail.
DEADLINE_S = 120
# How long the slow relay of phase 3 takes to accept a mail.
SLOW_RELAY_MS = 5


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build():
    """The release binary; CLIENTELE_BENCH_BINARY names one built already (e.g. a baseline
    kept from an earlier commit) instead."""
    if os.environ.get("CLIENTELE_BENCH_BINARY"):
        return os.environ["CLIENTELE_BENCH_BINARY"]
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "clientele"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "release", "clientele")


class Sink:
    """An SMTP server that keeps the Message-ID of each mail it accepted, and counts the
    connections, how many were open at once, the RSETs and the QUITs."""

    def __init__(self, answering=True, accept_delay_ms=0):
        """Listens at once; until `answer()`, connections wait in the listen queue,
        unanswered. Each mail is accepted (250) `accept_delay_ms` after its end of data."""
        self.accept_delay = accept_delay_ms / 1000
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.message_ids = []
        self.last_arrival = None
        self.connections = self.open = self.most_open = self.rsets = self.quits = 0
        if answering:
            self.answer()

    def answer(self):
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def close(self):
        # shutdown() wakes the accept loop (close() alone would leave it blocked).
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()

    def accept_loop(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
                self.open += 1
                self.most_open = max(self.most_open, self.open)
            threading.Thread(target=self.session, args=(conn,), daemon=True).start()

    def session(self, conn):
        try:
            with conn, conn.makefile("rb") as lines:
                self.converse(conn, lines)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1

    def converse(self, conn, lines):
        conn.sendall(b"220 sink.bench ESMTP\r\n")
        for line in lines:
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-sink.bench\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                self.receive(lines)
                time.sleep(self.accept_delay)
                conn.sendall(b"250 queued\r\n")
            elif verb == b"QUIT":
                with self.lock:
                    self.quits += 1
                conn.sendall(b"221 bye\r\n")
                return
            elif verb in (b"MAIL", b"RCPT", b"NOOP", b"RSET"):
                if verb == b"RSET":
                    with self.lock:
                        self.rsets += 1
                conn.sendall(b"250 OK\r\n")
            else:
                conn.sendall(b"502 not implemented\r\n")

    def receive(self, lines):
        message_id = None
        for line in lines:
            if line == b".\r\n":
                break
            if message_id is None and line[:11].lower() == b"message-id:":
                message_id = line[11:].strip().decode()
        with self.lock:
            self.message_ids.append(message_id)
            self.last_arrival = time.perf_counter()

    def counts(self):
        with self.lock:
            return {"connections": self.connections, "most_open_at_once": self.most_open,
                    "rsets": self.rsets, "quits": self.quits}


class Server:
    """One `clientele serve --demo` on a free port with the given --mail, stopped with
    SIGTERM."""

    def __init__(self, binary, tmp, name, mail):
        self.db = os.path.join(tmp, name + ".db")
        self.log_file = open(os.path.join(tmp, name + ".log"), "wb")
        argv = [binary, "serve", "--demo", "--listen", "127.0.0.1:0", "--db", self.db,
                "--mail", mail]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log_file)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on "):
            self.stop()
            raise SystemExit(f"no readiness line: {line!r}; see {self.log_file.name}")
        self.address = line.removeprefix("listening on ").strip().removeprefix("http://")

    def invite(self, count, tag):
        """`count` MX creates, one after another on one keep-alive connection."""
        host, port = self.address.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        headers = {"Accept": MX_ACCEPT, "Authorization": MX_AUTH,
                   "Content-Type": "application/json"}
        for i in range(count):
            body = json.dumps({"client": {"company_name": "Bench", "email":
                                          f"bench-{tag}-{i}@example.com",
                                          "first_name": "A", "last_name": "B"}})
            conn.request("POST", "/mx/clients", body, headers)
            reply = conn.getresponse()
            reply.read()
            if reply.status != 200:
                raise SystemExit(f"POST /mx/clients: {reply.status}")
        conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def wait_until(done):
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"the mails did not all arrive within {DEADLINE_S} s")
        time.sleep(0.002)


def mbox_entries(path):
    """The mails appended so far: each starts with a `From ` line (a body's own are quoted
    as `>From `)."""
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.startswith(b"From "))
    except FileNotFoundError:
        return 0


def figures(started, created, arrived):
    elapsed = arrived - started
    return {"seconds": round(elapsed, 3), "mails_per_s": round(N / elapsed, 1),
            "creates_seconds": round(created - started, 3)}


def smtp_round(binary, tmp, r):
    sink = Sink()
    server = Server(binary, tmp, f"smtp-{r}", f"smtp://127.0.0.1:{sink.port}?tls=none")
    try:
        started = time.perf_counter()
        server.invite(N, f"smtp{r}")
        created = time.perf_counter()
        wait_until(lambda: len(sink.message_ids) >= N)
        result = figures(started, created, sink.last_arrival)
        if len(set(sink.message_ids)) != N or None in sink.message_ids:
            raise SystemExit(f"the sink got {len(sink.message_ids)} mails, "
                             f"{len(set(sink.message_ids))} distinct Message-IDs, not {N}")
    finally:
        server.stop()
        sink.close()
    # Counted after the stop: the server closes its connections (QUIT) on the way out.
    return {**result, **sink.counts()}


def backlog_round(binary, tmp, r, accept_delay_ms=0):
    sink = Sink(answering=False, accept_delay_ms=accept_delay_ms)
    name = f"backlog-{accept_delay_ms}ms-{r}"
    server = Server(binary, tmp, name, f"smtp://127.0.0.1:{sink.port}?tls=none")
    try:
        server.invite(N, name)
        if sink.message_ids:
            raise SystemExit("a mail arrived before the sink answered")
        started = time.perf_counter()
        sink.answer()
        wait_until(lambda: len(sink.message_ids) >= N)
        elapsed = sink.last_arrival - started
        if len(set(sink.message_ids)) != N:
            raise SystemExit(f"the sink got {len(set(sink.message_ids))} distinct mails")
    finally:
        server.stop()
        sink.close()
    return {"seconds": round(elapsed, 3), "mails_per_s": round(N / elapsed, 1),
            **sink.counts()}


def mbox_round(binary, tmp, r):
    mbox = os.path.join(tmp, f"mbox-{r}.mbox")
    server = Server(binary, tmp, f"mbox-{r}", "mbox:" + mbox)
    try:
        started = time.perf_counter()
        server.invite(N, f"mbox{r}")
        created = time.perf_counter()
        wait_until(lambda: mbox_entries(mbox) >= N)
        return figures(started, created, time.perf_counter())
    finally:
        server.stop()


def median(runs, key):
    return statistics.median(run[key] for run in runs)


def main():
    binary = build()
    smtp_runs, mbox_runs, backlog_runs, slow_runs = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            mbox_runs.append(mbox_round(binary, tmp, r))
            smtp_runs.append(smtp_round(binary, tmp, r))
            backlog_runs.append(backlog_round(binary, tmp, r))
            slow_runs.append(backlog_round(binary, tmp, r, SLOW_RELAY_MS))
            log(f"round {r + 1}/{ROUNDS}: smtp {smtp_runs[-1]['mails_per_s']} mails/s "
                f"over {smtp_runs[-1]['connections']} connection(s), "
                f"mbox {mbox_runs[-1]['mails_per_s']} mails/s; backlog "
                f"{backlog_runs[-1]['mails_per_s']} mails/s, to the slow relay "
                f"{slow_runs[-1]['mails_per_s']} mails/s over "
                f"{slow_runs[-1]['most_open_at_once']} connection(s) at once")
    smtp_rate, mbox_rate = median(smtp_runs, "mails_per_s"), median(mbox_runs, "mails_per_s")
    results = {
        "mails": N,
        "rounds": ROUNDS,
        "binary": binary,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "smtp": {"median_mails_per_s": smtp_rate,
                 "median_seconds": median(smtp_runs, "seconds"), "runs": smtp_runs},
        "mbox_baseline": {"median_mails_per_s": mbox_rate,
                          "median_seconds": median(mbox_runs, "seconds"), "runs": mbox_runs},
        "smtp_to_mbox_ratio": round(smtp_rate / mbox_rate, 2),
        "smtp_backlog": {"median_mails_per_s": median(backlog_runs, "mails_per_s"),
                         "median_seconds": median(backlog_runs, "seconds"),
                         "runs": backlog_runs},
        "smtp_backlog_slow_relay": {"accept_delay_ms": SLOW_RELAY_MS,
                                    "median_mails_per_s": median(slow_runs, "mails_per_s"),
                                    "median_seconds": median(slow_runs, "seconds"),
                                    "runs": slow_runs},
        "budget": {"smtp_mails_per_s": 200},
    }
    out_dir = os.path.join(ROOT, "bench", "results")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, os.environ.get("CLIENTELE_BENCH_OUT", "mail-smtp.json"))
    with open(out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
