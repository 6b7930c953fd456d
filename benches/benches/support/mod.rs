//! Data and measurement helpers shared by the engine benches (`push`, `open`, `index`).
//!
//! Data comes from `LOGJAR_BENCH_NDJSON` (a file written by
//! `shared/tools/gen_logs.py`, read up to `LOGJAR_BENCH_ENTRIES` lines) or, without
//! it, from a small synthetic generator (`LOGJAR_BENCH_ENTRIES`, default 20 000), so
//! the benches run quickly in CI and at realistic size on demand.

#![allow(dead_code)] // each bench uses a subset

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

use logjar::entry::StreamEntries;
use logjar::{Entry, Labels};

/// Entries per push batch (a typical Loki push request).
pub const BATCH: usize = 1000;

/// One NDJSON row.
#[derive(serde::Deserialize)]
struct Row {
    labels: BTreeMap<String, String>,
    ts: i64,
    line: String,
}

/// Number of entries requested through `LOGJAR_BENCH_ENTRIES`, or `default`.
pub fn entries_wanted(default: usize) -> usize {
    std::env::var("LOGJAR_BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Push batches of about [`BATCH`] entries, grouped by stream inside each batch.
pub struct Batches {
    pub batches: Vec<Vec<StreamEntries>>,
    pub entries: u64,
    pub raw_bytes: u64,
}

/// Groups rows into batches.
#[derive(Default)]
pub struct Batcher {
    streams: HashMap<Labels, Vec<Entry>>,
    n: usize,
}

impl Batcher {
    /// Adds an entry; returns a full batch when one is ready.
    pub fn add(&mut self, labels: Labels, e: Entry) -> Option<Vec<StreamEntries>> {
        self.streams.entry(labels).or_default().push(e);
        self.n += 1;
        (self.n >= BATCH).then(|| self.take())
    }

    /// The pending entries as a batch.
    pub fn take(&mut self) -> Vec<StreamEntries> {
        self.n = 0;
        self.streams
            .drain()
            .map(|(labels, entries)| StreamEntries { labels, entries })
            .collect()
    }
}

/// Parses one NDJSON line of gen_logs.py.
pub fn parse_row(line: &str) -> (Labels, Entry) {
    let r: Row = serde_json::from_str(line).expect("bad NDJSON row");
    (
        Labels::new(r.labels).expect("bad labels"),
        Entry::new(r.ts, r.line),
    )
}

/// Loads the bench data (see the module documentation).
pub fn load(default_entries: usize) -> Batches {
    let want = entries_wanted(default_entries);
    let mut b = Batcher::default();
    let mut out = Batches {
        batches: Vec::new(),
        entries: 0,
        raw_bytes: 0,
    };
    let mut add = |out: &mut Batches, labels: Labels, e: Entry| {
        out.entries += 1;
        out.raw_bytes += e.line.len() as u64;
        if let Some(batch) = b.add(labels, e) {
            out.batches.push(batch);
        }
    };
    if let Ok(path) = std::env::var("LOGJAR_BENCH_NDJSON") {
        let f = std::fs::File::open(&path).expect("LOGJAR_BENCH_NDJSON");
        for line in std::io::BufReader::new(f).lines().take(want) {
            let (labels, e) = parse_row(&line.expect("read"));
            add(&mut out, labels, e);
        }
    } else {
        for i in 0..want {
            let (labels, e) = synthetic(i);
            add(&mut out, labels, e);
        }
    }
    let rest = b.take();
    if !rest.is_empty() {
        out.batches.push(rest);
    }
    out
}

/// Entry `i` of a synthetic dataset: 50 streams, ~150-byte access-log lines, 1 ms apart.
pub fn synthetic(i: usize) -> (Labels, Entry) {
    let s = i % 50;
    let labels = Labels::new([
        ("app", format!("app-{}", s % 10)),
        ("host", format!("node-{}", s)),
        (
            "env",
            if s.is_multiple_of(3) {
                "staging".to_string()
            } else {
                "prod".to_string()
            },
        ),
    ])
    .expect("labels");
    let line = format!(
        "level=info ts={i} caller=server/handler.go:142 msg=\"request completed\" method=GET path=/api/v1/items/{} status={} duration={}ms",
        i % 9973,
        [200, 200, 200, 404, 500][i % 5],
        i % 877
    );
    (
        labels,
        Entry::new(1_767_225_600_000_000_000 + i as i64 * 1_000_000, line),
    )
}

/// CPU time (user + system, all threads) of this process, in seconds.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the full line: 12 and 13 after ')'.
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident set size of this process in bytes (VmHWM).
pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Bytes of the files under `dir`.
pub fn dir_bytes(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += dir_bytes(&p);
        } else if let Ok(m) = p.metadata() {
            n += m.len();
        }
    }
    n
}
