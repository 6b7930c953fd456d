//! Chunk codec throughput: encode, full decode and sizes-only decode, in MB/s of raw
//! line bytes, plus the compressed size as a percentage of the raw line bytes.
//!
//! Data: the NDJSON file named by `LOGJAR_BENCH_NDJSON` (as written by
//! `shared/tools/gen_logs.py --lines 200000 --seed 1 --out /tmp/gen200k.ndjson`),
//! grouped into streams by labels; without it, synthetic logfmt-like lines.
//!
//! ```sh
//! LOGJAR_BENCH_NDJSON=/tmp/gen200k.ndjson cargo bench -p logjar-benches --bench chunk
//! ```
//! Besides criterion's wall-clock figures, it prints throughput per CPU-second of the
//! benchmark thread (from `/proc/thread-self/schedstat`), which holds on a busy machine.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use logjar::chunk::{
    decode_block, decode_block_sizes, ChunkBuilder, DecodedBlock, EncodedChunk,
    DEFAULT_BLOCK_TARGET,
};

type Stream = Vec<(i64, Vec<u8>)>;

fn load() -> Vec<Stream> {
    match std::env::var("LOGJAR_BENCH_NDJSON") {
        Ok(path) => load_ndjson(&path),
        Err(_) => synthetic(200_000, 200),
    }
}

fn load_ndjson(path: &str) -> Vec<Stream> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let mut streams: BTreeMap<String, Stream> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("NDJSON line");
        let key = v["labels"].to_string();
        let ts = v["ts"].as_i64().expect("integer ts");
        let msg = v["line"].as_str().expect("string line").as_bytes().to_vec();
        streams.entry(key).or_default().push((ts, msg));
    }
    let mut out: Vec<Stream> = streams.into_values().collect();
    for s in &mut out {
        s.sort();
    }
    out
}

/// Deterministic logfmt-ish lines with random ids, spread over `n_streams` streams.
fn synthetic(lines: usize, n_streams: usize) -> Vec<Stream> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let paths = [
        "/api/v1/users",
        "/api/v1/orders",
        "/healthz",
        "/api/v1/search",
    ];
    let mut out = vec![Vec::new(); n_streams];
    let mut ts = 1_767_225_600_000_000_000i64;
    for i in 0..lines {
        ts += (next() % 40_000_000) as i64;
        let r = next();
        let line = format!(
            "level={} ts={ts} caller=proxy/handler.go:88 msg=\"request served\" method=GET path={} status={} duration={}.{}ms trace_id={:016x}{:016x} bytes={}",
            if r % 20 == 0 { "warn" } else { "info" },
            paths[(r % 4) as usize],
            if r % 33 == 0 { 500 } else { 200 },
            r % 300,
            r % 10,
            next(),
            next(),
            r % 50_000,
        );
        out[i % n_streams].push((ts, line.into_bytes()));
    }
    out
}

fn encode(streams: &[Stream], level: i32) -> Vec<EncodedChunk> {
    streams
        .iter()
        .map(|s| {
            let mut b = ChunkBuilder::new(DEFAULT_BLOCK_TARGET, level);
            for (ts, line) in s {
                b.push(*ts, line, &[]);
            }
            b.finish()
        })
        .collect()
}

/// CPU time this thread has used, in ns (Linux `schedstat`): figures that hold on a
/// machine shared with other work, unlike wall-clock time.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// MB/s of raw line bytes per CPU-second of `f`, run `iters` times.
fn cpu_mb_per_s(raw: u64, iters: u32, mut f: impl FnMut()) -> Option<f64> {
    f();
    let start = thread_cpu_ns()?;
    for _ in 0..iters {
        f();
    }
    let ns = thread_cpu_ns()?.saturating_sub(start).max(1);
    Some(raw as f64 * f64::from(iters) / ns as f64 * 1e3)
}

