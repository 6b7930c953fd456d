//! The Rust side of the Go push benchmarks (bindings/go/bench_test.go): the same
//! 1,000-entry batches (10 streams of 100 entries, `GET /api/v1/items/<i> 200 <n>ms`),
//! with sync "never", new timestamps every round.
//!
//! - `json`: parse a Loki push body and push it (Go: `BenchmarkPush1000`, `PushLokiJSON`);
//! - `typed`: build the `StreamEntries` from the caller's borrowed data (labels, times,
//!   `&str` lines, copied as a Rust caller that keeps its data must) and push
//!   (Go: `BenchmarkPushTyped1000`, `Push`);
//! - `typed-build-only`: only that building, to tell it from the push itself;
//! - `c-abi`: the same batch through `logjar_push` from Rust (C arrays pointing at the
//!   caller's data), the C layer without cgo.
//!
//! Plain timing loop reporting wall time, process CPU time (user+sys, all threads, 10 ms
//! ticks) and this thread's CPU time (ns) per push: `cargo bench -p logjar-c --bench push_compare` (LOGJAR_BENCH_ROUNDS
//! rounds, default 2000; LOGJAR_BENCH_MODES=typed,c-abi to pick modes).

use std::ffi::CString;
use std::fmt::Write;
use std::time::Instant;

use logjar::entry::StreamEntries;
use logjar::options::SyncMode;
use logjar::{Db, Entry, Labels, Options};
use logjar_c::{logjar_close, logjar_db, logjar_label, logjar_open, logjar_push, logjar_stream};

const STREAMS: usize = 10;
const PER_STREAM: usize = 100;

