//! Compaction, retention and deletes: retention over several days of data, reads and
//! writes racing compactions, write order kept across compactions, and the
//! 1,000-small-flushes case.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use logjar::entry::StreamEntries;
use logjar::options::{RetentionRule, SyncMode};
use logjar::query::{QueryRequest, QueryResult};
use logjar::{Db, DeleteStatus, Direction, Entry, LabelMatcher, Labels, MatchOp, Options};

const H: i64 = 3_600_000_000_000;
const DAY: i64 = 24 * H;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

fn base_opts() -> Options {
    Options::default()
        .sync(SyncMode::Never)
        .out_of_order_window(Duration::from_secs(400 * 86400))
        .compaction_interval(Duration::ZERO)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().copied()).unwrap()
}

fn all_lines(db: &Db, tenant: &str) -> Vec<(Labels, i64, String)> {
    let snap = db.snapshot(tenant).unwrap();
    let ids = snap.select(&[], i64::MIN, i64::MAX);
    let mut out = Vec::new();
    for (id, l) in ids {
        for e in snap.stream(id, i64::MIN, i64::MAX, Direction::Forward) {
            let e = e.unwrap();
            out.push((l.clone(), e.ts, String::from_utf8(e.line.to_vec()).unwrap()));
        }
    }
    out
}

