//! Crash test: a child process pushes numbered batches with `sync = always` (and
//! flushes now and then) and prints the id of every acknowledged batch; the parent
//! kills it with SIGKILL at a random moment, reopens the database and checks that
//! every acknowledged batch is there in full exactly once, and that no batch is there
//! partially.
//!
//! The child is this test binary itself, started with `LOGJAR_CRASH_CHILD` set.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use logjar::entry::StreamEntries;
use logjar::options::SyncMode;
use logjar::{Db, Entry, Labels, Options};

mod common;
use common::{read_all, Rng};

const CHILD_ENV: &str = "LOGJAR_CRASH_CHILD";
const START_ENV: &str = "LOGJAR_CRASH_START";
const ROUNDS: u64 = 60;

/// Set (to any value) for the child of the carry variant.
const CARRY_ENV: &str = "LOGJAR_CRASH_CARRY";

fn options() -> Options {
    Options::default()
        .sync(SyncMode::Always)
        .block_target_bytes(512)
        .out_of_order_window(Duration::from_secs(1 << 30))
}

/// The carry variant: no explicit flushes, and a head small enough that memory-driven
/// flushes happen and carry small head buffers over (WAL carry records). `Never` is
/// enough here: a push has reached the OS when it returns, which survives SIGKILL.
fn carry_options() -> Options {
    Options::default()
        .sync(SyncMode::Never)
        .block_target_bytes(1024)
        .max_head_bytes(16 << 10)
        .out_of_order_window(Duration::from_secs(1 << 30))
}

/// Batch `id`: 1 to 5 entries over two or three streams, lines naming the batch.
fn batch(id: u64) -> Vec<StreamEntries> {
    let n = 1 + id % 5;
    let mut streams: BTreeMap<u64, Vec<Entry>> = BTreeMap::new();
    for j in 0..n {
        let line = format!("batch {id} entry {j} of {n}");
        streams
            .entry((id + j) % 3)
            .or_default()
            .push(Entry::new((id * 10 + j) as i64, line));
    }
    streams
        .into_iter()
        .map(|(s, entries)| StreamEntries {
            labels: Labels::new([("app", "crash"), ("part", &s.to_string())]).unwrap(),
            entries,
        })
        .collect()
}

/// The child role: push batches forever, acknowledging each on stdout.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // not the child: nothing to do
    };
    let start: u64 = std::env::var(START_ENV).unwrap().parse().unwrap();
    let carry = std::env::var(CARRY_ENV).is_ok();
    let opts = if carry { carry_options() } else { options() };
    let db = Db::open(&dir, opts).unwrap();
    let mut out = std::io::stdout().lock();
    for id in start.. {
        db.push("fake", &batch(id)).unwrap();
        writeln!(out, "ack {id}").unwrap();
        out.flush().unwrap();
        if !carry && id % 13 == 5 {
            db.flush().unwrap();
        }
    }
}

#[test]
fn acknowledged_batches_survive_sigkill() {
    sigkill_rounds(false);
}

#[test]
fn acknowledged_batches_survive_sigkill_with_carrying_flushes() {
    sigkill_rounds(true);
}

fn sigkill_rounds(carry: bool) {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut total_acked = 0;
    for round in 0..ROUNDS {
        let start = round * 1_000_000;
        let mut cmd = Command::new(&exe);
        cmd.args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env(START_ENV, start.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if carry {
            cmd.env(CARRY_ENV, "1");
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut ids = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(id) = line.strip_prefix("ack ") {
                    ids.push(id.parse::<u64>().unwrap());
                }
            }
            ids
        });
        // Let it run a random while (it needs some ms just to start).
        let wait = Duration::from_millis(5 + rng.next() % 120);
        let t0 = Instant::now();
        while t0.elapsed() < wait {
            if child.try_wait().unwrap().is_some() {
                panic!("the child exited by itself in round {round}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let ids = reader.join().unwrap();
        total_acked += ids.len();
        acked.extend(ids);

        let found = read_all(dir.path(), options());
        for id in &acked {
            let want: BTreeSet<String> = batch(*id)
                .iter()
                .flat_map(|s| s.entries.iter())
                .map(|e| String::from_utf8(e.line.to_vec()).unwrap())
                .collect();
            assert_eq!(
                found.get(id),
                Some(&want),
                "round {round}: acknowledged batch {id}"
            );
        }
        for (id, lines) in &found {
            assert_eq!(
                lines.len() as u64,
                1 + id % 5,
                "round {round}: batch {id} is partial"
            );
        }
    }
    eprintln!("{ROUNDS} rounds, {total_acked} acknowledged batches");
    assert!(
        total_acked > ROUNDS as usize,
        "the children acknowledged only {total_acked} batches"
    );
}