fn push_body(base: usize) -> String {
    let mut b = String::from(r#"{"streams":["#);
    for s in 0..STREAMS {
        if s > 0 {
            b.push(',');
        }
        let _ = write!(
            b,
            r#"{{"stream":{{"app":"api","host":"node-{s}"}},"values":["#
        );
        for i in 0..PER_STREAM {
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

/// The caller's data: host names and the 100 lines each stream repeats.
struct Source {
    hosts: Vec<String>,
    lines: Vec<String>,
}

impl Source {
    fn new() -> Self {
        Source {
            hosts: (0..STREAMS).map(|s| format!("node-{s}")).collect(),
            lines: (0..PER_STREAM)
                .map(|i| format!("GET /api/v1/items/{i} 200 {}ms", i % 50))
                .collect(),
        }
    }

    /// The batch of round `base`, as a Rust caller builds it.
    fn build(&self, base: i64) -> Vec<StreamEntries> {
        self.hosts
            .iter()
            .map(|h| StreamEntries {
                labels: Labels::new([("app", "api"), ("host", h.as_str())]).expect("labels"),
                entries: self
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        Entry::new(base + i as i64, bytes::Bytes::copy_from_slice(l.as_bytes()))
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Process CPU time (user + sys of all threads), seconds; 10 ms resolution.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// `struct timespec` on 64-bit Linux.
#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

extern "C" {
    /// libc's clock_gettime (std links libc already).
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}

/// This thread's CPU time in seconds, from clock_gettime(CLOCK_THREAD_CPUTIME_ID).
fn thread_cpu_seconds() -> f64 {
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid clock id and a writable timespec.
    if unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return 0.0;
    }
    ts.sec as f64 + ts.nsec as f64 / 1e9
}

/// Wall, process CPU and thread CPU at the start of a measurement.
struct Clock(Instant, f64, f64);

impl Clock {
    fn start() -> Self {
        Clock(Instant::now(), cpu_seconds(), thread_cpu_seconds())
    }

    fn report(self, mode: &str, n: usize) {
        let per = |s: f64| s * 1e6 / n as f64;
        println!(
            "push_compare {mode:>16}: {n} pushes of 1,000 entries: {:>7.1} µs wall, {:>7.1} µs process CPU, {:>7.1} µs thread CPU per push",
            per(self.0.elapsed().as_secs_f64()),
            per(cpu_seconds() - self.1),
            per(thread_cpu_seconds() - self.2),
        );
    }
}

fn open() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Db::open(dir.path(), Options::default().sync(SyncMode::Never)).expect("open");
    (dir, db)
}

fn main() {
    let n: usize = std::env::var("LOGJAR_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let modes = std::env::var("LOGJAR_BENCH_MODES")
        .unwrap_or_else(|_| "json,typed,typed-build-only,c-abi".into());
    let src = Source::new();
    for mode in modes.split(',') {
        match mode {
            "json" => {
                let (_dir, db) = open();
                let bodies: Vec<String> = (0..n).map(|i| push_body(1_000_000 + i * 1000)).collect();
                let clock = Clock::start();
                for body in &bodies {
                    let streams = logjar::ingest::parse_loki_push(body.as_bytes()).expect("parse");
                    db.push("fake", &streams).expect("push");
                }
                clock.report(mode, n);
            }
            "typed" => {
                let (_dir, db) = open();
                let clock = Clock::start();
                for i in 0..n {
                    let batch = src.build(1_000_000 + i as i64 * 1000);
                    db.push("fake", &batch).expect("push");
                }
                clock.report(mode, n);
            }
            "typed-build-only" => {
                let clock = Clock::start();
                for i in 0..n {
                    std::hint::black_box(src.build(1_000_000 + i as i64 * 1000));
                }
                clock.report(mode, n);
            }
            "c-abi" => c_abi(&src, n),
            other => eprintln!("push_compare: unknown mode {other:?}"),
        }
    }
}

/// The typed push through the C ABI, called from Rust.
fn c_abi(src: &Source, n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = CString::new(dir.path().join("db").to_str().expect("utf-8 path")).expect("path");
    let opts = CString::new(r#"{"sync":"never"}"#).expect("options");
    let mut db: *mut logjar_db = std::ptr::null_mut();
    // SAFETY: valid NUL-terminated strings and a writable out pointer.
    let rc = unsafe { logjar_open(path.as_ptr(), opts.as_ptr(), &mut db) };
    assert_eq!(rc, 0);
    let app = (
        CString::new("app").expect("s"),
        CString::new("api").expect("s"),
    );
    let host = CString::new("host").expect("s");
    let hosts: Vec<CString> = src
        .hosts
        .iter()
        .map(|h| CString::new(h.as_str()).expect("s"))
        .collect();
    let labels: Vec<[logjar_label; 2]> = hosts
        .iter()
        .map(|h| {
            [
                logjar_label {
                    name: app.0.as_ptr(),
                    value: app.1.as_ptr(),
                },
                logjar_label {
                    name: host.as_ptr(),
                    value: h.as_ptr(),
                },
            ]
        })
        .collect();
    let line_ptrs: Vec<*const u8> = src.lines.iter().map(|l| l.as_ptr()).collect();
    let line_lens: Vec<usize> = src.lines.iter().map(String::len).collect();
    let mut ts = vec![vec![0i64; PER_STREAM]; STREAMS];
    let clock = Clock::start();
    for i in 0..n {
        let base = 1_000_000 + i as i64 * 1000;
        for row in ts.iter_mut() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = base + j as i64;
            }
        }
        let streams: Vec<logjar_stream> = labels
            .iter()
            .zip(&ts)
            .map(|(l, t)| logjar_stream {
                labels: l.as_ptr(),
                n_labels: 2,
                timestamps: t.as_ptr(),
                lines: line_ptrs.as_ptr(),
                line_lens: line_lens.as_ptr(),
                n_entries: PER_STREAM,
                metadata_counts: std::ptr::null(),
                metadata: std::ptr::null(),
            })
            .collect();
        // SAFETY: every array holds what its count says and outlives the call.
        let rc = unsafe {
            logjar_push(
                db,
                std::ptr::null(),
                streams.as_ptr(),
                streams.len(),
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0);
    }
    clock.report("c-abi", n);
    // SAFETY: the handle from logjar_open, closed once.
    assert_eq!(unsafe { logjar_close(db) }, 0);
}