fn count_query(db: &Db, q: &str) -> f64 {
    let r = db.query("fake", &QueryRequest::instant(q, now())).unwrap();
    match r.result {
        QueryResult::Vector(v) => v.iter().map(|s| s.value).sum(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn retention_over_several_days_hides_at_once_and_compaction_frees_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = base_opts().retention(Duration::from_secs(60 * 3600)); // 2.5 days
    opts.retention_stream = vec![RetentionRule {
        selector: r#"{level="debug"}"#.into(),
        priority: 1,
        period: Duration::from_secs(36 * 3600),
    }];
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let t0 = now();
    let info = labels(&[("app", "x"), ("level", "info")]);
    let debug = labels(&[("app", "x"), ("level", "debug")]);
    let old = labels(&[("app", "x"), ("level", "old")]);
    // Six days, one flush (one segment) per day, 200 entries per stream and day.
    for d in (0..6).rev() {
        let day_start = t0 - d * DAY - 20 * H;
        let mk = |tag: &str| -> Vec<Entry> {
            (0..200)
                .map(|i| {
                    Entry::new(
                        day_start + i * 60_000_000_000,
                        format!("{tag} day {d} entry {i} {}", "x".repeat(100)),
                    )
                })
                .collect()
        };
        let mut batch = vec![
            StreamEntries {
                labels: info.clone(),
                entries: mk("info"),
            },
            StreamEntries {
                labels: debug.clone(),
                entries: mk("debug"),
            },
        ];
        if d >= 3 {
            batch.push(StreamEntries {
                labels: old.clone(),
                entries: mk("old"),
            });
        }
        db.push("fake", &batch).unwrap();
        db.flush().unwrap();
    }
    let visible = |db: &Db| {
        let t = now();
        all_lines(db, "fake")
            .into_iter()
            .all(|(l, ts, _)| ts >= t - if l == debug { 36 * H } else { 60 * H })
    };
    // Before any compaction: expired entries are invisible to every read.
    let lines = all_lines(&db, "fake");
    assert!(visible(&db));
    // info: days 0..=1 fully (20h, 44h old) and day 2 (68h: expired); debug: day 0
    // (20h) only, day 1 at 44h is past 36h.
    assert_eq!(lines.iter().filter(|(l, ..)| *l == info).count(), 400);
    assert_eq!(lines.iter().filter(|(l, ..)| *l == debug).count(), 200);
    assert_eq!(
        count_query(&db, r#"count_over_time({app="x"}[10d])"#),
        600.0
    );
    let snap = db.snapshot("fake").unwrap();
    assert_eq!(
        snap.label_values("level", i64::MIN, i64::MAX),
        ["debug", "info"]
    );
    let sel = LabelMatcher::new("level", MatchOp::Eq, "old").unwrap();
    assert!(snap.select(&[sel], i64::MIN, i64::MAX).is_empty());
    let oldest = db.stats().tenants[0].oldest.unwrap();
    assert!(oldest >= t0 - 60 * H, "{oldest}");

    let before = db.stats().tenants[0].clone();
    let r = db.compact().unwrap();
    let after = db.stats().tenants[0].clone();
    // Days 3..=5 hold nothing alive: dropped without rewriting.
    assert!(r.segments_dropped >= 3, "{r:?}");
    assert_eq!(r.entries_expired, 3 * 600 + 400 + 200, "{r:?}");
    assert!(
        after.disk_bytes < before.disk_bytes / 2,
        "{before:?} {after:?}"
    );
    assert_eq!(after.entries, 600);
    assert_eq!(all_lines(&db, "fake"), lines);
    db.close().unwrap();
    // After a reopen without retention, the removed entries stay removed.
    let db = Db::open(dir.path(), base_opts()).unwrap();
    assert_eq!(all_lines(&db, "fake").len(), 600);
    // Days 0 and 1 are a day apart: two time partitions, two segments.
    assert_eq!(db.stats().tenants[0].segments, 2);
}

#[test]
fn compaction_keeps_the_first_written_copy_of_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = base_opts();
    opts.compaction_segment_bytes = 4000; // segments of 1000+ bytes are "big"
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let a = labels(&[("app", "a")]);
    let dup = |m: &str| Entry::new(100, "dup").with_metadata([("k", m)]);
    let push = |entries: Vec<Entry>| {
        db.push(
            "fake",
            &[StreamEntries {
                labels: a.clone(),
                entries,
            }],
        )
        .unwrap();
        db.flush().unwrap();
    };
    push(vec![dup("first"), Entry::new(50, "gone")]);
    // A big segment with a later copy of the duplicate.
    let mut big: Vec<Entry> = (0..200)
        .map(|i| {
            Entry::new(
                1000 + i,
                format!("{i} {:x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            )
        })
        .collect();
    big.push(dup("second"));
    push(big);
    push(vec![Entry::new(5000, "small")]);
    let meta = |db: &Db| {
        let snap = db.snapshot("fake").unwrap();
        snap.stream(0, 100, 101, Direction::Forward)
            .map(|e| e.unwrap().metadata)
            .collect::<Vec<_>>()
    };
    assert_eq!(meta(&db), [vec![("k".to_string(), "first".to_string())]]);
    // Rewrites the first segment alone (dirty), leaves the big one.
    db.delete("fake", r#"{app="a"} |= "gone""#, 0, 60).unwrap();
    let r = db.compact().unwrap();
    assert_eq!((r.entries_deleted, r.deletes_applied), (1, 1), "{r:?}");
    assert_eq!(meta(&db), [vec![("k".to_string(), "first".to_string())]]);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(meta(&db), [vec![("k".to_string(), "first".to_string())]]);
    assert_eq!(
        db.delete_requests("fake").unwrap()[0].status,
        DeleteStatus::Applied
    );
}

#[test]
fn reads_and_writes_during_compactions_see_no_gap_and_no_double() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = base_opts().block_target_bytes(256);
    opts.compaction_segment_bytes = 64 << 10;
    opts.compaction_chunk_bytes = 2048;
    let db = Arc::new(Db::open(dir.path(), opts).unwrap());
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    const PER: u64 = 8;
    let batch = |i: u64| -> Vec<StreamEntries> {
        vec![StreamEntries {
            labels: labels(&[("app", "c"), ("part", &(i % 3).to_string())]),
            entries: (0..PER)
                .map(|j| Entry::new((i * PER + j) as i64, format!("batch {i} entry {j}")))
                .collect(),
        }]
    };
    let writer = {
        let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                db.push("fake", &batch(i)).unwrap();
                i += 1;
                acked.store(i, Ordering::SeqCst);
                if i % 5 == 0 {
                    db.flush().unwrap();
                }
            }
        })
    };
    let check = |db: &Db, acked: u64| -> u64 {
        let snap = db.snapshot("fake").unwrap();
        let ids: Vec<u32> = snap
            .select(&[], i64::MIN, i64::MAX)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        let mut seen: BTreeMap<u64, u64> = BTreeMap::new();
        for r in snap.entries(&ids, i64::MIN, i64::MAX, Direction::Forward) {
            let (_, e) = r.unwrap();
            let line = String::from_utf8(e.line.to_vec()).unwrap();
            let b: u64 = line.split(' ').nth(1).unwrap().parse().unwrap();
            *seen.entry(b).or_default() += 1;
        }
        for b in 0..acked {
            assert_eq!(
                seen.get(&b).copied(),
                Some(PER),
                "batch {b} of {acked} acknowledged"
            );
        }
        for (b, n) in &seen {
            assert_eq!(*n, PER, "batch {b} seen {n} times");
        }
        seen.len() as u64
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut reads = 0;
                while !stop.load(Ordering::Relaxed) {
                    let a = acked.load(Ordering::SeqCst);
                    check(&db, a);
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let t0 = Instant::now();
    let mut compactions = 0;
    let mut rewritten = 0;
    while t0.elapsed() < Duration::from_millis(2500) {
        let r = db.compact().unwrap();
        rewritten += r.segments_rewritten;
        compactions += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    let n = acked.load(Ordering::SeqCst);
    assert_eq!(check(&db, n), n);
    assert!(
        compactions > 3 && rewritten > 3 && reads > 3,
        "{compactions} {rewritten} {reads}"
    );
    let db = Arc::try_unwrap(db).unwrap();
    db.close().unwrap();
}

#[test]
fn a_thousand_small_flushes_compact_to_a_handful_of_files() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), base_opts()).unwrap();
    let t0 = now() - H;
    for i in 0..200i64 {
        let entries = (0..20)
            .map(|j| Entry::new(t0 + i * 1000 + j, format!("flush {i} entry {j}")))
            .collect();
        db.push(
            "fake",
            &[StreamEntries {
                labels: labels(&[("app", "s")]),
                entries,
            }],
        )
        .unwrap();
        db.flush().unwrap();
    }
    let files = |d: &std::path::Path| std::fs::read_dir(d.join("segments")).unwrap().count();
    assert_eq!(files(dir.path()), 200);
    let before = all_lines(&db, "fake");
    let r = db.compact().unwrap();
    assert_eq!((r.segments_before, r.segments_after), (200, 1), "{r:?}");
    assert_eq!(files(dir.path()), 1);
    assert_eq!(all_lines(&db, "fake"), before);
    assert_eq!(before.len(), 4000);
    // A second compaction has nothing to do.
    let r = db.compact().unwrap();
    assert_eq!((r.segments_rewritten, r.segments_written), (0, 0), "{r:?}");
}

#[test]
fn cancel_restores_and_applied_requests_cannot_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        base_opts().delete_cancel_period(Duration::from_secs(3600)),
    )
    .unwrap();
    let a = labels(&[("app", "a")]);
    db.push(
        "fake",
        &[StreamEntries {
            labels: a,
            entries: vec![Entry::new(1, "x"), Entry::new(2, "y")],
        }],
    )
    .unwrap();
    let r1 = db.delete("fake", r#"{app="a"}"#, 1, 1).unwrap();
    assert_eq!(all_lines(&db, "fake").len(), 1);
    // Within the cancel period compaction leaves it pending.
    let rep = db.compact().unwrap();
    assert_eq!(rep.deletes_applied, 0);
    db.cancel_delete("fake", r1.id).unwrap();
    assert_eq!(all_lines(&db, "fake").len(), 2);
    assert!(db.cancel_delete("fake", r1.id).is_err());
    assert!(db.cancel_delete("other", r1.id).is_err());
    db.close().unwrap();
    let db = Db::open(dir.path(), base_opts()).unwrap();
    assert_eq!(
        db.delete_requests("fake").unwrap()[0].status,
        DeleteStatus::Cancelled
    );
    let r2 = db.delete("fake", r#"{app="a"} |= "y""#, 0, 10).unwrap();
    assert!(r2.id > r1.id);
    assert_eq!(db.compact().unwrap().deletes_applied, 1);
    assert!(db.cancel_delete("fake", r2.id).is_err());
    assert_eq!(all_lines(&db, "fake").len(), 1);
    let json = serde_json::to_value(&db.delete_requests("fake").unwrap()[1]).unwrap();
    assert_eq!(json["status"], "applied");
    assert!(matches!(
        db.delete("fake", "{app=", 0, 1),
        Err(logjar::Error::InvalidArgument(_))
    ));
}

#[test]
fn background_compaction_runs_on_schedule_and_close_stops_it_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let a = labels(&[("app", "bg")]);
    let fill = |db: &Db, n: i64| {
        for i in 0..n {
            let entries = (0..50)
                .map(|j| Entry::new(i * 100 + j, format!("entry {i} {j} {}", "y".repeat(200))))
                .collect();
            db.push(
                "fake",
                &[StreamEntries {
                    labels: a.clone(),
                    entries,
                }],
            )
            .unwrap();
            db.flush().unwrap();
        }
    };
    let db = Db::open(
        dir.path(),
        base_opts().compaction_interval(Duration::from_millis(100)),
    )
    .unwrap();
    fill(&db, 6);
    let t0 = Instant::now();
    while db.stats().tenants[0].segments > 1 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no background compaction"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(all_lines(&db, "fake").len(), 300);
    db.close().unwrap();

    // A throttled background compaction (100 bytes/s) is stopped by close.
    let mut o = base_opts().compaction_interval(Duration::from_millis(50));
    o.compaction_max_bytes_per_sec = 100;
    let db = Db::open(dir.path(), base_opts()).unwrap();
    fill(&db, 8);
    db.close().unwrap();
    let db = Db::open(dir.path(), o).unwrap();
    std::thread::sleep(Duration::from_millis(400)); // the compaction is under way
    let t = Instant::now();
    db.close().unwrap();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "close took {:?}",
        t.elapsed()
    );
    // Nothing lost or doubled by the interrupted compaction (batches 0..6 again are
    // duplicates of the first fill; 6 and 7 are new).
    let db = Db::open(dir.path(), base_opts()).unwrap();
    assert_eq!(all_lines(&db, "fake").len(), 400);
}

