//! The Rust side of the Go benchmark `BenchmarkPush1000` (bindings/go/bench_test.go):
//! parse a 1,000-entry Loki push body and push it, with sync "never", the same bodies in
//! the same order. Plain timing loop: `cargo bench -p logjar-c --bench push_compare`.

use std::fmt::Write;
use std::time::Instant;

use logjar::options::SyncMode;
use logjar::{Db, Options};

fn push_body(base: usize) -> String {
    let mut b = String::from(r#"{"streams":["#);
    for s in 0..10 {
        if s > 0 {
            b.push(',');
        }
        let _ = write!(
            b,
            r#"{{"stream":{{"app":"api","host":"node-{s}"}},"values":["#
        );
        for i in 0..100 {
            if i > 0 {
                b.push(',');
            }
            let _ = write!(
                b,
                r#"["{}","GET /api/v1/items/{i} 200 {}ms"]"#,
                base + i,
                i % 50
            );
        }
        b.push_str("]}");
    }
    b.push_str("]}");
    b
}

fn main() {
    let n: usize = std::env::var("LOGJAR_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default().sync(SyncMode::Never)).expect("open");
    let bodies: Vec<String> = (0..n).map(|i| push_body(1_000_000 + i * 1000)).collect();
    let t = Instant::now();
    for body in &bodies {
        let streams = logjar::ingest::parse_loki_push(body.as_bytes()).expect("parse");
        db.push("fake", &streams).expect("push");
    }
    let per = t.elapsed() / n as u32;
    println!("push_compare: {n} pushes of 1,000 entries, {per:?} per push (Rust, no FFI)");
}
