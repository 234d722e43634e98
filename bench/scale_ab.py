#!/usr/bin/env python3
"""The scale phase of throughput.py for two builds, one after the other at each size.

    python3 bench/scale_ab.py OLD_BINARY NEW_BINARY [COUNTS]

COUNTS is a comma-separated list of records per flavour (default 1000,100000). At each size
both builds get their own database, seeded the same way (throughput.py's SEED_SQL), and the
same wrk runs (get by id, first list page, pages of one, a page in the middle of the list,
MX creates), each bounded in time. Writes bench/results/scale-ab.json (or
CLIENTELE_BENCH_OUT) with each build's figures, its growth from the smallest size, and the
load average before every run. Loopback only.
"""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput as t  # noqa: E402


def main():
    old, new = sys.argv[1], sys.argv[2]
    counts = [int(c) for c in (sys.argv[3] if len(sys.argv) > 3 else "1000,100000").split(",")]
    wrk_bin = t.ensure_wrk()
    out = {"binaries": {"old": old, "new": new}, "counts": counts,
           "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
           "loadavg_at_start": t.loadavg(), "old": {}, "new": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for count in counts:
            for name, binary in (("old", old), ("new", new)):
                t.log(f"{name}, {count} records per flavour:")
                sub = os.path.join(tmp, name)
                os.makedirs(sub, exist_ok=True)
                out[name].update(t.scale_phase(wrk_bin, sub, binary, [count]))
    for name in ("old", "new"):
        small = out[name][str(counts[0])]
        for count in counts[1:]:
            large = out[name][str(count)]
            out[name][f"growth_{counts[0]}_to_{count}"] = {
                target: round(large[target]["p50_ms"] / max(small[target]["p50_ms"], 0.001), 2)
                for target in t.SCALE_TARGETS}
    out["loadavg_at_end"] = t.loadavg()
    path = os.path.join(t.ROOT, "bench", "results",
                        os.environ.get("CLIENTELE_BENCH_OUT", "scale-ab.json"))
    with open(path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(f"{out['date_utc']} UTC, loadavg {out['loadavg_at_start']} -> {out['loadavg_at_end']}")
    for count in counts:
        for target in t.SCALE_TARGETS:
            o, n = out["old"][str(count)][target], out["new"][str(count)][target]
            print(f"{count:>8} {target:<22} p50 old {o['p50_ms']:>8.2f} ms  new "
                  f"{n['p50_ms']:>8.2f} ms   req/s old {o['rps']:>7} new {n['rps']:>7}")
    for count in counts[1:]:
        key = f"growth_{counts[0]}_to_{count}"
        for target in t.SCALE_TARGETS:
            print(f"{key} {target:<22} p50 x{out['old'][key][target]} (old) "
                  f"x{out['new'][key][target]} (new)")


if __name__ == "__main__":
    main()