#[test]
fn compaction_merges_small_segments_within_a_time_partition_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), base_opts()).unwrap();
    // Three UTC days, two small flushed segments each, pushed in time order.
    let day0 = (now() - 5 * DAY).div_euclid(DAY) * DAY;
    for d in 0..3i64 {
        for k in 0..2i64 {
            let ts = day0 + d * DAY + H + k * 1000;
            db.push(
                "fake",
                &[StreamEntries {
                    labels: labels(&[("app", "s")]),
                    entries: vec![Entry::new(ts, format!("day {d} part {k}"))],
                }],
            )
            .unwrap();
            db.flush().unwrap();
        }
    }
    let before = all_lines(&db, "fake");
    let r = db.compact().unwrap();
    assert_eq!((r.segments_before, r.segments_after), (6, 3), "{r:?}");
    assert_eq!(all_lines(&db, "fake"), before);

    // With a two-day partition the first two days' segments merge (day0 is aligned to
    // a UTC day, not necessarily to a two-day period, so allow either grouping).
    db.close().unwrap();
    let mut opts = base_opts();
    opts.compaction_partition = Duration::from_secs(2 * 86400);
    let db = Db::open(dir.path(), opts).unwrap();
    let r = db.compact().unwrap();
    assert_eq!(r.segments_after, 2, "{r:?}");
    assert_eq!(all_lines(&db, "fake"), before);
    assert!(Options::from_json(r#"{"compaction_partition":"0s"}"#).is_err());
}
