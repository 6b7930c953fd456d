//! Crash test of compaction: a child process pushes numbered batches, flushes, logs
//! delete requests for some batches and compacts, over and over (with
//! `LOGJAR_COMPACT_PAUSE_MS` widening the window between a compaction's output files
//! and its manifest switch); the parent kills it with SIGKILL at a random moment,
//! reopens the database and checks that every acknowledged batch is there exactly
//! once (or, if its delete was acknowledged, not at all), that no batch is there in
//! part, and finally that a compaction leaves no file the manifest does not list.
//!
//! The child is this test binary itself, started with `LOGJAR_COMPACT_CRASH_CHILD` set.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logjar::entry::StreamEntries;
use logjar::options::SyncMode;
use logjar::{Db, Entry, Labels, Options};

mod common;
use common::{read_all, Rng};

const CHILD_ENV: &str = "LOGJAR_COMPACT_CRASH_CHILD";
const START_ENV: &str = "LOGJAR_COMPACT_CRASH_START";
const ROUNDS: u64 = 30;

fn options() -> Options {
    let mut o = Options::default()
        .sync(SyncMode::Never)
        .block_target_bytes(128)
        .out_of_order_window(Duration::from_secs(1 << 30))
        .compaction_interval(Duration::ZERO);
    o.compaction_segment_bytes = 16 << 10;
    o.compaction_chunk_bytes = 1024;
    o
}

/// Batch `id`: 1 to 4 entries over two streams.
fn batch(id: u64) -> Vec<StreamEntries> {
    let n = 1 + id % 4;
    let mut streams: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
    for j in 0..n {
        streams.entry((id + j) % 2).or_default().push(Entry::new(
            (id * 10 + j) as i64,
            format!("batch {id} entry {j} of {n}"),
        ));
    }
    streams
        .into_iter()
        .map(|(s, entries)| StreamEntries {
            labels: Labels::new([("app", "crash"), ("part", &s.to_string())]).unwrap(),
            entries,
        })
        .collect()
}

fn lines_of(id: u64) -> BTreeSet<String> {
    batch(id)
        .iter()
        .flat_map(|s| s.entries.iter())
        .map(|e| String::from_utf8(e.line.to_vec()).unwrap())
        .collect()
}

#[test]
fn compaction_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // not the child
    };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let db = Db::open(&dir, options()).unwrap();
    let mut out = std::io::stdout().lock();
    for id in start.. {
        db.push("fake", &batch(id)).unwrap();
        writeln!(out, "ack {id}").unwrap();
        out.flush().unwrap();
        if id % 7 == 3 {
            let q = format!(r#"{{app="crash"}} |= "batch {id} entry""#);
            db.delete("fake", &q, 0, i64::MAX).unwrap();
            writeln!(out, "del {id}").unwrap();
            out.flush().unwrap();
        }
        if id % 3 == 0 {
            db.flush().unwrap();
        }
        if id % 5 == 0 {
            db.compact().unwrap();
        }
    }
}

#[test]
fn sigkill_during_compaction_keeps_every_entry_exactly_once() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut deleted: BTreeSet<u64> = BTreeSet::new();
    for round in 0..ROUNDS {
        let start = round * 1_000_000;
        let mut child = Command::new(&exe)
            .args([
                "compaction_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .env(START_ENV, start.to_string())
            .env("LOGJAR_COMPACT_PAUSE_MS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let (mut acks, mut dels) = (Vec::new(), Vec::new());
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ack ") {
                    acks.push(id.parse::<u64>().unwrap());
                } else if let Some(id) = line.strip_prefix("del ") {
                    dels.push(id.parse::<u64>().unwrap());
                }
            }
            (acks, dels)
        });
        let wait = Duration::from_millis(10 + rng.next() % 200);
        let t0 = Instant::now();
        while t0.elapsed() < wait {
            assert!(
                child.try_wait().unwrap().is_none(),
                "child exited in round {round}"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (acks, dels) = reader.join().unwrap();
        acked.extend(acks);
        deleted.extend(dels);

        let found = read_all(dir.path(), options());
        for id in &acked {
            let want = lines_of(*id);
            match found.get(id) {
                Some(got) => {
                    assert!(
                        !deleted.contains(id),
                        "round {round}: deleted batch {id} is back"
                    );
                    assert_eq!(got, &want, "round {round}: batch {id} in part");
                }
                None => assert!(
                    id % 7 == 3 && !deleted.contains(id) || deleted.contains(id),
                    "round {round}: acknowledged batch {id} is missing"
                ),
            }
        }
        for (id, lines) in &found {
            assert_eq!(lines, &lines_of(*id), "round {round}: batch {id} in part");
        }
    }
    assert!(
        acked.len() > ROUNDS as usize,
        "only {} batches",
        acked.len()
    );
    assert!(!deleted.is_empty());

    // A last compaction: every file on disk is listed in the manifest.
    let db = Db::open(dir.path(), options()).unwrap();
    db.compact().unwrap();
    db.close().unwrap();
    let m = logjar::manifest::Manifest::read(dir.path())
        .unwrap()
        .unwrap();
    let listed: BTreeSet<u64> = m.segments.iter().map(|r| r.file_id).collect();
    let segs: BTreeSet<u64> = logjar::segment::segment_files(&dir.path().join("segments"))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed, segs);
    let idx_listed: BTreeSet<u64> = m.index_files.iter().map(|r| r.file_id).collect();
    let idx: BTreeSet<u64> = logjar::index_file::index_files(&dir.path().join("index"))
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(idx_listed, idx);
    for d in ["segments", "index", "wal"] {
        for e in std::fs::read_dir(dir.path().join(d)).unwrap() {
            let p = e.unwrap().path();
            assert!(
                p.extension().is_none_or(|x| x != "tmp"),
                "leftover {}",
                p.display()
            );
        }
    }
    assert!(!dir.path().join("MANIFEST.tmp").exists());
}