fn decode_all(chunks: &[EncodedChunk], out: &mut DecodedBlock) -> usize {
    let mut n = 0usize;
    for c in chunks {
        for m in &c.blocks {
            let bytes = c.block_bytes(m).expect("block in chunk");
            decode_block(bytes, out).expect("decode");
            n += out.len();
        }
    }
    n
}

fn decode_sizes_all(chunks: &[EncodedChunk], ts: &mut Vec<i64>, lens: &mut Vec<u32>) -> u64 {
    let mut bytes_seen = 0u64;
    for c in chunks {
        for m in &c.blocks {
            let bytes = c.block_bytes(m).expect("block in chunk");
            decode_block_sizes(bytes, ts, lens).expect("decode");
            bytes_seen += lens.iter().map(|&l| u64::from(l)).sum::<u64>();
        }
    }
    bytes_seen
}

fn bench_chunk(c: &mut Criterion) {
    let streams = load();
    let raw: u64 = streams
        .iter()
        .flat_map(|s| s.iter())
        .map(|(_, l)| l.len() as u64)
        .sum();
    let entries: usize = streams.iter().map(|s| s.len()).sum();

    // Many small chunks (a flush of many quiet streams): per-chunk overhead shows here.
    let small: Vec<Stream> = streams
        .iter()
        .flat_map(|s| s.chunks(20).map(|c| c.to_vec()))
        .collect();
    if let Some(mbs) = cpu_mb_per_s(raw, 3, || {
        black_box(encode(&small, 1));
    }) {
        eprintln!(
            "chunk: {} chunks of <= 20 entries, level 1, per CPU-second: encode {mbs:.0} MB/s",
            small.len()
        );
    }

    let mut g = c.benchmark_group("chunk");
    g.throughput(Throughput::Bytes(raw));
    g.sample_size(10);
    // Levels to compare, e.g. LOGJAR_BENCH_LEVELS=1,3,6 (default 1,3).
    let levels: Vec<i32> = std::env::var("LOGJAR_BENCH_LEVELS")
        .ok()
        .map(|v| v.split(',').filter_map(|l| l.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 3]);
    for level in levels {
        let chunks = encode(&streams, level);
        let stored: usize = chunks.iter().map(|c| c.bytes.len()).sum();
        eprintln!(
            "chunk: zstd level {level}: {entries} entries, {raw} raw line bytes -> {stored} bytes = {:.2}% of raw",
            stored as f64 * 100.0 / raw as f64
        );
        let mut out = DecodedBlock::new();
        let (mut ts, mut lens) = (Vec::new(), Vec::new());
        let enc = cpu_mb_per_s(raw, 3, || {
            black_box(encode(&streams, level));
        });
        let dec = cpu_mb_per_s(raw, 10, || {
            black_box(decode_all(&chunks, &mut out));
        });
        let sizes = cpu_mb_per_s(raw, 30, || {
            black_box(decode_sizes_all(&chunks, &mut ts, &mut lens));
        });
        if let (Some(enc), Some(dec), Some(sizes)) = (enc, dec, sizes) {
            eprintln!(
                "chunk: zstd level {level}, per CPU-second: encode {enc:.0} MB/s ({:.2} M entries/s), \
                 decode {dec:.0} MB/s, sizes-only {sizes:.0} MB/s",
                enc * 1e6 / raw as f64 * entries as f64 / 1e6
            );
        }
        g.bench_function(BenchmarkId::new("encode", level), |b| {
            b.iter(|| black_box(encode(black_box(&streams), level)))
        });
        g.bench_function(BenchmarkId::new("decode_full", level), |b| {
            b.iter(|| assert_eq!(decode_all(&chunks, &mut out), entries))
        });
        g.bench_function(BenchmarkId::new("decode_sizes", level), |b| {
            b.iter(|| assert_eq!(decode_sizes_all(&chunks, &mut ts, &mut lens), raw))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_chunk);
criterion_main!(benches);
