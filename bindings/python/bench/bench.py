"""Python-side throughput: push 1M entries from Python in batches, then query them all
back into a pandas DataFrame. Compare with the Rust push bench (benches/benches/push.rs,
`LOGJAR_BENCH_NDJSON=/tmp/d1m.ndjson LOGJAR_BENCH_ENTRIES=1000000 LOGJAR_BENCH_REPORT_ONLY=1`).

Build the package in release mode first (`maturin develop --release`), then:
    python bench/bench.py [/tmp/d1m.ndjson] [entries]
Without the file, synthetic entries are generated.
"""

import json
import sys
import tempfile
import time

import logjar

BATCH = 20_000


def load(path, n):
    streams = {}
    with open(path, "rb") as f:
        for i, raw in enumerate(f):
            if i >= n:
                break
            rec = json.loads(raw)
            key = tuple(sorted(rec["labels"].items()))
            ts = rec["ts"]
            ts = int(ts) if isinstance(ts, int) or ts.isdigit() else logjar.time_ns(ts)
            streams.setdefault(key, []).append((ts, rec["line"]))
    return streams


def synthetic(n):
    t0 = 1_767_225_600 * 10**9
    return {(("app", f"app{k}"),): [(t0 + i * 1000, f"GET /api/{i} 200 {i * 7}") for i in range(k, n, 10)] for k in range(10)}


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else None
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    data = load(path, n) if path else synthetic(n)
    entries = sum(len(v) for v in data.values())
    lo = min(e[0] for v in data.values() for e in v[:1] + v[-1:])
    hi = max(e[0] for v in data.values() for e in v[:1] + v[-1:]) + 1
    with tempfile.TemporaryDirectory() as d:
        with logjar.open(d, sync="never") as db:
            t = time.perf_counter()
            for key, es in data.items():
                labels = dict(key)
                for i in range(0, len(es), BATCH):
                    db.push(labels, es[i : i + BATCH])
            db.flush()
            push_s = time.perf_counter() - t
            print(f"push: {entries} entries in {push_s:.2f} s = {entries / push_s:,.0f} entries/s")
            if path:
                t = time.perf_counter()
                db.push_ndjson(path, tenant="nd")
                s = time.perf_counter() - t
                print(f"push_ndjson (file parsed in Rust): {s:.2f} s = {n / s:,.0f} entries/s")
            t = time.perf_counter()
            res = db.query(_selector(data), start=lo, end=hi, limit=entries, direction="forward")
            q_s = time.perf_counter() - t
            t = time.perf_counter()
            df = res.to_pandas()
            df_s = time.perf_counter() - t
            print(f"query: {res.entries()} entries in {q_s:.2f} s; to_pandas {df.shape} in {df_s:.2f} s; total {q_s + df_s:.2f} s")


def _selector(data):
    name = next(iter(data))[0][0]
    return '{%s=~".+"}' % name


if __name__ == "__main__":
    main()
