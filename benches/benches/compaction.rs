//! Compaction: throughput and the 1,000-small-ingests scenario (issue 5's targets).
//!
//! - `compaction/reencode`: many small flushed segments (small blocks) merged into one,
//!   every block decoded and re-encoded. Throughput in raw line bytes.
//! - `compaction/copy`: segments of full 256 KiB blocks merged: blocks are copied
//!   without decompression.
//! - `compaction/query_*`: a whole-range metric query and a whole-range filtered
//!   query on a database of `LOGJAR_BENCH_SMALL_INGESTS` (default 1,000) pushes of
//!   1,000 entries, each flushed, then compacted — against the same entries ingested
//!   in one go. The file counts before and after compaction are printed.
//!
//! Besides criterion's wall-clock figures, each scenario prints the CPU time of the
//! compacting thread (from `/proc/thread-self/stat`, Linux), which is what to quote on
//! a loaded machine. The `query_*` scenario also prints both databases' block layout
//! and compares the queries' process CPU time (query worker threads included) over
//! `LOGJAR_BENCH_CPU_ROUNDS` (default 20) alternating rounds (10 count queries or one
//! filter query each, so that a round is well above the 10 ms clock tick): on a
//! shared machine criterion's wall-clock medians of the two databases, taken one after
//! the other, can differ by ±20 % between runs.
//!
//! ```sh
//! cargo bench -p logjar-benches --bench compaction
//! ```

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use logjar::entry::StreamEntries;
use logjar::options::SyncMode;
use logjar::query::QueryRequest;
use logjar::segment::Segment;
use logjar::{Db, Entry, Labels, Options};

const APPS: [&str; 4] = ["api", "gateway", "db", "worker"];

fn opts() -> Options {
    let mut o = Options::default()
        .sync(SyncMode::Never)
        .compaction_interval(Duration::ZERO)
        .out_of_order_window(Duration::from_secs(1 << 30));
    o.limits.max_streams_per_tenant = 0;
    o
}

/// Lines shaped like the gen_logs.py samples, varied by `i`.
fn line(i: u64, samples: &[Vec<u8>]) -> String {
    let s = String::from_utf8_lossy(&samples[(i % samples.len() as u64) as usize]).into_owned();
    format!("{s} seq={i} user=u{}", i.wrapping_mul(0x9e37_79b9) % 10_007)
}

/// `pushes` pushes of `per` entries over 4 streams, in time order, flushing after each
/// push when `flush_each`, else once at the end. Returns the raw line bytes.
fn ingest(db: &Db, pushes: u64, per: u64, flush_each: bool, samples: &[Vec<u8>]) -> u64 {
    let t0 = 1_767_225_600_000_000_000i64;
    let mut raw = 0;
    for p in 0..pushes {
        let mut streams: Vec<StreamEntries> = APPS
            .iter()
            .map(|a| StreamEntries {
                labels: Labels::new([("app", *a), ("env", "prod")]).unwrap(),
                entries: Vec::new(),
            })
            .collect();
        for j in 0..per {
            let i = p * per + j;
            let l = line(i, samples);
            raw += l.len() as u64;
            streams[(i % 4) as usize]
                .entries
                .push(Entry::new(t0 + i as i64 * 1_000_000, l));
        }
        db.push("fake", &streams).unwrap();
        if flush_each {
            db.flush().unwrap();
        }
    }
    db.flush().unwrap();
    raw
}

fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            n += count_files(&p);
        } else {
            n += 1;
        }
    }
    n
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap();
        if name == "LOCK" {
            continue;
        }
        if p.is_dir() {
            copy_dir(&p, &to.join(name));
        } else {
            std::fs::copy(&p, to.join(name)).unwrap();
        }
    }
}

/// CPU time (user + system) of the calling thread.
fn thread_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ = 100 on Linux
}

/// CPU time (user + system) of the whole process, exited threads included (the query
/// engine's scoped worker threads end with each query), in 10 ms ticks.
fn process_cpu() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// One line about the block layout of a database's segments.
fn layout(name: &str, dir: &Path) {
    let (mut segs, mut chunks, mut blocks, mut entries) = (0, 0, 0, 0u64);
    let (mut columns, mut lines) = (0u64, 0u64);
    for e in std::fs::read_dir(dir.join(logjar::segment::DIR_NAME)).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "seg") {
            continue;
        }
        let seg = Segment::open(&p).unwrap();
        segs += 1;
        for c in seg.chunks() {
            chunks += 1;
            for b in &c.blocks {
                blocks += 1;
                entries += u64::from(b.entries);
                let l = logjar::chunk::block_layout(seg.raw_block(b).unwrap()).unwrap();
                columns += l.columns;
                lines += l.lines;
            }
        }
    }
    eprintln!(
        "{name}: {segs} segments, {chunks} chunks, {blocks} blocks ({:.1} per chunk, {:.0} \
         entries each), timestamps and lengths {:.3}, lines {:.1} stored bytes per entry",
        blocks as f64 / chunks as f64,
        entries as f64 / blocks as f64,
        columns as f64 / entries as f64,
        lines as f64 / entries as f64,
    );
}

