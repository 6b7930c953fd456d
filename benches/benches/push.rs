//! Push throughput per sync mode (entries/s and MB/s of line bytes), plus a one-shot
//! report of entries per CPU-second (all threads, background flushes included) and
//! the on-disk size relative to the raw line bytes.
//!
//! Small synthetic data by default. Realistic size:
//! `LOGJAR_BENCH_NDJSON=/tmp/d1m.ndjson LOGJAR_BENCH_ENTRIES=1000000 cargo bench -p logjar-benches --bench push`.
//! `LOGJAR_BENCH_REPORT_ONLY=1` prints the one-shot figures and skips the criterion loops.
//! Peak memory of a streaming ingest (parse and push line by line, nothing preloaded):
//! `LOGJAR_BENCH_STREAM=/tmp/d1m.ndjson cargo bench -p logjar-benches --bench push`.

mod support;

use std::io::BufRead;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use logjar::options::SyncMode;
use logjar::{Db, Options};

/// Options of a sync mode; `LOGJAR_BENCH_ZSTD` overrides the zstd level and
/// `LOGJAR_BENCH_HEAD_MB` the head memory budget, to compare trade-offs.
fn options(mode: SyncMode) -> Options {
    let mut o = Options::default().sync(mode);
    if let Some(level) = std::env::var("LOGJAR_BENCH_ZSTD")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        o.zstd_level = level;
    }
    if let Some(mb) = std::env::var("LOGJAR_BENCH_HEAD_MB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        o.max_head_bytes = mb << 20;
    }
    o
}

const MODES: [(&str, SyncMode); 3] = [
    ("always", SyncMode::Always),
    ("interval", SyncMode::Interval),
    ("never", SyncMode::Never),
];

fn push(c: &mut Criterion) {
    let data = support::load(20_000);
    eprintln!(
        "push: {} entries in {} batches, {:.1} MB of lines",
        data.entries,
        data.batches.len(),
        data.raw_bytes as f64 / 1e6
    );
    // One-shot figures first: CPU time per entry and bytes on disk.
    // `LOGJAR_BENCH_MODES=interval,never` limits them to some sync modes (for profiling).
    let wanted = std::env::var("LOGJAR_BENCH_MODES").ok();
    for (name, mode) in MODES {
        if wanted
            .as_deref()
            .is_some_and(|w| !w.split(',').any(|m| m == name))
        {
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), options(mode)).expect("open");
        let (cpu0, t0) = (support::cpu_seconds(), Instant::now());
        for b in &data.batches {
            db.push("fake", b).expect("push");
        }
        db.flush().expect("flush");
        let (cpu, wall) = (support::cpu_seconds() - cpu0, t0.elapsed().as_secs_f64());
        db.close().expect("close");
        let disk = support::dir_bytes(dir.path());
        eprintln!(
            "push/{name}: {:.0} entries/s, {:.1} MB/s wall; {:.0} entries per CPU-second ({cpu:.2} CPU-s); on disk {:.2}% of raw line bytes",
            data.entries as f64 / wall,
            data.raw_bytes as f64 / wall / 1e6,
            data.entries as f64 / cpu.max(0.01),
            100.0 * disk as f64 / data.raw_bytes as f64,
        );
    }
    // Group commit: four threads pushing with `always` share fsyncs.
    if wanted
        .as_deref()
        .is_none_or(|w| w.split(',').any(|m| m == "always"))
    {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(dir.path(), options(SyncMode::Always)).expect("open");
        let t0 = Instant::now();
        std::thread::scope(|s| {
            for k in 0..4 {
                let (db, data) = (&db, &data);
                s.spawn(move || {
                    for b in data.batches.iter().skip(k).step_by(4) {
                        db.push("fake", b).expect("push");
                    }
                });
            }
        });
        let wall = t0.elapsed().as_secs_f64();
        let m = db.metrics();
        eprintln!(
            "push/always, 4 threads: {:.0} entries/s wall; {} batches, {} WAL fsyncs",
            data.entries as f64 / wall,
            data.batches.len(),
            m.wal_syncs
        );
        db.close().expect("close");
    }
    if std::env::var_os("LOGJAR_BENCH_REPORT_ONLY").is_some() {
        return;
    }
    let mut g = c.benchmark_group("push");
    g.throughput(Throughput::Elements(data.entries));
    g.sample_size(10);
    for (name, mode) in MODES {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().expect("tempdir");
                    let db = Db::open(dir.path(), options(mode)).expect("open");
                    let t = Instant::now();
                    for batch in &data.batches {
                        db.push("fake", batch).expect("push");
                    }
                    db.flush().expect("flush");
                    total += t.elapsed();
                    db.close().expect("close");
                }
                total
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("push_bytes");
    g.throughput(Throughput::Bytes(data.raw_bytes));
    g.sample_size(10);
    g.bench_function("interval", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let db = Db::open(dir.path(), options(SyncMode::Interval)).expect("open");
                let t = Instant::now();
                for batch in &data.batches {
                    db.push("fake", batch).expect("push");
                }
                total += t.elapsed();
                db.close().expect("close");
            }
            total
        })
    });
    g.finish();
}

/// Parses and pushes an NDJSON file line by line and reports peak RSS.
fn stream_ingest(path: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), options(SyncMode::Interval)).expect("open");
    let f = std::fs::File::open(path).expect("LOGJAR_BENCH_STREAM");
    let mut batcher = support::Batcher::default();
    let (mut n, mut raw) = (0u64, 0u64);
    let t0 = Instant::now();
    let rss_before = support::peak_rss();
    for line in std::io::BufReader::new(f).lines() {
        let (labels, e) = support::parse_row(&line.expect("read"));
        n += 1;
        raw += e.line.len() as u64;
        if let Some(batch) = batcher.add(labels, e) {
            db.push("fake", &batch).expect("push");
        }
        if n % 250_000 == 0 {
            eprintln!(
                "{n} entries, peak RSS {:.1} MiB",
                support::peak_rss() as f64 / 1048576.0
            );
        }
    }
    db.push("fake", &batcher.take()).expect("push");
    db.flush().expect("flush");
    let wall = t0.elapsed().as_secs_f64();
    let stats = db.stats();
    db.close().expect("close");
    eprintln!(
        "stream ingest: {n} entries in {wall:.2} s ({:.0} entries/s incl. JSON parsing); peak RSS {:.1} MiB (before ingest {:.1} MiB); on disk {:.1}% of {:.1} MB raw; {} segments",
        n as f64 / wall,
        support::peak_rss() as f64 / 1048576.0,
        rss_before as f64 / 1048576.0,
        100.0 * support::dir_bytes(dir.path()) as f64 / raw as f64,
        raw as f64 / 1e6,
        stats.tenants.iter().map(|t| t.segments).sum::<u64>(),
    );
}

criterion_group!(benches, push);

fn main() {
    if let Ok(path) = std::env::var("LOGJAR_BENCH_STREAM") {
        stream_ingest(&path);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
