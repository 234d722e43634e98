#!/usr/bin/env python3
"""Two builds side by side in one run: which change moved which figure.

    python3 bench/ab.py OLD_BINARY NEW_BINARY [SECONDS] [ROUNDS]

Starts `serve --demo` from each binary (temporary databases, loopback only) and runs, ROUNDS
times interleaved (old, new, old, new, ...): GET /healthz, the authenticated ShieldConex GET
by id, and MX creates on a fresh database with and without --durable. Prints and writes
(bench/results/ab.json) the medians of each build and new/old ratios. Every wrk run is bounded
in time (SECONDS, default 5); ROUNDS defaults to 3.
"""
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput as t  # noqa: E402


def main():
    old, new = sys.argv[1], sys.argv[2]
    t.SECONDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    wrk_bin = t.ensure_wrk()
    mx = ["Accept: application/vnd.mx.provisioning.v1+json", "Authorization: " + t.MX_AUTH,
          "Content-Type: application/json"]
    runs = {}
    out = {"binaries": {"old": old, "new": new}, "seconds": t.SECONDS, "rounds": rounds,
           "loadavg_at_start": t.loadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        servers = {}
        try:
            for name, binary in (("old", old), ("new", new)):
                servers[name] = t.Server(binary, tmp, os.path.join(tmp, f"{name}.db"))
            for r in range(rounds):
                for name, binary in (("old", old), ("new", new)):
                    s = servers[name]
                    for label, path, headers in (
                            ("healthz", "/healthz", []),
                            ("shieldconex_get", "/shieldconex/api/v1/clients/744",
                             ["Authorization: " + t.SC_AUTH])):
                        runs.setdefault((name, label), []).append(
                            t.wrk(wrk_bin, tmp, s, path, headers))
                    for label, extra in (("creates", []), ("creates_durable", ["--durable"])):
                        fresh = t.Server(binary, tmp, os.path.join(tmp, f"{name}-{label}-{r}.db"),
                                         extra)
                        try:
                            runs.setdefault((name, label), []).append(t.wrk(
                                wrk_bin, tmp, fresh, "/mx/clients", mx,
                                script=f'TAG = "{name}{r}{label}"\n' + t.MX_CREATE_LUA))
                        finally:
                            fresh.stop()
                    t.log(f"round {r + 1} {name}: " + ", ".join(
                        f"{label} {v[-1]['rps']}/s p99 {v[-1]['p99_us'] / 1000:.1f} ms"
                        for (n, label), v in runs.items() if n == name))
        finally:
            for s in servers.values():
                s.stop()
    for (name, label), v in runs.items():
        out.setdefault(name, {})[label] = t.median_of(v)
    for label in out["old"]:
        o, n = out["old"][label], out["new"][label]
        out.setdefault("new_over_old", {})[label] = {
            "rps": round(n["rps"] / max(o["rps"], 1), 2),
            "p99": round(n["p99_ms"] / max(o["p99_ms"], 0.001), 2)}
        print(f"{label:<16} old {o['rps']:>6}/s p99 {o['p99_ms']:>7.2f} ms   new {n['rps']:>6}/s "
              f"p99 {n['p99_ms']:>7.2f} ms   new/old x{out['new_over_old'][label]['rps']}")
    out["loadavg_at_end"] = t.loadavg()
    print(f"loadavg {out['loadavg_at_start']} -> {out['loadavg_at_end']}")
    path = os.path.join(t.ROOT, "bench", "results", os.environ.get("CLIENTELE_AB_OUT", "ab.json"))
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