/// Process CPU per query of `dbs`, measured in alternating rounds.
fn cpu_rounds(dbs: [&Db; 2], req: &QueryRequest, rounds: usize, reps: usize) -> Option<[f64; 2]> {
    let mut total = [Duration::ZERO; 2];
    for r in 0..rounds {
        for k in 0..2 {
            let k = if r % 2 == 0 { k } else { 1 - k };
            let c0 = process_cpu()?;
            for _ in 0..reps {
                black_box(dbs[k].query("fake", req).unwrap());
            }
            total[k] += process_cpu()? - c0;
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e3 / (reps * rounds) as f64;
    Some([per(total[0]), per(total[1])])
}

/// A template database of `segments` flushed pushes, built once.
fn template(
    pushes: u64,
    per: u64,
    block_target: usize,
    samples: &[Vec<u8>],
) -> (tempfile::TempDir, u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts().block_target_bytes(block_target)).unwrap();
    let raw = ingest(&db, pushes, per, true, samples);
    db.close().unwrap();
    (dir, raw)
}

/// Compacts a copy of `tpl` once outside criterion (default block target) and prints
/// wall and CPU MB/s.
fn one_shot(name: &str, tpl: &Path, raw: u64) {
    let work = tempfile::tempdir().unwrap();
    copy_dir(tpl, work.path());
    let db = Db::open(work.path(), opts()).unwrap();
    let (t, c) = (Instant::now(), thread_cpu());
    let r = db.compact().unwrap();
    let wall = t.elapsed();
    let cpu = c.and_then(|c0| thread_cpu().map(|c1| c1 - c0));
    let mb = raw as f64 / 1e6;
    eprintln!(
        "{name}: {mb:.1} MB raw, {} -> {} segments, {} blocks copied, {} re-encoded: \
         wall {:.3}s = {:.0} MB/s, cpu {} ",
        r.segments_before,
        r.segments_after,
        r.blocks_copied,
        r.blocks_reencoded,
        wall.as_secs_f64(),
        mb / wall.as_secs_f64(),
        cpu.map_or("n/a".into(), |c| format!(
            "{:.3}s = {:.0} MB/s",
            c.as_secs_f64(),
            mb / c.as_secs_f64().max(1e-3)
        ))
    );
    db.close().unwrap();
}

fn bench_throughput(c: &mut Criterion) {
    let samples = logjar_benches::load("LOGJAR_BENCH_NDJSON", logjar_benches::JSON_SAMPLES);
    let mut g = c.benchmark_group("compaction");
    g.sample_size(10);
    // Written with 4 KiB blocks, compacted with the default 256 KiB target: every
    // block is decoded and re-encoded. Written with full 256 KiB blocks: copied.
    for (name, pushes, per, block) in [
        ("reencode", 200u64, 1000u64, 4096usize),
        ("copy", 20, 20_000, 256 << 10),
    ] {
        let (tpl, raw) = template(pushes, per, block, &samples);
        one_shot(name, tpl.path(), raw);
        g.throughput(Throughput::Bytes(raw));
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let work = tempfile::tempdir().unwrap();
                    copy_dir(tpl.path(), work.path());
                    let db = Db::open(work.path(), opts()).unwrap();
                    (work, db)
                },
                |(work, db)| {
                    black_box(db.compact().unwrap());
                    (work, db)
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn bench_small_ingests(c: &mut Criterion) {
    let samples = logjar_benches::load("LOGJAR_BENCH_NDJSON", logjar_benches::JSON_SAMPLES);
    let pushes: u64 = std::env::var("LOGJAR_BENCH_SMALL_INGESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let small = tempfile::tempdir().unwrap();
    let db_small = Db::open(small.path(), opts()).unwrap();
    ingest(&db_small, pushes, 1000, true, &samples);
    let before = count_files(small.path());
    let t = Instant::now();
    let r = db_small.compact().unwrap();
    let after = count_files(small.path());
    eprintln!(
        "{pushes} small ingests: {before} files -> {after} after compaction ({:.2}%), \
         {} -> {} segments, compaction {:.2}s",
        100.0 * after as f64 / before as f64,
        r.segments_before,
        r.segments_after,
        t.elapsed().as_secs_f64()
    );
    let big = tempfile::tempdir().unwrap();
    let db_big = Db::open(big.path(), opts()).unwrap();
    // The same pushes, without a flush after each (the head flushes when full), then
    // one flush at the end.
    ingest(&db_big, pushes, 1000, false, &samples);
    // Both databases answer from segments: a head still in memory would skip decoding.
    db_big.flush().unwrap();
    layout("compacted", small.path());
    layout("one go", big.path());
    let rounds: usize = std::env::var("LOGJAR_BENCH_CPU_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let t0 = 1_767_225_600_000_000_000i64;
    let end = t0 + (pushes * 1000) as i64 * 1_000_000 + 1;
    let mut g = c.benchmark_group("compaction");
    g.sample_size(10);
    for (qname, q, reps) in [
        (
            "count",
            r#"sum by (app) (count_over_time({env="prod"}[1m]))"#,
            10,
        ),
        (
            "filter",
            r#"sum(count_over_time({env="prod"} |= "error" [1m]))"#,
            1,
        ),
    ] {
        let req = QueryRequest::range(q, t0, end).with_step(60_000_000_000);
        let a = db_small.query("fake", &req).unwrap();
        let b = db_big.query("fake", &req).unwrap();
        assert_eq!(
            a.result, b.result,
            "{q}: compacted and one-go answers differ"
        );
        if let Some([a, b]) = cpu_rounds([&db_small, &db_big], &req, rounds, reps) {
            eprintln!(
                "{qname}: process CPU per query over {rounds} alternating rounds: compacted \
                 {a:.2} ms, one go {b:.2} ms ({:+.1} %)",
                100.0 * (a / b - 1.0)
            );
        }
        for (which, db) in [("compacted", &db_small), ("one_go", &db_big)] {
            g.bench_function(format!("query_{qname}_{which}"), |bch| {
                bch.iter(|| black_box(db.query("fake", &req).unwrap()))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_throughput, bench_small_ingests);
criterion_main!(benches);
