#!/usr/bin/env python3
"""Server CPU time per request for two builds, interleaved: a cost that a busy machine
disturbs far less than requests per second.

    python3 bench/cpu_ab.py OLD_BINARY NEW_BINARY [SECONDS] [ROUNDS]

Starts `serve --demo` from each binary (temporary databases, loopback only) and, ROUNDS
times (old, new, old, new, ...), drives GET /healthz, the authenticated ShieldConex and
MakeLeaps GET by id with wrk (32 connections, SECONDS each, default 4; ROUNDS default 3).
For each run it reads the server's user + system CPU time from /proc/PID/stat before and
after: microseconds of server CPU per request. wrk's own CPU is not counted. Writes
bench/results/cpu-ab.json (or CLIENTELE_BENCH_OUT) with the medians, each build's GET/healthz
cost ratio, and the load average before every run.
"""
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput as t  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def main():
    old, new = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    wrk_bin = t.ensure_wrk()
    out = {"binaries": {"old": old, "new": new}, "seconds": seconds, "rounds": rounds,
           "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
           "loadavg_at_start": t.loadavg(), "runs": []}
    per = {}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for name, binary in (("old", old), ("new", new)):
                servers[name] = t.Server(binary, tmp, os.path.join(tmp, f"{name}.db"))
            bearer = {name: t.makeleaps_token(s.url) for name, s in servers.items()}
            for r in range(rounds):
                for name in ("old", "new"):
                    s = servers[name]
                    for label, path, headers in (
                            ("healthz", "/healthz", []),
                            ("shieldconex_get", "/shieldconex/api/v1/clients/744",
                             ["Authorization: " + t.SC_AUTH]),
                            ("makeleaps_get", f"/makeleaps/api/partner/{t.ML_PARTNER}/client/"
                                              f"{t.ML_CLIENT}/",
                             ["Authorization: " + bearer[name]])):
                        before = cpu_seconds(s.proc.pid)
                        w = t.wrk(wrk_bin, tmp, s, path, headers, seconds=seconds)
                        used = cpu_seconds(s.proc.pid) - before
                        us = round(used * 1e6 / max(w["requests"], 1), 1)
                        per.setdefault((name, label), []).append(us)
                        out["runs"].append({"build": name, "round": r + 1, "target": label,
                                            "requests": w["requests"], "rps": w["rps"],
                                            "cpu_us_per_request": us,
                                            "loadavg_before": w["loadavg_before"]})
                    t.log(f"round {r + 1} {name}: " + ", ".join(
                        f"{label} {v[-1]} us" for (n, label), v in per.items() if n == name))
        finally:
            for s in servers.values():
                s.stop()
    medians = {}
    for (name, label), values in per.items():
        medians.setdefault(name, {})[label] = statistics.median(values)
    out["cpu_us_per_request_median"] = medians
    for name in ("old", "new"):
        m = medians[name]
        for label in ("shieldconex_get", "makeleaps_get"):
            m[f"{label}_over_healthz"] = round(m[label] / m["healthz"], 2)
    out["loadavg_at_end"] = t.loadavg()
    path = os.path.join(t.ROOT, "bench", "results",
                        os.environ.get("CLIENTELE_BENCH_OUT", "cpu-ab.json"))
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    for label in ("healthz", "shieldconex_get", "makeleaps_get"):
        o, n = medians["old"][label], medians["new"][label]
        print(f"{label:<16} server CPU per request: old {o:>6.1f} us  new {n:>6.1f} us  "
              f"new/old x{n / o:.2f}")
    for name in ("old", "new"):
        m = medians[name]
        print(f"{name}: GET costs x{m['shieldconex_get_over_healthz']} (ShieldConex), "
              f"x{m['makeleaps_get_over_healthz']} (MakeLeaps) the CPU of /healthz")
    print(f"loadavg {out['loadavg_at_start']} -> {out['loadavg_at_end']}")


if __name__ == "__main__":
    main()
