//! Open time of a flushed database (no WAL to replay): reads the manifest, the index
//! files and the segment footers only.
//!
//! Small synthetic data by default; the 1M-entry figure:
//! `LOGJAR_BENCH_NDJSON=/tmp/d1m.ndjson LOGJAR_BENCH_ENTRIES=1000000 cargo bench -p logjar-benches --bench open`.

mod support;

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use logjar::options::SyncMode;
use logjar::{Db, Options};

fn open(c: &mut Criterion) {
    let data = support::load(20_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default().sync(SyncMode::Never);
    {
        let db = Db::open(dir.path(), opts.clone()).expect("open");
        for b in &data.batches {
            db.push("fake", b).expect("push");
        }
        // Free the pushed batches before the flush: freeing a million small allocations
        // leaves work for the allocator (glibc consolidates them at the next large
        // allocation), which belongs to this set-up, not to the open timed below.
        drop(data);
        db.flush().expect("flush");
        db.close().expect("close");
    }
    let t = Instant::now();
    let db = Db::open(dir.path(), opts.clone()).expect("open");
    let first = t.elapsed();
    let stats = db.stats();
    db.close().expect("close");
    let t = &stats.tenants[0];
    eprintln!(
        "open: {} entries, {} streams, {} segments, {} chunks, {:.1} MB on disk; first open {:.2} ms",
        t.entries,
        t.streams,
        t.segments,
        t.chunks,
        support::dir_bytes(dir.path()) as f64 / 1e6,
        first.as_secs_f64() * 1e3
    );
    c.bench_function("open_flushed", |b| {
        b.iter(|| {
            let db = Db::open(dir.path(), opts.clone()).expect("open");
            db.close().expect("close");
        })
    });
}

criterion_group!(benches, open);
criterion_main!(benches);
