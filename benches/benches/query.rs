//! Query latency of the 12 "common queries" of `shared/LOGQL.md`, end to end through
//! `Db::query` (parse, select, read, evaluate; JSON encoding excluded).
//!
//! Data, in order of preference:
//! - `LOGJAR_BENCH_DB`: an existing database directory (tenant `fake`), e.g. one made by
//!   `logjar --data /tmp/d1m-db ingest /tmp/d1m.ndjson && logjar --data /tmp/d1m-db flush`;
//! - `LOGJAR_BENCH_NDJSON`: an NDJSON file (`shared/tools/gen_logs.py --lines 1000000
//!   --seed 1 --out /tmp/d1m.ndjson`), ingested once into a temporary database;
//! - otherwise 20,000 synthetic entries shaped like `gen_logs.py` output, so the bench
//!   runs in seconds (and in CI compile checks).
//!
//! Every query covers the whole time span of the data; metric queries use the step of
//! issue 4's Targets table (60 s, or 300 s for queries 9 and 11), the step the peers
//! were measured at; log queries the default limit 100 (1000 for query 1).
//!
//! ```sh
//! LOGJAR_BENCH_NDJSON=/tmp/d1m.ndjson cargo bench -p logjar-benches --bench query
//! ```

use std::hint::black_box;
use std::io::BufRead;

use criterion::{criterion_group, criterion_main, Criterion};
use logjar::ingest::{BatchBuilder, LabelCache};
use logjar::query::QueryRequest;
use logjar::{Db, Entry, Labels, Options};

const QUERIES: [&str; 12] = [
    r#"{app="apache"}"#,
    r#"{env="prod"} |= "error""#,
    r#"{env="prod"} |~ "(?i)timeout|refused""#,
    r#"{app="api"} | json | status >= 500"#,
    r#"{app="api"} | json | line_format "{{.msg}}""#,
    r#"sum by (level) (count_over_time({app="api"} | json [1m]))"#,
    r#"sum by (app) (rate({env="prod"}[1m]))"#,
    r#"sum(rate({env="prod"} |= "error" [5m]))"#,
    r#"topk(5, sum by (host) (bytes_over_time({env="prod"}[5m])))"#,
    r#"{app="gateway"} | logfmt | duration > 100ms"#,
    r#"quantile_over_time(0.99, {app="api"} | json | unwrap latency_ms [5m]) by (host)"#,
    r#"(sum(rate({app="forwarder"} |= "Rename" [1m])) - sum(rate({app="processor"} |= "成功" [1m]))) / sum(rate({app="forwarder"} |= "Rename" [1m]))"#,
];

const S: i64 = 1_000_000_000;

/// Step per query (issue 4's Targets table); `None` for log queries.
const STEPS: [Option<i64>; 12] = [
    None,
    None,
    None,
    None,
    None,
    Some(60 * S),
    Some(60 * S),
    Some(60 * S),
    Some(300 * S),
    None,
    Some(300 * S),
    Some(60 * S),
];

struct Data {
    _dir: Option<tempfile::TempDir>,
    db: Db,
    start: i64,
    end: i64,
}

fn open() -> Data {
    if let Ok(path) = std::env::var("LOGJAR_BENCH_DB") {
        let db = Db::open(&path, Options::default()).expect("open LOGJAR_BENCH_DB");
        let (start, end) = span(&db);
        return Data {
            _dir: None,
            db,
            start,
            end,
        };
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut opts = Options::default();
    opts.limits.max_streams_per_tenant = 0;
    let db = Db::open(dir.path(), opts).expect("open");
    match std::env::var("LOGJAR_BENCH_NDJSON") {
        Ok(path) => ingest_ndjson(&db, &path),
        Err(_) => ingest_synthetic(&db, 20_000),
    }
    db.flush().expect("flush");
    let (start, end) = span(&db);
    Data {
        _dir: Some(dir),
        db,
        start,
        end,
    }
}

/// Oldest timestamp and newest + 1 ns, found with a forward and a backward query.
fn span(db: &Db) -> (i64, i64) {
    let first = |dir| {
        let req = QueryRequest::range(r#"{env=~".+"}"#, 0, i64::MAX)
            .with_limit(1)
            .with_direction(dir);
        match db.query("fake", &req).expect("span query").result {
            logjar::query::QueryResult::Streams(s) => s[0].entries[0].0,
            _ => 0,
        }
    };
    (
        first(logjar::Direction::Forward),
        first(logjar::Direction::Backward) + 1,
    )
}

fn ingest_ndjson(db: &Db, path: &str) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    let mut cache = LabelCache::default();
    let mut batch = BatchBuilder::default();
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line.expect("read");
        if line.is_empty() {
            continue;
        }
        let (labels, entry) = cache.parse_ndjson_line(&line).expect("NDJSON entry");
        batch.add(labels, entry);
        if batch.len() >= 50_000 {
            db.push_lenient("fake", &batch.take()).expect("push");
        }
    }
    db.push_lenient("fake", &batch.take()).expect("push");
}

/// Entries shaped like gen_logs.py's apps: JSON api lines, logfmt gateway lines,
/// apache lines, and the forwarder/processor pair of the loss-rate scenario.
fn ingest_synthetic(db: &Db, n: usize) {
    let mut batch = BatchBuilder::default();
    let t0 = 1_767_225_600_000_000_000i64;
    let step = 3_600_000_000_000 / n as i64;
    for i in 0..n as i64 {
        let ts = t0 + i * step;
        let host = format!("node-{}", i % 7);
        let env = if i % 4 == 0 { "staging" } else { "prod" };
        let (app, line) = match i % 6 {
            0 | 1 => {
                let status = if i % 13 == 0 { 503 } else { 200 };
                let level = if status >= 500 { "error" } else { "info" };
                (
                    "api",
                    format!(
                        r#"{{"level":"{level}","msg":"request completed","status":{status},"latency_ms":{}.5,"path":"/api/v1/x"}}"#,
                        i % 300
                    ),
                )
            }
            2 => (
                "gateway",
                format!(
                    "level=info msg=\"request served\" status=200 duration={}ms path=/api/v1/y",
                    i % 250
                ),
            ),
            3 => (
                "apache",
                format!(
                    "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state {i}"
                ),
            ),
            4 => (
                "forwarder",
                format!("Rename trigger hard link /data/f{i}.csv"),
            ),
            _ => ("processor", format!("处理文件 /data/f{}.csv 成功", i - 1)),
        };
        let labels =
            Labels::new([("app", app), ("env", env), ("host", host.as_str())]).expect("labels");
        batch.add(labels, Entry::new(ts, line));
    }
    db.push_lenient("fake", &batch.take()).expect("push");
}

fn bench(c: &mut Criterion) {
    let data = open();
    let mut g = c.benchmark_group("query");
    g.sample_size(10);
    for (i, q) in QUERIES.iter().enumerate() {
        let limit = if i == 0 { 1000 } else { 100 };
        let mut req = QueryRequest::range(*q, data.start, data.end).with_limit(limit);
        if let Some(step) = STEPS[i] {
            req = req.with_step(step);
        }
        // Fail loudly, before timing, if a query does not run.
        data.db
            .query("fake", &req)
            .unwrap_or_else(|e| panic!("query {}: {e}", i + 1));
        g.bench_function(format!("q{:02}", i + 1), |b| {
            b.iter(|| black_box(data.db.query("fake", &req).expect("query")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
