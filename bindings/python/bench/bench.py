"""Python-side throughput, to compare with the Rust benches doing the same work.

1. push: the NDJSON file is read into Python tuples first (not timed), cut into batches
   of 1,000 entries in file order and grouped by stream inside each batch, exactly as the
   Rust push bench does (benches/benches/support: `Batcher`); only the `db.push_streams`
   calls and the final `flush()` are timed. Rust figure:
   `LOGJAR_BENCH_NDJSON=/tmp/d1m.ndjson LOGJAR_BENCH_ENTRIES=1000000 LOGJAR_BENCH_REPORT_ONLY=1
   cargo bench -p logjar-benches --bench push` (line `push/never`).
2. query to DataFrame: every entry back (`limit` = all, forward) and `to_pandas()`.
   Rust figure: the same `Db::query` in the `query_all` bench
   (`LOGJAR_BENCH_NDJSON=/tmp/d1m.ndjson LOGJAR_BENCH_ENTRIES=1000000 cargo bench -p
   logjar-benches --bench query_all`); the CLI cannot do it, as it caps `--limit` at
   5,000 like Loki.

Times are wall and CPU (user+sys of the whole process, background threads included:
`time.process_time()`), since the machine may be shared.

Build the package in release mode first (`maturin develop --release`), then:
    python bench/bench.py /tmp/d1m.ndjson [--entries N] [--batch N] [--keep DIR]
"""

import argparse
import json
import os
import shutil
import tempfile
import time

import logjar

# Imported up front: their import time (~0.5 CPU-s) is not the conversion's.
import pandas  # noqa: F401
import pyarrow  # noqa: F401


def load(path, n, batch):
    """Batches `[[(labels, [(ts, line), ...]), ...], ...]` as the Rust bench makes them."""
    batches = []
    pending = {}
    count = 0
    total = 0
    lo, hi = None, None
    with open(path, "rb") as f:
        for raw in f:
            if total >= n:
                break
            rec = json.loads(raw)
            ts = rec["ts"]
            ts = ts if isinstance(ts, int) else logjar.time_ns(ts)
            lo = ts if lo is None or ts < lo else lo
            hi = ts if hi is None or ts > hi else hi
            key = tuple(sorted(rec["labels"].items()))
            pending.setdefault(key, []).append((ts, rec["line"]))
            count += 1
            total += 1
            if count >= batch:
                batches.append([(dict(k), v) for k, v in pending.items()])
                pending, count = {}, 0
    if pending:
        batches.append([(dict(k), v) for k, v in pending.items()])
    return batches, total, lo, hi


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self):
        return f"{self.wall:.2f} s wall, {self.cpu:.2f} CPU-s"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ndjson")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--keep", help="leave the database in this directory")
    args = ap.parse_args()

    t = time.perf_counter()
    batches, n, lo, hi = load(args.ndjson, args.entries, args.batch)
    print(f"loaded {n} entries into {len(batches)} batches of {args.batch} in {time.perf_counter() - t:.1f} s (not timed)")

    d = args.keep or tempfile.mkdtemp(prefix="logjar-pybench-")
    if args.keep and os.path.exists(d):
        shutil.rmtree(d)
    try:
        with logjar.open(d, sync="never") as db:
            with Clock() as c:
                for b in batches:
                    db.push_streams(b)
                db.flush()
            print(f"push (batches of {args.batch}, sync=never) + flush: {c}; {n / c.wall:,.0f} entries/s, {n / max(c.cpu, 1e-9):,.0f} entries per CPU-s")
            del batches

            with Clock() as c:
                db.push_ndjson(args.ndjson, tenant="nd")
                db.flush()
            print(f"push_ndjson (parsed in Rust) + flush: {c}; {n / max(c.cpu, 1e-9):,.0f} entries per CPU-s")

            q = '{app=~".+"}'
            with Clock() as cq:
                res = db.query(q, start=lo, end=hi + 1, limit=n, direction="forward")
            with Clock() as cf:
                df = res.to_pandas()
            assert len(df) == n, (len(df), n)
            print(f"query {q} of {res.entries()} entries: {cq}; to_pandas {df.shape}: {cf}; total {cq.wall + cf.wall:.2f} s wall, {cq.cpu + cf.cpu:.2f} CPU-s")
            with Clock() as ca:
                tbl = res.to_arrow()
            print(f"to_arrow {tbl.num_rows} rows: {ca}")
            with Clock() as ci:
                rows = sum(len(e) for _, e in res)
            print(f"iterating {rows} (ts, line) tuples: {ci}")
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
