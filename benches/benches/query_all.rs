//! One log query returning every entry of the data set (`limit` = all, forward): the
//! Rust side of the Python bindings' query-to-DataFrame figure
//! (`bindings/python/bench/bench.py`; docs/PERFORMANCE.md, section Python). The CLI
//! cannot do this work: like Loki it caps `--limit` at 5,000.
//!
//! Prints wall and CPU time (user + system, all threads) of three runs; no criterion
//! loop. Data as in the push bench (`support::load`):
//! `LOGJAR_BENCH_NDJSON=/tmp/d1m.ndjson LOGJAR_BENCH_ENTRIES=1000000 cargo bench -p logjar-benches --bench query_all`.

mod support;

use std::time::Instant;

use logjar::options::SyncMode;
use logjar::query::{QueryRequest, QueryResult};
use logjar::{Db, Direction, Options};

fn main() {
    let data = support::load(20_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default().sync(SyncMode::Never)).expect("open");
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for b in &data.batches {
        for s in b {
            for e in &s.entries {
                lo = lo.min(e.ts);
                hi = hi.max(e.ts);
            }
        }
        db.push("fake", b).expect("push");
    }
    db.flush().expect("flush");
    let n = u32::try_from(data.entries).expect("entries fit in u32");
    // Any label every stream has selects everything; gen_logs.py and the synthetic
    // data both label every stream with `app`.
    let mut req = QueryRequest::range(r#"{app=~".+"}"#, lo, hi + 1)
        .with_limit(n)
        .with_direction(Direction::Forward);
    req.limits.max_entries_limit = n;
    for run in 1..=3 {
        let (cpu0, t0) = (support::cpu_seconds(), Instant::now());
        let resp = db.query("fake", &req).expect("query");
        let (cpu, wall) = (support::cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        let QueryResult::Streams(streams) = &resp.result else {
            panic!("a log query answers streams");
        };
        let got: usize = streams.iter().map(|s| s.entries.len()).sum();
        assert_eq!(got as u64, data.entries, "every entry comes back");
        eprintln!(
            "query_all run {run}: {got} entries in {} streams, {wall:.2} s wall, {cpu:.2} CPU-s",
            streams.len()
        );
    }
}
